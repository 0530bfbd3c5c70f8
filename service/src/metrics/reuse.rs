//! Reusing a fund's computed figures (MOIC, net returns, rankings) and the state a forecast captures
//! while its data is unchanged (issues #14, #25):
//! the fund's state version, one indexed row that the database moves in the same transaction as every
//! write to the fund's rows (migration `m20261202_000020`), keys an in-process cache of the computed
//! figures. The version is read *before* the rows, so an entry never holds data older than its key; a
//! write after the read only makes a newer entry under a key nobody asks for again. Consistent across
//! processes: the key comes from the database on every request.

use std::future::Future;
use std::sync::Arc;

use chrono::NaiveDate;
use entity::fund;
use moka::sync::Cache;
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};

use crate::calc::moic::PortfolioMetrics;
use crate::calc::state::{LotState, PortfolioState};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::flight::Flights;
use crate::fund_state::{load_lots, load_state_with_lots};
use crate::heavy::HeavyGate;

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

impl Weigh for PortfolioState {
    fn units(&self) -> u32 {
        let rows = self.lots.len() + self.companies.len() + self.distributions.len();
        u32::try_from(rows + 1).unwrap_or(u32::MAX)
    }
}

/// The version of a fund's state: equal versions, equal rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateVersion(pub i64);

impl std::fmt::Display for StateVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Computed figures by fund and valuation date, with the version of the state they were computed
/// from: one entry per fund and date, so that a fund's superseded states do not stay in memory (a
/// 100,000-lot fund's metrics are tens of megabytes) until the bound evicts them.
pub struct StateCache<T> {
    entries: Cache<(i64, NaiveDate), (StateVersion, Arc<T>)>,
    /// One calculation per fund state at a time: concurrent misses wait for it rather than each reading
    /// and computing the whole fund (8 at once on a 100,000-lot fund held 330 MB).
    pub(crate) flights: Arc<Flights>,
}

/// The MOIC figures of `GET /funds/{id}/moic`.
pub type MetricsCache = StateCache<PortfolioMetrics>;

/// Fund states as read for a forecast's inputs (`forecasts`), by version alone: a forecast asked of an
/// unchanged fund reads one row, not the fund's rows. Kept under [`UNDATED`].
pub type StatesCache = StateCache<PortfolioState>;

/// The date under which figures that do not depend on one are kept.
pub const UNDATED: NaiveDate = NaiveDate::MIN;

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
                .weigher(|_, (_, m): &(StateVersion, Arc<T>)| m.units())
                .build(),
            flights: Arc::default(),
        }
    }
}

impl<T: Send + Sync + 'static> StateCache<T> {
    /// The figures of this fund and date, if they were computed from the state of this version.
    pub fn get(&self, fund_id: i64, as_of: NaiveDate, version: StateVersion) -> Option<Arc<T>> {
        self.entries
            .get(&(fund_id, as_of))
            .filter(|(of, _)| *of == version)
            .map(|(_, c)| c)
    }

    /// The figures of this fund, date and state version: reused, or computed by `compute` once per
    /// process however many requests ask at once (the others wait for its answer), after the gate of
    /// heavy calculations (`heavy`), named `what` there.
    pub(crate) async fn get_or_compute<F, Fut>(
        &self,
        heavy: &HeavyGate,
        what: &'static str,
        (fund_id, as_of, version): (i64, NaiveDate, StateVersion),
        compute: F,
    ) -> Result<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if let Some(hit) = self.get(fund_id, as_of, version) {
            return Ok(hit);
        }
        let _flight = self
            .flights
            .enter(&format!("{fund_id}:{as_of}:{version}"))
            .await;
        // Computed by the request this one waited for.
        if let Some(hit) = self.get(fund_id, as_of, version) {
            return Ok(hit);
        }
        let _running = heavy.enter(what).await?;
        let computed = Arc::new(compute().await?);
        self.insert(fund_id, as_of, version, computed.clone());
        Ok(computed)
    }

    /// Keeps `c` as the fund's figures for the date, replacing those of any earlier state.
    pub fn insert(&self, fund_id: i64, as_of: NaiveDate, version: StateVersion, c: Arc<T>) {
        self.entries.insert((fund_id, as_of), (version, c));
        // The superseded figures are freed now, beside the answer rather than in its way, not at
        // moka's next housekeeping, which batches them: measured, fifteen superseded 10,000-lot
        // figures freed at once held every fifteenth `/moic` after a write back by 10–15 ms, and kept
        // their memory until then.
        let entries = self.entries.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || entries.run_pending_tasks())),
            Err(_) => entries.run_pending_tasks(),
        }
    }
}

/// The versions of a fund's state and of its holdings (`funds.holdings_version`, moved with the state
/// by every write to its investments and lots, and by nothing else), read together from one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    pub state: StateVersion,
    pub holdings: StateVersion,
}

/// The fund's [`Versions`] (`funds.state_version`, moved by the database with every write to the
/// fund's rows, and `funds.holdings_version`), on any connection or transaction: one indexed row, read
/// before the fund's rows; `NotFound` if the fund does not exist.
pub async fn versions<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<Versions> {
    fund::Entity::find_by_id(fund_id)
        .select_only()
        .column(fund::Column::StateVersion)
        .column(fund::Column::HoldingsVersion)
        .into_tuple::<(i64, i64)>()
        .one(conn)
        .await?
        .map(|(state, holdings)| Versions {
            state: StateVersion(state),
            holdings: StateVersion(holdings),
        })
        .ok_or_else(|| Error::not_found("fund", fund_id))
}

/// A fund's lots by holdings version: a write to a company, a mark or a distribution moves the fund's
/// state but not its holdings, and the next calculation re-reads the fund's small tables only.
pub type HoldingsCache = StateCache<Vec<LotState>>;

impl Weigh for Vec<LotState> {
    fn units(&self) -> u32 {
        u32::try_from(self.len() + 1).unwrap_or(u32::MAX)
    }
}

/// The fund's state for a calculation at `versions` (read before it): its lots kept from an earlier
/// read at the same holdings version, or read now and kept; the rest read now. As with every entry
/// here, what is kept under a version is never older than that version.
pub async fn load_state_reusing(
    db: &Database,
    holdings: &HoldingsCache,
    fund_id: i64,
    versions: Versions,
) -> Result<PortfolioState> {
    let conn = db.connection();
    load_state_with_lots(conn, fund_id, async {
        if let Some(lots) = holdings.get(fund_id, UNDATED, versions.holdings) {
            return Ok(lots);
        }
        let lots = Arc::new(load_lots(conn, fund_id).await?);
        holdings.insert(fund_id, UNDATED, versions.holdings, lots.clone());
        Ok(lots)
    })
    .await
}
