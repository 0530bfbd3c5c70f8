//! Reusing a fund's computed figures (MOIC, net returns) while its data is unchanged (issue #14): a
//! fingerprint of the fund's rows, read in one query before anything else, keys an in-process cache of
//! the computed figures. Any write that can change a figure changes the fingerprint: lots and distributions are
//! immutable (an insert raises the count and the newest `created_at` or id, a delete lowers the count),
//! companies and investments carry a version that every update raises, and the fund its own. The
//! fingerprint is read *before* the rows, so an entry never holds data older than its key; a write
//! after the read only makes a newer entry under a key nobody asks for again. Consistent across
//! processes: the key comes from the database on every request.

use std::sync::Arc;

use chrono::NaiveDate;
use moka::sync::Cache;
use sea_orm::{ConnectionTrait, Statement};

use crate::calc::moic::PortfolioMetrics;
use crate::db::{Backend, Database};
use crate::error::Result;
use crate::flight::Flights;

/// How many lot-and-company units each cache holds (each unit a few hundred bytes of figures).
const CAPACITY_UNITS: u64 = 500_000;

/// What a cached computation weighs, in lot-and-company units.
pub trait Weigh {
    fn units(&self) -> u32;
}

impl Weigh for PortfolioMetrics {
    fn units(&self) -> u32 {
        u32::try_from(self.lots.len() + self.companies.len() + 1).unwrap_or(u32::MAX)
    }
}

/// Computed figures by fund and valuation date, with the fingerprint of the state they were computed
/// from: one entry per fund and date, so that a fund's superseded states do not stay in memory (a
/// 100,000-lot fund's metrics are tens of megabytes) until the bound evicts them.
pub struct StateCache<T> {
    entries: Cache<(i64, NaiveDate), (Arc<str>, Arc<T>)>,
    /// One calculation per fund state at a time: concurrent misses wait for it rather than each reading
    /// and computing the whole fund (8 at once on a 100,000-lot fund held 330 MB).
    pub(crate) flights: Arc<Flights>,
}

/// The MOIC figures of `GET /funds/{id}/moic`.
pub type MetricsCache = StateCache<PortfolioMetrics>;

impl<T> Clone for StateCache<T> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            flights: self.flights.clone(),
        }
    }
}

impl<T: Weigh + Send + Sync + 'static> Default for StateCache<T> {
    fn default() -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(CAPACITY_UNITS)
                .weigher(|_, (_, m): &(Arc<str>, Arc<T>)| m.units())
                .build(),
            flights: Arc::default(),
        }
    }
}

impl<T: Send + Sync + 'static> StateCache<T> {
    /// The figures of this fund and date, if they were computed from the state with this fingerprint.
    pub fn get(&self, fund_id: i64, as_of: NaiveDate, fingerprint: &str) -> Option<Arc<T>> {
        self.entries
            .get(&(fund_id, as_of))
            .filter(|(of, _)| **of == *fingerprint)
            .map(|(_, c)| c)
    }

    /// Keeps `c` as the fund's figures for the date, replacing those of any earlier state.
    pub fn insert(&self, fund_id: i64, as_of: NaiveDate, fingerprint: String, c: Arc<T>) {
        self.entries
            .insert((fund_id, as_of), (Arc::from(fingerprint), c));
    }
}

const FINGERPRINT: &str = "SELECT \
    (SELECT version FROM funds WHERE id = $1), \
    (SELECT COUNT(*) FROM portfolio_companies WHERE fund_id = $1), \
    (SELECT COALESCE(MAX(id), 0) FROM portfolio_companies WHERE fund_id = $1), \
    (SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM portfolio_companies WHERE fund_id = $1), \
    (SELECT COUNT(*) FROM investments WHERE fund_id = $1), \
    (SELECT COALESCE(MAX(id), 0) FROM investments WHERE fund_id = $1), \
    (SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM investments WHERE fund_id = $1), \
    (SELECT COUNT(*) FROM investment_lots WHERE fund_id = $1), \
    (SELECT CAST(COALESCE(SUM(cost_basis_cents), 0) AS BIGINT) FROM investment_lots WHERE fund_id = $1), \
    (SELECT CAST(MAX(created_at) AS TEXT) FROM investment_lots WHERE fund_id = $1), \
    (SELECT COUNT(*) FROM distributions WHERE fund_id = $1), \
    (SELECT COALESCE(MAX(id), 0) FROM distributions WHERE fund_id = $1), \
    (SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM distributions WHERE fund_id = $1)";

/// The fingerprint of a fund's rows; `None` if the fund does not exist.
pub async fn fingerprint(db: &Database, fund_id: i64) -> Result<Option<String>> {
    let (backend, sql) = match db.backend() {
        Backend::Postgres => (sea_orm::DbBackend::Postgres, FINGERPRINT.to_owned()),
        // SQLite numbers its parameters `?1`.
        Backend::Sqlite => (sea_orm::DbBackend::Sqlite, FINGERPRINT.replace("$1", "?1")),
    };
    let row = db
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [fund_id.into()],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let Some(fund_version) = row.try_get_by_index::<Option<i64>>(0)? else {
        return Ok(None);
    };
    let mut parts = vec![fund_version.to_string()];
    for i in 1..13 {
        let part = if i == 9 {
            row.try_get_by_index::<Option<String>>(i)?
                .unwrap_or_default()
        } else {
            row.try_get_by_index::<Option<i64>>(i)?
                .unwrap_or_default()
                .to_string()
        };
        parts.push(part);
    }
    Ok(Some(parts.join(":")))
}
