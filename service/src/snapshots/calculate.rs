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
use crate::canonical::write_in_declared_order;
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
                // buffers and sorts every member (debug builds check the two give the same bytes).
                let mut packer = json_document::Packer::new()?;
                write_in_declared_order(&calculated, &mut packer)?;
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
    use std::collections::BTreeMap;

    use chrono::NaiveDate;
    use entity::company_mark::MarkSource;
    use entity::distribution::DistributionKind;
    use entity::investment_lot::LotType;
    use entity::portfolio_company::{CompanyStatus, Stage};
    use rust_decimal::Decimal;

    use super::*;
    use crate::calc::money::{Bps, Cents};
    use crate::calc::terms::{FeeBasis, FundTerms, WaterfallKind};
    use crate::canonical::{sha256_hex, to_canonical_string};
    use crate::fund_state::{
        CompanyState, DistributionState, FundState, LotState, MarkState, PortfolioState,
    };
    use crate::reserves::ReservePolicy;
    use crate::snapshots::model::ManualAllocation;

    /// Inputs with every field present, every option set and a map by stage whose variants' order
    /// (pre_seed, seed, series_a, growth) is not their names' order.
    fn every_field() -> SnapshotInputs {
        let on = |d: u32| NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
        let at = DateTime::parse_from_rfc3339("2024-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        let bps = |v| Bps::new(v).unwrap();
        SnapshotInputs {
            engine_version: "reserves-3".into(),
            manual_allocations: Some(vec![ManualAllocation {
                company_id: 7,
                planned_reserve_cents: 100,
                rationale: Some("pro rata \"A\"\n".into()),
            }]),
            reserve_policy: Some(ReservePolicy {
                cap_percent_bps: Some(5000),
                min_check_cents: Some(1),
                min_expected_multiple_bps: Some(10_000),
                reserve_ratio_bps: Some(4000),
                stage_caps_bps: Some(BTreeMap::from([
                    (Stage::PreSeed, 1),
                    (Stage::Seed, 2),
                    (Stage::SeriesA, 3),
                    (Stage::Growth, 4),
                ])),
            }),
            state: PortfolioState {
                companies: vec![CompanyState {
                    allocation_cap_cents: Some(9),
                    current_share_price_cents: Some(120),
                    exit_moic_bps: Some(30_000),
                    exit_probability: Some(Decimal::new(25, 2)),
                    id: 7,
                    marks: Some(vec![MarkState {
                        marked_on: on(2),
                        share_price_cents: Decimal::new(12_345, 2),
                        source: MarkSource::Round,
                    }]),
                    name: "Acme ☃".into(),
                    planned_reserves_cents: 500,
                    reserve_exit_moic_bps: Some(20_000),
                    stage: Stage::SeriesA,
                    status: CompanyStatus::Active,
                }],
                distributions: vec![DistributionState {
                    amount_cents: 10,
                    company_id: 7,
                    created_at: at,
                    distributed_on: on(3),
                    id: 1,
                    kind: DistributionKind::PartialSale,
                    shares_sold: Some(Decimal::new(5, 1)),
                }],
                fund: FundState {
                    base_currency: "USD".into(),
                    id: 1,
                    reserve_ratio_bps: bps(4000),
                    size_cents: Cents::new(1_000_000),
                    terms: Some(FundTerms {
                        carry: bps(2000),
                        catch_up: bps(10_000),
                        commitment_period_years: 5,
                        committed: Cents::new(1_000_000),
                        first_close_on: on(1),
                        hurdle: bps(800),
                        management_fee: bps(200),
                        post_period_fee: bps(150),
                        post_period_fee_basis: FeeBasis::NetInvestedCapital,
                        term_years: 10,
                        waterfall: WaterfallKind::American,
                    }),
                },
                lots: std::sync::Arc::new(vec![LotState {
                    acquired_on: on(2),
                    company_id: 7,
                    cost_basis_cents: 1000,
                    created_at: at,
                    id: uuid::Uuid::from_u128(42),
                    investment_id: 3,
                    lot_type: LotType::FollowOn,
                    round_name: "Series A".into(),
                    shares: Decimal::new(100_000_000, 8),
                }]),
            },
        }
    }

    #[test]
    fn the_inputs_and_metrics_stream_as_their_canonical_bytes_and_hash() {
        let inputs = every_field();
        let mut written = Vec::new();
        let hash = write_in_declared_order(&inputs, &mut written).unwrap();
        let canonical = to_canonical_string(&inputs).unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), canonical);
        assert_eq!(hash, sha256_hex(canonical.as_bytes()));
        assert!(
            canonical
                .contains(r#""stage_caps_bps":{"growth":4,"pre_seed":1,"seed":2,"series_a":3}"#)
        );

        let time = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let calculated = calculate(&inputs, time);
        let mut written = Vec::new();
        write_in_declared_order(&calculated, &mut written).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            to_canonical_string(&calculated).unwrap()
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    fn a_type_declared_out_of_canonical_order_is_refused_in_debug_builds() {
        #[derive(serde::Serialize)]
        struct OutOfOrder {
            b: i32,
            a: i32,
        }
        let refused = write_in_declared_order(&OutOfOrder { b: 1, a: 2 }, &mut Vec::new());
        assert!(matches!(refused, Err(Error::Invariant(m)) if m.contains("canonical order")));
    }

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
