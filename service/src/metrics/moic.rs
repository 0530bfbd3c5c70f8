use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::distribution::DistributionKind;
use entity::investment_lot::LotType;
use entity::portfolio_company::{CompanyStatus, Stage};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::xirr::{CashFlow, xirr};
use crate::money::{fixed_scale, round_half_up};

/// Ratios (MOIC, multiples, IRR) are reported with 6 decimal places.
pub const RATIO_SCALE: u32 = 6;

// ---------------------------------------------------------------------------------------------
// Inputs: the state of a fund, exactly what a snapshot captures.

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundState {
    pub id: i64,
    pub size_cents: i64,
    pub reserve_ratio_bps: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyState {
    pub id: i64,
    pub name: String,
    pub stage: Stage,
    pub status: CompanyStatus,
    pub current_share_price_cents: Option<i64>,
    pub exit_moic_bps: Option<i64>,
    pub exit_probability: Option<Decimal>,
    pub reserve_exit_moic_bps: Option<i64>,
    pub planned_reserves_cents: i64,
    pub allocation_cap_cents: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotState {
    pub id: Uuid,
    pub company_id: i64,
    pub investment_id: i64,
    pub lot_type: LotType,
    pub shares: Decimal,
    pub cost_basis_cents: i64,
    pub acquired_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionState {
    pub id: i64,
    pub company_id: i64,
    pub distributed_on: NaiveDate,
    pub amount_cents: i64,
    pub kind: DistributionKind,
    pub shares_sold: Option<Decimal>,
    pub created_at: DateTime<Utc>,
}

/// Everything the calculations read. Lists are kept in id order so that equal states serialize equally.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortfolioState {
    pub fund: FundState,
    pub companies: Vec<CompanyState>,
    pub lots: Vec<LotState>,
    pub distributions: Vec<DistributionState>,
}

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
pub struct LotMetrics {
    pub lot_id: Uuid,
    pub company_id: i64,
    pub investment_id: i64,
    pub lot_type: LotType,
    pub cost_basis_cents: i64,
    pub shares_acquired: Decimal,
    pub shares_held: Decimal,
    pub realized_cents: i64,
    pub unrealized_cents: i64,
    pub moic: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyMetrics {
    pub company_id: i64,
    pub name: String,
    pub status: CompanyStatus,
    pub valuation_basis: ValuationBasis,
    pub shares_held: Decimal,
    pub invested_cents: i64,
    pub realized_cents: i64,
    pub unrealized_cents: i64,
    pub total_value_cents: i64,
    pub planned_reserves_cents: i64,
    pub current_moic: Option<Decimal>,
    pub current_moic_initial: Option<Decimal>,
    pub current_moic_follow_on: Option<Decimal>,
    pub exit_moic: Option<Decimal>,
    pub expected_exit_moic: Option<Decimal>,
    pub exit_moic_on_planned_reserves: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundMetrics {
    pub invested_cents: i64,
    pub realized_cents: i64,
    pub unrealized_cents: i64,
    pub total_value_cents: i64,
    pub gross_moic: Option<Decimal>,
    pub realized_multiple: Option<Decimal>,
    pub unrealized_multiple: Option<Decimal>,
    pub gross_irr: Option<Decimal>,
    pub planned_reserves_cents: i64,
    pub projected_value_cents: i64,
    pub projected_moic: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortfolioMetrics {
    pub as_of: NaiveDate,
    pub fund: FundMetrics,
    pub companies: Vec<CompanyMetrics>,
    pub lots: Vec<LotMetrics>,
}

// ---------------------------------------------------------------------------------------------
// Arithmetic helpers

/// `numerator / denominator` rounded half-up to 6 places; `None` when the denominator is zero.
pub fn ratio(numerator: impl Into<Decimal>, denominator: impl Into<Decimal>) -> Option<Decimal> {
    let d = denominator.into();
    if d.is_zero() {
        return None;
    }
    numerator
        .into()
        .checked_div(d)
        .map(|r| fixed_scale(r, RATIO_SCALE))
}

/// A multiple in basis points as a decimal (40000 → 4).
pub fn bps(value: i64) -> Decimal {
    Decimal::new(value, 4)
}

/// Splits `total` cents over `weights` in proportion, exactly: floors first, then the leftover cents go
/// to the largest remainders (ties to the earlier weight). Σ result = total. All weights zero → even split.
pub fn allocate_cents(total: i64, weights: &[Decimal]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let sum: Decimal = weights.iter().copied().sum();
    let weights: Vec<Decimal> = if sum.is_zero() {
        vec![Decimal::ONE; weights.len()]
    } else {
        weights.to_vec()
    };
    let sum: Decimal = weights.iter().copied().sum();
    let total_d = Decimal::from(total);
    let mut shares: Vec<(usize, i64, Decimal)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let exact = total_d * *w / sum;
            let floor = exact.floor();
            (i, i64::try_from(floor).unwrap_or(0), exact - floor)
        })
        .collect();
    let assigned: i64 = shares.iter().map(|s| s.1).sum();
    let mut leftover = total - assigned;
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| shares[*b].2.cmp(&shares[*a].2).then(a.cmp(b)));
    for i in order {
        if leftover <= 0 {
            break;
        }
        shares[i].1 += 1;
        leftover -= 1;
    }
    shares.into_iter().map(|s| s.1).collect()
}

fn to_cents(value: Decimal) -> i64 {
    i64::try_from(round_half_up(value, 0)).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// The calculation

/// Lot, company and fund metrics as of `as_of`: only lots acquired and distributions made on or before
/// that date count.
pub fn compute(state: &PortfolioState, as_of: NaiveDate) -> PortfolioMetrics {
    let mut lots_by_company: HashMap<i64, Vec<&LotState>> = HashMap::new();
    for lot in state.lots.iter().filter(|l| l.acquired_on <= as_of) {
        lots_by_company.entry(lot.company_id).or_default().push(lot);
    }
    let mut dists_by_company: HashMap<i64, Vec<&DistributionState>> = HashMap::new();
    for d in state
        .distributions
        .iter()
        .filter(|d| d.distributed_on <= as_of)
    {
        dists_by_company.entry(d.company_id).or_default().push(d);
    }

    let mut companies = Vec::with_capacity(state.companies.len());
    let mut lots_out = Vec::with_capacity(state.lots.len());
    let mut companies_sorted: Vec<&CompanyState> = state.companies.iter().collect();
    companies_sorted.sort_by_key(|c| c.id);
    for company in companies_sorted {
        let mut lots = lots_by_company.remove(&company.id).unwrap_or_default();
        // FIFO order: acquired first, then created first, then id for a total order.
        lots.sort_by(|a, b| {
            a.acquired_on
                .cmp(&b.acquired_on)
                .then(a.created_at.cmp(&b.created_at))
                .then(a.id.cmp(&b.id))
        });
        let mut dists = dists_by_company.remove(&company.id).unwrap_or_default();
        dists.sort_by(|a, b| {
            a.distributed_on
                .cmp(&b.distributed_on)
                .then(a.created_at.cmp(&b.created_at))
                .then(a.id.cmp(&b.id))
        });
        let (company_metrics, lot_metrics) = company_metrics(company, &lots, &dists);
        companies.push(company_metrics);
        lots_out.extend(lot_metrics);
    }

    let fund = fund_metrics(state, &companies, as_of);
    PortfolioMetrics {
        as_of,
        fund,
        companies,
        lots: lots_out,
    }
}

fn company_metrics(
    company: &CompanyState,
    lots: &[&LotState],
    dists: &[&DistributionState],
) -> (CompanyMetrics, Vec<LotMetrics>) {
    let mut remaining: Vec<Decimal> = lots.iter().map(|l| l.shares).collect();
    let mut realized = vec![0i64; lots.len()];
    let cost_weights: Vec<Decimal> = lots
        .iter()
        .map(|l| Decimal::from(l.cost_basis_cents))
        .collect();
    // Proceeds that cannot be attributed to any lot (a company with distributions but no lots).
    let mut unattributed = 0i64;

    for d in dists {
        let mut spread_by_cost = d.amount_cents;
        if let Some(sold) = d.shares_sold.filter(|s| *s > Decimal::ZERO) {
            // Relieve lots first-in-first-out; proceeds follow the shares, pro rata within the sale.
            let mut left = sold;
            let mut taken = vec![Decimal::ZERO; lots.len()];
            for (i, held) in remaining.iter_mut().enumerate() {
                if left.is_zero() {
                    break;
                }
                let t = (*held).min(left);
                *held -= t;
                left -= t;
                taken[i] = t;
            }
            let relieved = sold - left;
            // Proceeds of shares sold beyond those held (oversold data) are spread like a dividend.
            let for_relieved = to_cents(Decimal::from(d.amount_cents) * relieved / sold);
            for (i, cents) in allocate_cents(for_relieved, &taken).into_iter().enumerate() {
                if !taken[i].is_zero() || relieved.is_zero() {
                    realized[i] += cents;
                }
            }
            if relieved.is_zero() {
                unattributed += for_relieved;
            }
            spread_by_cost = d.amount_cents - for_relieved;
        }
        if spread_by_cost != 0 {
            if lots.is_empty() {
                unattributed += spread_by_cost;
            } else {
                for (i, cents) in allocate_cents(spread_by_cost, &cost_weights)
                    .into_iter()
                    .enumerate()
                {
                    realized[i] += cents;
                }
            }
        }
    }

    let basis = if company.current_share_price_cents.is_some() {
        ValuationBasis::Mark
    } else {
        ValuationBasis::Cost
    };
    let mut lot_metrics = Vec::with_capacity(lots.len());
    for (i, lot) in lots.iter().enumerate() {
        let held = remaining[i];
        let unrealized = match company.current_share_price_cents {
            Some(price) => to_cents(held * Decimal::from(price)),
            None if lot.shares.is_zero() => 0,
            None => to_cents(Decimal::from(lot.cost_basis_cents) * held / lot.shares),
        };
        lot_metrics.push(LotMetrics {
            lot_id: lot.id,
            company_id: company.id,
            investment_id: lot.investment_id,
            lot_type: lot.lot_type,
            cost_basis_cents: lot.cost_basis_cents,
            shares_acquired: lot.shares,
            shares_held: held,
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
        shares_held: remaining.iter().copied().sum(),
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

    // Forecast: realized so far, plus each company's invested capital at its expected exit multiple (or,
    // without exit assumptions, its current unrealized value), plus planned reserves at their expected
    // multiple.
    let by_id: HashMap<i64, &CompanyState> = state.companies.iter().map(|c| (c.id, c)).collect();
    let mut projected = Decimal::from(realized);
    for m in companies {
        let Some(c) = by_id.get(&m.company_id) else {
            continue;
        };
        projected += match (c.exit_moic_bps, c.exit_probability) {
            (Some(moic), Some(p)) => Decimal::from(m.invested_cents) * bps(moic) * p,
            _ => Decimal::from(m.unrealized_cents),
        };
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

/// Orders companies for ranking: a descending optional score (missing last), then a descending
/// secondary amount, then ascending id.
pub fn rank_order(a: (Option<Decimal>, i64, i64), b: (Option<Decimal>, i64, i64)) -> Ordering {
    let by_score = match (a.0, b.0) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_score.then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2))
}

#[cfg(test)]
mod tests;
