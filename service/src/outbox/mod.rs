//! The job outbox (SPEC §8): jobs are rows written in the same transaction as the rows that need them,
//! claimed by workers, retried with exponential backoff, and returned to the queue when a worker's lease
//! runs out.
//!
//! Claiming is one statement. On PostgreSQL it selects with `FOR UPDATE SKIP LOCKED`, so any number of
//! workers in any number of processes never claim the same job; on SQLite (one connection, one writer)
//! the same `UPDATE … RETURNING` is atomic by construction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::job_outbox::{self, JobStatus};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseBackend, EntityTrait, ExprTrait, QueryFilter, Statement, Value,
};
use uuid::Uuid;

use crate::db::{Database, now};
use crate::error::{Error, Result};

mod job;
pub use job::{Handler, HandlerFuture, Handlers, Job, queue};

/// How long a claimed job may run before the reaper hands it to another worker.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(300);
/// Backoff after the n-th failed attempt: `min(2^n, 300)` seconds.
pub fn backoff(attempt: i32) -> chrono::Duration {
    let secs = std::cmp::min(
        2i64.checked_pow(attempt.clamp(0, 30) as u32)
            .unwrap_or(i64::MAX),
        300,
    );
    chrono::Duration::seconds(secs)
}

/// Claims the next due job for `worker`, or `None`.
#[tracing::instrument(skip_all)]
pub async fn claim(
    db: &Database,
    worker: &str,
    at: DateTime<Utc>,
) -> Result<Option<job_outbox::Model>> {
    let conn = db.connection();
    let backend = conn.get_database_backend();
    let (sql, values): (&str, Vec<Value>) = match backend {
        DatabaseBackend::Postgres => (
            "UPDATE job_outbox SET status = 'processing', locked_by = $1, locked_at = $2, \
               attempt_count = attempt_count + 1, updated_at = $2, version = version + 1 \
             WHERE id = (SELECT id FROM job_outbox WHERE status = 'pending' AND next_run_at <= $2 \
                         ORDER BY priority, next_run_at FOR UPDATE SKIP LOCKED LIMIT 1) \
             RETURNING *",
            vec![worker.into(), at.into()],
        ),
        _ => (
            "UPDATE job_outbox SET status = 'processing', locked_by = ?, locked_at = ?, \
               attempt_count = attempt_count + 1, updated_at = ?, version = version + 1 \
             WHERE id = (SELECT id FROM job_outbox WHERE status = 'pending' AND next_run_at <= ? \
                         ORDER BY priority, next_run_at LIMIT 1) \
             RETURNING *",
            vec![worker.into(), at.into(), at.into(), at.into()],
        ),
    };
    let stmt = Statement::from_sql_and_values(backend, sql, values);
    Ok(job_outbox::Entity::find()
        .from_raw_sql(stmt)
        .one(conn)
        .await?)
}

async fn finish(
    db: &Database,
    job: &job_outbox::Model,
    outcome: std::result::Result<(), String>,
    at: DateTime<Utc>,
) -> Result<()> {
    let mut update = released(at).col_expr(
        job_outbox::Column::Version,
        Expr::col(job_outbox::Column::Version).add(1),
    );
    update = match outcome {
        Ok(()) => update
            .col_expr(
                job_outbox::Column::Status,
                Expr::value(JobStatus::Completed),
            )
            .col_expr(job_outbox::Column::CompletedAt, Expr::value(Some(at))),
        Err(message) if job.attempt_count >= job.max_attempts => update
            .col_expr(job_outbox::Column::Status, Expr::value(JobStatus::Failed))
            .col_expr(job_outbox::Column::LastError, Expr::value(Some(message))),
        Err(message) => update
            .col_expr(job_outbox::Column::Status, Expr::value(JobStatus::Pending))
            .col_expr(
                job_outbox::Column::NextRunAt,
                Expr::value(at + backoff(job.attempt_count)),
            )
            .col_expr(job_outbox::Column::LastError, Expr::value(Some(message))),
    };
    // Only while we still hold the job: a worker whose lease was reaped must not overwrite the new holder.
    update
        .filter(job_outbox::Column::Id.eq(job.id))
        .filter(job_outbox::Column::Status.eq(JobStatus::Processing))
        .filter(job_outbox::Column::LockedBy.eq(job.locked_by.clone()))
        .exec(db.connection())
        .await?;
    Ok(())
}

/// Claims and runs at most one due job; returns whether there was one.
#[tracing::instrument(skip_all)]
pub async fn run_once(
    db: &Database,
    handlers: &Handlers,
    worker: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    let Some(job) = claim(db, worker, at).await? else {
        return Ok(false);
    };
    let handler = handlers.map.get(&job.job_type);
    let outcome = match handler {
        Some(handler) => handler.run(db, &job).await,
        None => Err(format!("no handler for job type {}", job.job_type)),
    };
    if let Err(message) = &outcome {
        tracing::warn!(job = %job.id, job_type = %job.job_type, attempt = job.attempt_count, error = %message, "job failed");
        if job.attempt_count >= job.max_attempts
            && let Some(handler) = handler
        {
            // The last attempt: what the job served is left in a final state before the job is.
            give_up(db, handler.as_ref(), &job, message).await;
        }
    }
    finish(db, &job, outcome, std::cmp::max(now(), at)).await?;
    Ok(true)
}

/// Runs the handler's [`Handler::give_up`]; a failure — a status write the database refused — is
/// logged with its cause, since the job is failed all the same and nothing else would report it.
async fn give_up(db: &Database, handler: &dyn Handler, job: &job_outbox::Model, reason: &str) {
    if let Err(error) = handler.give_up(db, job, reason).await {
        tracing::error!(
            job = %job.id,
            job_type = %job.job_type,
            %error,
            "giving up the job failed: what it served may be left unfinished"
        );
    }
}

/// An update of jobs that releases their lease (no worker holds them any more) at `at`.
fn released(at: DateTime<Utc>) -> sea_orm::UpdateMany<job_outbox::Entity> {
    job_outbox::Entity::update_many()
        .col_expr(
            job_outbox::Column::LockedBy,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            job_outbox::Column::LockedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job_outbox::Column::UpdatedAt, Expr::value(at))
}

/// What a job that died with its worker on its last attempt records as its error.
pub const LEASE_EXPIRED_ON_LAST_ATTEMPT: &str =
    "the worker running the job's last attempt stopped before finishing it (its lease expired)";

/// Jobs whose lease ran out (claimed before `at − lease`): back to the queue, unless that was their last
/// attempt; then they are `failed` (a job that kills its process is not retried forever, SPEC §8) and
/// their handler's [`Handler::give_up`] runs. Returns how many jobs were reaped.
#[tracing::instrument(skip_all)]
pub async fn reap_expired_leases(
    db: &Database,
    handlers: &Handlers,
    lease: Duration,
    at: DateTime<Utc>,
) -> Result<u64> {
    let cutoff =
        at - chrono::Duration::from_std(lease).map_err(|e| Error::Invariant(e.to_string()))?;
    let expired = || {
        Condition::all()
            .add(job_outbox::Column::Status.eq(JobStatus::Processing))
            .add(job_outbox::Column::LockedAt.lt(cutoff))
    };
    let exhausted = || {
        Expr::col(job_outbox::Column::AttemptCount).gte(Expr::col(job_outbox::Column::MaxAttempts))
    };
    let dead = job_outbox::Entity::find()
        .filter(expired())
        .filter(exhausted())
        .all(db.connection())
        .await?;
    let mut reaped = 0;
    for job in dead {
        let failed = released(at)
            .col_expr(job_outbox::Column::Status, Expr::value(JobStatus::Failed))
            .col_expr(
                job_outbox::Column::LastError,
                Expr::value(Some(LEASE_EXPIRED_ON_LAST_ATTEMPT)),
            )
            .filter(job_outbox::Column::Id.eq(job.id))
            .filter(expired())
            .exec(db.connection())
            .await?;
        // Only the reaper that moved the job gives it up (another process may reap at the same time).
        if failed.rows_affected == 1 {
            reaped += 1;
            tracing::warn!(job = %job.id, job_type = %job.job_type, "job failed: {LEASE_EXPIRED_ON_LAST_ATTEMPT}");
            if let Some(handler) = handlers.map.get(&job.job_type) {
                give_up(db, handler.as_ref(), &job, LEASE_EXPIRED_ON_LAST_ATTEMPT).await;
            }
        }
    }
    let requeued = released(at)
        .col_expr(job_outbox::Column::Status, Expr::value(JobStatus::Pending))
        .col_expr(job_outbox::Column::NextRunAt, Expr::value(at))
        .filter(expired())
        .filter(exhausted().not())
        .exec(db.connection())
        .await?;
    Ok(reaped + requeued.rows_affected)
}

/// How long an idle worker waits before looking for due jobs again (unless its doorbell rings): the
/// latency of a job queued by another process, or due after a backoff.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// A worker loop: runs due jobs until `stop` turns true, sleeping briefly when idle, reaping expired
/// leases now and then.
#[tracing::instrument(skip_all)]
pub async fn run_worker(
    db: Database,
    handlers: Handlers,
    lease: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let worker = format!("{}:{}", std::process::id(), Uuid::now_v7());
    let mut idle_rounds = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        let at = now();
        if idle_rounds.is_multiple_of(50)
            && let Err(e) = reap_expired_leases(&db, &handlers, lease, at).await
        {
            tracing::warn!(error = %e, "lease reaper failed");
        }
        match run_once(&db, &handlers, &worker, at).await {
            Ok(true) => idle_rounds = 0,
            Ok(false) => {
                idle_rounds = idle_rounds.wrapping_add(1);
                tokio::select! {
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = db.jobs_queued().rung() => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                if e.means_database_lost() {
                    db.report_unavailable();
                }
                tracing::warn!(error = %e, "worker could not claim a job; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

/// Jobs by type and status: the outbox's depth and outcomes, for `/metrics`.
pub async fn counts(db: &Database) -> Result<Vec<(String, String, i64)>> {
    use sea_orm::{EntityTrait, QuerySelect};
    let rows = job_outbox::Entity::find()
        .select_only()
        .column(job_outbox::Column::JobType)
        .column(job_outbox::Column::Status)
        .column_as(Expr::cust("COUNT(*)"), "jobs")
        .group_by(job_outbox::Column::JobType)
        .group_by(job_outbox::Column::Status)
        .into_tuple::<(String, String, i64)>()
        .all(db.connection())
        .await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_stops_at_five_minutes() {
        assert_eq!(backoff(1).num_seconds(), 2);
        assert_eq!(backoff(2).num_seconds(), 4);
        assert_eq!(backoff(8).num_seconds(), 256);
        assert_eq!(backoff(9).num_seconds(), 300);
        assert_eq!(backoff(40).num_seconds(), 300);
    }
}
