//! `/api/v1/funds`.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service::entity::fund::{self, FundStatus};
use service::portfolio::{self, FundPatch, NewFund};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::Error;
use crate::extract::{Auth, idempotency, if_match, json_body, outcome_response, render, with_etag};
use crate::problem::Problem;
use crate::routes::common::{Id, PageQuery};

/// A fund's status.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FundStatusDto {
    Active,
    Closed,
}

impl From<FundStatus> for FundStatusDto {
    fn from(s: FundStatus) -> Self {
        match s {
            FundStatus::Active => Self::Active,
            FundStatus::Closed => Self::Closed,
        }
    }
}

impl From<FundStatusDto> for FundStatus {
    fn from(s: FundStatusDto) -> Self {
        match s {
            FundStatusDto::Active => Self::Active,
            FundStatusDto::Closed => Self::Closed,
        }
    }
}

/// A venture fund.
#[derive(Serialize, ToSchema)]
pub struct Fund {
    pub id: i64,
    pub name: String,
    /// Committed capital, in cents.
    pub size_cents: i64,
    pub vintage_year: i32,
    /// Annual management fee, in basis points (10000 = 100%).
    pub management_fee_bps: i32,
    /// Carried interest, in basis points.
    pub carry_bps: i32,
    /// Share of the fund kept for follow-on reserves, in basis points.
    pub reserve_ratio_bps: i32,
    /// ISO 4217 currency code.
    pub base_currency: String,
    pub status: FundStatusDto,
    /// Version of the fund's reserve plan.
    pub reserve_plan_version: i64,
    /// Optimistic-concurrency version; also the `ETag`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&fund::Model> for Fund {
    fn from(m: &fund::Model) -> Self {
        Self {
            id: m.id,
            name: m.name.clone(),
            size_cents: m.size_cents,
            vintage_year: m.vintage_year,
            management_fee_bps: m.management_fee_bps,
            carry_bps: m.carry_bps,
            reserve_ratio_bps: m.reserve_ratio_bps,
            base_currency: m.base_currency.clone(),
            status: m.status.into(),
            reserve_plan_version: m.reserve_plan_version,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A page of funds, newest first.
#[derive(Serialize, ToSchema)]
pub struct FundPage {
    pub data: Vec<Fund>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A new fund.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFund {
    /// 1 to 255 characters.
    pub name: String,
    /// Committed capital in cents, greater than 0.
    pub size_cents: i64,
    /// 1900 to 2200.
    pub vintage_year: i32,
    /// 0 to 10000 basis points (default 0).
    #[serde(default)]
    pub management_fee_bps: i32,
    /// 0 to 10000 basis points (default 0).
    #[serde(default)]
    pub carry_bps: i32,
    /// 0 to 10000 basis points (default 0).
    #[serde(default)]
    pub reserve_ratio_bps: i32,
    /// ISO 4217 code (default `USD`).
    #[serde(default = "usd")]
    pub base_currency: String,
}

fn usd() -> String {
    "USD".into()
}

/// Changes to a fund; absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFund {
    pub name: Option<String>,
    pub size_cents: Option<i64>,
    pub vintage_year: Option<i32>,
    pub management_fee_bps: Option<i32>,
    pub carry_bps: Option<i32>,
    pub reserve_ratio_bps: Option<i32>,
    pub base_currency: Option<String>,
    pub status: Option<FundStatusDto>,
}

/// Create a fund (admin keys only).
#[utoipa::path(
    tag = "funds",
    operation_id = "create_fund",
    request_body = CreateFund,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 visible ASCII characters.")),
    responses(
        (status = 201, description = "Created.", body = Fund, headers(
            ("Location" = String, description = "The new fund."),
            ("Idempotent-Replayed" = String, description = "`true` when this is a recorded response replayed."))),
        (status = 400, description = "Malformed body or header.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The idempotency key expired but its fund exists.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or the idempotency key was used for another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/funds")]
pub async fn create_fund(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let (input, value) = json_body::<CreateFund>(&req, &body)?;
    let idem = idempotency(&req, "POST /api/v1/funds".into(), &principal, &value)?;
    let input = NewFund {
        name: input.name,
        size_cents: input.size_cents,
        vintage_year: input.vintage_year,
        management_fee_bps: input.management_fee_bps,
        carry_bps: input.carry_bps,
        reserve_ratio_bps: input.reserve_ratio_bps,
        base_currency: input.base_currency,
    };
    let outcome = portfolio::create_fund(&state.service, &principal, input, idem.as_ref(), |m| {
        render(201, &Fund::from(m), format!("/api/v1/funds/{}", m.id))
    })
    .await?;
    Ok(outcome_response(outcome))
}

/// List the funds this key may see, newest first.
#[utoipa::path(
    tag = "funds",
    operation_id = "list_funds",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of funds.", body = FundPage),
        (status = 400, description = "Bad limit or cursor.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds")]
pub async fn list_funds(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    let page = portfolio::list_funds(&state.service, &principal, query.page()?).await?;
    Ok(HttpResponse::Ok().json(FundPage {
        data: page.items.iter().map(Fund::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Get one fund.
#[utoipa::path(
    tag = "funds",
    operation_id = "get_fund",
    params(("fund_id" = i64, Path, minimum = 1, description = "The fund.")),
    responses(
        (status = 200, description = "The fund.", body = Fund, headers(("ETag" = String, description = "The fund's version, quoted."))),
        (status = 400, description = "The id is not a positive integer.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has no access to this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds/{fund_id}")]
pub async fn get_fund(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
) -> Result<HttpResponse, Error> {
    let fund = portfolio::get_fund(&state.service, &principal, path.0).await?;
    Ok(with_etag(&Fund::from(&fund), fund.version))
}

/// Update a fund (requires `If-Match`).
#[utoipa::path(
    tag = "funds",
    operation_id = "update_fund",
    request_body = UpdateFund,
    params(
        ("fund_id" = i64, Path, minimum = 1, description = "The fund."),
        ("If-Match" = String, Header, description = "The fund's current ETag, e.g. `\"3\"`."),
    ),
    responses(
        (status = 200, description = "The updated fund.", body = Fund, headers(("ETag" = String, description = "The new version, quoted."))),
        (status = 400, description = "Malformed body, id or If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match; `current_version` tells the current one.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields.", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/funds/{fund_id}")]
pub async fn update_fund(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let version = if_match(&req)?;
    let (input, _) = json_body::<UpdateFund>(&req, &body)?;
    let patch = FundPatch {
        name: input.name,
        size_cents: input.size_cents,
        vintage_year: input.vintage_year,
        management_fee_bps: input.management_fee_bps,
        carry_bps: input.carry_bps,
        reserve_ratio_bps: input.reserve_ratio_bps,
        base_currency: input.base_currency,
        status: input.status.map(Into::into),
    };
    let fund = portfolio::update_fund(&state.service, &principal, path.0, version, patch).await?;
    Ok(with_etag(&Fund::from(&fund), fund.version))
}

/// Delete a fund and everything it owns (admin keys only; requires `If-Match`).
#[utoipa::path(
    tag = "funds",
    operation_id = "delete_fund",
    params(
        ("fund_id" = i64, Path, minimum = 1, description = "The fund."),
        ("If-Match" = String, Header, description = "The fund's current ETag."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "Malformed id or If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/funds/{fund_id}")]
pub async fn delete_fund(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let version = if_match(&req)?;
    portfolio::delete_fund(&state.service, &principal, path.0, version).await?;
    Ok(HttpResponse::NoContent().finish())
}
