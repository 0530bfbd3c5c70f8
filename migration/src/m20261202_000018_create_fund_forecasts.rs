//! `fund_forecasts` (SPEC §3, §6.7): a fund's state, terms and a scenario matrix run through the
//! waterfall, scenario by scenario, by an outbox job. The matrix is referenced `ON DELETE SET NULL`:
//! its key stays in the captured inputs, so a complete forecast outlives its matrix.

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "fund_forecasts";

create_table_migration!(T);

fn table(backend: DbBackend) -> Schema {
    let mut t = fund_owned(T, id_uuid());
    t.col(ColumnDef::new("matrix_id").uuid().null())
        .col(varchar("name", 255))
        .col(status_column("pending"))
        .col(int_from("progress_done", 0))
        .col(int_from("progress_total", 0))
        .col(ColumnDef::new("source_hash").char_len(64).not_null())
        .col(ColumnDef::new("inputs").json_binary().not_null())
        .col(ColumnDef::new("results").json_binary().null())
        .col(ColumnDef::new("error_message").text().null())
        .col(idempotency_key_column())
        .foreign_key(&mut fund_fk(T))
        .foreign_key(&mut foreign_key(
            T,
            "matrix",
            &["matrix_id"],
            "scenario_matrices",
            &["id"],
            ForeignKeyAction::SetNull,
        ))
        .check(check(T, "name_length", &length_between("name", 1, 255)))
        .check(check(
            T,
            "status",
            &one_of("status", &["pending", "calculating", "complete", "error"]),
        ))
        .check(check(
            T,
            "source_hash_sha256",
            &sha256_hex(backend, "source_hash"),
        ))
        // Results exist exactly when the forecast is complete.
        .check(check(
            T,
            "results_iff_complete",
            "(status = 'complete' AND results IS NOT NULL) \
                 OR (status <> 'complete' AND results IS NULL)",
        ))
        .check(check(
            T,
            "progress_range",
            "progress_done >= 0 AND progress_total >= 0 AND progress_done <= progress_total",
        ))
        .check(key_length_check(T));
    timestamps(&mut t, T, true);
    // One live forecast per inputs and matrix: a failed one does not block asking again.
    let mut by_hash = index(T, "fund_source_hash", &["fund_id", "source_hash"], true);
    by_hash.and_where(Expr::cust("status <> 'error'"));
    (
        t,
        vec![
            index(T, "matrix", &["matrix_id"], false),
            key_index(T, Some("fund_id")),
            by_hash,
            cursor_index(T, "fund_id", "created_at"),
        ],
    )
}
