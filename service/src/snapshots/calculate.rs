//! Calculating a snapshot (SPEC §7.2): the outbox handler of `snapshot.calculate`, which computes the
//! metrics and the engine's allocations from the captured inputs alone.

use chrono::{DateTime, Utc};
use entity::forecast_snapshot::{self, SnapshotStatus};
use entity::json_document;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, ExprTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::complete::{Completion, complete};
use super::model::{CalculatedMetrics, JOB_CALCULATE, SnapshotInputs, can_transition};
use crate::blocking::off_the_async_workers;
use crate::db::{Database, now};
use crate::error::{ConflictCode, Error, Result};
use crate::metrics::compute;
use crate::outbox::Job;
use crate::reserves::{ReservePolicy, allocate};
use crate::returns::net_result;

/// The calculation, from the captured inputs only: the same inputs give the same bytes.
pub fn calculate(inputs: &SnapshotInputs, snapshot_time: DateTime<Utc>) -> CalculatedMetrics {
    let metrics = compute(&inputs.state, snapshot_time.date_naive());
    let reserve_plan = match inputs.manual_allocations {
        Some(_) => None,
        None => Some(allocate(
            &inputs.state,
            inputs
                .reserve_policy
                .as_ref()
                .unwrap_or(&ReservePolicy::default()),
        )),
    };
    let as_of = snapshot_time.date_naive();
    let net = inputs
        .state
        .fund
        .terms
        .as_ref()
        .map(|terms| net_result(&inputs.state, terms, as_of, &metrics.fund).returns);
    CalculatedMetrics {
        metrics,
        reserve_plan,
        net,
    }
}

/// The job that calculates a snapshot (`snapshot.calculate`).
pub struct Calculator;

/// The snapshot a job calculates.
#[derive(Debug, Serialize, Deserialize)]
pub struct CalculateSnapshot {
    pub snapshot_id: Uuid,
}

impl Calculator {
    /// The calculation as the worker runs it (a job row in).
    pub fn handler() -> std::sync::Arc<dyn crate::outbox::Handler> {
        Calculator.erased()
    }

    async fn calculate_job(db: &Database, id: Uuid) -> Result<()> {
        let conn = db.connection();
        // The inputs as stored (packed), unpacked and parsed straight into their types off the async
        // workers (no `serde_json::Value` of megabytes).
        let Some((status, fund_id, snapshot_time, inputs)) =
            forecast_snapshot::Entity::find_by_id(id)
                .select_only()
                .column(forecast_snapshot::Column::Status)
                .column(forecast_snapshot::Column::FundId)
                .column(forecast_snapshot::Column::SnapshotTime)
                .column(forecast_snapshot::Column::Inputs)
                .into_tuple::<(SnapshotStatus, i64, DateTime<Utc>, Vec<u8>)>()
                .one(conn)
                .await?
        else {
            return Ok(()); // deleted meanwhile: nothing to do
        };
        if matches!(status, SnapshotStatus::Complete | SnapshotStatus::Error) {
            return Ok(()); // already done by an earlier run
        }
        if status == SnapshotStatus::Pending {
            set_status(
                db,
                id,
                SnapshotStatus::Pending,
                SnapshotStatus::Calculating,
                None,
            )
            .await?;
        }
        let (calculated, metrics_packed) =
            off_the_async_workers("the snapshot calculation", move || {
                let text = json_document::unpack(&inputs)?;
                drop(inputs);
                let inputs: SnapshotInputs = serde_json::from_str(&text)
                    .map_err(|e| Error::Invariant(format!("snapshot {id} inputs: {e}")))?;
                drop(text);
                let calculated = calculate(&inputs, snapshot_time);
                drop(inputs);
                // Stored as its canonical bytes, packed as they are written, like the inputs. Its
                // types declare their fields in alphabetical order and hold no floats, so `serde_json`
                // writes the canonical form itself, ten times faster than the canonicalizer, which
                // buffers and sorts every member (a test holds the two to the same bytes).
                let mut packer = json_document::Packer::new()?;
                serde_json::to_writer(&mut packer, &calculated)
                    .map_err(|e| Error::Invariant(format!("snapshot {id} metrics: {e}")))?;
                let packed = packer.finish()?;
                Ok::<_, Error>((calculated, packed))
            })
            .await??;

        let allocations = calculated
            .reserve_plan
            .as_ref()
            .map_or(&[][..], |plan| &plan.allocations[..]);
        let done = Completion {
            id,
            fund_id,
            metrics: metrics_packed,
            allocations,
        };
        complete(conn, done).await?;
        Ok(())
    }
}

async fn set_status(
    db: &Database,
    id: Uuid,
    from: SnapshotStatus,
    to: SnapshotStatus,
    message: Option<String>,
) -> Result<()> {
    if !can_transition(from, to) {
        return Err(Error::Conflict {
            code: ConflictCode::InvalidStatusTransition,
            message: format!("{from:?} → {to:?}"),
        });
    }
    forecast_snapshot::Entity::update_many()
        .col_expr(forecast_snapshot::Column::Status, Expr::value(to))
        .col_expr(
            forecast_snapshot::Column::ErrorMessage,
            Expr::value(message),
        )
        .col_expr(forecast_snapshot::Column::UpdatedAt, Expr::value(now()))
        .col_expr(
            forecast_snapshot::Column::Version,
            Expr::col(forecast_snapshot::Column::Version).add(1),
        )
        .filter(forecast_snapshot::Column::Id.eq(id))
        .filter(forecast_snapshot::Column::Status.eq(from))
        .exec(db.connection())
        .await?;
    Ok(())
}

impl Job for Calculator {
    const NAME: &'static str = JOB_CALCULATE;
    const MAX_ATTEMPTS: i32 = 5;
    type Payload = CalculateSnapshot;
    type Error = Error;

    async fn run(&self, db: &Database, job: &CalculateSnapshot) -> Result<()> {
        Self::calculate_job(db, job.snapshot_id).await
    }

    /// The snapshot ends in `error` with the reason.
    async fn give_up(&self, db: &Database, job: &CalculateSnapshot, reason: &str) -> Result<()> {
        fail_snapshot(db, job.snapshot_id, reason).await
    }
}

/// Moves the snapshot to `error` with `message`, from wherever it stopped; a snapshot already
/// complete, failed or deleted is left as it is.
async fn fail_snapshot(db: &Database, id: Uuid, message: &str) -> Result<()> {
    for from in [SnapshotStatus::Calculating, SnapshotStatus::Pending] {
        set_status(
            db,
            id,
            from,
            SnapshotStatus::Error,
            Some(message.to_owned()),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_captured_before_terms_existed_calculate_without_net_figures_and_write_no_net_key() {
        // The inputs of a snapshot taken before issue #23: the fund has no `terms`.
        let inputs: SnapshotInputs = serde_json::from_value(serde_json::json!({
            "engine_version": "reserves-2",
            "state": {
                "fund": {"id": 1, "size_cents": 1000000, "reserve_ratio_bps": 0, "base_currency": "USD"},
                "companies": [], "lots": [], "distributions": []
            },
            "reserve_policy": null,
            "manual_allocations": null
        }))
        .unwrap();
        assert_eq!(inputs.state.fund.terms, None);
        let time = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let calculated = calculate(&inputs, time);
        assert_eq!(calculated.net, None);
        let written = serde_json::to_value(&calculated).unwrap();
        assert!(written.get("net").is_none(), "{written}");
        // And the inputs write back as they were read: their hash is unchanged.
        let fund = serde_json::to_value(&inputs.state.fund).unwrap();
        assert!(fund.get("terms").is_none(), "{fund}");
    }
}
