//! Writing a calculation's result (SPEC §7.2): the metrics, the engine's allocations and the move to
//! `complete`, all or nothing, and only while the snapshot is `calculating`. A rerun either finds the
//! snapshot complete or fails on the unique (snapshot_id, company_id) index: never a duplicate.
//!
//! On PostgreSQL this is one statement (a data-modifying CTE: one round trip, atomic by itself, the
//! allocations given as one JSON parameter instead of ten parameters a row); on SQLite, whose CTEs cannot
//! modify, a transaction of the same two writes.

use entity::forecast_snapshot::{self, SnapshotStatus};
use entity::reserve_allocation::AllocationSource;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, ExprTrait,
    QueryFilter, Statement, TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

use super::model::{allocation_model, insert_allocations};
use crate::db::now;
use crate::error::{Error, Result};
use crate::reserves::CompanyAllocation;

/// The result of a calculation: snapshot `id` of fund `fund_id`, its `metrics` (the calculated
/// document's canonical text, packed: `entity::json_document`) and the engine's `allocations` (none
/// when they were given by hand).
pub(super) struct Completion<'a> {
    pub id: Uuid,
    pub fund_id: i64,
    pub metrics: Vec<u8>,
    pub allocations: &'a [CompanyAllocation],
}

/// Writes a calculation's result. A snapshot no longer `calculating` is left as it is, and none of its
/// allocations are written.
pub(super) async fn complete(conn: &DatabaseConnection, done: Completion<'_>) -> Result<()> {
    match conn.get_database_backend() {
        DbBackend::Postgres => in_one_statement(conn, done).await,
        _ => in_a_transaction(conn, done).await,
    }
}

/// Completes only the snapshot still `calculating`, and inserts its allocations only if it did. (A
/// statement's data-modifying `WITH` parts run whatever its final `SELECT` reads.)
const COMPLETE: &str = "\
WITH done AS (
  UPDATE forecast_snapshots
     SET status = $1, calculated_metrics = $2, progress_done = progress_total,
         updated_at = $3, version = version + 1
   WHERE id = $4 AND status = $5
  RETURNING id, fund_id
), allocated AS (
  INSERT INTO reserve_allocations (id, fund_id, snapshot_id, company_id, planned_reserve_cents,
                                   allocation_score, priority, rationale, source, created_at)
  SELECT r.id, done.fund_id, done.id, r.company_id, r.planned_reserve_cents, r.allocation_score,
         r.priority, r.rationale, $6, $3
    FROM done
   CROSS JOIN jsonb_to_recordset(CAST($7 AS jsonb)) AS r(id uuid, company_id bigint,
         planned_reserve_cents bigint, allocation_score numeric, priority integer, rationale text)
)
SELECT 1 FROM done";

/// One engine allocation as a row of the statement's JSON parameter.
#[derive(Serialize)]
struct Row<'a> {
    id: Uuid,
    company_id: i64,
    planned_reserve_cents: i64,
    /// Exact decimal text (numeric input, no float on the way).
    allocation_score: Option<String>,
    priority: i32,
    rationale: &'a str,
}

async fn in_one_statement(conn: &DatabaseConnection, done: Completion<'_>) -> Result<()> {
    let Completion {
        id,
        metrics,
        allocations,
        ..
    } = done;
    let rows: Vec<Row> = allocations
        .iter()
        .map(|a| Row {
            id: Uuid::now_v7(),
            company_id: a.company_id,
            planned_reserve_cents: a.planned_reserve_cents,
            allocation_score: a.allocation_score.map(|s| s.to_string()),
            priority: a.priority,
            rationale: &a.rationale,
        })
        .collect();
    let rows = serde_json::to_string(&rows).map_err(|e| Error::Invariant(e.to_string()))?;
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        COMPLETE,
        [
            SnapshotStatus::Complete.into(),
            metrics.into(),
            now().into(),
            id.into(),
            SnapshotStatus::Calculating.into(),
            AllocationSource::Engine.into(),
            rows.into(),
        ],
    );
    conn.execute_raw(statement).await?;
    Ok(())
}

async fn in_a_transaction(conn: &DatabaseConnection, done: Completion<'_>) -> Result<()> {
    let Completion {
        id,
        fund_id,
        metrics,
        allocations,
    } = done;
    let txn = conn.begin().await?;
    let at = now();
    let rows: Vec<_> = allocations
        .iter()
        .map(|a| {
            allocation_model(
                id,
                fund_id,
                a.company_id,
                a.planned_reserve_cents,
                a.allocation_score,
                usize::try_from(a.priority).unwrap_or(usize::MAX),
                Some(a.rationale.clone()),
                AllocationSource::Engine,
                at,
            )
        })
        .collect();
    insert_allocations(&txn, rows).await?;
    let done = forecast_snapshot::Entity::update_many()
        .col_expr(
            forecast_snapshot::Column::Status,
            Expr::value(SnapshotStatus::Complete),
        )
        .col_expr(
            forecast_snapshot::Column::CalculatedMetrics,
            Expr::value(metrics),
        )
        .col_expr(
            forecast_snapshot::Column::ProgressDone,
            Expr::col(forecast_snapshot::Column::ProgressTotal),
        )
        .col_expr(forecast_snapshot::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            forecast_snapshot::Column::Version,
            Expr::col(forecast_snapshot::Column::Version).add(1),
        )
        .filter(forecast_snapshot::Column::Id.eq(id))
        .filter(forecast_snapshot::Column::Status.eq(SnapshotStatus::Calculating))
        .exec(&txn)
        .await?;
    if done.rows_affected == 1 {
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    Ok(())
}
