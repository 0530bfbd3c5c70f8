//! Values the calculations' unit tests build their funds from: a date, a company, a lot, a portfolio.
//! Test-only (`#[cfg(test)]`).

use chrono::{DateTime, NaiveDate};
use entity::investment_lot::LotType;
use entity::portfolio_company::{CompanyStatus, Stage};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::money::{Bps, Cents};
use super::state::{CompanyState, DistributionState, FundState, LotState, PortfolioState};

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// A company named `C<id>`, without marks, exit assumptions or reserves.
pub fn company(id: i64, stage: Stage, status: CompanyStatus) -> CompanyState {
    CompanyState {
        id,
        name: format!("C{id}"),
        stage,
        status,
        current_share_price_cents: None,
        exit_moic_bps: None,
        exit_probability: None,
        reserve_exit_moic_bps: None,
        planned_reserves_cents: 0,
        allocation_cap_cents: None,
        marks: Some(vec![]),
    }
}

/// An initial lot `n` of 1,000 shares of `company_id` (its investment has the company's id).
pub fn lot(n: u128, company_id: i64, cost: i64, on: NaiveDate) -> LotState {
    LotState {
        id: Uuid::from_u128(n),
        company_id,
        investment_id: company_id,
        round_name: "Seed".into(),
        lot_type: LotType::Initial,
        shares: Decimal::from(1000),
        cost_basis_cents: cost,
        acquired_on: on,
        created_at: DateTime::from_timestamp(1_700_000_000 + n as i64, 0).unwrap(),
    }
}

/// Fund 1 of `size_cents` committed, without reserves or terms.
pub fn portfolio(
    size_cents: i64,
    companies: Vec<CompanyState>,
    lots: Vec<LotState>,
    distributions: Vec<DistributionState>,
) -> PortfolioState {
    PortfolioState {
        fund: FundState {
            id: 1,
            size_cents: Cents::new(size_cents),
            reserve_ratio_bps: Bps::ZERO,
            base_currency: "USD".into(),
            terms: None,
        },
        companies,
        lots: lots.into(),
        distributions,
    }
}
