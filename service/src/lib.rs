//! The Updog domain: the rules of funds, lots, MOIC, reserves and snapshots, and the transactions
//! that keep them. The API crate calls into this crate and never touches SQL itself.
//!
//! One module per resource (`funds`, `companies`, `investments`, `lots`, `distributions`, `snapshots`,
//! `api_keys`, `metrics`, `reserves`), named as the API's route modules and OpenAPI tags are; the
//! shared machinery beside them (`idempotency`, `fund_state`, `outbox`, `pagination`, `money`, …).
//! See `docs/ARCHITECTURE.md`.

pub mod api_keys;
pub mod auth;
pub mod blocking;
pub mod cache;
pub mod calc;
pub mod canonical;
pub mod companies;
pub mod context;
pub mod db;
pub mod demo;
pub mod distributions;
pub mod doorbell;
pub mod error;
pub mod fields;
pub(crate) mod flight;
pub mod forecasts;
pub mod fund_state;
pub mod funds;
pub mod heavy;
pub mod idempotency;
pub mod in_fund;
pub mod investments;
pub mod lots;
pub mod marks;
pub mod matrices;
pub mod metrics;
pub mod optimizations;
pub mod outbox;
pub mod pagination;
pub mod reserves;
pub mod returns;
pub mod snapshots;

pub use calc::money;
pub use context::Service;
pub use db::{Backend, Database, now};
/// The entities, for reading the models the service returns (the API maps them to its own types).
pub use entity;
pub use error::{ConflictCode, Error, FieldError, ResourceRef, Result};
