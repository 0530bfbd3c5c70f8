//! A fund's state as the calculations read it: exactly what a snapshot captures (SPEC §7.1).

use chrono::{DateTime, NaiveDate, Utc};
use entity::distribution::DistributionKind;
use entity::investment_lot::LotType;
use entity::portfolio_company::{CompanyStatus, Stage};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::money::{Bps, Cents};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundState {
    pub id: i64,
    pub size_cents: Cents,
    pub reserve_ratio_bps: Bps,
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
