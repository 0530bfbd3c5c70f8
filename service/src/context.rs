//! [`Service`]: what every service call needs.

use crate::auth::KeyCache;
use crate::db::Database;

/// The database, the API-key cache and the idempotency settings, shared by every request.
pub struct Service {
    pub db: Database,
    pub keys: KeyCache,
    /// How long idempotency records are kept (SPEC §4.7).
    pub idempotency_ttl: chrono::Duration,
}

impl Service {
    pub fn new(db: Database, idempotency_ttl_hours: i64) -> Self {
        Self {
            db,
            keys: KeyCache::default(),
            idempotency_ttl: chrono::Duration::hours(idempotency_ttl_hours),
        }
    }
}
