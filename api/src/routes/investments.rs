//! `/api/v1/funds/{fund_id}/investments`, their lots (`…/investments/{id}/lots`, `/funds/{id}/lots`) and
//! distributions (`/funds/{id}/distributions`).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use service::entity::distribution::{self, DistributionKind};
use service::entity::investment;
use service::entity::investment_lot::{self, LotType};
use service::portfolio::{self, LotFilter, NewDistribution, NewInvestment, NewLot};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::Error;
use crate::extract::{Auth, idempotency, json_body, outcome_response, render, with_etag};
use crate::problem::Problem;
use crate::routes::common::{Id, PageQuery, fixed};

// ---- investments ----

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

#[derive(Serialize, ToSchema)]
pub struct InvestmentPage {
    pub data: Vec<Investment>,
    pub next_cursor: Option<String>,
}

/// A new investment.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvestment {
    /// A company of the same fund.
    pub company_id: i64,
    /// 1 to 255 characters, e.g. `Series A`.
    pub round_name: String,
    pub invested_on: NaiveDate,
}

/// Record an investment in one of the fund's companies.
#[utoipa::path(
    tag = "investments",
    operation_id = "create_investment",
    request_body = CreateInvestment,
    params(
        ("fund_id" = i64, Path, minimum = 1, description = "The fund."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 visible ASCII characters."),
    ),
    responses(
        (status = 201, description = "Created.", body = Investment, headers(
            ("Location" = String, description = "The new investment."),
            ("Idempotent-Replayed" = String, description = "`true` on a replayed response."))),
        (status = 400, description = "Malformed body, id or header.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The idempotency key expired but its investment exists.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (e.g. a company of another fund), or the idempotency key was used for another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/funds/{fund_id}/investments")]
pub async fn create_investment(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let fund_id = path.0;
    let (input, value) = json_body::<CreateInvestment>(&req, &body)?;
    let idem = idempotency(
        &req,
        format!("POST /api/v1/funds/{fund_id}/investments"),
        &principal,
        &value,
    )?;
    let input = NewInvestment {
        company_id: input.company_id,
        round_name: input.round_name,
        invested_on: input.invested_on,
    };
    let outcome = portfolio::create_investment(
        &state.service,
        &principal,
        fund_id,
        input,
        idem.as_ref(),
        |m| {
            render(
                201,
                &Investment::from(m),
                format!("/api/v1/funds/{}/investments/{}", m.fund_id, m.id),
            )
        },
    )
    .await?;
    Ok(outcome_response(outcome))
}

/// List a fund's investments, newest first.
#[utoipa::path(
    tag = "investments",
    operation_id = "list_investments",
    params(("fund_id" = i64, Path, minimum = 1, description = "The fund."), PageQuery),
    responses(
        (status = 200, description = "A page of investments.", body = InvestmentPage),
        (status = 400, description = "Bad id, limit or cursor.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has no access to this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds/{fund_id}/investments")]
pub async fn list_investments(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    let page =
        portfolio::list_investments(&state.service, &principal, path.0, query.page()?).await?;
    Ok(HttpResponse::Ok().json(InvestmentPage {
        data: page.items.iter().map(Investment::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Get one investment.
#[utoipa::path(
    tag = "investments",
    operation_id = "get_investment",
    params(
        ("fund_id" = i64, Path, minimum = 1, description = "The fund."),
        ("investment_id" = i64, Path, minimum = 1, description = "The investment."),
    ),
    responses(
        (status = 200, description = "The investment.", body = Investment, headers(("ETag" = String, description = "The version, quoted."))),
        (status = 400, description = "Bad id.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has no access to this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such investment in this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds/{fund_id}/investments/{investment_id}")]
pub async fn get_investment(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<(Id, Id)>,
) -> Result<HttpResponse, Error> {
    let (fund_id, id) = path.into_inner();
    let inv = portfolio::get_investment(&state.service, &principal, fund_id.0, id.0).await?;
    Ok(with_etag(&Investment::from(&inv), inv.version))
}

// ---- lots ----

/// How a lot was acquired.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LotTypeDto {
    Initial,
    FollowOn,
    Secondary,
    Conversion,
}

impl From<LotType> for LotTypeDto {
    fn from(t: LotType) -> Self {
        match t {
            LotType::Initial => Self::Initial,
            LotType::FollowOn => Self::FollowOn,
            LotType::Secondary => Self::Secondary,
            LotType::Conversion => Self::Conversion,
        }
    }
}

impl From<LotTypeDto> for LotType {
    fn from(t: LotTypeDto) -> Self {
        match t {
            LotTypeDto::Initial => Self::Initial,
            LotTypeDto::FollowOn => Self::FollowOn,
            LotTypeDto::Secondary => Self::Secondary,
            LotTypeDto::Conversion => Self::Conversion,
        }
    }
}

/// A purchase lot: shares bought at one price on one date. Immutable.
#[derive(Serialize, ToSchema)]
pub struct Lot {
    pub id: Uuid,
    pub fund_id: i64,
    pub investment_id: i64,
    pub lot_type: LotTypeDto,
    /// Price paid per share, cents.
    pub share_price_cents: i64,
    /// Shares bought, a decimal string with 8 places.
    #[schema(example = "1000.12345678")]
    pub shares_acquired: String,
    /// Total cost including fees, cents.
    pub cost_basis_cents: i64,
    pub acquired_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

impl From<&investment_lot::Model> for Lot {
    fn from(m: &investment_lot::Model) -> Self {
        Self {
            id: m.id,
            fund_id: m.fund_id,
            investment_id: m.investment_id,
            lot_type: m.lot_type.into(),
            share_price_cents: m.share_price_cents,
            shares_acquired: fixed(m.shares_acquired.0, 8),
            cost_basis_cents: m.cost_basis_cents,
            acquired_on: m.acquired_on,
            created_at: m.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LotPage {
    pub data: Vec<Lot>,
    pub next_cursor: Option<String>,
}

/// A new lot.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLot {
    pub lot_type: LotTypeDto,
    /// Price per share, cents, 0 or more.
    pub share_price_cents: i64,
    /// Shares bought: a decimal string, greater than 0, at most 8 decimal places.
    #[schema(example = "1000.5")]
    pub shares_acquired: String,
    /// Total cost including fees, cents. Defaults to price × shares rounded half-up; when given it must
    /// be within 1000 cents of that.
    pub cost_basis_cents: Option<i64>,
    pub acquired_on: NaiveDate,
}

/// Record a purchase lot of an investment.
#[utoipa::path(
    tag = "lots",
    operation_id = "create_lot",
    request_body = CreateLot,
    params(
        ("fund_id" = i64, Path, minimum = 1, description = "The fund."),
        ("investment_id" = i64, Path, minimum = 1, description = "An investment of that fund."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 visible ASCII characters."),
    ),
    responses(
        (status = 201, description = "Created.", body = Lot, headers(
            ("Location" = String, description = "The new lot."),
            ("Idempotent-Replayed" = String, description = "`true` on a replayed response."))),
        (status = 400, description = "Malformed body, id or header.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such investment in this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The idempotency key expired but its lot exists (`Location` names it).", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, `cost_basis_mismatch` (with `expected_cost_basis_cents`), or the idempotency key was used for another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/funds/{fund_id}/investments/{investment_id}/lots")]
pub async fn create_lot(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<(Id, Id)>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let (fund_id, investment_id) = (path.0.0, path.1.0);
    let (input, value) = json_body::<CreateLot>(&req, &body)?;
    let scope = format!("POST /api/v1/funds/{fund_id}/investments/{investment_id}/lots");
    let idem = idempotency(&req, scope, &principal, &value)?;
    let input = NewLot {
        lot_type: input.lot_type.into(),
        share_price_cents: input.share_price_cents,
        shares_acquired: input.shares_acquired,
        cost_basis_cents: input.cost_basis_cents,
        acquired_on: input.acquired_on,
    };
    let outcome = portfolio::create_lot(
        &state.service,
        &principal,
        fund_id,
        investment_id,
        input,
        idem.as_ref(),
        |m| {
            render(
                201,
                &Lot::from(m),
                format!("/api/v1/funds/{}/lots/{}", m.fund_id, m.id),
            )
        },
    )
    .await?;
    Ok(outcome_response(outcome))
}

/// Filters of the lot list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LotQuery {
    /// Only lots of this investment (of the same fund).
    pub investment_id: Option<i64>,
    /// Only lots of this type.
    pub lot_type: Option<LotTypeDto>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List a fund's lots, newest first. Only ever this fund's lots.
#[utoipa::path(
    tag = "lots",
    operation_id = "list_lots",
    params(("fund_id" = i64, Path, minimum = 1, description = "The fund."), LotQuery),
    responses(
        (status = 200, description = "A page of lots.", body = LotPage),
        (status = 400, description = "Bad id, filter, limit or cursor.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has no access to this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds/{fund_id}/lots")]
pub async fn list_lots(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
    query: web::Query<LotQuery>,
) -> Result<HttpResponse, Error> {
    let q = query.into_inner();
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let filter = LotFilter {
        investment_id: q.investment_id,
        lot_type: q.lot_type.map(Into::into),
    };
    let page = portfolio::list_lots(&state.service, &principal, path.0, filter, page).await?;
    Ok(HttpResponse::Ok().json(LotPage {
        data: page.items.iter().map(Lot::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Get one lot of the fund.
#[utoipa::path(
    tag = "lots",
    operation_id = "get_lot",
    params(
        ("fund_id" = i64, Path, minimum = 1, description = "The fund."),
        ("lot_id" = Uuid, Path, description = "The lot."),
    ),
    responses(
        (status = 200, description = "The lot.", body = Lot),
        (status = 400, description = "Bad id.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has no access to this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lot in this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds/{fund_id}/lots/{lot_id}")]
pub async fn get_lot(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<(Id, Uuid)>,
) -> Result<HttpResponse, Error> {
    let (fund_id, lot_id) = path.into_inner();
    let lot = portfolio::get_lot(&state.service, &principal, fund_id.0, lot_id).await?;
    Ok(HttpResponse::Ok().json(Lot::from(&lot)))
}

// ---- distributions ----

/// What the proceeds were.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DistributionKindDto {
    Exit,
    PartialSale,
    Dividend,
    Recapitalization,
}

impl From<DistributionKind> for DistributionKindDto {
    fn from(k: DistributionKind) -> Self {
        match k {
            DistributionKind::Exit => Self::Exit,
            DistributionKind::PartialSale => Self::PartialSale,
            DistributionKind::Dividend => Self::Dividend,
            DistributionKind::Recapitalization => Self::Recapitalization,
        }
    }
}

impl From<DistributionKindDto> for DistributionKind {
    fn from(k: DistributionKindDto) -> Self {
        match k {
            DistributionKindDto::Exit => Self::Exit,
            DistributionKindDto::PartialSale => Self::PartialSale,
            DistributionKindDto::Dividend => Self::Dividend,
            DistributionKindDto::Recapitalization => Self::Recapitalization,
        }
    }
}

/// Realized proceeds from a company. Immutable.
#[derive(Serialize, ToSchema)]
pub struct Distribution {
    pub id: i64,
    pub fund_id: i64,
    pub company_id: i64,
    pub distributed_on: NaiveDate,
    /// Proceeds, cents.
    pub amount_cents: i64,
    pub kind: DistributionKindDto,
    /// Shares sold, a decimal string with 8 places; `null` for proceeds without a sale (dividends).
    pub shares_sold: Option<String>,
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
            shares_sold: m.shares_sold.map(|s| fixed(s.0, 8)),
            created_at: m.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DistributionPage {
    pub data: Vec<Distribution>,
    pub next_cursor: Option<String>,
}

/// New proceeds.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDistribution {
    /// A company of the same fund.
    pub company_id: i64,
    pub distributed_on: NaiveDate,
    /// Greater than 0.
    pub amount_cents: i64,
    pub kind: DistributionKindDto,
    /// Shares sold: a decimal string, greater than 0, at most 8 places.
    pub shares_sold: Option<String>,
}

/// Record proceeds from a company.
#[utoipa::path(
    tag = "distributions",
    operation_id = "create_distribution",
    request_body = CreateDistribution,
    params(
        ("fund_id" = i64, Path, minimum = 1, description = "The fund."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 visible ASCII characters."),
    ),
    responses(
        (status = 201, description = "Created.", body = Distribution, headers(
            ("Location" = String, description = "The new distribution."),
            ("Idempotent-Replayed" = String, description = "`true` on a replayed response."))),
        (status = 400, description = "Malformed body, id or header.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The idempotency key expired but its distribution exists.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or the idempotency key was used for another request.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/funds/{fund_id}/distributions")]
pub async fn create_distribution(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let fund_id = path.0;
    let (input, value) = json_body::<CreateDistribution>(&req, &body)?;
    let idem = idempotency(
        &req,
        format!("POST /api/v1/funds/{fund_id}/distributions"),
        &principal,
        &value,
    )?;
    let input = NewDistribution {
        company_id: input.company_id,
        distributed_on: input.distributed_on,
        amount_cents: input.amount_cents,
        kind: input.kind.into(),
        shares_sold: input.shares_sold,
    };
    let outcome = portfolio::create_distribution(
        &state.service,
        &principal,
        fund_id,
        input,
        idem.as_ref(),
        |m| {
            render(
                201,
                &Distribution::from(m),
                format!("/api/v1/funds/{}/distributions/{}", m.fund_id, m.id),
            )
        },
    )
    .await?;
    Ok(outcome_response(outcome))
}

/// List a fund's distributions, newest first.
#[utoipa::path(
    tag = "distributions",
    operation_id = "list_distributions",
    params(("fund_id" = i64, Path, minimum = 1, description = "The fund."), PageQuery),
    responses(
        (status = 200, description = "A page of distributions.", body = DistributionPage),
        (status = 400, description = "Bad id, limit or cursor.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has no access to this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds/{fund_id}/distributions")]
pub async fn list_distributions(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    let page =
        portfolio::list_distributions(&state.service, &principal, path.0, query.page()?).await?;
    Ok(HttpResponse::Ok().json(DistributionPage {
        data: page.items.iter().map(Distribution::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
