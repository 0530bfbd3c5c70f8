//! The reserve rankings (SPEC §12, `GET /funds/{id}/reserves/rankings`): the engine's order of SPEC
//! §6.5 step 2, with each company's ranking value and cap; reused while the fund's state version is
//! unchanged, as `/moic` is (`metrics::reuse`).

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::auth::Principal;
use crate::calc::reserves::rank;
use crate::context::Service;
use crate::error::Result;
use crate::metrics::reuse::{self, StateCache, UNDATED, Weigh};

/// Computed rankings, reused while the fund's rows are unchanged.
pub type RankingsCache = StateCache<Vec<Ranking>>;

impl Weigh for Vec<Ranking> {
    fn units(&self) -> u32 {
        u32::try_from(self.len() + 1).unwrap_or(u32::MAX)
    }
}

/// A company's place in the reserve rankings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranking {
    pub rank: i32,
    pub company_id: i64,
    pub name: String,
    /// Σ cost basis of the company's lots: the engine's first tie-break.
    pub invested_cents: i64,
    pub exit_moic_on_planned_reserves: Option<Decimal>,
    /// The engine's ranking value (reserve multiple × probability), whether or not reserves are planned.
    pub allocation_score: Option<Decimal>,
    pub planned_reserves_cents: i64,
    pub allocation_cap_cents: Option<i64>,
}

/// Active companies in the order the allocation engine gives them reserves (SPEC §6.5 step 2): the
/// ranking value (highest first, unknown last), then invested (largest first), then id. The order a
/// user reads here is the order reserves are allocated.
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn reserve_rankings(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
) -> Result<Arc<Vec<Ranking>>> {
    principal.require_read(fund_id)?;
    let versions = reuse::versions(svc.db.connection(), fund_id).await?;
    let key = (fund_id, UNDATED, versions.state);
    svc.rankings
        .get_or_compute(&svc.heavy, "the reserve rankings", key, || async {
            let state =
                reuse::load_state_reusing(&svc.db, &svc.holdings, fund_id, versions).await?;
            Ok(ranked(&state))
        })
        .await
}

fn ranked(state: &crate::fund_state::PortfolioState) -> Vec<Ranking> {
    rank(state)
        .into_iter()
        .enumerate()
        .map(|(i, r)| Ranking {
            rank: i32::try_from(i + 1).unwrap_or(i32::MAX),
            company_id: r.company.id,
            name: r.company.name.clone(),
            invested_cents: r.invested,
            exit_moic_on_planned_reserves: r.score.filter(|_| r.company.planned_reserves_cents > 0),
            allocation_score: r.score,
            planned_reserves_cents: r.company.planned_reserves_cents,
            allocation_cap_cents: r.company.allocation_cap_cents,
        })
        .collect()
}
