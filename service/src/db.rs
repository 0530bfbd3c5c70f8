//! Opening, migrating and checking the database.
//!
//! PostgreSQL is the production database; SQLite is the embedded default, so that a newcomer needs
//! nothing installed. Both are opened here with the settings each needs.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, Statement};

use chrono::{DateTime, SubsecRound, Utc};

use crate::error::{Error, Result};

/// A JSON document given as its text, for a JSON column: PostgreSQL parses the text into `jsonb` itself,
/// SQLite keeps JSON as text. For documents of megabytes (snapshot inputs and metrics) this saves
/// building a `serde_json::Value` only to have the driver serialize it again.
pub fn json_text(backend: sea_orm::DbBackend, text: String) -> sea_orm::sea_query::Expr {
    use sea_orm::ExprTrait;
    use sea_orm::sea_query::Expr;
    match backend {
        sea_orm::DbBackend::Postgres => Expr::val(text).cast_as("jsonb"),
        // Not a cast: SQLite would read `jsonb` as a numeric type name and turn the text into 0.
        _ => Expr::val(text),
    }
}

/// The current time at the precision PostgreSQL stores (microseconds), so that a timestamp read back,
/// or carried in a cursor, equals the one written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Which database engine a connection talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// Recognises the backend from a database URL, without connecting.
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            Err(Error::UnsupportedDatabaseUrl {
                url: redact_url(url),
            })
        }
    }
}

/// How long to wait for a connection before answering "unavailable": short, so that requests fail fast
/// with a 503 while the database is down instead of piling up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a SQLite writer waits for the lock held by another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often, while the database is known to be down, a fresh connection is tried.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);
/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// How often the watch asks its own connection `SELECT 1` (issue #25: an outage known within 250 ms).
const WATCH_INTERVAL: Duration = Duration::from_millis(100);
/// How long the watch waits for that answer before taking the database for lost: a loaded database
/// answers `SELECT 1` in milliseconds; the pool's own acquire timeout is 3 s.
const WATCH_PATIENCE: Duration = Duration::from_secs(1);

/// Whether the database is known to be down (SPEC §17: fail fast with 503 while it is, recover within
/// a second of its return). Set by whoever meets an unreachable database; cleared by a prober that
/// opens fresh connections outside the pool until one answers.
#[derive(Debug, Default)]
struct Health {
    down: AtomicBool,
    probing: AtomicBool,
}

/// A pooled database handle. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Database {
    conn: DatabaseConnection,
    health: Arc<Health>,
    backend: Backend,
    /// The URL it was opened with (the migration lock opens its own connection from it).
    url: String,
    /// Rung when this process queues an outbox job, so that its idle workers start at once.
    jobs_queued: crate::doorbell::Doorbell,
}

impl Database {
    /// Connects to `url` (`postgres://…` or `sqlite:…`). For SQLite the database file and its directory
    /// are created when missing.
    pub async fn connect(url: &str) -> Result<Self> {
        let backend = Backend::from_url(url)?;
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .connect_timeout(CONNECT_TIMEOUT)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .sqlx_logging(false);
        match backend {
            Backend::Postgres => {
                options.max_connections(16).min_connections(0);
            }
            Backend::Sqlite => {
                ensure_sqlite_directory(url)?;
                // One connection: SQLite allows one writer at a time, and a single connection turns
                // concurrent writers into an orderly queue instead of "database is locked" errors.
                options.max_connections(1).map_sqlx_sqlite_opts(|o| {
                    o.create_if_missing(true)
                        .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                        .foreign_keys(true)
                });
            }
        }
        let conn = sea_orm::Database::connect(options)
            .await
            .map_err(Error::DatabaseUnavailable)?;
        Ok(Self {
            conn,
            health: Arc::default(),
            backend,
            url: url.to_owned(),
            jobs_queued: crate::doorbell::Doorbell::default(),
        })
    }

    /// The pool's size and idle connections, for `/metrics`.
    pub fn pool_use(&self) -> (u32, usize) {
        match self.backend {
            Backend::Postgres => {
                let pool = self.conn.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            Backend::Sqlite => {
                let pool = self.conn.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
        }
    }

    /// Whether the database is known to be down: requests are answered 503 at once instead of each
    /// waiting for the pool's acquire timeout.
    pub fn is_down(&self) -> bool {
        self.health.down.load(Ordering::Relaxed)
    }

    /// Records that a query found the database unreachable, and starts the one prober that clears the
    /// mark when a fresh connection answers (PostgreSQL only: an embedded SQLite file is not "down").
    pub fn report_unavailable(&self) {
        if self.backend == Backend::Postgres {
            mark_down(&self.health, &self.url);
        }
    }

    /// Watches the database from a connection of its own (PostgreSQL only), so that an outage is
    /// known within [`WATCH_INTERVAL`] and even the first request after it is answered 503 at once
    /// (issue #25), instead of waiting for the pool's acquire timeout. A failed `SELECT 1` marks the
    /// database down (a stopped server fails it at once); a slow one only after [`WATCH_PATIENCE`],
    /// so that a loaded but working database is not taken for a lost one. While the mark is set the
    /// prober of [`Database::report_unavailable`] looks for the way back; then the watch resumes. The
    /// task ends when the last handle on the database is dropped.
    pub fn watch(&self) {
        if self.backend != Backend::Postgres {
            return;
        }
        let (health, url) = (Arc::downgrade(&self.health), self.url.clone());
        tokio::spawn(async move {
            use sea_orm::sqlx::Connection;
            loop {
                tokio::time::sleep(WATCH_INTERVAL).await;
                let Some(alive) = health.upgrade() else {
                    return;
                };
                if alive.down.load(Ordering::Relaxed) {
                    continue; // the prober is on it
                }
                drop(alive);
                let Ok(Ok(mut conn)) =
                    tokio::time::timeout(PROBE_TIMEOUT, sea_orm::sqlx::PgConnection::connect(&url))
                        .await
                else {
                    if let Some(alive) = health.upgrade() {
                        mark_down(&alive, &url);
                    }
                    continue;
                };
                loop {
                    tokio::time::sleep(WATCH_INTERVAL).await;
                    let Some(alive) = health.upgrade() else {
                        return;
                    };
                    let answer = tokio::time::timeout(
                        WATCH_PATIENCE,
                        sea_orm::sqlx::query("SELECT 1").execute(&mut conn),
                    )
                    .await;
                    if !matches!(answer, Ok(Ok(_))) {
                        mark_down(&alive, &url);
                        break;
                    }
                }
            }
        });
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The doorbell of this process's outbox workers: ring it once a transaction that queued a job has
    /// committed (`outbox::run_worker`).
    pub fn jobs_queued(&self) -> &crate::doorbell::Doorbell {
        &self.jobs_queued
    }

    /// The underlying SeaORM connection, for the service's own queries and for tests.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Applies every pending migration under the migration lock, refusing if an applied migration
    /// changed since (checksums), and records their checksums.
    pub async fn migrate(&self) -> Result<()> {
        migration::safety::up(&self.url, &self.conn, None)
            .await
            .map(|_| ())
            .map_err(Error::Migration)
    }

    /// Fails when an applied migration's SQL changed or an applied migration is missing from this build.
    pub async fn verify_migrations(&self) -> Result<()> {
        migration::safety::verify(&self.conn)
            .await
            .map_err(Error::Migration)
    }

    /// Names of the migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<Vec<String>> {
        let pending = Migrator::get_pending_migrations(&self.conn)
            .await
            .map_err(Error::from_db)?;
        Ok(pending.iter().map(|m| m.name().to_owned()).collect())
    }

    /// A round trip to the database (`SELECT 1`).
    pub async fn ping(&self) -> Result<()> {
        let stmt = Statement::from_string(self.conn.get_database_backend(), "SELECT 1");
        self.conn
            .execute_raw(stmt)
            .await
            .map(|_| ())
            .map_err(Error::from_db)
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(self) -> Result<()> {
        self.conn.close().await.map_err(Error::from_db)
    }
}

/// Creates the directory of a file-backed SQLite URL and checks that it is writable, so that a bad data
/// directory is reported as such rather than as an obscure driver error.
/// Marks the database down and starts the one prober that clears the mark when a fresh connection
/// answers.
fn mark_down(health: &Arc<Health>, url: &str) {
    if !health.down.swap(true, Ordering::Relaxed) {
        tracing::warn!("the database is unreachable: answering 503 until it is back");
    }
    if health.probing.swap(true, Ordering::Relaxed) {
        return;
    }
    let (health, url) = (health.clone(), url.to_owned());
    tokio::spawn(async move {
        use sea_orm::sqlx::Connection;
        loop {
            tokio::time::sleep(PROBE_INTERVAL).await;
            let probe = async {
                let mut conn = sea_orm::sqlx::PgConnection::connect(&url).await?;
                sea_orm::sqlx::query("SELECT 1").execute(&mut conn).await?;
                conn.close().await
            };
            if let Ok(Ok(())) = tokio::time::timeout(PROBE_TIMEOUT, probe).await {
                health.down.store(false, Ordering::Relaxed);
                health.probing.store(false, Ordering::Relaxed);
                tracing::info!("the database answers again");
                return;
            }
        }
    });
}

fn ensure_sqlite_directory(url: &str) -> Result<()> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return Ok(());
    }
    let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    else {
        return Ok(());
    };
    let fail = |source| Error::DataDirectory {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    // Creating the directory succeeds on an existing read-only one; probe that we can write into it.
    let probe = dir.join(".updog-write-probe");
    std::fs::write(&probe, b"").map_err(fail)?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// The URL with any password replaced, for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_appears_in_a_redacted_url() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/updog"),
            "postgres://app:***@db:5432/updog"
        );
        assert_eq!(
            redact_url("postgres://app@db/updog"),
            "postgres://app@db/updog"
        );
        assert_eq!(
            redact_url("sqlite://./updog-data/updog.db"),
            "sqlite://./updog-data/updog.db"
        );
    }

    #[test]
    fn the_backend_is_read_from_the_url_scheme() {
        assert_eq!(
            Backend::from_url("postgres://x/y").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::from_url("postgresql://x/y").unwrap(),
            Backend::Postgres
        );
        assert_eq!(Backend::from_url("sqlite://a.db").unwrap(), Backend::Sqlite);
        assert!(matches!(
            Backend::from_url("mysql://x/y"),
            Err(Error::UnsupportedDatabaseUrl { .. })
        ));
    }
}

#[cfg(test)]
mod json_text_tests {
    use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};

    #[test]
    fn json_text_is_cast_to_jsonb_on_postgres_and_kept_as_text_on_sqlite() {
        use sea_orm::DbBackend as Backend;
        let select = |backend| {
            Query::select()
                .expr(super::json_text(backend, "{}".into()))
                .to_owned()
        };
        assert_eq!(
            select(Backend::Postgres).to_string(PostgresQueryBuilder),
            "SELECT CAST('{}' AS jsonb)"
        );
        assert_eq!(
            select(Backend::Sqlite).to_string(SqliteQueryBuilder),
            "SELECT '{}'"
        );
    }
}
