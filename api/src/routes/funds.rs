//! `/api/v1/funds`.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use service::entity::fund;
use service::funds::{self, FundPatch, NewFund, NewTerms};
use service::money::Cents;
use utoipa::ToSchema;

use crate::error::Error;
use crate::extract::{Caller, Creation, if_match, json_body, with_etag};
use crate::replies::Written;
use crate::responses::{CreateErrors, Created, DeleteErrors, ReadErrors, UpdateErrors, Versioned};
use crate::wire::{
    FeeBasis, FundPath, FundStatus, IdempotencyKeyHeader, IfMatchHeader, PageQuery, WaterfallKind,
    WireDate, double_option, page_of,
};
use utoipa_actix_web::service_config::ServiceConfig;

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
    pub status: FundStatus,
    /// Version of the fund's reserve plan.
    pub reserve_plan_version: i64,
    /// The first close: management fees start here. `null`: 1 January of `vintage_year`.
    pub first_close_on: Option<NaiveDate>,
    /// The commitment (investment) period from the first close, in years (1 to 15).
    pub commitment_period_years: i32,
    /// The fund's term from the first close, in years (1 to 30): fees end at its end.
    pub term_years: i32,
    /// Annual management fee after the commitment period, basis points. `null`: `management_fee_bps`.
    pub post_period_fee_bps: Option<i32>,
    pub post_period_fee_basis: FeeBasis,
    /// Preferred return h, basis points a year, compounded by actual days / 365 (0: none).
    pub hurdle_bps: i32,
    /// The GP's share c of each cent in the catch-up tier, basis points (10000: full catch-up).
    pub catch_up_bps: i32,
    pub waterfall: WaterfallKind,
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
            first_close_on: m.first_close_on,
            commitment_period_years: m.commitment_period_years,
            term_years: m.term_years,
            post_period_fee_bps: m.post_period_fee_bps,
            post_period_fee_basis: m.post_period_fee_basis.into(),
            hurdle_bps: m.hurdle_bps,
            catch_up_bps: m.catch_up_bps,
            waterfall: m.waterfall.into(),
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

page_of! {
    /// A page of funds, newest first.
    FundPage of Fund
}

/// A new fund.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFund {
    /// 1 to 255 characters.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub name: String,
    /// Committed capital in cents, greater than 0.
    #[schema(minimum = 1)]
    pub size_cents: i64,
    /// 1900 to 2200.
    #[schema(minimum = 1900, maximum = 2200)]
    pub vintage_year: i32,
    /// 0 to 10000 basis points (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000)]
    pub management_fee_bps: i32,
    /// 0 to 10000 basis points (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000)]
    pub carry_bps: i32,
    /// 0 to 10000 basis points (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000)]
    pub reserve_ratio_bps: i32,
    /// ISO 4217 code (default `USD`).
    #[serde(default = "usd")]
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub base_currency: String,
    /// The first close (`YYYY-MM-DD`): management fees start here. Default: 1 January of
    /// `vintage_year`.
    #[schema(value_type = Option<String>, format = Date)]
    pub first_close_on: Option<WireDate>,
    /// The commitment period in years, 1 to 15 (default 5), at most `term_years`.
    #[serde(default = "five")]
    #[schema(minimum = 1, maximum = 15)]
    pub commitment_period_years: i32,
    /// The fund's term in years, 1 to 30 (default 10): fees end at the first close plus the term.
    #[serde(default = "ten")]
    #[schema(minimum = 1, maximum = 30)]
    pub term_years: i32,
    /// Annual fee after the commitment period, 0 to 10000 basis points (default: `management_fee_bps`).
    #[schema(minimum = 0, maximum = 10000)]
    pub post_period_fee_bps: Option<i32>,
    /// Default `net_invested_capital`.
    #[serde(default = "net_invested_capital")]
    pub post_period_fee_basis: FeeBasis,
    /// Preferred return, 0 to 10000 basis points a year (default 0). Above 0, `catch_up_bps` must
    /// exceed `carry_bps`, and the waterfall must be `european`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000)]
    pub hurdle_bps: i32,
    /// The GP's share of the catch-up tier, 0 to 10000 basis points (default 10000).
    #[serde(default = "full_catch_up")]
    #[schema(minimum = 0, maximum = 10000)]
    pub catch_up_bps: i32,
    /// Default `european`.
    #[serde(default = "european")]
    pub waterfall: WaterfallKind,
}

fn usd() -> String {
    "USD".into()
}

fn five() -> i32 {
    5
}

fn ten() -> i32 {
    10
}

fn full_catch_up() -> i32 {
    10_000
}

fn net_invested_capital() -> FeeBasis {
    FeeBasis::NetInvestedCapital
}

fn european() -> WaterfallKind {
    WaterfallKind::European
}

/// Changes to a fund; absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFund {
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(minimum = 1)]
    pub size_cents: Option<i64>,
    #[schema(minimum = 1900, maximum = 2200)]
    pub vintage_year: Option<i32>,
    #[schema(minimum = 0, maximum = 10000)]
    pub management_fee_bps: Option<i32>,
    #[schema(minimum = 0, maximum = 10000)]
    pub carry_bps: Option<i32>,
    #[schema(minimum = 0, maximum = 10000)]
    pub reserve_ratio_bps: Option<i32>,
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub base_currency: Option<String>,
    pub status: Option<FundStatus>,
    /// `YYYY-MM-DD`; `null` returns to 1 January of `vintage_year`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = Date)]
    pub first_close_on: Option<Option<WireDate>>,
    #[schema(minimum = 1, maximum = 15)]
    pub commitment_period_years: Option<i32>,
    #[schema(minimum = 1, maximum = 30)]
    pub term_years: Option<i32>,
    /// `null` returns to `management_fee_bps`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(minimum = 0, maximum = 10000)]
    pub post_period_fee_bps: Option<Option<i32>>,
    pub post_period_fee_basis: Option<FeeBasis>,
    #[schema(minimum = 0, maximum = 10000)]
    pub hurdle_bps: Option<i32>,
    #[schema(minimum = 0, maximum = 10000)]
    pub catch_up_bps: Option<i32>,
    pub waterfall: Option<WaterfallKind>,
}

impl Written for fund::Model {
    type Wire = Fund;
    fn location(&self) -> String {
        format!("/api/v1/funds/{}", self.id)
    }
}

/// Create a fund (admin keys only).
#[utoipa::path(
    tag = "funds", operation_id = "create_fund", request_body = CreateFund, params(IdempotencyKeyHeader),
    responses(Created<Fund>, CreateErrors)
)]
#[post("/api/v1/funds")]
pub async fn create_fund(creation: Creation) -> Result<HttpResponse, Error> {
    let scope = "POST /api/v1/funds".to_owned();
    creation
        .run(scope, async |svc, principal, input: CreateFund, idem| {
            let input = NewFund {
                name: input.name,
                size_cents: Cents::new(input.size_cents),
                vintage_year: input.vintage_year,
                management_fee_bps: input.management_fee_bps,
                carry_bps: input.carry_bps,
                reserve_ratio_bps: input.reserve_ratio_bps,
                base_currency: input.base_currency,
                terms: NewTerms {
                    first_close_on: input.first_close_on.map(|d| d.0),
                    commitment_period_years: input.commitment_period_years,
                    term_years: input.term_years,
                    post_period_fee_bps: input.post_period_fee_bps,
                    post_period_fee_basis: input.post_period_fee_basis.into(),
                    hurdle_bps: input.hurdle_bps,
                    catch_up_bps: input.catch_up_bps,
                    waterfall: input.waterfall.into(),
                },
            };
            funds::create_fund(svc, principal, input, idem).await
        })
        .await
}

/// List the funds this key may see, newest first.
#[utoipa::path(
    tag = "funds", operation_id = "list_funds", params(PageQuery),
    responses((status = 200, description = "A page of funds.", body = FundPage), ReadErrors)
)]
#[get("/api/v1/funds")]
pub async fn list_funds(
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Error> {
    let page = funds::list_funds(caller.service(), &caller.principal, query.page()?).await?;
    Ok(HttpResponse::Ok().json(FundPage::from(page)))
}

/// Get one fund.
#[utoipa::path(
    tag = "funds", operation_id = "get_fund", params(FundPath),
    responses(Versioned<Fund>, ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}")]
pub async fn get_fund(caller: Caller, path: web::Path<FundPath>) -> Result<HttpResponse, Error> {
    let fund = funds::get_fund(caller.service(), &caller.principal, path.fund_id.0).await?;
    Ok(with_etag(&Fund::from(&fund), fund.version))
}

/// Update a fund (requires `If-Match`).
#[utoipa::path(
    tag = "funds", operation_id = "update_fund", request_body = UpdateFund, params(FundPath, IfMatchHeader),
    responses(Versioned<Fund>, UpdateErrors)
)]
#[patch("/api/v1/funds/{fund_id}")]
pub async fn update_fund(
    caller: Caller,
    path: web::Path<FundPath>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let version = if_match(&req)?;
    let (input, _) = json_body::<UpdateFund>(&req, &body)?;
    let patch = FundPatch {
        name: input.name,
        size_cents: input.size_cents.map(Cents::new),
        vintage_year: input.vintage_year,
        management_fee_bps: input.management_fee_bps,
        carry_bps: input.carry_bps,
        reserve_ratio_bps: input.reserve_ratio_bps,
        base_currency: input.base_currency,
        status: input.status.map(Into::into),
        first_close_on: input.first_close_on.map(|d| d.map(|d| d.0)),
        commitment_period_years: input.commitment_period_years,
        term_years: input.term_years,
        post_period_fee_bps: input.post_period_fee_bps,
        post_period_fee_basis: input.post_period_fee_basis.map(Into::into),
        hurdle_bps: input.hurdle_bps,
        catch_up_bps: input.catch_up_bps,
        waterfall: input.waterfall.map(Into::into),
    };
    let fund = funds::update_fund(
        caller.service(),
        &caller.principal,
        path.fund_id.0,
        version,
        patch,
    )
    .await?;
    Ok(with_etag(&Fund::from(&fund), fund.version))
}

/// Delete a fund and everything it owns (admin keys only; requires `If-Match`).
#[utoipa::path(
    tag = "funds", operation_id = "delete_fund", params(FundPath, IfMatchHeader),
    responses((status = 204, description = "Deleted."), DeleteErrors)
)]
#[delete("/api/v1/funds/{fund_id}")]
pub async fn delete_fund(
    caller: Caller,
    path: web::Path<FundPath>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let version = if_match(&req)?;
    funds::delete_fund(caller.service(), &caller.principal, path.fund_id.0, version).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_fund)
        .service(list_funds)
        .service(get_fund)
        .service(update_fund)
        .service(delete_fund);
}
