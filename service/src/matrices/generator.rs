//! The scenario generator (SPEC §9). Per bucket, MOIC follows a power law fitted to its median and 90th
//! percentile: `alpha = ln 5 / ln(p90 / median)`, `x_min = median × 0.5^(1/alpha)` (so that the
//! distribution's median and p90 are the bucket's). Each cell is `max(0, base × exp(0.5 × shock))` with
//! `shock = √w_macro·Z_macro + √w_sys·Z_bucket + √w_idio·Z_idio`: `Z_macro` is shared by every bucket of
//! a scenario, `Z_bucket` and `Z_idio` are the cell's own draws.
//!
//! Every draw comes from one ChaCha20 stream seeded with the config's seed, in a fixed order, and every
//! transcendental function from `libm`, so the same config gives the same bytes on every platform.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use super::MatrixConfig;

/// S × B simulated MOIC values, row-major (scenario by scenario), with the bucket names in column order.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedMatrix {
    pub buckets: Vec<String>,
    pub num_scenarios: usize,
    pub values: Vec<f32>,
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
    let laws: Vec<(f64, f64)> = config
        .buckets
        .iter()
        .map(|b| power_law(b.moic_median, b.moic_p90))
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
        for &(x_min, inverse_alpha) in &laws {
            let base = x_min * libm::pow(uniform(&mut rng), -inverse_alpha);
            let shock = w_macro * z_macro + w_sys * normal(&mut rng) + w_idio * normal(&mut rng);
            let cell = (base * libm::exp(0.5 * shock)).max(0.0);
            values.push(cell as f32);
        }
    }
    GeneratedMatrix {
        buckets: config.buckets.iter().map(|b| b.name.clone()).collect(),
        num_scenarios: scenarios,
        values,
    }
}
