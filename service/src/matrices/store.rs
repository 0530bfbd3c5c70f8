//! The durable tier (SPEC §9): `scenario_matrices` rows. The unique `matrix_key` arbitrates: a row is
//! inserted with `ON CONFLICT DO NOTHING` and the outcome classified; a row that may be replaced
//! (invalidated, failed, or holding another config under the key) is replaced by a versioned update.
//! Never check-then-insert.

use entity::scenario_matrix::{self, MatrixStatus};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    TryInsertResult,
};
use serde_json::Value;
use uuid::Uuid;

use super::MatrixConfig;
use super::codec;
use crate::db::now;
use crate::error::{Error, Result};

/// The job that generates a queued matrix.
pub const JOB_GENERATE: &str = "generate_matrix";

/// The row of `key`, with its payload.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    key: &str,
) -> Result<Option<scenario_matrix::Model>> {
    Ok(scenario_matrix::Entity::find()
        .filter(scenario_matrix::Column::MatrixKey.eq(key))
        .one(conn)
        .await?)
}

/// A generated matrix, encoded for storage.
pub struct Payload {
    pub bytes: Vec<u8>,
    pub raw_bytes: i64,
}

impl Payload {
    pub fn encode(values: &[f32]) -> Result<Self> {
        Ok(Self {
            bytes: codec::encode(values)?,
            raw_bytes: (values.len() * 4) as i64,
        })
    }
}

/// What a new or replacing row holds: complete with its payload, or pending for the worker.
fn payload_columns(payload: Option<Payload>) -> (MatrixStatus, Option<Vec<u8>>, Option<i64>) {
    match payload {
        Some(p) => (MatrixStatus::Complete, Some(p.bytes), Some(p.raw_bytes)),
        None => (MatrixStatus::Pending, None, None),
    }
}

/// Inserts the row of `key` unless the key is taken; `None` if it was.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    config: &MatrixConfig,
    canonical: &Value,
    payload: Option<Payload>,
) -> Result<Option<scenario_matrix::Model>> {
    let at = now();
    let (status, matrix, raw_bytes) = payload_columns(payload);
    let complete = status == MatrixStatus::Complete;
    let row = scenario_matrix::ActiveModel {
        id: Set(Uuid::now_v7()),
        matrix_key: Set(key.to_owned()),
        fund_id: Set(config.fund_id),
        taxonomy_version: Set(config.taxonomy_version.clone()),
        matrix_type: Set("moic".to_owned()),
        matrix: Set(matrix),
        compression_codec: Set(complete.then(|| codec::CODEC.to_owned())),
        matrix_layout: Set(complete.then(|| codec::LAYOUT.to_owned())),
        num_scenarios: Set(config.num_scenarios as i32),
        bucket_count: Set(config.buckets.len() as i32),
        raw_bytes: Set(raw_bytes),
        config: Set(canonical.clone()),
        status: Set(status),
        error_message: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        version: Set(1),
    };
    let inserted = scenario_matrix::Entity::insert(row)
        .on_conflict_do_nothing_on([scenario_matrix::Column::MatrixKey])
        .exec_without_returning(conn)
        .await?;
    match inserted {
        TryInsertResult::Inserted(n) if n > 0 => find(conn, key).await,
        _ => Ok(None),
    }
}

/// An update of `row` that applies only while it is at its version, and moves the version on.
fn at_its_version(row: &scenario_matrix::Model) -> sea_orm::UpdateMany<scenario_matrix::Entity> {
    use scenario_matrix::Column as C;
    scenario_matrix::Entity::update_many()
        .col_expr(C::UpdatedAt, Expr::value(now()))
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .filter(C::Id.eq(row.id))
        .filter(C::Version.eq(row.version))
}

/// Replaces `row` (an invalidated, failed or colliding one) if it is still at its version; `None` if
/// another request changed it first.
pub async fn replace<C: ConnectionTrait>(
    conn: &C,
    row: &scenario_matrix::Model,
    config: &MatrixConfig,
    canonical: &Value,
    payload: Option<Payload>,
) -> Result<Option<scenario_matrix::Model>> {
    use scenario_matrix::Column as C;
    let (status, matrix, raw_bytes) = payload_columns(payload);
    let complete = status == MatrixStatus::Complete;
    let updated = at_its_version(row)
        .col_expr(C::FundId, Expr::value(config.fund_id))
        .col_expr(
            C::TaxonomyVersion,
            Expr::value(config.taxonomy_version.clone()),
        )
        .col_expr(C::Matrix, Expr::value(matrix))
        .col_expr(
            C::CompressionCodec,
            Expr::value(complete.then(|| codec::CODEC.to_owned())),
        )
        .col_expr(
            C::MatrixLayout,
            Expr::value(complete.then(|| codec::LAYOUT.to_owned())),
        )
        .col_expr(C::NumScenarios, Expr::value(config.num_scenarios as i32))
        .col_expr(C::BucketCount, Expr::value(config.buckets.len() as i32))
        .col_expr(C::RawBytes, Expr::value(raw_bytes))
        .col_expr(C::Config, Expr::value(canonical.clone()))
        .col_expr(C::Status, Expr::value(status))
        .col_expr(C::ErrorMessage, Expr::value(Option::<String>::None))
        .exec(conn)
        .await?;
    if updated.rows_affected == 1 {
        find(conn, &row.matrix_key).await
    } else {
        Ok(None)
    }
}

/// Stores a regenerated payload over a complete row whose bytes failed their checks.
pub async fn repair<C: ConnectionTrait>(
    conn: &C,
    row: &scenario_matrix::Model,
    payload: Payload,
) -> Result<()> {
    use scenario_matrix::Column as C;
    at_its_version(row)
        .col_expr(C::Matrix, Expr::value(Some(payload.bytes)))
        .col_expr(C::CompressionCodec, Expr::value(codec::CODEC))
        .col_expr(C::MatrixLayout, Expr::value(codec::LAYOUT))
        .col_expr(C::RawBytes, Expr::value(payload.raw_bytes))
        .exec(conn)
        .await?;
    Ok(())
}

/// Moves the row of `key` from `from` to `to` (with a payload when `to` is complete, a message when
/// failed); `false` if it was not in `from`.
pub async fn transition<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    from: MatrixStatus,
    to: MatrixStatus,
    payload: Option<Payload>,
    message: Option<String>,
) -> Result<bool> {
    use scenario_matrix::Column as C;
    let mut update = scenario_matrix::Entity::update_many()
        .col_expr(C::Status, Expr::value(to))
        .col_expr(C::ErrorMessage, Expr::value(message))
        .col_expr(C::UpdatedAt, Expr::value(now()))
        .col_expr(C::Version, Expr::col(C::Version).add(1));
    if let Some(p) = payload {
        update = update
            .col_expr(C::Matrix, Expr::value(Some(p.bytes)))
            .col_expr(C::CompressionCodec, Expr::value(codec::CODEC))
            .col_expr(C::MatrixLayout, Expr::value(codec::LAYOUT))
            .col_expr(C::RawBytes, Expr::value(p.raw_bytes));
    }
    let done = update
        .filter(C::MatrixKey.eq(key))
        .filter(C::Status.eq(from))
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Which rows an invalidation covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Matrix(String),
    Fund(i64),
    All,
}

/// Invalidates the rows of `scope` that are not yet invalidated, dropping their payloads; returns their
/// keys.
pub async fn invalidate<C: ConnectionTrait>(conn: &C, scope: &Scope) -> Result<Vec<String>> {
    use scenario_matrix::Column as C;
    let mut update = scenario_matrix::Entity::update_many()
        .col_expr(C::Status, Expr::value(MatrixStatus::Invalidated))
        .col_expr(C::Matrix, Expr::value(Option::<Vec<u8>>::None))
        .col_expr(C::CompressionCodec, Expr::value(Option::<String>::None))
        .col_expr(C::MatrixLayout, Expr::value(Option::<String>::None))
        .col_expr(C::RawBytes, Expr::value(Option::<i64>::None))
        .col_expr(C::UpdatedAt, Expr::value(now()))
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .filter(C::Status.ne(MatrixStatus::Invalidated));
    update = match scope {
        Scope::Matrix(key) => update.filter(C::MatrixKey.eq(key.as_str())),
        Scope::Fund(fund_id) => update.filter(C::FundId.eq(*fund_id)),
        Scope::All => update,
    };
    Ok(update
        .exec_with_returning(conn)
        .await?
        .into_iter()
        .map(|m| m.matrix_key)
        .collect())
}

/// The keys of a fund's matrices (for clearing the first tier when the fund is deleted).
pub async fn keys_of_fund<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<Vec<String>> {
    Ok(scenario_matrix::Entity::find()
        .select_only()
        .column(scenario_matrix::Column::MatrixKey)
        .filter(scenario_matrix::Column::FundId.eq(fund_id))
        .into_tuple::<String>()
        .all(conn)
        .await?)
}

/// Complete rows and their compressed bytes.
pub async fn bytes_stored<C: ConnectionTrait>(conn: &C) -> Result<(i64, i64)> {
    let found = scenario_matrix::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "rows")
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(LENGTH(matrix)), 0) AS BIGINT)"),
            "bytes",
        )
        .filter(scenario_matrix::Column::Status.eq(MatrixStatus::Complete))
        .into_tuple::<(i64, i64)>()
        .one(conn)
        .await?;
    found.ok_or_else(|| Error::Invariant("an aggregate returned no row".into()))
}
