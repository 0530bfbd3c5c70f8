//! `/api/v1/funds/{fund_id}/companies`.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service::entity::portfolio_company::{self, CompanyStatus, Stage};
use service::portfolio::{self, CompanyFields};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::Error;
use crate::extract::{Auth, idempotency, if_match, json_body, outcome_response, render, with_etag};
use crate::problem::Problem;
use crate::routes::common::{Id, PageQuery, double_option, fixed};

/// Financing stage.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageDto {
    PreSeed,
    Seed,
    SeriesA,
    SeriesB,
    SeriesC,
    Growth,
}

impl From<Stage> for StageDto {
    fn from(s: Stage) -> Self {
        match s {
            Stage::PreSeed => Self::PreSeed,
            Stage::Seed => Self::Seed,
            Stage::SeriesA => Self::SeriesA,
            Stage::SeriesB => Self::SeriesB,
            Stage::SeriesC => Self::SeriesC,
            Stage::Growth => Self::Growth,
        }
    }
}

impl From<StageDto> for Stage {
    fn from(s: StageDto) -> Self {
        match s {
            StageDto::PreSeed => Self::PreSeed,
            StageDto::Seed => Self::Seed,
            StageDto::SeriesA => Self::SeriesA,
            StageDto::SeriesB => Self::SeriesB,
            StageDto::SeriesC => Self::SeriesC,
            StageDto::Growth => Self::Growth,
        }
    }
}

/// Whether the fund still holds the company.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompanyStatusDto {
    Active,
    Exited,
    WrittenOff,
}

impl From<CompanyStatus> for CompanyStatusDto {
    fn from(s: CompanyStatus) -> Self {
        match s {
            CompanyStatus::Active => Self::Active,
            CompanyStatus::Exited => Self::Exited,
            CompanyStatus::WrittenOff => Self::WrittenOff,
        }
    }
}

impl From<CompanyStatusDto> for CompanyStatus {
    fn from(s: CompanyStatusDto) -> Self {
        match s {
            CompanyStatusDto::Active => Self::Active,
            CompanyStatusDto::Exited => Self::Exited,
            CompanyStatusDto::WrittenOff => Self::WrittenOff,
        }
    }
}

/// A portfolio company, with its latest mark and exit assumptions.
#[derive(Serialize, ToSchema)]
pub struct Company {
    pub id: i64,
    pub fund_id: i64,
    pub name: String,
    pub sector: Option<String>,
    pub stage: StageDto,
    pub status: CompanyStatusDto,
    /// Latest mark, cents per share.
    pub current_share_price_cents: Option<i64>,
    pub marked_at: Option<DateTime<Utc>>,
    /// Expected exit multiple on invested capital, basis points (10000 = 1.00x).
    pub exit_moic_bps: Option<i64>,
    /// Probability of that exit, a decimal string with 6 places, e.g. `"0.500000"`.
    pub exit_probability: Option<String>,
    /// Expected multiple on the next dollar of reserves, basis points.
    pub reserve_exit_moic_bps: Option<i64>,
    /// Follow-on reserves planned for the company, cents.
    pub planned_reserves_cents: i64,
    /// Upper bound on reserves for the company, cents.
    pub allocation_cap_cents: Option<i64>,
    /// Optimistic-concurrency version; also the `ETag`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&portfolio_company::Model> for Company {
    fn from(m: &portfolio_company::Model) -> Self {
        Self {
            id: m.id,
            fund_id: m.fund_id,
            name: m.name.clone(),
            sector: m.sector.clone(),
            stage: m.stage.into(),
            status: m.status.into(),
            current_share_price_cents: m.current_share_price_cents,
            marked_at: m.marked_at,
            exit_moic_bps: m.exit_moic_bps,
            exit_probability: m.exit_probability.map(|p| fixed(p.0, 6)),
            reserve_exit_moic_bps: m.reserve_exit_moic_bps,
            planned_reserves_cents: m.planned_reserves_cents,
            allocation_cap_cents: m.allocation_cap_cents,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A page of companies, newest first.
#[derive(Serialize, ToSchema)]
pub struct CompanyPage {
    pub data: Vec<Company>,
    pub next_cursor: Option<String>,
}

/// A new company (`name` and `stage` required) or changes to one (all optional; `null` clears a
/// nullable field).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyInput {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub sector: Option<Option<String>>,
    pub stage: Option<StageDto>,
    pub status: Option<CompanyStatusDto>,
    #[serde(default, deserialize_with = "double_option")]
    pub current_share_price_cents: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub marked_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    pub exit_moic_bps: Option<Option<i64>>,
    /// A decimal string in [0, 1] with at most 6 places.
    #[serde(default, deserialize_with = "double_option")]
    pub exit_probability: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub reserve_exit_moic_bps: Option<Option<i64>>,
    pub planned_reserves_cents: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    pub allocation_cap_cents: Option<Option<i64>>,
}

impl From<CompanyInput> for CompanyFields {
    fn from(i: CompanyInput) -> Self {
        Self {
            name: i.name,
            sector: i.sector,
            stage: i.stage.map(Into::into),
            status: i.status.map(Into::into),
            current_share_price_cents: i.current_share_price_cents,
            marked_at: i.marked_at,
            exit_moic_bps: i.exit_moic_bps,
            exit_probability: i.exit_probability,
            reserve_exit_moic_bps: i.reserve_exit_moic_bps,
            planned_reserves_cents: i.planned_reserves_cents,
            allocation_cap_cents: i.allocation_cap_cents,
        }
    }
}

/// Add a company to a fund.
#[utoipa::path(
    tag = "companies",
    operation_id = "create_company",
    request_body = CompanyInput,
    params(
        ("fund_id" = i64, Path, minimum = 1, description = "The fund."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 visible ASCII characters."),
    ),
    responses(
        (status = 201, description = "Created.", body = Company, headers(
            ("Location" = String, description = "The new company."),
            ("Idempotent-Replayed" = String, description = "`true` on a replayed response."))),
        (status = 400, description = "Malformed body, id or header.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken in this fund (`company_name_taken`), or the idempotency key expired.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or the idempotency key was used for another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/funds/{fund_id}/companies")]
pub async fn create_company(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let fund_id = path.0;
    let (input, value) = json_body::<CompanyInput>(&req, &body)?;
    let idem = idempotency(
        &req,
        format!("POST /api/v1/funds/{fund_id}/companies"),
        &principal,
        &value,
    )?;
    let outcome = portfolio::create_company(
        &state.service,
        &principal,
        fund_id,
        input.into(),
        idem.as_ref(),
        |m| {
            render(
                201,
                &Company::from(m),
                format!("/api/v1/funds/{}/companies/{}", m.fund_id, m.id),
            )
        },
    )
    .await?;
    Ok(outcome_response(outcome))
}

/// List a fund's companies, newest first.
#[utoipa::path(
    tag = "companies",
    operation_id = "list_companies",
    params(("fund_id" = i64, Path, minimum = 1, description = "The fund."), PageQuery),
    responses(
        (status = 200, description = "A page of companies.", body = CompanyPage),
        (status = 400, description = "Bad id, limit or cursor.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has no access to this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds/{fund_id}/companies")]
pub async fn list_companies(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    let page = portfolio::list_companies(&state.service, &principal, path.0, query.page()?).await?;
    Ok(HttpResponse::Ok().json(CompanyPage {
        data: page.items.iter().map(Company::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Get one company.
#[utoipa::path(
    tag = "companies",
    operation_id = "get_company",
    params(
        ("fund_id" = i64, Path, minimum = 1, description = "The fund."),
        ("company_id" = i64, Path, minimum = 1, description = "The company."),
    ),
    responses(
        (status = 200, description = "The company.", body = Company, headers(("ETag" = String, description = "The version, quoted."))),
        (status = 400, description = "Bad id.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has no access to this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company in this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds/{fund_id}/companies/{company_id}")]
pub async fn get_company(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<(Id, Id)>,
) -> Result<HttpResponse, Error> {
    let (fund_id, id) = path.into_inner();
    let company = portfolio::get_company(&state.service, &principal, fund_id.0, id.0).await?;
    Ok(with_etag(&Company::from(&company), company.version))
}

/// Update a company (marks, exit assumptions, reserves…; requires `If-Match`).
#[utoipa::path(
    tag = "companies",
    operation_id = "update_company",
    request_body = CompanyInput,
    params(
        ("fund_id" = i64, Path, minimum = 1, description = "The fund."),
        ("company_id" = i64, Path, minimum = 1, description = "The company."),
        ("If-Match" = String, Header, description = "The company's current ETag."),
    ),
    responses(
        (status = 200, description = "The updated company.", body = Company, headers(("ETag" = String, description = "The new version, quoted."))),
        (status = 400, description = "Malformed body, id or If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company in this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken in this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields.", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/funds/{fund_id}/companies/{company_id}")]
pub async fn update_company(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<(Id, Id)>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let (fund_id, id) = path.into_inner();
    let version = if_match(&req)?;
    let (input, _) = json_body::<CompanyInput>(&req, &body)?;
    let company = portfolio::update_company(
        &state.service,
        &principal,
        fund_id.0,
        id.0,
        version,
        input.into(),
    )
    .await?;
    Ok(with_etag(&Company::from(&company), company.version))
}

/// Delete a company with its investments, lots and distributions (requires `If-Match`).
#[utoipa::path(
    tag = "companies",
    operation_id = "delete_company",
    params(
        ("fund_id" = i64, Path, minimum = 1, description = "The fund."),
        ("company_id" = i64, Path, minimum = 1, description = "The company."),
        ("If-Match" = String, Header, description = "The company's current ETag."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "Malformed id or If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company in this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match.", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/funds/{fund_id}/companies/{company_id}")]
pub async fn delete_company(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<(Id, Id)>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let (fund_id, id) = path.into_inner();
    let version = if_match(&req)?;
    portfolio::delete_company(&state.service, &principal, fund_id.0, id.0, version).await?;
    Ok(HttpResponse::NoContent().finish())
}
