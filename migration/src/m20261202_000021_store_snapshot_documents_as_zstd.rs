//! Snapshot documents stored as what they are (issue #25, item 2): `forecast_snapshots.inputs` and
//! `calculated_metrics` become their canonical JSON bytes (RFC 8785) in one zstd frame with its
//! checksum, labelled by `document_codec`, instead of `jsonb` that PostgreSQL parses on every write
//! (megabytes at 40 MB/s) and nobody queries inside. `source_hash` stays the SHA-256 of the canonical
//! inputs: the conversion checks it for every row, and stops on one that does not match rather than
//! store a document that no longer is what was hashed.
//!
//! - **PostgreSQL.** The columns become `bytea` holding each document's text (one rewrite of the table,
//!   under its lock: snapshots are few rows), stored out of line without TOAST compression (`EXTERNAL`:
//!   zstd has compressed them already); then each row is packed, one at a time, so that memory holds one
//!   document. `down` unpacks each row and turns the columns back into `jsonb` (`EXTENDED` storage, lz4
//!   compression set again: a change of type forgets it).
//! - **SQLite.** Its columns take any value: a row's text becomes a BLOB in place; `down` writes the text
//!   back.
//! - A row already packed (the zstd magic number) is left as it is, so that an interrupted run resumes.
//!
//! The documents hold no floating-point numbers (their types are `Eq`), so the canonical text is also
//! exactly what `serde_json` printed for them before: a snapshot reads back byte-identical through the
//! API (`tests/tests/it/migrations.rs`).

use std::io::Write;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use sha2::{Digest, Sha256};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The first four bytes of every zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// zstd's level: fast to write (the capture is on a request's path), 4–6× smaller than the text.
const LEVEL: i32 = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Pack,
    Unpack,
}

fn error(id: &str, what: &str, message: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("snapshot {id}: {what}: {message}"))
}

/// A document's canonical bytes, compressed.
fn pack(id: &str, what: &str, text: &[u8]) -> Result<Vec<u8>, DbErr> {
    let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| error(id, what, e))?;
    let canonical = serde_json_canonicalizer::to_vec(&value).map_err(|e| error(id, what, e))?;
    let mut encoder =
        zstd::stream::Encoder::new(Vec::new(), LEVEL).map_err(|e| error(id, what, e))?;
    encoder
        .include_checksum(true)
        .map_err(|e| error(id, what, e))?;
    encoder
        .write_all(&canonical)
        .map_err(|e| error(id, what, e))?;
    encoder.finish().map_err(|e| error(id, what, e))
}

fn unpack(id: &str, what: &str, stored: &[u8]) -> Result<Vec<u8>, DbErr> {
    zstd::stream::decode_all(stored).map_err(|e| error(id, what, e))
}

fn packed(bytes: &[u8]) -> bool {
    bytes.starts_with(&ZSTD_MAGIC)
}

/// A row's new `inputs` and `calculated_metrics`; `None` where there is nothing to write.
type Converted = (Option<Vec<u8>>, Option<Vec<u8>>);

/// One row's documents converted `way`.
fn convert(
    way: Way,
    id: &str,
    source_hash: &str,
    inputs: &[u8],
    metrics: Option<&[u8]>,
) -> Result<Converted, DbErr> {
    let one = |what: &str, bytes: &[u8]| -> Result<Option<Vec<u8>>, DbErr> {
        match (way, packed(bytes)) {
            (Way::Pack, false) => pack(id, what, bytes).map(Some),
            (Way::Unpack, true) => unpack(id, what, bytes).map(Some),
            _ => Ok(None),
        }
    };
    let new_inputs = one("inputs", inputs)?;
    if way == Way::Pack {
        let canonical = match &new_inputs {
            Some(p) => unpack(id, "inputs", p)?,
            None => unpack(id, "inputs", inputs)?,
        };
        let hash = hex::encode(Sha256::digest(&canonical));
        if hash != source_hash {
            return Err(error(
                id,
                "inputs",
                format!(
                    "their canonical form hashes to {hash}, not to the source hash {source_hash}"
                ),
            ));
        }
    }
    let new_metrics = metrics.map(|m| one("calculated_metrics", m)).transpose()?;
    Ok((new_inputs, new_metrics.flatten()))
}

/// Converts every row, one at a time (keyset order: `id` on PostgreSQL, `rowid` on SQLite).
async fn convert_rows(manager: &SchemaManager<'_>, way: Way) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let backend = manager.get_database_backend();
    let (next, update) = match backend {
        DbBackend::Sqlite => (
            "SELECT CAST(rowid AS TEXT), source_hash, CAST(inputs AS BLOB), \
             CAST(calculated_metrics AS BLOB) FROM forecast_snapshots \
             WHERE rowid > CAST(? AS INTEGER) ORDER BY rowid LIMIT 1",
            "UPDATE forecast_snapshots SET inputs = COALESCE(?, inputs), \
             calculated_metrics = COALESCE(?, calculated_metrics) WHERE rowid = CAST(? AS INTEGER)",
        ),
        _ => (
            "SELECT CAST(id AS TEXT), source_hash, inputs, calculated_metrics \
             FROM forecast_snapshots WHERE id > CAST($1 AS uuid) ORDER BY id LIMIT 1",
            "UPDATE forecast_snapshots SET inputs = COALESCE($1, inputs), \
             calculated_metrics = COALESCE($2, calculated_metrics) WHERE id = CAST($3 AS uuid)",
        ),
    };
    let mut after = match backend {
        DbBackend::Sqlite => "0".to_owned(),
        _ => "00000000-0000-0000-0000-000000000000".to_owned(),
    };
    loop {
        let Some(row) = conn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                next,
                [Value::from(after.clone())],
            ))
            .await?
        else {
            return Ok(());
        };
        let id: String = row.try_get_by_index(0)?;
        let source_hash: String = row.try_get_by_index(1)?;
        let inputs: Vec<u8> = row.try_get_by_index(2)?;
        let metrics: Option<Vec<u8>> = row.try_get_by_index(3)?;
        let (inputs, metrics) = convert(way, &id, &source_hash, &inputs, metrics.as_deref())?;
        if inputs.is_some() || metrics.is_some() {
            // SQLite keeps text as text, so that `down` restores exactly the values it had.
            let value = |v: Option<Vec<u8>>| -> Result<Value, DbErr> {
                Ok(match (backend, way) {
                    (DbBackend::Sqlite, Way::Unpack) => Value::from(
                        v.map(|b| String::from_utf8(b).map_err(|e| error(&id, "text", e)))
                            .transpose()?,
                    ),
                    _ => Value::from(v),
                })
            };
            conn.execute_raw(Statement::from_sql_and_values(
                backend,
                update,
                [value(inputs)?, value(metrics)?, Value::from(id.clone())],
            ))
            .await?;
        }
        after = id;
    }
}

const CODEC_COLUMN: &str = "ALTER TABLE forecast_snapshots ADD COLUMN document_codec varchar(16) \
    NOT NULL DEFAULT 'zstd' CONSTRAINT ck_forecast_snapshots_document_codec \
    CHECK (document_codec IN ('zstd'))";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            conn.execute_unprepared(
                "ALTER TABLE forecast_snapshots \
                 ALTER COLUMN inputs TYPE bytea USING convert_to(inputs::text, 'UTF8'), \
                 ALTER COLUMN calculated_metrics TYPE bytea \
                   USING convert_to(calculated_metrics::text, 'UTF8'), \
                 ALTER COLUMN inputs SET STORAGE EXTERNAL, \
                 ALTER COLUMN calculated_metrics SET STORAGE EXTERNAL",
            )
            .await?;
        }
        conn.execute_unprepared(CODEC_COLUMN).await?;
        convert_rows(manager, Way::Pack).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        convert_rows(manager, Way::Unpack).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            conn.execute_unprepared(
                "ALTER TABLE forecast_snapshots \
                 ALTER COLUMN inputs TYPE jsonb USING convert_from(inputs, 'UTF8')::jsonb, \
                 ALTER COLUMN calculated_metrics TYPE jsonb \
                   USING convert_from(calculated_metrics, 'UTF8')::jsonb, \
                 ALTER COLUMN inputs SET STORAGE EXTENDED, \
                 ALTER COLUMN calculated_metrics SET STORAGE EXTENDED",
            )
            .await?;
            // A change of type forgets the columns' compression: lz4 again, as m20261130_000014 set it.
            conn.execute_unprepared(
                "DO $$ BEGIN \
                   ALTER TABLE forecast_snapshots \
                     ALTER COLUMN inputs SET COMPRESSION lz4, \
                     ALTER COLUMN calculated_metrics SET COMPRESSION lz4; \
                 EXCEPTION WHEN feature_not_supported THEN \
                   RAISE NOTICE 'this PostgreSQL has no lz4 compression; snapshot documents keep the default'; \
                 END $$",
            )
            .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("forecast_snapshots")
                    .drop_column("document_codec")
                    .take(),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUTS: &str = r#"{"state": {"lots": [], "fund": {"id": 1}}, "engine_version": "1"}"#;

    fn hash(text: &str) -> String {
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    #[test]
    fn a_document_is_packed_as_its_canonical_bytes_and_unpacked_to_them() {
        let canonical = r#"{"engine_version":"1","state":{"fund":{"id":1},"lots":[]}}"#;
        let (inputs, metrics) =
            convert(Way::Pack, "s", &hash(canonical), INPUTS.as_bytes(), None).expect("packed");
        let inputs = inputs.expect("converted");
        assert!(packed(&inputs));
        assert_eq!(metrics, None);
        assert_eq!(
            unpack("s", "inputs", &inputs).unwrap(),
            canonical.as_bytes()
        );
        // Packing again changes nothing; unpacking gives the canonical text.
        let again = convert(Way::Pack, "s", &hash(canonical), &inputs, None).unwrap();
        assert_eq!(again, (None, None));
        let (text, _) = convert(Way::Unpack, "s", "", &inputs, None).unwrap();
        assert_eq!(text.unwrap(), canonical.as_bytes());
    }

    #[test]
    fn inputs_that_no_longer_hash_to_their_source_hash_stop_the_migration() {
        let wrong = hash("something else");
        let err = convert(Way::Pack, "s-1", &wrong, INPUTS.as_bytes(), None).unwrap_err();
        assert!(err.to_string().contains("snapshot s-1: inputs"), "{err}");
    }
}
