//! `investments`: a fund's investment in a company in one round (SPEC §3).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "investments";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut t = Table::create();
        t.table(T)
            .col(id_bigint())
            .col(ref_bigint("fund_id"))
            .col(ref_bigint("company_id"))
            .col(varchar("round_name", 255))
            .col(ColumnDef::new("invested_on").date().not_null())
            .col(idempotency_key_column())
            .foreign_key(&mut foreign_key(
                T,
                "fund",
                &["fund_id"],
                "funds",
                &["id"],
                ForeignKeyAction::Cascade,
            ))
            // The company must belong to the same fund as the investment.
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
                "round_name_length",
                &length_between("round_name", 1, 255),
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
                index(T, "id_fund", &["id", "fund_id"], true),
                index(T, "company", &["company_id"], false),
                cursor_index(T, "fund_id", "created_at"),
                unique_where_set(
                    T,
                    "fund_idempotency_key",
                    &["fund_id", "idempotency_key"],
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
