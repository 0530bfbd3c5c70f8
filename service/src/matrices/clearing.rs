//! Clearing the first tier when it cannot be reached at once: an outbox job (`JOB_CLEAR`) that retries
//! until it can, so that a restarted Redis never serves what was invalidated or deleted while it was
//! down. Used by invalidation and by fund deletion (this file imports neither, so neither imports the
//! other through it).

use std::sync::Arc;

use entity::job_outbox;
use sea_orm::ActiveModelTrait;
use serde_json::json;

use super::store::Scope;
use super::tier::FirstTier;
use crate::context::Service;
use crate::db::{Database, now};
use crate::error::Result;
use crate::outbox::{Handler, HandlerFuture};

/// The job that clears first-tier entries that could not be cleared at once.
pub const JOB_CLEAR: &str = "clear_matrix_cache";
/// Attempts of a queued clearing: with back-off capped at 5 minutes, a day — the first tier's TTL.
const CLEAR_ATTEMPTS: i32 = 300;

/// Clears the first-tier entries of a deleted fund (its rows went with it, by cascade).
pub async fn forget_fund(svc: &Service, keys: Vec<String>) -> Result<()> {
    if keys.is_empty() || svc.matrices.first.remove(&keys).await {
        return Ok(());
    }
    clearing_job(&Scope::Fund(0), &keys)
        .insert(svc.db.connection())
        .await?;
    Ok(())
}

/// The outbox row that clears `keys` (or everything, for `Scope::All`) from the first tier.
pub fn clearing_job(scope: &Scope, keys: &[String]) -> job_outbox::ActiveModel {
    let payload = match scope {
        Scope::All => json!({"all": true}),
        _ => json!({"keys": keys}),
    };
    crate::outbox::pending_job(JOB_CLEAR, None, None, payload, CLEAR_ATTEMPTS, now())
}

/// Runs queued clearings against the first tier.
pub struct Clearer {
    first: FirstTier,
}

impl Clearer {
    pub fn handler(first: FirstTier) -> Arc<dyn Handler> {
        Arc::new(Self { first })
    }
}

impl Handler for Clearer {
    fn run<'a>(&'a self, _db: &'a Database, job: &'a job_outbox::Model) -> HandlerFuture<'a> {
        Box::pin(async move {
            let all = job.payload.get("all").and_then(|v| v.as_bool()) == Some(true);
            let keys: Vec<String> = job
                .payload
                .get("keys")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            let done = if all {
                self.first.clear().await
            } else {
                self.first.remove(&keys).await
            };
            if done {
                Ok(())
            } else {
                Err("the first tier is unreachable".to_owned())
            }
        })
    }
}
