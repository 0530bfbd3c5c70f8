//! Scenario matrices' configs and their seeded generator (SPEC §9). Floats are allowed here (SPEC §1):
//! the generator's output is `f32` by design.
//!
//! The generator. Per bucket, MOIC follows a power law fitted to its median and 90th
//! percentile: `alpha = ln 5 / ln(p90 / median)`, `x_min = median × 0.5^(1/alpha)` (so that the
//! distribution's median and p90 are the bucket's). Each cell is `max(0, base × exp(0.5 × shock))` with
//! `shock = √w_macro·Z_macro + √w_sys·Z_bucket + √w_idio·Z_idio`: `Z_macro` is shared by every bucket of
//! a scenario, `Z_bucket` and `Z_idio` are the cell's own draws.
//!
//! Every draw comes from one ChaCha20 stream seeded with the config's seed, in a fixed order, and every
//! transcendental function from `libm`, so the same config gives the same bytes on every platform.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Result};
use crate::fields::{Problems, name_ok};

/// S × B simulated MOIC values, row-major (scenario by scenario), with the bucket names in column order.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedMatrix {
    pub buckets: Vec<String>,
    pub num_scenarios: usize,
    pub values: Vec<f32>,
}

/// Most scenarios a matrix may hold.
pub const MAX_SCENARIOS: u32 = 100_000;
/// Most buckets a matrix may hold.
pub const MAX_BUCKETS: usize = 50;
/// How far sums of shares may be from their total (allocations 100, weights 1).
pub const SUM_TOLERANCE: f64 = 0.01;

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
    /// The largest value a cell may take (> the median): a heavy tail's extreme cells are cut to it
    /// (SPEC §9). `None`: uncapped; the key then reads as it did before caps existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moic_cap: Option<f64>,
}

impl Bucket {
    /// The power law's exponent: `ln 5 / ln(p90 / median)`. At 1 or below the distribution has no
    /// finite mean (p90 / median ≥ 5).
    pub fn alpha(&self) -> f64 {
        libm::log(5.0) / libm::log(self.moic_p90 / self.moic_median)
    }

    /// Whether the bucket has no finite mean and no cap: no sample mean, optimization or forecast can
    /// use it.
    pub fn unbounded(&self) -> bool {
        self.moic_cap.is_none() && self.alpha() <= 1.0
    }
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
            moic_cap: None,
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
            b.capital_allocation_pct = round5(b.capital_allocation_pct);
            b.moic_median = round5(b.moic_median);
            b.moic_p90 = round5(b.moic_p90);
            b.moic_cap = b.moic_cap.map(round5);
        }
        let w = &mut c.correlation_weights;
        w.macro_ = round5(w.macro_);
        w.systematic = round5(w.systematic);
        w.idiosyncratic = round5(w.idiosyncratic);
        if c.recycling.enabled {
            c.recycling.reinvestment_rate = c.recycling.reinvestment_rate.map(round5);
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
            p.check(
                b.moic_cap
                    .is_none_or(|cap| cap.is_finite() && cap > b.moic_median),
                &at("moic_cap"),
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

/// `v` in units of 10⁻⁵, rounded half away from zero (0.1 + 0.2 and 0.3 meet; -0 is 0).
pub(crate) fn units_of_five_decimals(v: f64) -> i64 {
    let scaled = libm::round(v * 100_000.0);
    if scaled == 0.0 { 0 } else { scaled as i64 }
}

/// `v` rounded to 5 decimals: the value a matrix key stands for, and what the generator is fed, so that
/// configs with one key give one matrix.
pub(crate) fn round5(v: f64) -> f64 {
    units_of_five_decimals(v) as f64 / 100_000.0
}

impl GeneratedMatrix {
    /// The values as little-endian bytes: what is compressed and stored.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        self.values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

/// A uniform draw in (0, 1]: 53 random bits, never 0 (the power law divides by it, `ln` takes it).
fn uniform(rng: &mut ChaCha20Rng) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}

/// A standard normal draw (Box–Muller, the cosine branch).
fn normal(rng: &mut ChaCha20Rng) -> f64 {
    let (u1, u2) = (uniform(rng), uniform(rng));
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2)
}

/// The power law of one bucket: `(x_min, 1 / alpha)`.
fn power_law(median: f64, p90: f64) -> (f64, f64) {
    let alpha = libm::log(5.0) / libm::log(p90 / median);
    (median * libm::pow(0.5, 1.0 / alpha), 1.0 / alpha)
}

/// Generates the matrix of a (valid) config from its canonical form ([`MatrixConfig::canonical`]):
/// columns in bucket-name order, so that every config with one key gives the same bytes.
pub fn generate(config: &MatrixConfig) -> GeneratedMatrix {
    let config = &config.canonical();
    let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
    let laws: Vec<(f64, f64, f64)> = config
        .buckets
        .iter()
        .map(|b| {
            let (x_min, inverse_alpha) = power_law(b.moic_median, b.moic_p90);
            (x_min, inverse_alpha, b.moic_cap.unwrap_or(f64::INFINITY))
        })
        .collect();
    let w = &config.correlation_weights;
    let (w_macro, w_sys, w_idio) = (
        libm::sqrt(w.macro_),
        libm::sqrt(w.systematic),
        libm::sqrt(w.idiosyncratic),
    );
    let scenarios = config.num_scenarios as usize;
    let mut values = Vec::with_capacity(scenarios * laws.len());
    for _ in 0..scenarios {
        let z_macro = normal(&mut rng);
        for &(x_min, inverse_alpha, cap) in &laws {
            let base = x_min * libm::pow(uniform(&mut rng), -inverse_alpha);
            let shock = w_macro * z_macro + w_sys * normal(&mut rng) + w_idio * normal(&mut rng);
            let cell = (base * libm::exp(0.5 * shock)).max(0.0).min(cap);
            values.push(cell as f32);
        }
    }
    GeneratedMatrix {
        buckets: config.buckets.iter().map(|b| b.name.clone()).collect(),
        num_scenarios: scenarios,
        values,
    }
}
