//! The scenarios the Rockafellar–Uryasev form of a program keeps, and those it aggregates.
//!
//! R–U writes CVaR as `t + κ Σ_s max(0, loss_s − t)` with κ = 1/((1 − α) S). A program keeps one row
//! and one `u_k` for each scenario near the tail's edge (`rows`); it sums the deep tail (`deep`) into
//! one linear term, `κ Σ_{s ∈ deep} (loss_s − t)`, which is their exact contribution while they stay
//! above `t` and less than it otherwise; and it leaves out the rest, whose contribution is at least 0.
//! The program's CVaR is therefore never above the true one: a relaxation. When the CVaR of the found
//! weights is no more than the program's value, the weights are optimal; otherwise the scenarios that
//! were misjudged at those weights become rows, and the program is solved again.

use super::Scenarios;

/// Where a scenario stands in a program.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Left,
    Row,
    Deep,
}

/// The rows are the scenarios ranked (worst first) from `(1 − α) S − below` to `(1 − α) S + above`
/// at the weights the form starts from, the deep tail those before. `below` is 0.4 of the tail's share
/// and `above` 0.3 of it, each at most a fixed share of all scenarios, so that a low α (a tail of half
/// the scenarios) keeps a band as narrow as α = 0.95's. Measured at 100,000 × 50: rows are the cost of
/// each program (its factorisation grows with rows × buckets²), and a narrower band needed more rounds.
const BELOW: (f64, f64) = (0.4, 0.02);
const ABOVE: (f64, f64) = (0.3, 0.015);

pub(super) struct Tail {
    place: Vec<Place>,
    /// The kept scenarios, in the order of their `u_k`.
    pub rows: Vec<u32>,
    /// How many scenarios the deep tail sums.
    pub deep: usize,
    /// `Σ_{s ∈ deep} M[s, b]` for each bucket.
    pub deep_sum: Vec<f64>,
}

impl Tail {
    /// The split at the weights whose scenario multiples are `returns`.
    pub fn at(m: &Scenarios, alpha: f64, returns: &[f64]) -> Self {
        let s = returns.len();
        let share = (1.0 - alpha) * s as f64;
        let margin = |(of_tail, of_all): (f64, f64)| (of_tail * share).min(of_all * s as f64);
        let deep = ((share - margin(BELOW)).floor().max(0.0) as usize).min(s);
        let edge = ((share + margin(ABOVE)).ceil() as usize).clamp(deep.max(1), s);
        // Worst first: ascending return.
        let mut order: Vec<u32> = (0..s as u32).collect();
        order.select_nth_unstable_by(edge - 1, |a, b| {
            returns[*a as usize].total_cmp(&returns[*b as usize])
        });
        order.truncate(edge);
        if deep > 0 {
            order.select_nth_unstable_by(deep - 1, |a, b| {
                returns[*a as usize].total_cmp(&returns[*b as usize])
            });
        }
        let mut tail = Self {
            place: vec![Place::Left; s],
            rows: Vec::new(),
            deep: 0,
            deep_sum: vec![0.0; m.buckets],
        };
        let (deepest, edge) = order.split_at(deep);
        for &i in deepest {
            tail.sink(m, i as usize);
        }
        let mut edge = edge.to_vec();
        edge.sort_unstable();
        for i in edge {
            tail.place[i as usize] = Place::Row;
            tail.rows.push(i);
        }
        tail
    }

    fn sink(&mut self, m: &Scenarios, s: usize) {
        self.place[s] = Place::Deep;
        self.deep += 1;
        for (sum, v) in self.deep_sum.iter_mut().zip(m.row(s)) {
            *sum += f64::from(*v);
        }
    }

    /// The program's CVaR at `weights` (whose scenario multiples are `returns`) and `t`, exactly:
    /// `t + κ (Σ_rows max(0, loss − t) + Σ_deep (loss − t))`.
    pub fn value(&self, alpha: f64, weights: &[f64], returns: &[f64], t: f64) -> f64 {
        let kappa = 1.0 / ((1.0 - alpha) * returns.len() as f64);
        let rows: f64 = self
            .rows
            .iter()
            .map(|&s| (1.0 - returns[s as usize] - t).max(0.0))
            .sum();
        let deep_return: f64 = self.deep_sum.iter().zip(weights).map(|(c, w)| c * w).sum();
        t + kappa * (rows + self.deep as f64 * (1.0 - t) - deep_return)
    }

    fn wrong(&self, place: Place, loss: f64, t: f64) -> bool {
        match place {
            Place::Left => loss > t,
            Place::Deep => loss < t,
            Place::Row => false,
        }
    }

    /// Makes rows of the scenarios misjudged at `weights` and `t`: those left out whose loss is above
    /// `t`, and those in the deep tail whose loss is below it; the worst misjudged first, at most as
    /// many as there are rows already (weights far from the band's misjudge thousands, most of which
    /// the next program's weights no longer would). Returns how many moved.
    pub fn widen(&mut self, m: &Scenarios, returns: &[f64], t: f64) -> usize {
        let mut misjudged: Vec<(f64, usize)> = returns
            .iter()
            .copied()
            .enumerate()
            .filter(|(s, r)| self.wrong(self.place[*s], 1.0 - r, t))
            .map(|(s, r)| ((1.0 - r - t).abs(), s))
            .collect();
        let most = self.rows.len().max(1_000);
        if misjudged.len() > most {
            misjudged.select_nth_unstable_by(most - 1, |a, b| b.0.total_cmp(&a.0));
            misjudged.truncate(most);
        }
        misjudged.sort_unstable_by_key(|&(_, s)| s);
        for &(_, s) in &misjudged {
            if self.place[s] == Place::Deep {
                self.deep -= 1;
                for (sum, v) in self.deep_sum.iter_mut().zip(m.row(s)) {
                    *sum -= f64::from(*v);
                }
            }
            self.place[s] = Place::Row;
            self.rows.push(s as u32);
        }
        misjudged.len()
    }
}
