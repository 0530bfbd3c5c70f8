use sea_orm::entity::prelude::*;

use crate::ExactDecimal;

text_enum! {
    pub enum OptimizationStatus in "String(StringLen::N(16))" {
        Pending,
        Running,
        Completed,
        Failed,
        Cancelled,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "optimization_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub fund_id: i64,
    pub matrix_id: Uuid,
    pub config: Json,
    pub status: OptimizationStatus,
    pub pass1_e_star: Option<ExactDecimal>,
    pub primary_lock_epsilon: Option<ExactDecimal>,
    pub result_weights: Option<Json>,
    pub result_metrics: Option<Json>,
    pub pass1_iterations: Option<i32>,
    pub pass2_iterations: Option<i32>,
    pub error_message: Option<String>,
    pub started_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

no_relations!();
