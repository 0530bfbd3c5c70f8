//! The `updog` binary: `updog serve` (the default) runs the HTTP server; `updog openapi` prints the
//! OpenAPI description (the source of the committed `openapi.yaml`).

use std::process::ExitCode;

use api::{Application, Config, error::error_chain, telemetry};
use clap::{Parser, Subcommand};

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
}

fn main() -> ExitCode {
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
    }
}

fn serve() -> ExitCode {
    // A missing .env is normal; a malformed one is worth a warning but not a refusal.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("updog: warning: ignoring .env: {e}");
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    if let Err(e) = telemetry::init(&config.log_filter, config.log_format) {
        return fail(&e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    runtime.block_on(async {
        let app = match Application::build(&config).await {
            Ok(app) => app,
            Err(e) => return fail(&e),
        };
        tracing::info!(address = %app.address(), "updog listening; API docs at http://{}/docs", app.address());
        match app.run_until_stopped().await {
            Ok(()) => {
                tracing::info!("updog stopped");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        }
    })
}

/// One clear line naming the problem, and a non-zero exit; never a panic backtrace.
fn fail(err: &dyn std::error::Error) -> ExitCode {
    eprintln!("updog: error: {}", error_chain(err));
    ExitCode::FAILURE
}
