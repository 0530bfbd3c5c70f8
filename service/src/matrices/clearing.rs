//! Clearing the first tier when it cannot be reached at once: an outbox job (`JOB_CLEAR`) that retries
//! until it can, so that a restarted Redis never serves what was invalidated or deleted while it was
//! down. Used by invalidation and by fund deletion (this file imports neither, so neither imports the
//! other through it).

use entity::job_outbox;
use sea_orm::ActiveModelTrait;
use serde::{Deserialize, Serialize};

use super::first_tier::FirstTier;
use super::store::Scope;
use crate::context::Service;
use crate::db::{Database, now};
use crate::error::Result;
use crate::outbox::Job;

/// The job that clears first-tier entries that could not be cleared at once.
pub const JOB_CLEAR: &str = "clear_matrix_cache";

/// Clears the first-tier entries of a deleted fund (its rows went with it, by cascade).
pub async fn forget_fund(svc: &Service, keys: Vec<String>) -> Result<()> {
    if keys.is_empty() || svc.matrices.first.remove(&keys).await {
        return Ok(());
    }
    clearing_job(&Scope::Fund(0), &keys)?
        .insert(svc.db.connection())
        .await?;
    Ok(())
}

/// The first-tier keys a job clears: all of them, or these.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ClearKeys {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
}

/// The outbox row that clears first-tier keys once Redis answers again (SPEC §9).
pub fn clearing_job(scope: &Scope, keys: &[String]) -> Result<job_outbox::ActiveModel> {
    let payload = match scope {
        Scope::All => ClearKeys {
            all: true,
            keys: None,
        },
        _ => ClearKeys {
            all: false,
            keys: Some(keys.to_vec()),
        },
    };
    crate::outbox::queue::<Clearer>(None, None, &payload, now())
}

/// The job that clears first-tier keys.
pub struct Clearer {
    first: FirstTier,
}

impl Clearer {
    pub fn new(first: FirstTier) -> Self {
        Self { first }
    }
}

/// The first tier could not be reached; the job is retried.
#[derive(Debug, thiserror::Error)]
#[error("the first tier is unreachable")]
pub struct Unreachable;

impl Job for Clearer {
    const NAME: &'static str = JOB_CLEAR;
    /// With back-off capped at 5 minutes, a day — the first tier's TTL.
    const MAX_ATTEMPTS: i32 = 300;
    type Payload = ClearKeys;
    type Error = Unreachable;

    async fn run(&self, _db: &Database, job: &ClearKeys) -> std::result::Result<(), Unreachable> {
        let done = if job.all {
            self.first.clear().await
        } else {
            self.first
                .remove(job.keys.as_deref().unwrap_or_default())
                .await
        };
        if done { Ok(()) } else { Err(Unreachable) }
    }
}
