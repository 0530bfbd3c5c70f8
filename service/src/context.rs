//! [`Service`]: what every service call needs.

use crate::auth::KeyCache;
use crate::db::Database;
use crate::matrices::{FirstTier, Matrices};

/// The database, the API-key cache and the idempotency settings, shared by every request.
pub struct Service {
    pub db: Database,
    pub keys: KeyCache,
    /// How long idempotency records are kept (SPEC §4.7).
    pub idempotency_ttl: chrono::Duration,
    /// Computed fund metrics, reused while the fund's rows are unchanged (`metrics::reuse`).
    pub metrics: crate::metrics::reuse::MetricsCache,
    /// Recorded responses replayed lately (`idempotency::recorded`).
    pub replays: crate::idempotency::RecordCache,
    /// The scenario-matrix cache's first tier, statistics and single-flight table.
    pub matrices: std::sync::Arc<Matrices>,
}

impl Service {
    pub fn new(db: Database, idempotency_ttl_hours: i64, first_tier: FirstTier) -> Self {
        Self {
            db,
            keys: KeyCache::default(),
            idempotency_ttl: chrono::Duration::hours(idempotency_ttl_hours),
            metrics: crate::metrics::reuse::MetricsCache::default(),
            replays: crate::idempotency::RecordCache::default(),
            matrices: std::sync::Arc::new(Matrices::new(first_tier)),
        }
    }
}
