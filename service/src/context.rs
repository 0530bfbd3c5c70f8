//! [`Service`]: what every service call needs.

use std::sync::Arc;

use crate::auth::KeyCache;
use crate::db::Database;
use crate::heavy::HeavyGate;
use crate::idempotency::outcome::Recorder;
use crate::idempotency::recorded::RecordCache;
use crate::matrices::{FirstTier, Matrices};
use crate::metrics::reuse::{HoldingsCache, MetricsCache, StatesCache};
use crate::reserves::RankingsCache;
use crate::returns::figures::ReturnsCache;

/// The database, the API-key cache and the idempotency settings, shared by every request.
pub struct Service {
    pub db: Database,
    pub keys: KeyCache,
    /// How long idempotency records are kept (SPEC §4.7).
    pub idempotency_ttl: chrono::Duration,
    /// Computed fund metrics, reused while the fund's rows are unchanged (`metrics::reuse`).
    pub metrics: MetricsCache,
    /// Computed net returns, reused the same way (`returns`).
    pub returns: ReturnsCache,
    /// Computed reserve rankings, reused the same way (`reserves::rankings`).
    pub rankings: RankingsCache,
    /// Fund states read for forecasts' inputs, reused while the fund is unchanged.
    pub states: StatesCache,
    /// Funds' lots by holdings version, shared by the calculations above (`metrics::reuse`).
    pub holdings: HoldingsCache,
    /// How many heavy computations run at once, and how many wait (`heavy`).
    pub heavy: HeavyGate,
    /// Recorded replies replayed lately (`idempotency::recorded`).
    pub replays: RecordCache,
    /// The scenario-matrix cache's first tier, statistics and single-flight table.
    pub matrices: Arc<Matrices>,
    /// Writes the replies that idempotency records keep (the API's; SPEC §1).
    pub recorder: Arc<dyn Recorder>,
}

impl Service {
    pub fn new(
        db: Database,
        idempotency_ttl_hours: i64,
        first_tier: FirstTier,
        recorder: Arc<dyn Recorder>,
    ) -> Self {
        Self {
            db,
            keys: KeyCache::default(),
            idempotency_ttl: chrono::Duration::hours(idempotency_ttl_hours),
            metrics: MetricsCache::default(),
            returns: ReturnsCache::default(),
            rankings: RankingsCache::default(),
            states: StatesCache::default(),
            holdings: HoldingsCache::default(),
            heavy: HeavyGate::default(),
            replays: RecordCache::default(),
            matrices: Arc::new(Matrices::new(first_tier)),
            recorder,
        }
    }
}
