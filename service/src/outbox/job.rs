//! Kinds of job (SPEC §8). A [`Job`] is typed: its name, its payload (serde), its error, what a run does
//! and what giving up does to the resource it serves. [`Handlers`] registers each as a [`Handler`], the
//! erased form the worker runs (a raw row in, a stored message out), so that one path — claim, run,
//! retry with backoff, give up — serves every kind (`outbox::run_once`, `outbox::reap_expired_leases`).
//!
//! Adding a kind of job: one file beside the resource it serves with a `Job` impl, the job row queued by
//! [`queue`] in the transaction of the rows that need it, and one `.job(…)` line in
//! `api::app::job_handlers`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::job_outbox::{self, JobStatus};
use serde::de::DeserializeOwned;
use serde::{Deserialize as _, Serialize};
use uuid::Uuid;

use crate::db::Database;
use crate::error::{Error, Result, error_chain};

/// A kind of job. Runs must be idempotent: a job may run more than once (after a crash, or a lease that
/// ran out), and running it twice must leave the same rows.
pub trait Job: Send + Sync + 'static {
    /// The `job_type` of its rows.
    const NAME: &'static str;
    /// Attempts before it fails for good.
    const MAX_ATTEMPTS: i32;
    /// What a row of this kind carries, as JSON.
    type Payload: Serialize + DeserializeOwned + Send + Sync;
    type Error: std::error::Error + Send + Sync + 'static;

    fn run(
        &self,
        db: &Database,
        payload: &Self::Payload,
    ) -> impl Future<Output = std::result::Result<(), Self::Error>> + Send;

    /// The job has failed for good — its last attempt failed, or its worker stopped during it — with
    /// `reason`: leave what it served in a final state (a snapshot in `error`). Idempotent. By default
    /// nothing.
    fn give_up(
        &self,
        db: &Database,
        payload: &Self::Payload,
        reason: &str,
    ) -> impl Future<Output = std::result::Result<(), Self::Error>> + Send {
        let _ = (db, payload, reason);
        async { Ok(()) }
    }

    /// This kind of job as the worker runs it.
    fn erased(self) -> Arc<dyn Handler>
    where
        Self: Sized,
    {
        Arc::new(Typed(self))
    }
}

pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = std::result::Result<(), String>> + Send + 'a>>;

/// A job kind as the worker runs it: a row in, the message to store on failure out. Every [`Job`] is one
/// (through [`Handlers::job`]); tests register synthetic ones directly.
pub trait Handler: Send + Sync {
    fn run<'a>(&'a self, db: &'a Database, job: &'a job_outbox::Model) -> HandlerFuture<'a>;

    /// See [`Job::give_up`]. By default nothing.
    fn give_up<'a>(
        &'a self,
        db: &'a Database,
        job: &'a job_outbox::Model,
        reason: &'a str,
    ) -> HandlerFuture<'a> {
        let _ = (db, job, reason);
        Box::pin(async { Ok(()) })
    }
}

/// A [`Job`] erased to a [`Handler`]: the payload parsed into its type, the error written as text.
struct Typed<J>(J);

impl<J: Job> Typed<J> {
    fn payload(job: &job_outbox::Model) -> std::result::Result<J::Payload, String> {
        J::Payload::deserialize(&job.payload)
            .map_err(|e| format!("the payload of a {} job does not parse: {e}", J::NAME))
    }
}

impl<J: Job> Handler for Typed<J> {
    fn run<'a>(&'a self, db: &'a Database, job: &'a job_outbox::Model) -> HandlerFuture<'a> {
        Box::pin(async move {
            let payload = Self::payload(job)?;
            self.0.run(db, &payload).await.map_err(|e| e.to_string())
        })
    }

    fn give_up<'a>(
        &'a self,
        db: &'a Database,
        job: &'a job_outbox::Model,
        reason: &'a str,
    ) -> HandlerFuture<'a> {
        Box::pin(async move {
            let payload = Self::payload(job)?;
            self.0
                .give_up(db, &payload, reason)
                .await
                .map_err(|e| error_chain(&e))
        })
    }
}

/// The handlers a worker knows, by job type.
#[derive(Clone, Default)]
pub struct Handlers {
    pub(super) map: HashMap<String, Arc<dyn Handler>>,
}

impl Handlers {
    /// Registers a kind of job under its name.
    pub fn job<J: Job>(self, job: J) -> Self {
        self.with(J::NAME, job.erased())
    }

    /// Registers an erased handler under `job_type` (synthetic jobs in tests).
    pub fn with(mut self, job_type: &str, handler: Arc<dyn Handler>) -> Self {
        self.map.insert(job_type.to_owned(), handler);
        self
    }
}

/// The row of a new pending job of kind `J`, due at `at`: inserted by the queueing site in the
/// transaction of the rows that need it. `dedupe_key` makes a second queueing of the same work a unique
/// violation instead of a second job.
pub fn queue<J: Job>(
    fund_id: Option<i64>,
    dedupe_key: Option<String>,
    payload: &J::Payload,
    at: DateTime<Utc>,
) -> Result<job_outbox::ActiveModel> {
    use sea_orm::ActiveValue::Set;
    let payload = serde_json::to_value(payload)
        .map_err(|e| Error::Invariant(format!("the payload of a {} job: {e}", J::NAME)))?;
    Ok(job_outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        job_type: Set(J::NAME.to_owned()),
        fund_id: Set(fund_id),
        dedupe_key: Set(dedupe_key),
        payload: Set(payload),
        status: Set(JobStatus::Pending),
        priority: Set(0),
        attempt_count: Set(0),
        max_attempts: Set(J::MAX_ATTEMPTS),
        next_run_at: Set(at),
        locked_by: Set(None),
        locked_at: Set(None),
        completed_at: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        version: Set(1),
    })
}
