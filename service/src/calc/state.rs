//! A fund's state as the calculations read it: exactly what a snapshot captures (SPEC §7.1).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use entity::company_mark::MarkSource;
use entity::distribution::DistributionKind;
use entity::investment_lot::LotType;
use entity::portfolio_company::{CompanyStatus, Stage};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::money::{Bps, Cents};
use super::terms::FundTerms;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in canonical (RFC 8785) order, so that `serde_json` writes the canonical form itself
// (`canonical::write_in_declared_order`).
pub struct FundState {
    /// ISO 4217 code of the fund's currency (`USD`), for amounts written in sentences.
    #[serde(default = "usd")]
    pub base_currency: String,
    pub id: i64,
    pub reserve_ratio_bps: Bps,
    pub size_cents: Cents,
    /// The fund's terms (SPEC §6.6). `None` only in the inputs of a snapshot captured before terms
    /// existed: such a snapshot has no net figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<FundTerms>,
}

fn usd() -> String {
    "USD".to_owned()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in canonical (RFC 8785) order, so that `serde_json` writes the canonical form itself
// (`canonical::write_in_declared_order`).
pub struct CompanyState {
    pub allocation_cap_cents: Option<i64>,
    pub current_share_price_cents: Option<i64>,
    pub exit_moic_bps: Option<i64>,
    pub exit_probability: Option<Decimal>,
    pub id: i64,
    /// The company's dated valuations (SPEC §6.4), in date order. `None` only in the inputs of a
    /// snapshot captured before marks existed: that company is valued at `current_share_price_cents` on
    /// every date, as it was then.
    #[serde(default)]
    pub marks: Option<Vec<MarkState>>,
    pub name: String,
    pub planned_reserves_cents: i64,
    pub reserve_exit_moic_bps: Option<i64>,
    pub stage: Stage,
    pub status: CompanyStatus,
}

/// A company's valuation on a date, in exact cents per share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in canonical (RFC 8785) order, so that `serde_json` writes the canonical form itself
// (`canonical::write_in_declared_order`).
pub struct MarkState {
    pub marked_on: NaiveDate,
    pub share_price_cents: Decimal,
    pub source: MarkSource,
}

impl CompanyState {
    /// The price per share (exact cents) the company is valued at on `as_of`: zero from the date of
    /// its write-off when it is written off, else its latest mark dated on or before `as_of`; `None`
    /// (held at cost) without one.
    pub fn price_on(&self, as_of: NaiveDate) -> Option<Decimal> {
        let Some(marks) = &self.marks else {
            return self.current_share_price_cents.map(Decimal::from);
        };
        let in_effect = marks.iter().filter(|m| m.marked_on <= as_of);
        if self.status == CompanyStatus::WrittenOff
            && in_effect.clone().any(|m| m.source == MarkSource::WriteOff)
        {
            return Some(Decimal::ZERO);
        }
        in_effect
            .max_by_key(|m| m.marked_on)
            .map(|m| m.share_price_cents)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in canonical (RFC 8785) order, so that `serde_json` writes the canonical form itself
// (`canonical::write_in_declared_order`).
pub struct LotState {
    pub acquired_on: NaiveDate,
    pub company_id: i64,
    pub cost_basis_cents: i64,
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
    pub investment_id: i64,
    pub lot_type: LotType,
    /// The round of the lot's investment (`Series A`), so that lot rows say what they are.
    #[serde(default)]
    pub round_name: String,
    pub shares: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in canonical (RFC 8785) order, so that `serde_json` writes the canonical form itself
// (`canonical::write_in_declared_order`).
pub struct DistributionState {
    pub amount_cents: i64,
    pub company_id: i64,
    pub created_at: DateTime<Utc>,
    pub distributed_on: NaiveDate,
    pub id: i64,
    pub kind: DistributionKind,
    pub shares_sold: Option<Decimal>,
}

/// Everything the calculations read. Lists are kept in id order so that equal states serialize equally.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in canonical (RFC 8785) order, so that `serde_json` writes the canonical form itself
// (`canonical::write_in_declared_order`).
pub struct PortfolioState {
    pub companies: Vec<CompanyState>,
    pub distributions: Vec<DistributionState>,
    pub fund: FundState,
    /// Shared with the cache of a fund's lots by holdings version (`metrics::reuse`).
    pub lots: Arc<Vec<LotState>>,
}
