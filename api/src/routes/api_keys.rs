//! `/api/v1/api-keys` (admin keys only).

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service::api_keys::{self, MintedKey, NewKey};
use service::auth;
use service::entity::api_key;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::Error;
use crate::extract::{Caller, Creation, if_match, with_etag};
use crate::replies::Written;
use crate::responses::{CreateErrors, Created, DeleteErrors, ReadErrors, Versioned};
use crate::wire::{IdempotencyKeyHeader, IfMatchHeader, KeyPath, Role};
use utoipa_actix_web::service_config::ServiceConfig;

/// An API key (never its secret, which is only shown at creation).
#[derive(Serialize, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub key_prefix: String,
    pub role: Role,
    /// Funds a writer or reader key may use (empty for admin keys, which may use all).
    pub fund_ids: Vec<i64>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

impl From<&api_key::Model> for ApiKey {
    fn from(m: &api_key::Model) -> Self {
        Self {
            id: m.id,
            name: m.name.clone(),
            key_prefix: m.key_prefix.clone(),
            role: m.role.into(),
            fund_ids: auth::principal_of(m).funds,
            revoked_at: m.revoked_at,
            version: m.version,
            created_at: m.created_at,
        }
    }
}

/// A new key and its secret. The secret is shown once, in the response that created the key; store it
/// now. A replay of that response (same `Idempotency-Key`) carries `key: null` and a `detail`: the secret
/// is never stored, not even for replays (SPEC §4.9).
#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The bearer token, `Authorization: Bearer <key>`; `null` in a replay.
    pub key: Option<String>,
    /// Present in a replay: why `key` is `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What a replay of a key's creation says instead of the secret.
const SECRET_SHOWN_ONCE: &str = "The secret of an API key is shown only once, in the response that created it; it is not stored.";

/// A key as its creation answers it: with the secret, shown this once.
impl From<&MintedKey> for CreatedApiKey {
    fn from(minted: &MintedKey) -> Self {
        CreatedApiKey {
            api_key: ApiKey::from(&minted.key),
            key: Some(minted.secret.clone()),
            detail: None,
        }
    }
}

impl Written for MintedKey {
    type Wire = CreatedApiKey;
    fn location(&self) -> String {
        self.key.location()
    }
}

/// A key's creation as its idempotency record keeps it: the secret withheld, and said so.
impl From<&api_key::Model> for CreatedApiKey {
    fn from(key: &api_key::Model) -> Self {
        CreatedApiKey {
            api_key: ApiKey::from(key),
            key: None,
            detail: Some(SECRET_SHOWN_ONCE.to_owned()),
        }
    }
}

impl Written for api_key::Model {
    type Wire = CreatedApiKey;
    fn location(&self) -> String {
        format!("/api/v1/api-keys/{}", self.id)
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub data: Vec<ApiKey>,
    /// Always `null`: the list is whole. Present so that every list has the same shape (SPEC §2).
    pub next_cursor: Option<String>,
}

/// A key to mint.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1 to 255 characters, to tell keys apart.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub name: String,
    pub role: Role,
    /// Funds a writer or reader key may use (at least one); ignored for admin keys.
    #[serde(default)]
    pub fund_ids: Vec<i64>,
}

/// Mint an API key.
#[utoipa::path(
    tag = "api_keys", operation_id = "create_api_key", request_body = CreateApiKey, params(IdempotencyKeyHeader),
    responses(Created<CreatedApiKey>, CreateErrors)
)]
#[post("/api/v1/api-keys")]
pub async fn create_api_key(creation: Creation) -> Result<HttpResponse, Error> {
    let scope = "POST /api/v1/api-keys".to_owned();
    creation
        .run(scope, async |svc, principal, input: CreateApiKey, idem| {
            let new = NewKey {
                name: input.name,
                role: input.role.into(),
                funds: input.fund_ids,
            };
            api_keys::create_api_key(svc, principal, new, idem).await
        })
        .await
}

/// Get one API key (never its secret).
#[utoipa::path(
    tag = "api_keys", operation_id = "get_api_key", params(KeyPath),
    responses(Versioned<ApiKey>, ReadErrors)
)]
#[get("/api/v1/api-keys/{key_id}")]
pub async fn get_api_key(caller: Caller, path: web::Path<KeyPath>) -> Result<HttpResponse, Error> {
    let key = api_keys::get_api_key(caller.service(), &caller.principal, path.key_id).await?;
    Ok(with_etag(&ApiKey::from(&key), key.version))
}

/// List every API key.
#[utoipa::path(
    tag = "api_keys", operation_id = "list_api_keys",
    responses((status = 200, description = "All keys, newest first.", body = ApiKeyList), ReadErrors)
)]
#[get("/api/v1/api-keys")]
pub async fn list_api_keys(caller: Caller) -> Result<HttpResponse, Error> {
    let keys = api_keys::list_api_keys(caller.service(), &caller.principal).await?;
    Ok(HttpResponse::Ok().json(ApiKeyList {
        data: keys.iter().map(ApiKey::from).collect(),
        next_cursor: None,
    }))
}

/// Revoke an API key (requires `If-Match`). It stops working within seconds on every server.
#[utoipa::path(
    tag = "api_keys", operation_id = "delete_api_key", params(KeyPath, IfMatchHeader),
    responses((status = 204, description = "Revoked."), DeleteErrors)
)]
#[delete("/api/v1/api-keys/{key_id}")]
pub async fn delete_api_key(
    caller: Caller,
    path: web::Path<KeyPath>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let version = if_match(&req)?;
    api_keys::revoke_api_key(caller.service(), &caller.principal, path.key_id, version).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_api_key)
        .service(list_api_keys)
        .service(get_api_key)
        .service(delete_api_key);
}
