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
    /// On shutdown, how long running jobs may take to finish, in seconds (`UPDOG_SHUTDOWN_GRACE_S`).
    pub shutdown_grace_secs: u64,
    /// Bound of the in-process matrix cache (used when `REDIS_URL` is unset), bytes.
    pub matrix_cache_bytes: u64,
    /// Origins allowed to call the API from a browser (`UPDOG_CORS_ORIGINS`); empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// How long a claimed job may run before another worker may take it over, seconds.
    pub job_lease_secs: u64,
    /// Prefix of this deployment's Redis keys, for deployments (or test databases) sharing one Redis.
    pub cache_namespace: Option<String>,
    /// Requests per second each API key may send to this process (`UPDOG_RATE_LIMIT_PER_KEY`, a
    /// burst of as many); `None` (unset or 0): no limit.
    pub rate_limit_per_key: Option<std::num::NonZeroU32>,
    /// Heavy calculations (a fund's figures recomputed, a snapshot captured, a forecast's inputs
    /// resolved) running at once in this process (`UPDOG_HEAVY_RUNNING`, default: the cores), and how
    /// many more may wait (`UPDOG_HEAVY_QUEUED`, default eight per running one); beyond, 503
    /// `server_busy`.
    pub heavy_running: usize,
    pub heavy_queued: usize,
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

        let number = |var: &'static str, range: std::ops::RangeInclusive<i64>, default: i64| {
            let Some(v) = get(var) else {
                return Ok(default);
            };
            v.parse::<i64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| Error::Config {
                    var,
                    message: format!(
                        "expected a whole number from {} to {}, got {v:?}",
                        range.start(),
                        range.end()
                    ),
                })
        };
        let workers = number("UPDOG_WORKERS", 0..=64, 2)? as usize;

        // Migrating on start is the embedded default's convenience; on PostgreSQL schema changes are
        // an explicit, reviewed step unless asked for.
        let migrate_on_start = match get("UPDOG_MIGRATE_ON_START") {
            None => backend == Backend::Sqlite,
            Some(v) => parse_bool(&v).ok_or_else(|| Error::Config {
                var: "UPDOG_MIGRATE_ON_START",
                message: format!("expected true or false, got {v:?}"),
            })?,
        };

        // The migrator's step-by-step lines and actix's start-up lines are detail for an operator who asks
        // for them (`RUST_LOG=info`): a newcomer's first start shows the server's own line, then its admin key.
        let log_filter = get("RUST_LOG").unwrap_or_else(|| {
            "info,sea_orm_migration=warn,sqlx=warn,actix_server=warn".to_owned()
        });
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

        let idempotency_ttl_hours = number(
            "UPDOG_IDEMPOTENCY_TTL_HOURS",
            24..=24 * 365,
            service::idempotency::DEFAULT_TTL_HOURS,
        )?;
        let shutdown_grace_secs = number("UPDOG_SHUTDOWN_GRACE_S", 0..=600, 10)? as u64;
        let matrix_cache_bytes =
            number("UPDOG_MATRIX_CACHE_MB", 1..=65_536, 256)? as u64 * 1024 * 1024;

        let cors_origins = match get("UPDOG_CORS_ORIGINS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(|o| {
                    origin_ok(o).then(|| o.to_owned()).ok_or_else(|| Error::Config {
                        var: "UPDOG_CORS_ORIGINS",
                        message: format!(
                            "expected origins such as https://app.example.com:8443 separated by commas, got {o:?}"
                        ),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let job_lease_secs = number(
            "UPDOG_JOB_LEASE_S",
            5..=3600,
            service::outbox::DEFAULT_LEASE.as_secs() as i64,
        )? as u64;
        let cache_namespace = get("UPDOG_CACHE_NAMESPACE");
        if let Some(ns) = &cache_namespace
            && (ns.len() > 64
                || !ns
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            return Err(Error::Config {
                var: "UPDOG_CACHE_NAMESPACE",
                message: "expected 1 to 64 letters, digits, `_` or `-`".into(),
            });
        }

        let rate_limit_per_key =
            std::num::NonZeroU32::new(number("UPDOG_RATE_LIMIT_PER_KEY", 0..=1_000_000, 0)? as u32);

        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as i64;
        let heavy_running = number("UPDOG_HEAVY_RUNNING", 1..=1024, cores)? as usize;
        let heavy_queued =
            number("UPDOG_HEAVY_QUEUED", 0..=100_000, 8 * heavy_running as i64)? as usize;

        Ok(Self {
            database_url,
            redis_url,
            bind,
            workers,
            migrate_on_start,
            log_filter,
            log_format,
            idempotency_ttl_hours,
            shutdown_grace_secs,
            matrix_cache_bytes,
            cors_origins,
            job_lease_secs,
            cache_namespace,
            rate_limit_per_key,
            heavy_running,
            heavy_queued,
        })
    }
}

/// `scheme://host[:port]`, nothing after: what a browser sends as `Origin`.
fn origin_ok(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
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

    #[test]
    fn cors_origins_are_scheme_host_and_port_only() {
        for ok in [
            "https://app.example.com",
            "http://localhost:5173",
            "http://[::1]:8080",
        ] {
            assert!(origin_ok(ok), "{ok}");
        }
        for bad in [
            "app.example.com",
            "https://",
            "https://a.com/path",
            "ftp://a.com",
            "*",
        ] {
            assert!(!origin_ok(bad), "{bad}");
        }
    }

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
            failing_var(config(&[("UPDOG_RATE_LIMIT_PER_KEY", "fast")])),
            "UPDOG_RATE_LIMIT_PER_KEY"
        );
        assert_eq!(
            failing_var(config(&[("UPDOG_SHUTDOWN_GRACE_S", "601")])),
            "UPDOG_SHUTDOWN_GRACE_S"
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
