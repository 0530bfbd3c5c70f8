//! The distribution waterfalls of SPEC §6.6: every distribution divided at once between the LPs and the
//! GP, tier by tier, and the NAV divided the same way as a hypothetical liquidation on `as_of`. Pure: the
//! caller supplies the dated calls (investments and fees), the distributions with the cost each one
//! relieves, the write-offs, and the NAV; the forecast (§6.7) runs the same code per scenario.
//!
//! Rounding: the GP's part of an amount in a split tier is rounded half-up to the cent and the LPs get
//! the rest, so each distribution's parts sum to it exactly. The hurdle balance is computed in `f64`
//! (growth factors (1 + h)^(days / 365)) and rounded half-up to the cent, as §6.6 states.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::money::div_half_up;
use super::terms::{FundTerms, WaterfallKind};

/// What a call paid for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// A lot's cost, called when it is bought.
    Investment,
    ManagementFee,
}

/// Money the LPs paid in: an investment (a lot's cost) or a management fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub on: NaiveDate,
    pub cents: i64,
    pub kind: CallKind,
}

/// Proceeds to divide: a distribution (`id`), with the FIFO cost it relieves (for the American tier 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proceeds {
    pub id: i64,
    pub on: NaiveDate,
    pub cents: i64,
    pub relieved_cost_cents: i64,
}

/// A company written off on a date, with the cost it still carried (returnable capital, American).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOff {
    pub on: NaiveDate,
    pub remaining_cost_cents: i64,
}

/// One amount's division: what each tier took, for the LPs and for the GP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Return of capital (LPs only).
    pub tier1_lp: i64,
    /// Preferred return (LPs only; European).
    pub tier2_lp: i64,
    pub tier3_lp: i64,
    /// Catch-up (European).
    pub tier3_gp: i64,
    pub tier4_lp: i64,
    /// Carry (the split after capital, and after the catch-up in a European waterfall).
    pub tier4_gp: i64,
}

impl Split {
    pub fn lp(&self) -> i64 {
        self.tier1_lp + self.tier2_lp + self.tier3_lp + self.tier4_lp
    }

    pub fn gp(&self) -> i64 {
        self.tier3_gp + self.tier4_gp
    }
}

/// A distribution as divided, in event order, with the running balances after it (the ledger's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divided {
    pub id: i64,
    pub on: NaiveDate,
    pub cents: i64,
    pub split: Split,
    /// Paid-in capital called by this date (investments and fees).
    pub paid_in_cents: i64,
    /// The LPs' cumulative tier-1 receipts: capital returned so far.
    pub returned_cents: i64,
    /// The hurdle balance H after this distribution, rounded half-up (European; with h = 0 it is the
    /// paid-in capital not yet returned). `None` for an American waterfall, which has no hurdle.
    pub hurdle_balance_cents: Option<i64>,
}

/// Everything the waterfall decided up to `as_of`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waterfall {
    pub distributions: Vec<Divided>,
    /// The NAV divided as if distributed on `as_of` after every other event.
    pub liquidation: Split,
    /// What the GP owes back at `as_of` (American; 0 for European).
    pub clawback_cents: i64,
}

/// Divides every distribution dated on or before `as_of`, then the NAV (SPEC §6.6). Calls and
/// distributions after `as_of` are ignored; on one date calls come before distributions, and
/// distributions go in `id` order.
pub fn divide(
    terms: &FundTerms,
    calls: &[Call],
    proceeds: &[Proceeds],
    write_offs: &[WriteOff],
    nav_cents: i64,
    as_of: NaiveDate,
) -> Waterfall {
    let mut calls: Vec<Call> = calls.iter().copied().filter(|c| c.on <= as_of).collect();
    calls.sort_by_key(|c| c.on);
    let mut proceeds: Vec<Proceeds> = proceeds.iter().copied().filter(|p| p.on <= as_of).collect();
    proceeds.sort_by_key(|p| (p.on, p.id));
    let mut write_offs: Vec<WriteOff> = write_offs.to_vec();
    write_offs.sort_by_key(|w| w.on);
    let mut run = Running::new(terms);
    run.feed(&calls, &proceeds, &write_offs);
    run.finish(nav_cents, as_of)
}

/// A waterfall part-way through its events: the state after every event fed so far, so that events
/// shared by many runs (a forecast's history, SPEC §6.7) are divided once and each run goes on from a
/// copy. Events are fed in date order, whole dates at a time: every event of a later `feed` is dated
/// after every event of an earlier one.
#[derive(Clone, Debug)]
pub struct Running {
    machine: Machine,
    /// The distributions divided since the run was started or forked.
    pub distributions: Vec<Divided>,
    /// Totals over every distribution fed, forked ones included.
    pub distributed_cents: i64,
    pub gp_cents: i64,
    pub paid_in_cents: i64,
}

#[derive(Clone, Debug)]
enum Machine {
    European(European),
    American(American),
}

/// The American state: the running sums that make returnable capital, and the LPs' tier-1 receipts.
#[derive(Clone, Copy, Debug)]
struct American {
    carry: i64,
    lp_tier1: i64,
    relieved: i64,
    written_off: i64,
    fees: i64,
}

impl Running {
    pub fn new(terms: &FundTerms) -> Self {
        let machine = match terms.waterfall {
            WaterfallKind::European => Machine::European(European {
                rate: terms.hurdle.get() as f64 / 10_000.0,
                carry: terms.carry.get(),
                catch_up: terms.catch_up.get(),
                paid_in: 0,
                lp_tier1: 0,
                tier2: 0,
                tier3: 0,
                calls_grown: Grown::new(),
                receipts_grown: Grown::new(),
            }),
            WaterfallKind::American => Machine::American(American {
                carry: terms.carry.get(),
                lp_tier1: 0,
                relieved: 0,
                written_off: 0,
                fees: 0,
            }),
        };
        Self {
            machine,
            distributions: Vec::new(),
            distributed_cents: 0,
            gp_cents: 0,
            paid_in_cents: 0,
        }
    }

    /// The same state with no distributions of its own yet: a run that goes on from here.
    pub fn fork(&self) -> Self {
        Self {
            machine: self.machine.clone(),
            distributions: Vec::new(),
            ..*self
        }
    }

    /// Divides the events of the dates these lists hold (each sorted by date, proceeds by date and id):
    /// on each date, its calls and write-offs, then its distributions.
    pub fn feed(&mut self, calls: &[Call], proceeds: &[Proceeds], write_offs: &[WriteOff]) {
        let (mut c, mut p, mut w) = (0, 0, 0);
        loop {
            let next = [
                calls.get(c).map(|x| x.on),
                proceeds.get(p).map(|x| x.on),
                write_offs.get(w).map(|x| x.on),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(on) = next else { return };
            while let Some(call) = calls.get(c).filter(|x| x.on == on) {
                self.call(*call);
                c += 1;
            }
            while let Some(off) = write_offs.get(w).filter(|x| x.on == on) {
                if let Machine::American(a) = &mut self.machine {
                    a.written_off += off.remaining_cost_cents;
                }
                w += 1;
            }
            let day = p + proceeds[p..].partition_point(|x| x.on == on);
            if let Machine::American(a) = &mut self.machine {
                // Returnable capital counts every distribution of the date, this one and the later ones.
                a.relieved += proceeds[p..day]
                    .iter()
                    .map(|x| x.relieved_cost_cents)
                    .sum::<i64>();
            }
            for x in &proceeds[p..day] {
                self.distribute(*x);
            }
            p = day;
        }
    }

    fn call(&mut self, c: Call) {
        self.paid_in_cents += c.cents;
        match &mut self.machine {
            Machine::European(e) => e.call(c),
            Machine::American(a) => {
                if c.kind == CallKind::ManagementFee {
                    a.fees += c.cents;
                }
            }
        }
    }

    fn distribute(&mut self, p: Proceeds) {
        let paid_in = self.paid_in_cents;
        let (split, returned, hurdle) = match &mut self.machine {
            Machine::European(e) => {
                let split = e.amount(p.on, p.cents);
                (split, e.lp_tier1, Some(e.hurdle_balance(p.on)))
            }
            Machine::American(a) => {
                let returnable = a.relieved + a.written_off + a.fees;
                let mut split = Split {
                    tier1_lp: p.cents.min((returnable - a.lp_tier1).max(0)),
                    ..Split::default()
                };
                a.lp_tier1 += split.tier1_lp;
                let rest = p.cents - split.tier1_lp;
                split.tier4_gp = share(rest, a.carry);
                split.tier4_lp = rest - split.tier4_gp;
                (split, a.lp_tier1, None)
            }
        };
        self.distributed_cents += p.cents;
        self.gp_cents += split.gp();
        self.distributions.push(Divided {
            id: p.id,
            on: p.on,
            cents: p.cents,
            split,
            paid_in_cents: paid_in,
            returned_cents: returned,
            hurdle_balance_cents: hurdle,
        });
    }

    /// Divides the NAV as a last distribution on `as_of` (changing nothing else) and, for an American
    /// waterfall, computes the clawback over every distribution fed.
    pub fn finish(mut self, nav: i64, as_of: NaiveDate) -> Waterfall {
        let paid_in = self.paid_in_cents;
        let (liquidation, clawback_cents) = match &mut self.machine {
            Machine::European(e) => (e.amount(as_of, nav), 0),
            Machine::American(a) => {
                // The liquidation: every paid-in cent is returnable.
                let mut liquidation = Split {
                    tier1_lp: nav.min((paid_in - a.lp_tier1).max(0)),
                    ..Split::default()
                };
                let rest = nav - liquidation.tier1_lp;
                liquidation.tier4_gp = share(rest, a.carry);
                liquidation.tier4_lp = rest - liquidation.tier4_gp;
                let gp_total = self.gp_cents + liquidation.gp();
                let allowed = share((self.distributed_cents + nav - paid_in).max(0), a.carry);
                (liquidation, (gp_total - allowed).max(0))
            }
        };
        Waterfall {
            distributions: self.distributions,
            liquidation,
            clawback_cents,
        }
    }
}

/// The GP's part `bps / 10000` of `cents`, rounded half-up.
fn share(cents: i64, bps: i64) -> i64 {
    i64::try_from(div_half_up(i128::from(cents) * i128::from(bps), 10_000)).unwrap_or(i64::MAX)
}

/// A sum of dated amounts grown at the hurdle rate to the date of the last event: Σ aᵢ·(1+h)^((t−tᵢ)/365).
#[derive(Clone, Copy, Debug)]
struct Grown {
    value: f64,
    at: Option<NaiveDate>,
}

impl Grown {
    fn new() -> Self {
        Self {
            value: 0.0,
            at: None,
        }
    }

    /// Moves the sum to `on` (never backwards: events come in date order).
    fn grow_to(&mut self, on: NaiveDate, rate: f64) {
        if let Some(at) = self.at {
            let days = (on - at).num_days() as f64;
            self.value *= (1.0 + rate).powf(days / 365.0);
        }
        self.at = Some(on);
    }

    fn add(&mut self, on: NaiveDate, cents: i64, rate: f64) {
        self.grow_to(on, rate);
        self.value += cents as f64;
    }
}

/// The European state: paid-in so far and the LPs' receipts, grown for the hurdle balance.
#[derive(Clone, Copy, Debug)]
struct European {
    rate: f64,
    carry: i64,
    catch_up: i64,
    paid_in: i64,
    lp_tier1: i64,
    tier2: i64,
    tier3: i64,
    calls_grown: Grown,
    receipts_grown: Grown,
}

impl European {
    fn call(&mut self, c: Call) {
        self.paid_in += c.cents;
        self.calls_grown.add(c.on, c.cents, self.rate);
    }

    fn amount(&mut self, on: NaiveDate, cents: i64) -> Split {
        let mut split = Split::default();
        let mut rest = cents;
        // Tier 1: the LPs' capital (investments and fees) back.
        split.tier1_lp = rest.min((self.paid_in - self.lp_tier1).max(0));
        rest -= split.tier1_lp;
        self.lp_tier1 += split.tier1_lp;
        self.receipts_grown.add(on, split.tier1_lp, self.rate);
        // Tier 2: the preferred return, while the hurdle balance (this tier-1 part included) is positive.
        if self.rate > 0.0 && rest > 0 {
            self.calls_grown.grow_to(on, self.rate);
            let balance = (self.calls_grown.value - self.receipts_grown.value).round() as i64;
            split.tier2_lp = rest.min(balance.max(0));
            rest -= split.tier2_lp;
            self.tier2 += split.tier2_lp;
            self.receipts_grown.add(on, split.tier2_lp, self.rate);
        }
        // Tier 3: the catch-up, until the GP holds k of tiers 2 + 3.
        if rest > 0 && self.tier2 > 0 && self.catch_up > self.carry {
            let target = i64::try_from(div_half_up(
                i128::from(self.carry) * i128::from(self.tier2),
                i128::from(self.catch_up - self.carry),
            ))
            .unwrap_or(i64::MAX);
            let tier3 = rest.min((target - self.tier3).max(0));
            split.tier3_gp = share(tier3, self.catch_up);
            split.tier3_lp = tier3 - split.tier3_gp;
            self.tier3 += tier3;
            rest -= tier3;
        }
        // Tier 4: the split.
        split.tier4_gp = share(rest, self.carry);
        split.tier4_lp = rest - split.tier4_gp;
        split
    }

    /// H(t) on `on` (after every event of that date so far), rounded half-up to the cent.
    fn hurdle_balance(&mut self, on: NaiveDate) -> i64 {
        self.calls_grown.grow_to(on, self.rate);
        self.receipts_grown.grow_to(on, self.rate);
        (self.calls_grown.value - self.receipts_grown.value).round() as i64
    }
}

#[cfg(test)]
mod tests;
