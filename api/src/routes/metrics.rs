//! `/api/v1/funds/{fund_id}/moic`: lot-level MOIC, company MOIC variants and gross fund metrics.

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use service::metrics::{self as domain, PortfolioMetrics};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::Error;
use crate::extract::Caller;
use crate::negotiate::{Format, Money, csv_response, negotiate};
use crate::responses::{ReadErrors, TableErrors};
use crate::state::AppState;
use crate::wire::{
    CompanyStatus, DecimalText, FundPath, LotType, ValuationBasis, WireDate, page_request,
};
use utoipa_actix_web::service_config::ServiceConfig;

/// Gross fund metrics. Ratios are decimal strings with 6 places; `null` when undefined (nothing invested,
/// or no IRR exists).
#[derive(Serialize, ToSchema)]
pub struct FundMetrics {
    pub invested_cents: i64,
    pub realized_cents: i64,
    pub unrealized_cents: i64,
    pub total_value_cents: i64,
    /// Total value / invested.
    #[schema(value_type = Option<String>)]
    pub gross_moic: Option<DecimalText>,
    #[schema(value_type = Option<String>)]
    pub realized_multiple: Option<DecimalText>,
    #[schema(value_type = Option<String>)]
    pub unrealized_multiple: Option<DecimalText>,
    /// XIRR (Actual/365) of lot purchases, distributions and the unrealized value at `as_of`; `0.1` = 10%.
    #[schema(value_type = Option<String>)]
    pub gross_irr: Option<DecimalText>,
    pub planned_reserves_cents: i64,
    /// Realized + invested × exit MOIC × probability + planned reserves × reserve exit MOIC × probability.
    pub projected_value_cents: i64,
    /// Projected value / (invested + planned reserves).
    #[schema(value_type = Option<String>)]
    pub projected_moic: Option<DecimalText>,
}

impl From<&domain::FundMetrics> for FundMetrics {
    fn from(f: &domain::FundMetrics) -> Self {
        Self {
            invested_cents: f.invested_cents,
            realized_cents: f.realized_cents,
            unrealized_cents: f.unrealized_cents,
            total_value_cents: f.total_value_cents,
            gross_moic: DecimalText::ratio(f.gross_moic),
            realized_multiple: DecimalText::ratio(f.realized_multiple),
            unrealized_multiple: DecimalText::ratio(f.unrealized_multiple),
            gross_irr: DecimalText::ratio(f.gross_irr),
            planned_reserves_cents: f.planned_reserves_cents,
            projected_value_cents: f.projected_value_cents,
            projected_moic: DecimalText::ratio(f.projected_moic),
        }
    }
}

/// A company's figures: sums over its lots, and its MOIC variants.
#[derive(Serialize, ToSchema)]
pub struct CompanyMetrics {
    pub company_id: i64,
    pub name: String,
    pub status: CompanyStatus,
    pub valuation_basis: ValuationBasis,
    /// Shares still held, 8 places.
    #[schema(value_type = String)]
    pub shares_held: DecimalText,
    pub invested_cents: i64,
    pub realized_cents: i64,
    pub unrealized_cents: i64,
    pub total_value_cents: i64,
    pub planned_reserves_cents: i64,
    /// (Realized + unrealized) / invested over all lots.
    #[schema(value_type = Option<String>)]
    pub current_moic: Option<DecimalText>,
    /// The same over initial lots only.
    #[schema(value_type = Option<String>)]
    pub current_moic_initial: Option<DecimalText>,
    /// The same over follow-on lots only; `null` without follow-on lots.
    #[schema(value_type = Option<String>)]
    pub current_moic_follow_on: Option<DecimalText>,
    /// `exit_moic_bps / 10000`.
    #[schema(value_type = Option<String>)]
    pub exit_moic: Option<DecimalText>,
    /// Exit MOIC × exit probability.
    #[schema(value_type = Option<String>)]
    pub expected_exit_moic: Option<DecimalText>,
    /// Reserve exit MOIC × exit probability; `null` without planned reserves.
    #[schema(value_type = Option<String>)]
    pub exit_moic_on_planned_reserves: Option<DecimalText>,
}

impl From<&domain::CompanyMetrics> for CompanyMetrics {
    fn from(c: &domain::CompanyMetrics) -> Self {
        Self {
            company_id: c.company_id,
            name: c.name.clone(),
            status: c.status.into(),
            valuation_basis: c.valuation_basis.into(),
            shares_held: DecimalText::shares(c.shares_held),
            invested_cents: c.invested_cents,
            realized_cents: c.realized_cents,
            unrealized_cents: c.unrealized_cents,
            total_value_cents: c.total_value_cents,
            planned_reserves_cents: c.planned_reserves_cents,
            current_moic: DecimalText::ratio(c.current_moic),
            current_moic_initial: DecimalText::ratio(c.current_moic_initial),
            current_moic_follow_on: DecimalText::ratio(c.current_moic_follow_on),
            exit_moic: DecimalText::ratio(c.exit_moic),
            expected_exit_moic: DecimalText::ratio(c.expected_exit_moic),
            exit_moic_on_planned_reserves: DecimalText::ratio(c.exit_moic_on_planned_reserves),
        }
    }
}

/// One lot's realized and unrealized value (FIFO relief on sales).
#[derive(Serialize, ToSchema)]
pub struct LotMetrics {
    pub lot_id: Uuid,
    pub company_id: i64,
    /// The company's name.
    pub company_name: String,
    pub investment_id: i64,
    /// The investment's round, e.g. `Series A`.
    pub round_name: String,
    pub lot_type: LotType,
    /// The purchase date.
    pub acquired_on: NaiveDate,
    pub cost_basis_cents: i64,
    #[schema(value_type = String)]
    pub shares_acquired: DecimalText,
    #[schema(value_type = String)]
    pub shares_held: DecimalText,
    pub realized_cents: i64,
    pub unrealized_cents: i64,
    #[schema(value_type = Option<String>)]
    pub moic: Option<DecimalText>,
}

impl From<&domain::LotMetrics> for LotMetrics {
    fn from(l: &domain::LotMetrics) -> Self {
        Self {
            lot_id: l.lot_id,
            company_id: l.company_id,
            company_name: l.company_name.clone(),
            investment_id: l.investment_id,
            round_name: l.round_name.clone(),
            lot_type: l.lot_type.into(),
            acquired_on: l.acquired_on,
            cost_basis_cents: l.cost_basis_cents,
            shares_acquired: DecimalText::shares(l.shares_acquired),
            shares_held: DecimalText::shares(l.shares_held),
            realized_cents: l.realized_cents,
            unrealized_cents: l.unrealized_cents,
            moic: DecimalText::ratio(l.moic),
        }
    }
}

/// A fund's MOIC at every level.
#[derive(Serialize, ToSchema)]
pub struct FundMoic {
    pub fund_id: i64,
    /// The valuation date: only flows on or before it count.
    pub as_of: NaiveDate,
    pub fund: FundMetrics,
    pub companies: Vec<CompanyMetrics>,
    /// How many lots the fund has; their figures are at `/funds/{fund_id}/moic/lots`, a page at a time.
    pub lot_count: u64,
}

impl FundMoic {
    pub fn new(fund_id: i64, m: &PortfolioMetrics) -> Self {
        Self {
            fund_id,
            as_of: m.as_of,
            fund: FundMetrics::from(&m.fund),
            companies: m.companies.iter().map(CompanyMetrics::from).collect(),
            lot_count: m.lots.len() as u64,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MoicQuery {
    /// Valuation date (`YYYY-MM-DD`); default today (UTC). Each company is valued at its latest mark
    /// dated on or before it.
    #[param(value_type = Option<String>, format = Date)]
    pub as_of: Option<WireDate>,
    /// With `Accept: text/csv`: which rows the table holds (default `companies`). JSON always holds
    /// all of them.
    #[param(inline)]
    pub rows: Option<MoicRows>,
}

/// The rows of the MOIC table in CSV.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MoicRows {
    Companies,
    Lots,
}

/// Lot-level MOIC, company MOIC variants and gross fund metrics; with `Accept: text/csv`, the company
/// or lot rows as a table for spreadsheets.
#[utoipa::path(
    tag = "metrics", operation_id = "get_fund_moic", params(FundPath, MoicQuery),
    responses((status = 200, description = "The metrics (JSON), or one table of them (CSV: a header line of the field names, one line per company or lot).", content(
        (FundMoic = "application/json"),
        (String = "text/csv"),
    )), TableErrors)
)]
#[get("/api/v1/funds/{fund_id}/moic")]
pub async fn get_fund_moic(
    caller: Caller,
    path: web::Path<FundPath>,
    query: web::Query<MoicQuery>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Error> {
    let fund_id = path.fund_id.0;
    let format = negotiate(&req)?;
    let computed = domain::fund_moic(
        caller.service(),
        &caller.principal,
        fund_id,
        query.as_of.map(|d| d.0),
    )
    .await?;
    if format == Format::Csv {
        return match query.rows.unwrap_or(MoicRows::Companies) {
            MoicRows::Companies => {
                let rows: Vec<CompanyRow> =
                    computed.companies.iter().map(CompanyRow::from).collect();
                csv_response(&rows, &format!("fund-{fund_id}-companies.csv"))
            }
            MoicRows::Lots => {
                let rows: Vec<LotRow> = computed.lots.iter().map(LotRow::from).collect();
                csv_response(&rows, &format!("fund-{fund_id}-lots.csv"))
            }
        };
    }
    // Written once per computed result: an unchanged fund is answered with the same bytes.
    let body = state
        .moic_bodies
        .get_or_write(fund_id, &computed, |metrics| {
            serde_json::to_vec(&FundMoic::new(fund_id, metrics))
        })
        .map_err(|e| service::Error::Invariant(format!("writing the MOIC response: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// A company row of the MOIC table in CSV (SPEC §2): money in the fund's currency with 2 places, then
/// the same amounts in cents.
#[derive(Serialize)]
struct CompanyRow<'m> {
    company: &'m str,
    status: CompanyStatus,
    valuation_basis: ValuationBasis,
    shares_held: DecimalText,
    invested: Money,
    realized: Money,
    unrealized: Money,
    total_value: Money,
    planned_reserves: Money,
    current_moic: Option<DecimalText>,
    company_id: i64,
    invested_cents: i64,
    realized_cents: i64,
    unrealized_cents: i64,
    total_value_cents: i64,
}

impl<'m> From<&'m domain::CompanyMetrics> for CompanyRow<'m> {
    fn from(c: &'m domain::CompanyMetrics) -> Self {
        Self {
            company: &c.name,
            status: c.status.into(),
            valuation_basis: c.valuation_basis.into(),
            shares_held: DecimalText::shares(c.shares_held),
            invested: Money(c.invested_cents),
            realized: Money(c.realized_cents),
            unrealized: Money(c.unrealized_cents),
            total_value: Money(c.total_value_cents),
            planned_reserves: Money(c.planned_reserves_cents),
            current_moic: DecimalText::ratio(c.current_moic),
            company_id: c.company_id,
            invested_cents: c.invested_cents,
            realized_cents: c.realized_cents,
            unrealized_cents: c.unrealized_cents,
            total_value_cents: c.total_value_cents,
        }
    }
}

/// A lot row of the MOIC table in CSV: what it is about (company, round, type, date), money in the
/// fund's currency with 2 places, then in cents.
#[derive(Serialize)]
struct LotRow<'m> {
    company: &'m str,
    round: &'m str,
    lot_type: LotType,
    acquired_on: NaiveDate,
    shares_acquired: DecimalText,
    shares_held: DecimalText,
    cost_basis: Money,
    realized: Money,
    unrealized: Money,
    moic: Option<DecimalText>,
    lot_id: Uuid,
    cost_basis_cents: i64,
    realized_cents: i64,
    unrealized_cents: i64,
}

impl<'m> From<&'m domain::LotMetrics> for LotRow<'m> {
    fn from(l: &'m domain::LotMetrics) -> Self {
        Self {
            company: &l.company_name,
            round: &l.round_name,
            lot_type: l.lot_type.into(),
            acquired_on: l.acquired_on,
            shares_acquired: DecimalText::shares(l.shares_acquired),
            shares_held: DecimalText::shares(l.shares_held),
            cost_basis: Money(l.cost_basis_cents),
            realized: Money(l.realized_cents),
            unrealized: Money(l.unrealized_cents),
            moic: DecimalText::ratio(l.moic),
            lot_id: l.lot_id,
            cost_basis_cents: l.cost_basis_cents,
            realized_cents: l.realized_cents,
            unrealized_cents: l.unrealized_cents,
        }
    }
}

/// Which lots, as of when.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LotMoicQuery {
    /// Valuation date (`YYYY-MM-DD`); default today (UTC). Each company is valued at its latest mark
    /// dated on or before it.
    #[param(value_type = Option<String>, format = Date)]
    pub as_of: Option<WireDate>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page (opaque; anything not of this pattern is a 400
    /// `invalid_cursor`).
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

/// A page of lot figures, in lot id order.
#[derive(Serialize, ToSchema)]
pub struct LotMoicPage {
    pub fund_id: i64,
    /// The valuation date of every figure on the page.
    pub as_of: NaiveDate,
    pub data: Vec<LotMetrics>,
    /// The cursor of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A fund's lot-level MOIC, a page at a time, in lot id order (the order lots were recorded). Computed
/// from the same figures as `/moic`, reused while the fund's data is unchanged.
#[utoipa::path(
    tag = "metrics", operation_id = "list_lot_moic", params(FundPath, LotMoicQuery),
    responses((status = 200, description = "A page of lot figures.", body = LotMoicPage), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/moic/lots")]
pub async fn list_lot_moic(
    caller: Caller,
    path: web::Path<FundPath>,
    query: web::Query<LotMoicQuery>,
) -> Result<HttpResponse, Error> {
    let fund_id = path.fund_id.0;
    let request = page_request(query.limit, query.cursor.as_deref())?;
    let (as_of, page) = domain::lot_page(
        caller.service(),
        &caller.principal,
        fund_id,
        query.as_of.map(|d| d.0),
        request,
    )
    .await?;
    Ok(HttpResponse::Ok().json(LotMoicPage {
        fund_id,
        as_of,
        data: page.items.iter().map(LotMetrics::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_fund_moic).service(list_lot_moic);
}
