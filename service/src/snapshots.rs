//! Forecast snapshots (SPEC §7): immutable, reproducible captures of a fund's state, calculated by an
//! outbox worker from the captured inputs alone.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::ExactDecimal;
use entity::forecast_snapshot::{self, SnapshotStatus};
use entity::job_outbox;
use entity::reserve_allocation::{self, AllocationSource};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::analytics::{PlanUpdate, PlanView, load_state, update_reserve_plan};
use crate::auth::Principal;
use crate::canonical::canonical_sha256;
use crate::error::{Error, FieldError, Result, unique_violation};
use crate::idempotency::{self, Idempotency, Outcome, Rendered};
use crate::metrics::{PortfolioMetrics, PortfolioState, compute};
use crate::outbox::{Handler, HandlerFuture};
use crate::pagination::{Cursor, Page, PageRequest};
use crate::reserves::{ENGINE_VERSION, ReservePlan, ReservePolicy, allocate};
use crate::{Database, Service, now};

pub const JOB_CALCULATE: &str = "snapshot.calculate";

/// A reserve allocation given by hand instead of by the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualAllocation {
    pub company_id: i64,
    pub planned_reserve_cents: i64,
    pub rationale: Option<String>,
}

/// What a snapshot captures: the whole input of its calculation. Its canonical form's SHA-256 is the
/// snapshot's `source_hash`; the snapshot's name is not an input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInputs {
    pub engine_version: String,
    pub state: PortfolioState,
    pub reserve_policy: Option<ReservePolicy>,
    pub manual_allocations: Option<Vec<ManualAllocation>>,
}

/// What the worker writes into `calculated_metrics`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalculatedMetrics {
    pub metrics: PortfolioMetrics,
    /// The engine's plan; `None` when the allocations were given by hand.
    pub reserve_plan: Option<ReservePlan>,
}

#[derive(Clone, Debug)]
pub struct NewSnapshot {
    pub name: String,
    pub reserve_policy: Option<ReservePolicy>,
    pub allocations: Option<Vec<ManualAllocation>>,
}

/// The snapshot a create answered with: a new one (202) or the existing capture of the same state (200).
pub enum Created {
    New(forecast_snapshot::Model),
    Existing(forecast_snapshot::Model),
}

/// The only status changes there are (SPEC §7.3).
pub fn can_transition(from: SnapshotStatus, to: SnapshotStatus) -> bool {
    use SnapshotStatus::*;
    matches!(
        (from, to),
        (Pending, Calculating) | (Pending, Error) | (Calculating, Complete) | (Calculating, Error)
    )
}

fn validate(input: &NewSnapshot) -> Result<()> {
    let mut errors = Vec::new();
    if input.name.trim().is_empty() || input.name.chars().count() > 255 {
        errors.push(FieldError::new("/name", "must be 1 to 255 characters"));
    }
    if let Some(policy) = &input.reserve_policy
        && let Err(Error::Validation(mut e)) = policy.validate("/reserve_policy")
    {
        errors.append(&mut e);
    }
    if let Some(allocations) = &input.allocations {
        let mut seen = HashSet::new();
        for (i, a) in allocations.iter().enumerate() {
            if a.planned_reserve_cents < 0 {
                errors.push(FieldError::new(
                    format!("/allocations/{i}/planned_reserve_cents"),
                    "must be 0 or more",
                ));
            }
            if !seen.insert(a.company_id) {
                errors.push(FieldError::new(
                    format!("/allocations/{i}/company_id"),
                    "appears more than once",
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// Captures the fund's state and queues its calculation, in one transaction (SPEC §7.1).
pub async fn create_snapshot(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    input: NewSnapshot,
    idem: Option<&Idempotency>,
    render: impl FnOnce(&Created) -> Rendered + Send,
) -> Result<Outcome> {
    principal.require_write(fund_id)?;
    validate(&input)?;
    let key = idem.map(|i| i.key.as_str().to_owned());
    idempotency::execute(
        &svc.db,
        idem,
        svc.idempotency_ttl,
        move |txn| {
            Box::pin(async move {
                let state = load_state(txn, fund_id).await?;
                if let Some(allocations) = &input.allocations {
                    let companies: HashSet<i64> = state.companies.iter().map(|c| c.id).collect();
                    let mut errors = Vec::new();
                    for (i, a) in allocations.iter().enumerate() {
                        if !companies.contains(&a.company_id) {
                            errors.push(FieldError::new(
                                format!("/allocations/{i}/company_id"),
                                format!("fund {fund_id} has no company {}", a.company_id),
                            ));
                        }
                    }
                    let available = allocate(&state, input.reserve_policy.as_ref().unwrap_or(&ReservePolicy::default())).available_cents;
                    let total: i128 = allocations.iter().map(|a| i128::from(a.planned_reserve_cents)).sum();
                    if total > i128::from(available) {
                        errors.push(FieldError::new(
                            "/allocations",
                            format!("total {total} exceeds the {available} cents of reserves available"),
                        ));
                    }
                    if !errors.is_empty() {
                        return Err(Error::Validation(errors));
                    }
                }
                let inputs = SnapshotInputs {
                    engine_version: ENGINE_VERSION.to_owned(),
                    state,
                    reserve_policy: input.reserve_policy.clone(),
                    manual_allocations: input.allocations.clone(),
                };
                let inputs_json = serde_json::to_value(&inputs).map_err(|e| Error::Invariant(e.to_string()))?;
                let source_hash = canonical_sha256(&inputs_json);

                // The same state captured before: that snapshot is the answer (a snapshot is a function
                // of its inputs). A concurrent capture of the same state is stopped by the unique index.
                if let Some(existing) = forecast_snapshot::Entity::find()
                    .filter(forecast_snapshot::Column::FundId.eq(fund_id))
                    .filter(forecast_snapshot::Column::SourceHash.eq(&source_hash))
                    .filter(forecast_snapshot::Column::Status.ne(SnapshotStatus::Error))
                    .one(txn)
                    .await?
                {
                    return Ok(Created::Existing(existing));
                }

                let at = now();
                let id = Uuid::now_v7();
                let snapshot = forecast_snapshot::ActiveModel {
                    id: Set(id),
                    fund_id: Set(fund_id),
                    name: Set(input.name.trim().to_owned()),
                    status: Set(SnapshotStatus::Pending),
                    source_hash: Set(source_hash),
                    inputs: Set(inputs_json),
                    calculated_metrics: Set(None),
                    error_message: Set(None),
                    progress_done: Set(0),
                    progress_total: Set(i32::try_from(inputs.state.companies.len()).unwrap_or(i32::MAX)),
                    snapshot_time: Set(at),
                    idempotency_key: Set(key),
                    created_at: Set(at),
                    updated_at: Set(at),
                    version: Set(1),
                }
                .insert(txn)
                .await?;
                for (i, a) in inputs.manual_allocations.iter().flatten().enumerate() {
                    allocation_model(id, fund_id, a.company_id, a.planned_reserve_cents, None, i + 1, a.rationale.clone(), AllocationSource::Manual, at)
                        .insert(txn)
                        .await?;
                }
                job_outbox::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    job_type: Set(JOB_CALCULATE.to_owned()),
                    fund_id: Set(Some(fund_id)),
                    dedupe_key: Set(Some(id.to_string())),
                    payload: Set(serde_json::json!({"snapshot_id": id})),
                    status: Set(job_outbox::JobStatus::Pending),
                    priority: Set(0),
                    attempt_count: Set(0),
                    max_attempts: Set(5),
                    next_run_at: Set(at),
                    locked_by: Set(None),
                    locked_at: Set(None),
                    completed_at: Set(None),
                    last_error: Set(None),
                    created_at: Set(at),
                    updated_at: Set(at),
                    version: Set(1),
                }
                .insert(txn)
                .await?;
                Ok(Created::New(snapshot))
            })
        },
        render,
    )
    .await
    .map_err(|e| match &e {
        Error::Database(db) if unique_violation(db).is_some_and(|m| m.contains("source_hash")) => Error::Conflict {
            code: "snapshot_in_progress",
            message: "the same fund state is being captured by another request; retry to get that snapshot".into(),
        },
        _ => e,
    })
}

#[allow(clippy::too_many_arguments)]
fn allocation_model(
    snapshot_id: Uuid,
    fund_id: i64,
    company_id: i64,
    cents: i64,
    score: Option<rust_decimal::Decimal>,
    priority: usize,
    rationale: Option<String>,
    source: AllocationSource,
    at: DateTime<Utc>,
) -> reserve_allocation::ActiveModel {
    reserve_allocation::ActiveModel {
        id: Set(Uuid::now_v7()),
        fund_id: Set(fund_id),
        snapshot_id: Set(snapshot_id),
        company_id: Set(company_id),
        planned_reserve_cents: Set(cents),
        allocation_score: Set(score.map(ExactDecimal)),
        priority: Set(i32::try_from(priority).unwrap_or(i32::MAX)),
        rationale: Set(rationale),
        source: Set(source),
        created_at: Set(at),
    }
}

/// The calculation, from the captured inputs only: the same inputs give the same bytes.
pub fn calculate(inputs: &SnapshotInputs, snapshot_time: DateTime<Utc>) -> CalculatedMetrics {
    let metrics = compute(&inputs.state, snapshot_time.date_naive());
    let reserve_plan = match inputs.manual_allocations {
        Some(_) => None,
        None => Some(allocate(
            &inputs.state,
            inputs
                .reserve_policy
                .as_ref()
                .unwrap_or(&ReservePolicy::default()),
        )),
    };
    CalculatedMetrics {
        metrics,
        reserve_plan,
    }
}

/// The outbox handler for `snapshot.calculate`.
pub struct Calculator;

impl Calculator {
    pub fn handler() -> Arc<dyn Handler> {
        Arc::new(Calculator)
    }

    async fn calculate_job(db: &Database, job: &job_outbox::Model) -> Result<()> {
        let id: Uuid = job
            .payload
            .get("snapshot_id")
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| Error::Invariant(format!("job {} has no snapshot_id", job.id)))?;
        let conn = db.connection();
        let Some(snapshot) = forecast_snapshot::Entity::find_by_id(id).one(conn).await? else {
            return Ok(()); // deleted meanwhile: nothing to do
        };
        if matches!(
            snapshot.status,
            SnapshotStatus::Complete | SnapshotStatus::Error
        ) {
            return Ok(()); // already done by an earlier run
        }
        if snapshot.status == SnapshotStatus::Pending {
            set_status(
                db,
                id,
                SnapshotStatus::Pending,
                SnapshotStatus::Calculating,
                None,
            )
            .await?;
        }
        let inputs: SnapshotInputs = serde_json::from_value(snapshot.inputs.clone())
            .map_err(|e| Error::Invariant(format!("snapshot {id} inputs: {e}")))?;
        let calculated = calculate(&inputs, snapshot.snapshot_time);
        let metrics_json =
            serde_json::to_value(&calculated).map_err(|e| Error::Invariant(e.to_string()))?;

        // Allocations and the status change in one transaction: a rerun either finds `complete` above or
        // rolls back on the unique (snapshot_id, company_id) index. Never a duplicate.
        let txn = conn.begin().await?;
        if let Some(plan) = &calculated.reserve_plan {
            let at = now();
            for a in &plan.allocations {
                allocation_model(
                    id,
                    snapshot.fund_id,
                    a.company_id,
                    a.planned_reserve_cents,
                    a.allocation_score,
                    a.priority as usize,
                    Some(a.rationale.clone()),
                    AllocationSource::Engine,
                    at,
                )
                .insert(&txn)
                .await?;
            }
        }
        let done = forecast_snapshot::Entity::update_many()
            .col_expr(
                forecast_snapshot::Column::Status,
                Expr::value(SnapshotStatus::Complete),
            )
            .col_expr(
                forecast_snapshot::Column::CalculatedMetrics,
                Expr::value(Some(metrics_json)),
            )
            .col_expr(
                forecast_snapshot::Column::ProgressDone,
                Expr::col(forecast_snapshot::Column::ProgressTotal),
            )
            .col_expr(forecast_snapshot::Column::UpdatedAt, Expr::value(now()))
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
}

async fn set_status(
    db: &Database,
    id: Uuid,
    from: SnapshotStatus,
    to: SnapshotStatus,
    message: Option<String>,
) -> Result<()> {
    if !can_transition(from, to) {
        return Err(Error::Conflict {
            code: "invalid_status_transition",
            message: format!("{from:?} → {to:?}"),
        });
    }
    forecast_snapshot::Entity::update_many()
        .col_expr(forecast_snapshot::Column::Status, Expr::value(to))
        .col_expr(
            forecast_snapshot::Column::ErrorMessage,
            Expr::value(message),
        )
        .col_expr(forecast_snapshot::Column::UpdatedAt, Expr::value(now()))
        .col_expr(
            forecast_snapshot::Column::Version,
            Expr::col(forecast_snapshot::Column::Version).add(1),
        )
        .filter(forecast_snapshot::Column::Id.eq(id))
        .filter(forecast_snapshot::Column::Status.eq(from))
        .exec(db.connection())
        .await?;
    Ok(())
}

impl Handler for Calculator {
    fn run<'a>(&'a self, db: &'a Database, job: &'a job_outbox::Model) -> HandlerFuture<'a> {
        Box::pin(async move {
            match Self::calculate_job(db, job).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    let message = e.to_string();
                    // The last attempt failed: the snapshot ends in `error` with the reason.
                    if job.attempt_count >= job.max_attempts
                        && let Some(id) = job
                            .payload
                            .get("snapshot_id")
                            .and_then(|v| v.as_str())
                            .and_then(|s| Uuid::parse_str(s).ok())
                    {
                        for from in [SnapshotStatus::Calculating, SnapshotStatus::Pending] {
                            let _ = set_status(
                                db,
                                id,
                                from,
                                SnapshotStatus::Error,
                                Some(message.clone()),
                            )
                            .await;
                        }
                    }
                    Err(message)
                }
            }
        })
    }
}

// ---- reads and edits ----

/// A snapshot the caller may read; another fund's snapshot is simply not found (SPEC §13).
pub async fn get_snapshot(
    svc: &Service,
    principal: &Principal,
    id: Uuid,
) -> Result<forecast_snapshot::Model> {
    let snapshot = forecast_snapshot::Entity::find_by_id(id)
        .one(svc.db.connection())
        .await?;
    match snapshot {
        Some(s) if principal.may_read(s.fund_id) => Ok(s),
        _ => Err(Error::not_found("snapshot", id)),
    }
}

pub async fn list_snapshots(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    status: Option<SnapshotStatus>,
    page: PageRequest,
) -> Result<Page<forecast_snapshot::Model>> {
    principal.require_read(fund_id)?;
    let mut query = forecast_snapshot::Entity::find()
        .filter(forecast_snapshot::Column::FundId.eq(fund_id))
        .order_by_desc(forecast_snapshot::Column::SnapshotTime)
        .order_by_desc(forecast_snapshot::Column::Id)
        .limit(page.limit + 1);
    if let Some(s) = status {
        query = query.filter(forecast_snapshot::Column::Status.eq(s));
    }
    if let Some(c) = page.after {
        let (t, id) = c.as_time_uuid()?;
        query = query.filter(
            Condition::any()
                .add(forecast_snapshot::Column::SnapshotTime.lt(t))
                .add(
                    Condition::all()
                        .add(forecast_snapshot::Column::SnapshotTime.eq(t))
                        .add(forecast_snapshot::Column::Id.lt(id)),
                ),
        );
    }
    let rows = query.all(svc.db.connection()).await?;
    Ok(Page::from_rows(rows, page.limit, |s| {
        Cursor::TimeUuid(s.snapshot_time, s.id)
    }))
}

pub async fn allocations(
    svc: &Service,
    principal: &Principal,
    id: Uuid,
) -> Result<Vec<reserve_allocation::Model>> {
    let snapshot = get_snapshot(svc, principal, id).await?;
    Ok(reserve_allocation::Entity::find()
        .filter(reserve_allocation::Column::SnapshotId.eq(snapshot.id))
        .order_by_asc(reserve_allocation::Column::Priority)
        .order_by_asc(reserve_allocation::Column::CompanyId)
        .all(svc.db.connection())
        .await?)
}

pub async fn rename_snapshot(
    svc: &Service,
    principal: &Principal,
    id: Uuid,
    expected_version: i64,
    name: String,
) -> Result<forecast_snapshot::Model> {
    let snapshot = get_snapshot(svc, principal, id).await?;
    principal.require_write(snapshot.fund_id)?;
    if name.trim().is_empty() || name.chars().count() > 255 {
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
    let current = forecast_snapshot::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("snapshot", id))?;
    if result.rows_affected == 0 {
        return Err(Error::VersionConflict {
            current_version: current.version,
        });
    }
    Ok(current)
}

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
    let current = forecast_snapshot::Entity::find_by_id(id)
        .one(svc.db.connection())
        .await?;
    Err(match current {
        None => Error::not_found("snapshot", id),
        Some(s) => Error::VersionConflict {
            current_version: s.version,
        },
    })
}

/// Copies a complete snapshot's allocations into the fund's reserve plan, under the plan's version.
pub async fn apply_snapshot(
    svc: &Service,
    principal: &Principal,
    id: Uuid,
    expected_version: i64,
) -> Result<PlanView> {
    let snapshot = get_snapshot(svc, principal, id).await?;
    principal.require_write(snapshot.fund_id)?;
    if snapshot.status != SnapshotStatus::Complete {
        return Err(Error::Conflict {
            code: "snapshot_not_complete",
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
            code: "snapshot_has_no_allocations",
            message: "the snapshot allocates nothing".into(),
        });
    }
    let updates = rows
        .iter()
        .map(|a| PlanUpdate {
            company_id: a.company_id,
            planned_reserves_cents: a.planned_reserve_cents,
            allocation_cap_cents: None,
        })
        .collect();
    update_reserve_plan(svc, principal, snapshot.fund_id, expected_version, updates).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_status_transitions_are_allowed() {
        use SnapshotStatus::*;
        let all = [Pending, Calculating, Complete, Error];
        let allowed: Vec<(SnapshotStatus, SnapshotStatus)> = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| can_transition(*a, *b))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Pending, Calculating),
                (Pending, Error),
                (Calculating, Complete),
                (Calculating, Error)
            ]
        );
    }
}
