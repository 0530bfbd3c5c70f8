//! Fund forecasts (SPEC §6.7): `/api/v1/funds/{fund_id}/forecasts` and `/api/v1/forecasts/{id}`.

use std::collections::BTreeMap;
use std::str::FromStr;

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use service::entity::fund_forecast;
use service::forecasts::{self, NewDeployment, NewForecast};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::Error;
use crate::extract::{Caller, Creation, if_match, with_etag};
use crate::replies::{Written, poll_later};
use crate::responses::{CreateErrors, DeleteErrors, ReadErrors};
use crate::routes::snapshots::Progress;
use crate::wire::{
    ForecastPath, ForecastStatus, FundPath, IdempotencyKeyHeader, IfMatchHeader, Stage, WireDate,
    page_of, page_request,
};
use utoipa_actix_web::service_config::ServiceConfig;

/// A fund forecast: what was asked and, once complete, the distribution of outcomes.
#[derive(Serialize, ToSchema)]
pub struct Forecast {
    pub id: Uuid,
    pub fund_id: i64,
    /// The matrix the forecast runs; `null` once that matrix is deleted (its key stays in
    /// `results.produced_by`).
    pub matrix_id: Option<Uuid>,
    pub name: String,
    pub status: ForecastStatus,
    /// SHA-256 (hex) of the canonical captured inputs (the fund's state and terms, the matrix key and
    /// the plan): equal hashes, the same forecast.
    pub source_hash: String,
    /// Scenarios computed, of all of them.
    pub progress: Progress,
    /// `null` until complete.
    #[schema(value_type = Option<ForecastResults>)]
    pub results: Option<serde_json::Value>,
    pub error_message: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

impl From<&fund_forecast::Summary> for Forecast {
    fn from(m: &fund_forecast::Summary) -> Self {
        Self {
            id: m.id,
            fund_id: m.fund_id,
            matrix_id: m.matrix_id,
            name: m.name.clone(),
            status: m.status.into(),
            source_hash: m.source_hash.clone(),
            progress: Progress {
                done: m.progress_done,
                total: m.progress_total,
            },
            results: m.results.clone(),
            error_message: m.error_message.clone(),
            version: m.version,
            created_at: m.created_at,
        }
    }
}

impl Written for fund_forecast::Summary {
    type Wire = Forecast;
    fn location(&self) -> String {
        format!("/api/v1/forecasts/{}", self.id)
    }
}

page_of! {
    /// A page of forecasts, newest first.
    ForecastPage of Forecast
}

/// Mean and nearest-rank percentiles (the value at position ⌈p/100 × N⌉ of the sorted N) of a ratio,
/// decimal strings with 6 places.
#[derive(ToSchema)]
#[allow(dead_code)] // The schemas of `Forecast::results`, which is sent as stored.
pub struct RatioSummary {
    pub mean: String,
    pub p5: String,
    pub p10: String,
    pub p25: String,
    pub p50: String,
    pub p75: String,
    pub p90: String,
    pub p95: String,
}

/// Mean (rounded half-up) and nearest-rank percentiles of an amount, cents.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CentsSummary {
    pub mean: i64,
    pub p5: i64,
    pub p10: i64,
    pub p25: i64,
    pub p50: i64,
    pub p75: i64,
    pub p90: i64,
    pub p95: i64,
}

/// Shares of the scenarios, decimal strings with 6 places.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ForecastProbabilities {
    pub net_tvpi_below_1: String,
    pub net_tvpi_at_least_2: String,
    pub net_tvpi_at_least_3: String,
    /// Scenarios where the GP keeps carry.
    pub carry_positive: String,
}

/// Net TVPI in 40 equal bins [eᵢ, eᵢ₊₁) from the smallest value to the largest, the last bin closed
/// (all in the first when every value is equal).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TvpiHistogram {
    /// 41 edges, decimal strings with 6 places.
    pub edges: Vec<String>,
    /// 40 counts.
    pub counts: Vec<u64>,
}

/// At a 31 December: the LPs' cumulative distributions less calls, over commitments, across scenarios.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct JCurvePoint {
    pub date: NaiveDate,
    pub p10: String,
    pub p50: String,
    pub p90: String,
}

/// What produced the results.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ForecastProvenance {
    pub engine_version: String,
    pub matrix_key: String,
    pub scenarios: u64,
    /// The bucket of each stage holding active companies.
    pub bucket_of: BTreeMap<String, String>,
    /// Years to each bucket's exit.
    pub exit_after_years: BTreeMap<String, String>,
    /// The weights of the deployed dry powder; `null` without a deployment.
    pub deployed_weights: Option<BTreeMap<String, String>>,
    pub deployed_cents: i64,
}

/// A complete forecast's results (SPEC §6.7): per scenario, net TVPI (LP distributions ÷ paid-in: the
/// final DPI), net IRR, gross TVPI and the GP's carry after any clawback, summarised.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ForecastResults {
    pub scenarios: u64,
    pub net_tvpi: Option<RatioSummary>,
    /// Over the scenarios whose IRR exists.
    pub net_irr: Option<RatioSummary>,
    /// Scenarios without an IRR, left out of `net_irr`.
    pub irr_undefined: u64,
    pub gross_tvpi: Option<RatioSummary>,
    pub gp_carry_cents: Option<CentsSummary>,
    pub probabilities: ForecastProbabilities,
    pub histogram: Option<TvpiHistogram>,
    /// One point per 31 December from the first close's year to the later of the term's end and the
    /// last exit.
    pub j_curve: Vec<JCurvePoint>,
    pub produced_by: ForecastProvenance,
}

/// A weight: a decimal string (exact) or a JSON number.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Weight {
    Text(String),
    Number(f64),
}

/// Dry powder to deploy at `as_of`, by `weights` or by a completed optimization's (exactly one).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeployment {
    /// Cents, 0 or more; with the planned reserves included, at most commitments less paid-in.
    #[schema(minimum = 0)]
    pub amount_cents: i64,
    /// `{bucket: weight}`, summing to 1 (± 1e-9).
    pub weights: Option<BTreeMap<String, Weight>>,
    /// A completed optimization of the same matrix.
    pub optimization_id: Option<Uuid>,
}

/// A new forecast.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateForecast {
    /// 1 to 255 characters (default `Forecast on <as_of>`); not part of the inputs.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub name: Option<String>,
    /// A complete scenario matrix of this fund.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub matrix_key: String,
    /// `{stage: bucket}`; a stage not named maps to the bucket of its own name.
    pub bucket_of: Option<BTreeMap<Stage, String>>,
    /// `{bucket: years}`, 0.25 to 15 (default 5): each bucket exits that long after `as_of` (years of
    /// 365.25 days, rounded down to a day).
    pub exit_after_years: Option<BTreeMap<String, f64>>,
    /// Whether the planned reserves of active companies are called on `as_of` and exit with their
    /// bucket (default true).
    pub include_planned_reserves: Option<bool>,
    pub deploy: Option<CreateDeployment>,
    /// The valuation date (`YYYY-MM-DD`, default today, UTC): the history up to it is the fund's own.
    #[schema(value_type = Option<String>, format = Date)]
    pub as_of: Option<WireDate>,
}

/// A JSON number as the decimal it was written as (shortest round trip).
fn decimal_of(pointer: String, value: f64) -> Result<Decimal, service::Error> {
    Decimal::from_str(&value.to_string())
        .map_err(|_| service::Error::invalid(&pointer, "must be a finite decimal number"))
}

impl CreateForecast {
    fn into_new(self) -> Result<NewForecast, service::Error> {
        let mut exit_after_years = BTreeMap::new();
        for (bucket, years) in self.exit_after_years.unwrap_or_default() {
            let pointer = format!("/exit_after_years/{bucket}");
            exit_after_years.insert(bucket, decimal_of(pointer, years)?);
        }
        let deploy = match self.deploy {
            None => None,
            Some(d) => {
                let weights = match d.weights {
                    None => None,
                    Some(w) => {
                        let mut out = BTreeMap::new();
                        for (bucket, weight) in w {
                            let pointer = format!("/deploy/weights/{bucket}");
                            let value = match weight {
                                Weight::Text(t) => Decimal::from_str(t.trim()).map_err(|_| {
                                    service::Error::invalid(&pointer, "must be a decimal number")
                                })?,
                                Weight::Number(n) => decimal_of(pointer, n)?,
                            };
                            out.insert(bucket, value);
                        }
                        Some(out)
                    }
                };
                Some(NewDeployment {
                    amount_cents: d.amount_cents,
                    weights,
                    optimization_id: d.optimization_id,
                })
            }
        };
        Ok(NewForecast {
            name: self.name,
            matrix_key: self.matrix_key,
            bucket_of: self
                .bucket_of
                .unwrap_or_default()
                .into_iter()
                .map(|(s, b)| (s.into(), b))
                .collect(),
            exit_after_years,
            include_planned_reserves: self.include_planned_reserves,
            deploy,
            as_of: self.as_of.map(|d| d.0),
        })
    }
}

/// Forecast the fund over a scenario matrix (computed in the background).
#[utoipa::path(
    tag = "forecasts", operation_id = "create_forecast", request_body = CreateForecast, params(FundPath, IdempotencyKeyHeader),
    responses((status = 202, description = "A new forecast, queued.", body = Forecast, headers( ("Location" = String, description = "The forecast."), ("Retry-After" = u32, description = "Seconds before polling."), ("Idempotent-Replayed" = String, description = "`true` on a replayed response."))), (status = 200, description = "The same inputs and matrix were asked before: that forecast.", body = Forecast, headers( ("Location" = String, description = "The forecast."))), CreateErrors)
)]
#[post("/api/v1/funds/{fund_id}/forecasts")]
pub async fn create_forecast(
    creation: Creation,
    path: web::Path<FundPath>,
) -> Result<HttpResponse, Error> {
    let fund_id = path.fund_id.0;
    let scope = format!("POST /api/v1/funds/{fund_id}/forecasts");
    creation
        .run(
            scope,
            async |svc, principal, input: CreateForecast, idem| {
                let input = input.into_new()?;
                forecasts::create_forecast(svc, principal, fund_id, input, idem).await
            },
        )
        .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForecastQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page (opaque; anything not of this pattern is a 400
    /// `invalid_cursor`).
    #[param(pattern = "^[A-Za-z0-9_-]{32}$")]
    pub cursor: Option<String>,
}

/// A fund's forecasts, newest first.
#[utoipa::path(
    tag = "forecasts", operation_id = "list_forecasts", params(FundPath, ForecastQuery),
    responses((status = 200, description = "A page of forecasts.", body = ForecastPage), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/forecasts")]
pub async fn list_forecasts(
    caller: Caller,
    path: web::Path<FundPath>,
    query: web::Query<ForecastQuery>,
) -> Result<HttpResponse, Error> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let page = forecasts::list_forecasts(caller.service(), &caller.principal, path.fund_id.0, page)
        .await?;
    Ok(HttpResponse::Ok().json(ForecastPage::from(page)))
}

/// One forecast (with `Retry-After` while it is being computed).
#[utoipa::path(
    tag = "forecasts", operation_id = "get_forecast", params(ForecastPath),
    responses((status = 200, description = "The forecast.", body = Forecast, headers( ("ETag" = String, description = "The version, quoted."), ("Retry-After" = u32, description = "Present while pending or calculating."))), ReadErrors)
)]
#[get("/api/v1/forecasts/{forecast_id}")]
pub async fn get_forecast(
    caller: Caller,
    path: web::Path<ForecastPath>,
) -> Result<HttpResponse, Error> {
    let f = forecasts::get_forecast(caller.service(), &caller.principal, path.forecast_id).await?;
    let mut response = with_etag(&Forecast::from(&f), f.version);
    if matches!(
        ForecastStatus::from(f.status),
        ForecastStatus::Pending | ForecastStatus::Calculating
    ) {
        poll_later(&mut response);
    }
    Ok(response)
}

/// Delete a forecast (requires `If-Match`).
#[utoipa::path(
    tag = "forecasts", operation_id = "delete_forecast", params(ForecastPath, IfMatchHeader),
    responses((status = 204, description = "Deleted."), DeleteErrors)
)]
#[delete("/api/v1/forecasts/{forecast_id}")]
pub async fn delete_forecast(
    caller: Caller,
    path: web::Path<ForecastPath>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let version = if_match(&req)?;
    forecasts::delete_forecast(
        caller.service(),
        &caller.principal,
        path.forecast_id,
        version,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers this module's routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_forecast)
        .service(list_forecasts)
        .service(get_forecast)
        .service(delete_forecast);
}
