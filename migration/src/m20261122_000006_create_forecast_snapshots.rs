//! `forecast_snapshots`: immutable, reproducible point-in-time records of a fund (SPEC §3, §7).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "forecast_snapshots";

create_table_migration!(T);

fn table(backend: DbBackend) -> Schema {
    let mut t = fund_owned(T, id_uuid());
    t.col(varchar("name", 255))
        .col(status_column("pending"))
        .col(ColumnDef::new("source_hash").char_len(64).not_null())
        .col(ColumnDef::new("inputs").json_binary().not_null())
        .col(ColumnDef::new("calculated_metrics").json_binary().null())
        .col(ColumnDef::new("error_message").text().null())
        .col(int_from("progress_done", 0))
        .col(int_from("progress_total", 0))
        .col(
            ColumnDef::new("snapshot_time")
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(idempotency_key_column())
        .foreign_key(&mut fund_fk(T))
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
        // Metrics exist exactly when the snapshot is complete (SPEC §7.3).
        .check(check(
            T,
            "metrics_iff_complete",
            "(status = 'complete' AND calculated_metrics IS NOT NULL) \
                 OR (status <> 'complete' AND calculated_metrics IS NULL)",
        ))
        .check(check(
            T,
            "progress_range",
            "progress_done >= 0 AND progress_total >= 0 AND progress_done <= progress_total",
        ))
        .check(key_length_check(T));
    timestamps(&mut t, T, true);

    // One live snapshot per fund state: a failed one does not block capturing the same state again.
    let mut by_hash = index(T, "fund_source_hash", &["fund_id", "source_hash"], true);
    by_hash.and_where(Expr::cust("status <> 'error'"));
    (
        t,
        vec![
            // Target of reserve_allocations' composite foreign key.
            index(T, "id_fund", &["id", "fund_id"], true),
            key_index(T, Some("fund_id")),
            by_hash,
            cursor_index(T, "fund_id", "snapshot_time"),
        ],
    )
}
