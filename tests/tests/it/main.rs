//! The one integration-test binary of the workspace (one binary keeps link times down).
//! Each test runs on SQLite, and on PostgreSQL too when `TEST_DATABASE_URL` is set.

mod bad_input;
mod corrections;
mod exactly_once;
mod fixtures;
mod forecasts;
mod holdings;
mod idempotency;
mod matrices;
mod matrix_faults;
mod metrics;
mod migrations;
mod openapi;
mod optimizations;
mod resources;
mod returns;
mod schema;
mod server;
mod snapshots;
mod state_version;
