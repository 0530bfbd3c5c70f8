//! [`Matrices`]: the cache's moving parts — the first tier, the statistics, the single-flight table —
//! shared by every request of a process; and the first-tier reads that count and check what they find.

use std::sync::Arc;

use serde_json::Value;

use super::first_tier::{FirstTier, Found};
use super::record::{Entry, MatrixRecord};
use super::stats::Stats;
use crate::canonical::canonical_sha256;
use crate::flight::Flights;
use entity::scenario_matrix::MatrixStatus;

pub struct Matrices {
    pub first: FirstTier,
    pub stats: Arc<Stats>,
    pub flights: Flights,
}

impl Matrices {
    pub fn new(first: FirstTier) -> Self {
        Self {
            first,
            stats: Arc::new(Stats::default()),
            flights: Flights::default(),
        }
    }

    /// A first-tier record is served only if it is complete and its stored canonical config is the one
    /// its key is the hash of — and, when the request carries a config, that config (SPEC §9: a hit
    /// whose stored config differs is a collision, never served).
    fn trustworthy(&self, key: &str, record: &MatrixRecord, request: Option<&Value>) -> bool {
        if record.status != MatrixStatus::Complete {
            return false;
        }
        let consistent = match request {
            Some(config) => record.config == *config,
            None => canonical_sha256(&record.config).is_ok_and(|hash| hash == key),
        };
        if !consistent {
            self.stats.collisions.add();
            tracing::warn!(
                matrix_key = key,
                "a cached matrix's config differs from its key's: not served"
            );
        }
        consistent
    }

    /// Counts a miss, an outage or a corrupt entry (which is removed, so that the next store replaces
    /// it).
    async fn missed<T, U>(&self, key: &str, found: Found<T>) -> Option<U> {
        match found {
            Found::Hit(_) => {
                // Found but not to be trusted (incomplete, or another config under the key): gone.
                self.first.remove(&[key.to_owned()]).await;
                self.stats.first_tier_misses.add();
            }
            Found::Miss => self.stats.first_tier_misses.add(),
            Found::Unavailable => self.stats.first_tier_errors.add(),
            Found::Corrupt(why) => {
                self.stats.first_tier_corrupt.add();
                tracing::warn!(matrix_key = key, reason = %why, "a corrupt first-tier entry was removed");
                self.first.remove(&[key.to_owned()]).await;
            }
        }
        None
    }

    /// The complete record of `key` from the first tier, if it can be trusted.
    pub async fn cached_record(&self, key: &str, request: Option<&Value>) -> Option<MatrixRecord> {
        match self.first.record(key).await {
            Found::Hit(record) if self.trustworthy(key, &record, request) => {
                self.stats.first_tier_hits.add();
                Some(record)
            }
            other => self.missed(key, other).await,
        }
    }

    /// The complete entry of `key` from the first tier with its decoded values, if it can be trusted
    /// and its bytes pass their checks.
    pub async fn cached_entry(&self, key: &str) -> Option<(Entry, Vec<f32>)> {
        match self.first.entry(key).await {
            Found::Hit(entry) if self.trustworthy(key, &entry.record, None) => {
                match entry.values() {
                    Ok(values) => {
                        self.stats.first_tier_hits.add();
                        Some((entry, values))
                    }
                    Err(e) => {
                        self.missed::<(), _>(key, Found::Corrupt(e.to_string()))
                            .await
                    }
                }
            }
            other => self.missed(key, other).await,
        }
    }

    /// Warms the first tier with a complete entry (a failure is only a lost warm-up).
    pub async fn warm(&self, entry: &Entry) {
        if !self.first.put(entry).await {
            self.stats.first_tier_errors.add();
        }
    }
}
