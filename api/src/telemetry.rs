//! Logging with `tracing`: JSON lines in production, human-readable text by default.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::error::Error;

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(filter: &str, format: LogFormat) -> Result<(), Error> {
    let filter = EnvFilter::try_new(filter).map_err(|e| Error::Config {
        var: "RUST_LOG",
        message: format!("invalid filter: {e}"),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    // A subscriber already installed (tests build several apps in one process) is not an error.
    let _ = result;
    Ok(())
}
