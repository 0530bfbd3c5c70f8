//! Fund forecasts (SPEC §6.7): every scenario of a matrix run through the fund's own history, fees and
//! waterfall. Pure: a fund's state and terms, the plan (which bucket each active company is in, when
//! each bucket exits, what is called on `as_of`) and the matrix's values in; one outcome per scenario
//! out, and the statistics of `results` from them (`stats`).
//!
//! What does not depend on the scenario is computed once ([`Prepared`]): the history's cash flows, each
//! bucket's capital, the call on `as_of`, and the whole fee schedule — exit dates and the capital each
//! exit relieves are the same in every scenario, so net invested capital, and with it every fee, is too.
//! Only the exit amounts differ, and with them the waterfall.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use entity::portfolio_company::CompanyStatus;
use rust_decimal::Decimal;

use super::fees::{CostChange, FeeCall, fee_schedule};
use super::money::{div_half_up, ratio};
use super::returns::cash_flows;
use super::state::PortfolioState;
use super::terms::FundTerms;
use super::waterfall::{Call, CallKind, Proceeds, Running, WriteOff};
use super::xirr::{CashFlow, xirr};

mod stats;

pub use stats::{
    CentsSummary, ForecastResults, Histogram, JCurvePoint, Probabilities, RatioSummary, results,
};

/// What a forecast is asked, resolved against the fund and the matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForecastPlan {
    pub as_of: NaiveDate,
    /// The matrix's buckets, in column order.
    pub buckets: Vec<String>,
    /// The column of each active company, by company id.
    pub bucket_of_company: HashMap<i64, usize>,
    /// The day each bucket exits, in column order (`as_of` + whole days).
    pub exit_on: Vec<NaiveDate>,
    pub include_planned_reserves: bool,
    /// Cents deployed into each bucket, in column order (already rounded half-up from the weights).
    pub deployed_cents: Vec<i64>,
}

/// A matrix's values: `scenarios` rows of `buckets` `f32` values, row-major, as stored.
#[derive(Clone, Copy, Debug)]
pub struct Values<'a> {
    pub scenarios: usize,
    pub buckets: usize,
    pub cells: &'a [f32],
}

impl Values<'_> {
    fn row(&self, s: usize) -> &[f32] {
        &self.cells[s * self.buckets..(s + 1) * self.buckets]
    }
}

/// One scenario's figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// (LP distributions + clawback) ÷ paid-in: everything is distributed, so this is the final DPI.
    pub net_tvpi: Option<Decimal>,
    pub net_irr: Option<Decimal>,
    /// Σ distributions (history and exits) ÷ (every lot's cost + the capital called on `as_of`).
    pub gross_tvpi: Option<Decimal>,
    /// The GP's total after any clawback.
    pub gp_carry_cents: i64,
    /// At each year end of [`Prepared::year_ends`]: the LPs' cumulative distributions − calls, cents.
    pub net_cash_cents: Vec<i64>,
}

/// Everything that is the same in every scenario.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The waterfall run through every event dated before `as_of`: each scenario goes on from a copy.
    before: Running,
    /// What the LPs received of those distributions.
    before_lp_cents: i64,
    /// The LPs' flows before `as_of` (calls negative, their distributions positive), one per date.
    before_flows: Vec<CashFlow>,
    /// The events from `as_of` on that every scenario shares: calls (the call on `as_of` and the later
    /// fees among them), distributions dated `as_of`, write-offs.
    calls: Vec<Call>,
    history: Vec<Proceeds>,
    write_offs: Vec<WriteOff>,
    paid_in_cents: i64,
    /// Per column: the capital the bucket exits with, and the synthetic distribution id of its exit.
    capital: Vec<i64>,
    exit_ids: Vec<i64>,
    exit_on: Vec<NaiveDate>,
    /// The last event: the later of the fees' end and the last exit.
    horizon: NaiveDate,
    gross_cost: i64,
    history_distributed: i64,
    pub year_ends: Vec<NaiveDate>,
    pub fees: Vec<FeeCall>,
    pub size_cents: i64,
}

/// `cents` × `value`, the exact product of the integer and the `f32` (its mantissa times a power of two),
/// rounded half-up to the cent; negative values count as 0.
pub fn exact_times(cents: i64, value: f32) -> i64 {
    if value.is_nan() || value <= 0.0 || cents <= 0 {
        return 0;
    }
    let bits = value.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32;
    let fraction = i128::from(bits & 0x7f_ffff);
    // value = mantissa × 2^power.
    let (mantissa, power) = if exponent == 0 {
        (fraction, -149)
    } else {
        (fraction | 0x80_0000, exponent - 150)
    };
    let product = i128::from(cents) * mantissa;
    let exact = if power >= 0 {
        product.checked_shl(power as u32).unwrap_or(i128::MAX)
    } else if power < -100 {
        // cents × mantissa < 2^77: far below half of 2^100.
        0
    } else {
        div_half_up(product, 1i128 << (-power))
    };
    i64::try_from(exact).unwrap_or(i64::MAX)
}

/// Prepares the scenario-independent part of a forecast (SPEC §6.7).
pub fn prepare(state: &PortfolioState, terms: &FundTerms, plan: &ForecastPlan) -> Prepared {
    let as_of = plan.as_of;
    let flows = cash_flows(state, terms.first_close_on, as_of);
    let columns = plan.buckets.len();
    // The remaining cost of each company: its lots' cost less what its distributions relieved.
    let mut remaining: HashMap<i64, i64> = HashMap::new();
    for l in state.lots.iter().filter(|l| l.acquired_on <= as_of) {
        *remaining.entry(l.company_id).or_default() += l.cost_basis_cents;
    }
    let company_of: HashMap<i64, i64> = state
        .distributions
        .iter()
        .map(|d| (d.id, d.company_id))
        .collect();
    for p in &flows.proceeds {
        if let Some(c) = company_of.get(&p.id) {
            *remaining.entry(*c).or_default() -= p.relieved_cost_cents;
        }
    }
    let mut capital = plan.deployed_cents.clone();
    capital.resize(columns, 0);
    let mut called: i64 = capital.iter().sum();
    for company in state
        .companies
        .iter()
        .filter(|c| c.status == CompanyStatus::Active)
    {
        let Some(&b) = plan.bucket_of_company.get(&company.id) else {
            continue;
        };
        capital[b] += remaining.get(&company.id).copied().unwrap_or(0).max(0);
        if plan.include_planned_reserves {
            capital[b] += company.planned_reserves_cents;
            called += company.planned_reserves_cents;
        }
    }
    // Same-day exits go in bucket-name order: their ids follow the history's, by name.
    let mut by_name: Vec<usize> = (0..columns).collect();
    by_name.sort_by(|a, b| plan.buckets[*a].as_bytes().cmp(plan.buckets[*b].as_bytes()));
    let first_id = state.distributions.iter().map(|d| d.id).max().unwrap_or(0) + 1;
    let mut exit_ids = vec![0; columns];
    for (rank, b) in by_name.into_iter().enumerate() {
        exit_ids[b] = first_id + rank as i64;
    }
    let mut cost_changes = flows.cost_changes.clone();
    if called != 0 {
        cost_changes.push(CostChange {
            on: as_of,
            cents: called,
        });
    }
    for (b, cents) in capital.iter().enumerate() {
        if *cents > 0 {
            cost_changes.push(CostChange {
                on: plan.exit_on[b],
                cents: -cents,
            });
        }
    }
    let last_exit = (0..columns)
        .filter(|b| capital[*b] > 0)
        .map(|b| plan.exit_on[b])
        .max()
        .unwrap_or(as_of);
    let horizon = terms.fees_end().max(last_exit).max(as_of);
    let fees = fee_schedule(terms, &cost_changes, horizon);
    // Investment calls of one date are one call: the waterfall only sees their sum.
    let mut calls: Vec<Call> = Vec::new();
    let mut investments = flows.investments.clone();
    investments.sort_by_key(|c| c.on);
    for c in investments {
        match calls.last_mut() {
            Some(last) if last.on == c.on => last.cents += c.cents,
            _ => calls.push(c),
        }
    }
    let invested: i64 = calls.iter().map(|c| c.cents).sum();
    if called != 0 {
        calls.push(Call {
            on: as_of,
            cents: called,
            kind: CallKind::Investment,
        });
    }
    calls.extend(fees.iter().filter(|f| f.amount_cents != 0).map(|f| Call {
        on: f.on,
        cents: f.amount_cents,
        kind: CallKind::ManagementFee,
    }));
    calls.sort_by_key(|c| c.on);
    let end_year = horizon.year();
    let year_ends = (terms.first_close_on.year()..=end_year)
        .filter_map(|y| NaiveDate::from_ymd_opt(y, 12, 31))
        .collect();
    let paid_in_cents = calls.iter().map(|c| c.cents).sum();
    let history_distributed = flows.proceeds.iter().map(|p| p.cents).sum();
    // The events before `as_of` are divided once; each scenario goes on from there.
    let mut history = flows.proceeds;
    history.sort_by_key(|p| (p.on, p.id));
    let mut write_offs = flows.write_offs;
    write_offs.sort_by_key(|w| w.on);
    let split = |on: NaiveDate| on < as_of;
    let calls_before = calls.partition_point(|c| split(c.on));
    let history_before = history.partition_point(|p| split(p.on));
    let write_offs_before = write_offs.partition_point(|w| split(w.on));
    let mut before = Running::new(terms);
    before.feed(
        &calls[..calls_before],
        &history[..history_before],
        &write_offs[..write_offs_before],
    );
    let mut before_flows: Vec<CashFlow> = Vec::new();
    let mut net = |date: NaiveDate, cents: i64| match before_flows.last_mut() {
        Some(last) if last.date == date => last.amount_cents += cents,
        _ => before_flows.push(CashFlow {
            date,
            amount_cents: cents,
        }),
    };
    let mut dated: Vec<(NaiveDate, i64)> = calls[..calls_before]
        .iter()
        .map(|c| (c.on, -c.cents))
        .chain(before.distributions.iter().map(|d| (d.on, d.split.lp())))
        .collect();
    dated.sort_by_key(|(on, _)| *on);
    for (on, cents) in dated {
        net(on, cents);
    }
    let before_lp_cents = before.distributions.iter().map(|d| d.split.lp()).sum();
    before.distributions = Vec::new();
    Prepared {
        before,
        before_lp_cents,
        before_flows,
        paid_in_cents,
        calls: calls.split_off(calls_before),
        history_distributed,
        history: history.split_off(history_before),
        write_offs: write_offs.split_off(write_offs_before),
        capital,
        exit_ids,
        exit_on: plan.exit_on.clone(),
        horizon,
        gross_cost: invested + called,
        year_ends,
        fees,
        size_cents: terms.committed.get(),
    }
}

impl Prepared {
    /// One scenario's figures, from its row of the matrix.
    pub fn scenario(&self, row: &[f32]) -> Outcome {
        let mut proceeds = self.history.clone();
        let mut exits = 0i64;
        for (b, cents) in self.capital.iter().enumerate() {
            if *cents <= 0 {
                continue;
            }
            let amount = exact_times(*cents, row.get(b).copied().unwrap_or(0.0));
            exits += amount;
            if amount > 0 {
                proceeds.push(Proceeds {
                    id: self.exit_ids[b],
                    on: self.exit_on[b],
                    cents: amount,
                    relieved_cost_cents: *cents,
                });
            }
        }
        proceeds.sort_by_key(|p| (p.on, p.id));
        let mut run = self.before.fork();
        run.feed(&self.calls, &proceeds, &self.write_offs);
        let gp = run.gp_cents;
        let w = run.finish(0, self.horizon);
        let lp: i64 = w.distributions.iter().map(|d| d.split.lp()).sum();
        let lp_total = self.before_lp_cents + lp + w.clawback_cents;
        // The LPs' flows: those before `as_of`, shared, then this scenario's, in date order.
        let mut after: Vec<CashFlow> = self
            .calls
            .iter()
            .map(|c| CashFlow {
                date: c.on,
                amount_cents: -c.cents,
            })
            .chain(w.distributions.iter().map(|d| CashFlow {
                date: d.on,
                amount_cents: d.split.lp(),
            }))
            .collect();
        if w.clawback_cents != 0 {
            after.push(CashFlow {
                date: self.horizon,
                amount_cents: w.clawback_cents,
            });
        }
        after.sort_by_key(|f| f.date);
        let mut flows = Vec::with_capacity(self.before_flows.len() + after.len());
        flows.extend_from_slice(&self.before_flows);
        flows.extend(after);
        let mut net_cash_cents = Vec::with_capacity(self.year_ends.len());
        let (mut i, mut running) = (0, 0i64);
        for end in &self.year_ends {
            while i < flows.len() && flows[i].date <= *end {
                running += flows[i].amount_cents;
                i += 1;
            }
            net_cash_cents.push(running);
        }
        Outcome {
            net_tvpi: ratio(lp_total, self.paid_in_cents),
            net_irr: xirr(&flows),
            gross_tvpi: ratio(self.history_distributed + exits, self.gross_cost),
            gp_carry_cents: gp - w.clawback_cents,
            net_cash_cents,
        }
    }

    /// Every scenario's figures, in scenario order, computed on `threads` threads: the same result for
    /// any thread count (each scenario is independent, and the order is the matrix's).
    pub fn run(&self, values: Values<'_>, threads: usize) -> Vec<Outcome> {
        let threads = threads.max(1).min(values.scenarios.max(1));
        let chunk = values.scenarios.div_ceil(threads).max(1);
        let mut out: Vec<Vec<Outcome>> = Vec::with_capacity(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..values.scenarios)
                .step_by(chunk)
                .map(|start| {
                    let end = (start + chunk).min(values.scenarios);
                    scope.spawn(move || {
                        (start..end)
                            .map(|s| self.scenario(values.row(s)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                // A panic in a chunk is a bug: carried on, never a result with scenarios missing.
                match h.join() {
                    Ok(chunk) => out.push(chunk),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
        out.into_iter().flatten().collect()
    }
}

/// The plan's exit day for a bucket: `as_of` + `years` of 365.25 days, rounded down to a whole day.
pub fn exit_day(as_of: NaiveDate, years: Decimal) -> NaiveDate {
    let days = (years * Decimal::new(36525, 2)).floor();
    let days = u64::try_from(days.mantissa() / 10i128.pow(days.scale())).unwrap_or(0);
    // Inputs are validated far inside chrono's range; the last representable day is never passed.
    as_of
        .checked_add_days(chrono::Days::new(days))
        .unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests;
