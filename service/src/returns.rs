//! Net returns to the LPs (SPEC §6.6): `GET /funds/{id}/returns` and its ledger, computed from the fund's
//! rows and terms by the pure functions of `calc::returns` and `calc::ledger`, and reused while the fund
//! is unchanged exactly as `/moic` is (`metrics::reuse`: the same fingerprint, which the fund's own
//! version — and so every change of its terms — is part of).

use std::sync::Arc;

use chrono::NaiveDate;

pub use crate::calc::ledger::{FeeTerms, LedgerEntry, LedgerKind, ledger};
pub use crate::calc::returns::{NetResult, NetReturns, net_result, net_returns};
pub use crate::calc::waterfall::Split;

use crate::auth::Principal;
use crate::blocking::off_the_async_workers;
use crate::calc::moic::{FundMetrics, compute};
use crate::context::Service;
use crate::db::now;
use crate::error::{Error, Result};
use crate::fund_state::load_state;
use crate::metrics::reuse::{self, StateCache, Weigh};

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
    state: &crate::fund_state::PortfolioState,
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

/// The fund's net returns as of a date (default: today, UTC).
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn fund_returns(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    as_of: Option<NaiveDate>,
) -> Result<Arc<FundReturns>> {
    principal.require_read(fund_id)?;
    let as_of = as_of.unwrap_or_else(|| now().date_naive());
    // Read before the rows (see `metrics::reuse`): an unchanged fund is answered from the figures.
    let Some(fingerprint) = reuse::fingerprint(&svc.db, fund_id).await? else {
        return Err(Error::not_found("fund", fund_id));
    };
    if let Some(hit) = svc.returns.get(fund_id, as_of, &fingerprint) {
        return Ok(hit);
    }
    let _flight = svc
        .returns
        .flights
        .enter(&format!("{fund_id}:{as_of}:{fingerprint}"))
        .await;
    if let Some(hit) = svc.returns.get(fund_id, as_of, &fingerprint) {
        return Ok(hit);
    }
    let state = load_state(svc.db.connection(), fund_id).await?;
    // The gross figures of the same state, when `/moic` has computed them already.
    let gross = svc
        .metrics
        .get(fund_id, as_of, &fingerprint)
        .map(|m| m.fund.clone());
    let computed = off_the_async_workers("the net returns calculation", move || {
        let gross = gross.unwrap_or_else(|| compute(&state, as_of).fund);
        from_state(&state, as_of, gross)
    })
    .await??;
    let computed = Arc::new(computed);
    svc.returns
        .insert(fund_id, as_of, fingerprint, computed.clone());
    Ok(computed)
}
