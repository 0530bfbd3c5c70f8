//! API keys and what they allow (SPEC §13).
//!
//! A key is `updog_` followed by 43 URL-safe base64 characters (256 random bits). Only its SHA-256
//! digest is stored. Lookups are cached for [`KEY_CACHE_TTL`], so a revocation takes effect within that
//! time on every process (and at once on the process that revoked it).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::api_key::{self, Role};
use sea_orm::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, sea_query::Expr,
};
use serde_json::Value;
use uuid::Uuid;

use crate::canonical::sha256_hex;
use crate::error::{Error, FieldError, Result, unique_violation};
use crate::{Database, now};

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

    fn evict_key(&self, key_id: Uuid) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (p, _)| p.key_id != key_id);
        }
    }
}

/// A newly minted key: the stored row and the secret, which is shown once and never again.
#[derive(Debug)]
pub struct MintedKey {
    pub key: api_key::Model,
    pub secret: String,
}

/// What a new key may do.
#[derive(Clone, Debug)]
pub struct NewKey {
    pub name: String,
    pub role: Role,
    pub funds: Vec<i64>,
}

impl NewKey {
    pub fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() || self.name.chars().count() > 255 {
            errors.push(FieldError::new("/name", "must be 1 to 255 characters"));
        }
        if self.role != Role::Admin && self.funds.is_empty() {
            errors.push(FieldError::new(
                "/fund_ids",
                "a writer or reader key needs at least one fund",
            ));
        }
        if let Some(i) = self.funds.iter().position(|f| *f <= 0) {
            errors.push(FieldError::new(
                format!("/fund_ids/{i}"),
                "must be a positive fund id",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(errors))
        }
    }
}

fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

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

/// The active model of a new key, ready to insert with a connection or a transaction.
pub fn new_key_model(
    new: &NewKey,
    idempotency_key: Option<&str>,
) -> Result<(api_key::ActiveModel, String)> {
    new.validate()?;
    let secret = random_secret()?;
    let at = now();
    let mut funds = new.funds.clone();
    funds.sort_unstable();
    funds.dedup();
    let model = api_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(new.name.trim().to_owned()),
        key_digest: Set(digest(&secret)),
        key_prefix: Set(secret.chars().take(12).collect()),
        role: Set(new.role),
        fund_scope: Set(if new.role == Role::Admin {
            Value::Array(vec![])
        } else {
            serde_json::json!(funds)
        }),
        revoked_at: Set(None),
        last_used_at: Set(None),
        idempotency_key: Set(idempotency_key.map(str::to_owned)),
        created_at: Set(at),
        updated_at: Set(at),
        version: Set(1),
    };
    Ok((model, secret))
}

/// Mints a key outside any HTTP request (the `updog keys create` command).
pub async fn mint(db: &Database, new: &NewKey) -> Result<MintedKey> {
    let (model, secret) = new_key_model(new, None)?;
    let key = model.insert(db.connection()).await?;
    Ok(MintedKey { key, secret })
}

/// On a database with no keys at all, mints the first admin key and returns it (to print once).
/// Several processes starting together mint at most one: the insert carries a fixed idempotency key,
/// and the unique index lets only one of them through.
pub async fn bootstrap_admin(db: &Database) -> Result<Option<MintedKey>> {
    if api_key::Entity::find().count(db.connection()).await? > 0 {
        return Ok(None);
    }
    let new = NewKey {
        name: "bootstrap admin".into(),
        role: Role::Admin,
        funds: vec![],
    };
    let (model, secret) = new_key_model(&new, Some("bootstrap-admin"))?;
    match model.insert(db.connection()).await {
        Ok(key) => Ok(Some(MintedKey { key, secret })),
        Err(e) if unique_violation(&e).is_some() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The principal for a bearer token, or `Unauthenticated`.
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

/// Every key, newest first (admin only; secrets are never stored, so never listed).
pub async fn list(db: &Database) -> Result<Vec<api_key::Model>> {
    Ok(api_key::Entity::find()
        .order_by_desc(api_key::Column::CreatedAt)
        .all(db.connection())
        .await?)
}

/// Revokes key `id` if its version is `expected_version` (SPEC §5). Revoking twice is not an error.
pub async fn revoke(
    db: &Database,
    cache: &KeyCache,
    id: Uuid,
    expected_version: Option<i64>,
) -> Result<()> {
    let conn = db.connection();
    let mut update = api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(now()))
        .col_expr(api_key::Column::UpdatedAt, Expr::value(now()))
        .col_expr(
            api_key::Column::Version,
            Expr::col(api_key::Column::Version).add(1),
        )
        .filter(api_key::Column::Id.eq(id));
    if let Some(v) = expected_version {
        update = update.filter(api_key::Column::Version.eq(v));
    }
    let result = update.exec(conn).await?;
    cache.evict_key(id);
    if result.rows_affected == 1 {
        return Ok(());
    }
    match api_key::Entity::find_by_id(id).one(conn).await? {
        None => Err(Error::not_found("api key", id)),
        Some(k) => Err(Error::VersionConflict {
            current_version: k.version,
        }),
    }
}

/// Finds a key by id.
pub async fn get(db: &Database, id: Uuid) -> Result<api_key::Model> {
    api_key::Entity::find_by_id(id)
        .one(db.connection())
        .await?
        .ok_or_else(|| Error::not_found("api key", id))
}

/// Inserts a key row inside a transaction (the API's idempotent create).
pub async fn insert_key(
    txn: &sea_orm::DatabaseTransaction,
    model: api_key::ActiveModel,
) -> Result<api_key::Model> {
    Ok(model.insert(txn).await?)
}
