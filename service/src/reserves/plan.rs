//! The reserve plan (SPEC §7.5): each company's planned reserves and cap, versioned as a whole by
//! `funds.reserve_plan_version`, read and replaced atomically.

use std::collections::{HashMap, HashSet};

use entity::{fund, portfolio_company};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};

use crate::auth::Principal;
use crate::context::Service;
use crate::db::now;
use crate::error::{Error, FieldError, Result};

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

#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn reserve_plan(svc: &Service, principal: &Principal, fund_id: i64) -> Result<PlanView> {
    principal.require_read(fund_id)?;
    plan_view(svc.db.connection(), fund_id).await
}

/// Moves the fund's reserve-plan version on: every write that changes a plan input (a company's planned
/// reserves or cap, a company added or removed) calls it in its own transaction, so that a
/// `PUT /reserve-plan` made against the previous version is refused (SPEC §7.5).
pub(crate) async fn bump_version<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<()> {
    fund::Entity::update_many()
        .col_expr(
            fund::Column::ReservePlanVersion,
            Expr::col(fund::Column::ReservePlanVersion).add(1),
        )
        .col_expr(fund::Column::UpdatedAt, Expr::value(now()))
        .filter(fund::Column::Id.eq(fund_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// A company's cap must not be below its planned reserves (SPEC §7.5), whichever of the two changed.
pub(crate) fn check_cap(company: &portfolio_company::Model, pointer: &str) -> Result<()> {
    match company.allocation_cap_cents {
        Some(cap) if cap < company.planned_reserves_cents => Err(Error::invalid(
            pointer,
            format!(
                "the allocation cap ({cap} cents) must not be below the planned reserves ({} cents)",
                company.planned_reserves_cents
            ),
        )),
        _ => Ok(()),
    }
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
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
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
    if expected_version < 1 {
        errors.push(FieldError::new("/expected_version", "must be 1 or more"));
    }
    let mut seen = HashSet::new();
    for (i, u) in updates.iter().enumerate() {
        if u.company_id < 1 {
            errors.push(FieldError::new(
                format!("/updates/{i}/company_id"),
                "must be a positive id",
            ));
        }
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
