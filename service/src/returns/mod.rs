//! Net returns to the LPs (SPEC §6.6): `GET /funds/{id}/returns` and its ledger, computed from the fund's
//! rows and terms by the pure functions of `calc::returns` and `calc::ledger`, and reused while the fund
//! is unchanged exactly as `/moic` is (`metrics::reuse`: the same state version, which every change of
//! the fund's terms moves too).

use std::sync::Arc;

use chrono::NaiveDate;

pub use crate::calc::ledger::{FeeTerms, LedgerEntry, LedgerKind};
pub use crate::calc::returns::{NetResult, NetReturns, net_result, net_returns};
pub use crate::calc::waterfall::Split;

pub mod figures;

pub use figures::{FundReturns, ReturnsCache, from_state};

use crate::auth::Principal;
use crate::blocking::off_the_async_workers;
use crate::calc::moic::compute;
use crate::context::Service;
use crate::db::now;
use crate::error::Result;
use crate::metrics::reuse;

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
    let versions = reuse::versions(svc.db.connection(), fund_id).await?;
    let key = (fund_id, as_of, versions.state);
    svc.returns
        .get_or_compute(&svc.heavy, "the net returns calculation", key, || async {
            let state =
                reuse::load_state_reusing(&svc.db, &svc.holdings, fund_id, versions).await?;
            // The gross figures of the same state, when `/moic` has computed them already.
            let gross = svc
                .metrics
                .get(fund_id, as_of, versions.state)
                .map(|m| m.fund.clone());
            off_the_async_workers("the net returns calculation", move || {
                let gross = gross.unwrap_or_else(|| compute(&state, as_of).fund);
                from_state(&state, as_of, gross)
            })
            .await?
        })
        .await
}
