//! Capturing a snapshot (SPEC §7.1): the fund's state, its canonical hash, the snapshot row, manual
//! allocations and the calculation job, in one transaction, through the one idempotent create path.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::forecast_snapshot::{self, SnapshotStatus, Summary};
use entity::job_outbox;
use entity::json_document;
use entity::reserve_allocation::AllocationSource;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use super::calculate::{CalculateSnapshot, Calculator};
use super::model::{ManualAllocation, SnapshotInputs, allocation_model, insert_allocations};
use crate::auth::Principal;
use crate::canonical::write_in_declared_order;
use crate::context::Service;
use crate::db::now;
use crate::error::{ConflictCode, Error, FieldError, ResourceRef, Result, unique};
use crate::fields::{Problems, name_ok};
use crate::fund_state::{PortfolioState, load_state};
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, keyed};
use crate::reserves::{ENGINE_VERSION, ReservePolicy, allocate};

#[derive(Clone, Debug)]
pub struct NewSnapshot {
    pub name: String,
    pub reserve_policy: Option<ReservePolicy>,
    pub allocations: Option<Vec<ManualAllocation>>,
}

keyed!(forecast_snapshot, SNAPSHOT_KEY, FundId, |s| {
    ResourceRef::Snapshot(s.id)
});

fn validate(input: &NewSnapshot) -> Result<()> {
    let mut p = Problems::default();
    p.check(name_ok(&input.name), "/name", "must be 1 to 255 characters");
    if let Some(policy) = &input.reserve_policy {
        p.absorb(policy.validate("/reserve_policy"))?;
    }
    let mut seen = HashSet::new();
    for (i, a) in input.allocations.iter().flatten().enumerate() {
        p.check(
            a.planned_reserve_cents >= 0,
            &format!("/allocations/{i}/planned_reserve_cents"),
            "must be 0 or more",
        );
        p.check(
            seen.insert(a.company_id),
            &format!("/allocations/{i}/company_id"),
            "appears more than once",
        );
    }
    p.finish()
}

/// Manual allocations must name the fund's companies and stay within the reserves available.
fn check_manual_allocations(
    state: &PortfolioState,
    input: &NewSnapshot,
    allocations: &[ManualAllocation],
) -> Result<()> {
    let fund_id = state.fund.id;
    let companies: HashSet<i64> = state.companies.iter().map(|c| c.id).collect();
    let mut p = Problems::default();
    for (i, a) in allocations.iter().enumerate() {
        p.check(
            companies.contains(&a.company_id),
            &format!("/allocations/{i}/company_id"),
            &format!("fund {fund_id} has no company {}", a.company_id),
        );
    }
    let policy = input.reserve_policy.clone().unwrap_or_default();
    let available = allocate(state, &policy).available_cents;
    let total: i128 = allocations
        .iter()
        .map(|a| i128::from(a.planned_reserve_cents))
        .sum();
    if total > i128::from(available) {
        p.push(FieldError::new(
            "/allocations",
            format!("total {total} exceeds the {available} cents of reserves available"),
        ));
    }
    p.finish()
}

/// Captures the fund's state and queues its calculation, in one transaction (SPEC §7.1): a new snapshot
/// is queued; the same state captured before answers with that snapshot, existing.
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn create_snapshot(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    input: NewSnapshot,
    idem: Option<Idempotency>,
) -> Result<Outcome<Summary>> {
    principal.require_write(fund_id)?;
    validate(&input)?;
    // The capture reads and serializes the whole fund: one of the heavy computations (`heavy`).
    let key = idem
        .as_ref()
        .map(|i| format!("snapshot:{fund_id}:{}", i.key.as_str()));
    let _running = svc
        .heavy
        .enter_keyed("the snapshot capture", key.as_deref())
        .await?;
    idempotency::create(
        svc,
        idem,
        KeyedBy::<forecast_snapshot::Entity>::under(fund_id),
        move |txn, key| Box::pin(capture(txn, fund_id, input, key)),
    )
    .await
    .map_err(|e| match &e {
        Error::Database(db) if unique::SNAPSHOT_SOURCE.violated_by(db) => Error::Conflict {
            code: ConflictCode::SnapshotInProgress,
            message: "the same fund state is being captured by another request; retry to get that \
                      snapshot"
                .into(),
        },
        _ => e,
    })
    // The calculation job is committed: this process's workers start it now.
    .inspect(|outcome| {
        if outcome.queued() {
            svc.db.jobs_queued().ring()
        }
    })
}

async fn capture(
    txn: &DatabaseTransaction,
    fund_id: i64,
    input: NewSnapshot,
    key: Option<String>,
) -> Result<Outcome<Summary>> {
    let state = load_state(txn, fund_id).await?;
    if let Some(allocations) = &input.allocations {
        check_manual_allocations(&state, &input, allocations)?;
    }
    let inputs = SnapshotInputs {
        engine_version: ENGINE_VERSION.to_owned(),
        state,
        reserve_policy: input.reserve_policy,
        manual_allocations: input.allocations,
    };
    // One serialization for both uses: its SHA-256 is the source hash, and the same text, packed as it
    // is written, is the stored document. The inputs' types declare their fields in canonical order, so
    // the text is streamed: neither a `serde_json::Value` nor the whole text is held.
    let mut packer = json_document::Packer::new()?;
    let source_hash = write_in_declared_order(&inputs, &mut packer)?;
    let packed = packer.finish()?;

    // The same state captured before: that snapshot is the answer (a snapshot is a function of its
    // inputs). A concurrent capture of the same state is stopped by the unique index.
    if let Some(existing) = forecast_snapshot::Entity::find()
        .filter(forecast_snapshot::Column::FundId.eq(fund_id))
        .filter(forecast_snapshot::Column::SourceHash.eq(&source_hash))
        .filter(forecast_snapshot::Column::Status.ne(SnapshotStatus::Error))
        .into_partial_model::<Summary>()
        .one(txn)
        .await?
    {
        return Ok(Outcome::Existing(existing));
    }

    let at = now();
    let id = Uuid::now_v7();
    let snapshot = Summary {
        id,
        fund_id,
        name: input.name.trim().to_owned(),
        status: SnapshotStatus::Pending,
        source_hash,
        calculated_metrics: None,
        error_message: None,
        progress_done: 0,
        progress_total: i32::try_from(inputs.state.companies.len()).unwrap_or(i32::MAX),
        snapshot_time: at,
        idempotency_key: key,
        created_at: at,
        updated_at: at,
        version: 1,
    };
    insert_snapshot(txn, &snapshot, packed).await?;
    let manual = inputs.manual_allocations.iter().flatten().enumerate();
    let rows: Vec<_> = manual
        .map(|(i, a)| {
            allocation_model(
                id,
                fund_id,
                a.company_id,
                a.planned_reserve_cents,
                None,
                i + 1,
                a.rationale.clone(),
                AllocationSource::Manual,
                at,
            )
        })
        .collect();
    insert_allocations(txn, rows).await?;
    calculation_job(fund_id, id, at)?.insert(txn).await?;
    Ok(Outcome::Queued(snapshot))
}

/// Inserts the snapshot row with `inputs` given as their stored bytes (`entity::json_document`), never
/// parsed by the database. Without `RETURNING`: the row is the one just built, and reading it back
/// would unpack megabytes of inputs for a large fund.
async fn insert_snapshot(txn: &DatabaseTransaction, s: &Summary, inputs: Vec<u8>) -> Result<()> {
    use forecast_snapshot::Column as C;
    let mut insert = Query::insert();
    insert
        .into_table(forecast_snapshot::Entity)
        .columns([
            C::Id,
            C::FundId,
            C::Name,
            C::Status,
            C::SourceHash,
            C::Inputs,
            C::DocumentCodec,
            C::ProgressDone,
            C::ProgressTotal,
            C::SnapshotTime,
            C::IdempotencyKey,
            C::CreatedAt,
            C::UpdatedAt,
            C::Version,
        ])
        .values([
            s.id.into(),
            s.fund_id.into(),
            s.name.clone().into(),
            Expr::val(s.status),
            s.source_hash.clone().into(),
            inputs.into(),
            json_document::CODEC.into(),
            s.progress_done.into(),
            s.progress_total.into(),
            s.snapshot_time.into(),
            s.idempotency_key.clone().into(),
            s.created_at.into(),
            s.updated_at.into(),
            s.version.into(),
        ])
        .map_err(|e| Error::Invariant(format!("snapshot insert: {e}")))?;
    txn.execute(&insert).await?;
    Ok(())
}

/// The outbox row that has the snapshot calculated (SPEC §8): deduplicated by the snapshot's id.
fn calculation_job(
    fund_id: i64,
    snapshot_id: Uuid,
    at: DateTime<Utc>,
) -> Result<job_outbox::ActiveModel> {
    let payload = CalculateSnapshot { snapshot_id };
    let dedupe = Some(snapshot_id.to_string());
    crate::outbox::queue::<Calculator>(Some(fund_id), dedupe, &payload, at)
}
