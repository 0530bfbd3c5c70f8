//! Invalidation by matrix, fund or all, in **both** tiers (SPEC §9), and the statistics.
//!
//! The first tier is cleared before and after the database update: a read that took the row before the
//! update and warms the first tier after the first clearing is undone by the second. If the first tier
//! cannot be reached, the clearing is queued as an outbox job that retries until it can (a restarted
//! Redis must not serve what was invalidated while it was down).

use sea_orm::ActiveModelTrait;

use super::clearing::clearing_job;
use super::first_tier::FirstTier;
use super::stats::StatsSnapshot;
use super::store::{self, Scope};
use crate::auth::Principal;
use crate::context::Service;
use crate::error::{Error, Result};

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
        clearing_job(&scope, &keys)?.insert(conn).await?;
    }
    Ok(Invalidation {
        rows,
        first_tier_cleared: cleared,
    })
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
