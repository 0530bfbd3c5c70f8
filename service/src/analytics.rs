//! Loading a fund's state for the calculations, and the reserve plan (SPEC §6, §7.5).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use entity::ExactDecimal;
use entity::distribution::DistributionKind;
use entity::investment_lot::LotType;
use entity::portfolio_company::{CompanyStatus, Stage};
use entity::{distribution, fund, investment, investment_lot, portfolio_company};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::{Backend, Database};
use crate::error::{Error, FieldError, Result};
use crate::metrics::{
    CompanyState, DistributionState, FundState, LotState, PortfolioMetrics, PortfolioState,
    compute, rank_order,
};
use crate::pgcopy;
use crate::reserves::score;
use crate::{Service, now};

/// Reads everything the calculations need in five queries, whatever the size of the fund, on any
/// connection or transaction. The queries run concurrently when the pool allows it, and select only the
/// columns used, decoded by position (much cheaper than whole models for ten thousand lots).
pub async fn load_state<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<PortfolioState> {
    let mut state = assemble(
        conn,
        fund_id,
        companies_by_query(conn, fund_id),
        lots_by_query(conn, fund_id),
        distributions_by_query(conn, fund_id),
    )
    .await?;
    // Sorted here rather than by the database: an ORDER BY on ten thousand UUIDs costs PostgreSQL more
    // than the sort costs us, and the order only has to be deterministic (equal states, equal inputs).
    state.lots.sort_unstable_by_key(|l| l.id.as_u128());
    Ok(state)
}

/// The same state as [`load_state`], read faster where the backend allows: on PostgreSQL companies,
/// lots and distributions come through binary `COPY` ([`crate::pgcopy`]). Outside transactions only:
/// each COPY takes its own pooled connection. The lots are in no particular order (the calculation sorts
/// references to them in the order it walks them): this state is for computing, not for hashing into a
/// snapshot, whose lots are in id order.
pub async fn load_state_for_reading(db: &Database, fund_id: i64) -> Result<PortfolioState> {
    let conn = db.connection();
    match db.backend() {
        Backend::Postgres => {
            let pool = conn.get_postgres_connection_pool();
            assemble(
                conn,
                fund_id,
                pgcopy::fund_companies(pool, fund_id),
                pgcopy::fund_lots(pool, fund_id),
                pgcopy::fund_distributions(pool, fund_id),
            )
            .await
        }
        Backend::Sqlite => load_state(conn, fund_id).await,
    }
}

/// The fund, read alongside its companies, lots and distributions from the given sources (all four
/// concurrently).
async fn assemble<C: ConnectionTrait>(
    conn: &C,
    fund_id: i64,
    companies: impl Future<Output = Result<Vec<CompanyState>>>,
    lots: impl Future<Output = Result<Vec<LotState>>>,
    distributions: impl Future<Output = Result<Vec<DistributionState>>>,
) -> Result<PortfolioState> {
    let fund_q = fund::Entity::find_by_id(fund_id).one(conn);
    let (fund, companies, lots, distributions) =
        futures::join!(fund_q, companies, lots, distributions);
    let fund = fund?.ok_or_else(|| Error::not_found("fund", fund_id))?;
    Ok(PortfolioState {
        fund: FundState {
            id: fund.id,
            size_cents: fund.size_cents,
            reserve_ratio_bps: fund.reserve_ratio_bps,
        },
        companies: companies?,
        lots: lots?,
        distributions: distributions?,
    })
}

/// A fund's companies in id order, by query.
async fn companies_by_query<C: ConnectionTrait>(
    conn: &C,
    fund_id: i64,
) -> Result<Vec<CompanyState>> {
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

/// A fund's distributions in id order, by query.
async fn distributions_by_query<C: ConnectionTrait>(
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

/// A fund's lots with their companies, by two ordinary queries (lots, and investment → company).
async fn lots_by_query<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<Vec<LotState>> {
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

/// Lot, company and fund metrics of a fund as of a date (default: today, UTC).
pub async fn fund_moic(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    as_of: Option<NaiveDate>,
) -> Result<PortfolioMetrics> {
    principal.require_read(fund_id)?;
    let state = load_state_for_reading(&svc.db, fund_id).await?;
    Ok(compute(&state, as_of.unwrap_or_else(|| now().date_naive())))
}

/// A company's place in the reserve rankings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranking {
    pub rank: i32,
    pub company_id: i64,
    pub name: String,
    pub exit_moic_on_planned_reserves: Option<Decimal>,
    /// The engine's ranking value (reserve multiple × probability), whether or not reserves are planned.
    pub allocation_score: Option<Decimal>,
    pub planned_reserves_cents: i64,
    pub allocation_cap_cents: Option<i64>,
}

/// Active companies ranked by the expected exit multiple on their planned reserves (highest first;
/// companies without one last), ties by planned reserves (largest first), then id.
pub async fn reserve_rankings(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
) -> Result<Vec<Ranking>> {
    principal.require_read(fund_id)?;
    let state = load_state_for_reading(&svc.db, fund_id).await?;
    let mut rows: Vec<Ranking> = state
        .companies
        .iter()
        .filter(|c| c.status == portfolio_company::CompanyStatus::Active)
        .map(|c| {
            let s = score(c.reserve_exit_moic_bps, c.exit_probability);
            Ranking {
                rank: 0,
                company_id: c.id,
                name: c.name.clone(),
                exit_moic_on_planned_reserves: if c.planned_reserves_cents > 0 {
                    s
                } else {
                    None
                },
                allocation_score: s,
                planned_reserves_cents: c.planned_reserves_cents,
                allocation_cap_cents: c.allocation_cap_cents,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        rank_order(
            (
                a.exit_moic_on_planned_reserves,
                a.planned_reserves_cents,
                a.company_id,
            ),
            (
                b.exit_moic_on_planned_reserves,
                b.planned_reserves_cents,
                b.company_id,
            ),
        )
    });
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i32::try_from(i + 1).unwrap_or(i32::MAX);
    }
    Ok(rows)
}

/// One company's line in the reserve plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanLine {
    pub company_id: i64,
    pub name: String,
    pub planned_reserves_cents: i64,
    pub allocation_cap_cents: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanView {
    pub fund_id: i64,
    pub version: i64,
    pub total_planned_cents: i64,
    pub companies: Vec<PlanLine>,
}

async fn plan_view<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<PlanView> {
    let fund = fund::Entity::find_by_id(fund_id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("fund", fund_id))?;
    let companies = portfolio_company::Entity::find()
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .order_by_asc(portfolio_company::Column::Id)
        .all(conn)
        .await?;
    Ok(PlanView {
        fund_id,
        version: fund.reserve_plan_version,
        total_planned_cents: companies.iter().map(|c| c.planned_reserves_cents).sum(),
        companies: companies
            .into_iter()
            .map(|c| PlanLine {
                company_id: c.id,
                name: c.name,
                planned_reserves_cents: c.planned_reserves_cents,
                allocation_cap_cents: c.allocation_cap_cents,
            })
            .collect(),
    })
}

pub async fn reserve_plan(svc: &Service, principal: &Principal, fund_id: i64) -> Result<PlanView> {
    principal.require_read(fund_id)?;
    plan_view(svc.db.connection(), fund_id).await
}

/// One row of a plan update. `allocation_cap_cents`: absent leaves the cap as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanUpdate {
    pub company_id: i64,
    pub planned_reserves_cents: i64,
    pub allocation_cap_cents: Option<i64>,
}

pub const MAX_PLAN_UPDATES: usize = 500;

/// Applies every update or none, if the plan's version is still `expected_version` (SPEC §7.5).
pub async fn update_reserve_plan(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    expected_version: i64,
    updates: Vec<PlanUpdate>,
) -> Result<PlanView> {
    principal.require_write(fund_id)?;
    let mut errors = Vec::new();
    if updates.is_empty() || updates.len() > MAX_PLAN_UPDATES {
        errors.push(FieldError::new(
            "/updates",
            format!("must hold 1 to {MAX_PLAN_UPDATES} rows"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, u) in updates.iter().enumerate() {
        if !seen.insert(u.company_id) {
            errors.push(FieldError::new(
                format!("/updates/{i}/company_id"),
                "appears more than once",
            ));
        }
        if u.planned_reserves_cents < 0 {
            errors.push(FieldError::new(
                format!("/updates/{i}/planned_reserves_cents"),
                "must be 0 or more",
            ));
        }
        if let Some(cap) = u.allocation_cap_cents {
            if cap < 0 {
                errors.push(FieldError::new(
                    format!("/updates/{i}/allocation_cap_cents"),
                    "must be 0 or more",
                ));
            } else if cap < u.planned_reserves_cents {
                errors.push(FieldError::new(
                    format!("/updates/{i}/allocation_cap_cents"),
                    "must not be below planned_reserves_cents",
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }

    let txn = svc.db.connection().begin().await?;
    // Claim the version first: a concurrent update of the same plan waits here, then finds it moved on.
    let bumped = fund::Entity::update_many()
        .col_expr(
            fund::Column::ReservePlanVersion,
            Expr::col(fund::Column::ReservePlanVersion).add(1),
        )
        .col_expr(fund::Column::UpdatedAt, Expr::value(now()))
        .filter(fund::Column::Id.eq(fund_id))
        .filter(fund::Column::ReservePlanVersion.eq(expected_version))
        .exec(&txn)
        .await?;
    if bumped.rows_affected == 0 {
        let current = fund::Entity::find_by_id(fund_id).one(&txn).await?;
        return Err(match current {
            None => Error::not_found("fund", fund_id),
            Some(f) => Error::VersionConflict {
                current_version: f.reserve_plan_version,
            },
        });
    }
    let companies: HashMap<i64, portfolio_company::Model> = portfolio_company::Entity::find()
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut errors = Vec::new();
    for (i, u) in updates.iter().enumerate() {
        match companies.get(&u.company_id) {
            None => errors.push(FieldError::new(
                format!("/updates/{i}/company_id"),
                format!("fund {fund_id} has no company {}", u.company_id),
            )),
            Some(c) => {
                let cap = u.allocation_cap_cents.or(c.allocation_cap_cents);
                if cap.is_some_and(|cap| cap < u.planned_reserves_cents) {
                    errors.push(FieldError::new(
                        format!("/updates/{i}/planned_reserves_cents"),
                        "exceeds the company's allocation cap",
                    ));
                }
            }
        }
    }
    if !errors.is_empty() {
        // Dropping the transaction rolls back the version bump: nothing is applied.
        return Err(Error::Validation(errors));
    }
    for u in &updates {
        let mut model = portfolio_company::ActiveModel {
            planned_reserves_cents: Set(u.planned_reserves_cents),
            ..Default::default()
        };
        if let Some(cap) = u.allocation_cap_cents {
            model.allocation_cap_cents = Set(Some(cap));
        }
        model.updated_at = Set(now());
        portfolio_company::Entity::update_many()
            .set(model)
            .col_expr(
                portfolio_company::Column::Version,
                Expr::col(portfolio_company::Column::Version).add(1),
            )
            .filter(portfolio_company::Column::Id.eq(u.company_id))
            .filter(portfolio_company::Column::FundId.eq(fund_id))
            .exec(&txn)
            .await?;
    }
    let view = plan_view(&txn, fund_id).await?;
    txn.commit().await?;
    Ok(view)
}
