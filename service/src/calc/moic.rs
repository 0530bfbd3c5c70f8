use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use entity::distribution::DistributionKind;
use entity::investment_lot::LotType;
use entity::portfolio_company::CompanyStatus;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::money::{
    SHARE_UNIT, cents, div_half_up, fixed_scale, share_units, shares_decimal, to_cents,
};
pub use super::money::{allocate_cents, bps, ratio};
use super::state::{CompanyState, DistributionState, LotState, PortfolioState};
use super::xirr::{CashFlow, xirr};

/// Ratios (MOIC, multiples, IRR) are reported with 6 decimal places.
pub const RATIO_SCALE: u32 = 6;

// ---------------------------------------------------------------------------------------------
// Outputs

/// How a holding's unrealized value was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValuationBasis {
    /// Shares held × the company's current share price.
    Mark,
    /// No mark: the remaining shares are held at their cost.
    Cost,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in alphabetical order, so that `serde_json` writes the canonical form (`snapshots::calculate`).
pub struct LotMetrics {
    pub acquired_on: NaiveDate,
    pub company_id: i64,
    /// The company's name, the investment's round and the purchase date: what a lot row is about.
    pub company_name: String,
    pub cost_basis_cents: i64,
    pub investment_id: i64,
    pub lot_id: Uuid,
    pub lot_type: LotType,
    pub moic: Option<Decimal>,
    pub realized_cents: i64,
    pub round_name: String,
    pub shares_acquired: Decimal,
    pub shares_held: Decimal,
    pub unrealized_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in alphabetical order, so that `serde_json` writes the canonical form (`snapshots::calculate`).
pub struct CompanyMetrics {
    pub company_id: i64,
    pub current_moic: Option<Decimal>,
    pub current_moic_follow_on: Option<Decimal>,
    pub current_moic_initial: Option<Decimal>,
    pub exit_moic: Option<Decimal>,
    pub exit_moic_on_planned_reserves: Option<Decimal>,
    pub expected_exit_moic: Option<Decimal>,
    pub invested_cents: i64,
    pub name: String,
    pub planned_reserves_cents: i64,
    pub realized_cents: i64,
    pub shares_held: Decimal,
    pub status: CompanyStatus,
    pub total_value_cents: i64,
    pub unrealized_cents: i64,
    pub valuation_basis: ValuationBasis,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in alphabetical order, so that `serde_json` writes the canonical form (`snapshots::calculate`).
pub struct FundMetrics {
    pub gross_irr: Option<Decimal>,
    pub gross_moic: Option<Decimal>,
    pub invested_cents: i64,
    pub planned_reserves_cents: i64,
    pub projected_moic: Option<Decimal>,
    pub projected_value_cents: i64,
    pub realized_cents: i64,
    pub realized_multiple: Option<Decimal>,
    pub total_value_cents: i64,
    pub unrealized_cents: i64,
    pub unrealized_multiple: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in alphabetical order, so that `serde_json` writes the canonical form (`snapshots::calculate`).
pub struct PortfolioMetrics {
    pub as_of: NaiveDate,
    pub companies: Vec<CompanyMetrics>,
    pub fund: FundMetrics,
    pub lots: Vec<LotMetrics>,
}

// ---------------------------------------------------------------------------------------------
// The calculation

/// Lot, company and fund metrics as of `as_of`: only lots acquired and distributions made on or before
/// that date count.
pub fn compute(state: &PortfolioState, as_of: NaiveDate) -> PortfolioMetrics {
    compute_with(state, as_of, true)
}

/// [`compute`], on one thread unless `parallel` (the same result either way).
fn compute_with(state: &PortfolioState, as_of: NaiveDate, parallel: bool) -> PortfolioMetrics {
    // Lots and distributions ordered by company, then first-in-first-out (acquired or distributed first,
    // then created first, then id for a total order): one sort each, then walked alongside the companies
    // in id order.
    // Sorted by keys computed once and held next to the references: comparing them does not chase
    // pointers into ten thousand lots.
    let mut keyed: Vec<(FifoKey, &LotState)> = state
        .lots
        .iter()
        .filter(|l| l.acquired_on <= as_of)
        .map(|l| (fifo_order(l), l))
        .collect();
    keyed.sort_unstable_by_key(|(key, _)| *key);
    let lots: Vec<&LotState> = keyed.into_iter().map(|(_, l)| l).collect();
    let mut dists: Vec<&DistributionState> = state
        .distributions
        .iter()
        .filter(|d| d.distributed_on <= as_of)
        .collect();
    // (date, id): the order in which SPEC §6.1a bounds sales by the shares held (`calc::holdings`).
    dists.sort_unstable_by_key(|d| (d.company_id, d.distributed_on, d.id));

    let mut companies_sorted: Vec<&CompanyState> = state.companies.iter().collect();
    companies_sorted.sort_by_key(|c| c.id);
    // Companies are independent: a large fund is split in two halves, the second computed on another
    // core (the two halves of a 10,000-lot fund take a few milliseconds each).
    let (companies, lots_out) = if parallel && lots.len() >= PARALLEL_THRESHOLD_LOTS {
        let (first, second) = companies_sorted.split_at(companies_sorted.len() / 2);
        let boundary = second.first().map_or(i64::MAX, |c| c.id);
        let lots_split = lots.partition_point(|l| l.company_id < boundary);
        let dists_split = dists.partition_point(|d| d.company_id < boundary);
        let (lots, dists) = (&lots[..], &dists[..]);
        std::thread::scope(|scope| {
            let later = scope.spawn(|| {
                walk_companies(second, &lots[lots_split..], &dists[dists_split..], as_of)
            });
            let mut earlier =
                walk_companies(first, &lots[..lots_split], &dists[..dists_split], as_of);
            // A panic in the other half is a bug in the calculation, propagated as such.
            let (companies, lots) = later
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            earlier.0.extend(companies);
            earlier.1.extend(lots);
            earlier
        })
    } else {
        walk_companies(&companies_sorted, &lots, &dists, as_of)
    };

    let fund = fund_metrics(state, &companies, &lots_out, as_of);
    PortfolioMetrics {
        as_of,
        fund,
        companies,
        lots: lots_out,
    }
}

/// From this many lots on, [`compute`] uses two threads (and the API writes the MOIC response on two):
/// the one switch between the sequential and the parallel path. Callers run [`compute`] off the async
/// workers (`spawn_blocking`), so that neither path stalls other requests.
pub const PARALLEL_THRESHOLD_LOTS: usize = 2_000;

/// The metrics of `companies` (in id order) and of their lots, from the lots and distributions (sorted
/// by company, then first-in-first-out) of those companies and possibly of others.
fn walk_companies(
    companies: &[&CompanyState],
    mut lots: &[&LotState],
    mut dists: &[&DistributionState],
    as_of: NaiveDate,
) -> (Vec<CompanyMetrics>, Vec<LotMetrics>) {
    let mut companies_out = Vec::with_capacity(companies.len());
    let mut lots_out = Vec::with_capacity(lots.len());
    for company in companies {
        let company_lots;
        (company_lots, lots) = take_company(lots, company.id, |l| l.company_id);
        let company_dists;
        (company_dists, dists) = take_company(dists, company.id, |d| d.company_id);
        let (company_metrics, lot_metrics) =
            company_metrics(company, company_lots, company_dists, as_of);
        companies_out.push(company_metrics);
        lots_out.extend(lot_metrics);
    }
    (companies_out, lots_out)
}

/// The order lots are walked in: by company, then first-in-first-out (acquired first, then created
/// first, then id for a total order).
pub fn fifo_order(lot: &LotState) -> FifoKey {
    (
        lot.company_id,
        lot.acquired_on.num_days_from_ce(),
        lot.created_at.timestamp(),
        lot.created_at.timestamp_subsec_nanos(),
        lot.id.as_u128(),
    )
}

/// Company, acquisition day, creation second and nanosecond, id: orders like the values themselves.
pub type FifoKey = (i64, i32, i64, u32, u128);

/// Splits `rows` (sorted by company) into those of `company_id` and those after them, dropping rows of
/// companies before it (rows of a company missing from the state: none in a consistent state).
fn take_company<'s, 'r, T>(
    rows: &'s [&'r T],
    company_id: i64,
    company_of: impl Fn(&T) -> i64,
) -> (&'s [&'r T], &'s [&'r T]) {
    let start = rows.partition_point(|r| company_of(r) < company_id);
    let rows = &rows[start..];
    let end = rows.partition_point(|r| company_of(r) == company_id);
    rows.split_at(end)
}

/// `held` shares (10⁻⁸ units) at `price` cents per share, rounded half-up to a cent, exactly.
fn value_at(held: i128, price: Decimal) -> i64 {
    // The price as an integer over 10^scale (whole cents: over 1), in 128 bits while it fits.
    let scale = 10i128.pow(price.scale());
    match held.checked_mul(price.mantissa()) {
        Some(n) => cents(div_half_up(n, SHARE_UNIT * scale)),
        None => to_cents(shares_decimal(held) * price),
    }
}

fn company_metrics(
    company: &CompanyState,
    lots: &[&LotState],
    dists: &[&DistributionState],
    as_of: NaiveDate,
) -> (CompanyMetrics, Vec<LotMetrics>) {
    let acquired: Vec<i128> = lots.iter().map(|l| share_units(l.shares)).collect();
    let mut remaining = acquired.clone();
    let mut realized = vec![0i64; lots.len()];
    let cost_weights: Vec<i128> = lots
        .iter()
        .map(|l| i128::from(l.cost_basis_cents))
        .collect();
    // Proceeds that cannot be attributed to any lot (a company with distributions but no lots).
    let mut unattributed = 0i64;

    for d in dists {
        let mut spread_by_cost = d.amount_cents;
        // An exit sells every share held on its date (SPEC §6.1a), whatever it recorded when written.
        let sold = if d.kind == DistributionKind::Exit {
            remaining.iter().sum()
        } else {
            d.shares_sold.map_or(0, share_units)
        };
        if sold > 0 {
            // Relieve lots first-in-first-out; proceeds follow the shares, pro rata within the sale.
            let mut left = sold;
            let mut taken = vec![0i128; lots.len()];
            for (i, held) in remaining.iter_mut().enumerate() {
                if left == 0 {
                    break;
                }
                let t = (*held).min(left);
                *held -= t;
                left -= t;
                taken[i] = t;
            }
            let relieved = sold - left;
            // Proceeds of shares sold beyond those held (oversold data) are spread like a dividend.
            let for_relieved = cents(div_half_up(i128::from(d.amount_cents) * relieved, sold));
            if relieved == 0 {
                unattributed += for_relieved;
            } else {
                for (i, c) in allocate_cents(for_relieved, &taken).into_iter().enumerate() {
                    realized[i] += c;
                }
            }
            spread_by_cost = d.amount_cents - for_relieved;
        }
        if spread_by_cost != 0 {
            if lots.is_empty() {
                unattributed += spread_by_cost;
            } else {
                for (i, c) in allocate_cents(spread_by_cost, &cost_weights)
                    .into_iter()
                    .enumerate()
                {
                    realized[i] += c;
                }
            }
        }
    }

    let price = company.price_on(as_of);
    let basis = if price.is_some() {
        ValuationBasis::Mark
    } else {
        ValuationBasis::Cost
    };
    let mut lot_metrics = Vec::with_capacity(lots.len());
    for (i, lot) in lots.iter().enumerate() {
        let held = remaining[i];
        let unrealized = match price {
            Some(price) => value_at(held, price),
            None if acquired[i] == 0 => 0,
            None => cents(div_half_up(
                i128::from(lot.cost_basis_cents) * held,
                acquired[i],
            )),
        };
        lot_metrics.push(LotMetrics {
            lot_id: lot.id,
            company_id: company.id,
            company_name: company.name.clone(),
            investment_id: lot.investment_id,
            round_name: lot.round_name.clone(),
            lot_type: lot.lot_type,
            acquired_on: lot.acquired_on,
            cost_basis_cents: lot.cost_basis_cents,
            shares_acquired: shares_decimal(acquired[i]),
            shares_held: shares_decimal(held),
            realized_cents: realized[i],
            unrealized_cents: unrealized,
            moic: ratio(realized[i] + unrealized, lot.cost_basis_cents),
        });
    }

    let sum = |filter: &dyn Fn(&LotMetrics) -> bool| -> (i64, i64, i64) {
        lot_metrics
            .iter()
            .filter(|l| filter(l))
            .fold((0, 0, 0), |(c, r, u), l| {
                (
                    c + l.cost_basis_cents,
                    r + l.realized_cents,
                    u + l.unrealized_cents,
                )
            })
    };
    let (invested, lot_realized, unrealized) = sum(&|_| true);
    let realized_total = lot_realized + unattributed;
    let (ic, ir, iu) = sum(&|l| l.lot_type == LotType::Initial);
    let (fc, fr, fu) = sum(&|l| l.lot_type == LotType::FollowOn);
    let has_initial = lot_metrics.iter().any(|l| l.lot_type == LotType::Initial);
    let has_follow_on = lot_metrics.iter().any(|l| l.lot_type == LotType::FollowOn);

    let exit_moic = company.exit_moic_bps.map(bps);
    let expected_exit_moic = match (exit_moic, company.exit_probability) {
        (Some(m), Some(p)) => Some(fixed_scale(m * p, RATIO_SCALE)),
        _ => None,
    };
    let exit_moic_on_planned_reserves =
        match (company.reserve_exit_moic_bps, company.exit_probability) {
            (Some(m), Some(p)) if company.planned_reserves_cents > 0 => {
                Some(fixed_scale(bps(m) * p, RATIO_SCALE))
            }
            _ => None,
        };

    let metrics = CompanyMetrics {
        company_id: company.id,
        name: company.name.clone(),
        status: company.status,
        valuation_basis: basis,
        shares_held: shares_decimal(remaining.iter().sum()),
        invested_cents: invested,
        realized_cents: realized_total,
        unrealized_cents: unrealized,
        total_value_cents: realized_total + unrealized,
        planned_reserves_cents: company.planned_reserves_cents,
        current_moic: ratio(realized_total + unrealized, invested),
        current_moic_initial: if has_initial {
            ratio(ir + iu, ic)
        } else {
            None
        },
        current_moic_follow_on: if has_follow_on {
            ratio(fr + fu, fc)
        } else {
            None
        },
        exit_moic: exit_moic.map(|m| fixed_scale(m, RATIO_SCALE)),
        expected_exit_moic,
        exit_moic_on_planned_reserves,
    };
    (metrics, lot_metrics)
}

fn fund_metrics(
    state: &PortfolioState,
    companies: &[CompanyMetrics],
    lots: &[LotMetrics],
    as_of: NaiveDate,
) -> FundMetrics {
    let invested: i64 = companies.iter().map(|c| c.invested_cents).sum();
    let realized: i64 = companies.iter().map(|c| c.realized_cents).sum();
    let unrealized: i64 = companies.iter().map(|c| c.unrealized_cents).sum();
    let total = realized + unrealized;
    let planned: i64 = state
        .companies
        .iter()
        .map(|c| c.planned_reserves_cents)
        .sum();

    let mut flows: Vec<CashFlow> = state
        .lots
        .iter()
        .filter(|l| l.acquired_on <= as_of)
        .map(|l| CashFlow {
            date: l.acquired_on,
            amount_cents: -l.cost_basis_cents,
        })
        .collect();
    flows.extend(
        state
            .distributions
            .iter()
            .filter(|d| d.distributed_on <= as_of)
            .map(|d| CashFlow {
                date: d.distributed_on,
                amount_cents: d.amount_cents,
            }),
    );
    if unrealized != 0 {
        flows.push(CashFlow {
            date: as_of,
            amount_cents: unrealized,
        });
    }

    // Forecast (SPEC §6.4): realized so far, plus each *active* company's remaining cost (the cost of
    // the shares it still holds) at its expected exit multiple — or, without exit assumptions, its
    // unrealized value — plus planned reserves at their expected multiple. An exited or written-off
    // company's outcome is already in `realized`: counting its cost again would count the exit twice.
    let by_id: HashMap<i64, &CompanyState> = state.companies.iter().map(|c| (c.id, c)).collect();
    let mut remaining_cost: HashMap<i64, i128> = HashMap::new();
    for l in lots {
        let (held, acquired) = (share_units(l.shares_held), share_units(l.shares_acquired));
        if acquired > 0 {
            *remaining_cost.entry(l.company_id).or_default() +=
                div_half_up(i128::from(l.cost_basis_cents) * held, acquired);
        }
    }
    let mut projected = Decimal::from(realized);
    for m in companies {
        let Some(c) = by_id.get(&m.company_id) else {
            continue;
        };
        if c.status == CompanyStatus::Active {
            let remaining = remaining_cost.get(&c.id).copied().unwrap_or(0);
            projected += match (c.exit_moic_bps, c.exit_probability) {
                (Some(moic), Some(p)) => Decimal::from(cents(remaining)) * bps(moic) * p,
                _ => Decimal::from(m.unrealized_cents),
            };
        }
        if let (Some(moic), Some(p)) = (c.reserve_exit_moic_bps, c.exit_probability) {
            projected += Decimal::from(c.planned_reserves_cents) * bps(moic) * p;
        }
    }
    let projected = to_cents(projected);

    FundMetrics {
        invested_cents: invested,
        realized_cents: realized,
        unrealized_cents: unrealized,
        total_value_cents: total,
        gross_moic: ratio(total, invested),
        realized_multiple: ratio(realized, invested),
        unrealized_multiple: ratio(unrealized, invested),
        gross_irr: xirr(&flows),
        planned_reserves_cents: planned,
        projected_value_cents: projected,
        projected_moic: ratio(projected, invested + planned),
    }
}

#[cfg(test)]
mod tests;
