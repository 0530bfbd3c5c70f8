//! The fund state version (issue #25): `funds.state_version`, one number per fund that every write to
//! the fund's rows moves in the same transaction, so that a reader decides "is the fund unchanged?" by
//! reading one indexed row instead of a query over all of them (docs/DECISIONS.md, "The fund state
//! version").
//!
//! Moved by the database itself, not by the service's write paths: every writer moves it — the service,
//! the demo and benchmark seeds, a fix typed into `psql`, a write path added later — and none can forget.
//!
//! - **PostgreSQL.** A row trigger on each of the fund's tables (companies, marks, investments, lots,
//!   distributions), a *constraint trigger deferred to commit*: the fund's row is locked only while the
//!   transaction commits, after every other lock it takes, so that two writers of one fund wait for each
//!   other but never deadlock (an immediate trigger would hold the fund's row from the first statement
//!   while later statements wait for rows another writer holds). A transaction-local setting makes the
//!   trigger move each fund once per transaction, however many rows it writes (a 100,000-lot seed is one
//!   move, not 100,000 row versions of the fund). An update of the fund's own row moves it too (a `BEFORE
//!   UPDATE` trigger), unless the update sets the version itself.
//! - **SQLite.** A writer holds the whole database, so immediate row triggers cost nothing in waiting:
//!   one `AFTER` trigger per table and event.
//!
//! The version starts at 1; no row is rewritten (a constant default is kept in the catalogue). `down`
//! drops the triggers, the functions and the column.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The fund's tables whose rows carry `fund_id`: every one a calculation reads.
const TABLES: [&str; 5] = [
    "portfolio_companies",
    "company_marks",
    "investments",
    "investment_lots",
    "distributions",
];

pub(crate) const PG_MOVE_FUND_STATE: &str = "\
CREATE FUNCTION updog_move_fund_state() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  fund bigint;
  moved text;
BEGIN
  IF TG_OP = 'DELETE' THEN fund := OLD.fund_id; ELSE fund := NEW.fund_id; END IF;
  moved := 'updog.fund_state_moved_' || fund;
  IF current_setting(moved, true) IS DISTINCT FROM '1' THEN
    PERFORM set_config(moved, '1', true);
    UPDATE funds SET state_version = state_version + 1 WHERE id = fund;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.fund_id <> NEW.fund_id THEN
    UPDATE funds SET state_version = state_version + 1 WHERE id = OLD.fund_id;
  END IF;
  RETURN NULL;
END $$";

const PG_MOVE_OWN_FUND_STATE: &str = "\
CREATE FUNCTION updog_move_own_fund_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.state_version = OLD.state_version THEN
    NEW.state_version := OLD.state_version + 1;
  END IF;
  RETURN NEW;
END $$";

fn pg_up() -> Vec<String> {
    let mut sql = vec![
        "ALTER TABLE funds ADD COLUMN state_version bigint NOT NULL DEFAULT 1".to_owned(),
        PG_MOVE_FUND_STATE.to_owned(),
        PG_MOVE_OWN_FUND_STATE.to_owned(),
        "CREATE TRIGGER funds_move_state BEFORE UPDATE ON funds \
         FOR EACH ROW EXECUTE FUNCTION updog_move_own_fund_state()"
            .to_owned(),
    ];
    for table in TABLES {
        sql.push(format!(
            "CREATE CONSTRAINT TRIGGER {table}_move_fund_state \
             AFTER INSERT OR UPDATE OR DELETE ON {table} \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION updog_move_fund_state()"
        ));
    }
    sql
}

fn pg_down() -> Vec<String> {
    let mut sql: Vec<String> = TABLES
        .iter()
        .map(|table| format!("DROP TRIGGER {table}_move_fund_state ON {table}"))
        .collect();
    sql.push("DROP TRIGGER funds_move_state ON funds".to_owned());
    sql.push("DROP FUNCTION updog_move_own_fund_state()".to_owned());
    sql.push("DROP FUNCTION updog_move_fund_state()".to_owned());
    sql.push("ALTER TABLE funds DROP COLUMN state_version".to_owned());
    sql
}

/// SQLite: one trigger per table and event; `fund` is the row's fund (`NEW` or `OLD`).
fn sqlite_up() -> Vec<String> {
    let mut sql = vec![
        "ALTER TABLE funds ADD COLUMN state_version integer NOT NULL DEFAULT 1".to_owned(),
        // Any update of the fund's row that leaves the version alone moves it (the trigger's own update
        // sets it, so it does not fire again).
        "CREATE TRIGGER funds_move_state AFTER UPDATE ON funds \
         WHEN NEW.state_version = OLD.state_version \
         BEGIN UPDATE funds SET state_version = OLD.state_version + 1 WHERE id = NEW.id; END"
            .to_owned(),
    ];
    for table in TABLES {
        for (event, funds) in [
            ("INSERT", "NEW.fund_id"),
            ("UPDATE", "NEW.fund_id, OLD.fund_id"),
            ("DELETE", "OLD.fund_id"),
        ] {
            let name = event.to_ascii_lowercase();
            sql.push(format!(
                "CREATE TRIGGER {table}_{name}_move_fund_state AFTER {event} ON {table} \
                 BEGIN UPDATE funds SET state_version = state_version + 1 WHERE id IN ({funds}); END"
            ));
        }
    }
    sql
}

fn sqlite_down() -> Vec<String> {
    let mut sql = Vec::new();
    for table in TABLES {
        for event in ["insert", "update", "delete"] {
            sql.push(format!("DROP TRIGGER {table}_{event}_move_fund_state"));
        }
    }
    sql.push("DROP TRIGGER funds_move_state".to_owned());
    sql.push("ALTER TABLE funds DROP COLUMN state_version".to_owned());
    sql
}

/// Runs `statements` in order (shared with `m20261202_000022`, which replaces this one's triggers).
pub(crate) async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    for sql in statements {
        conn.execute_unprepared(&sql).await?;
    }
    Ok(())
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
