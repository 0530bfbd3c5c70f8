use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    Pending,
    Calculating,
    Complete,
    Error,
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
    pub inputs: Json,
    /// Non-null exactly when `status` is `complete` (database CHECK).
    pub calculated_metrics: Option<Json>,
    pub error_message: Option<String>,
    pub progress_done: i32,
    pub progress_total: i32,
    pub snapshot_time: DateTimeUtc,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::fund::Entity",
        from = "Column::FundId",
        to = "super::fund::Column::Id",
        on_delete = "Cascade"
    )]
    Fund,
    #[sea_orm(has_many = "super::reserve_allocation::Entity")]
    ReserveAllocation,
}

impl Related<super::fund::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Fund.def()
    }
}

impl Related<super::reserve_allocation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ReserveAllocation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
