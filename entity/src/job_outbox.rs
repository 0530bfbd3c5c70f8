use sea_orm::entity::prelude::*;

text_enum! {
    pub enum JobStatus in "String(StringLen::N(16))" {
        Pending,
        Processing,
        Completed,
        Failed,
        Cancelled,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub job_type: String,
    pub fund_id: Option<i64>,
    pub dedupe_key: Option<String>,
    pub payload: Json,
    pub status: JobStatus,
    /// Smaller runs first.
    pub priority: i32,
    pub attempt_count: i32,
    pub max_attempts: i32,
    pub next_run_at: DateTimeUtc,
    pub locked_by: Option<String>,
    pub locked_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

no_relations!();
