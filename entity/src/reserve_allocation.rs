use sea_orm::entity::prelude::*;

use crate::ExactDecimal;

text_enum! {
    pub enum AllocationSource in "String(StringLen::N(16))" {
        Engine,
        Manual,
    }
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

no_relations!();
