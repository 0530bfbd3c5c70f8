//! `/api/v1/api-keys` (admin keys only).

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service::auth::{self, NewKey};
use service::entity::api_key::{self, Role};
use service::idempotency::{self, Rendered};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::Error;
use crate::extract::{Auth, idempotency as idempotency_of, if_match, json_body, outcome_response};
use crate::problem::Problem;

/// What a key may do.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleDto {
    /// Everything, on every fund, including key management.
    Admin,
    /// Read and write its funds.
    Writer,
    /// Read its funds.
    Reader,
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => Self::Admin,
            Role::Writer => Self::Writer,
            Role::Reader => Self::Reader,
        }
    }
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Admin => Self::Admin,
            RoleDto::Writer => Self::Writer,
            RoleDto::Reader => Self::Reader,
        }
    }
}

/// An API key (never its secret, which is only shown at creation).
#[derive(Serialize, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub key_prefix: String,
    pub role: RoleDto,
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

/// A new key and its secret. The secret is shown once; store it now.
#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The bearer token: `Authorization: Bearer <key>`.
    pub key: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub data: Vec<ApiKey>,
}

/// A key to mint.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1 to 255 characters, to tell keys apart.
    pub name: String,
    pub role: RoleDto,
    /// Funds a writer or reader key may use (at least one); ignored for admin keys.
    #[serde(default)]
    pub fund_ids: Vec<i64>,
}

/// Mint an API key.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "create_api_key",
    request_body = CreateApiKey,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 visible ASCII characters.")),
    responses(
        (status = 201, description = "Created; the response holds the secret key, once.", body = CreatedApiKey, headers(
            ("Location" = String, description = "The new key."),
            ("Idempotent-Replayed" = String, description = "`true` on a replayed response."))),
        (status = 400, description = "Malformed body or header.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The idempotency key expired but its key exists.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or the idempotency key was used for another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    principal.require_admin()?;
    let (input, value) = json_body::<CreateApiKey>(&req, &body)?;
    let idem = idempotency_of(&req, "POST /api/v1/api-keys".into(), &principal, &value)?;
    let new = NewKey {
        name: input.name,
        role: input.role.into(),
        funds: input.fund_ids,
    };
    let (model, secret) = auth::new_key_model(&new, idem.as_ref().map(|i| i.key.as_str()))?;
    let svc = &state.service;
    let outcome = idempotency::execute(
        &svc.db,
        idem.as_ref(),
        svc.idempotency_ttl,
        move |txn| Box::pin(auth::insert_key(txn, model)),
        move |m: &api_key::Model| {
            let dto = CreatedApiKey {
                api_key: ApiKey::from(m),
                key: secret,
            };
            Rendered {
                status: 201,
                body: serde_json::to_vec(&dto).unwrap_or_default(),
                location: Some(format!("/api/v1/api-keys/{}", m.id)),
            }
        },
    )
    .await?;
    Ok(outcome_response(outcome))
}

/// List every API key.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "list_api_keys",
    responses(
        (status = 200, description = "All keys, newest first.", body = ApiKeyList),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    Auth(principal): Auth,
) -> Result<HttpResponse, Error> {
    principal.require_admin()?;
    let keys = auth::list(&state.service.db).await?;
    Ok(HttpResponse::Ok().json(ApiKeyList {
        data: keys.iter().map(ApiKey::from).collect(),
    }))
}

/// Revoke an API key (requires `If-Match`). It stops working within seconds on every server.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "delete_api_key",
    params(
        ("key_id" = Uuid, Path, description = "The key."),
        ("If-Match" = String, Header, description = "The key's current version, quoted."),
    ),
    responses(
        (status = 204, description = "Revoked."),
        (status = 400, description = "Malformed id or If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/api-keys/{key_id}")]
pub async fn delete_api_key(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    principal.require_admin()?;
    let version = if_match(&req)?;
    auth::revoke(
        &state.service.db,
        &state.service.keys,
        path.into_inner(),
        Some(version),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
