//! An index for reading a company's distributions in date order (FIFO relief, SPEC §6.2), added to a
//! table that may already hold data — the production-safe pattern for that:
//!
//! - `use_transaction() == Some(false)`: `CREATE INDEX CONCURRENTLY` cannot run inside a transaction;
//! - `Index::create().concurrently()` renders `CONCURRENTLY` on PostgreSQL only (SQLite has no such
//!   option and locks nothing worth avoiding);
//! - `if_not_exists()`: a concurrent build that failed half-way leaves an invalid index behind; the
//!   operator drops it and re-runs (see migration/README.md).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "ix_distributions_company_distributed_on";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table("distributions")
                    .col("company_id")
                    .col("distributed_on")
                    .concurrently()
                    .if_not_exists()
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table("distributions").to_owned())
            .await
    }
}
