//! Who is calling and what they may do (SPEC §13).
//!
//! A key is `updog_` followed by 43 URL-safe base64 characters (256 random bits). Only its SHA-256
//! digest is stored. Lookups are cached for [`KEY_CACHE_TTL`], so a revocation takes effect within that
//! time on every process (and at once on the process that revoked it). Keys themselves are a resource
//! of their own: [`crate::api_keys`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use entity::api_key::{self, Role};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use crate::canonical::sha256_hex;
use crate::db::Database;
use crate::error::{Error, Result};

pub const KEY_PREFIX: &str = "updog_";
/// How long a successful key lookup is trusted without asking the database again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub key_id: Uuid,
    pub role: Role,
    /// Funds a writer or reader may use; ignored for admins.
    pub funds: Vec<i64>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn may_read(&self, fund_id: i64) -> bool {
        self.is_admin() || self.funds.contains(&fund_id)
    }

    pub fn may_write(&self, fund_id: i64) -> bool {
        self.is_admin() || (self.role == Role::Writer && self.funds.contains(&fund_id))
    }

    /// 403 unless the caller may read fund `fund_id`.
    pub fn require_read(&self, fund_id: i64) -> Result<()> {
        if self.may_read(fund_id) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "this API key has no access to fund {fund_id}"
            )))
        }
    }

    /// 403 unless the caller may write to fund `fund_id`.
    pub fn require_write(&self, fund_id: i64) -> Result<()> {
        if self.may_write(fund_id) {
            Ok(())
        } else if self.may_read(fund_id) {
            Err(Error::Forbidden(format!(
                "this API key may only read fund {fund_id}"
            )))
        } else {
            Err(Error::Forbidden(format!(
                "this API key has no access to fund {fund_id}"
            )))
        }
    }

    pub fn require_admin(&self) -> Result<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::Forbidden("this requires an admin API key".into()))
        }
    }

    /// The funds a list may show: `None` means all (admin).
    pub fn fund_filter(&self) -> Option<&[i64]> {
        if self.is_admin() {
            None
        } else {
            Some(&self.funds)
        }
    }
}

/// A short-lived cache of key digest → principal.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl KeyCache {
    fn get(&self, digest: &str) -> Option<Principal> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(digest)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL)
            .map(|(p, _)| p.clone())
    }

    fn put(&self, digest: String, principal: Principal) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 10_000 {
                entries.retain(|_, (_, at)| at.elapsed() < KEY_CACHE_TTL);
            }
            entries.insert(digest, (principal, Instant::now()));
        }
    }

    pub(crate) fn evict_key(&self, key_id: Uuid) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (p, _)| p.key_id != key_id);
        }
    }
}

/// The stored form of a key: the SHA-256 hex of its secret.
pub fn digest(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

fn fund_scope(model: &api_key::Model) -> Vec<i64> {
    match &model.fund_scope {
        Value::Array(items) => items.iter().filter_map(Value::as_i64).collect(),
        _ => Vec::new(),
    }
}

pub fn principal_of(model: &api_key::Model) -> Principal {
    Principal {
        key_id: model.id,
        role: model.role,
        funds: fund_scope(model),
    }
}

/// The principal for a bearer token, or `Unauthenticated`.
#[tracing::instrument(skip_all)]
pub async fn authenticate(db: &Database, cache: &KeyCache, token: &str) -> Result<Principal> {
    if !token.starts_with(KEY_PREFIX) || token.len() > 128 {
        return Err(Error::Unauthenticated);
    }
    let digest = digest(token);
    if let Some(principal) = cache.get(&digest) {
        return Ok(principal);
    }
    let found = api_key::Entity::find()
        .filter(api_key::Column::KeyDigest.eq(&digest))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(db.connection())
        .await?;
    let model = found.ok_or(Error::Unauthenticated)?;
    let principal = principal_of(&model);
    cache.put(digest, principal.clone());
    Ok(principal)
}
