//! Loading a fund's state for the calculations (SPEC §6) and for snapshots (SPEC §7.1): the one place
//! that reads companies, lots and distributions in bulk. [`load_state`] works on any connection or
//! transaction. (A binary `COPY` reader for the MOIC's reads was removed once SeaORM's queries measured
//! within SPEC §16's target: docs/DECISIONS.md.)

mod model;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::ExactDecimal;
use entity::distribution::DistributionKind;
use entity::investment_lot::LotType;
use entity::portfolio_company::{CompanyStatus, Stage};
use entity::{distribution, fund, investment, investment_lot, portfolio_company};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

pub use model::{CompanyState, DistributionState, FundState, LotState, PortfolioState};

use crate::error::{Error, Result};

/// Reads everything the calculations need in five queries, whatever the size of the fund, on any
/// connection or transaction. The queries run concurrently when the pool allows it, and select only the
/// columns used, decoded by position (much cheaper than whole models for ten thousand lots).
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn load_state<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<PortfolioState> {
    let (fund, companies, lots, distributions) = futures::join!(
        fund::Entity::find_by_id(fund_id).one(conn),
        fund_companies(conn, fund_id),
        fund_lots(conn, fund_id),
        fund_distributions(conn, fund_id),
    );
    let fund = fund?.ok_or_else(|| Error::not_found("fund", fund_id))?;
    let mut lots = lots?;
    // Sorted here rather than by the database: an ORDER BY on ten thousand UUIDs costs PostgreSQL more
    // than the sort costs us, and the order only has to be deterministic (equal states, equal inputs).
    lots.sort_unstable_by_key(|l| l.id.as_u128());
    Ok(PortfolioState {
        fund: FundState {
            id: fund.id,
            size_cents: fund.size_cents,
            reserve_ratio_bps: fund.reserve_ratio_bps,
        },
        companies: companies?,
        lots,
        distributions: distributions?,
    })
}

/// A fund's companies in id order.
async fn fund_companies<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<Vec<CompanyState>> {
    let rows = portfolio_company::Entity::find()
        .select_only()
        .columns([
            portfolio_company::Column::Id,
            portfolio_company::Column::Name,
            portfolio_company::Column::Stage,
            portfolio_company::Column::Status,
            portfolio_company::Column::CurrentSharePriceCents,
            portfolio_company::Column::ExitMoicBps,
            portfolio_company::Column::ExitProbability,
            portfolio_company::Column::ReserveExitMoicBps,
            portfolio_company::Column::PlannedReservesCents,
            portfolio_company::Column::AllocationCapCents,
        ])
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .order_by_asc(portfolio_company::Column::Id)
        .into_tuple::<(
            i64,
            String,
            Stage,
            CompanyStatus,
            Option<i64>,
            Option<i64>,
            Option<ExactDecimal>,
            Option<i64>,
            i64,
            Option<i64>,
        )>()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                name,
                stage,
                status,
                current_share_price_cents,
                exit_moic_bps,
                exit_probability,
                reserve_exit_moic_bps,
                planned_reserves_cents,
                allocation_cap_cents,
            )| CompanyState {
                id,
                name,
                stage,
                status,
                current_share_price_cents,
                exit_moic_bps,
                exit_probability: exit_probability.map(|p| p.0),
                reserve_exit_moic_bps,
                planned_reserves_cents,
                allocation_cap_cents,
            },
        )
        .collect())
}

/// A fund's distributions in id order.
async fn fund_distributions<C: ConnectionTrait>(
    conn: &C,
    fund_id: i64,
) -> Result<Vec<DistributionState>> {
    let rows = distribution::Entity::find()
        .select_only()
        .columns([
            distribution::Column::Id,
            distribution::Column::CompanyId,
            distribution::Column::DistributedOn,
            distribution::Column::AmountCents,
            distribution::Column::Kind,
            distribution::Column::SharesSold,
            distribution::Column::CreatedAt,
        ])
        .filter(distribution::Column::FundId.eq(fund_id))
        .order_by_asc(distribution::Column::Id)
        .into_tuple::<(
            i64,
            i64,
            NaiveDate,
            i64,
            DistributionKind,
            Option<ExactDecimal>,
            DateTime<Utc>,
        )>()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, company_id, distributed_on, amount_cents, kind, shares_sold, created_at)| {
                DistributionState {
                    id,
                    company_id,
                    distributed_on,
                    amount_cents,
                    kind,
                    shares_sold: shares_sold.map(|s| s.0),
                    created_at,
                }
            },
        )
        .collect())
}

/// A fund's lots with their companies, in two queries (lots, and investment → company).
async fn fund_lots<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<Vec<LotState>> {
    let investments_q = investment::Entity::find()
        .select_only()
        .columns([investment::Column::Id, investment::Column::CompanyId])
        .filter(investment::Column::FundId.eq(fund_id))
        .into_tuple::<(i64, i64)>()
        .all(conn);
    let lots_q = investment_lot::Entity::find()
        .select_only()
        .columns([
            investment_lot::Column::Id,
            investment_lot::Column::InvestmentId,
            investment_lot::Column::LotType,
            investment_lot::Column::SharesAcquired,
            investment_lot::Column::CostBasisCents,
            investment_lot::Column::AcquiredOn,
            investment_lot::Column::CreatedAt,
        ])
        .filter(investment_lot::Column::FundId.eq(fund_id))
        .into_tuple::<(
            Uuid,
            i64,
            LotType,
            ExactDecimal,
            i64,
            NaiveDate,
            DateTime<Utc>,
        )>()
        .all(conn);
    let (investments, lots) = futures::join!(investments_q, lots_q);
    let investments: HashMap<i64, i64> = investments?.into_iter().collect();
    lots?
        .into_iter()
        .map(
            |(id, investment_id, lot_type, shares, cost_basis_cents, acquired_on, created_at)| {
                let company_id = *investments.get(&investment_id).ok_or_else(|| {
                    Error::Invariant(format!("lot {id} has no investment in its fund"))
                })?;
                Ok(LotState {
                    id,
                    company_id,
                    investment_id,
                    lot_type,
                    shares: shares.0,
                    cost_basis_cents,
                    acquired_on,
                    created_at,
                })
            },
        )
        .collect()
}
