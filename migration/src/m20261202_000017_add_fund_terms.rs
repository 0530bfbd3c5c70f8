//! A fund's economic terms (SPEC §3, §6.6): what the fee schedule and the waterfall read. Each column
//! has the default §6.6 gives an existing fund, so that every fund keeps a meaning without a backfill:
//! `first_close_on` NULL means 1 January of `vintage_year`, `post_period_fee_bps` NULL means
//! `management_fee_bps`. Every constant default is kept in PostgreSQL's catalogue, so no row is
//! rewritten.
//!
//! The two rules that tie columns together are CHECKs on the column added last, so that both backends
//! hold them (SQLite cannot add a table constraint to an existing table): with a hurdle the catch-up
//! must exceed the carry, and an `american` waterfall has no hurdle. Every constraint is named
//! `ck_funds_<what>`, as in the create migration. `down` drops the columns (and their constraints).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns, in the order they are added: name, type and default, and the CHECK each carries.
const COLUMNS: [(&str, &str, &str); 8] = [
    (
        "first_close_on",
        "{date} NULL",
        "first_close_on IS NULL OR first_close_on BETWEEN '1900-01-01' AND '2200-12-31'",
    ),
    (
        "commitment_period_years",
        "integer NOT NULL DEFAULT 5",
        "commitment_period_years BETWEEN 1 AND 15",
    ),
    (
        "term_years",
        "integer NOT NULL DEFAULT 10",
        "term_years BETWEEN 1 AND 30 AND term_years >= commitment_period_years",
    ),
    (
        "post_period_fee_bps",
        "integer NULL",
        "post_period_fee_bps IS NULL OR post_period_fee_bps BETWEEN 0 AND 10000",
    ),
    (
        "post_period_fee_basis",
        "varchar(32) NOT NULL DEFAULT 'net_invested_capital'",
        "post_period_fee_basis IN ('commitment', 'net_invested_capital')",
    ),
    (
        "hurdle_bps",
        "integer NOT NULL DEFAULT 0",
        "hurdle_bps BETWEEN 0 AND 10000",
    ),
    (
        "catch_up_bps",
        "integer NOT NULL DEFAULT 10000",
        "catch_up_bps BETWEEN 0 AND 10000 AND (hurdle_bps = 0 OR catch_up_bps > carry_bps)",
    ),
    (
        "waterfall",
        "varchar(16) NOT NULL DEFAULT 'european'",
        "waterfall IN ('european', 'american') AND (waterfall = 'european' OR hurdle_bps = 0)",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let date = match manager.get_database_backend() {
            DbBackend::Sqlite => "date_text",
            _ => "date",
        };
        let conn = manager.get_connection();
        for (name, definition, check) in COLUMNS {
            let definition = definition.replace("{date}", date);
            conn.execute_unprepared(&format!(
                "ALTER TABLE funds ADD COLUMN {name} {definition} \
                 CONSTRAINT ck_funds_{name} CHECK ({check})"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _, _) in COLUMNS.iter().rev() {
            manager
                .alter_table(Table::alter().table("funds").drop_column(*name).take())
                .await?;
        }
        Ok(())
    }
}
