use sea_orm::entity::prelude::*;

use crate::{JsonDocument, PackedDocument};

text_enum! {
    pub enum SnapshotStatus in "String(StringLen::N(16))" {
        Pending,
        Calculating,
        Complete,
        Error,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "forecast_snapshots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub fund_id: i64,
    pub name: String,
    pub status: SnapshotStatus,
    /// SHA-256 hex of the RFC 8785 canonical form of `inputs`.
    pub source_hash: String,
    /// The captured state, canonical, packed (`JsonDocument`).
    pub inputs: JsonDocument,
    /// The calculation's result, canonical, packed. Non-null exactly when `status` is `complete`
    /// (database CHECK).
    pub calculated_metrics: Option<JsonDocument>,
    /// How `inputs` and `calculated_metrics` are packed: `zstd` (database CHECK).
    pub document_codec: String,
    pub error_message: Option<String>,
    pub progress_done: i32,
    pub progress_total: i32,
    pub snapshot_time: DateTimeUtc,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

no_relations!();

/// A snapshot without its captured `inputs`: what every read selects. No response shows the inputs
/// (megabytes of JSON for a large fund), and only the calculation reads them.
#[derive(Clone, Debug, PartialEq, Eq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct Summary {
    pub id: Uuid,
    pub fund_id: i64,
    pub name: String,
    pub status: SnapshotStatus,
    pub source_hash: String,
    /// As stored: an answer unpacks it as it sends it.
    pub calculated_metrics: Option<PackedDocument>,
    pub error_message: Option<String>,
    pub progress_done: i32,
    pub progress_total: i32,
    pub snapshot_time: DateTimeUtc,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

/// A snapshot as a list shows it: neither its inputs nor its calculated metrics (megabytes each for a
/// large fund, for every snapshot of a page); `GET /snapshots/{id}` has the metrics.
#[derive(Clone, Debug, PartialEq, Eq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct Listed {
    pub id: Uuid,
    pub fund_id: i64,
    pub name: String,
    pub status: SnapshotStatus,
    pub source_hash: String,
    pub error_message: Option<String>,
    pub progress_done: i32,
    pub progress_total: i32,
    pub snapshot_time: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub version: i64,
}
