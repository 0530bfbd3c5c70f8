use sea_orm::entity::prelude::*;

text_enum! {
    pub enum ForecastStatus in "String(StringLen::N(16))" {
        Pending,
        Calculating,
        Complete,
        Error,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fund_forecasts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub fund_id: i64,
    /// `None` once the matrix is deleted: its key stays in `inputs`.
    pub matrix_id: Option<Uuid>,
    pub name: String,
    pub status: ForecastStatus,
    pub progress_done: i32,
    pub progress_total: i32,
    /// SHA-256 hex of the RFC 8785 canonical form of `inputs` (which name the matrix key).
    pub source_hash: String,
    pub inputs: Json,
    /// Non-null exactly when `status` is `complete` (database CHECK).
    pub results: Option<Json>,
    pub error_message: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

no_relations!();

/// A forecast without its captured `inputs`: what every read selects.
#[derive(Clone, Debug, PartialEq, Eq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct Summary {
    pub id: Uuid,
    pub fund_id: i64,
    pub matrix_id: Option<Uuid>,
    pub name: String,
    pub status: ForecastStatus,
    pub progress_done: i32,
    pub progress_total: i32,
    pub source_hash: String,
    pub results: Option<Json>,
    pub error_message: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}
