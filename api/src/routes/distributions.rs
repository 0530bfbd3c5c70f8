//! `/api/v1/funds/{fund_id}/distributions`: realized proceeds from a fund's companies.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use service::distributions::{self, NewDistribution};
use service::entity::distribution;
use service::in_fund;
use service::money::Cents;
use utoipa::ToSchema;

use crate::error::Error;
use crate::extract::{Caller, Creation};
use crate::replies::Written;
use crate::responses::{CreateErrors, Created, ReadErrors, RemoveErrors};
use crate::wire::{
    DecimalText, DistributionKind, DistributionPath, FundPath, IdempotencyKeyHeader, PageQuery,
    WireDate, page_of,
};
use utoipa_actix_web::service_config::ServiceConfig;

/// Realized proceeds from a company. Immutable.
#[derive(Serialize, ToSchema)]
pub struct Distribution {
    pub id: i64,
    pub fund_id: i64,
    pub company_id: i64,
    pub distributed_on: NaiveDate,
    /// Proceeds, cents.
    pub amount_cents: i64,
    pub kind: DistributionKind,
    /// Shares sold, a decimal string with 8 places; `null` for proceeds without a sale (dividends).
    #[schema(value_type = Option<String>)]
    pub shares_sold: Option<DecimalText>,
    pub created_at: DateTime<Utc>,
}

impl From<&distribution::Model> for Distribution {
    fn from(m: &distribution::Model) -> Self {
        Self {
            id: m.id,
            fund_id: m.fund_id,
            company_id: m.company_id,
            distributed_on: m.distributed_on,
            amount_cents: m.amount_cents,
            kind: m.kind.into(),
            shares_sold: m.shares_sold.map(|s| DecimalText::shares(s.0)),
            created_at: m.created_at,
        }
    }
}

impl Written for distribution::Model {
    type Wire = Distribution;
    fn location(&self) -> String {
        format!("/api/v1/funds/{}/distributions/{}", self.fund_id, self.id)
    }
}

page_of! {
    /// A page of distributions, newest first.
    DistributionPage of Distribution
}

/// New proceeds.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDistribution {
    /// A company of the same fund.
    #[schema(minimum = 1)]
    pub company_id: i64,
    /// `YYYY-MM-DD`; on or after the company's first lot.
    #[schema(value_type = String, format = Date, example = "2024-06-30")]
    pub distributed_on: WireDate,
    /// Greater than 0.
    #[schema(minimum = 1)]
    pub amount_cents: i64,
    pub kind: DistributionKind,
    /// Shares sold: a decimal string, greater than 0, at most 8 places; at most the shares the company
    /// held on `distributed_on` (else 422 `shares_not_held`). An `exit` sells every share held on its
    /// date: leave this out, or send exactly that number. The exit moves the company to `exited`.
    #[schema(pattern = r"^[0-9]{1,10}(\.[0-9]{1,8})?$")]
    pub shares_sold: Option<String>,
}

/// Record proceeds from a company.
#[utoipa::path(
    tag = "distributions", operation_id = "create_distribution", request_body = CreateDistribution, params(FundPath, IdempotencyKeyHeader),
    responses(Created<Distribution>, CreateErrors)
)]
#[post("/api/v1/funds/{fund_id}/distributions")]
pub async fn create_distribution(
    creation: Creation,
    path: web::Path<FundPath>,
) -> Result<HttpResponse, Error> {
    let fund_id = path.fund_id.0;
    let scope = format!("POST /api/v1/funds/{fund_id}/distributions");
    creation
        .run(
            scope,
            async |svc, principal, input: CreateDistribution, idem| {
                let input = NewDistribution {
                    company_id: input.company_id,
                    distributed_on: input.distributed_on.0,
                    amount_cents: Cents::new(input.amount_cents),
                    kind: input.kind.into(),
                    shares_sold: input.shares_sold,
                };
                distributions::create_distribution(svc, principal, fund_id, input, idem).await
            },
        )
        .await
}

/// List a fund's distributions, newest first.
#[utoipa::path(
    tag = "distributions", operation_id = "list_distributions", params(FundPath, PageQuery),
    responses((status = 200, description = "A page of distributions.", body = DistributionPage), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/distributions")]
pub async fn list_distributions(
    caller: Caller,
    path: web::Path<FundPath>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    caller
        .page_in_fund::<distribution::Entity, DistributionPage>(path.fund_id.0, &query)
        .await
}

/// Get one distribution of the fund.
#[utoipa::path(
    tag = "distributions", operation_id = "get_distribution", params(DistributionPath),
    responses((status = 200, description = "The distribution.", body = Distribution), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/distributions/{distribution_id}")]
pub async fn get_distribution(
    caller: Caller,
    path: web::Path<DistributionPath>,
) -> Result<HttpResponse, Error> {
    let (fund_id, id) = (path.fund_id.0, path.distribution_id.0);
    let distribution =
        in_fund::get::<distribution::Entity>(caller.service(), &caller.principal, fund_id, id)
            .await?;
    Ok(HttpResponse::Ok().json(Distribution::from(&distribution)))
}

/// Delete a mistyped distribution (distributions are immutable: delete and re-enter); snapshots keep
/// what they captured.
#[utoipa::path(
    tag = "distributions", operation_id = "delete_distribution", params(DistributionPath),
    responses((status = 204, description = "Deleted."), RemoveErrors)
)]
#[delete("/api/v1/funds/{fund_id}/distributions/{distribution_id}")]
pub async fn delete_distribution(
    caller: Caller,
    path: web::Path<DistributionPath>,
) -> Result<HttpResponse, Error> {
    in_fund::delete::<distribution::Entity>(
        caller.service(),
        &caller.principal,
        path.fund_id.0,
        path.distribution_id.0,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What a fund has distributed.
#[derive(Serialize, ToSchema)]
pub struct DistributionSummary {
    /// How many distributions the fund has recorded.
    pub count: i64,
    /// Their proceeds together, cents.
    pub total_cents: i64,
    /// The date of the first; `null` without distributions.
    pub first_on: Option<NaiveDate>,
    /// The date of the last; `null` without distributions.
    pub last_on: Option<NaiveDate>,
}

/// Summarise a fund's distributions: how many, their total, the first and last dates.
#[utoipa::path(
    tag = "distributions", operation_id = "get_distribution_summary", params(FundPath),
    responses((status = 200, description = "The summary.", body = DistributionSummary), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/distributions/summary")]
pub async fn get_distribution_summary(
    caller: Caller,
    path: web::Path<FundPath>,
) -> Result<HttpResponse, Error> {
    let s = distributions::summary(caller.service(), &caller.principal, path.fund_id.0).await?;
    Ok(HttpResponse::Ok().json(DistributionSummary {
        count: s.count,
        total_cents: s.total_cents,
        first_on: s.first_on,
        last_on: s.last_on,
    }))
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_distribution)
        .service(list_distributions)
        .service(get_distribution_summary)
        .service(get_distribution)
        .service(delete_distribution);
}
