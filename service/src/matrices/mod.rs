//! Scenario matrices (SPEC §9) as a resource: their storage and the two-tier cache in front of it. The
//! configs and the seeded generator are pure calculations (`calc::scenarios`, re-exported here).
//!
//! - `store`, `codec`: the durable tier, `scenario_matrices` rows and their encoded values;
//! - `first_tier`: the first tier, Redis or the in-process LRU, read and written without judgement;
//! - `cache`: [`Matrices`], the process's cache — first-tier reads that check what they find, the
//!   statistics, the single-flight table;
//! - `lookup`: get-or-generate and reads, first tier → database → generator;
//! - `key`: the canonical config and the key; `record`: what a matrix is without its values;
//! - `invalidate`, `clearing`: clearing both tiers, now or by a job; `job`: the queued generation.

mod cache;
pub mod clearing;
pub mod codec;
pub mod first_tier;
mod invalidate;
mod job;
mod key;
mod lookup;
pub mod record;
mod stats;
pub mod store;

pub use crate::calc::scenarios::{
    Bucket, CorrelationWeights, GeneratedMatrix, GeneratorKind, MAX_BUCKETS, MAX_SCENARIOS,
    MatrixConfig, Recycling, SUM_TOLERANCE, generate, generate_with,
};
pub use cache::Matrices;
pub use clearing::{ClearKeys, Clearer, JOB_CLEAR};
pub use first_tier::FirstTier;
pub use invalidate::{CacheStats, Invalidation, cache_stats, invalidate};
pub use job::{GenerateMatrix, Generator};
pub use key::{KEY_VERSION, canonical_config, from_canonical, generator_of, matrix_key};
pub use lookup::{MatrixView, create_matrix, get_matrix, list_matrices, load};
pub use record::{Entry, MatrixRecord};
pub use stats::{Percentiles, Stats, StatsSnapshot};
pub use store::{JOB_GENERATE, Scope};

/// The largest matrix generated while the request waits (10,000 × 10 cells); larger ones are queued.
pub const INLINE_MAX_CELLS: u64 = 100_000;

#[cfg(test)]
mod tests;
