//! Calibrating the generator (SPEC §9, issue #27): a cell is `x_min · U^(−1/α) · exp(σ · shock)` with
//! `shock` a standard normal, so its logarithm is `ln x_min + Y` with `Y = E/α + σZ` (E exponential,
//! Z normal: an exponentially modified Gaussian). The median and 90th percentile of the cell are
//! `x_min · exp(q_Y(p))`, and their ratio depends on α alone. So α is found by bisection so that the
//! ratio is the configured `moic_p90 / moic_median`, then `x_min` so that the median is `moic_median`.
//!
//! The pure log-normal ratio `exp(σ · z₀.₉)` is the least any α can give. With σ = ½ it is 1.898; for a
//! configured ratio below about 2.5, σ is lowered to `0.7 · ln(ratio) / z₀.₉`, so that the shock keeps
//! its share of the spread and a power law remains to fit. Everything is `libm`, so the same config
//! gives the same bytes on every platform.

/// z₀.₉: the standard normal's 90th percentile.
const Z90: f64 = 1.281_551_565_544_600_5;
/// The shock's amplitude when the configured spread allows it (the uncalibrated generator's).
pub const SIGMA: f64 = 0.5;

/// Φ(x), the standard normal CDF.
fn phi_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / core::f64::consts::SQRT_2)
}

/// φ(x), the standard normal density.
fn phi(x: f64) -> f64 {
    libm::exp(-0.5 * x * x) / libm::sqrt(2.0 * core::f64::consts::PI)
}

/// Φ(a) / φ(a) for a ≤ 0, without under- or overflow: directly near 0, by Laplace's continued fraction
/// in the far tail.
fn mills(a: f64) -> f64 {
    if a > -5.0 {
        return phi_cdf(a) / phi(a);
    }
    let x = -a;
    let mut fraction = x;
    for k in (1..=60).rev() {
        fraction = x + f64::from(k) / fraction;
    }
    1.0 / fraction
}

/// P(Y ≤ y), Y = E/α + σZ: Φ(t) − φ(t) · Φ(a)/φ(a) with t = y/σ and a = t − ασ, arranged so that no
/// term overflows.
fn cdf(y: f64, alpha: f64, sigma: f64) -> f64 {
    let t = y / sigma;
    let a = t - alpha * sigma;
    let second = if a > 0.0 {
        // exp(−αy + α²σ²/2) ≤ 1 here (t > ασ/2).
        libm::exp(-alpha * y + 0.5 * alpha * alpha * sigma * sigma) * phi_cdf(a)
    } else {
        phi(t) * mills(a)
    };
    (phi_cdf(t) - second).clamp(0.0, 1.0)
}

/// The p-quantile of Y, by bisection.
fn quantile(p: f64, alpha: f64, sigma: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0 * sigma, 10.0 * sigma + 50.0 / alpha);
    // 64 halvings take the bracket below an f64's resolution of it.
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid, alpha, sigma) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The generator's parameters for a bucket: `(x_min, 1/α, σ)` such that the cell's median is `median`
/// and its 90th percentile `p90` (before any cap).
pub fn fit(median: f64, p90: f64) -> (f64, f64, f64) {
    let spread = libm::log(p90 / median);
    let sigma = SIGMA.min(0.7 * spread / Z90);
    let gap = |alpha: f64| quantile(0.9, alpha, sigma) - quantile(0.5, alpha, sigma);
    // The gap falls as α grows, from ∞ towards σ·z₀.₉ (< spread): bisection on ln α.
    let (mut lo, mut hi) = (libm::log(1e-3), libm::log(1e4));
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if gap(libm::exp(mid)) > spread {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let alpha = libm::exp(0.5 * (lo + hi));
    let x_min = median / libm::exp(quantile(0.5, alpha, sigma));
    (x_min, 1.0 / alpha, sigma)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cdf_is_a_distribution_and_tends_to_the_normal_for_a_large_alpha() {
        for alpha in [0.3, 1.0, 4.0, 50.0] {
            assert!(cdf(-20.0, alpha, 0.5) < 1e-12);
            assert!(cdf(1e3, alpha, 0.5) > 1.0 - 1e-9);
            let mut previous = 0.0;
            for i in -100..400 {
                let v = cdf(f64::from(i) / 20.0, alpha, 0.5);
                assert!(v >= previous - 1e-15, "α {alpha}: not monotone at {i}");
                previous = v;
            }
        }
        // α → ∞: Y → σZ, whose median is 0 and 90th percentile σ·z₀.₉.
        assert!(quantile(0.5, 1e4, 0.5).abs() < 1e-3);
        assert!((quantile(0.9, 1e4, 0.5) - 0.5 * Z90).abs() < 1e-3);
    }

    #[test]
    fn a_fit_reproduces_the_median_and_p90_it_was_asked_for() {
        for (median, p90) in [
            (1.0, 3.0),
            (0.9, 2.0),
            (1.4, 3.0),
            (2.0, 4.0),
            (1.5, 6.0),
            (1.1, 9.0),
            (1.0, 1.5),
        ] {
            let (x_min, inverse_alpha, sigma) = fit(median, p90);
            let alpha = 1.0 / inverse_alpha;
            let m = x_min * libm::exp(quantile(0.5, alpha, sigma));
            let p = x_min * libm::exp(quantile(0.9, alpha, sigma));
            assert!(
                (m / median - 1.0).abs() < 1e-6,
                "{median}/{p90}: median {m}"
            );
            assert!((p / p90 - 1.0).abs() < 1e-4, "{median}/{p90}: p90 {p}");
        }
    }
}
