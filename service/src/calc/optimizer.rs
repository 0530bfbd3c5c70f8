//! The optimization model of SPEC §10 and its two passes, on Clarabel (a maintained pure-Rust
//! interior-point solver; docs/DECISIONS.md records the choice). Pure: a matrix and a config in,
//! weights and metrics out.
//!
//! Over the matrix M (S scenarios × B buckets): weights `w_b` within their bounds with Σ w_b = 1; a
//! scenario's multiple `r_s = Σ_b w_b M[s,b]`; `E = (1/S) Σ_s r_s` (linear in `w` through the column
//! means); `loss_s = 1 − r_s`; CVaR_α in the Rockafellar–Uryasev form (`t` free, `u_s ≥ 0`,
//! `u_s ≥ loss_s − t`, CVaR = `t + Σ u_s / ((1 − α) S)`). Pass 1 optimises the objective; pass 2 keeps
//! pass 1's optimum within ε and minimises the L1 distance from uniform weights (`d_b ≥ |w_b − 1/B|`),
//! so that among equally good portfolios the most diversified one is returned, reproducibly.
//!
//! Floats are the domain here (SPEC §1): the matrix is `f32`, the solver works in `f64`.

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus,
    SupportedConeT, ZeroConeT,
};

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
    /// Clarabel's status, snake_case (`solved`, `almost_solved`, …).
    pub status: String,
    pub iterations: u32,
    pub solve_time_ms: f64,
    /// |primal − dual objective| at the end.
    pub duality_gap: f64,
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

/// A linear program `min qᵀx` subject to equality rows `a·x = b` and inequality rows `a·x ≤ b`.
struct Lp {
    q: Vec<f64>,
    equalities: Vec<(Vec<(usize, f64)>, f64)>,
    inequalities: Vec<(Vec<(usize, f64)>, f64)>,
}

fn status_name(status: SolverStatus) -> String {
    let name = format!("{status:?}");
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

impl Lp {
    fn new(variables: usize) -> Self {
        Self {
            q: vec![0.0; variables],
            equalities: Vec::new(),
            inequalities: Vec::new(),
        }
    }

    fn solve(&self, pass: &'static str) -> Result<(Vec<f64>, Pass), (SolverStatus, Pass)> {
        let n = self.q.len();
        let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        let mut b = Vec::with_capacity(self.equalities.len() + self.inequalities.len());
        for (i, (terms, rhs)) in self.equalities.iter().chain(&self.inequalities).enumerate() {
            for &(j, v) in terms {
                rows.push(i);
                cols.push(j);
                vals.push(v);
            }
            b.push(*rhs);
        }
        let a = CscMatrix::new_from_triplets(b.len(), n, rows, cols, vals);
        let p = CscMatrix::zeros((n, n));
        let cones: Vec<SupportedConeT<f64>> = vec![
            ZeroConeT(self.equalities.len()),
            NonnegativeConeT(self.inequalities.len()),
        ];

        let failed = |status| {
            (
                status,
                Pass {
                    status: status_name(status),
                    iterations: 0,
                    solve_time_ms: 0.0,
                    duality_gap: f64::NAN,
                },
            )
        };
        let settings = DefaultSettingsBuilder::default()
            .verbose(false)
            .max_iter(200)
            .build()
            .map_err(|_| failed(SolverStatus::NumericalError))?;
        let mut solver = DefaultSolver::new(&p, &self.q, &a, &b, &cones, settings)
            .map_err(|_| failed(SolverStatus::NumericalError))?;
        solver.solve();
        let solution = &solver.solution;
        let info = Pass {
            status: status_name(solution.status),
            iterations: solution.iterations,
            solve_time_ms: solution.solve_time * 1e3,
            duality_gap: solver.info.gap_abs,
        };
        let _ = pass;
        match solution.status {
            SolverStatus::Solved | SolverStatus::AlmostSolved => Ok((solution.x.clone(), info)),
            other => Err((other, info)),
        }
    }
}

/// Variable layout: weights, then (when the model needs CVaR) `t` and the S `u_s`, then (pass 2) the B
/// `d_b`.
struct Layout {
    buckets: usize,
    scenarios: usize,
    cvar: bool,
    l1: bool,
}

impl Layout {
    fn t(&self) -> usize {
        self.buckets
    }
    fn u(&self, s: usize) -> usize {
        self.buckets + 1 + s
    }
    fn d(&self, b: usize) -> usize {
        self.buckets + if self.cvar { 1 + self.scenarios } else { 0 } + b
    }
    fn variables(&self) -> usize {
        self.buckets
            + if self.cvar { 1 + self.scenarios } else { 0 }
            + if self.l1 { self.buckets } else { 0 }
    }
    /// The terms of the CVaR expression `t + Σ u_s / ((1 − α) S)`.
    fn cvar_terms(&self, alpha: f64) -> Vec<(usize, f64)> {
        let each = 1.0 / ((1.0 - alpha) * self.scenarios as f64);
        std::iter::once((self.t(), 1.0))
            .chain((0..self.scenarios).map(|s| (self.u(s), each)))
            .collect()
    }
}

/// The constraints both passes share: bounds, Σ w = 1, the CVaR definition and limit, the minimum E.
fn base_lp(m: &Scenarios, model: &Model, layout: &Layout, means: &[f64]) -> Lp {
    let b = layout.buckets;
    let mut lp = Lp::new(layout.variables());
    lp.equalities
        .push(((0..b).map(|j| (j, 1.0)).collect(), 1.0));
    for (j, &(lo, hi)) in model.bounds.iter().enumerate() {
        lp.inequalities.push((vec![(j, 1.0)], hi));
        lp.inequalities.push((vec![(j, -1.0)], -lo));
    }
    if layout.cvar {
        // u_s ≥ 1 − Σ_b w_b M[s,b] − t  ⇔  −Σ_b M[s,b] w_b − t − u_s ≤ −1; and u_s ≥ 0.
        for (s, row) in m.values.chunks_exact(b).enumerate() {
            let mut terms: Vec<(usize, f64)> = row
                .iter()
                .enumerate()
                .map(|(j, v)| (j, -f64::from(*v)))
                .collect();
            terms.push((layout.t(), -1.0));
            terms.push((layout.u(s), -1.0));
            lp.inequalities.push((terms, -1.0));
            lp.inequalities.push((vec![(layout.u(s), -1.0)], 0.0));
        }
        if let Some(limit) = model.cvar_limit {
            lp.inequalities
                .push((layout.cvar_terms(model.cvar_confidence), limit));
        }
    }
    if let Some(min) = model.min_expected_moic {
        lp.inequalities.push((
            means.iter().enumerate().map(|(j, m)| (j, -m)).collect(),
            -min,
        ));
    }
    lp
}

/// The pass-1 objective as terms to minimise.
fn objective_terms(model: &Model, layout: &Layout, means: &[f64]) -> Vec<(usize, f64)> {
    let expected = || means.iter().enumerate().map(|(j, m)| (j, -m));
    match model.objective {
        Objective::MaximizeReturn => expected().collect(),
        Objective::MinimizeRisk => layout.cvar_terms(model.cvar_confidence),
        Objective::RiskAdjusted { risk_aversion } => {
            let mut terms: Vec<(usize, f64)> = expected().collect();
            if layout.cvar {
                terms.extend(
                    layout
                        .cvar_terms(model.cvar_confidence)
                        .into_iter()
                        .map(|(j, c)| (j, c * risk_aversion)),
                );
            }
            terms
        }
    }
}

fn value_of(terms: &[(usize, f64)], x: &[f64]) -> f64 {
    terms.iter().map(|&(j, c)| c * x[j]).sum()
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
    let b = m.buckets;
    let needs_cvar = model.cvar_limit.is_some()
        || match model.objective {
            Objective::MaximizeReturn => false,
            Objective::MinimizeRisk => true,
            Objective::RiskAdjusted { risk_aversion } => risk_aversion > 0.0,
        };
    let means = m.column_means();
    let pass1_layout = Layout {
        buckets: b,
        scenarios: m.count(),
        cvar: needs_cvar,
        l1: false,
    };
    let objective = objective_terms(model, &pass1_layout, &means);
    let mut lp = base_lp(m, model, &pass1_layout, &means);
    for &(j, c) in &objective {
        lp.q[j] += c;
    }
    let classify = |pass: &'static str, status: SolverStatus| match status {
        SolverStatus::PrimalInfeasible | SolverStatus::AlmostPrimalInfeasible => {
            SolveError::Infeasible(infeasible(model))
        }
        other => SolveError::Solver {
            pass,
            status: status_name(other),
        },
    };
    let (x1, pass1) = lp
        .solve("pass 1")
        .map_err(|(status, _)| classify("pass 1", status))?;
    // Minimised value of the objective terms; the optimum in the objective's own sense.
    let minimised = value_of(&objective, &x1);
    let pass1_optimum = match model.objective {
        Objective::MinimizeRisk => minimised,
        _ => -minimised,
    };
    let epsilon = model
        .epsilon
        .unwrap_or_else(|| (1e-6 * pass1_optimum.abs()).max(1e-9));

    let layout = Layout {
        l1: true,
        ..pass1_layout
    };
    let objective = objective_terms(model, &layout, &means);
    let mut lp = base_lp(m, model, &layout, &means);
    // Keep pass 1's optimum within ε: the minimised terms stay ≤ their minimum + ε.
    lp.inequalities.push((objective, minimised + epsilon));
    let uniform = 1.0 / b as f64;
    for j in 0..b {
        let d = layout.d(j);
        lp.inequalities.push((vec![(j, 1.0), (d, -1.0)], uniform));
        lp.inequalities.push((vec![(j, -1.0), (d, -1.0)], -uniform));
        lp.q[d] = 1.0;
    }
    let (x2, pass2) = lp
        .solve("pass 2")
        .map_err(|(status, _)| classify("pass 2", status))?;
    let weights = x2[..b].to_vec();
    let metrics = evaluate(m, model, &weights);
    Ok(Solution {
        weights,
        pass1_optimum,
        epsilon,
        pass1,
        pass2,
        metrics,
    })
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
