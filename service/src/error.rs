//! The service crate's one error type. The API maps each variant to an HTTP status exhaustively.

use sea_orm::DbErr;

/// One invalid field of a request, located by a JSON pointer (RFC 6901) into the request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

/// A resource that already exists, for answers that point at it (`Location`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceRef {
    Fund(i64),
    Company { fund_id: i64, id: i64 },
    Investment { fund_id: i64, id: i64 },
    Lot { fund_id: i64, id: uuid::Uuid },
    Distribution { fund_id: i64, id: i64 },
    ApiKey(uuid::Uuid),
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- the client's mistakes (4xx) ----
    /// One or more fields are invalid; nothing was written.
    #[error("the request is invalid: {}", .0.iter().map(|e| format!("{}: {}", e.pointer, e.message)).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldError>),

    /// A pagination cursor that this server did not issue.
    #[error("the cursor is malformed")]
    InvalidCursor,

    /// The addressed resource does not exist (or is not visible to the caller).
    #[error("{resource} {id} was not found")]
    NotFound { resource: &'static str, id: String },

    /// A lot's cost basis is further than the tolerance from price × shares (SPEC §6.1).
    #[error(
        "the cost basis {given} differs from the expected {expected} by more than {tolerance} cents"
    )]
    CostBasisMismatch {
        expected: i64,
        given: i64,
        tolerance: i64,
    },

    /// The `If-Match` version is not the current one (SPEC §5).
    #[error("version conflict: the current version is {current_version}")]
    VersionConflict { current_version: i64 },

    /// The same `Idempotency-Key` was used with a different request (SPEC §4.3).
    #[error("the idempotency key was already used with a different request")]
    IdempotencyKeyReused,

    /// The key's record has expired but the resource it created still exists (SPEC §4.7).
    #[error("the idempotency key has expired; the resource it created still exists")]
    IdempotencyKeyExpired { existing: Option<ResourceRef> },

    /// A uniqueness rule of the domain (for example a company name within a fund).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },

    /// No valid API key.
    #[error("authentication required")]
    Unauthenticated,

    /// A valid key without the right to do this.
    #[error("{0}")]
    Forbidden(String),

    // ---- configuration and operations ----
    /// The database URL names neither PostgreSQL nor SQLite, or cannot be parsed.
    #[error("unsupported database URL {url}: expected postgres://… or sqlite:…")]
    UnsupportedDatabaseUrl { url: String },

    /// The directory that should hold the embedded SQLite database cannot be created or written.
    #[error("cannot use the data directory {path}")]
    DataDirectory {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The database cannot be reached (down, refusing connections, or the pool timed out).
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] DbErr),

    /// Applying the migrations failed.
    #[error("migrating the database failed")]
    Migration(#[source] DbErr),

    /// The Redis URL cannot be parsed.
    #[error("invalid Redis URL")]
    InvalidRedisUrl(#[source] redis::RedisError),

    /// The operating system's random source failed.
    #[error("no randomness available")]
    Random(String),

    /// Any other database failure: a bug or an operational problem, never the client's fault.
    #[error("database error")]
    Database(#[source] DbErr),

    /// A stored value that cannot be what the schema allows: a bug.
    #[error("internal invariant violated: {0}")]
    Invariant(String),
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        Self::from_db(err)
    }
}

impl Error {
    /// Classifies a database error: lost connections and pool timeouts become `DatabaseUnavailable`,
    /// so that the API can answer 503 (retry later) rather than 500.
    pub fn from_db(err: DbErr) -> Self {
        if is_unavailable(&err) {
            Self::DatabaseUnavailable(err)
        } else {
            Self::Database(err)
        }
    }

    pub fn invalid(pointer: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(pointer, message)])
    }

    pub fn not_found(resource: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            resource,
            id: id.to_string(),
        }
    }
}

fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e)) => {
            matches!(
                e.as_ref(),
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Tls(_)
            )
        }
        _ => false,
    }
}

/// The text of a unique-constraint violation, if `err` is one. On PostgreSQL it names the index
/// (`ux_<table>_<what>`); on SQLite it lists `table.column` pairs.
pub(crate) fn unique_violation(err: &DbErr) -> Option<String> {
    match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(message)) => Some(message),
        _ => None,
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
