use sea_orm::entity::prelude::*;

text_enum! {
    pub enum MatrixStatus in "String(StringLen::N(16))" {
        Pending,
        Processing,
        Complete,
        Failed,
        Invalidated,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scenario_matrices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 hex of the canonical matrix config.
    pub matrix_key: String,
    pub fund_id: i64,
    pub taxonomy_version: String,
    pub matrix_type: String,
    /// The S × B matrix of `f32` MOIC values, row-major little-endian, compressed with `compression_codec`.
    pub matrix: Option<Vec<u8>>,
    pub compression_codec: Option<String>,
    pub matrix_layout: Option<String>,
    pub num_scenarios: i32,
    pub bucket_count: i32,
    /// Uncompressed size in bytes.
    pub raw_bytes: Option<i64>,
    pub config: Json,
    pub status: MatrixStatus,
    pub error_message: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

no_relations!();

/// A matrix without its values: what a list of matrices selects.
#[derive(Clone, Debug, PartialEq, Eq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct Listed {
    pub id: Uuid,
    pub matrix_key: String,
    pub fund_id: i64,
    pub taxonomy_version: String,
    pub matrix_type: String,
    pub compression_codec: Option<String>,
    pub matrix_layout: Option<String>,
    pub num_scenarios: i32,
    pub bucket_count: i32,
    pub raw_bytes: Option<i64>,
    pub config: Json,
    pub status: MatrixStatus,
    pub error_message: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}
