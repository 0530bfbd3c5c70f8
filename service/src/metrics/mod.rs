//! Lot-level MOIC, company MOIC variants and fund metrics (SPEC §6.2–§6.4), as pure functions of a
//! [`PortfolioState`](crate::fund_state::PortfolioState), so that a snapshot can recompute them from
//! its captured inputs alone; and `GET /funds/{id}/moic`, which computes them from the fund's rows.

pub mod reuse;

use chrono::NaiveDate;

pub use crate::calc::moic::*;
pub use crate::calc::xirr;
pub use reuse::MetricsCache;

use crate::auth::Principal;
use crate::blocking::off_the_async_workers;
use crate::context::Service;
use crate::db::now;
use crate::error::Result;
use crate::pagination::{Cursor, Page, PageRequest};

/// Lot, company and fund metrics of a fund as of a date (default: today, UTC).
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn fund_moic(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    as_of: Option<NaiveDate>,
) -> Result<std::sync::Arc<PortfolioMetrics>> {
    principal.require_read(fund_id)?;
    let as_of = as_of.unwrap_or_else(|| now().date_naive());
    // Read before the rows (see `reuse`): an unchanged fund is answered from the computed metrics.
    let versions = reuse::versions(svc.db.connection(), fund_id).await?;
    let key = (fund_id, as_of, versions.state);
    svc.metrics
        .get_or_compute(&svc.heavy, "the MOIC calculation", key, || async {
            let state =
                reuse::load_state_reusing(&svc.db, &svc.holdings, fund_id, versions).await?;
            off_the_async_workers("the MOIC calculation", move || {
                let mut metrics = compute(&state, as_of);
                // In id order, the order of the lot pages (`lot_page`).
                metrics.lots.sort_unstable_by_key(|l| l.lot_id);
                metrics
            })
            .await
        })
        .await
}

/// One page of a fund's lot figures, in lot id order (UUID v7: the order the lots were recorded), from
/// the same computed metrics as [`fund_moic`]: the fund and company figures stay small at `/moic` while
/// a front-end pages through the lots.
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn lot_page(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    as_of: Option<NaiveDate>,
    page: PageRequest,
) -> Result<(NaiveDate, Page<LotMetrics>)> {
    let after = page.after.map(|c| c.as_uuid()).transpose()?;
    let computed = fund_moic(svc, principal, fund_id, as_of).await?;
    let lots = &computed.lots;
    let start = after.map_or(0, |id| lots.partition_point(|l| l.lot_id <= id));
    let rows = lots
        .iter()
        .skip(start)
        .take(page.limit as usize + 1)
        .cloned()
        .collect();
    Ok((
        computed.as_of,
        Page::from_rows(rows, page.limit, |l| Cursor::Uuid(l.lot_id)),
    ))
}
