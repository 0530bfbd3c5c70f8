//! The keyset-pagination index of a fund's scenario matrices (`GET /funds/{fund_id}/scenario-matrices`,
//! newest first), added to a table that may hold data the production-safe way, as migration 13 does:
//! `CREATE INDEX CONCURRENTLY` (PostgreSQL only) outside a transaction, `IF NOT EXISTS`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "ix_scenario_matrices_fund_id_cursor";

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
                    .table("scenario_matrices")
                    .col("fund_id")
                    .col(("created_at", IndexOrder::Desc))
                    .col(("id", IndexOrder::Desc))
                    .concurrently()
                    .if_not_exists()
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table("scenario_matrices")
                    .to_owned(),
            )
            .await
    }
}
