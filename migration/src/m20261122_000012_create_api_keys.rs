//! `api_keys`: bearer keys, stored as SHA-256 digests, with a role and a fund scope (SPEC §13).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "api_keys";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut t = Table::create();
        t.table(T)
            .col(id_uuid())
            .col(varchar("name", 255))
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
            .check(check(
                T,
                "idempotency_key_length",
                &length_between("idempotency_key", 1, 255),
            ));
        timestamps(&mut t, T, true);
        create_table_with_indexes(
            manager,
            t,
            vec![
                index(T, "key_digest", &["key_digest"], true),
                unique_where_set(
                    T,
                    "idempotency_key",
                    &["idempotency_key"],
                    "idempotency_key",
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, T).await
    }
}
