//! `optimization_sessions`: portfolio optimizations solved over a scenario matrix (SPEC §10).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "optimization_sessions";

create_table_migration!(T);

fn table(backend: DbBackend) -> Schema {
    let mut t = fund_owned(T, id_uuid());
    t.col(ColumnDef::new("matrix_id").uuid().not_null())
        .col(ColumnDef::new("config").json_binary().not_null())
        .col(status_column("pending"))
        .col(exact_decimal(backend, "pass1_e_star", 20, 6).null())
        .col(exact_decimal(backend, "primary_lock_epsilon", 20, 6).null())
        .col(ColumnDef::new("result_weights").json_binary().null())
        .col(ColumnDef::new("result_metrics").json_binary().null())
        .col(ColumnDef::new("pass1_iterations").integer().null())
        .col(ColumnDef::new("pass2_iterations").integer().null())
        .col(ColumnDef::new("error_message").text().null())
        .col(timestamp_null("started_at"))
        .col(timestamp_null("completed_at"))
        .col(idempotency_key_column())
        .foreign_key(&mut same_fund_fk(
            T,
            "matrix",
            "matrix_id",
            "scenario_matrices",
        ))
        .check(check(
            T,
            "status",
            &one_of(
                "status",
                &["pending", "running", "completed", "failed", "cancelled"],
            ),
        ))
        .check(check(
            T,
            "completed_has_result",
            "status <> 'completed' OR (result_weights IS NOT NULL AND result_metrics IS NOT NULL)",
        ))
        .check(check(
            T,
            "iterations_non_negative",
            "pass1_iterations >= 0 AND pass2_iterations >= 0",
        ))
        .check(check(
            T,
            "idempotency_key_length",
            &length_between("idempotency_key", 1, 255),
        ));
    timestamps(&mut t, T, true);
    (
        t,
        vec![
            index(T, "matrix", &["matrix_id"], false),
            cursor_index(T, "fund_id", "created_at"),
            key_index(T, Some("matrix_id")),
        ],
    )
}
