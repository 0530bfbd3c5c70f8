//! What `/returns` answers and a cache keeps: a fund's net returns on a date, the gross figures beside
//! them and the ledger, computed from a fund's state by the pure functions of `calc` (no database).

use chrono::NaiveDate;

use crate::calc::ledger::{LedgerEntry, ledger};
use crate::calc::moic::FundMetrics;
use crate::calc::returns::{NetReturns, net_result};
use crate::error::{Error, Result};
use crate::fund_state::PortfolioState;
use crate::metrics::reuse::{StateCache, Weigh};

/// A fund's net returns on a date, with the gross figures beside them and the ledger they came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundReturns {
    pub as_of: NaiveDate,
    pub base_currency: String,
    pub net: NetReturns,
    pub gross: FundMetrics,
    pub ledger: Vec<LedgerEntry>,
}

impl Weigh for FundReturns {
    fn units(&self) -> u32 {
        u32::try_from(self.ledger.len() + 1).unwrap_or(u32::MAX)
    }
}

/// Computed returns, reused while the fund's rows are unchanged.
pub type ReturnsCache = StateCache<FundReturns>;

/// The returns from a fund's state (pure; what a snapshot's `net` holds too).
pub fn from_state(
    state: &PortfolioState,
    as_of: NaiveDate,
    gross: FundMetrics,
) -> Result<FundReturns> {
    let terms = state
        .fund
        .terms
        .as_ref()
        .ok_or_else(|| Error::Invariant("a fund state read without its terms".into()))?;
    let result = net_result(state, terms, as_of, &gross);
    Ok(FundReturns {
        as_of,
        base_currency: state.fund.base_currency.clone(),
        ledger: ledger(state, as_of, &result),
        net: result.returns,
        gross,
    })
}
