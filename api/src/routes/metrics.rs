//! `/api/v1/funds/{fund_id}/moic`: lot-level MOIC, company MOIC variants and gross fund metrics.

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use service::metrics::{self as domain, PARALLEL_THRESHOLD_LOTS, PortfolioMetrics};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::Error;
use crate::extract::Caller;
use crate::json::{JsonOut, WriteJson};
use crate::negotiate::{Format, csv_response, negotiate};
use crate::responses::TableErrors;
use crate::wire::{CompanyStatus, DecimalText, FundPath, LotType, ValuationBasis};

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
    pub investment_id: i64,
    pub lot_type: LotType,
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
            investment_id: l.investment_id,
            lot_type: l.lot_type.into(),
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
    pub lots: Vec<LotMetrics>,
}

impl FundMoic {
    pub fn new(fund_id: i64, m: &PortfolioMetrics) -> Self {
        Self {
            fund_id,
            as_of: m.as_of,
            fund: FundMetrics::from(&m.fund),
            companies: m.companies.iter().map(CompanyMetrics::from).collect(),
            lots: m.lots.iter().map(LotMetrics::from).collect(),
        }
    }
}

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
        if self.lots.len() >= PARALLEL_THRESHOLD_LOTS {
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

impl WriteJson for CompanyMetrics {
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

impl WriteJson for LotMetrics {
    fn write_json(&self, out: &mut JsonOut) {
        out.raw("{\"lot_id\":");
        out.uuid(self.lot_id);
        out.raw(",\"company_id\":");
        out.int(self.company_id);
        out.raw(",\"investment_id\":");
        out.int(self.investment_id);
        out.raw(",\"lot_type\":");
        out.raw(match self.lot_type {
            LotType::Initial => "\"initial\"",
            LotType::FollowOn => "\"follow_on\"",
            LotType::Secondary => "\"secondary\"",
            LotType::Conversion => "\"conversion\"",
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
) -> Result<HttpResponse, Error> {
    let fund_id = path.fund_id.0;
    let format = negotiate(&req)?;
    let computed =
        domain::fund_moic(caller.service(), &caller.principal, fund_id, query.as_of).await?;
    if format == Format::Csv {
        let doc = FundMoic::new(fund_id, &computed.metrics);
        return match query.rows.unwrap_or(MoicRows::Companies) {
            MoicRows::Companies => {
                csv_response(&doc.companies, &format!("fund-{fund_id}-companies.csv"))
            }
            MoicRows::Lots => csv_response(&doc.lots, &format!("fund-{fund_id}-lots.csv")),
        };
    }
    // Rendered once per computed result: an unchanged fund is answered with the same bytes.
    let body = match computed.rendered.get() {
        Some(body) => body.clone(),
        None => {
            let source = computed.clone();
            // Tens of thousands of lots are a few megabytes of JSON: written off the async workers.
            let body = web::block(move || FundMoic::new(fund_id, &source.metrics).to_json())
                .await
                .map_err(|e| {
                    service::Error::Invariant(format!("writing the MOIC response: {e}"))
                })?;
            let body = web::Bytes::from(body);
            let _ = computed.rendered.set(body.clone());
            body
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::NaiveDate;
    use rust_decimal::Decimal;
    use service::entity::investment_lot::LotType;
    use service::entity::portfolio_company::CompanyStatus;
    use service::metrics::{
        CompanyMetrics, FundMetrics, LotMetrics, PortfolioMetrics, ValuationBasis,
    };

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
        for n in [PARALLEL_THRESHOLD_LOTS, PARALLEL_THRESHOLD_LOTS + 1] {
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
