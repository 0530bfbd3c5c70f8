//! Forecast snapshots (SPEC §7): immutable, reproducible captures of a fund's state, calculated by an
//! outbox worker from the captured inputs alone. Capture in [`capture`], calculation in [`calculate`];
//! reads and edits here.

mod calculate;
mod capture;
mod complete;
mod model;

use entity::forecast_snapshot::{self, Listed, SnapshotStatus, Summary};
use entity::reserve_allocation;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

pub use calculate::{CalculateSnapshot, Calculator, calculate};
pub use capture::{NewSnapshot, create_snapshot};
pub use model::{
    CalculatedMetrics, JOB_CALCULATE, ManualAllocation, SnapshotInputs, can_transition,
};

use crate::auth::Principal;
use crate::context::Service;
use crate::db::now;
use crate::error::{ConflictCode, Error, Result};
use crate::fields::name_ok;
use crate::pagination::{self, Page, PageRequest};
use crate::reserves::{PlanUpdate, PlanView, update_reserve_plan};

/// The snapshot `id` without its inputs.
async fn find<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Summary>> {
    Ok(forecast_snapshot::Entity::find_by_id(id)
        .into_partial_model::<Summary>()
        .one(conn)
        .await?)
}

/// A snapshot the caller may read, without its inputs; another fund's snapshot is simply not found
/// (SPEC §13).
#[tracing::instrument(skip_all, fields(snapshot_id = %id))]
pub async fn get_snapshot(svc: &Service, principal: &Principal, id: Uuid) -> Result<Summary> {
    let snapshot = find(svc.db.connection(), id).await?;
    match snapshot {
        Some(s) if principal.may_read(s.fund_id) => Ok(s),
        _ => Err(Error::not_found("snapshot", id)),
    }
}

#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn list_snapshots(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    status: Option<SnapshotStatus>,
    page: PageRequest,
) -> Result<Page<Listed>> {
    principal.require_read(fund_id)?;
    let mut query =
        forecast_snapshot::Entity::find().filter(forecast_snapshot::Column::FundId.eq(fund_id));
    if let Some(s) = status {
        query = query.filter(forecast_snapshot::Column::Status.eq(s));
    }
    pagination::by_time_and_uuid(
        query,
        (
            forecast_snapshot::Column::SnapshotTime,
            forecast_snapshot::Column::Id,
        ),
        &page,
        svc.db.connection(),
        |s: &Listed| (s.snapshot_time, s.id),
    )
    .await
}

/// A snapshot's allocations, by priority.
#[tracing::instrument(skip_all, fields(snapshot_id = %id))]
pub async fn allocations(svc: &Service, principal: &Principal, id: Uuid) -> Result<Vec<Allocated>> {
    let snapshot = get_snapshot(svc, principal, id).await?;
    let conn = svc.db.connection();
    let rows = reserve_allocation::Entity::find()
        .filter(reserve_allocation::Column::SnapshotId.eq(snapshot.id))
        .order_by_asc(reserve_allocation::Column::Priority)
        .order_by_asc(reserve_allocation::Column::CompanyId)
        .all(conn)
        .await?;
    // An allocation goes with its company (the foreign key cascades), so every row has a name.
    let names: std::collections::HashMap<i64, String> = entity::portfolio_company::Entity::find()
        .select_only()
        .column(entity::portfolio_company::Column::Id)
        .column(entity::portfolio_company::Column::Name)
        .filter(entity::portfolio_company::Column::FundId.eq(snapshot.fund_id))
        .filter(entity::portfolio_company::Column::Id.is_in(rows.iter().map(|r| r.company_id)))
        .into_tuple::<(i64, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| Allocated {
            company_name: names.get(&row.company_id).cloned().unwrap_or_default(),
            row,
        })
        .collect())
}

/// An allocation with the name of its company, so that a row says what it is about.
#[derive(Clone, Debug)]
pub struct Allocated {
    pub row: reserve_allocation::Model,
    pub company_name: String,
}

/// Renames a snapshot (its only mutable field) if its version is `expected_version`.
#[tracing::instrument(skip_all, fields(snapshot_id = %id))]
pub async fn rename_snapshot(
    svc: &Service,
    principal: &Principal,
    id: Uuid,
    expected_version: i64,
    name: String,
) -> Result<Summary> {
    let snapshot = get_snapshot(svc, principal, id).await?;
    principal.require_write(snapshot.fund_id)?;
    if !name_ok(&name) {
        return Err(Error::invalid("/name", "must be 1 to 255 characters"));
    }
    let conn = svc.db.connection();
    let result = forecast_snapshot::Entity::update_many()
        .col_expr(
            forecast_snapshot::Column::Name,
            Expr::value(name.trim().to_owned()),
        )
        .col_expr(forecast_snapshot::Column::UpdatedAt, Expr::value(now()))
        .col_expr(
            forecast_snapshot::Column::Version,
            Expr::col(forecast_snapshot::Column::Version).add(1),
        )
        .filter(forecast_snapshot::Column::Id.eq(id))
        .filter(forecast_snapshot::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    match find(conn, id).await? {
        Some(current) if result.rows_affected == 1 => Ok(current),
        other => Err(Error::missing_or_stale(
            "snapshot",
            id,
            other.map(|s| s.version),
        )),
    }
}

#[tracing::instrument(skip_all, fields(snapshot_id = %id))]
pub async fn delete_snapshot(
    svc: &Service,
    principal: &Principal,
    id: Uuid,
    expected_version: i64,
) -> Result<()> {
    let snapshot = get_snapshot(svc, principal, id).await?;
    principal.require_write(snapshot.fund_id)?;
    let result = forecast_snapshot::Entity::delete_many()
        .filter(forecast_snapshot::Column::Id.eq(id))
        .filter(forecast_snapshot::Column::Version.eq(expected_version))
        .exec(svc.db.connection())
        .await?;
    if result.rows_affected == 1 {
        return Ok(());
    }
    let current = find(svc.db.connection(), id).await?;
    Err(Error::missing_or_stale(
        "snapshot",
        id,
        current.map(|s| s.version),
    ))
}

/// Copies a complete snapshot's allocations into the fund's reserve plan, under the plan's version.
#[tracing::instrument(skip_all, fields(snapshot_id = %id))]
pub async fn apply_snapshot(
    svc: &Service,
    principal: &Principal,
    id: Uuid,
    expected_version: i64,
) -> Result<PlanView> {
    let snapshot = get_snapshot(svc, principal, id).await?;
    principal.require_write(snapshot.fund_id)?;
    if expected_version < 1 {
        return Err(Error::invalid("/expected_version", "must be 1 or more"));
    }
    if snapshot.status != SnapshotStatus::Complete {
        return Err(Error::Conflict {
            code: ConflictCode::SnapshotNotComplete,
            message: format!(
                "only a complete snapshot can be applied; this one is {:?}",
                snapshot.status
            )
            .to_lowercase(),
        });
    }
    let rows = allocations(svc, principal, id).await?;
    if rows.is_empty() {
        return Err(Error::Conflict {
            code: ConflictCode::SnapshotHasNoAllocations,
            message: "the snapshot allocates nothing".into(),
        });
    }
    let updates = rows
        .iter()
        .map(|a| PlanUpdate {
            company_id: a.row.company_id,
            planned_reserves_cents: a.row.planned_reserve_cents,
            allocation_cap_cents: None,
        })
        .collect();
    update_reserve_plan(svc, principal, snapshot.fund_id, expected_version, updates).await
}
