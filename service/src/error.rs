//! The service crate's one error type. The API maps each variant to an HTTP status exhaustively.

use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
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

    /// Any other database failure: a bug or an operational problem, never the client's fault.
    #[error("database error")]
    Database(#[from] DbErr),
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
