//! The API crate's one error type, and its mapping to problem+json responses.
//!
//! The match in [`Error::problem`] is exhaustive with no catch-all arm: adding a variant (here or in
//! `service::Error`) does not compile until someone decides its status code. Internal errors reach the
//! client as an opaque 500; their whole cause chain is logged once, here.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
pub use service::error::error_chain;
use service::{FieldError, ResourceRef};

use crate::problem::{FieldProblem, Problem, ProblemCode};

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

    /// The request could not be parsed (JSON syntax, path or query).
    #[error("{detail}")]
    BadRequest { code: ProblemCode, detail: String },

    /// The JSON body has the wrong shape: a field of the wrong type, a missing or an unknown field.
    #[error("the request body is invalid")]
    InvalidBody { errors: Vec<FieldError> },

    /// A request header is malformed.
    #[error("the {name} header {message}")]
    InvalidHeader { name: &'static str, message: String },

    /// A write that needs `If-Match` came without it.
    #[error("If-Match is required")]
    PreconditionRequired,

    /// The request body exceeds the size limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },

    /// The database is down or unreachable: retry later.
    #[error("the database is unavailable")]
    DatabaseUnavailable { redis: &'static str },

    /// The `Accept` header admits none of the formats the resource has.
    #[error("not acceptable; available: {available}")]
    NotAcceptable { available: &'static str },

    /// The key has used its requests per second (`UPDOG_RATE_LIMIT_PER_KEY`); it may send again
    /// after `retry_after` seconds.
    #[error("the key's request rate is over its limit")]
    RateLimited { retry_after: u64 },

    /// The database is known to be down (an earlier request met it so, and it has not answered since):
    /// answered at once, without waiting for the pool.
    #[error("the database is known to be down")]
    DatabaseDown,

    #[error(transparent)]
    Service(#[from] service::Error),
}

/// Set on a response whose request found the database unreachable.
#[derive(Clone, Copy, Debug)]
pub struct DatabaseUnreachable;

/// The path of an existing resource, for `Location`.
pub fn location_of(resource: ResourceRef) -> String {
    match resource {
        ResourceRef::Fund(id) => format!("/api/v1/funds/{id}"),
        ResourceRef::Company { fund_id, id } => format!("/api/v1/funds/{fund_id}/companies/{id}"),
        ResourceRef::Investment { fund_id, id } => {
            format!("/api/v1/funds/{fund_id}/investments/{id}")
        }
        ResourceRef::Lot { fund_id, id } => format!("/api/v1/funds/{fund_id}/lots/{id}"),
        ResourceRef::Distribution { fund_id, id } => {
            format!("/api/v1/funds/{fund_id}/distributions/{id}")
        }
        ResourceRef::Mark {
            fund_id,
            company_id,
            id,
        } => format!("/api/v1/funds/{fund_id}/companies/{company_id}/marks/{id}"),
        ResourceRef::Snapshot(id) => format!("/api/v1/snapshots/{id}"),
        ResourceRef::Forecast(id) => format!("/api/v1/forecasts/{id}"),
        ResourceRef::Optimization(id) => format!("/api/v1/optimizations/{id}"),
        ResourceRef::ApiKey(id) => format!("/api/v1/api-keys/{id}"),
    }
}

fn field_errors(errors: &[FieldError]) -> Option<Vec<FieldProblem>> {
    Some(
        errors
            .iter()
            .map(|e| FieldProblem {
                pointer: e.pointer.clone(),
                detail: e.message.clone(),
            })
            .collect(),
    )
}

impl Error {
    pub fn problem(&self) -> Problem {
        use service::Error as S;
        match self {
            Error::NotFound { path } => {
                Problem::new(ProblemCode::NotFound, format!("There is no resource at {path}."))
            }
            Error::MethodNotAllowed { method, path, allow } => Problem::new(
                ProblemCode::MethodNotAllowed,
                format!("{method} is not allowed on {path}; allowed: {}.", allow.join(", ")),
            ),
            Error::BadRequest { code, detail } => Problem::new(*code, detail.clone()),
            Error::InvalidBody { errors } => Problem {
                errors: field_errors(errors),
                ..Problem::new(
                    ProblemCode::InvalidBody,
                    format!("The request body does not match the schema: {}", self_detail(errors)),
                )
            },
            Error::InvalidHeader { name, message } => Problem {
                header: Some((*name).to_owned()),
                ..Problem::new(ProblemCode::InvalidHeader, format!("The {name} header {message}."))
            },
            Error::PreconditionRequired => Problem::new(
                ProblemCode::PreconditionRequired,
                "This request must carry If-Match with the resource's current ETag, e.g. If-Match: \"3\"."
                    .into(),
            ),
            Error::PayloadTooLarge { limit } => Problem::new(
                ProblemCode::PayloadTooLarge,
                format!("The request body is larger than the limit of {limit} bytes."),
            ),
            Error::DatabaseUnavailable { redis } => Problem {
                redis: Some((*redis).to_owned()),
                ..unavailable()
            },
            Error::Service(S::DatabaseUnavailable(_)) | Error::DatabaseDown => unavailable(),
            Error::Service(S::Busy {
                what,
                retry_after_secs,
            }) => Problem::new(
                ProblemCode::ServerBusy,
                format!(
                    "The server is running as many calculations as it allows, and as many wait: \
                     {what} was not started; retry in {retry_after_secs} s."
                ),
            ),
            Error::RateLimited { retry_after } => Problem::new(
                ProblemCode::RateLimited,
                format!(
                    "This API key has sent more requests per second than the server allows; retry in \
                     {retry_after} s."
                ),
            ),
            Error::NotAcceptable { available } => Problem::new(
                ProblemCode::NotAcceptable,
                format!("This resource is available as {available}; the Accept header admits neither."),
            ),
            Error::Service(S::Validation(errors)) => Problem {
                errors: field_errors(errors),
                ..Problem::new(
                    ProblemCode::ValidationFailed,
                    format!("The request is invalid: {}", self_detail(errors)),
                )
            },
            Error::Service(S::InvalidCursor) => Problem::new(
                ProblemCode::InvalidCursor,
                "The cursor is not one this server issued; start again without a cursor.".into(),
            ),
            Error::Service(S::NotFound { resource, id }) => {
                Problem::new(ProblemCode::NotFound, format!("There is no {resource} {id}."))
            }
            Error::Service(S::CostBasisMismatch { expected, given, tolerance }) => Problem {
                expected_cost_basis_cents: Some(*expected),
                tolerance_cents: Some(*tolerance),
                ..Problem::new(
                    ProblemCode::CostBasisMismatch,
                    format!(
                        "cost_basis_cents {given} differs from share_price_cents × shares_acquired = {expected} \
                         by more than {tolerance} cents."
                    ),
                )
            },
            Error::Service(S::SharesNotHeld { pointer, shares_held_on_date, detail }) => Problem {
                shares_held_on_date: Some(shares_held_on_date.to_string()),
                errors: Some(vec![FieldProblem { pointer: (*pointer).to_owned(), detail: detail.clone() }]),
                ..Problem::new(ProblemCode::SharesNotHeld, format!("{pointer}: {detail}."))
            },
            Error::Service(S::LaterSaleShort { distribution_id, shares_held_on_date, detail }) => Problem {
                shares_held_on_date: Some(shares_held_on_date.to_string()),
                distribution_id: Some(*distribution_id),
                ..Problem::new(ProblemCode::LaterSaleShort, format!("{detail}."))
            },
            Error::Service(S::VersionConflict { current_version }) => Problem {
                current_version: Some(*current_version),
                ..Problem::new(
                    ProblemCode::VersionConflict,
                    format!("The resource has changed; its current version is {current_version}."),
                )
            },
            Error::Service(S::IdempotencyKeyReused) => Problem::new(
                ProblemCode::IdempotencyKeyReused,
                "This Idempotency-Key was already used for a different request; use a new key.".into(),
            ),
            Error::Service(S::IdempotencyKeyExpired { existing }) => {
                let problem = Problem::new(
                    ProblemCode::IdempotencyKeyExpired,
                    "This Idempotency-Key's record has expired, and the resource it created still exists."
                        .into(),
                );
                Problem {
                    location: existing.map(location_of),
                    ..problem
                }
            }
            Error::Service(S::Conflict { code, message }) => {
                Problem::new(ProblemCode::Conflict(*code), message.clone())
            }
            Error::Service(S::Unauthenticated) => Problem::new(
                ProblemCode::Unauthorized,
                "Send a valid API key as Authorization: Bearer <key>.".into(),
            ),
            Error::Service(S::Forbidden(message)) => Problem::new(ProblemCode::Forbidden, format!("{message}.")),
            Error::Config { .. }
            | Error::Bind { .. }
            | Error::PendingMigrations { .. }
            | Error::Service(
                S::UnsupportedDatabaseUrl { .. }
                | S::DataDirectory { .. }
                | S::Migration(_)
                | S::InvalidRedisUrl(_)
                | S::Random(_)
                | S::CorruptMatrix(_)
                | S::Database(_)
                | S::Invariant(_),
            ) => {
                tracing::error!(error = %error_chain(self), "internal error");
                Problem::new(ProblemCode::Internal, "An internal error occurred; it has been logged.".into())
            }
        }
    }
}

fn self_detail(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{} {}", e.pointer, e.message))
        .collect::<Vec<_>>()
        .join("; ")
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
        let headers = response.headers_mut();
        match self {
            Error::MethodNotAllowed { allow, .. } => {
                if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                    headers.insert(header::ALLOW, value);
                }
            }
            Error::DatabaseUnavailable { .. } | Error::DatabaseDown => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Error::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Error::Service(service::Error::Busy {
                retry_after_secs, ..
            }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Error::Service(e @ service::Error::DatabaseUnavailable(_)) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                // Tells the request middleware to mark the database down (`Database::report_unavailable`),
                // unless the pool was only busy.
                if e.means_database_lost() {
                    response.extensions_mut().insert(DatabaseUnreachable);
                }
            }
            Error::Service(service::Error::Unauthenticated) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"updog\""),
                );
            }
            Error::Service(service::Error::IdempotencyKeyExpired { existing: Some(r) }) => {
                if let Ok(value) = HeaderValue::from_str(&location_of(*r)) {
                    headers.insert(header::LOCATION, value);
                }
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_busy_server_answers_503_server_busy_with_retry_after() {
        let response = Error::Service(service::Error::Busy {
            what: "the MOIC calculation",
            retry_after_secs: 1,
        })
        .error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], "server_busy");
        assert_eq!(problem["status"], 503);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("the MOIC calculation was not started"),
            "{problem}"
        );
    }
}
