//! The worker's side of a forecast (SPEC §6.7): pending → calculating → complete | error. The matrix is
//! read through the cache by the key captured in the inputs; the scenarios run on every core of the
//! blocking pool, and the results are reduced in scenario order, so a re-run writes the same bytes.

use std::sync::Arc;

use entity::fund_forecast::{self, ForecastStatus};
use entity::scenario_matrix::MatrixStatus;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{EntityTrait, QuerySelect};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ForecastDocument, ForecastInputs};
use super::transition;
use crate::blocking::off_the_async_workers;
use crate::calc::forecast::{Values, prepare, results};
use crate::db::{Database, json_text};
use crate::error::{Error, Result};
use crate::matrices::{Matrices, load};
use crate::outbox::Job;

/// The job that computes a forecast.
pub const JOB_FORECAST: &str = "forecast.calculate";

pub struct Forecaster {
    matrices: Arc<Matrices>,
}

impl Forecaster {
    pub fn new(matrices: Arc<Matrices>) -> Self {
        Self { matrices }
    }
}

/// The forecast a job computes.
#[derive(Debug, Serialize, Deserialize)]
pub struct CalculateForecast {
    pub forecast_id: Uuid,
}

/// Threads for the scenarios: the machine's cores.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Forecaster {
    async fn calculate(&self, db: &Database, id: Uuid) -> Result<()> {
        use fund_forecast::Column as C;
        let conn = db.connection();
        let Some((status, inputs)) = fund_forecast::Entity::find_by_id(id)
            .select_only()
            .column(C::Status)
            .expr(Expr::col(C::Inputs).cast_as("text"))
            .into_tuple::<(ForecastStatus, String)>()
            .one(conn)
            .await?
        else {
            return Ok(()); // deleted meanwhile
        };
        match status {
            ForecastStatus::Pending => {
                if !transition(conn, id, status, ForecastStatus::Calculating, vec![]).await? {
                    return Ok(());
                }
            }
            ForecastStatus::Calculating => {} // a retry after a worker stopped mid-way
            ForecastStatus::Complete | ForecastStatus::Error => return Ok(()),
        }
        let inputs: ForecastInputs = serde_json::from_str(&inputs)
            .map_err(|e| Error::Invariant(format!("forecast {id} inputs: {e}")))?;
        let view = load(db, &self.matrices, &inputs.matrix_key, true).await?;
        let Some((record, Some(values))) = view
            .filter(|v| v.record.status == MatrixStatus::Complete)
            .map(|v| (v.record, v.values))
        else {
            return fail(
                db,
                id,
                "the scenario matrix is no longer complete (it was invalidated or deleted); create \
                 it again and ask for the forecast again",
            )
            .await;
        };
        if record.buckets() != inputs.buckets {
            return fail(
                db,
                id,
                "the scenario matrix's buckets changed since the forecast was asked",
            )
            .await;
        }
        let text = off_the_async_workers("the forecast", move || {
            let terms = inputs
                .state
                .fund
                .terms
                .clone()
                .ok_or_else(|| Error::Invariant("forecast inputs without terms".into()))?;
            let prepared = prepare(&inputs.state, &terms, &inputs.plan());
            let columns = inputs.buckets.len();
            let scenarios = values.len() / columns.max(1);
            let outcomes = prepared.run(
                Values {
                    scenarios,
                    buckets: columns,
                    cells: &values,
                },
                threads(),
            );
            let document = ForecastDocument::new(&inputs, results(&prepared, &outcomes));
            serde_json::to_string(&document)
                .map_err(|e| Error::Invariant(format!("forecast {id} results: {e}")))
        })
        .await??;
        let backend = conn.get_database_backend();
        transition(
            conn,
            id,
            ForecastStatus::Calculating,
            ForecastStatus::Complete,
            vec![
                (C::Results, json_text(backend, text)),
                (C::ProgressDone, Expr::col(C::ProgressTotal)),
            ],
        )
        .await?;
        Ok(())
    }
}

/// Moves the forecast to `error` with `message` from wherever it stopped.
async fn fail(db: &Database, id: Uuid, message: &str) -> Result<()> {
    use fund_forecast::Column as C;
    for from in [ForecastStatus::Calculating, ForecastStatus::Pending] {
        transition(
            db.connection(),
            id,
            from,
            ForecastStatus::Error,
            vec![(C::ErrorMessage, Expr::value(message.to_owned()))],
        )
        .await?;
    }
    Ok(())
}

impl Job for Forecaster {
    const NAME: &'static str = JOB_FORECAST;
    const MAX_ATTEMPTS: i32 = 3;
    type Payload = CalculateForecast;
    type Error = Error;

    async fn run(&self, db: &Database, job: &CalculateForecast) -> Result<()> {
        self.calculate(db, job.forecast_id).await
    }

    async fn give_up(&self, db: &Database, job: &CalculateForecast, reason: &str) -> Result<()> {
        fail(db, job.forecast_id, reason).await
    }
}
