//! Lot-level MOIC, company MOIC variants and fund metrics (SPEC §6.2–§6.4), as pure functions of a
//! [`PortfolioState`](crate::fund_state::PortfolioState), so that a snapshot can recompute them from
//! its captured inputs alone; and `GET /funds/{id}/moic`, which computes them from the fund's rows.

pub mod xirr;

mod moic;
pub mod reuse;

use chrono::NaiveDate;

pub use moic::*;
pub use reuse::{Computed, MetricsCache};

use crate::auth::Principal;
use crate::context::Service;
use crate::db::now;
use crate::error::{Error, Result};
use crate::fund_state::load_state_for_reading;

/// Lot, company and fund metrics of a fund as of a date (default: today, UTC).
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn fund_moic(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    as_of: Option<NaiveDate>,
) -> Result<std::sync::Arc<Computed>> {
    principal.require_read(fund_id)?;
    let as_of = as_of.unwrap_or_else(|| now().date_naive());
    // Read before the rows (see `reuse`): an unchanged fund is answered from the computed metrics.
    let Some(fingerprint) = reuse::fingerprint(&svc.db, fund_id).await? else {
        return Err(Error::not_found("fund", fund_id));
    };
    if let Some(hit) = svc.metrics.get(fund_id, as_of, &fingerprint) {
        return Ok(hit);
    }
    let state = load_state_for_reading(&svc.db, fund_id).await?;
    let metrics = off_the_async_workers(move || compute(&state, as_of)).await?;
    let computed = std::sync::Arc::new(Computed::new(metrics));
    svc.metrics
        .insert(fund_id, as_of, fingerprint, computed.clone());
    Ok(computed)
}

/// Runs a CPU-bound calculation on tokio's blocking pool, so that it does not hold up the async
/// workers that serve other requests.
pub async fn off_the_async_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Invariant(format!("a calculation did not finish: {e}")))
}
