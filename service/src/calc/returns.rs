//! Net returns to the LPs (SPEC §6.6, "Reported"): a fund's state and terms in, paid-in capital, DPI,
//! RVPI, TVPI, net IRR and the bridge from gross to net out. Pure: it builds the dated calls (lots and
//! fees), the cost each distribution relieves (§6.6's one rule) and the write-offs, then runs the fee
//! schedule and the waterfall.

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::company_mark::MarkSource;
use entity::distribution::DistributionKind;
use entity::portfolio_company::CompanyStatus;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::fees::{CostChange, FeeCall, fee_schedule};
use super::moic::{FundMetrics, compute, fifo_order, ratio};
use super::money::{div_half_up, share_units};
use super::state::{CompanyState, LotState, PortfolioState};
use super::terms::FundTerms;
use super::waterfall::{Call, CallKind, Proceeds, Waterfall, WriteOff, divide};
use super::xirr::{CashFlow, xirr};

/// The figures of `GET /funds/{id}/returns` (SPEC §6.6). Cents exact; ratios 6 places, `null` while
/// paid-in is 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in alphabetical order, so that `serde_json` writes the canonical form (`snapshots::calculate`).
pub struct NetReturns {
    pub accrued_carry_cents: i64,
    pub as_of: NaiveDate,
    pub carry_cents: i64,
    pub clawback_cents: i64,
    pub committed_cents: i64,
    pub dpi: Option<Decimal>,
    pub fees_cents: i64,
    pub gp_carry_paid_cents: i64,
    /// Gross profit (total value − invested) − fees − carry (paid + accrued − clawback) = net profit.
    pub gross_profit_cents: i64,
    pub invested_cents: i64,
    pub lp_distributed_cents: i64,
    pub lp_nav_cents: i64,
    pub net_irr: Option<Decimal>,
    pub net_profit_cents: i64,
    pub paid_in_cents: i64,
    pub pic: Option<Decimal>,
    pub rvpi: Option<Decimal>,
    pub tvpi: Option<Decimal>,
}

/// The inputs of the waterfall built from a fund's state: every call, the proceeds with the cost they
/// relieve, the write-offs, and the changes of net invested capital.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CashFlows {
    pub investments: Vec<Call>,
    pub proceeds: Vec<Proceeds>,
    pub write_offs: Vec<WriteOff>,
    pub cost_changes: Vec<CostChange>,
}

/// The cash flows of the fund up to `as_of`, by SPEC §6.6's one rule for relieved cost: a distribution
/// relieves the FIFO cost of its `shares_sold`, an exit the company's whole remaining cost, any other
/// kind without shares nothing; a written-off company's remaining cost is relieved on the date of its
/// write-off mark (`first_close_on` for a company written off before marks existed).
pub fn cash_flows(
    state: &PortfolioState,
    first_close_on: NaiveDate,
    as_of: NaiveDate,
) -> CashFlows {
    let mut flows = CashFlows::default();
    let mut lots_of: HashMap<i64, Vec<&LotState>> = HashMap::new();
    for l in state.lots.iter().filter(|l| l.acquired_on <= as_of) {
        lots_of.entry(l.company_id).or_default().push(l);
        flows.investments.push(Call {
            on: l.acquired_on,
            cents: l.cost_basis_cents,
            kind: CallKind::Investment,
        });
        flows.cost_changes.push(CostChange {
            on: l.acquired_on,
            cents: l.cost_basis_cents,
        });
    }
    let mut dists_of: HashMap<i64, Vec<_>> = HashMap::new();
    for d in state
        .distributions
        .iter()
        .filter(|d| d.distributed_on <= as_of)
    {
        dists_of.entry(d.company_id).or_default().push(d);
    }
    for company in &state.companies {
        let mut lots = lots_of.remove(&company.id).unwrap_or_default();
        lots.sort_by_key(|l| fifo_order(l));
        let mut dists = dists_of.remove(&company.id).unwrap_or_default();
        dists.sort_by_key(|d| (d.distributed_on, d.id));
        let mut held: Vec<i128> = lots.iter().map(|l| share_units(l.shares)).collect();
        let mut cost: Vec<i64> = lots.iter().map(|l| l.cost_basis_cents).collect();
        let written_off_on = written_off_on(company, first_close_on).filter(|on| *on <= as_of);
        let mut written_off = false;
        for d in &dists {
            if let Some(on) = written_off_on
                && !written_off
                && on < d.distributed_on
            {
                flows.push_write_off(on, relieve_all(&lots, &mut held, &mut cost, on));
                written_off = true;
            }
            let relieved = match (d.kind, d.shares_sold) {
                (DistributionKind::Exit, _) => {
                    relieve_all(&lots, &mut held, &mut cost, d.distributed_on)
                }
                (_, Some(shares)) => relieve_fifo(
                    &lots,
                    &mut held,
                    &mut cost,
                    d.distributed_on,
                    share_units(shares),
                ),
                (_, None) => 0,
            };
            flows.proceeds.push(Proceeds {
                id: d.id,
                on: d.distributed_on,
                cents: d.amount_cents,
                relieved_cost_cents: relieved,
            });
            if relieved != 0 {
                flows.cost_changes.push(CostChange {
                    on: d.distributed_on,
                    cents: -relieved,
                });
            }
        }
        if let Some(on) = written_off_on
            && !written_off
        {
            flows.push_write_off(on, relieve_all(&lots, &mut held, &mut cost, on));
        }
    }
    flows
}

impl CashFlows {
    fn push_write_off(&mut self, on: NaiveDate, remaining: i64) {
        self.write_offs.push(WriteOff {
            on,
            remaining_cost_cents: remaining,
        });
        self.cost_changes.push(CostChange {
            on,
            cents: -remaining,
        });
    }
}

/// The date a written-off company counts as written off: its first write-off mark, else the first
/// close. `None` for a company that is not written off.
fn written_off_on(company: &CompanyState, first_close_on: NaiveDate) -> Option<NaiveDate> {
    if company.status != CompanyStatus::WrittenOff {
        return None;
    }
    let marked = company
        .marks
        .iter()
        .flatten()
        .filter(|m| m.source == MarkSource::WriteOff);
    Some(marked.map(|m| m.marked_on).min().unwrap_or(first_close_on))
}

/// Relieves every share held on `on` (lots acquired by then); returns the cost relieved.
fn relieve_all(lots: &[&LotState], held: &mut [i128], cost: &mut [i64], on: NaiveDate) -> i64 {
    let mut relieved = 0;
    for (i, lot) in lots.iter().enumerate() {
        if lot.acquired_on <= on {
            relieved += cost[i];
            cost[i] = 0;
            held[i] = 0;
        }
    }
    relieved
}

/// Relieves `shares` (10⁻⁸ units) first-in-first-out from the lots acquired by `on`; each lot gives
/// its remaining cost × shares taken / shares it held, rounded half-up (all of it when emptied).
fn relieve_fifo(
    lots: &[&LotState],
    held: &mut [i128],
    cost: &mut [i64],
    on: NaiveDate,
    mut shares: i128,
) -> i64 {
    let mut relieved = 0;
    for (i, lot) in lots.iter().enumerate() {
        if shares == 0 || lot.acquired_on > on {
            continue;
        }
        let taken = held[i].min(shares);
        if taken == 0 {
            continue;
        }
        let part = if taken == held[i] {
            cost[i]
        } else {
            i64::try_from(div_half_up(i128::from(cost[i]) * taken, held[i])).unwrap_or(cost[i])
        };
        cost[i] -= part;
        held[i] -= taken;
        shares -= taken;
        relieved += part;
    }
    relieved
}

/// Paid-in capital on `as_of` (SPEC §6.6): the lots' cost and the fees called by then. The figure of
/// [`net_returns`] without its waterfall and gross figures, for callers that need only it.
pub fn paid_in(state: &PortfolioState, terms: &FundTerms, as_of: NaiveDate) -> i64 {
    let flows = cash_flows(state, terms.first_close_on, as_of);
    let fees: i64 = fee_schedule(terms, &flows.cost_changes, as_of)
        .iter()
        .map(|f| f.amount_cents)
        .sum();
    flows.investments.iter().map(|c| c.cents).sum::<i64>() + fees
}

/// Everything the net figures were computed from: the figures, the waterfall's decisions, the fees and
/// the cash flows (what the ledger lists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetResult {
    pub returns: NetReturns,
    pub waterfall: Waterfall,
    pub fees: Vec<FeeCall>,
    pub flows: CashFlows,
}

/// The fund's net returns on `as_of` (SPEC §6.6), with the waterfall that produced them and the fees.
pub fn net_returns(
    state: &PortfolioState,
    terms: &FundTerms,
    as_of: NaiveDate,
) -> (NetReturns, Waterfall, Vec<FeeCall>) {
    let gross = compute(state, as_of).fund;
    let r = net_result(state, terms, as_of, &gross);
    (r.returns, r.waterfall, r.fees)
}

/// [`net_returns`] from the fund's gross figures on `as_of` (§6.4), computed once by the caller.
pub fn net_result(
    state: &PortfolioState,
    terms: &FundTerms,
    as_of: NaiveDate,
    gross: &FundMetrics,
) -> NetResult {
    let flows = cash_flows(state, terms.first_close_on, as_of);
    let fees = fee_schedule(terms, &flows.cost_changes, as_of);
    let mut calls = flows.investments.clone();
    calls.extend(fees.iter().map(|f| Call {
        on: f.on,
        cents: f.amount_cents,
        kind: CallKind::ManagementFee,
    }));
    let nav = gross.unrealized_cents;
    let waterfall = divide(
        terms,
        &calls,
        &flows.proceeds,
        &flows.write_offs,
        nav,
        as_of,
    );
    let invested: i64 = flows.investments.iter().map(|c| c.cents).sum();
    let fees_cents: i64 = fees.iter().map(|f| f.amount_cents).sum();
    let paid_in = invested + fees_cents;
    let lp_distributed: i64 = waterfall.distributions.iter().map(|d| d.split.lp()).sum();
    let gp_paid: i64 = waterfall.distributions.iter().map(|d| d.split.gp()).sum();
    let accrued = waterfall.liquidation.gp();
    let clawback = waterfall.clawback_cents;
    let lp_nav = waterfall.liquidation.lp() + clawback;
    let mut lp_flows: Vec<CashFlow> = calls
        .iter()
        .map(|c| CashFlow {
            date: c.on,
            amount_cents: -c.cents,
        })
        .collect();
    lp_flows.extend(waterfall.distributions.iter().map(|d| CashFlow {
        date: d.on,
        amount_cents: d.split.lp(),
    }));
    if lp_nav != 0 {
        lp_flows.push(CashFlow {
            date: as_of,
            amount_cents: lp_nav,
        });
    }
    let gross_profit = gross.total_value_cents - gross.invested_cents;
    let carry = gp_paid + accrued - clawback;
    let returns = NetReturns {
        as_of,
        committed_cents: terms.committed.get(),
        invested_cents: invested,
        fees_cents,
        paid_in_cents: paid_in,
        pic: ratio(paid_in, terms.committed.get()),
        lp_distributed_cents: lp_distributed,
        gp_carry_paid_cents: gp_paid,
        lp_nav_cents: lp_nav,
        accrued_carry_cents: accrued,
        clawback_cents: clawback,
        dpi: ratio(lp_distributed, paid_in),
        rvpi: ratio(lp_nav, paid_in),
        tvpi: ratio(lp_distributed + lp_nav, paid_in),
        net_irr: xirr(&lp_flows),
        gross_profit_cents: gross_profit,
        carry_cents: carry,
        net_profit_cents: gross_profit - fees_cents - carry,
    };
    NetResult {
        returns,
        waterfall,
        fees,
        flows,
    }
}

#[cfg(test)]
mod tests;
