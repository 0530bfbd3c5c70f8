//! CVaR as the maximum of its supporting hyperplanes, generated where they are needed.
//!
//! CVaR_α of the loss `1 − r_s` is `max_q Σ_s q_s (1 − r_s)` over the weights `q` with `0 ≤ q_s ≤
//! 1/((1 − α) S)` and `Σ q_s = 1` (its dual representation). For one `q`, `Σ q_s (1 − Σ_b M[s,b] w_b)
//! = 1 − c·w` with `c_b = Σ_s q_s M[s,b]`: a hyperplane below CVaR everywhere, touching it at the
//! weights whose worst scenarios `q` weighs. Optimizing over `w` and one variable `η ≥ 1 − c·w` for a
//! growing set of such cuts is the Rockafellar–Uryasev program with its S scenario variables
//! aggregated (Künzi-Bay and Mayer, 2006): the same optimum, in programs of B + 1 variables.

use super::Scenarios;

/// The CVaR_α of the loss at the weights whose scenario multiples are `returns` (`m.returns(w)`),
/// and the coefficients `c` of the hyperplane `1 − c·w` that touches it there.
///
/// `q` puts `1/((1 − α) S)` on each scenario after the ⌈αS⌉-th smallest loss (the VaR) and the
/// remainder `(⌈αS⌉ − αS)/((1 − α) S)` on the VaR's own scenario, so that the value equals
/// [`super::evaluate`]'s `VaR + Σ max(0, loss − VaR)/((1 − α) S)`.
pub(super) fn cvar_and_cut(m: &Scenarios, alpha: f64, returns: &[f64]) -> (f64, Vec<f64>) {
    let s = returns.len();
    let k = ((alpha * s as f64).ceil() as usize).clamp(1, s);
    // Ascending loss is descending return; only the split at the k-th is needed, not a sort.
    let mut order: Vec<u32> = (0..s as u32).collect();
    order.select_nth_unstable_by(k - 1, |a, b| {
        returns[*b as usize].total_cmp(&returns[*a as usize])
    });
    let each = 1.0 / ((1.0 - alpha) * s as f64);
    let at_var = (k as f64 - alpha * s as f64) * each;
    let mut cut = vec![0.0f64; m.buckets];
    let mut cvar = 0.0f64;
    let tail = std::iter::once((order[k - 1], at_var)).chain(order[k..].iter().map(|&i| (i, each)));
    for (i, q) in tail {
        let i = i as usize;
        cvar += q * (1.0 - returns[i]);
        for (c, v) in cut.iter_mut().zip(m.row(i)) {
            *c += q * f64::from(*v);
        }
    }
    (cvar, cut)
}

/// The cuts' model of CVaR at `weights`: the highest hyperplane there (−∞ without cuts).
pub(super) fn modelled(cuts: &[Vec<f64>], weights: &[f64]) -> f64 {
    cuts.iter()
        .map(|c| 1.0 - c.iter().zip(weights).map(|(c, w)| c * w).sum::<f64>())
        .fold(f64::NEG_INFINITY, f64::max)
}
