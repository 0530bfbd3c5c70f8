//! The fund's holdings version (issue #25): `funds.holdings_version`, moved with `state_version` by every
//! write to the fund's investments and lots, and by nothing else. A reader that kept the fund's lots
//! (the bulk of its rows: ten lots per company in the benchmark fund) re-reads them only when it moved,
//! so that a write to a company, a mark or a distribution costs the next `/moic` the fund's small
//! tables, not all of its rows (docs/DECISIONS.md, "The fund state version").
//!
//! Moved by the same triggers as the state version (`m20261202_000020`): on PostgreSQL the deferred
//! trigger function moves each version once per transaction (its own transaction-local setting); on
//! SQLite the investments' and lots' triggers move both. The version starts at 1; no row is rewritten.
//! `down` restores the triggers of `m20261202_000020` and drops the column.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261202_000020_add_fund_state_version::{PG_MOVE_FUND_STATE, run};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The fund's tables that hold its holdings: what a lot's figures are read from.
const HOLDINGS: [&str; 2] = ["investments", "investment_lots"];

const PG_MOVE_FUND_STATE_AND_HOLDINGS: &str = "\
CREATE OR REPLACE FUNCTION updog_move_fund_state() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  fund bigint;
  holdings boolean := TG_TABLE_NAME IN ('investments', 'investment_lots');
  moved text;
  held text;
  first_state boolean;
  first_holdings boolean := false;
BEGIN
  IF TG_OP = 'DELETE' THEN fund := OLD.fund_id; ELSE fund := NEW.fund_id; END IF;
  moved := 'updog.fund_state_moved_' || fund;
  first_state := current_setting(moved, true) IS DISTINCT FROM '1';
  IF holdings THEN
    held := 'updog.fund_holdings_moved_' || fund;
    first_holdings := current_setting(held, true) IS DISTINCT FROM '1';
  END IF;
  IF first_state OR first_holdings THEN
    PERFORM set_config(moved, '1', true);
    IF first_holdings THEN
      PERFORM set_config(held, '1', true);
    END IF;
    UPDATE funds SET state_version = state_version + 1,
      holdings_version = holdings_version + CASE WHEN first_holdings THEN 1 ELSE 0 END
    WHERE id = fund;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.fund_id <> NEW.fund_id THEN
    UPDATE funds SET state_version = state_version + 1,
      holdings_version = holdings_version + CASE WHEN holdings THEN 1 ELSE 0 END
    WHERE id = OLD.fund_id;
  END IF;
  RETURN NULL;
END $$";

fn pg_up() -> Vec<String> {
    vec![
        "ALTER TABLE funds ADD COLUMN holdings_version bigint NOT NULL DEFAULT 1".to_owned(),
        PG_MOVE_FUND_STATE_AND_HOLDINGS.to_owned(),
    ]
}

fn pg_down() -> Vec<String> {
    vec![
        PG_MOVE_FUND_STATE.replacen("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1),
        "ALTER TABLE funds DROP COLUMN holdings_version".to_owned(),
    ]
}

/// SQLite: the holdings' triggers of `m20261202_000020`, replaced by ones that move both versions (or,
/// going down, the other way round).
fn sqlite_triggers(set: &str) -> Vec<String> {
    let mut sql = Vec::new();
    for table in HOLDINGS {
        for (event, funds) in [
            ("INSERT", "NEW.fund_id"),
            ("UPDATE", "NEW.fund_id, OLD.fund_id"),
            ("DELETE", "OLD.fund_id"),
        ] {
            let name = format!("{table}_{}_move_fund_state", event.to_ascii_lowercase());
            sql.push(format!("DROP TRIGGER {name}"));
            sql.push(format!(
                "CREATE TRIGGER {name} AFTER {event} ON {table} \
                 BEGIN UPDATE funds SET {set} WHERE id IN ({funds}); END"
            ));
        }
    }
    sql
}

fn sqlite_up() -> Vec<String> {
    let mut sql =
        vec!["ALTER TABLE funds ADD COLUMN holdings_version integer NOT NULL DEFAULT 1".to_owned()];
    sql.extend(sqlite_triggers(
        "state_version = state_version + 1, holdings_version = holdings_version + 1",
    ));
    sql
}

fn sqlite_down() -> Vec<String> {
    let mut sql = sqlite_triggers("state_version = state_version + 1");
    sql.push("ALTER TABLE funds DROP COLUMN holdings_version".to_owned());
    sql
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DbBackend::Sqlite => sqlite_up(),
            _ => pg_up(),
        };
        run(manager, statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DbBackend::Sqlite => sqlite_down(),
            _ => pg_down(),
        };
        run(manager, statements).await
    }
}
