//! The `updog` binary: `updog serve` (the default) runs the HTTP server; `updog openapi` prints the
//! OpenAPI description (the source of the committed `openapi.yaml`).

use std::process::ExitCode;

use api::{Application, Config, error::error_chain, telemetry};
use clap::{Parser, Subcommand};

// Responses such as a fund's MOIC build and serialize tens of thousands of small values; mimalloc serves
// those allocations markedly faster than the system allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Freed memory goes back to the system at once, not after mimalloc's default delay (10 ms, ×10 for
/// its arenas), during which a server computing one large fund after another holds the freed memory of
/// each: SPEC §16 bounds the resident set (issue #25; BENCHMARKS.md, "one run"). The option's number is
/// that of mimalloc v3's `mimalloc.h`, the version `libmimalloc-sys` builds (its Rust constants still
/// carry v2's numbering).
#[allow(unsafe_code)]
fn purge_freed_memory_at_once() {
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: a store of an integer into mimalloc's option table, allowed at any time; the option is read
    // at each purge.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) }
}

#[derive(Parser)]
#[command(
    name = "updog",
    version,
    about = "Updog: venture-capital fund modelling backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default). Configured by DATABASE_URL, REDIS_URL, UPDOG_BIND, … (see README).
    Serve,
    /// Print the OpenAPI description as YAML (regenerates `openapi.yaml`).
    Openapi,
    /// Run outbox workers only (no HTTP), for scale-out: UPDOG_WORKERS of them (at least one).
    Worker,
    /// Seed a demo fund (companies, rounds, lots, marks, a sale, a dividend, an exit, a calculated
    /// snapshot) on the configured database; running it again adds nothing.
    Demo,
    /// Manage API keys on the configured database (DATABASE_URL).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Mint a key and print it (shown only now).
    Create {
        /// admin, writer or reader.
        #[arg(long, value_parser = ["admin", "writer", "reader"])]
        role: String,
        /// A fund the key may use (repeat for several; required for writer and reader keys).
        #[arg(long = "fund")]
        funds: Vec<i64>,
        /// A name to tell the key apart.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: uuid::Uuid },
}

fn main() -> ExitCode {
    purge_freed_memory_at_once();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => match api::openapi::openapi().to_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Serve => serve(),
        Command::Keys { command } => keys(command),
        Command::Worker => worker(),
        Command::Demo => demo(),
    }
}

fn worker() -> ExitCode {
    let _ = dotenvy::dotenv();
    let (config, runtime) = match configured() {
        Ok(started) => started,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let db = match service::Database::connect(&config.database_url).await {
            Ok(db) => db,
            Err(e) => return fail(&e),
        };
        if let Err(e) = db.verify_migrations().await {
            return fail(&e);
        }
        let redis = match config
            .redis_url
            .as_deref()
            .map(service::cache::Redis::new)
            .transpose()
        {
            Ok(redis) => redis,
            Err(e) => return fail(&e),
        };
        let matrices = std::sync::Arc::new(service::matrices::Matrices::new(api::app::first_tier(
            redis.as_ref(),
            &config,
        )));
        let count = config.workers.max(1);
        let workers = api::app::Workers::spawn(
            &db,
            count,
            &api::app::job_handlers(&matrices),
            std::time::Duration::from_secs(config.job_lease_secs),
        );
        tracing::info!(
            workers = count,
            "updog worker running; stop with SIGTERM or SIGINT"
        );
        api::app::shutdown_signal().await;
        workers
            .drain(std::time::Duration::from_secs(config.shutdown_grace_secs))
            .await;
        ExitCode::SUCCESS
    })
}

fn demo() -> ExitCode {
    let _ = dotenvy::dotenv();
    let (config, runtime) = match configured() {
        Ok(started) => started,
        Err(code) => return code,
    };
    let result: Result<service::demo::Demo, api::Error> = runtime.block_on(async {
        let db = service::Database::connect(&config.database_url).await?;
        if config.migrate_on_start {
            db.migrate().await?;
        }
        let svc = service::Service::new(
            db.clone(),
            config.idempotency_ttl_hours,
            service::matrices::FirstTier::memory(config.matrix_cache_bytes),
            std::sync::Arc::new(api::replies::Replies),
        );
        let demo = service::demo::seed(&svc).await?;
        // Calculate the snapshot and the forecast now, so that the first look at /docs shows numbers.
        let handlers = api::app::job_handlers(&svc.matrices);
        while service::outbox::run_once(&db, &handlers, "demo", service::now()).await? {}
        Ok(demo)
    });
    match result {
        Ok(demo) => {
            println!(
                "demo fund {}: {} companies, {} lots, snapshot {} calculated, forecast {} computed",
                demo.fund_id, demo.companies, demo.lots, demo.snapshot_id, demo.forecast_id
            );
            println!(
                "see it at GET /api/v1/funds/{}/moic (and /returns, /reserves/rankings, /snapshots, \
                 /forecasts) in /docs",
                demo.fund_id
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn keys(command: KeysCommand) -> ExitCode {
    use service::entity::api_key::Role;
    let _ = dotenvy::dotenv();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    let result: Result<(), api::Error> = runtime.block_on(async {
        let db = service::Database::connect(&config.database_url).await?;
        if config.migrate_on_start {
            db.migrate().await?;
        }
        match command {
            KeysCommand::Create { role, funds, name } => {
                let role = match role.as_str() {
                    "admin" => Role::Admin,
                    "writer" => Role::Writer,
                    _ => Role::Reader,
                };
                let minted =
                    service::api_keys::mint(&db, &service::api_keys::NewKey { name, role, funds })
                        .await?;
                println!("{}", minted.secret);
                eprintln!(
                    "key {} ({:?}) created; the secret above is shown only once",
                    minted.key.id, minted.key.role
                );
            }
            KeysCommand::List => {
                for k in service::api_keys::list(&db).await? {
                    let funds = service::auth::principal_of(&k).funds;
                    let state = if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!(
                        "{}  {:<8} {:<7} {:<14} {:?}  {}",
                        k.id,
                        format!("{:?}", k.role).to_lowercase(),
                        state,
                        k.key_prefix,
                        funds,
                        k.name
                    );
                }
            }
            KeysCommand::Revoke { id } => {
                service::api_keys::revoke(&db, &service::auth::KeyCache::default(), id, None)
                    .await?;
                println!("key {id} revoked");
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn serve() -> ExitCode {
    // A missing .env is normal; a malformed one is worth a warning but not a refusal.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("updog: warning: ignoring .env: {e}");
    }
    let (config, runtime) = match configured() {
        Ok(started) => started,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let mut app = match Application::build(&config).await {
            Ok(app) => app,
            Err(e) => return fail(&e),
        };
        tracing::info!(address = %app.address(), "updog listening; API docs at http://{}/docs", app.address());
        app.announce_minted_admin_key();
        match app.run_until_stopped().await {
            Ok(()) => {
                tracing::info!("updog stopped");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        }
    })
}

/// The configuration from the environment, logging set up from it, and a runtime to run on; or the
/// exit code after one line naming what is wrong.
fn configured() -> Result<(Config, tokio::runtime::Runtime), ExitCode> {
    let config = Config::from_env().map_err(|e| fail(&e))?;
    telemetry::init(&config.log_filter, config.log_format).map_err(|e| fail(&e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(&e))?;
    Ok((config, runtime))
}

/// One clear line naming the problem, and a non-zero exit; never a panic backtrace.
fn fail(err: &dyn std::error::Error) -> ExitCode {
    eprintln!("updog: error: {}", error_chain(err));
    ExitCode::FAILURE
}
