//! Configuration from the environment (SPEC §14). A `.env` file is read first if present.
//! Every error names the variable at fault.

use std::net::SocketAddr;

use service::Backend;

use crate::error::Error;

/// Where the embedded default keeps its database, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./updog-data/updog.db?mode=rwc";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub redis_url: Option<String>,
    pub bind: SocketAddr,
    /// In-process background workers (0 disables them).
    pub workers: usize,
    pub migrate_on_start: bool,
    pub log_filter: String,
    pub log_format: LogFormat,
    /// How long idempotency records are kept, in hours (at least 24).
    pub idempotency_ttl_hours: i64,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `get`, so tests can supply their own variables.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let backend = Backend::from_url(&database_url).map_err(|_| Error::Config {
            var: "DATABASE_URL",
            message: format!(
                "expected a postgres://… or sqlite:… URL, got {}",
                service::db::redact_url(&database_url)
            ),
        })?;

        let redis_url = get("REDIS_URL");
        if let Some(url) = &redis_url
            && !["redis://", "rediss://", "unix://"]
                .iter()
                .any(|scheme| url.starts_with(scheme))
        {
            return Err(Error::Config {
                var: "REDIS_URL",
                message: "expected a redis://… URL".to_owned(),
            });
        }

        let bind_text = get("UPDOG_BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind = bind_text.parse::<SocketAddr>().map_err(|e| Error::Config {
            var: "UPDOG_BIND",
            message: format!("expected host:port such as 127.0.0.1:8080, got {bind_text:?} ({e})"),
        })?;

        let workers = match get("UPDOG_WORKERS") {
            None => 2,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= 64)
                .ok_or_else(|| Error::Config {
                    var: "UPDOG_WORKERS",
                    message: format!("expected a whole number from 0 to 64, got {v:?}"),
                })?,
        };

        // Migrating on start is the embedded default's convenience; on PostgreSQL schema changes are
        // an explicit, reviewed step unless asked for.
        let migrate_on_start = match get("UPDOG_MIGRATE_ON_START") {
            None => backend == Backend::Sqlite,
            Some(v) => parse_bool(&v).ok_or_else(|| Error::Config {
                var: "UPDOG_MIGRATE_ON_START",
                message: format!("expected true or false, got {v:?}"),
            })?,
        };

        let log_filter = get("RUST_LOG").unwrap_or_else(|| "info".to_owned());
        let log_format = match get("UPDOG_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(Error::Config {
                    var: "UPDOG_LOG_FORMAT",
                    message: format!("expected json or pretty, got {other:?}"),
                });
            }
        };

        let idempotency_ttl_hours = match get("UPDOG_IDEMPOTENCY_TTL_HOURS") {
            None => service::idempotency::DEFAULT_TTL_HOURS,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|h| (24..=24 * 365).contains(h))
                .ok_or_else(|| Error::Config {
                    var: "UPDOG_IDEMPOTENCY_TTL_HOURS",
                    message: format!("expected a whole number of hours from 24 to 8760, got {v:?}"),
                })?,
        };

        Ok(Self {
            database_url,
            redis_url,
            bind,
            workers,
            migrate_on_start,
            log_filter,
            log_format,
            idempotency_ttl_hours,
        })
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    fn failing_var(result: Result<Config, Error>) -> &'static str {
        match result {
            Err(Error::Config { var, .. }) => var,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn no_configuration_means_the_embedded_sqlite_database_migrated_on_start() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert!(c.migrate_on_start);
        assert_eq!(c.redis_url, None);
        assert_eq!(c.log_format, LogFormat::Pretty);
    }

    #[test]
    fn postgres_does_not_migrate_on_start_unless_asked() {
        let c = config(&[("DATABASE_URL", "postgres://u@h/db")]).unwrap();
        assert!(!c.migrate_on_start);
        let c = config(&[
            ("DATABASE_URL", "postgres://u@h/db"),
            ("UPDOG_MIGRATE_ON_START", "true"),
        ])
        .unwrap();
        assert!(c.migrate_on_start);
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        assert_eq!(
            failing_var(config(&[("DATABASE_URL", "mysql://x")])),
            "DATABASE_URL"
        );
        assert_eq!(
            failing_var(config(&[("UPDOG_BIND", "localhost")])),
            "UPDOG_BIND"
        );
        assert_eq!(
            failing_var(config(&[("UPDOG_WORKERS", "-1")])),
            "UPDOG_WORKERS"
        );
        assert_eq!(
            failing_var(config(&[("UPDOG_MIGRATE_ON_START", "maybe")])),
            "UPDOG_MIGRATE_ON_START"
        );
        assert_eq!(
            failing_var(config(&[("UPDOG_LOG_FORMAT", "xml")])),
            "UPDOG_LOG_FORMAT"
        );
        assert_eq!(
            failing_var(config(&[("REDIS_URL", "http://x")])),
            "REDIS_URL"
        );
    }
}
