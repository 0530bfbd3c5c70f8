//! Forecast snapshots: `/api/v1/funds/{fund_id}/snapshots` and `/api/v1/snapshots/{id}`.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use service::entity::PackedDocument;
use service::entity::forecast_snapshot;
use service::snapshots::{self, NewSnapshot};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::Error;
use crate::extract::{Caller, Creation, if_match, json_body, set_etag, with_etag};
use crate::replies::{Written, poll_later};
use crate::responses::{
    CreateErrors, DeleteErrors, ReadErrors, TableErrors, UpdateErrors, Versioned,
};
use crate::routes::reserves::ReservePlan;
use crate::wire::{
    AllocationSource, DecimalText, FundPath, IdempotencyKeyHeader, IfMatchHeader, SnapshotPath,
    SnapshotStatus, Stage, page_of, page_request,
};
use utoipa_actix_web::service_config::ServiceConfig;

mod wire;

pub use wire::{
    CalculatedMetrics, EngineAllocation, EngineReservePlan, Progress, Snapshot, SnapshotListItem,
    SnapshotMetrics,
};

page_of! {
    /// A page of snapshots, newest first, without their calculated metrics.
    SnapshotPage of SnapshotListItem
}

/// A hand-made allocation.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualAllocation {
    #[schema(minimum = 1)]
    pub company_id: i64,
    /// 0 or more.
    #[schema(minimum = 0)]
    pub planned_reserve_cents: i64,
    pub rationale: Option<String>,
}

/// Sizing and caps of the engine's reserve allocation; absent fields take their defaults.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservePolicy {
    /// Share of the fund kept for follow-ons, bps (default: the fund's).
    #[schema(minimum = 0, maximum = 10000)]
    pub reserve_ratio_bps: Option<i32>,
    /// Cap per company as a share of invested, bps (default 5000).
    #[schema(minimum = 0, maximum = 1000000)]
    pub cap_percent_bps: Option<i32>,
    /// Per-stage caps as a share of invested, bps, keyed by stage (`seed`, `series_a`, …).
    pub stage_caps_bps: Option<BTreeMap<Stage, i32>>,
    /// Amounts below this stay unallocated.
    #[schema(minimum = 0)]
    pub min_check_cents: Option<i64>,
    /// A company whose expected multiple on the next dollar of reserves is below this, bps, is not
    /// funded (its rationale says so); default 10000, 1.0×.
    #[schema(minimum = 0, maximum = 1000000)]
    pub min_expected_multiple_bps: Option<i32>,
}

/// A new snapshot.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSnapshot {
    /// 1 to 255 characters; not part of the captured inputs.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub name: String,
    pub reserve_policy: Option<ReservePolicy>,
    /// Hand-made allocations instead of the engine's (companies of this fund, each once, total within
    /// the available reserves).
    pub allocations: Option<Vec<ManualAllocation>>,
}

impl Written for forecast_snapshot::Summary {
    type Wire = Snapshot;
    fn location(&self) -> String {
        format!("/api/v1/snapshots/{}", self.id)
    }
}

/// Capture the fund's state and queue its calculation.
#[utoipa::path(
    tag = "snapshots", operation_id = "create_snapshot", request_body = CreateSnapshot, params(FundPath, IdempotencyKeyHeader),
    responses((status = 202, description = "A new snapshot, queued for calculation.", body = Snapshot, headers( ("Location" = String, description = "The snapshot."), ("Retry-After" = u32, description = "Seconds before polling."), ("Idempotent-Replayed" = String, description = "`true` on a replayed response."))), (status = 200, description = "The fund's state is unchanged since this existing snapshot.", body = Snapshot, headers( ("Location" = String, description = "The snapshot."))), CreateErrors)
)]
#[post("/api/v1/funds/{fund_id}/snapshots")]
pub async fn create_snapshot(
    creation: Creation,
    path: web::Path<FundPath>,
) -> Result<HttpResponse, Error> {
    let fund_id = path.fund_id.0;
    let scope = format!("POST /api/v1/funds/{fund_id}/snapshots");
    creation
        .run(
            scope,
            async |svc, principal, input: CreateSnapshot, idem| {
                snapshots::create_snapshot(svc, principal, fund_id, input.into(), idem).await
            },
        )
        .await
}

impl From<CreateSnapshot> for NewSnapshot {
    fn from(input: CreateSnapshot) -> Self {
        Self {
            name: input.name,
            reserve_policy: input
                .reserve_policy
                .map(|p| service::reserves::ReservePolicy {
                    reserve_ratio_bps: p.reserve_ratio_bps,
                    cap_percent_bps: p.cap_percent_bps,
                    stage_caps_bps: p
                        .stage_caps_bps
                        .map(|caps| caps.into_iter().map(|(k, v)| (k.into(), v)).collect()),
                    min_check_cents: p.min_check_cents,
                    min_expected_multiple_bps: p.min_expected_multiple_bps,
                }),
            allocations: input.allocations.map(|v| {
                v.into_iter()
                    .map(|a| service::snapshots::ManualAllocation {
                        company_id: a.company_id,
                        planned_reserve_cents: a.planned_reserve_cents,
                        rationale: a.rationale,
                    })
                    .collect()
            }),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SnapshotQuery {
    /// Only snapshots in this status.
    pub status: Option<SnapshotStatus>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page (opaque; anything not of this pattern is a 400
    /// `invalid_cursor`).
    #[param(pattern = "^[A-Za-z0-9_-]{32}$")]
    pub cursor: Option<String>,
}

/// A fund's snapshots, newest first.
#[utoipa::path(
    tag = "snapshots", operation_id = "list_snapshots", params(FundPath, SnapshotQuery),
    responses((status = 200, description = "A page of snapshots.", body = SnapshotPage), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/snapshots")]
pub async fn list_snapshots(
    caller: Caller,
    path: web::Path<FundPath>,
    query: web::Query<SnapshotQuery>,
) -> Result<HttpResponse, Error> {
    let q = query.into_inner();
    let page = page_request(q.limit, q.cursor.as_deref())?;
    let page = snapshots::list_snapshots(
        caller.service(),
        &caller.principal,
        path.fund_id.0,
        q.status.map(Into::into),
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(SnapshotPage::from(page)))
}

fn snapshot_response(m: &forecast_snapshot::Summary) -> Result<HttpResponse, Error> {
    let mut response = match &m.calculated_metrics {
        Some(packed) => streamed(m, packed)?,
        None => with_etag(&Snapshot::from(m), m.version),
    };
    if matches!(
        SnapshotStatus::from(m.status),
        SnapshotStatus::Pending | SnapshotStatus::Calculating
    ) {
        poll_later(&mut response);
    }
    Ok(response)
}

/// A complete snapshot, its metrics unpacked into their place as the answer is sent, 64 KB at a time:
/// the 35 MB of metrics of a 100,000-lot snapshot are never held whole (issue #25). The bytes are those
/// `serde_json` writes for the whole [`Snapshot`]. A frame found damaged while sending ends the
/// answer early (logged), which a client sees as a broken transfer, never as valid JSON.
fn streamed(
    m: &forecast_snapshot::Summary,
    packed: &PackedDocument,
) -> Result<HttpResponse, Error> {
    // Inside a JSON string a quote is escaped, so this member can only be the snapshot's own.
    const MEMBER: &[u8] = br#""calculated_metrics":null"#;
    let mut wire = Snapshot::from(m);
    wire.calculated_metrics = None;
    let text = serde_json::to_vec(&wire)
        .map_err(|e| service::Error::Invariant(format!("snapshot body: {e}")))?;
    let at = text
        .windows(MEMBER.len())
        .position(|w| w == MEMBER)
        .ok_or_else(|| service::Error::Invariant("snapshot body without its metrics".into()))?;
    let value_at = at + MEMBER.len() - b"null".len();
    let head = web::Bytes::copy_from_slice(&text[..value_at]);
    let tail = web::Bytes::copy_from_slice(&text[value_at + b"null".len()..]);
    let id = m.id;
    let metrics = packed.chunks().map(move |chunk| {
        chunk.map(web::Bytes::from).inspect_err(|e| {
            tracing::error!(snapshot_id = %id, error = %e, "a stored snapshot document is damaged");
        })
    });
    let body = futures::stream::iter(
        std::iter::once(Ok(head))
            .chain(metrics)
            .chain(std::iter::once(Ok(tail))),
    );
    let mut response = HttpResponse::Ok()
        .content_type("application/json")
        .streaming(body);
    set_etag(&mut response, m.version);
    Ok(response)
}

/// One snapshot (with `Retry-After` while it is being calculated).
#[utoipa::path(
    tag = "snapshots", operation_id = "get_snapshot", params(SnapshotPath),
    responses((status = 200, description = "The snapshot.", body = Snapshot, headers( ("ETag" = String, description = "The version, quoted."), ("Retry-After" = u32, description = "Present while pending or calculating."))), ReadErrors)
)]
#[get("/api/v1/snapshots/{snapshot_id}")]
pub async fn get_snapshot(
    caller: Caller,
    path: web::Path<SnapshotPath>,
) -> Result<HttpResponse, Error> {
    let snapshot =
        snapshots::get_snapshot(caller.service(), &caller.principal, path.snapshot_id).await?;
    snapshot_response(&snapshot)
}

/// A snapshot's reserve allocation for one company.
#[derive(Serialize, ToSchema)]
pub struct Allocation {
    pub company_id: i64,
    /// The company's name.
    pub company_name: String,
    pub planned_reserve_cents: i64,
    /// The engine's ranking value, 6 places; `null` for manual allocations or unknown multiples.
    #[schema(value_type = Option<String>)]
    pub allocation_score: Option<DecimalText>,
    /// 1 = first call on reserves.
    pub priority: i32,
    pub rationale: Option<String>,
    pub source: AllocationSource,
}

impl From<&snapshots::Allocated> for Allocation {
    fn from(allocated: &snapshots::Allocated) -> Self {
        let a = &allocated.row;
        Self {
            company_id: a.company_id,
            company_name: allocated.company_name.clone(),
            planned_reserve_cents: a.planned_reserve_cents,
            allocation_score: DecimalText::ratio(a.allocation_score.map(|s| s.0)),
            priority: a.priority,
            rationale: a.rationale.clone(),
            source: a.source.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AllocationList {
    pub snapshot_id: Uuid,
    pub data: Vec<Allocation>,
    /// Always `null`: the list is whole (one row per company). Present so that every list has the
    /// same shape (SPEC §2).
    pub next_cursor: Option<String>,
}

/// An allocation row in CSV: the company by name, money in the fund's currency with 2 places, then
/// in cents.
#[derive(Serialize)]
struct AllocationRow<'a> {
    priority: i32,
    company: &'a str,
    planned_reserve: crate::negotiate::Money,
    allocation_score: Option<DecimalText>,
    source: AllocationSource,
    rationale: Option<&'a str>,
    company_id: i64,
    planned_reserve_cents: i64,
}

impl<'a> From<&'a snapshots::Allocated> for AllocationRow<'a> {
    fn from(allocated: &'a snapshots::Allocated) -> Self {
        let a = &allocated.row;
        Self {
            priority: a.priority,
            company: &allocated.company_name,
            planned_reserve: crate::negotiate::Money(a.planned_reserve_cents),
            allocation_score: DecimalText::ratio(a.allocation_score.map(|s| s.0)),
            source: a.source.into(),
            rationale: a.rationale.as_deref(),
            company_id: a.company_id,
            planned_reserve_cents: a.planned_reserve_cents,
        }
    }
}

/// A snapshot's allocations, by priority; with `Accept: text/csv`, as a table for spreadsheets.
#[utoipa::path(
    tag = "snapshots", operation_id = "list_snapshot_allocations", params(SnapshotPath),
    responses((status = 200, description = "The allocations (empty until an engine snapshot is complete); CSV: a header line of the field names, one line per allocation.", content(
        (AllocationList = "application/json"),
        (String = "text/csv"),
    )), TableErrors)
)]
#[get("/api/v1/snapshots/{snapshot_id}/allocations")]
pub async fn list_snapshot_allocations(
    caller: Caller,
    path: web::Path<SnapshotPath>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let id = path.snapshot_id;
    let format = crate::negotiate::negotiate(&req)?;
    let rows = snapshots::allocations(caller.service(), &caller.principal, id).await?;
    if format == crate::negotiate::Format::Csv {
        let table: Vec<AllocationRow> = rows.iter().map(AllocationRow::from).collect();
        return crate::negotiate::csv_response(&table, &format!("snapshot-{id}-allocations.csv"));
    }
    Ok(HttpResponse::Ok().json(AllocationList {
        snapshot_id: id,
        data: rows.iter().map(Allocation::from).collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameSnapshot {
    /// 1 to 255 characters.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub name: String,
}

/// Rename a snapshot (the only change a snapshot allows; requires `If-Match`).
#[utoipa::path(
    tag = "snapshots", operation_id = "update_snapshot", request_body = RenameSnapshot, params(SnapshotPath, IfMatchHeader),
    responses(Versioned<Snapshot>, UpdateErrors)
)]
#[patch("/api/v1/snapshots/{snapshot_id}")]
pub async fn update_snapshot(
    caller: Caller,
    path: web::Path<SnapshotPath>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let version = if_match(&req)?;
    let (input, _) = json_body::<RenameSnapshot>(&req, &body)?;
    let s = snapshots::rename_snapshot(
        caller.service(),
        &caller.principal,
        path.snapshot_id,
        version,
        input.name,
    )
    .await?;
    snapshot_response(&s)
}

/// Delete a snapshot and its allocations (requires `If-Match`).
#[utoipa::path(
    tag = "snapshots", operation_id = "delete_snapshot", params(SnapshotPath, IfMatchHeader),
    responses((status = 204, description = "Deleted."), DeleteErrors)
)]
#[delete("/api/v1/snapshots/{snapshot_id}")]
pub async fn delete_snapshot(
    caller: Caller,
    path: web::Path<SnapshotPath>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let version = if_match(&req)?;
    snapshots::delete_snapshot(
        caller.service(),
        &caller.principal,
        path.snapshot_id,
        version,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplySnapshot {
    /// The fund's current reserve-plan version.
    #[schema(minimum = 1)]
    pub expected_version: i64,
}

/// Copy a complete snapshot's allocations into the fund's reserve plan.
#[utoipa::path(
    tag = "snapshots", operation_id = "apply_snapshot", request_body = ApplySnapshot, params(SnapshotPath),
    responses(Versioned<ReservePlan>, UpdateErrors)
)]
#[post("/api/v1/snapshots/{snapshot_id}/apply")]
pub async fn apply_snapshot(
    caller: Caller,
    path: web::Path<SnapshotPath>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let (input, _) = json_body::<ApplySnapshot>(&req, &body)?;
    let plan = snapshots::apply_snapshot(
        caller.service(),
        &caller.principal,
        path.snapshot_id,
        input.expected_version,
    )
    .await?;
    Ok(with_etag(&ReservePlan::from(&plan), plan.version))
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_snapshot)
        .service(list_snapshots)
        .service(get_snapshot)
        .service(list_snapshot_allocations)
        .service(update_snapshot)
        .service(delete_snapshot)
        .service(apply_snapshot);
}
