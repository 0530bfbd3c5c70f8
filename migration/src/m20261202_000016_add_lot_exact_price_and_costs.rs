//! Real lots (SPEC §6.1): an exact `share_price` (in the fund's currency, up to 8 places: a converted
//! SAFE at $0.4213) and `transaction_costs_cents` (legal and broker fees, part of the cost basis).
//!
//! Both are added without rewriting the table: `share_price` is nullable, and a lot written before it
//! (NULL) reads as `share_price_cents / 100`, exactly; `transaction_costs_cents` defaults to 0, which
//! PostgreSQL stores in the catalogue rather than in every row. `down` drops both.

use sea_orm_migration::prelude::*;

use crate::common::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const T: &str = "investment_lots";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .alter_table(
                Table::alter()
                    .table(T)
                    .add_column(
                        exact_decimal(backend, "share_price", 24, 8)
                            .null()
                            .check(Expr::cust(decimal_cond(backend, "share_price", ">= 0")))
                            .take(),
                    )
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(T)
                    .add_column(
                        ColumnDef::new("transaction_costs_cents")
                            .big_integer()
                            .not_null()
                            .default(0)
                            .check(Expr::cust("transaction_costs_cents >= 0"))
                            .take(),
                    )
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["transaction_costs_cents", "share_price"] {
            manager
                .alter_table(Table::alter().table(T).drop_column(column).take())
                .await?;
        }
        Ok(())
    }
}
