//! `/api/v1/funds/{fund_id}/moic`, `…/reserves/rankings` and `…/reserve-plan`.

use actix_web::{HttpRequest, HttpResponse, get, put, web};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use service::analytics::{self, PlanUpdate, PlanView, Ranking};
use service::metrics::{CompanyMetrics, FundMetrics, LotMetrics, PortfolioMetrics, ValuationBasis};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::Error;
use crate::extract::{Auth, json_body, with_etag};
use crate::json::{JsonOut, WriteJson};
use crate::problem::Problem;
use crate::routes::common::{DecimalText, Id};
use crate::routes::companies::CompanyStatusDto;
use crate::routes::investments::LotTypeDto;

fn ratio(v: Option<Decimal>) -> Option<DecimalText> {
    v.map(|d| DecimalText::new(d, 6))
}

/// How unrealized value was measured.
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValuationBasisDto {
    /// Shares held × the company's current share price.
    Mark,
    /// No mark: remaining shares are held at cost.
    Cost,
}

/// Gross fund metrics. Ratios are decimal strings with 6 places; `null` when undefined (nothing invested,
/// or no IRR exists).
#[derive(Serialize, ToSchema)]
pub struct FundMetricsDto {
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

impl From<&FundMetrics> for FundMetricsDto {
    fn from(f: &FundMetrics) -> Self {
        Self {
            invested_cents: f.invested_cents,
            realized_cents: f.realized_cents,
            unrealized_cents: f.unrealized_cents,
            total_value_cents: f.total_value_cents,
            gross_moic: ratio(f.gross_moic),
            realized_multiple: ratio(f.realized_multiple),
            unrealized_multiple: ratio(f.unrealized_multiple),
            gross_irr: ratio(f.gross_irr),
            planned_reserves_cents: f.planned_reserves_cents,
            projected_value_cents: f.projected_value_cents,
            projected_moic: ratio(f.projected_moic),
        }
    }
}

/// A company's figures: sums over its lots, and its MOIC variants.
#[derive(Serialize, ToSchema)]
pub struct CompanyMetricsDto {
    pub company_id: i64,
    pub name: String,
    pub status: CompanyStatusDto,
    pub valuation_basis: ValuationBasisDto,
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

impl From<&CompanyMetrics> for CompanyMetricsDto {
    fn from(c: &CompanyMetrics) -> Self {
        Self {
            company_id: c.company_id,
            name: c.name.clone(),
            status: c.status.into(),
            valuation_basis: match c.valuation_basis {
                ValuationBasis::Mark => ValuationBasisDto::Mark,
                ValuationBasis::Cost => ValuationBasisDto::Cost,
            },
            shares_held: DecimalText::new(c.shares_held, 8),
            invested_cents: c.invested_cents,
            realized_cents: c.realized_cents,
            unrealized_cents: c.unrealized_cents,
            total_value_cents: c.total_value_cents,
            planned_reserves_cents: c.planned_reserves_cents,
            current_moic: ratio(c.current_moic),
            current_moic_initial: ratio(c.current_moic_initial),
            current_moic_follow_on: ratio(c.current_moic_follow_on),
            exit_moic: ratio(c.exit_moic),
            expected_exit_moic: ratio(c.expected_exit_moic),
            exit_moic_on_planned_reserves: ratio(c.exit_moic_on_planned_reserves),
        }
    }
}

/// One lot's realized and unrealized value (FIFO relief on sales).
#[derive(Serialize, ToSchema)]
pub struct LotMetricsDto {
    pub lot_id: Uuid,
    pub company_id: i64,
    pub investment_id: i64,
    pub lot_type: LotTypeDto,
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

impl From<&LotMetrics> for LotMetricsDto {
    fn from(l: &LotMetrics) -> Self {
        Self {
            lot_id: l.lot_id,
            company_id: l.company_id,
            investment_id: l.investment_id,
            lot_type: l.lot_type.into(),
            cost_basis_cents: l.cost_basis_cents,
            shares_acquired: DecimalText::new(l.shares_acquired, 8),
            shares_held: DecimalText::new(l.shares_held, 8),
            realized_cents: l.realized_cents,
            unrealized_cents: l.unrealized_cents,
            moic: ratio(l.moic),
        }
    }
}

/// A fund's MOIC at every level.
#[derive(Serialize, ToSchema)]
pub struct FundMoic {
    pub fund_id: i64,
    /// The valuation date: only flows on or before it count.
    pub as_of: NaiveDate,
    pub fund: FundMetricsDto,
    pub companies: Vec<CompanyMetricsDto>,
    pub lots: Vec<LotMetricsDto>,
}

impl FundMoic {
    pub fn new(fund_id: i64, m: &PortfolioMetrics) -> Self {
        Self {
            fund_id,
            as_of: m.as_of,
            fund: FundMetricsDto::from(&m.fund),
            companies: m.companies.iter().map(CompanyMetricsDto::from).collect(),
            lots: m.lots.iter().map(LotMetricsDto::from).collect(),
        }
    }
}

/// From this many lots on, the response's lots are written on two threads.
const PARALLEL_LOTS: usize = 2_000;

impl FundMoic {
    /// The response body: the same document as its `Serialize` derive, written by hand (see
    /// [`crate::json`]) because it holds every lot of the fund.
    pub fn to_json(&self) -> Vec<u8> {
        // About 300 bytes a lot and 600 a company.
        let mut out =
            JsonOut::with_capacity(1024 + self.lots.len() * 320 + self.companies.len() * 640);
        out.raw("{\"fund_id\":");
        out.int(self.fund_id);
        out.raw(",\"as_of\":");
        out.serde(&self.as_of);
        out.raw(",\"fund\":");
        out.serde(&self.fund);
        out.raw(",\"companies\":");
        out.array(&self.companies);
        out.raw(",\"lots\":");
        if self.lots.len() >= PARALLEL_LOTS {
            out.array_in_parallel(&self.lots);
        } else {
            out.array(&self.lots);
        }
        out.raw("}");
        out.into_bytes()
    }
}

fn opt_decimal(out: &mut JsonOut, value: Option<DecimalText>) {
    match value {
        Some(v) => out.decimal(v.value()),
        None => out.raw("null"),
    }
}

impl WriteJson for CompanyMetricsDto {
    fn write_json(&self, out: &mut JsonOut) {
        out.raw("{\"company_id\":");
        out.int(self.company_id);
        out.raw(",\"name\":");
        out.serde(&self.name);
        out.raw(",\"status\":");
        out.serde(&self.status);
        out.raw(",\"valuation_basis\":");
        out.serde(&self.valuation_basis);
        out.raw(",\"shares_held\":");
        out.decimal(self.shares_held.value());
        out.raw(",\"invested_cents\":");
        out.int(self.invested_cents);
        out.raw(",\"realized_cents\":");
        out.int(self.realized_cents);
        out.raw(",\"unrealized_cents\":");
        out.int(self.unrealized_cents);
        out.raw(",\"total_value_cents\":");
        out.int(self.total_value_cents);
        out.raw(",\"planned_reserves_cents\":");
        out.int(self.planned_reserves_cents);
        out.raw(",\"current_moic\":");
        opt_decimal(out, self.current_moic);
        out.raw(",\"current_moic_initial\":");
        opt_decimal(out, self.current_moic_initial);
        out.raw(",\"current_moic_follow_on\":");
        opt_decimal(out, self.current_moic_follow_on);
        out.raw(",\"exit_moic\":");
        opt_decimal(out, self.exit_moic);
        out.raw(",\"expected_exit_moic\":");
        opt_decimal(out, self.expected_exit_moic);
        out.raw(",\"exit_moic_on_planned_reserves\":");
        opt_decimal(out, self.exit_moic_on_planned_reserves);
        out.raw("}");
    }
}

impl WriteJson for LotMetricsDto {
    fn write_json(&self, out: &mut JsonOut) {
        out.raw("{\"lot_id\":");
        out.uuid(self.lot_id);
        out.raw(",\"company_id\":");
        out.int(self.company_id);
        out.raw(",\"investment_id\":");
        out.int(self.investment_id);
        out.raw(",\"lot_type\":");
        out.raw(match self.lot_type {
            LotTypeDto::Initial => "\"initial\"",
            LotTypeDto::FollowOn => "\"follow_on\"",
            LotTypeDto::Secondary => "\"secondary\"",
            LotTypeDto::Conversion => "\"conversion\"",
        });
        out.raw(",\"cost_basis_cents\":");
        out.int(self.cost_basis_cents);
        out.raw(",\"shares_acquired\":");
        out.decimal(self.shares_acquired.value());
        out.raw(",\"shares_held\":");
        out.decimal(self.shares_held.value());
        out.raw(",\"realized_cents\":");
        out.int(self.realized_cents);
        out.raw(",\"unrealized_cents\":");
        out.int(self.unrealized_cents);
        out.raw(",\"moic\":");
        opt_decimal(out, self.moic);
        out.raw("}");
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MoicQuery {
    /// Valuation date (`YYYY-MM-DD`); default today (UTC).
    pub as_of: Option<NaiveDate>,
}

/// Lot-level MOIC, company MOIC variants and gross fund metrics.
#[utoipa::path(
    tag = "metrics",
    operation_id = "get_fund_moic",
    params(("fund_id" = i64, Path, minimum = 1, description = "The fund."), MoicQuery),
    responses(
        (status = 200, description = "The metrics.", body = FundMoic),
        (status = 400, description = "Bad id or date.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has no access to this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds/{fund_id}/moic")]
pub async fn get_fund_moic(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
    query: web::Query<MoicQuery>,
) -> Result<HttpResponse, Error> {
    let metrics = analytics::fund_moic(&state.service, &principal, path.0, query.as_of).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(FundMoic::new(path.0, &metrics).to_json()))
}

/// A company's place in the reserve rankings.
#[derive(Serialize, ToSchema)]
pub struct RankingDto {
    /// 1 = first call on reserves.
    pub rank: i32,
    pub company_id: i64,
    pub name: String,
    /// Reserve exit MOIC × exit probability, 6 places; `null` without planned reserves or assumptions.
    #[schema(value_type = Option<String>)]
    pub exit_moic_on_planned_reserves: Option<DecimalText>,
    /// The same multiple regardless of planned reserves (what the allocation engine ranks by).
    #[schema(value_type = Option<String>)]
    pub allocation_score: Option<DecimalText>,
    pub planned_reserves_cents: i64,
    pub allocation_cap_cents: Option<i64>,
}

impl From<&Ranking> for RankingDto {
    fn from(r: &Ranking) -> Self {
        Self {
            rank: r.rank,
            company_id: r.company_id,
            name: r.name.clone(),
            exit_moic_on_planned_reserves: ratio(r.exit_moic_on_planned_reserves),
            allocation_score: ratio(r.allocation_score),
            planned_reserves_cents: r.planned_reserves_cents,
            allocation_cap_cents: r.allocation_cap_cents,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Rankings {
    pub fund_id: i64,
    pub data: Vec<RankingDto>,
}

/// Active companies ranked by the expected exit multiple on their planned reserves.
#[utoipa::path(
    tag = "reserves",
    operation_id = "get_reserve_rankings",
    params(("fund_id" = i64, Path, minimum = 1, description = "The fund.")),
    responses(
        (status = 200, description = "Highest multiple first; companies without one last.", body = Rankings),
        (status = 400, description = "Bad id.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has no access to this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds/{fund_id}/reserves/rankings")]
pub async fn get_reserve_rankings(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
) -> Result<HttpResponse, Error> {
    let rows = analytics::reserve_rankings(&state.service, &principal, path.0).await?;
    Ok(HttpResponse::Ok().json(Rankings {
        fund_id: path.0,
        data: rows.iter().map(RankingDto::from).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct PlanLineDto {
    pub company_id: i64,
    pub name: String,
    pub planned_reserves_cents: i64,
    pub allocation_cap_cents: Option<i64>,
}

/// The fund's reserve plan: each company's planned reserves and cap.
#[derive(Serialize, ToSchema)]
pub struct ReservePlanDto {
    pub fund_id: i64,
    /// The plan's version; also the `ETag`. Send it back as `expected_version`.
    pub version: i64,
    pub total_planned_cents: i64,
    pub companies: Vec<PlanLineDto>,
}

impl From<&PlanView> for ReservePlanDto {
    fn from(p: &PlanView) -> Self {
        Self {
            fund_id: p.fund_id,
            version: p.version,
            total_planned_cents: p.total_planned_cents,
            companies: p
                .companies
                .iter()
                .map(|c| PlanLineDto {
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
pub struct PlanUpdateDto {
    /// A company of this fund (each at most once per request).
    pub company_id: i64,
    /// 0 or more.
    pub planned_reserves_cents: i64,
    /// Optional new cap, not below `planned_reserves_cents`; absent leaves the cap unchanged.
    pub allocation_cap_cents: Option<i64>,
}

/// A batch update of the plan, applied atomically or not at all.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateReservePlan {
    /// The plan's current version.
    pub expected_version: i64,
    /// 1 to 500 rows.
    pub updates: Vec<PlanUpdateDto>,
}

/// The fund's reserve plan.
#[utoipa::path(
    tag = "reserves",
    operation_id = "get_reserve_plan",
    params(("fund_id" = i64, Path, minimum = 1, description = "The fund.")),
    responses(
        (status = 200, description = "The plan.", body = ReservePlanDto, headers(("ETag" = String, description = "The plan's version, quoted."))),
        (status = 400, description = "Bad id.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has no access to this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/funds/{fund_id}/reserve-plan")]
pub async fn get_reserve_plan(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
) -> Result<HttpResponse, Error> {
    let plan = analytics::reserve_plan(&state.service, &principal, path.0).await?;
    Ok(with_etag(&ReservePlanDto::from(&plan), plan.version))
}

/// Update many companies' planned reserves and caps at once, under the plan's version.
#[utoipa::path(
    tag = "reserves",
    operation_id = "update_reserve_plan",
    request_body = UpdateReservePlan,
    params(("fund_id" = i64, Path, minimum = 1, description = "The fund.")),
    responses(
        (status = 200, description = "The updated plan, with its new version.", body = ReservePlanDto, headers(("ETag" = String, description = "The new version, quoted."))),
        (status = 400, description = "Malformed body or id.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write this fund.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such fund.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`expected_version` is stale; `current_version` tells the current one.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid row (another fund's company, a negative amount, a cap below the plan, a duplicate, more than 500 rows): nothing applied.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/funds/{fund_id}/reserve-plan")]
pub async fn update_reserve_plan(
    state: web::Data<AppState>,
    Auth(principal): Auth,
    path: web::Path<Id>,
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
    let plan = analytics::update_reserve_plan(
        &state.service,
        &principal,
        path.0,
        input.expected_version,
        updates,
    )
    .await?;
    Ok(with_etag(&ReservePlanDto::from(&plan), plan.version))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::NaiveDate;
    use service::entity::investment_lot::LotType;
    use service::entity::portfolio_company::CompanyStatus;
    use service::metrics::{CompanyMetrics, FundMetrics, LotMetrics, PortfolioMetrics};

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn company(
        id: i64,
        name: &str,
        status: CompanyStatus,
        basis: ValuationBasis,
        moic: Option<Decimal>,
    ) -> CompanyMetrics {
        CompanyMetrics {
            company_id: id,
            name: name.to_owned(),
            status,
            valuation_basis: basis,
            shares_held: dec("1000.5"),
            invested_cents: 1_000_000,
            realized_cents: -3,
            unrealized_cents: i64::MAX,
            total_value_cents: 0,
            planned_reserves_cents: 250_000,
            current_moic: moic,
            current_moic_initial: moic.map(|m| -m),
            current_moic_follow_on: None,
            exit_moic: Some(dec("4")),
            expected_exit_moic: Some(dec("3.2")),
            exit_moic_on_planned_reserves: Some(dec("0.0000005")),
        }
    }

    fn lot(n: u128, lot_type: LotType, moic: Option<&str>) -> LotMetrics {
        LotMetrics {
            lot_id: Uuid::from_u128(n << 64 | n),
            company_id: 7,
            investment_id: 70,
            lot_type,
            cost_basis_cents: 100_050,
            shares_acquired: dec("1000.50000000"),
            shares_held: dec("0.00000001"),
            realized_cents: 12,
            unrealized_cents: -1,
            moic: moic.map(dec),
        }
    }

    #[test]
    fn the_hand_written_moic_body_is_byte_for_byte_what_serde_writes() {
        let metrics = PortfolioMetrics {
            as_of: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
            fund: FundMetrics {
                invested_cents: 2_000_000,
                realized_cents: 0,
                unrealized_cents: 3_600_000,
                total_value_cents: 3_600_000,
                gross_moic: Some(dec("1.8")),
                realized_multiple: Some(dec("0")),
                unrealized_multiple: Some(dec("1.800000")),
                gross_irr: None,
                planned_reserves_cents: 0,
                projected_value_cents: 1,
                projected_moic: Some(dec("-0.25")),
            },
            companies: vec![
                company(
                    1,
                    "Plain",
                    CompanyStatus::Active,
                    ValuationBasis::Mark,
                    Some(dec("2.000000")),
                ),
                company(
                    2,
                    "Quote \" back\\slash \u{1F680} \n tab\t",
                    CompanyStatus::Exited,
                    ValuationBasis::Cost,
                    None,
                ),
                company(
                    3,
                    "",
                    CompanyStatus::WrittenOff,
                    ValuationBasis::Cost,
                    Some(dec("123456789.1234567")),
                ),
            ],
            lots: vec![
                lot(1, LotType::Initial, Some("2.5")),
                lot(2, LotType::FollowOn, None),
                lot(3, LotType::Secondary, Some("0.000000")),
                lot(
                    u128::from(u64::MAX),
                    LotType::Conversion,
                    Some("-1.0000015"),
                ),
            ],
        };
        let dto = FundMoic::new(9, &metrics);
        let by_hand = String::from_utf8(dto.to_json()).unwrap();
        let by_serde = serde_json::to_string(&dto).unwrap();
        assert_eq!(by_hand, by_serde);
        // And it is the document the DTO describes: spot-check a few values.
        let v: serde_json::Value = serde_json::from_str(&by_hand).unwrap();
        assert_eq!(
            v["companies"][1]["name"],
            "Quote \" back\\slash \u{1F680} \n tab\t"
        );
        assert_eq!(v["companies"][2]["current_moic"], "123456789.123457");
        assert_eq!(
            v["companies"][0]["exit_moic_on_planned_reserves"],
            "0.000001"
        );
        assert_eq!(v["lots"][3]["moic"], "-1.000002");
        assert_eq!(v["lots"][0]["shares_held"], "0.00000001");
        assert_eq!(v["fund"]["gross_moic"], "1.800000");
        assert_eq!(v["lots"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn a_body_written_on_two_threads_is_the_same_document() {
        for n in [PARALLEL_LOTS, PARALLEL_LOTS + 1] {
            let metrics = PortfolioMetrics {
                as_of: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
                fund: FundMetrics {
                    invested_cents: 1,
                    realized_cents: 2,
                    unrealized_cents: 3,
                    total_value_cents: 5,
                    gross_moic: None,
                    realized_multiple: None,
                    unrealized_multiple: None,
                    gross_irr: Some(dec("0.1")),
                    planned_reserves_cents: 0,
                    projected_value_cents: 0,
                    projected_moic: None,
                },
                companies: vec![company(
                    1,
                    "One",
                    CompanyStatus::Active,
                    ValuationBasis::Mark,
                    None,
                )],
                lots: (0..n as u128)
                    .map(|i| {
                        lot(
                            i,
                            if i % 2 == 0 {
                                LotType::Initial
                            } else {
                                LotType::FollowOn
                            },
                            Some("1.25"),
                        )
                    })
                    .collect(),
            };
            let dto = FundMoic::new(3, &metrics);
            assert_eq!(
                String::from_utf8(dto.to_json()).unwrap(),
                serde_json::to_string(&dto).unwrap()
            );
        }
    }

    #[test]
    fn an_empty_fund_has_empty_lists() {
        let metrics = PortfolioMetrics {
            as_of: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
            fund: FundMetrics {
                invested_cents: 0,
                realized_cents: 0,
                unrealized_cents: 0,
                total_value_cents: 0,
                gross_moic: None,
                realized_multiple: None,
                unrealized_multiple: None,
                gross_irr: None,
                planned_reserves_cents: 0,
                projected_value_cents: 0,
                projected_moic: None,
            },
            companies: vec![],
            lots: vec![],
        };
        let dto = FundMoic::new(1, &metrics);
        assert_eq!(dto.to_json(), serde_json::to_vec(&dto).unwrap());
    }
}
