//! `/api/v1/funds/{fund_id}/companies`.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service::companies::{self, CompanyFields};
use service::entity::portfolio_company;
use service::in_fund;
use utoipa::ToSchema;

use crate::error::Error;
use crate::extract::{Caller, Creation, if_match, json_body, with_etag};
use crate::replies::Written;
use crate::responses::{CreateErrors, Created, DeleteErrors, ReadErrors, UpdateErrors, Versioned};
use crate::wire::{
    CompanyPath, CompanyStatus, DecimalText, FundPath, IdempotencyKeyHeader, IfMatchHeader,
    PageQuery, Stage, double_option, page_of,
};
use utoipa_actix_web::service_config::ServiceConfig;

/// A portfolio company, with its latest mark and exit assumptions.
#[derive(Serialize, ToSchema)]
pub struct Company {
    pub id: i64,
    pub fund_id: i64,
    pub name: String,
    pub sector: Option<String>,
    pub stage: Stage,
    pub status: CompanyStatus,
    /// The latest mark (`…/marks`), cents per share rounded half-up; `null` without marks.
    pub current_share_price_cents: Option<i64>,
    /// When the latest mark was taken (its day at 00:00 UTC, or the instant a `PATCH` sent).
    pub marked_at: Option<DateTime<Utc>>,
    /// Expected exit multiple on invested capital, basis points (10000 = 1.00x).
    pub exit_moic_bps: Option<i64>,
    /// Probability of that exit, a decimal string with 6 places, e.g. `"0.500000"`.
    #[schema(value_type = Option<String>)]
    pub exit_probability: Option<DecimalText>,
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
            exit_probability: DecimalText::ratio(m.exit_probability.map(|p| p.0)),
            reserve_exit_moic_bps: m.reserve_exit_moic_bps,
            planned_reserves_cents: m.planned_reserves_cents,
            allocation_cap_cents: m.allocation_cap_cents,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

page_of! {
    /// A page of companies, newest first.
    CompanyPage of Company
}

/// A new company.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCompany {
    /// 1 to 255 characters, unique within the fund.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub name: String,
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub sector: Option<String>,
    pub stage: Stage,
    /// Default `active`. `written_off` records a `write_off` mark of 0 on the UTC day of `marked_at`,
    /// which it then requires (422 without it).
    pub status: Option<CompanyStatus>,
    /// A first price, cents per share, 0 or more: recorded as a `manual` mark on the UTC day of
    /// `marked_at` (default today).
    #[schema(minimum = 0)]
    pub current_share_price_cents: Option<i64>,
    /// When the price was taken (default now), or the company written off (required then).
    pub marked_at: Option<DateTime<Utc>>,
    /// Expected exit multiple on invested capital, basis points, 0 or more.
    #[schema(minimum = 0)]
    pub exit_moic_bps: Option<i64>,
    /// A decimal string in [0, 1] with at most 6 places.
    #[schema(pattern = r"^[0-9](\.[0-9]{1,6})?$")]
    pub exit_probability: Option<String>,
    /// Expected multiple on the next dollar of reserves, basis points, 0 or more.
    #[schema(minimum = 0)]
    pub reserve_exit_moic_bps: Option<i64>,
    /// Default 0.
    #[schema(minimum = 0)]
    pub planned_reserves_cents: Option<i64>,
    #[schema(minimum = 0)]
    pub allocation_cap_cents: Option<i64>,
}

impl From<CreateCompany> for CompanyFields {
    fn from(i: CreateCompany) -> Self {
        // On creation `null` and absent mean the same: not set.
        Self {
            name: Some(i.name),
            sector: i.sector.map(Some),
            stage: Some(i.stage.into()),
            status: i.status.map(Into::into),
            current_share_price_cents: i.current_share_price_cents.map(Some),
            marked_at: i.marked_at.map(Some),
            exit_moic_bps: i.exit_moic_bps.map(Some),
            exit_probability: i.exit_probability.map(Some),
            reserve_exit_moic_bps: i.reserve_exit_moic_bps.map(Some),
            planned_reserves_cents: i.planned_reserves_cents,
            allocation_cap_cents: i.allocation_cap_cents.map(Some),
        }
    }
}

/// Changes to a company: every field optional; `null` clears a nullable field.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCompany {
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub sector: Option<Option<String>>,
    pub stage: Option<Stage>,
    /// `written_off` records a `write_off` mark of 0 on the UTC day of `marked_at`, which it then
    /// requires (422 without it, unless the company is already written off): the company is worth 0
    /// from that day.
    pub status: Option<CompanyStatus>,
    /// A new price, cents per share: recorded as a `manual` mark on the UTC day of `marked_at` (default
    /// today), replacing a mark of that day. `null` is refused (422): delete marks instead.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(minimum = 0)]
    pub current_share_price_cents: Option<Option<i64>>,
    /// When the new price was taken or the company written off; sent alone it is refused (422).
    #[serde(default, deserialize_with = "double_option")]
    pub marked_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(minimum = 0)]
    pub exit_moic_bps: Option<Option<i64>>,
    /// A decimal string in [0, 1] with at most 6 places.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(pattern = r"^[0-9](\.[0-9]{1,6})?$")]
    pub exit_probability: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(minimum = 0)]
    pub reserve_exit_moic_bps: Option<Option<i64>>,
    #[schema(minimum = 0)]
    pub planned_reserves_cents: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(minimum = 0)]
    pub allocation_cap_cents: Option<Option<i64>>,
}

impl From<UpdateCompany> for CompanyFields {
    fn from(i: UpdateCompany) -> Self {
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

impl Written for portfolio_company::Model {
    type Wire = Company;
    fn location(&self) -> String {
        format!("/api/v1/funds/{}/companies/{}", self.fund_id, self.id)
    }
}

/// Add a company to a fund.
#[utoipa::path(
    tag = "companies", operation_id = "create_company", request_body = CreateCompany, params(FundPath, IdempotencyKeyHeader),
    responses(Created<Company>, CreateErrors)
)]
#[post("/api/v1/funds/{fund_id}/companies")]
pub async fn create_company(
    creation: Creation,
    path: web::Path<FundPath>,
) -> Result<HttpResponse, Error> {
    let fund_id = path.fund_id.0;
    let scope = format!("POST /api/v1/funds/{fund_id}/companies");
    creation
        .run(scope, async |svc, principal, input: CreateCompany, idem| {
            companies::create_company(svc, principal, fund_id, input.into(), idem).await
        })
        .await
}

/// List a fund's companies, newest first.
#[utoipa::path(
    tag = "companies", operation_id = "list_companies", params(FundPath, PageQuery),
    responses((status = 200, description = "A page of companies.", body = CompanyPage), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/companies")]
pub async fn list_companies(
    caller: Caller,
    path: web::Path<FundPath>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    caller
        .page_in_fund::<portfolio_company::Entity, CompanyPage>(path.fund_id.0, &query)
        .await
}

/// Get one company.
#[utoipa::path(
    tag = "companies", operation_id = "get_company", params(CompanyPath),
    responses(Versioned<Company>, ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/companies/{company_id}")]
pub async fn get_company(
    caller: Caller,
    path: web::Path<CompanyPath>,
) -> Result<HttpResponse, Error> {
    let (fund_id, id) = (path.fund_id, path.company_id);
    let company = in_fund::get::<portfolio_company::Entity>(
        caller.service(),
        &caller.principal,
        fund_id.0,
        id.0,
    )
    .await?;
    Ok(with_etag(&Company::from(&company), company.version))
}

/// Update a company (marks, exit assumptions, reserves…; requires `If-Match`).
#[utoipa::path(
    tag = "companies", operation_id = "update_company", request_body = UpdateCompany, params(CompanyPath, IfMatchHeader),
    responses(Versioned<Company>, UpdateErrors)
)]
#[patch("/api/v1/funds/{fund_id}/companies/{company_id}")]
pub async fn update_company(
    caller: Caller,
    path: web::Path<CompanyPath>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let (fund_id, id) = (path.fund_id, path.company_id);
    let version = if_match(&req)?;
    let (input, _) = json_body::<UpdateCompany>(&req, &body)?;
    let company = companies::update_company(
        caller.service(),
        &caller.principal,
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
    tag = "companies", operation_id = "delete_company", params(CompanyPath, IfMatchHeader),
    responses((status = 204, description = "Deleted."), DeleteErrors)
)]
#[delete("/api/v1/funds/{fund_id}/companies/{company_id}")]
pub async fn delete_company(
    caller: Caller,
    path: web::Path<CompanyPath>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let (fund_id, id) = (path.fund_id, path.company_id);
    let version = if_match(&req)?;
    companies::delete_company(
        caller.service(),
        &caller.principal,
        fund_id.0,
        id.0,
        version,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_company)
        .service(list_companies)
        .service(get_company)
        .service(update_company)
        .service(delete_company);
}
