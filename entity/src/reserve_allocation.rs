use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ExactDecimal;

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum AllocationSource {
    Engine,
    Manual,
}

/// One company's planned reserves in a snapshot. Immutable once written.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reserve_allocations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub fund_id: i64,
    pub snapshot_id: Uuid,
    pub company_id: i64,
    pub planned_reserve_cents: i64,
    /// The ranking value (expected multiple on the next dollar of reserves), 6 decimal places.
    pub allocation_score: Option<ExactDecimal>,
    /// Rank, 1 = first.
    pub priority: i32,
    pub rationale: Option<String>,
    pub source: AllocationSource,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::forecast_snapshot::Entity",
        from = "Column::SnapshotId",
        to = "super::forecast_snapshot::Column::Id",
        on_delete = "Cascade"
    )]
    ForecastSnapshot,
}

impl Related<super::forecast_snapshot::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ForecastSnapshot.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
