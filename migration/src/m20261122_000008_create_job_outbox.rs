//! `job_outbox`: work written in the same transaction as the rows that need it (SPEC §8).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "job_outbox";

create_table_migration!(T);

fn table(_backend: DbBackend) -> Schema {
    let mut t = table_with_id(T, id_uuid());
    t.col(varchar("job_type", 64))
        .col(ColumnDef::new("fund_id").big_integer().null())
        .col(varchar_null("dedupe_key", 255))
        .col(ColumnDef::new("payload").json_binary().not_null())
        .col(status_column("pending"))
        // Smaller runs first (0 is the default, negative is urgent).
        .col(ColumnDef::new("priority").integer().not_null().default(0))
        .col(int_from("attempt_count", 0))
        .col(int_from("max_attempts", 5))
        .col(timestamp_now("next_run_at"))
        .col(varchar_null("locked_by", 255))
        .col(timestamp_null("locked_at"))
        .col(timestamp_null("completed_at"))
        .col(ColumnDef::new("last_error").text().null())
        .foreign_key(&mut fund_fk(T))
        .check(check(
            T,
            "status",
            &one_of(
                "status",
                &["pending", "processing", "completed", "failed", "cancelled"],
            ),
        ))
        .check(check(
            T,
            "attempts_range",
            "attempt_count >= 0 AND max_attempts >= 1",
        ))
        .check(check(
            T,
            "job_type_length",
            &length_between("job_type", 1, 64),
        ))
        .check(check(
            T,
            "dedupe_key_length",
            &length_between("dedupe_key", 1, 255),
        ))
        // A claimed job always names its holder and the start of its lease.
        .check(check(
            T,
            "processing_is_locked",
            "status <> 'processing' OR (locked_by IS NOT NULL AND locked_at IS NOT NULL)",
        ));
    timestamps(&mut t, T, true);

    // The claim query scans pending jobs in (priority, next_run_at) order.
    let mut claimable = index(T, "claimable", &["priority", "next_run_at"], false);
    claimable.and_where(Expr::cust("status = 'pending'"));
    (
        t,
        vec![
            unique_where_set(
                T,
                "type_dedupe_key",
                &["job_type", "dedupe_key"],
                "dedupe_key",
            ),
            claimable,
            index(T, "status_locked_at", &["status", "locked_at"], false),
            index(T, "fund", &["fund_id"], false),
        ],
    )
}
