//! `/api/v1/funds/{fund_id}/investments`: a fund's investments in its companies.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use service::entity::investment;
use service::in_fund;
use service::investments::{self, InvestmentChanges, NewInvestment};
use utoipa::ToSchema;

use crate::error::Error;
use crate::extract::{Caller, Creation, if_match, json_body, with_etag};
use crate::replies::Written;
use crate::responses::{CreateErrors, Created, DeleteErrors, ReadErrors, UpdateErrors, Versioned};
use crate::wire::{
    FundPath, IdempotencyKeyHeader, IfMatchHeader, InvestmentPath, PageQuery, WireDate, page_of,
};
use utoipa_actix_web::service_config::ServiceConfig;

/// A fund's investment in a company in one round.
#[derive(Serialize, ToSchema)]
pub struct Investment {
    pub id: i64,
    pub fund_id: i64,
    pub company_id: i64,
    pub round_name: String,
    pub invested_on: NaiveDate,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

impl From<&investment::Model> for Investment {
    fn from(m: &investment::Model) -> Self {
        Self {
            id: m.id,
            fund_id: m.fund_id,
            company_id: m.company_id,
            round_name: m.round_name.clone(),
            invested_on: m.invested_on,
            version: m.version,
            created_at: m.created_at,
        }
    }
}

page_of! {
    /// A page of investments, newest first.
    InvestmentPage of Investment
}

/// A new investment.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvestment {
    /// A company of the same fund.
    #[schema(minimum = 1)]
    pub company_id: i64,
    /// 1 to 255 characters, e.g. `Series A`.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub round_name: String,
    /// `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date, example = "2021-03-15")]
    pub invested_on: WireDate,
}

/// Record an investment in one of the fund's companies.
#[utoipa::path(
    tag = "investments", operation_id = "create_investment", request_body = CreateInvestment, params(FundPath, IdempotencyKeyHeader),
    responses(Created<Investment>, CreateErrors)
)]
#[post("/api/v1/funds/{fund_id}/investments")]
pub async fn create_investment(
    creation: Creation,
    path: web::Path<FundPath>,
) -> Result<HttpResponse, Error> {
    let fund_id = path.fund_id.0;
    let scope = format!("POST /api/v1/funds/{fund_id}/investments");
    creation
        .run(
            scope,
            async |svc, principal, input: CreateInvestment, idem| {
                let input = NewInvestment {
                    company_id: input.company_id,
                    round_name: input.round_name,
                    invested_on: input.invested_on.0,
                };
                investments::create_investment(svc, principal, fund_id, input, idem).await
            },
        )
        .await
}

impl Written for investment::Model {
    type Wire = Investment;
    fn location(&self) -> String {
        format!("/api/v1/funds/{}/investments/{}", self.fund_id, self.id)
    }
}

/// List a fund's investments, newest first.
#[utoipa::path(
    tag = "investments", operation_id = "list_investments", params(FundPath, PageQuery),
    responses((status = 200, description = "A page of investments.", body = InvestmentPage), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/investments")]
pub async fn list_investments(
    caller: Caller,
    path: web::Path<FundPath>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    caller
        .page_in_fund::<investment::Entity, InvestmentPage>(path.fund_id.0, &query)
        .await
}

/// Get one investment.
#[utoipa::path(
    tag = "investments", operation_id = "get_investment", params(InvestmentPath),
    responses(Versioned<Investment>, ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/investments/{investment_id}")]
pub async fn get_investment(
    caller: Caller,
    path: web::Path<InvestmentPath>,
) -> Result<HttpResponse, Error> {
    let (fund_id, id) = (path.fund_id, path.investment_id);
    let inv =
        in_fund::get::<investment::Entity>(caller.service(), &caller.principal, fund_id.0, id.0)
            .await?;
    Ok(with_etag(&Investment::from(&inv), inv.version))
}

/// A correction of an investment: the fields to change (at least one).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateInvestment {
    /// Another company of the same fund; the investment's lots follow it.
    #[schema(minimum = 1, nullable = false)]
    pub company_id: Option<i64>,
    #[schema(min_length = 1, max_length = 255, pattern = r"\S", nullable = false)]
    pub round_name: Option<String>,
    /// `YYYY-MM-DD`.
    #[schema(value_type = Option<String>, format = Date, nullable = false)]
    pub invested_on: Option<WireDate>,
}

/// Correct an investment (requires `If-Match`); MOIC and rankings reflect it at once, snapshots keep
/// what they captured.
#[utoipa::path(
    tag = "investments", operation_id = "update_investment", request_body = UpdateInvestment, params(InvestmentPath, IfMatchHeader),
    responses(Versioned<Investment>, UpdateErrors)
)]
#[patch("/api/v1/funds/{fund_id}/investments/{investment_id}")]
pub async fn update_investment(
    caller: Caller,
    path: web::Path<InvestmentPath>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let version = if_match(&req)?;
    let (input, raw) = json_body::<UpdateInvestment>(&req, &body)?;
    if let Some((name, _)) = raw
        .as_object()
        .and_then(|m| m.iter().find(|(_, v)| v.is_null()))
    {
        return Err(service::Error::invalid(&format!("/{name}"), "must not be null").into());
    }
    let investment = investments::update_investment(
        caller.service(),
        &caller.principal,
        path.fund_id.0,
        path.investment_id.0,
        version,
        InvestmentChanges {
            company_id: input.company_id,
            round_name: input.round_name,
            invested_on: input.invested_on.map(|d| d.0),
        },
    )
    .await?;
    Ok(with_etag(
        &Investment::from(&investment),
        investment.version,
    ))
}

/// Delete an investment with its lots (requires `If-Match`); snapshots keep what they captured.
#[utoipa::path(
    tag = "investments", operation_id = "delete_investment", params(InvestmentPath, IfMatchHeader),
    responses((status = 204, description = "Deleted."), DeleteErrors)
)]
#[delete("/api/v1/funds/{fund_id}/investments/{investment_id}")]
pub async fn delete_investment(
    caller: Caller,
    path: web::Path<InvestmentPath>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let version = if_match(&req)?;
    investments::delete_investment(
        caller.service(),
        &caller.principal,
        path.fund_id.0,
        path.investment_id.0,
        version,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_investment)
        .service(list_investments)
        .service(get_investment)
        .service(update_investment)
        .service(delete_investment);
}
