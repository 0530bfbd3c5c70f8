//! Scenario matrices (SPEC §9): a matrix config, its canonical key, and the seeded generator of S
//! scenarios × B buckets of simulated MOIC (`f32`, row-major); their storage (`store`, `codec`) and the
//! two-tier cache in front of it (`tier`, `tiers`, `lookup`, `invalidate`, the worker's `job`).
//!
//! Floats are allowed here (SPEC §1): the generator's output is `f32` by design; it is deterministic on
//! every platform (a ChaCha stream, `libm` for `exp`/`ln`/`cos`).

pub mod clearing;
pub mod codec;
mod generator;
mod invalidate;
mod job;
mod key;
mod lookup;
pub mod record;
mod stats;
pub mod store;
pub mod tier;
mod tiers;

pub use clearing::{ClearKeys, Clearer, JOB_CLEAR};
pub use generator::{GeneratedMatrix, generate};
pub use invalidate::{CacheStats, Invalidation, cache_stats, invalidate};
pub use job::{GenerateMatrix, Generator};
pub use key::{KEY_VERSION, canonical_config, from_canonical, matrix_key};
pub use lookup::{MatrixView, create_matrix, get_matrix, load};
pub use record::{Entry, MatrixRecord};
pub use stats::{Percentiles, Stats, StatsSnapshot};
pub use store::{JOB_GENERATE, Scope};
pub use tier::FirstTier;
pub use tiers::Matrices;

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Result};
use crate::fields::{Problems, name_ok};

/// Most scenarios a matrix may hold.
pub const MAX_SCENARIOS: u32 = 100_000;
/// Most buckets a matrix may hold.
pub const MAX_BUCKETS: usize = 50;
/// How far sums of shares may be from their total (allocations 100, weights 1).
pub const SUM_TOLERANCE: f64 = 0.01;
/// The largest matrix generated while the request waits (10,000 × 10 cells); larger ones are queued.
pub const INLINE_MAX_CELLS: u64 = 100_000;

/// One column of the matrix: a stage or strategy bucket and its MOIC distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    /// Share of capital, percent (the buckets sum to 100).
    pub capital_allocation_pct: f64,
    /// Median MOIC of the bucket (> 0).
    pub moic_median: f64,
    /// 90th-percentile MOIC (> the median).
    pub moic_p90: f64,
}

/// How much of each cell's shock is common to all buckets (macro), to the bucket (systematic), or the
/// cell's own (idiosyncratic). Sum 1 (± 0.01).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorrelationWeights {
    #[serde(rename = "macro")]
    pub macro_: f64,
    pub systematic: f64,
    pub idiosyncratic: f64,
}

/// Recycling of proceeds. Disabled recycling carries no parameters that matter (the key normalises it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recycling {
    pub enabled: bool,
    pub mode: Option<String>,
    pub reinvestment_rate: Option<f64>,
}

/// What a matrix is generated from (SPEC §9).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatrixConfig {
    pub fund_id: i64,
    pub taxonomy_version: String,
    pub num_scenarios: u32,
    pub seed: u64,
    pub buckets: Vec<Bucket>,
    pub correlation_weights: CorrelationWeights,
    pub recycling: Recycling,
}

impl MatrixConfig {
    /// The sample config of examples, benchmarks and tests: two buckets (`seed` 40% at a median 1.5×
    /// and a p90 6×, `series_a` 60% at 2× and 4×), correlation weights 0.3 / 0.3 / 0.4, no recycling.
    /// The tests pin its matrices; a benchmark replaces its buckets (`MatrixConfig { buckets, ..sample }`).
    pub fn sample(fund_id: i64, num_scenarios: u32, seed: u64) -> Self {
        let bucket = |name: &str, capital_allocation_pct, moic_median, moic_p90| Bucket {
            name: name.into(),
            capital_allocation_pct,
            moic_median,
            moic_p90,
        };
        Self {
            fund_id,
            taxonomy_version: "v1".into(),
            num_scenarios,
            seed,
            buckets: vec![
                bucket("seed", 40.0, 1.5, 6.0),
                bucket("series_a", 60.0, 2.0, 4.0),
            ],
            correlation_weights: CorrelationWeights {
                macro_: 0.3,
                systematic: 0.3,
                idiosyncratic: 0.4,
            },
            recycling: Recycling {
                enabled: false,
                mode: None,
                reinvestment_rate: None,
            },
        }
    }

    /// S × B.
    pub fn cells(&self) -> u64 {
        u64::from(self.num_scenarios) * self.buckets.len() as u64
    }

    /// The config its key stands for: buckets sorted by name (bytewise) and every number rounded to 5
    /// decimals. The generator reads only this form, so configs with one key give one matrix, and the
    /// matrix's columns are in this order.
    pub fn canonical(&self) -> MatrixConfig {
        let mut c = self.clone();
        c.buckets
            .sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        for b in &mut c.buckets {
            b.capital_allocation_pct = key::round5(b.capital_allocation_pct);
            b.moic_median = key::round5(b.moic_median);
            b.moic_p90 = key::round5(b.moic_p90);
        }
        let w = &mut c.correlation_weights;
        w.macro_ = key::round5(w.macro_);
        w.systematic = key::round5(w.systematic);
        w.idiosyncratic = key::round5(w.idiosyncratic);
        if c.recycling.enabled {
            c.recycling.reinvestment_rate = c.recycling.reinvestment_rate.map(key::round5);
        } else {
            c.recycling.mode = None;
            c.recycling.reinvestment_rate = None;
        }
        c
    }

    /// Every rule of a config, each broken one named by its JSON pointer.
    pub fn validate(&self) -> Result<()> {
        let mut p = Problems::default();
        p.check(
            name_ok(&self.taxonomy_version),
            "/taxonomy_version",
            "must be 1 to 255 characters",
        );
        p.check(
            (1..=MAX_SCENARIOS).contains(&self.num_scenarios),
            "/num_scenarios",
            &format!("must be between 1 and {MAX_SCENARIOS}"),
        );
        p.check(
            (1..=MAX_BUCKETS).contains(&self.buckets.len()),
            "/buckets",
            &format!("must hold 1 to {MAX_BUCKETS} buckets"),
        );
        let mut names = std::collections::HashSet::new();
        for (i, b) in self.buckets.iter().enumerate() {
            let at = |field: &str| format!("/buckets/{i}/{field}");
            p.check(name_ok(&b.name), &at("name"), "must be 1 to 255 characters");
            p.check(
                names.insert(b.name.as_str()),
                &at("name"),
                "appears more than once",
            );
            p.check(
                b.capital_allocation_pct.is_finite() && b.capital_allocation_pct >= 0.0,
                &at("capital_allocation_pct"),
                "must be 0 or more",
            );
            p.check(
                b.moic_median.is_finite() && b.moic_median > 0.0,
                &at("moic_median"),
                "must be greater than 0",
            );
            p.check(
                b.moic_p90.is_finite() && b.moic_p90 > b.moic_median,
                &at("moic_p90"),
                "must be greater than moic_median",
            );
        }
        let allocated: f64 = self.buckets.iter().map(|b| b.capital_allocation_pct).sum();
        if !self.buckets.is_empty() && (allocated - 100.0).abs() > SUM_TOLERANCE {
            p.push(FieldError::new(
                "/buckets",
                format!(
                    "capital_allocation_pct must sum to 100 (± {SUM_TOLERANCE}), not {allocated}"
                ),
            ));
        }
        let w = &self.correlation_weights;
        let weights = [w.macro_, w.systematic, w.idiosyncratic];
        p.check(
            weights.iter().all(|v| v.is_finite() && *v >= 0.0)
                && (weights.iter().sum::<f64>() - 1.0).abs() <= SUM_TOLERANCE,
            "/correlation_weights",
            &format!("must be 0 or more each and sum to 1 (± {SUM_TOLERANCE})"),
        );
        if self.recycling.enabled {
            p.check(
                self.recycling
                    .reinvestment_rate
                    .is_some_and(|r| (0.0..=1.0).contains(&r)),
                "/recycling/reinvestment_rate",
                "must be between 0 and 1 when recycling is enabled",
            );
        }
        p.finish()
    }
}

#[cfg(test)]
mod tests;
