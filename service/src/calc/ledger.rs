//! The ledger of a fund's net returns (SPEC §6.6, `GET /funds/{id}/returns/ledger`): every call and every
//! distribution in event order, each distribution with what each tier gave the LPs and the GP, and the
//! running paid-in, returned capital and hurdle balance; last, the hypothetical liquidation of the NAV
//! on `as_of`. Pure: built from the state and the [`NetResult`] the figures came from, so the ledger and
//! the figures cannot disagree.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::fees::FeeCall;
use super::returns::NetResult;
use super::state::{LotState, PortfolioState};
use super::terms::FeeBasis;
use super::waterfall::Split;

/// What a ledger line records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// A lot's cost, called from the LPs on its acquisition date.
    Investment,
    /// A quarter's management fee, called on its first charged day.
    ManagementFee,
    /// A distribution, divided by the waterfall.
    Distribution,
    /// The NAV on `as_of`, divided as if distributed then (changes nothing; the LPs' part is their NAV,
    /// the GP's the accrued carry).
    Liquidation,
}

/// A management fee's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeTerms {
    pub basis: FeeBasis,
    pub basis_cents: i64,
    /// The annual rate, basis points.
    pub rate_bps: i64,
    pub charged_days: i64,
    pub quarter_days: i64,
}

/// One line of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub on: NaiveDate,
    pub kind: LedgerKind,
    pub amount_cents: i64,
    pub lot_id: Option<Uuid>,
    pub company_id: Option<i64>,
    pub distribution_id: Option<i64>,
    pub fee: Option<FeeTerms>,
    /// The cost a distribution relieves (SPEC §6.6's one rule).
    pub relieved_cost_cents: Option<i64>,
    /// How the waterfall divided a distribution or the liquidation.
    pub split: Option<Split>,
    /// Paid-in capital after this line.
    pub paid_in_cents: i64,
    /// The LPs' cumulative tier-1 receipts (capital returned) after this line.
    pub returned_cents: i64,
    /// The hurdle balance after a distribution (European only).
    pub hurdle_balance_cents: Option<i64>,
}

impl LedgerEntry {
    fn call(
        on: NaiveDate,
        kind: LedgerKind,
        amount_cents: i64,
        paid_in: i64,
        returned: i64,
    ) -> Self {
        Self {
            on,
            kind,
            amount_cents,
            lot_id: None,
            company_id: None,
            distribution_id: None,
            fee: None,
            relieved_cost_cents: None,
            split: None,
            paid_in_cents: paid_in,
            returned_cents: returned,
            hurdle_balance_cents: None,
        }
    }
}

/// The ledger of `result`, computed from `state` on `as_of`: calls before distributions on one date,
/// investments (by lot id) before fees, distributions in id order, the liquidation last.
pub fn ledger(state: &PortfolioState, as_of: NaiveDate, result: &NetResult) -> Vec<LedgerEntry> {
    let mut lots: Vec<_> = state
        .lots
        .iter()
        .filter(|l| l.acquired_on <= as_of)
        .collect();
    lots.sort_by_key(|l| (l.acquired_on, l.id));
    let company_of: std::collections::HashMap<i64, i64> = state
        .distributions
        .iter()
        .map(|d| (d.id, d.company_id))
        .collect();
    let relieved: std::collections::HashMap<i64, i64> = result
        .flows
        .proceeds
        .iter()
        .map(|p| (p.id, p.relieved_cost_cents))
        .collect();
    let divided = &result.waterfall.distributions;
    let mut out = Vec::with_capacity(lots.len() + result.fees.len() + divided.len() + 1);
    let mut calls = Calls {
        lots: &lots,
        fees: &result.fees,
        next_lot: 0,
        next_fee: 0,
        paid_in: 0,
    };
    let mut returned = 0i64;
    for d in divided {
        calls.through(&mut out, Some(d.on), returned);
        returned = d.returned_cents;
        out.push(LedgerEntry {
            on: d.on,
            kind: LedgerKind::Distribution,
            amount_cents: d.cents,
            lot_id: None,
            company_id: company_of.get(&d.id).copied(),
            distribution_id: Some(d.id),
            fee: None,
            relieved_cost_cents: relieved.get(&d.id).copied(),
            split: Some(d.split),
            paid_in_cents: d.paid_in_cents,
            returned_cents: d.returned_cents,
            hurdle_balance_cents: d.hurdle_balance_cents,
        });
    }
    calls.through(&mut out, None, returned);
    let paid_in = calls.paid_in;
    let liquidation = result.waterfall.liquidation;
    out.push(LedgerEntry {
        on: as_of,
        kind: LedgerKind::Liquidation,
        amount_cents: liquidation.lp() + liquidation.gp(),
        lot_id: None,
        company_id: None,
        distribution_id: None,
        fee: None,
        relieved_cost_cents: None,
        split: Some(liquidation),
        paid_in_cents: paid_in,
        returned_cents: returned + liquidation.tier1_lp,
        hurdle_balance_cents: None,
    });
    out
}

/// The calls not yet written to the ledger, investments and fees each in date order.
struct Calls<'a> {
    lots: &'a [&'a LotState],
    fees: &'a [FeeCall],
    next_lot: usize,
    next_fee: usize,
    paid_in: i64,
}

impl Calls<'_> {
    /// Writes every call dated on or before `until` (all of them for `None`), merged by date with
    /// investments first on a date.
    fn through(&mut self, out: &mut Vec<LedgerEntry>, until: Option<NaiveDate>, returned: i64) {
        let due = |on: NaiveDate| until.is_none_or(|t| on <= t);
        loop {
            let lot = self.lots.get(self.next_lot).filter(|x| due(x.acquired_on));
            let fee = self.fees.get(self.next_fee).filter(|x| due(x.on));
            match (lot, fee) {
                (Some(lot), fee) if fee.is_none_or(|fee| lot.acquired_on <= fee.on) => {
                    self.paid_in += lot.cost_basis_cents;
                    let mut e = LedgerEntry::call(
                        lot.acquired_on,
                        LedgerKind::Investment,
                        lot.cost_basis_cents,
                        self.paid_in,
                        returned,
                    );
                    e.lot_id = Some(lot.id);
                    e.company_id = Some(lot.company_id);
                    out.push(e);
                    self.next_lot += 1;
                }
                (_, Some(fee)) if fee.amount_cents == 0 => {
                    // A quarter charged nothing (a rate or a basis of 0) is no call.
                    self.next_fee += 1;
                }
                (_, Some(fee)) => {
                    self.paid_in += fee.amount_cents;
                    let mut e = LedgerEntry::call(
                        fee.on,
                        LedgerKind::ManagementFee,
                        fee.amount_cents,
                        self.paid_in,
                        returned,
                    );
                    e.fee = Some(FeeTerms {
                        basis: fee.basis,
                        basis_cents: fee.basis_cents,
                        rate_bps: fee.rate.get(),
                        charged_days: fee.charged_days,
                        quarter_days: fee.quarter_days,
                    });
                    out.push(e);
                    self.next_fee += 1;
                }
                _ => return,
            }
        }
    }
}
