//! `company_marks`: each company's dated valuations (SPEC §3, §6.4), so that a figure asked for a past
//! date uses the price in effect on that date. Existing data becomes each company's first mark, in the
//! same migration:
//! - a company with a current price gets a `manual` mark of that price, dated the UTC day of its
//!   `marked_at` (its creation day when the price was never dated);
//! - a written-off company gets a `write_off` mark of 0, dated the UTC day of its `marked_at` (else of its
//!   last update, the best record of when it was written off).
//!
//! `current_share_price_cents` and `marked_at` stay on `portfolio_companies`, kept equal to the latest
//! mark by the service: `down` drops the table and loses only the history.

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "company_marks";

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        sea_orm_migration::util::get_file_stem(file!())
    }
}

fn table(backend: DbBackend) -> Schema {
    let mut t = fund_owned(T, id_uuid());
    t.col(ref_bigint("company_id"))
        .col(ColumnDef::new("marked_on").date().not_null())
        // Exact cents per share, up to 8 places (a price like $0.4213 is 42.13 cents).
        .col(exact_decimal(backend, "share_price_cents", 24, 8).not_null())
        .col(varchar("source", 16))
        .col(varchar_null("note", 1000))
        .col(idempotency_key_column())
        .foreign_key(&mut fund_fk(T))
        .foreign_key(&mut same_fund_fk(
            T,
            "company",
            "company_id",
            "portfolio_companies",
        ))
        .check(check(
            T,
            "share_price_not_negative",
            &decimal_cond(backend, "share_price_cents", ">= 0"),
        ))
        .check(check(
            T,
            "source",
            &one_of(
                "source",
                &["round", "secondary", "409a", "manual", "write_off"],
            ),
        ))
        .check(check(
            T,
            "write_off_is_zero",
            &format!(
                "source <> 'write_off' OR {}",
                decimal_cond(backend, "share_price_cents", "= 0")
            ),
        ))
        .check(check(
            T,
            "note_length",
            "note IS NULL OR length(note) BETWEEN 1 AND 1000",
        ))
        .check(key_length_check(T));
    // A mark is immutable: a wrong one is deleted and entered again.
    timestamps(&mut t, T, false);
    (
        t,
        vec![
            Index::create()
                .name("ux_company_marks_company_marked_on")
                .table(T)
                .col("company_id")
                .col("marked_on")
                .unique()
                .take(),
            Index::create()
                .name("ix_company_marks_fund_company_marked_on")
                .table(T)
                .col("fund_id")
                .col("company_id")
                .col((Alias::new("marked_on"), IndexOrder::Desc))
                .take(),
            key_index(T, Some("company_id")),
        ],
    )
}

/// The first marks, from the companies' current prices and statuses (see the module documentation).
fn backfill(backend: DbBackend) -> [String; 2] {
    let sqlite = backend == DbBackend::Sqlite;
    let new_id = if sqlite {
        "randomblob(16)"
    } else {
        "gen_random_uuid()"
    };
    let day = |col: &str| {
        if sqlite {
            format!("date({col})")
        } else {
            format!("CAST({col} AS date)")
        }
    };
    let price = if sqlite {
        "CAST(current_share_price_cents AS TEXT)"
    } else {
        "current_share_price_cents"
    };
    let zero = match backend {
        DbBackend::Sqlite => "'0'",
        _ => "0",
    };
    [
        format!(
            "INSERT INTO {T} (id, fund_id, company_id, marked_on, share_price_cents, source) \
             SELECT {new_id}, fund_id, id, {}, {price}, 'manual' FROM portfolio_companies \
             WHERE status <> 'written_off' AND current_share_price_cents IS NOT NULL",
            day("COALESCE(marked_at, created_at)")
        ),
        format!(
            "INSERT INTO {T} (id, fund_id, company_id, marked_on, share_price_cents, source) \
             SELECT {new_id}, fund_id, id, {}, {zero}, 'write_off' FROM portfolio_companies \
             WHERE status = 'written_off'",
            day("COALESCE(marked_at, updated_at)")
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let (t, indexes) = table(backend);
        create_table_with_indexes(manager, t, indexes).await?;
        for sql in backfill(backend) {
            manager.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, T).await
    }
}
