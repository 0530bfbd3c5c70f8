//! `idempotency_records`: recorded responses of creating requests, for byte-identical replay (SPEC §4).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "idempotency_records";

create_table_migration!(T);

fn table(backend: DbBackend) -> Schema {
    let mut t = Table::create();
    t.table(T)
        .col(id_uuid())
        // The route and its parent resource, e.g. `POST /api/v1/funds/1/investments/5/lots`.
        .col(varchar("scope", 512))
        .col(varchar("idempotency_key", 255))
        // SHA-256 hex of the canonical (RFC 8785) request.
        .col(ColumnDef::new("fingerprint").char_len(64).not_null())
        // The API key that made the request, kept for audit (no foreign key: keys may be deleted).
        .col(ColumnDef::new("principal_id").uuid().null())
        .col(ColumnDef::new("status_code").small_integer().not_null())
        .col(ColumnDef::new("response_body").blob().not_null())
        .col(ColumnDef::new("location").string_len(1024).null())
        .col(
            ColumnDef::new("expires_at")
                .timestamp_with_time_zone()
                .not_null(),
        )
        .check(check(T, "scope_length", &length_between("scope", 1, 512)))
        .check(check(
            T,
            "key_length",
            &length_between("idempotency_key", 1, 255),
        ))
        .check(check(
            T,
            "fingerprint_sha256",
            &sha256_hex(backend, "fingerprint"),
        ))
        .check(check(
            T,
            "status_code_range",
            "status_code BETWEEN 100 AND 599",
        ))
        .check(check(T, "expires_after_created", "expires_at > created_at"));
    // Records are written once and never updated.
    timestamps(&mut t, T, false);
    (
        t,
        vec![
            index(T, "scope_key", &["scope", "idempotency_key"], true),
            index(T, "expires_at", &["expires_at"], false),
        ],
    )
}
