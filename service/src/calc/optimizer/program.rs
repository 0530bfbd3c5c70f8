//! One pass's linear programs and the rounds that refine how they represent CVaR.
//!
//! A pass starts with CVaR as one variable `η` above its supporting hyperplanes ([`super::cvar`]):
//! programs of B + 1 variables, a cut added at each round's weights and one halfway towards the
//! running centre of the rounds (in-out separation, which damps the cutting-plane method's zig-zag).
//! Where that has not converged after [`CUT_ROUNDS`] (many buckets with the optimum inside the
//! simplex), the pass switches to the Rockafellar–Uryasev form over the scenarios near the tail's edge
//! at the last weights, the deep tail summed into one term ([`super::tail`]). Every program is a
//! relaxation of SPEC §10's; a pass ends when the CVaR of its weights, computed from the whole matrix,
//! is no more than the program's own value of it (within [`CVAR_TOLERANCE`]): the weights are then
//! optimal for the full program.

use clarabel::solver::SolverStatus;

use super::cvar::{cvar_and_cut, modelled};
use super::lp::{Lp, Solved};
use super::tail::Tail;
use super::{Model, Objective, Scenarios};

/// The CVaR of a pass's weights may exceed the program's value of it by this, times `max(1, |CVaR|)`:
/// the interior-point solver's own accuracy, far below the 1e-6 to which results are certified.
pub const CVAR_TOLERANCE: f64 = 1e-8;

/// Cutting-plane rounds before a pass turns to the scenario form.
pub const CUT_ROUNDS: u32 = 150;

/// Scenario-form rounds a pass may take after its first: a guard against a numerical stall, never
/// reached by a solvable model (each round moves at least one misjudged scenario into the rows, and
/// there are finitely many).
const TAIL_ROUNDS: u32 = 50;

/// How CVaR enters a program.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// Not at all: nothing in the model uses it.
    Absent,
    /// `η` above the cuts.
    Cuts,
    /// `t` and one `u_k` for each of this many scenarios.
    Tail(usize),
}

/// Variable layout: the weights, then CVaR's variables, then (pass 2) the B `d_b`.
#[derive(Clone, Copy)]
struct Layout {
    buckets: usize,
    form: Form,
    l1: bool,
}

impl Layout {
    /// `η`, or the Rockafellar–Uryasev `t`.
    fn eta(&self) -> usize {
        self.buckets
    }
    fn u(&self, k: usize) -> usize {
        self.buckets + 1 + k
    }
    fn cvar_width(&self) -> usize {
        match self.form {
            Form::Absent => 0,
            Form::Cuts => 1,
            Form::Tail(n) => 1 + n,
        }
    }
    fn d(&self, b: usize) -> usize {
        self.buckets + self.cvar_width() + b
    }
    fn variables(&self) -> usize {
        self.buckets + self.cvar_width() + if self.l1 { self.buckets } else { 0 }
    }
}

/// What a pass minimises, apart from how CVaR is represented: pass 1's objective, or (pass 2) the L1
/// distance from uniform weights with pass 1's objective kept at most `bound`.
pub(super) struct Program<'a> {
    pub model: &'a Model,
    /// Column means: E = means · w.
    pub means: &'a [f64],
    /// Pass 2: the minimised pass-1 objective may not exceed this.
    pub bound: Option<f64>,
    /// Whether anything in the model uses CVaR.
    pub uses_cvar: bool,
}

/// The found weights of a pass, with the CVaR the matrix gives them.
pub(super) struct Found {
    pub weights: Vec<f64>,
    pub cvar: f64,
    /// The last program's status and |primal − dual objective|.
    pub last: Solved,
    pub iterations: u32,
    /// The solver's time over all the programs, in seconds.
    pub seconds: f64,
    pub cuts: u32,
    pub tail: u32,
    /// How far the CVaR of the weights exceeds the program's value of it (≤ 0 when it does not).
    pub shortfall: f64,
}

impl Program<'_> {
    /// The pass-1 objective as terms to minimise and a constant, CVaR as the layout represents it.
    fn objective_terms(&self, layout: &Layout, cvar: &Linear) -> Linear {
        let mut terms: Vec<(usize, f64)> = Vec::new();
        let mut constant = 0.0;
        let (expected, risk) = match self.model.objective {
            Objective::MaximizeReturn => (true, 0.0),
            Objective::MinimizeRisk => (false, 1.0),
            Objective::RiskAdjusted { risk_aversion } => (true, risk_aversion),
        };
        if expected {
            terms.extend(self.means.iter().enumerate().map(|(j, m)| (j, -m)));
        }
        if risk > 0.0 && layout.form != Form::Absent {
            terms.extend(cvar.0.iter().map(|&(j, c)| (j, c * risk)));
            constant += risk * cvar.1;
        }
        (terms, constant)
    }

    fn lp(&self, m: &Scenarios, layout: &Layout, cuts: &[Vec<f64>], tail: Option<&Tail>) -> Lp {
        let b = layout.buckets;
        let kappa = 1.0 / ((1.0 - self.model.cvar_confidence) * m.count() as f64);
        let cvar = cvar_terms(layout, kappa, tail);
        let mut lp = Lp::new(layout.variables());
        lp.equalities
            .push(((0..b).map(|j| (j, 1.0)).collect(), 1.0));
        for (j, &(lo, hi)) in self.model.bounds.iter().enumerate() {
            lp.inequalities.push((vec![(j, 1.0)], hi));
            lp.inequalities.push((vec![(j, -1.0)], -lo));
        }
        match layout.form {
            Form::Absent => {}
            // η ≥ 1 − c·w  ⇔  −c·w − η ≤ −1.
            Form::Cuts => {
                for cut in cuts {
                    let mut terms: Vec<(usize, f64)> =
                        cut.iter().enumerate().map(|(j, c)| (j, -c)).collect();
                    terms.push((layout.eta(), -1.0));
                    lp.inequalities.push((terms, -1.0));
                }
            }
            // u_k ≥ 1 − M_s·w − t  ⇔  −M_s·w − t − u_k ≤ −1; and u_k ≥ 0.
            Form::Tail(_) => {
                let rows = tail.map_or(&[][..], |t| &t.rows[..]);
                for (k, &s) in rows.iter().enumerate() {
                    let mut terms: Vec<(usize, f64)> = m
                        .row(s as usize)
                        .iter()
                        .enumerate()
                        .map(|(j, v)| (j, -f64::from(*v)))
                        .collect();
                    terms.push((layout.eta(), -1.0));
                    terms.push((layout.u(k), -1.0));
                    lp.inequalities.push((terms, -1.0));
                    lp.inequalities.push((vec![(layout.u(k), -1.0)], 0.0));
                }
            }
        }
        if let (Some(limit), true) = (self.model.cvar_limit, layout.form != Form::Absent) {
            lp.inequalities.push((cvar.0.clone(), limit - cvar.1));
        }
        if let Some(min) = self.model.min_expected_moic {
            lp.inequalities.push((
                self.means
                    .iter()
                    .enumerate()
                    .map(|(j, m)| (j, -m))
                    .collect(),
                -min,
            ));
        }
        let (objective, constant) = self.objective_terms(layout, &cvar);
        match self.bound {
            None => {
                for (j, c) in objective {
                    lp.q[j] += c;
                }
            }
            Some(bound) => {
                lp.inequalities.push((objective, bound - constant));
                let uniform = 1.0 / b as f64;
                for j in 0..b {
                    let d = layout.d(j);
                    lp.inequalities.push((vec![(j, 1.0), (d, -1.0)], uniform));
                    lp.inequalities.push((vec![(j, -1.0), (d, -1.0)], -uniform));
                    lp.q[d] = 1.0;
                }
            }
        }
        lp
    }
}

/// Linear terms and a constant.
type Linear = (Vec<(usize, f64)>, f64);

/// CVaR as the layout represents it: `η`; or `t + κ (Σ_k u_k + Σ_deep (1 − M_s·w − t))`, that is
/// `(1 − κ·deep) t + κ Σ_k u_k − κ (Σ_deep M_s)·w + κ·deep`.
fn cvar_terms(layout: &Layout, kappa: f64, tail: Option<&Tail>) -> Linear {
    match (layout.form, tail) {
        (Form::Tail(n), Some(tail)) => {
            let deep = tail.deep as f64;
            let terms = std::iter::once((layout.eta(), 1.0 - kappa * deep))
                .chain((0..n).map(|k| (layout.u(k), kappa)))
                .chain(
                    tail.deep_sum
                        .iter()
                        .enumerate()
                        .map(|(j, c)| (j, -kappa * c)),
                )
                .collect();
            (terms, kappa * deep)
        }
        _ => (vec![(layout.eta(), 1.0)], 0.0),
    }
}

/// What a solve's passes share: the cuts found so far (valid for any program over the same matrix and
/// α), the centre the in-out cuts are taken towards, and — once a pass has turned to it — the
/// scenario set of the Rockafellar–Uryasev form.
pub(super) struct Search<'a> {
    m: &'a Scenarios<'a>,
    alpha: f64,
    cuts: Vec<Vec<f64>>,
    centre: Vec<f64>,
    tail: Option<Tail>,
    /// Cutting-plane rounds of a pass before it turns to the scenario form ([`CUT_ROUNDS`]; tests
    /// choose 0 to take the scenario form at once, or many to keep the cuts).
    cut_rounds: u32,
}

impl<'a> Search<'a> {
    /// The first cuts touch CVaR at the uniform weights and at each bucket alone: every program is then
    /// bounded, and the search starts from the corners of the simplex.
    pub fn new(m: &'a Scenarios<'a>, alpha: f64, uses_cvar: bool, cut_rounds: u32) -> Self {
        let b = m.buckets;
        let uniform = vec![1.0 / b as f64; b];
        let corners = (0..b).map(|j| {
            let mut w = vec![0.0; b];
            w[j] = 1.0;
            w
        });
        let cuts = if uses_cvar {
            std::iter::once(uniform.clone())
                .chain(corners)
                .map(|w| cvar_and_cut(m, alpha, &m.returns(&w)).1)
                .collect()
        } else {
            Vec::new()
        };
        Self {
            m,
            alpha,
            cuts,
            centre: uniform,
            tail: None,
            cut_rounds,
        }
    }

    /// Solves `program`'s pass to optimality (see the module's doc).
    pub fn run(&mut self, program: &Program, l1: bool) -> Result<Found, SolverStatus> {
        let b = self.m.buckets;
        let mut iterations = 0u32;
        let mut seconds = 0.0;
        let mut rounds = 0u32;
        let mut tail_rounds = 0u32;
        loop {
            let form = match (&self.tail, program.uses_cvar) {
                (_, false) => Form::Absent,
                (None, true) => Form::Cuts,
                (Some(tail), true) => Form::Tail(tail.rows.len()),
            };
            let layout = Layout {
                buckets: b,
                form,
                l1,
            };
            let tail = self.tail.as_ref();
            let last = program.lp(self.m, &layout, &self.cuts, tail).solve();
            iterations += last.iterations;
            seconds += last.seconds;
            rounds += 1;
            if !last.answered() {
                return Err(last.status);
            }
            let weights = last.x[..b].to_vec();
            // The scenario multiples at these weights: one pass over the matrix serves the CVaR, the
            // cut, the program's value and the widening below.
            let returns = self.m.returns(&weights);
            let (cvar, cut) = cvar_and_cut(self.m, self.alpha, &returns);
            let represented = match form {
                Form::Absent => f64::INFINITY,
                Form::Cuts => last.x[layout.eta()].max(modelled(&self.cuts, &weights)),
                Form::Tail(_) => tail.map_or(f64::INFINITY, |tail| {
                    tail.value(self.alpha, &weights, &returns, last.x[layout.eta()])
                }),
            };
            let shortfall = cvar - represented;
            let converged = shortfall <= CVAR_TOLERANCE * cvar.abs().max(1.0);
            // In the scenario form, a shortfall with no misjudged scenario is rounding: the program's
            // value is then the full R–U function at (w, t), never below CVaR in exact arithmetic.
            let widened = match (converged, form, self.tail.as_mut()) {
                (false, Form::Tail(_), Some(tail)) => {
                    tail_rounds += 1;
                    if tail_rounds > TAIL_ROUNDS {
                        return Err(SolverStatus::MaxIterations);
                    }
                    Some(tail.widen(self.m, &returns, last.x[layout.eta()]))
                }
                _ => None,
            };
            if converged || widened == Some(0) {
                let tail = self.tail.as_ref();
                return Ok(Found {
                    weights,
                    cvar,
                    iterations,
                    seconds,
                    cuts: if form == Form::Cuts {
                        self.cuts.len() as u32
                    } else {
                        0
                    },
                    tail: tail.map_or(0, |t| t.rows.len() as u32),
                    shortfall: shortfall.max(0.0),
                    last,
                });
            }
            match form {
                Form::Cuts if rounds < self.cut_rounds => self.cut(&weights, cut),
                Form::Cuts => self.tail = Some(Tail::at(self.m, self.alpha, &returns)),
                Form::Tail(_) => {} // widened above
                // Not reached: without CVaR the first program is the answer.
                Form::Absent => return Err(SolverStatus::MaxIterations),
            }
        }
    }

    /// Adds the cut at `weights` and the in-out cut halfway towards the centre, and moves the centre
    /// halfway towards `weights`.
    fn cut(&mut self, weights: &[f64], cut: Vec<f64>) {
        self.cuts.push(cut);
        let between: Vec<f64> = self
            .centre
            .iter()
            .zip(weights)
            .map(|(c, w)| 0.5 * (c + w))
            .collect();
        self.cuts
            .push(cvar_and_cut(self.m, self.alpha, &self.m.returns(&between)).1);
        self.centre = between;
    }
}
