//! The Updog domain: the rules of funds, lots, MOIC, reserves and snapshots, and the transactions
//! that keep them. The API crate calls into this crate and never touches SQL itself.

pub mod analytics;
pub mod auth;
pub mod cache;
pub mod canonical;
pub mod db;
pub mod error;
pub mod idempotency;
pub mod metrics;
pub mod money;
pub mod outbox;
pub mod pagination;
pub mod pgcopy;
pub mod portfolio;
pub mod reserves;
pub mod snapshots;

use chrono::{DateTime, SubsecRound, Utc};

pub use db::{Backend, Database};
/// The entities, for reading the models the service returns (the API maps them to its own DTOs).
pub use entity;
pub use error::{Error, FieldError, ResourceRef, Result};

/// The current time at the precision PostgreSQL stores (microseconds), so that a timestamp read back,
/// or carried in a cursor, equals the one written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// What every service call needs: the database, the key cache and the idempotency settings.
pub struct Service {
    pub db: Database,
    pub keys: auth::KeyCache,
    /// How long idempotency records are kept.
    pub idempotency_ttl: chrono::Duration,
}

impl Service {
    pub fn new(db: Database, idempotency_ttl_hours: i64) -> Self {
        Self {
            db,
            keys: auth::KeyCache::default(),
            idempotency_ttl: chrono::Duration::hours(idempotency_ttl_hours),
        }
    }
}
