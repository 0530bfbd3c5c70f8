//! The optimization model of SPEC §10 and its two passes. Pure: a matrix and a config in, weights and
//! metrics out.
//!
//! Over the matrix M (S scenarios × B buckets): weights `w_b` within their bounds with Σ w_b = 1; a
//! scenario's multiple `r_s = Σ_b w_b M[s,b]`; `E = (1/S) Σ_s r_s` (linear in `w` through the column
//! means); `loss_s = 1 − r_s`; CVaR_α of the loss. Pass 1 optimises the objective; pass 2 keeps pass 1's
//! optimum within ε and minimises the L1 distance from uniform weights (`d_b ≥ |w_b − 1/B|`), so that
//! among equally good portfolios the most diversified one is returned, reproducibly.
//!
//! The model is SPEC §10's, with CVaR in the Rockafellar–Uryasev form; each pass solves it by rounds of
//! smaller programs that represent CVaR only as far as needed ([`program`]): first as one variable
//! above its supporting hyperplanes, then, if that is slow to converge, by the R–U rows of the scenarios
//! that can be in the tail. A pass ends when the CVaR of its weights, computed from the whole matrix,
//! is no more than the program's value of it: the weights are then optimal for the full program.
//! docs/DECISIONS.md compares this with solving the full program.
//!
//! Floats are the domain here (SPEC §1): the matrix is `f32`, the solver works in `f64`.

mod cvar;
mod lp;
mod program;
mod tail;

use clarabel::solver::SolverStatus;
use lp::status_name;
pub use program::{CUT_ROUNDS, CVAR_TOLERANCE};
use program::{Found, Program, Search};

/// What pass 1 optimises.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Objective {
    MaximizeReturn,
    MinimizeRisk,
    /// Maximise `E − λ·CVaR`.
    RiskAdjusted {
        risk_aversion: f64,
    },
}

/// A validated optimization config, bounds in the matrix's column order.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub objective: Objective,
    /// `(lo, hi)` per bucket, in column order.
    pub bounds: Vec<(f64, f64)>,
    /// α in (0, 1).
    pub cvar_confidence: f64,
    pub cvar_limit: Option<f64>,
    pub min_expected_moic: Option<f64>,
    /// Pass 2's tolerance on pass 1's optimum; default `max(1e-6 × |optimum|, 1e-9)`.
    pub epsilon: Option<f64>,
}

/// A matrix as the model reads it: S rows of B `f32` cells, row-major.
#[derive(Clone, Copy, Debug)]
pub struct Scenarios<'a> {
    pub buckets: usize,
    pub values: &'a [f32],
}

impl Scenarios<'_> {
    fn count(&self) -> usize {
        self.values.len() / self.buckets.max(1)
    }

    fn row(&self, s: usize) -> &[f32] {
        &self.values[s * self.buckets..(s + 1) * self.buckets]
    }

    fn column_means(&self) -> Vec<f64> {
        let s = self.count() as f64;
        let mut sums = vec![0.0f64; self.buckets];
        for row in self.values.chunks_exact(self.buckets) {
            for (sum, v) in sums.iter_mut().zip(row) {
                *sum += f64::from(*v);
            }
        }
        sums.into_iter().map(|x| x / s).collect()
    }

    /// `r_s` of each scenario for `weights`.
    pub fn returns(&self, weights: &[f64]) -> Vec<f64> {
        self.values
            .chunks_exact(self.buckets)
            .map(|row| {
                row.iter()
                    .zip(weights)
                    .map(|(v, w)| f64::from(*v) * w)
                    .sum()
            })
            .collect()
    }
}

/// How one solver pass ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Pass {
    /// Clarabel's status of the last program, snake_case (`solved`, `almost_solved`, …).
    pub status: String,
    /// Interior-point iterations over all the pass's programs.
    pub iterations: u32,
    /// The solver's own time over all the pass's programs (not the CVaR computed between them: calc
    /// reads no clock).
    pub solve_time_ms: f64,
    /// |primal − dual objective| of the last program, plus how far the CVaR of its weights lies above
    /// the program's value of it (at most [`CVAR_TOLERANCE`] relative): a bound on the distance from
    /// the pass's optimum.
    pub duality_gap: f64,
    /// The CVaR cuts in the last program (0 when it has none).
    pub cuts: u32,
    /// The scenarios of the Rockafellar–Uryasev form in the last program (0 when it has none).
    pub tail_scenarios: u32,
}

/// The risk and return of a set of weights, computed from the matrix (not from the solver).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    pub expected_moic: f64,
    /// CVaR_α of the loss `1 − r`.
    pub cvar: f64,
    /// VaR_α of the loss: its α-quantile (the optimal `t`).
    pub var: f64,
    /// P(r_s < 1).
    pub loss_probability: f64,
    /// The largest violation of the model's constraints by the weights (bounds, Σ = 1, the CVaR limit,
    /// the minimum expected MOIC), recomputed here: the certificate an analyst can check.
    pub max_violation: f64,
}

/// A solved session.
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    pub weights: Vec<f64>,
    /// Pass 1's optimum: E* (maximize_return), CVaR* (minimize_risk), or max E − λ·CVaR.
    pub pass1_optimum: f64,
    pub epsilon: f64,
    pub pass1: Pass,
    pub pass2: Pass,
    pub metrics: Metrics,
}

/// Why there is no solution.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SolveError {
    /// The constraints cannot all hold; the sentence names them.
    #[error("{0}")]
    Infeasible(String),
    /// The solver stopped without an answer it vouches for.
    #[error("the solver stopped with status {status} in {pass}")]
    Solver { pass: &'static str, status: String },
}

/// The minimised objective at `weights` with CVaR computed from the matrix, not taken from `η`.
fn true_objective(model: &Model, means: &[f64], weights: &[f64], cvar: f64) -> f64 {
    let expected: f64 = means.iter().zip(weights).map(|(m, w)| m * w).sum();
    match model.objective {
        Objective::MaximizeReturn => -expected,
        Objective::MinimizeRisk => cvar,
        Objective::RiskAdjusted { risk_aversion } => {
            -expected
                + if risk_aversion > 0.0 {
                    risk_aversion * cvar
                } else {
                    0.0
                }
        }
    }
}

/// The sentence naming what cannot hold together.
fn infeasible(model: &Model) -> String {
    let mut parts = vec!["weights within their bounds summing to 1".to_owned()];
    if let Some(limit) = model.cvar_limit {
        parts.push(format!(
            "CVaR at {} confidence at most {limit}",
            model.cvar_confidence
        ));
    }
    if let Some(min) = model.min_expected_moic {
        parts.push(format!("an expected MOIC of at least {min}"));
    }
    format!(
        "no portfolio satisfies {}: the constraints cannot all hold",
        parts.join(" and ")
    )
}

/// Solves both passes of `model` over `m`.
pub fn solve(m: &Scenarios, model: &Model) -> Result<Solution, SolveError> {
    solve_with(m, model, CUT_ROUNDS)
}

/// [`solve`], with `cut_rounds` cutting-plane rounds per pass before the scenario form.
fn solve_with(m: &Scenarios, model: &Model, cut_rounds: u32) -> Result<Solution, SolveError> {
    let uses_cvar = model.cvar_limit.is_some()
        || match model.objective {
            Objective::MaximizeReturn => false,
            Objective::MinimizeRisk => true,
            Objective::RiskAdjusted { risk_aversion } => risk_aversion > 0.0,
        };
    let means = m.column_means();
    let classify = |pass: &'static str, status: SolverStatus| match status {
        SolverStatus::PrimalInfeasible | SolverStatus::AlmostPrimalInfeasible => {
            SolveError::Infeasible(infeasible(model))
        }
        other => SolveError::Solver {
            pass,
            status: status_name(other),
        },
    };
    let mut search = Search::new(m, model.cvar_confidence, uses_cvar, cut_rounds);
    let first = search
        .run(
            &Program {
                model,
                means: &means,
                bound: None,
                uses_cvar,
            },
            false,
        )
        .map_err(|status| classify("pass 1", status))?;
    let pass1 = first.pass();
    // The minimised objective at pass 1's weights, CVaR from the matrix; the optimum in its own sense.
    let minimised = true_objective(model, &means, &first.weights, first.cvar);
    let pass1_optimum = match model.objective {
        Objective::MinimizeRisk => minimised,
        _ => -minimised,
    };
    let epsilon = model
        .epsilon
        .unwrap_or_else(|| (1e-6 * pass1_optimum.abs()).max(1e-9));

    let second = search
        .run(
            &Program {
                model,
                means: &means,
                // Keep pass 1's optimum within ε: the minimised terms stay ≤ their minimum + ε.
                bound: Some(minimised + epsilon),
                uses_cvar,
            },
            true,
        )
        .map_err(|status| classify("pass 2", status))?;
    let pass2 = second.pass();
    let metrics = evaluate(m, model, &second.weights);
    Ok(Solution {
        weights: second.weights,
        pass1_optimum,
        epsilon,
        pass1,
        pass2,
        metrics,
    })
}

impl Found {
    fn pass(&self) -> Pass {
        Pass {
            status: status_name(self.last.status),
            iterations: self.iterations,
            solve_time_ms: self.seconds * 1e3,
            duality_gap: self.last.gap + self.shortfall,
            cuts: self.cuts,
            tail_scenarios: self.tail,
        }
    }
}

/// The metrics of `weights` over `m`, and how far they are from satisfying `model`.
pub fn evaluate(m: &Scenarios, model: &Model, weights: &[f64]) -> Metrics {
    let returns = m.returns(weights);
    let s = returns.len() as f64;
    let expected_moic = returns.iter().sum::<f64>() / s;
    let mut losses: Vec<f64> = returns.iter().map(|r| 1.0 - r).collect();
    losses.sort_by(f64::total_cmp);
    let alpha = model.cvar_confidence;
    // The Rockafellar–Uryasev function is minimised at the α-quantile of the loss: the ⌈αS⌉-th smallest.
    let k = ((alpha * s).ceil() as usize).clamp(1, losses.len());
    let var = losses[k - 1];
    let tail: f64 = losses.iter().map(|l| (l - var).max(0.0)).sum();
    let cvar = var + tail / ((1.0 - alpha) * s);
    let loss_probability = returns.iter().filter(|r| **r < 1.0).count() as f64 / s;
    let mut max_violation = (weights.iter().sum::<f64>() - 1.0).abs();
    for (w, &(lo, hi)) in weights.iter().zip(&model.bounds) {
        max_violation = max_violation.max(lo - w).max(w - hi);
    }
    if let Some(limit) = model.cvar_limit {
        max_violation = max_violation.max(cvar - limit);
    }
    if let Some(min) = model.min_expected_moic {
        max_violation = max_violation.max(min - expected_moic);
    }
    Metrics {
        expected_moic,
        cvar,
        var,
        loss_probability,
        max_violation: max_violation.max(0.0),
    }
}

#[cfg(test)]
mod tests;
