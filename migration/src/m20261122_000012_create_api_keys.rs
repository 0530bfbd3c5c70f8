//! `api_keys`: bearer keys, stored as SHA-256 digests, with a role and a fund scope (SPEC §13).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "api_keys";

create_table_migration!(T);

fn table(backend: DbBackend) -> Schema {
    let mut t = table_with_id(T, id_uuid());
    t.col(varchar("name", 255))
        .col(ColumnDef::new("key_digest").char_len(64).not_null())
        // The first characters of the key, shown in listings so a key can be recognised.
        .col(varchar("key_prefix", 16))
        .col(varchar("role", 16))
        // JSON array of fund ids the key may touch; ignored for admin keys.
        .col(ColumnDef::new("fund_scope").json_binary().not_null())
        .col(timestamp_null("revoked_at"))
        .col(timestamp_null("last_used_at"))
        .col(idempotency_key_column())
        .check(check(T, "name_length", &length_between("name", 1, 255)))
        .check(check(
            T,
            "key_digest_sha256",
            &sha256_hex(backend, "key_digest"),
        ))
        .check(check(
            T,
            "role",
            &one_of("role", &["admin", "writer", "reader"]),
        ))
        .check(key_length_check(T));
    timestamps(&mut t, T, true);
    (
        t,
        vec![
            index(T, "key_digest", &["key_digest"], true),
            key_index(T, None),
        ],
    )
}
