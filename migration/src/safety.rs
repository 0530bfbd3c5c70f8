//! What sea-orm-migration does not do: checksums of applied migrations, a lock against concurrent
//! migrators, dry runs and a risk lint (SPEC §11).
//!
//! Every runner goes through here: `cargo run -p migration`, `sea-orm-cli migrate` (which runs this crate's
//! binary), and the server's migrate-on-start (through [`up`]).
//!
//! - **Rendering**: a migration's SQL is what its `up` sends to a database. It is captured by running `up`
//!   against sea-orm's `MockDatabase` for the backend, which records statements and executes nothing.
//! - **Checksums**: SHA-256 of the rendered statements, joined by `;\n`. Recorded in
//!   `updog_migration_checksums` when the migration is applied; compared before every `up` and at
//!   server start.
//! - **Lock**: on PostgreSQL a session advisory lock is held for the whole of `up`/`down`, so migrators
//!   started together apply each migration once; the later ones find nothing pending.

use std::collections::HashMap;
use std::fmt;

use sea_orm::{DatabaseBackend, MockDatabase, MockExecResult};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sha2::{Digest, Sha256};

use crate::Migrator;

/// The table of recorded checksums (created on first use, like `seaql_migrations`).
pub const CHECKSUM_TABLE: &str = "updog_migration_checksums";
/// `pg_advisory_lock` key held while migrating ("updog migrate").
pub const ADVISORY_LOCK_KEY: i64 = 0x7570_646f_675f_6d67;

/// The SQL statements `migration.up` sends on `backend`, without a database.
pub async fn render(
    migration: &dyn MigrationTrait,
    backend: DbBackend,
) -> Result<Vec<String>, DbErr> {
    let mock_backend = match backend {
        DbBackend::Sqlite => DatabaseBackend::Sqlite,
        _ => DatabaseBackend::Postgres,
    };
    let results = (0..1000).map(|_| MockExecResult {
        last_insert_id: 0,
        rows_affected: 0,
    });
    // A migration that converts data reads it first: here it finds no rows.
    let no_rows =
        (0..1000).map(|_| Vec::<std::collections::BTreeMap<String, sea_orm::Value>>::new());
    let conn = MockDatabase::new(mock_backend)
        .append_exec_results(results)
        .append_query_results(no_rows)
        .into_connection();
    let manager = SchemaManager::new(&conn);
    migration.up(&manager).await?;
    Ok(conn
        .into_transaction_log()
        .iter()
        .flat_map(|t| {
            t.statements()
                .iter()
                .map(|s| s.sql.clone())
                .collect::<Vec<_>>()
        })
        .collect())
}

/// SHA-256 hex of rendered statements.
pub fn checksum(statements: &[String]) -> String {
    hex::encode(Sha256::digest(statements.join(";\n").as_bytes()))
}

/// The checksum of every migration, in order, for `backend`.
pub async fn expected_checksums(backend: DbBackend) -> Result<Vec<(String, String)>, DbErr> {
    let mut out = Vec::new();
    for m in Migrator::migrations() {
        let sql = render(m.as_ref(), backend).await?;
        out.push((m.name().to_owned(), checksum(&sql)));
    }
    Ok(out)
}

/// One way an applied migration disagrees with the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drift {
    /// The migration's SQL changed since it was applied.
    Changed {
        name: String,
        recorded: String,
        current: String,
    },
    /// The database records a migration that this build does not have.
    Missing { name: String },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Changed {
                name,
                recorded,
                current,
            } => write!(
                f,
                "migration {name} was changed after it was applied: recorded checksum {recorded}, \
                 current checksum {current}"
            ),
            Drift::Missing { name } => {
                write!(
                    f,
                    "migration {name} is applied in the database but missing from this build"
                )
            }
        }
    }
}

/// The checksum state of one migration, for `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChecksumState {
    Pending,
    Ok,
    /// Applied before checksums were recorded (or by a runner that bypassed this crate).
    Unrecorded,
    Changed {
        recorded: String,
    },
}

#[derive(Clone, Debug)]
pub struct MigrationStatus {
    pub name: String,
    pub checksum: String,
    pub state: ChecksumState,
}

async fn ensure_checksum_table(db: &DatabaseConnection) -> Result<(), DbErr> {
    let mut table = Table::create();
    table
        .table(CHECKSUM_TABLE)
        .if_not_exists()
        .col(ColumnDef::new("version").string().not_null().primary_key())
        .col(ColumnDef::new("checksum").char_len(64).not_null())
        .col(
            ColumnDef::new("recorded_at")
                .timestamp_with_time_zone()
                .not_null()
                .default(Expr::current_timestamp()),
        );
    let backend = db.get_database_backend();
    db.execute_raw(backend.build(&table)).await.map(|_| ())
}

async fn recorded_checksums(db: &DatabaseConnection) -> Result<HashMap<String, String>, DbErr> {
    ensure_checksum_table(db).await?;
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT version, checksum FROM {CHECKSUM_TABLE}"),
        ))
        .await?;
    let mut out = HashMap::new();
    for row in rows {
        out.insert(
            row.try_get::<String>("", "version")?,
            row.try_get::<String>("", "checksum")?.trim().to_owned(),
        );
    }
    Ok(out)
}

async fn record(db: &DatabaseConnection, name: &str, sum: &str) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let mut insert = Query::insert();
    insert
        .into_table(CHECKSUM_TABLE)
        .columns(["version", "checksum"])
        .values_panic([name.into(), sum.into()])
        .on_conflict(
            OnConflict::column("version")
                .update_column("checksum")
                .to_owned(),
        );
    db.execute_raw(backend.build(&insert)).await.map(|_| ())
}

async fn forget(db: &DatabaseConnection, name: &str) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let mut delete = Query::delete();
    delete
        .from_table(CHECKSUM_TABLE)
        .and_where(Expr::col("version").eq(name));
    db.execute_raw(backend.build(&delete)).await.map(|_| ())
}

/// Every migration with its checksum state.
pub async fn status(db: &DatabaseConnection) -> Result<Vec<MigrationStatus>, DbErr> {
    let applied: Vec<String> = Migrator::get_applied_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let recorded = recorded_checksums(db).await?;
    let mut out = Vec::new();
    for (name, sum) in expected_checksums(db.get_database_backend()).await? {
        let state = if !applied.contains(&name) {
            ChecksumState::Pending
        } else {
            match recorded.get(&name) {
                None => ChecksumState::Unrecorded,
                Some(r) if *r == sum => ChecksumState::Ok,
                Some(r) => ChecksumState::Changed {
                    recorded: r.clone(),
                },
            }
        };
        out.push(MigrationStatus {
            name,
            checksum: sum,
            state,
        });
    }
    Ok(out)
}

/// Applied migrations whose SQL changed, and applied versions this build lacks.
pub async fn drift(db: &DatabaseConnection) -> Result<Vec<Drift>, DbErr> {
    let mut out = Vec::new();
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    for name in applied_versions(db).await? {
        if !known.contains(&name) {
            out.push(Drift::Missing { name });
        }
    }
    if !out.is_empty() {
        // Without its file, sea-orm-migration cannot even list the applied migrations.
        return Ok(out);
    }
    for s in status(db).await? {
        if let ChecksumState::Changed { recorded } = s.state {
            out.push(Drift::Changed {
                name: s.name,
                recorded,
                current: s.checksum,
            });
        }
    }
    Ok(out)
}

async fn applied_versions(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let exists = match backend {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'seaql_migrations'"
        }
        _ => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'seaql_migrations'"
        }
    };
    if db
        .query_all_raw(Statement::from_string(backend, exists))
        .await?
        .is_empty()
    {
        return Ok(Vec::new());
    }
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "version"))
        .collect()
}

fn drift_error(drift: &[Drift]) -> DbErr {
    let lines: Vec<String> = drift.iter().map(|d| d.to_string()).collect();
    DbErr::Migration(format!(
        "refusing to migrate: {}. Restore the migration as it was applied, or review the change and run \
         `cargo run -p migration -- accept-checksum <name>`",
        lines.join("; ")
    ))
}

/// Fails when any applied migration drifted (for server start).
pub async fn verify(db: &DatabaseConnection) -> Result<(), DbErr> {
    let drift = drift(db).await?;
    if drift.is_empty() {
        Ok(())
    } else {
        Err(drift_error(&drift))
    }
}

/// A held migration lock; released by [`MigrationLock::release`] (or when the process exits).
pub struct MigrationLock {
    conn: Option<DatabaseConnection>,
}

impl MigrationLock {
    /// On PostgreSQL, waits for the advisory lock on a dedicated connection; elsewhere a no-op (SQLite
    /// serialises writers itself).
    pub async fn acquire(url: &str, db: &DatabaseConnection) -> Result<Self, DbErr> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(Self { conn: None });
        }
        let mut options = sea_orm_migration::sea_orm::ConnectOptions::new(url.to_owned());
        options
            .max_connections(1)
            .min_connections(1)
            .sqlx_logging(false);
        let conn = sea_orm_migration::sea_orm::Database::connect(options).await?;
        // Poll with `pg_try_advisory_lock` rather than block in `pg_advisory_lock`: a session blocked in a
        // statement counts as an open transaction, and `CREATE INDEX CONCURRENTLY` in the lock holder
        // would wait for it to finish — a deadlock PostgreSQL does not detect.
        let sql = format!("SELECT pg_try_advisory_lock({ADVISORY_LOCK_KEY}) AS locked");
        loop {
            let row = conn
                .query_one_raw(Statement::from_string(DbBackend::Postgres, sql.clone()))
                .await?;
            if row
                .map(|r| r.try_get::<bool>("", "locked"))
                .transpose()?
                .unwrap_or(false)
            {
                return Ok(Self { conn: Some(conn) });
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    pub async fn release(mut self) -> Result<(), DbErr> {
        if let Some(conn) = self.conn.take() {
            conn.execute_unprepared(&format!("SELECT pg_advisory_unlock({ADVISORY_LOCK_KEY})"))
                .await?;
            conn.close().await?;
        }
        Ok(())
    }
}

/// Records checksums of applied migrations that have none (applied before checksums existed).
async fn record_unrecorded(db: &DatabaseConnection) -> Result<(), DbErr> {
    for s in status(db).await? {
        if s.state == ChecksumState::Unrecorded {
            record(db, &s.name, &s.checksum).await?;
        }
    }
    Ok(())
}

/// Applies pending migrations (all, or `steps`), under the lock, after checking for drift, recording
/// each one's checksum.
pub async fn up(
    url: &str,
    db: &DatabaseConnection,
    steps: Option<u32>,
) -> Result<Vec<String>, DbErr> {
    locked(url, db, async {
        verify(db).await?;
        record_unrecorded(db).await?;
        let pending: Vec<String> = Migrator::get_pending_migrations(db)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let take = steps
            .map(|s| s as usize)
            .unwrap_or(pending.len())
            .min(pending.len());
        let expected: HashMap<String, String> = expected_checksums(db.get_database_backend())
            .await?
            .into_iter()
            .collect();
        let mut applied = Vec::new();
        // One at a time, so that each checksum is recorded as soon as its migration is applied.
        for name in pending.into_iter().take(take) {
            Migrator::up(db, Some(1)).await?;
            if let Some(sum) = expected.get(&name) {
                record(db, &name, sum).await?;
            }
            applied.push(name);
        }
        Ok(applied)
    })
    .await
}

/// Runs `work` holding the migration lock (not polled before the lock is held), and releases the lock
/// whatever `work` answered.
async fn locked<T>(
    url: &str,
    db: &DatabaseConnection,
    work: impl std::future::Future<Output = Result<T, DbErr>>,
) -> Result<T, DbErr> {
    let lock = MigrationLock::acquire(url, db).await?;
    let result = work.await;
    lock.release().await?;
    result
}

/// Rolls back the last `steps` migrations under the lock, forgetting their checksums.
pub async fn down(
    url: &str,
    db: &DatabaseConnection,
    steps: Option<u32>,
) -> Result<Vec<String>, DbErr> {
    locked(url, db, async {
        let mut applied: Vec<String> = Migrator::get_applied_migrations(db)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        applied.reverse();
        let take = steps
            .map(|s| s as usize)
            .unwrap_or(applied.len())
            .min(applied.len());
        let mut rolled_back = Vec::new();
        for name in applied.into_iter().take(take) {
            Migrator::down(db, Some(1)).await?;
            forget(db, &name).await?;
            rolled_back.push(name);
        }
        Ok(rolled_back)
    })
    .await
}

/// Re-records the current checksum of `name` after a reviewed change.
pub async fn accept_checksum(db: &DatabaseConnection, name: &str) -> Result<String, DbErr> {
    let expected: HashMap<String, String> = expected_checksums(db.get_database_backend())
        .await?
        .into_iter()
        .collect();
    let sum = expected
        .get(name)
        .ok_or_else(|| DbErr::Migration(format!("no migration named {name} in this build")))?;
    record(db, name, sum).await?;
    Ok(sum.clone())
}

/// The SQL that pending migrations would run on `db`, per migration, executing nothing.
pub async fn dry_run_pending(db: &DatabaseConnection) -> Result<Vec<(String, Vec<String>)>, DbErr> {
    let pending: Vec<String> = Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    dry_run(db.get_database_backend(), Some(&pending)).await
}

/// The SQL of the named migrations (or all) on `backend`, executing nothing.
pub async fn dry_run(
    backend: DbBackend,
    only: Option<&[String]>,
) -> Result<Vec<(String, Vec<String>)>, DbErr> {
    let mut out = Vec::new();
    for m in Migrator::migrations() {
        if only.is_some_and(|names| !names.iter().any(|n| n == m.name())) {
            continue;
        }
        out.push((m.name().to_owned(), render(m.as_ref(), backend).await?));
    }
    Ok(out)
}
