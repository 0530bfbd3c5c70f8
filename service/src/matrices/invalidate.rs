//! Invalidation by matrix, fund or all, in **both** tiers (SPEC §9), and the statistics.
//!
//! The first tier is cleared before and after the database update: a read that took the row before the
//! update and warms the first tier after the first clearing is undone by the second. If the first tier
//! cannot be reached, the clearing is queued as an outbox job that retries until it can (a restarted
//! Redis must not serve what was invalidated while it was down).

use std::sync::Arc;

use entity::job_outbox;
use sea_orm::ActiveModelTrait;
use sea_orm::ActiveValue::Set;
use serde_json::json;
use uuid::Uuid;

use super::stats::StatsSnapshot;
use super::store::{self, Scope};
use super::tier::FirstTier;
use crate::auth::Principal;
use crate::context::Service;
use crate::db::{Database, now};
use crate::error::{Error, Result};
use crate::outbox::{Handler, HandlerFuture};

/// The job that clears first-tier entries that could not be cleared at once.
pub const JOB_CLEAR: &str = "clear_matrix_cache";
/// Attempts of a queued clearing: with back-off capped at 5 minutes, a day — the first tier's TTL.
const CLEAR_ATTEMPTS: i32 = 300;

/// What an invalidation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalidation {
    /// Database rows moved to `invalidated`.
    pub rows: u64,
    /// `true`: the first tier is clear; `false`: it was unreachable and its clearing is queued.
    pub first_tier_cleared: bool,
}

/// Clears the first-tier entries of `scope` (`keys` for a matrix or fund).
async fn clear(first: &FirstTier, scope: &Scope, keys: &[String]) -> bool {
    match scope {
        Scope::All => first.clear().await,
        Scope::Matrix(_) | Scope::Fund(_) => first.remove(keys).await,
    }
}

/// Invalidates the matrices of `scope` (SPEC §12 `POST /cache/invalidate`): a matrix or a fund needs
/// write access to its fund (another fund's matrix is not found), all needs an admin.
#[tracing::instrument(skip_all, fields(scope = ?scope))]
pub async fn invalidate(
    svc: &Service,
    principal: &Principal,
    scope: Scope,
) -> Result<Invalidation> {
    let conn = svc.db.connection();
    let keys = match &scope {
        Scope::Matrix(key) => {
            match store::find(conn, key).await? {
                Some(row) if principal.may_read(row.fund_id) => {
                    principal.require_write(row.fund_id)?
                }
                _ => return Err(Error::not_found("scenario matrix", key)),
            }
            vec![key.clone()]
        }
        Scope::Fund(fund_id) => {
            principal.require_write(*fund_id)?;
            crate::funds::require(conn, *fund_id).await?;
            store::keys_of_fund(conn, *fund_id).await?
        }
        Scope::All => {
            principal.require_admin()?;
            Vec::new()
        }
    };
    let first = &svc.matrices.first;
    let before = clear(first, &scope, &keys).await;
    let rows = store::invalidate(conn, &scope).await?.len() as u64;
    let cleared = before && clear(first, &scope, &keys).await;
    if !cleared {
        tracing::warn!("the first tier could not be cleared; the clearing is queued");
        clearing_job(&scope, &keys).insert(conn).await?;
    }
    Ok(Invalidation {
        rows,
        first_tier_cleared: cleared,
    })
}

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

fn clearing_job(scope: &Scope, keys: &[String]) -> job_outbox::ActiveModel {
    let at = now();
    let payload = match scope {
        Scope::All => json!({"all": true}),
        _ => json!({"keys": keys}),
    };
    job_outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        job_type: Set(JOB_CLEAR.to_owned()),
        fund_id: Set(None),
        dedupe_key: Set(None),
        payload: Set(payload),
        status: Set(job_outbox::JobStatus::Pending),
        priority: Set(0),
        attempt_count: Set(0),
        max_attempts: Set(CLEAR_ATTEMPTS),
        next_run_at: Set(at),
        locked_by: Set(None),
        locked_at: Set(None),
        completed_at: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        version: Set(1),
    }
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

/// The statistics and what is stored.
pub struct CacheStats {
    pub first_tier: &'static str,
    pub counters: StatsSnapshot,
    pub database_rows: i64,
    pub database_bytes: i64,
    pub memory_bytes: Option<u64>,
}

/// The cache's statistics (admin only: they cover every fund).
pub async fn cache_stats(svc: &Service, principal: &Principal) -> Result<CacheStats> {
    principal.require_admin()?;
    let (rows, bytes) = store::bytes_stored(svc.db.connection()).await?;
    let m = &svc.matrices;
    Ok(CacheStats {
        first_tier: m.first.name(),
        counters: m.stats.snapshot(),
        database_rows: rows,
        database_bytes: bytes,
        memory_bytes: m.first.memory_bytes(),
    })
}
