//! Fund forecasts (SPEC §6.7): a request resolved against the fund and a complete scenario matrix of it,
//! captured with the fund's state and terms, deduplicated by the hash of what it captured, and computed
//! by an outbox job (`job.rs`) with the pure engine of `calc::forecast`.

mod job;
mod model;
mod resolve;

pub use job::{CalculateForecast, Forecaster, JOB_FORECAST};
pub use model::{Deployment, FORECAST_ENGINE, ForecastDocument, ForecastInputs, Provenance};
pub use resolve::{NewDeployment, NewForecast};

use chrono::{DateTime, Utc};
use entity::fund_forecast::{self, ForecastStatus, Summary};
use entity::job_outbox;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, ExprTrait,
    QueryFilter,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::canonical::{sha256_hex, to_canonical_string};
use crate::context::Service;
use crate::db::{json_text, now};
use crate::error::{ConflictCode, Error, ResourceRef, Result, unique};
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, keyed};
use crate::metrics::reuse::StatesCache;
use crate::pagination::{self, Page, PageRequest};

keyed!(fund_forecast, FORECAST_KEY, FundId, |f| {
    ResourceRef::Forecast(f.id)
});

/// Captures a forecast and queues its calculation, in one transaction: a new forecast is queued; the
/// same inputs and matrix asked before answer with that forecast, existing.
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn create_forecast(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    input: NewForecast,
    idem: Option<Idempotency>,
) -> Result<Outcome<Summary>> {
    principal.require_write(fund_id)?;
    input.validate()?;
    // Resolving the inputs reads the whole fund: one of the heavy computations (`heavy`).
    let key = idem
        .as_ref()
        .map(|i| format!("forecast:{fund_id}:{}", i.key.as_str()));
    let _running = svc
        .heavy
        .enter_keyed("the forecast's inputs", key.as_deref())
        .await?;
    let states = svc.states.clone();
    idempotency::create(
        svc,
        idem,
        KeyedBy::<fund_forecast::Entity>::under(fund_id),
        move |txn, key| Box::pin(capture(txn, states, fund_id, input, key)),
    )
    .await
    .map_err(|e| match &e {
        Error::Database(db) if unique::FORECAST_SOURCE.violated_by(db) => Error::Conflict {
            code: ConflictCode::ForecastInProgress,
            message: "the same forecast is being created by another request; retry to get it"
                .into(),
        },
        _ => e,
    })
    .inspect(|outcome| {
        if outcome.queued() {
            svc.db.jobs_queued().ring()
        }
    })
}

async fn capture(
    txn: &DatabaseTransaction,
    states: StatesCache,
    fund_id: i64,
    input: NewForecast,
    key: Option<String>,
) -> Result<Outcome<Summary>> {
    let name = input.name.clone();
    let (inputs, matrix_id) = resolve::resolve(txn, &states, fund_id, input).await?;
    let canonical = to_canonical_string(&inputs)?;
    let source_hash = sha256_hex(canonical.as_bytes());
    // The same inputs and matrix asked before: that forecast is the answer. A concurrent request for
    // the same is stopped by the unique index (a 409 to retry).
    if let Some(existing) = fund_forecast::Entity::find()
        .filter(fund_forecast::Column::FundId.eq(fund_id))
        .filter(fund_forecast::Column::SourceHash.eq(&source_hash))
        .filter(fund_forecast::Column::Status.ne(ForecastStatus::Error))
        .into_partial_model::<Summary>()
        .one(txn)
        .await?
    {
        return Ok(Outcome::Existing(existing));
    }
    let at = now();
    let forecast = Summary {
        id: Uuid::now_v7(),
        fund_id,
        matrix_id: Some(matrix_id),
        name: name.unwrap_or_else(|| format!("Forecast on {}", inputs.as_of)),
        status: ForecastStatus::Pending,
        progress_done: 0,
        progress_total: i32::try_from(inputs.scenarios).unwrap_or(i32::MAX),
        source_hash,
        results: None,
        error_message: None,
        idempotency_key: key,
        created_at: at,
        updated_at: at,
        version: 1,
    };
    insert(txn, &forecast, canonical).await?;
    job(fund_id, forecast.id, at)?.insert(txn).await?;
    Ok(Outcome::Queued(forecast))
}

/// Inserts the forecast with its inputs given as their canonical text (not read back).
async fn insert(txn: &DatabaseTransaction, f: &Summary, inputs: String) -> Result<()> {
    use fund_forecast::Column as C;
    let backend = txn.get_database_backend();
    let mut insert = Query::insert();
    insert
        .into_table(fund_forecast::Entity)
        .columns([
            C::Id,
            C::FundId,
            C::MatrixId,
            C::Name,
            C::Status,
            C::ProgressDone,
            C::ProgressTotal,
            C::SourceHash,
            C::Inputs,
            C::IdempotencyKey,
            C::CreatedAt,
            C::UpdatedAt,
            C::Version,
        ])
        .values([
            f.id.into(),
            f.fund_id.into(),
            f.matrix_id.into(),
            f.name.clone().into(),
            Expr::val(f.status),
            f.progress_done.into(),
            f.progress_total.into(),
            f.source_hash.clone().into(),
            json_text(backend, inputs),
            f.idempotency_key.clone().into(),
            f.created_at.into(),
            f.updated_at.into(),
            f.version.into(),
        ])
        .map_err(|e| Error::Invariant(format!("forecast insert: {e}")))?;
    txn.execute(&insert).await?;
    Ok(())
}

/// The outbox row that computes a forecast: deduplicated by the forecast's id.
fn job(fund_id: i64, forecast_id: Uuid, at: DateTime<Utc>) -> Result<job_outbox::ActiveModel> {
    let payload = CalculateForecast { forecast_id };
    crate::outbox::queue::<Forecaster>(Some(fund_id), Some(forecast_id.to_string()), &payload, at)
}

/// A forecast the caller may read, without its inputs; another fund's is not found (SPEC §13).
#[tracing::instrument(skip_all, fields(forecast_id = %id))]
pub async fn get_forecast(svc: &Service, principal: &Principal, id: Uuid) -> Result<Summary> {
    let found = fund_forecast::Entity::find_by_id(id)
        .into_partial_model::<Summary>()
        .one(svc.db.connection())
        .await?;
    match found {
        Some(f) if principal.may_read(f.fund_id) => Ok(f),
        _ => Err(Error::not_found("forecast", id)),
    }
}

/// A fund's forecasts, newest first.
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn list_forecasts(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    page: PageRequest,
) -> Result<Page<Summary>> {
    principal.require_read(fund_id)?;
    crate::funds::require(svc.db.connection(), fund_id).await?;
    let query = fund_forecast::Entity::find().filter(fund_forecast::Column::FundId.eq(fund_id));
    pagination::by_time_and_uuid(
        query,
        (fund_forecast::Column::CreatedAt, fund_forecast::Column::Id),
        &page,
        svc.db.connection(),
        |f: &Summary| (f.created_at, f.id),
    )
    .await
}

/// Deletes a forecast at the version `If-Match` names (a running calculation finds it gone and stops).
#[tracing::instrument(skip_all, fields(forecast_id = %id))]
pub async fn delete_forecast(
    svc: &Service,
    principal: &Principal,
    id: Uuid,
    expected_version: i64,
) -> Result<()> {
    let forecast = get_forecast(svc, principal, id).await?;
    principal.require_write(forecast.fund_id)?;
    let done = fund_forecast::Entity::delete_many()
        .filter(fund_forecast::Column::Id.eq(id))
        .filter(fund_forecast::Column::Version.eq(expected_version))
        .exec(svc.db.connection())
        .await?;
    if done.rows_affected == 1 {
        return Ok(());
    }
    let current = fund_forecast::Entity::find_by_id(id)
        .into_partial_model::<Summary>()
        .one(svc.db.connection())
        .await?;
    Err(Error::missing_or_stale(
        "forecast",
        id,
        current.map(|f| f.version),
    ))
}

/// Moves forecast `id` from `from` to `to`; `false` when it was not in `from`.
pub(crate) async fn transition<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    from: ForecastStatus,
    to: ForecastStatus,
    set: Vec<(fund_forecast::Column, Expr)>,
) -> Result<bool> {
    use fund_forecast::Column as C;
    let mut update = fund_forecast::Entity::update_many()
        .col_expr(C::Status, Expr::value(to))
        .col_expr(C::UpdatedAt, Expr::value(now()))
        .col_expr(C::Version, Expr::col(C::Version).add(1));
    for (column, value) in set {
        update = update.col_expr(column, value);
    }
    let done = update
        .filter(C::Id.eq(id))
        .filter(C::Status.eq(from))
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}
