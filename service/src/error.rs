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
    Company {
        fund_id: i64,
        id: i64,
    },
    Investment {
        fund_id: i64,
        id: i64,
    },
    Lot {
        fund_id: i64,
        id: uuid::Uuid,
    },
    Distribution {
        fund_id: i64,
        id: i64,
    },
    Mark {
        fund_id: i64,
        company_id: i64,
        id: uuid::Uuid,
    },
    Snapshot(uuid::Uuid),
    Forecast(uuid::Uuid),
    Optimization(uuid::Uuid),
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

    /// A distribution the company's lots cannot support (SPEC §6.1a): dated before its first lot, or
    /// selling more shares than it held on its date. `pointer` names the body field at fault.
    #[error("{detail}")]
    SharesNotHeld {
        pointer: &'static str,
        shares_held_on_date: rust_decimal::Decimal,
        detail: String,
    },

    /// Removing a lot would leave a later distribution selling shares that were no longer held, or
    /// dated before the company's first lot (SPEC §6.1a): that distribution is named.
    #[error("{detail}")]
    LaterSaleShort {
        distribution_id: i64,
        shares_held_on_date: rust_decimal::Decimal,
        detail: String,
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

    /// A rule of the domain that the current state of a resource refuses (a taken name, a snapshot
    /// that is not complete yet).
    #[error("{message}")]
    Conflict { code: ConflictCode, message: String },

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

    /// Too many heavy computations at once in this process (`heavy`): refused before reading anything;
    /// retry after `retry_after_secs`.
    #[error("the server is busy with other calculations: {what} was not started")]
    Busy {
        what: &'static str,
        retry_after_secs: u64,
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

    /// A stored scenario matrix that cannot be read back as written (wrong codec label, corrupt or
    /// truncated bytes): the caller regenerates it.
    #[error("the stored scenario matrix is unreadable: {0}")]
    CorruptMatrix(String),

    /// A stored value that cannot be what the schema allows: a bug.
    #[error("internal invariant violated: {0}")]
    Invariant(String),
}

/// `error: cause: cause…`, the whole chain on one line: what a log line needs to be acted on (the
/// API's opaque 500s, a job's failed give-up).
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

    /// Whether this error says the database is lost, not merely busy: an unavailable database, except
    /// a pool that waited its whole acquire timeout for a free connection. That is load, and marking
    /// the database down for it would turn every request after it into a 503 (issue #25); whether
    /// the database answers is the watch's judgement (`Database::watch`), from a connection of its own.
    pub fn means_database_lost(&self) -> bool {
        use sea_orm::{ConnAcquireErr, RuntimeErr, sqlx};
        let Self::DatabaseUnavailable(err) = self else {
            return false;
        };
        let pool_wait = match err {
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => true,
            DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => {
                matches!(e.as_ref(), sqlx::Error::PoolTimedOut)
            }
            _ => false,
        };
        !pool_wait
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

    /// A versioned write that touched no row: the row is missing (`current_version` is `None`), or its
    /// version has moved on (SPEC §5).
    pub fn missing_or_stale(
        resource: &'static str,
        id: impl ToString,
        current_version: Option<i64>,
    ) -> Self {
        match current_version {
            None => Self::not_found(resource, id),
            Some(v) => Self::VersionConflict { current_version: v },
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

/// The domain conflicts (409), each with its wire code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictCode {
    /// Another company of the fund has this name.
    CompanyNameTaken,
    /// The same fund state is being captured by a concurrent request.
    SnapshotInProgress,
    /// A snapshot status change that SPEC §7.3 does not allow.
    InvalidStatusTransition,
    /// Only a complete snapshot can be applied to the reserve plan.
    SnapshotNotComplete,
    /// A snapshot without allocations has nothing to apply.
    SnapshotHasNoAllocations,
    /// Only a pending optimization can be cancelled.
    OptimizationNotPending,
    /// The company already has a mark on that date.
    MarkDateTaken,
    /// The same forecast is being created by a concurrent request.
    ForecastInProgress,
}

impl ConflictCode {
    pub const ALL: [ConflictCode; 8] = [
        Self::CompanyNameTaken,
        Self::SnapshotInProgress,
        Self::InvalidStatusTransition,
        Self::SnapshotNotComplete,
        Self::SnapshotHasNoAllocations,
        Self::OptimizationNotPending,
        Self::MarkDateTaken,
        Self::ForecastInProgress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CompanyNameTaken => "company_name_taken",
            Self::SnapshotInProgress => "snapshot_in_progress",
            Self::InvalidStatusTransition => "invalid_status_transition",
            Self::SnapshotNotComplete => "snapshot_not_complete",
            Self::SnapshotHasNoAllocations => "snapshot_has_no_allocations",
            Self::OptimizationNotPending => "optimization_not_pending",
            Self::MarkDateTaken => "mark_date_taken",
            Self::ForecastInProgress => "forecast_in_progress",
        }
    }
}

/// A unique index the service tells apart from the others, by its name (PostgreSQL reports it) or, on
/// SQLite, which names only the columns, by its `table.column` list. The names are the migrations'
/// (`ux_<table>_<what>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UniqueIndex {
    pub name: &'static str,
    pub sqlite_columns: &'static str,
}

/// The unique indexes that arbitrate creates and domain rules.
pub mod unique {
    use crate::error::UniqueIndex;

    const fn ux(name: &'static str, sqlite_columns: &'static str) -> UniqueIndex {
        UniqueIndex {
            name,
            sqlite_columns,
        }
    }

    pub const IDEMPOTENCY_RECORD: UniqueIndex = ux(
        "ux_idempotency_records_scope_key",
        "idempotency_records.scope, idempotency_records.idempotency_key",
    );
    pub const FUND_KEY: UniqueIndex = ux("ux_funds_idempotency_key", "funds.idempotency_key");
    pub const COMPANY_KEY: UniqueIndex = ux(
        "ux_portfolio_companies_fund_idempotency_key",
        "portfolio_companies.fund_id, portfolio_companies.idempotency_key",
    );
    pub const COMPANY_NAME: UniqueIndex = ux(
        "ux_portfolio_companies_fund_name",
        "portfolio_companies.fund_id, portfolio_companies.name",
    );
    pub const INVESTMENT_KEY: UniqueIndex = ux(
        "ux_investments_fund_idempotency_key",
        "investments.fund_id, investments.idempotency_key",
    );
    pub const LOT_KEY: UniqueIndex = ux(
        "ux_investment_lots_investment_idempotency_key",
        "investment_lots.investment_id, investment_lots.idempotency_key",
    );
    pub const DISTRIBUTION_KEY: UniqueIndex = ux(
        "ux_distributions_fund_idempotency_key",
        "distributions.fund_id, distributions.idempotency_key",
    );
    pub const MARK_KEY: UniqueIndex = ux(
        "ux_company_marks_company_idempotency_key",
        "company_marks.company_id, company_marks.idempotency_key",
    );
    pub const MARK_DATE: UniqueIndex = ux(
        "ux_company_marks_company_marked_on",
        "company_marks.company_id, company_marks.marked_on",
    );
    pub const SNAPSHOT_KEY: UniqueIndex = ux(
        "ux_forecast_snapshots_fund_idempotency_key",
        "forecast_snapshots.fund_id, forecast_snapshots.idempotency_key",
    );
    pub const SNAPSHOT_SOURCE: UniqueIndex = ux(
        "ux_forecast_snapshots_fund_source_hash",
        "forecast_snapshots.fund_id, forecast_snapshots.source_hash",
    );
    pub const FORECAST_KEY: UniqueIndex = ux(
        "ux_fund_forecasts_fund_idempotency_key",
        "fund_forecasts.fund_id, fund_forecasts.idempotency_key",
    );
    pub const FORECAST_SOURCE: UniqueIndex = ux(
        "ux_fund_forecasts_fund_source_hash",
        "fund_forecasts.fund_id, fund_forecasts.source_hash",
    );
    pub const API_KEY_KEY: UniqueIndex =
        ux("ux_api_keys_idempotency_key", "api_keys.idempotency_key");
    pub const OPTIMIZATION_KEY: UniqueIndex = ux(
        "ux_optimization_sessions_matrix_idempotency_key",
        "optimization_sessions.matrix_id, optimization_sessions.idempotency_key",
    );

    /// Every index above, for the test that holds them to the migrated schema.
    pub const ALL: [UniqueIndex; 15] = [
        IDEMPOTENCY_RECORD,
        FUND_KEY,
        COMPANY_KEY,
        COMPANY_NAME,
        INVESTMENT_KEY,
        LOT_KEY,
        DISTRIBUTION_KEY,
        MARK_KEY,
        MARK_DATE,
        SNAPSHOT_KEY,
        SNAPSHOT_SOURCE,
        FORECAST_KEY,
        FORECAST_SOURCE,
        API_KEY_KEY,
        OPTIMIZATION_KEY,
    ];
}

impl UniqueIndex {
    /// Whether `err` is a violation of this index.
    pub fn violated_by(&self, err: &DbErr) -> bool {
        use sea_orm::sqlx;
        let (DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))) = err
        else {
            return false;
        };
        let sqlx::Error::Database(db) = e.as_ref() else {
            return false;
        };
        if db.kind() != sqlx::error::ErrorKind::UniqueViolation {
            return false;
        }
        match db.constraint() {
            Some(name) => name == self.name,
            // SQLite: "UNIQUE constraint failed: t.a, t.b".
            None => db
                .message()
                .rsplit(": ")
                .next()
                .is_some_and(|cols| cols == self.sqlite_columns),
        }
    }
}

/// Whether `err` is a violation of any unique index.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use sea_orm::{ConnAcquireErr, RuntimeErr};

    use super::*;

    #[test]
    fn a_pool_that_waited_its_timeout_is_busy_and_a_refused_connection_is_lost() {
        let busy = Error::from_db(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        assert!(matches!(busy, Error::DatabaseUnavailable(_)));
        assert!(!busy.means_database_lost());
        let refused = Error::from_db(DbErr::Conn(RuntimeErr::Internal("refused".into())));
        assert!(refused.means_database_lost());
        let closed = Error::from_db(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed));
        assert!(closed.means_database_lost());
        assert!(!Error::not_found("fund", 1).means_database_lost());
    }
}
