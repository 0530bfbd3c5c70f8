//! What a forecast captures and what its calculation writes (SPEC §6.7).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use entity::portfolio_company::{CompanyStatus, Stage};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::calc::forecast::{ForecastPlan, ForecastResults, exit_day};
use crate::fund_state::PortfolioState;

/// Version of the forecast engine's rules, recorded in every forecast's inputs.
pub const FORECAST_ENGINE: &str = "forecast-1";

/// Dry powder deployed by weights (from the request or a completed optimization).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub amount_cents: i64,
    /// Every bucket's weight, summing to 1 (± 1e-9).
    pub weights: BTreeMap<String, Decimal>,
    /// The optimization the weights came from, if any.
    pub optimization_id: Option<Uuid>,
}

/// Everything a forecast is computed from: its canonical form's SHA-256 is the forecast's
/// `source_hash`. The name is not an input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForecastInputs {
    pub engine_version: String,
    pub as_of: NaiveDate,
    pub matrix_key: String,
    /// The matrix's buckets, in column order.
    pub buckets: Vec<String>,
    pub scenarios: u64,
    /// The bucket of each stage that holds companies.
    pub bucket_of: BTreeMap<Stage, String>,
    /// Years to exit, per bucket (every bucket of the matrix).
    pub exit_after_years: BTreeMap<String, Decimal>,
    pub include_planned_reserves: bool,
    pub deploy: Option<Deployment>,
    /// Shared with the cache of fund states read by version (`metrics::reuse::StatesCache`).
    pub state: Arc<PortfolioState>,
}

impl ForecastInputs {
    /// The plan of the pure engine, in the matrix's column order.
    pub fn plan(&self) -> ForecastPlan {
        let column: HashMap<&str, usize> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| (b.as_str(), i))
            .collect();
        let bucket_of_company = self
            .state
            .companies
            .iter()
            .filter(|c| c.status == CompanyStatus::Active)
            .filter_map(|c| {
                let bucket = self.bucket_of.get(&c.stage)?;
                Some((c.id, *column.get(bucket.as_str())?))
            })
            .collect();
        let exit_on = self
            .buckets
            .iter()
            .map(|b| {
                let years = self
                    .exit_after_years
                    .get(b)
                    .copied()
                    .unwrap_or(Decimal::from(5));
                exit_day(self.as_of, years)
            })
            .collect();
        let deployed_cents = self
            .buckets
            .iter()
            .map(|b| match &self.deploy {
                Some(d) => {
                    let w = d.weights.get(b).copied().unwrap_or_default();
                    let cents = (Decimal::from(d.amount_cents) * w)
                        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
                    i64::try_from(cents.mantissa() / 10i128.pow(cents.scale())).unwrap_or(0)
                }
                None => 0,
            })
            .collect();
        ForecastPlan {
            as_of: self.as_of,
            buckets: self.buckets.clone(),
            bucket_of_company,
            exit_on,
            include_planned_reserves: self.include_planned_reserves,
            deployed_cents,
        }
    }
}

/// What produced a forecast's results, reported beside them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub engine_version: String,
    pub matrix_key: String,
    pub scenarios: u64,
    pub bucket_of: BTreeMap<Stage, String>,
    pub exit_after_years: BTreeMap<String, Decimal>,
    /// The deployed weights (none without a deployment).
    pub deployed_weights: Option<BTreeMap<String, Decimal>>,
    pub deployed_cents: i64,
}

/// The document stored in `results`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForecastDocument {
    #[serde(flatten)]
    pub results: ForecastResults,
    pub produced_by: Provenance,
}

impl ForecastDocument {
    pub fn new(inputs: &ForecastInputs, results: ForecastResults) -> Self {
        Self {
            results,
            produced_by: Provenance {
                engine_version: inputs.engine_version.clone(),
                matrix_key: inputs.matrix_key.clone(),
                scenarios: inputs.scenarios,
                bucket_of: inputs.bucket_of.clone(),
                exit_after_years: inputs.exit_after_years.clone(),
                deployed_weights: inputs.deploy.as_ref().map(|d| d.weights.clone()),
                deployed_cents: inputs.deploy.as_ref().map_or(0, |d| d.amount_cents),
            },
        }
    }
}
