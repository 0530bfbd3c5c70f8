//! `/api/v1/funds/{fund_id}/reserves/rankings` and `/api/v1/funds/{fund_id}/reserve-plan`: the
//! engine's ranking of companies for follow-on reserves, and the fund's reserve plan.

use actix_web::{HttpRequest, HttpResponse, get, put, web};
use serde::{Deserialize, Serialize};
use service::reserves::{self as domain, PlanUpdate, PlanView};
use utoipa::ToSchema;

use crate::error::Error;
use crate::extract::{Caller, json_body, with_etag};
use crate::negotiate::{Format, Money, csv_response, negotiate};
use crate::responses::{ReadErrors, TableErrors, UpdateErrors, Versioned};
use crate::wire::{DecimalText, FundPath};
use utoipa_actix_web::service_config::ServiceConfig;

/// A company's place in the reserve rankings.
#[derive(Serialize, ToSchema)]
pub struct Ranking {
    /// 1 = first call on reserves.
    pub rank: i32,
    pub company_id: i64,
    pub name: String,
    /// Σ cost basis of the company's lots, cents: the first tie-break between equal ranking values.
    pub invested_cents: i64,
    /// Reserve exit MOIC × exit probability, 6 places; `null` without planned reserves or assumptions.
    #[schema(value_type = Option<String>)]
    pub exit_moic_on_planned_reserves: Option<DecimalText>,
    /// The same multiple regardless of planned reserves: what the allocation engine ranks by, highest
    /// first, unknown last; ties by `invested_cents` (largest first), then `company_id`.
    #[schema(value_type = Option<String>)]
    pub allocation_score: Option<DecimalText>,
    pub planned_reserves_cents: i64,
    pub allocation_cap_cents: Option<i64>,
}

impl From<&domain::Ranking> for Ranking {
    fn from(r: &domain::Ranking) -> Self {
        Self {
            rank: r.rank,
            company_id: r.company_id,
            name: r.name.clone(),
            invested_cents: r.invested_cents,
            exit_moic_on_planned_reserves: DecimalText::ratio(r.exit_moic_on_planned_reserves),
            allocation_score: DecimalText::ratio(r.allocation_score),
            planned_reserves_cents: r.planned_reserves_cents,
            allocation_cap_cents: r.allocation_cap_cents,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Rankings {
    pub fund_id: i64,
    pub data: Vec<Ranking>,
    /// Always `null`: the ranking is whole (one row per active company). Present so that every list
    /// has the same shape (SPEC §2).
    pub next_cursor: Option<String>,
}

/// A row of the rankings in CSV (SPEC §2): money in the fund's currency with 2 places, then in cents.
#[derive(Serialize)]
struct RankingRow<'r> {
    rank: i32,
    company: &'r str,
    allocation_score: Option<DecimalText>,
    exit_moic_on_planned_reserves: Option<DecimalText>,
    invested: Money,
    planned_reserves: Money,
    allocation_cap: Option<Money>,
    company_id: i64,
    invested_cents: i64,
    planned_reserves_cents: i64,
    allocation_cap_cents: Option<i64>,
}

impl<'r> From<&'r domain::Ranking> for RankingRow<'r> {
    fn from(r: &'r domain::Ranking) -> Self {
        Self {
            rank: r.rank,
            company: &r.name,
            allocation_score: DecimalText::ratio(r.allocation_score),
            exit_moic_on_planned_reserves: DecimalText::ratio(r.exit_moic_on_planned_reserves),
            invested: Money(r.invested_cents),
            planned_reserves: Money(r.planned_reserves_cents),
            allocation_cap: r.allocation_cap_cents.map(Money),
            company_id: r.company_id,
            invested_cents: r.invested_cents,
            planned_reserves_cents: r.planned_reserves_cents,
            allocation_cap_cents: r.allocation_cap_cents,
        }
    }
}

/// Active companies ranked by the expected exit multiple on their planned reserves; with
/// `Accept: text/csv`, the same rows as a table for spreadsheets.
#[utoipa::path(
    tag = "reserves", operation_id = "get_reserve_rankings", params(FundPath),
    responses((status = 200, description = "Highest multiple first; companies without one last (CSV: a header line of the field names, one line per company).", content(
        (Rankings = "application/json"),
        (String = "text/csv"),
    )), TableErrors)
)]
#[get("/api/v1/funds/{fund_id}/reserves/rankings")]
pub async fn get_reserve_rankings(
    caller: Caller,
    path: web::Path<FundPath>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let format = negotiate(&req)?;
    let fund_id = path.fund_id.0;
    let rows = domain::reserve_rankings(caller.service(), &caller.principal, fund_id).await?;
    if format == Format::Csv {
        let table: Vec<RankingRow> = rows.iter().map(RankingRow::from).collect();
        return csv_response(&table, &format!("fund-{fund_id}-reserve-rankings.csv"));
    }
    Ok(HttpResponse::Ok().json(Rankings {
        fund_id: path.fund_id.0,
        data: rows.iter().map(Ranking::from).collect(),
        next_cursor: None,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ReservePlanLine {
    pub company_id: i64,
    pub name: String,
    pub planned_reserves_cents: i64,
    pub allocation_cap_cents: Option<i64>,
}

/// The fund's reserve plan: each company's planned reserves and cap.
#[derive(Serialize, ToSchema)]
pub struct ReservePlan {
    pub fund_id: i64,
    /// The plan's version; also the `ETag`. Send it back as `expected_version`.
    pub version: i64,
    pub total_planned_cents: i64,
    pub companies: Vec<ReservePlanLine>,
}

impl From<&PlanView> for ReservePlan {
    fn from(p: &PlanView) -> Self {
        Self {
            fund_id: p.fund_id,
            version: p.version,
            total_planned_cents: p.total_planned_cents,
            companies: p
                .companies
                .iter()
                .map(|c| ReservePlanLine {
                    company_id: c.company_id,
                    name: c.name.clone(),
                    planned_reserves_cents: c.planned_reserves_cents,
                    allocation_cap_cents: c.allocation_cap_cents,
                })
                .collect(),
        }
    }
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservePlanUpdate {
    /// A company of this fund (each at most once per request).
    #[schema(minimum = 1)]
    pub company_id: i64,
    /// 0 or more.
    #[schema(minimum = 0)]
    pub planned_reserves_cents: i64,
    /// Optional new cap, not below `planned_reserves_cents`; absent leaves the cap unchanged.
    #[schema(minimum = 0)]
    pub allocation_cap_cents: Option<i64>,
}

/// A batch update of the plan, applied atomically or not at all.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateReservePlan {
    /// The plan's current version.
    #[schema(minimum = 1)]
    pub expected_version: i64,
    /// 1 to 500 rows.
    #[schema(min_items = 1, max_items = 500)]
    pub updates: Vec<ReservePlanUpdate>,
}

/// The fund's reserve plan.
#[utoipa::path(
    tag = "reserves", operation_id = "get_reserve_plan", params(FundPath),
    responses(Versioned<ReservePlan>, ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/reserve-plan")]
pub async fn get_reserve_plan(
    caller: Caller,
    path: web::Path<FundPath>,
) -> Result<HttpResponse, Error> {
    let plan = domain::reserve_plan(caller.service(), &caller.principal, path.fund_id.0).await?;
    Ok(with_etag(&ReservePlan::from(&plan), plan.version))
}

/// Update many companies' planned reserves and caps at once, under the plan's version.
#[utoipa::path(
    tag = "reserves", operation_id = "update_reserve_plan", request_body = UpdateReservePlan, params(FundPath),
    responses(Versioned<ReservePlan>, UpdateErrors)
)]
#[put("/api/v1/funds/{fund_id}/reserve-plan")]
pub async fn update_reserve_plan(
    caller: Caller,
    path: web::Path<FundPath>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let (input, _) = json_body::<UpdateReservePlan>(&req, &body)?;
    let updates = input
        .updates
        .into_iter()
        .map(|u| PlanUpdate {
            company_id: u.company_id,
            planned_reserves_cents: u.planned_reserves_cents,
            allocation_cap_cents: u.allocation_cap_cents,
        })
        .collect();
    let plan = domain::update_reserve_plan(
        caller.service(),
        &caller.principal,
        path.fund_id.0,
        input.expected_version,
        updates,
    )
    .await?;
    Ok(with_etag(&ReservePlan::from(&plan), plan.version))
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_reserve_rankings)
        .service(get_reserve_plan)
        .service(update_reserve_plan);
}
