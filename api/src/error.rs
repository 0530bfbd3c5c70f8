//! The API crate's one error type, and its mapping to problem+json responses.
//!
//! The match in [`Error::problem`] is exhaustive with no catch-all arm: adding a variant (here or in
//! `service::Error`) does not compile until someone decides its status code. Internal errors reach the
//! client as an opaque 500; their whole cause chain is logged once, here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::problem::{Problem, ProblemCode};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration variable is missing or malformed.
    #[error("{var}: {message}")]
    Config { var: &'static str, message: String },

    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },

    /// Migrations are pending and the server was told not to apply them.
    #[error(
        "the database has {count} pending migration(s), first {first}; run `cargo run -p migration -- up` \
         or set UPDOG_MIGRATE_ON_START=true"
    )]
    PendingMigrations { count: usize, first: String },

    /// No route matches the path.
    #[error("no resource at {path}")]
    NotFound { path: String },

    /// The path exists but not with this method.
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allow: Vec<String>,
    },

    /// The request could not be parsed (JSON body, path or query).
    #[error("{detail}")]
    BadRequest { code: ProblemCode, detail: String },

    /// The request body exceeds the size limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },

    /// The database is down or unreachable: retry later.
    #[error("the database is unavailable")]
    DatabaseUnavailable { redis: &'static str },

    #[error(transparent)]
    Service(#[from] service::Error),
}

impl Error {
    pub fn problem(&self) -> Problem {
        use service::Error as S;
        match self {
            Error::NotFound { path } => Problem::new(
                ProblemCode::NotFound,
                format!("There is no resource at {path}."),
            ),
            Error::MethodNotAllowed {
                method,
                path,
                allow,
            } => Problem::new(
                ProblemCode::MethodNotAllowed,
                format!(
                    "{method} is not allowed on {path}; allowed: {}.",
                    allow.join(", ")
                ),
            ),
            Error::BadRequest { code, detail } => Problem::new(*code, detail.clone()),
            Error::PayloadTooLarge { limit } => Problem::new(
                ProblemCode::PayloadTooLarge,
                format!("The request body is larger than the limit of {limit} bytes."),
            ),
            Error::DatabaseUnavailable { redis } => unavailable().with("redis", *redis),
            Error::Service(S::DatabaseUnavailable(_)) => unavailable(),
            Error::Config { .. }
            | Error::Bind { .. }
            | Error::PendingMigrations { .. }
            | Error::Service(
                S::UnsupportedDatabaseUrl { .. }
                | S::DataDirectory { .. }
                | S::Migration(_)
                | S::InvalidRedisUrl(_)
                | S::Database(_),
            ) => {
                tracing::error!(error = %error_chain(self), "internal error");
                Problem::new(
                    ProblemCode::Internal,
                    "An internal error occurred; it has been logged.".into(),
                )
            }
        }
    }
}

fn unavailable() -> Problem {
    Problem::new(
        ProblemCode::ServiceUnavailable,
        "The database is unavailable; retry in a few seconds.".into(),
    )
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.problem().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let problem = self.problem();
        let mut response = problem.response();
        match self {
            Error::MethodNotAllowed { allow, .. } => {
                if let Ok(value) = allow
                    .join(", ")
                    .parse::<actix_web::http::header::HeaderValue>()
                {
                    response
                        .headers_mut()
                        .insert(actix_web::http::header::ALLOW, value);
                }
            }
            Error::DatabaseUnavailable { .. }
            | Error::Service(service::Error::DatabaseUnavailable(_)) => {
                response.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from_static("2"),
                );
            }
            _ => {}
        }
        response
    }
}

/// `error: cause: cause…`, the whole chain on one line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Some errors repeat their source in their own message; say each thing once.
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
