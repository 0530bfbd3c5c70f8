//! The migration CLI. Accepts what sea-orm-migration's CLI accepts (so `sea-orm-cli migrate <cmd> -d
//! migration` works, as it runs this binary), and adds checksums, a lock, dry runs and a risk lint:
//!
//!     cargo run -p migration -- [-u URL] <up [-n N] | down [-n N] | status | fresh | refresh | reset>
//!     cargo run -p migration -- [-u URL] dry-run [--backend postgres|sqlite]
//!     cargo run -p migration -- [-u URL] accept-checksum <migration>
//!     cargo run -p migration -- lint [--threshold N]
//!
//! See `migration/README.md`.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use migration::{Migrator, MigratorTrait, lint, safety};
use sea_orm_migration::sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

#[derive(Parser)]
#[command(
    name = "migration",
    about = "Updog's schema migrations, with checksums, a lock, dry runs and a risk lint"
)]
struct Cli {
    /// Database URL (postgres://… or sqlite:…).
    #[arg(
        short = 'u',
        long = "database-url",
        env = "DATABASE_URL",
        global = true
    )]
    database_url: Option<String>,
    /// Database schema (PostgreSQL); accepted for compatibility, the default schema is used.
    #[arg(
        short = 's',
        long = "database-schema",
        env = "DATABASE_SCHEMA",
        global = true
    )]
    database_schema: Option<String>,
    /// Print more.
    #[arg(short = 'v', long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations (all, or the next N), refusing if an applied one changed.
    Up {
        #[arg(short, long)]
        num: Option<u32>,
    },
    /// Roll back the last N applied migrations.
    Down {
        #[arg(short, long, default_value_t = 1)]
        num: u32,
    },
    /// Every migration, whether it is applied, and its checksum state.
    Status,
    /// Drop every table, then apply all migrations.
    Fresh,
    /// Roll back every applied migration, then apply all.
    Refresh,
    /// Roll back every applied migration.
    Reset,
    /// Print the SQL that pending migrations would run (without a database URL: every migration, for the
    /// chosen backend). Executes nothing.
    DryRun {
        #[arg(long, value_enum)]
        backend: Option<Backend>,
    },
    /// Re-record the checksum of a migration whose change was reviewed.
    AcceptChecksum { migration: String },
    /// Score every migration's risk from its PostgreSQL SQL; exit 1 if one exceeds the threshold
    /// without an acknowledgement.
    Lint {
        #[arg(long, default_value_t = lint::DEFAULT_THRESHOLD)]
        threshold: u32,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = cli.database_schema;
    match run(cli).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("migration: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

async fn connect(url: Option<&str>) -> Result<(String, DatabaseConnection), String> {
    let url = url.ok_or("no database: set DATABASE_URL or pass -u/--database-url")?;
    if !(url.starts_with("postgres://")
        || url.starts_with("postgresql://")
        || url.starts_with("sqlite:"))
    {
        return Err(format!(
            "DATABASE_URL must be a postgres://… or sqlite:… URL, got {}",
            redact(url)
        ));
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false).max_connections(4);
    let db = Database::connect(options)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", redact(url)))?;
    Ok((url.to_owned(), db))
}

fn err(e: DbErr) -> String {
    e.to_string()
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let command = cli.command.unwrap_or(Command::Up { num: None });
    match command {
        Command::Lint { threshold } => return lint_command(threshold).await,
        Command::DryRun { backend: Some(b) } if cli.database_url.is_none() => {
            let backend = match b {
                Backend::Postgres => DbBackend::Postgres,
                Backend::Sqlite => DbBackend::Sqlite,
            };
            print_sql(&safety::dry_run(backend, None).await.map_err(err)?);
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let (url, db) = connect(cli.database_url.as_deref()).await?;
    match command {
        Command::Up { num } => {
            let applied = safety::up(&url, &db, num).await.map_err(err)?;
            if applied.is_empty() {
                println!("No pending migrations");
            }
            for name in applied {
                println!("Applied {name}");
            }
        }
        Command::Down { num } => {
            for name in safety::down(&url, &db, Some(num)).await.map_err(err)? {
                println!("Rolled back {name}");
            }
        }
        Command::Reset => {
            for name in safety::down(&url, &db, None).await.map_err(err)? {
                println!("Rolled back {name}");
            }
        }
        Command::Refresh => {
            safety::down(&url, &db, None).await.map_err(err)?;
            for name in safety::up(&url, &db, None).await.map_err(err)? {
                println!("Applied {name}");
            }
        }
        Command::Fresh => {
            // Drops every table (sea-orm-migration's `fresh`), including the checksum table.
            let lock = safety::MigrationLock::acquire(&url, &db)
                .await
                .map_err(err)?;
            let result = Migrator::fresh(&db).await.map_err(err);
            lock.release().await.map_err(err)?;
            result?;
            for name in safety::up(&url, &db, None).await.map_err(err)? {
                println!("Applied {name}");
            }
        }
        Command::Status => {
            println!("Checking migration status");
            let mut drift = false;
            for s in safety::status(&db).await.map_err(err)? {
                let state = match &s.state {
                    safety::ChecksumState::Pending => "Pending".to_owned(),
                    safety::ChecksumState::Ok => {
                        format!("Applied (checksum {} ok)", &s.checksum[..12])
                    }
                    safety::ChecksumState::Unrecorded => {
                        "Applied (checksum not recorded yet)".to_owned()
                    }
                    safety::ChecksumState::Changed { recorded } => {
                        drift = true;
                        format!(
                            "Applied, CHANGED since: recorded checksum {recorded}, current {}",
                            s.checksum
                        )
                    }
                };
                println!("Migration `{}`... {state}", s.name);
            }
            for d in safety::drift(&db).await.map_err(err)? {
                if let safety::Drift::Missing { .. } = d {
                    drift = true;
                    println!("{d}");
                }
            }
            if drift {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::DryRun { .. } => print_sql(&safety::dry_run_pending(&db).await.map_err(err)?),
        Command::AcceptChecksum { migration } => {
            let sum = safety::accept_checksum(&db, &migration)
                .await
                .map_err(err)?;
            println!("Recorded checksum {sum} for {migration}");
        }
        Command::Lint { .. } => {}
    }
    let _ = cli.verbose;
    Ok(ExitCode::SUCCESS)
}

fn print_sql(migrations: &[(String, Vec<String>)]) {
    if migrations.is_empty() {
        println!("-- no pending migrations");
    }
    for (name, statements) in migrations {
        println!("-- {name}");
        for s in statements {
            println!("{s};");
        }
    }
}

async fn lint_command(threshold: u32) -> Result<ExitCode, String> {
    let mut failed = false;
    for report in migration::lint_all().await.map_err(err)? {
        let verdict = match (report.score > threshold, report.acknowledgement) {
            (false, _) => "ok".to_owned(),
            (true, Some(reason)) => format!("acknowledged: {reason}"),
            (true, None) => {
                failed = true;
                format!(
                    "FAILS (threshold {threshold}); add an acknowledgement with a reason in migration/src/lib.rs"
                )
            }
        };
        println!("{:>3}  {}  {verdict}", report.score, report.migration);
        for f in &report.findings {
            println!("       {} (+{}): {}", f.rule, f.weight, f.statement);
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
