//! `reserve_allocations`: a snapshot's planned follow-on reserves per company (SPEC §3, §6.5, §7).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "reserve_allocations";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut t = Table::create();
        t.table(T)
            .col(id_uuid())
            .col(ref_bigint("fund_id"))
            .col(ColumnDef::new("snapshot_id").uuid().not_null())
            .col(ref_bigint("company_id"))
            .col(cents("planned_reserve_cents"))
            .col(exact_decimal(backend, "allocation_score", 20, 6).null())
            .col(ColumnDef::new("priority").integer().not_null())
            .col(ColumnDef::new("rationale").text().null())
            .col(varchar("source", 16))
            .foreign_key(&mut foreign_key(
                T,
                "snapshot",
                &["snapshot_id", "fund_id"],
                "forecast_snapshots",
                &["id", "fund_id"],
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut foreign_key(
                T,
                "company",
                &["company_id", "fund_id"],
                "portfolio_companies",
                &["id", "fund_id"],
                ForeignKeyAction::Cascade,
            ))
            .check(check(
                T,
                "planned_reserve_non_negative",
                "planned_reserve_cents >= 0",
            ))
            .check(check(T, "priority_positive", "priority >= 1"))
            .check(check(T, "source", &one_of("source", &["engine", "manual"])));
        // A complete snapshot's allocations are immutable.
        timestamps(&mut t, T, false);
        create_table_with_indexes(
            manager,
            t,
            vec![
                index(T, "snapshot_company", &["snapshot_id", "company_id"], true),
                index(T, "snapshot_priority", &["snapshot_id", "priority"], false),
                index(T, "company", &["company_id"], false),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, T).await
    }
}
