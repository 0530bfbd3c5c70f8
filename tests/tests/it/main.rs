//! The one integration-test binary of the workspace (one binary keeps link times down).
//! Each test runs on SQLite, and on PostgreSQL too when `TEST_DATABASE_URL` is set.

mod fixtures;
mod migrations;
mod openapi;
mod schema;
mod server;
