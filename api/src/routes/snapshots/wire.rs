//! The snapshot's wire types: the snapshot as `GET` answers it (its metrics' schema documented, the
//! metrics themselves sent as stored) and as a list shows it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use service::entity::PackedDocument;
use service::entity::forecast_snapshot;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::routes::metrics::{CompanyMetrics, FundMetrics, LotMetrics};
use crate::wire::{BindingCap, SnapshotStatus};

#[derive(Serialize, ToSchema)]
pub struct Progress {
    pub done: i32,
    pub total: i32,
}

/// A forecast snapshot: an immutable capture of a fund's state and, once complete, its metrics.
#[derive(Serialize, ToSchema)]
pub struct Snapshot {
    pub id: Uuid,
    pub fund_id: i64,
    pub name: String,
    pub status: SnapshotStatus,
    /// SHA-256 (hex) of the canonical captured inputs: equal hashes, equal inputs.
    pub source_hash: String,
    /// When the state was captured; its date is the metrics' `as_of`.
    pub snapshot_time: DateTime<Utc>,
    pub progress: Progress,
    /// Lot, company and fund metrics and the engine's reserve plan; `null` until complete.
    #[schema(value_type = Option<CalculatedMetrics>)]
    pub calculated_metrics: Option<PackedDocument>,
    pub error_message: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

impl From<&forecast_snapshot::Summary> for Snapshot {
    fn from(m: &forecast_snapshot::Summary) -> Self {
        Self {
            id: m.id,
            fund_id: m.fund_id,
            name: m.name.clone(),
            status: m.status.into(),
            source_hash: m.source_hash.clone(),
            snapshot_time: m.snapshot_time,
            progress: Progress {
                done: m.progress_done,
                total: m.progress_total,
            },
            calculated_metrics: m.calculated_metrics.clone(),
            error_message: m.error_message.clone(),
            version: m.version,
            created_at: m.created_at,
        }
    }
}

/// A snapshot as a list shows it: all but its calculated metrics, which `GET /snapshots/{id}` answers
/// (megabytes for a large fund, for every snapshot of a page).
#[derive(Serialize, ToSchema)]
pub struct SnapshotListItem {
    pub id: Uuid,
    pub fund_id: i64,
    pub name: String,
    pub status: SnapshotStatus,
    /// SHA-256 (hex) of the canonical captured inputs: equal hashes, equal inputs.
    pub source_hash: String,
    /// When the state was captured; its date is the metrics' `as_of`.
    pub snapshot_time: DateTime<Utc>,
    pub progress: Progress,
    pub error_message: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

impl From<&forecast_snapshot::Listed> for SnapshotListItem {
    fn from(m: &forecast_snapshot::Listed) -> Self {
        Self {
            id: m.id,
            fund_id: m.fund_id,
            name: m.name.clone(),
            status: m.status.into(),
            source_hash: m.source_hash.clone(),
            snapshot_time: m.snapshot_time,
            progress: Progress {
                done: m.progress_done,
                total: m.progress_total,
            },
            error_message: m.error_message.clone(),
            version: m.version,
            created_at: m.created_at,
        }
    }
}

/// What a complete snapshot's calculation produced, from its captured inputs alone. Decimals are strings
/// as everywhere; the document is stored as calculated, so its decimals keep their own scale.
#[derive(ToSchema)]
#[allow(dead_code)] // The schema of `Snapshot::calculated_metrics`, which is sent as stored.
pub struct CalculatedMetrics {
    pub metrics: SnapshotMetrics,
    /// The engine's plan; `null` when the allocations were given by hand.
    pub reserve_plan: Option<EngineReservePlan>,
    /// Net returns to the LPs on the snapshot's date (`GET /funds/{id}/returns`); absent from snapshots
    /// captured before fund terms existed.
    pub net: Option<crate::routes::returns::NetFigures>,
}

/// The metrics of `GET /funds/{id}/moic`, as of the snapshot's date.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SnapshotMetrics {
    pub as_of: chrono::NaiveDate,
    pub fund: FundMetrics,
    pub companies: Vec<CompanyMetrics>,
    pub lots: Vec<LotMetrics>,
}

/// The allocation engine's result (SPEC §6.5): Σ allocations + remaining = available, to the cent.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EngineReservePlan {
    pub available_cents: i64,
    pub allocations: Vec<EngineAllocation>,
    pub remaining_cents: i64,
}

/// One company's share of the reserves, as the engine decided it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EngineAllocation {
    pub company_id: i64,
    pub planned_reserve_cents: i64,
    /// The ranking value: reserve exit multiple × exit probability; `null` when unknown.
    pub allocation_score: Option<String>,
    /// Rank, 1 = first.
    pub priority: i32,
    pub cap_cents: i64,
    pub binding_cap: BindingCap,
    pub rationale: String,
}
