//! A forecast request resolved against its fund and matrix (SPEC §6.7): every default filled in, every
//! rule checked — each broken one a 422 naming its field, before anything is written.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use entity::optimization_session::{self, OptimizationStatus};
use entity::portfolio_company::{CompanyStatus, Stage};
use entity::scenario_matrix::MatrixStatus;
use rust_decimal::Decimal;
use sea_orm::{DatabaseTransaction, EntityTrait};
use uuid::Uuid;

use super::model::{Deployment, FORECAST_ENGINE, ForecastInputs};
use crate::calc::returns::paid_in;
use crate::db::now;
use crate::error::{Error, FieldError, Result};
use crate::fields::{Problems, name_ok};
use crate::fund_state::{PortfolioState, load_state};
use crate::matrices::{MatrixRecord, store as matrix_store};
use crate::metrics::reuse::{StatesCache, UNDATED, versions};

/// Shortest and longest time to an exit, years.
const EXIT_YEARS: (Decimal, Decimal) = (
    Decimal::from_parts(25, 0, 0, false, 2),
    Decimal::from_parts(15, 0, 0, false, 0),
);

/// A forecast as requested.
#[derive(Clone, Debug, Default)]
pub struct NewForecast {
    pub name: Option<String>,
    pub matrix_key: String,
    /// The bucket of a stage; a stage not named maps to the bucket of its own name.
    pub bucket_of: BTreeMap<Stage, String>,
    pub exit_after_years: BTreeMap<String, Decimal>,
    pub include_planned_reserves: Option<bool>,
    pub deploy: Option<NewDeployment>,
    pub as_of: Option<NaiveDate>,
}

/// Dry powder to deploy: by `weights`, or by the weights of a completed optimization.
#[derive(Clone, Debug, Default)]
pub struct NewDeployment {
    pub amount_cents: i64,
    pub weights: Option<BTreeMap<String, Decimal>>,
    pub optimization_id: Option<Uuid>,
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn stage_name(stage: Stage) -> String {
    serde_json::to_value(stage)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl NewForecast {
    /// The rules that need nothing but the request.
    pub(super) fn validate(&self) -> Result<()> {
        let mut p = Problems::default();
        if let Some(name) = &self.name {
            p.check(name_ok(name), "/name", "must be 1 to 255 characters");
        }
        for (bucket, years) in &self.exit_after_years {
            p.check(
                (EXIT_YEARS.0..=EXIT_YEARS.1).contains(years),
                &format!("/exit_after_years/{}", escape(bucket)),
                "must be between 0.25 and 15 years",
            );
        }
        if let Some(d) = &self.deploy {
            p.check(
                d.amount_cents >= 0,
                "/deploy/amount_cents",
                "must be 0 or more",
            );
            p.check(
                d.weights.is_some() != d.optimization_id.is_some(),
                "/deploy",
                "needs exactly one of weights and optimization_id",
            );
        }
        p.finish()
    }
}

/// The fund's state as of this transaction: the one read for its state version before, or read now
/// (and kept for the next forecast). The version is read before the rows, so what is kept under a
/// version is never older than that version (`metrics::reuse`).
async fn fund_state(
    txn: &DatabaseTransaction,
    states: &StatesCache,
    fund_id: i64,
) -> Result<Arc<PortfolioState>> {
    let version = versions(txn, fund_id).await?.state;
    if let Some(state) = states.get(fund_id, UNDATED, version) {
        return Ok(state);
    }
    let state = Arc::new(load_state(txn, fund_id).await?);
    states.insert(fund_id, UNDATED, version, state.clone());
    Ok(state)
}

/// The inputs of the forecast `input` asks of fund `fund_id`, and the matrix's id.
pub(super) async fn resolve(
    txn: &DatabaseTransaction,
    states: &StatesCache,
    fund_id: i64,
    input: NewForecast,
) -> Result<(ForecastInputs, Uuid)> {
    let state = fund_state(txn, states, fund_id).await?;
    let terms = state
        .fund
        .terms
        .clone()
        .ok_or_else(|| Error::Invariant("a fund state read without its terms".into()))?;
    let matrix = match matrix_store::find(txn, &input.matrix_key).await? {
        Some(m) if m.fund_id == fund_id => MatrixRecord::of(&m),
        _ => {
            return Err(Error::invalid(
                "/matrix_key",
                format!("fund {fund_id} has no scenario matrix {}", input.matrix_key),
            ));
        }
    };
    if matrix.status != MatrixStatus::Complete {
        return Err(Error::invalid(
            "/matrix_key",
            format!(
                "the scenario matrix is {}, not complete: a forecast needs its values",
                format!("{:?}", matrix.status).to_lowercase()
            ),
        ));
    }
    matrix.refuse_unbounded("/matrix_key")?;
    let buckets = matrix.buckets();
    let known: BTreeSet<&str> = buckets.iter().map(String::as_str).collect();
    let mut p = Problems::default();
    // Every stage holding active companies needs a bucket of the matrix.
    let mut bucket_of = BTreeMap::new();
    let active_stages: BTreeSet<Stage> = state
        .companies
        .iter()
        .filter(|c| c.status == CompanyStatus::Active)
        .map(|c| c.stage)
        .collect();
    for (stage, bucket) in &input.bucket_of {
        p.check(
            known.contains(bucket.as_str()),
            &format!("/bucket_of/{}", stage_name(*stage)),
            &format!(
                "the matrix has no bucket {bucket:?} (its buckets: {})",
                buckets.join(", ")
            ),
        );
    }
    for stage in active_stages {
        let bucket = input
            .bucket_of
            .get(&stage)
            .cloned()
            .unwrap_or_else(|| stage_name(stage));
        if known.contains(bucket.as_str()) {
            bucket_of.insert(stage, bucket);
        } else if !input.bucket_of.contains_key(&stage) {
            p.push(FieldError::new(
                format!("/bucket_of/{}", stage_name(stage)),
                format!(
                    "the stage {} holds active companies and the matrix has no bucket of that name \
                     (its buckets: {}): map it to one",
                    stage_name(stage),
                    buckets.join(", ")
                ),
            ));
        }
    }
    let mut exit_after_years = BTreeMap::new();
    for (bucket, years) in &input.exit_after_years {
        p.check(
            known.contains(bucket.as_str()),
            &format!("/exit_after_years/{}", escape(bucket)),
            &format!("the matrix has no bucket {bucket:?}"),
        );
        exit_after_years.insert(bucket.clone(), years.normalize());
    }
    for b in &buckets {
        exit_after_years
            .entry(b.clone())
            .or_insert(Decimal::from(5));
    }
    let deploy = match input.deploy {
        None => None,
        Some(d) => deployment(txn, &matrix, &buckets, d, &mut p).await?,
    };
    p.finish()?;
    // Dry powder: what the fund has not called by `as_of`.
    let as_of = input.as_of.unwrap_or_else(|| now().date_naive());
    if !(1900..=2200).contains(&as_of.year()) {
        return Err(Error::invalid(
            "/as_of",
            "must be a date in the years 1900 to 2200",
        ));
    }
    let include = input.include_planned_reserves.unwrap_or(true);
    let reserves: i64 = state
        .companies
        .iter()
        .filter(|c| include && c.status == CompanyStatus::Active)
        .map(|c| c.planned_reserves_cents)
        .sum();
    let deployed = deploy.as_ref().map_or(0, |d| d.amount_cents);
    // Only paid-in is needed: no MOIC of every lot, no waterfall.
    let dry_powder = terms.committed.get() - paid_in(&state, &terms, as_of);
    // In 128 bits: a request's amount may be anything up to 2^63 − 1.
    if i128::from(deployed) + i128::from(reserves) > i128::from(dry_powder) {
        let pointer = if deploy.is_some() {
            "/deploy/amount_cents"
        } else {
            "/include_planned_reserves"
        };
        return Err(Error::invalid(
            pointer,
            format!(
                "the deployment ({deployed} cents) and the planned reserves included ({reserves} \
                 cents) exceed the dry powder on {as_of}: {dry_powder} cents (commitments less \
                 paid-in)"
            ),
        ));
    }
    let inputs = ForecastInputs {
        engine_version: FORECAST_ENGINE.to_owned(),
        as_of,
        matrix_key: matrix.matrix_key.clone(),
        buckets,
        scenarios: u64::try_from(matrix.num_scenarios).unwrap_or(0),
        bucket_of,
        exit_after_years,
        include_planned_reserves: include,
        deploy,
        state,
    };
    Ok((inputs, matrix.id))
}

/// The deployment's weights, from the request or a completed optimization of the same matrix.
async fn deployment(
    txn: &DatabaseTransaction,
    matrix: &MatrixRecord,
    buckets: &[String],
    d: NewDeployment,
    p: &mut Problems,
) -> Result<Option<Deployment>> {
    let from_request = d.weights.is_some();
    let weights = match (d.weights, d.optimization_id) {
        (Some(w), None) => w,
        (None, Some(id)) => {
            let session = optimization_session::Entity::find_by_id(id)
                .one(txn)
                .await?;
            let usable = session.as_ref().is_some_and(|s| {
                s.matrix_id == matrix.id && s.status == OptimizationStatus::Completed
            });
            let Some(s) = session.filter(|_| usable) else {
                p.push(FieldError::new(
                    "/deploy/optimization_id",
                    format!("no completed optimization {id} of this matrix"),
                ));
                return Ok(None);
            };
            s.result_weights
                .as_ref()
                .and_then(|w| w.as_object())
                .map(|w| {
                    w.iter()
                        .filter_map(|(b, v)| {
                            let text = v.as_f64()?.to_string();
                            Some((b.clone(), text.parse::<Decimal>().ok()?))
                        })
                        .collect()
                })
                .unwrap_or_default()
        }
        _ => return Ok(None), // refused by `validate`
    };
    let mut sum = Decimal::ZERO;
    for (bucket, w) in &weights {
        let at = format!("/deploy/weights/{}", escape(bucket));
        p.check(
            buckets.contains(bucket),
            &at,
            &format!("the matrix has no bucket {bucket:?}"),
        );
        p.check(*w >= Decimal::ZERO, &at, "must be 0 or more");
        sum += *w;
    }
    // An optimization's weights sum to 1 by its own constraint, within the solver's tolerance.
    if from_request && (sum - Decimal::ONE).abs() > Decimal::new(1, 9) {
        p.push(FieldError::new(
            "/deploy/weights",
            format!("must sum to 1 (± 1e-9); they sum to {sum}"),
        ));
    }
    Ok(Some(Deployment {
        amount_cents: d.amount_cents,
        weights: weights
            .into_iter()
            .map(|(b, w)| (b, w.normalize()))
            .collect(),
        optimization_id: d.optimization_id,
    }))
}
