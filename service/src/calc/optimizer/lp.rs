//! A small linear program and its solution by Clarabel (a maintained pure-Rust interior-point solver;
//! docs/DECISIONS.md records the choice).

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus,
    SupportedConeT, ZeroConeT,
};

/// A linear program `min qᵀx` subject to equality rows `a·x = b` and inequality rows `a·x ≤ b`.
pub(super) struct Lp {
    pub q: Vec<f64>,
    pub equalities: Vec<(Vec<(usize, f64)>, f64)>,
    pub inequalities: Vec<(Vec<(usize, f64)>, f64)>,
}

/// How one solve ended: Clarabel's status, its iteration count and |primal − dual objective|.
pub(super) struct Solved {
    pub status: SolverStatus,
    pub x: Vec<f64>,
    pub iterations: u32,
    /// Clarabel's own measure of its solve, in seconds.
    pub seconds: f64,
    pub gap: f64,
}

impl Solved {
    /// Whether Clarabel vouches for `x`.
    pub fn answered(&self) -> bool {
        matches!(
            self.status,
            SolverStatus::Solved | SolverStatus::AlmostSolved
        )
    }
}

/// A status in snake_case (`solved`, `almost_solved`, `primal_infeasible`, …), as stored.
pub(super) fn status_name(status: SolverStatus) -> String {
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
    pub fn new(variables: usize) -> Self {
        Self {
            q: vec![0.0; variables],
            equalities: Vec::new(),
            inequalities: Vec::new(),
        }
    }

    pub fn solve(&self) -> Solved {
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
        let failed = || Solved {
            status: SolverStatus::NumericalError,
            x: Vec::new(),
            iterations: 0,
            seconds: 0.0,
            gap: f64::NAN,
        };
        // Cut programs take 15–40 interior-point iterations, scenario-form ones 30–90; 500 leaves room
        // for an ill-conditioned matrix rather than failing for want of iterations.
        let Ok(settings) = DefaultSettingsBuilder::default()
            .verbose(false)
            .max_iter(500)
            .build()
        else {
            return failed();
        };
        let Ok(mut solver) = DefaultSolver::new(&p, &self.q, &a, &b, &cones, settings) else {
            return failed();
        };
        solver.solve();
        Solved {
            status: solver.solution.status,
            x: std::mem::take(&mut solver.solution.x),
            iterations: solver.solution.iterations,
            seconds: solver.solution.solve_time,
            gap: solver.info.gap_abs,
        }
    }
}
