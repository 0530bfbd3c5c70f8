//! API keys as a resource (SPEC §13, `/api/v1/api-keys`, admin only): minting (idempotent over HTTP,
//! plain from the command line, and the first admin key on an empty database), lists and revocation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::api_key::{self, Role};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, ExprTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::{KEY_PREFIX, KeyCache, Principal, digest};
use crate::context::Service;
use crate::db::{Database, now};
use crate::error::{Error, FieldError, ResourceRef, Result, is_unique_violation};
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, keyed};

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
#[tracing::instrument(skip_all)]
pub async fn mint(db: &Database, new: &NewKey) -> Result<MintedKey> {
    let (model, secret) = new_key_model(new, None)?;
    let key = model.insert(db.connection()).await?;
    Ok(MintedKey { key, secret })
}

/// On a database with no keys at all, mints the first admin key and returns it (to print once).
/// Several processes starting together mint at most one: the insert carries a fixed idempotency key,
/// and the unique index lets only one of them through.
#[tracing::instrument(skip_all)]
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
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Every key, newest first (admin only; secrets are never stored, so never listed).
#[tracing::instrument(skip_all)]
pub async fn list_api_keys(svc: &Service, principal: &Principal) -> Result<Vec<api_key::Model>> {
    principal.require_admin()?;
    list(&svc.db).await
}

/// One key (admin only); its secret is never stored, so never shown.
#[tracing::instrument(skip_all, fields(key_id = %id))]
pub async fn get_api_key(svc: &Service, principal: &Principal, id: Uuid) -> Result<api_key::Model> {
    principal.require_admin()?;
    api_key::Entity::find_by_id(id)
        .one(svc.db.connection())
        .await?
        .ok_or_else(|| Error::not_found("api key", id))
}

/// Every key, newest first, without a caller (the `updog keys list` command).
#[tracing::instrument(skip_all)]
pub async fn list(db: &Database) -> Result<Vec<api_key::Model>> {
    Ok(api_key::Entity::find()
        .order_by_desc(api_key::Column::CreatedAt)
        .all(db.connection())
        .await?)
}

/// Revokes a key (admin only) if its version is `expected_version`.
#[tracing::instrument(skip_all, fields(key_id = %id))]
pub async fn revoke_api_key(
    svc: &Service,
    principal: &Principal,
    id: Uuid,
    expected_version: i64,
) -> Result<()> {
    principal.require_admin()?;
    revoke(&svc.db, &svc.keys, id, Some(expected_version)).await
}

/// Revokes key `id` if its version is `expected_version` (SPEC §5). Revoking twice is not an error.
#[tracing::instrument(skip_all, fields(key_id = %id))]
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
    let current = api_key::Entity::find_by_id(id).one(conn).await?;
    Err(Error::missing_or_stale(
        "api key",
        id,
        current.map(|k| k.version),
    ))
}

keyed!(api_key, API_KEY_KEY, |k| ResourceRef::ApiKey(k.id));

/// Mints a key over HTTP (admin only), through the one idempotent create path. A fresh outcome holds the
/// secret, shown once; its idempotency record never does (the recorder sees the key's row only).
#[tracing::instrument(skip_all)]
pub async fn create_api_key(
    svc: &Service,
    principal: &Principal,
    new: NewKey,
    idem: Option<Idempotency>,
) -> Result<Outcome<MintedKey>> {
    principal.require_admin()?;
    new.validate()?;
    let (row, secret) = new_key_model(&new, idem.as_ref().map(|i| i.key.as_str()))?;
    idempotency::create_row(
        svc,
        idem,
        KeyedBy::<api_key::Entity>::top(),
        row,
        idempotency::no_checks,
    )
    .await
    .map(|outcome| outcome.map(|key| MintedKey { key, secret }))
}
