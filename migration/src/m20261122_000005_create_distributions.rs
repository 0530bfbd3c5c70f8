//! `distributions`: realized proceeds from a company (SPEC §3, §6.2).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "distributions";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut t = Table::create();
        t.table(T)
            .col(id_bigint())
            .col(ref_bigint("fund_id"))
            .col(ref_bigint("company_id"))
            .col(ColumnDef::new("distributed_on").date().not_null())
            .col(cents("amount_cents"))
            .col(varchar("kind", 32))
            .col(exact_decimal(backend, "shares_sold", 18, 8).null())
            .col(idempotency_key_column())
            .foreign_key(&mut foreign_key(
                T,
                "fund",
                &["fund_id"],
                "funds",
                &["id"],
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
            .check(check(T, "amount_positive", "amount_cents > 0"))
            .check(check(
                T,
                "kind",
                &one_of(
                    "kind",
                    &["exit", "partial_sale", "dividend", "recapitalization"],
                ),
            ))
            .check(check(
                T,
                "shares_sold_positive",
                &decimal_cond(backend, "shares_sold", "> 0"),
            ))
            .check(check(
                T,
                "idempotency_key_length",
                &length_between("idempotency_key", 1, 255),
            ));
        // Distributions are immutable records of cash received.
        timestamps(&mut t, T, false);
        create_table_with_indexes(
            manager,
            t,
            vec![
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
