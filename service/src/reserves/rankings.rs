//! The reserve rankings (SPEC §12, `GET /funds/{id}/reserves/rankings`): the engine's order of SPEC
//! §6.5 step 2, with each company's ranking value and cap.

use entity::portfolio_company::CompanyStatus;
use rust_decimal::Decimal;

use super::engine::score;
use crate::auth::Principal;
use crate::context::Service;
use crate::error::Result;
use crate::fund_state::load_state_for_reading;
use crate::metrics::rank_order;

/// A company's place in the reserve rankings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranking {
    pub rank: i32,
    pub company_id: i64,
    pub name: String,
    pub exit_moic_on_planned_reserves: Option<Decimal>,
    /// The engine's ranking value (reserve multiple × probability), whether or not reserves are planned.
    pub allocation_score: Option<Decimal>,
    pub planned_reserves_cents: i64,
    pub allocation_cap_cents: Option<i64>,
}

/// Active companies ranked by the expected exit multiple on their planned reserves (highest first;
/// companies without one last), ties by planned reserves (largest first), then id.
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn reserve_rankings(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
) -> Result<Vec<Ranking>> {
    principal.require_read(fund_id)?;
    let state = load_state_for_reading(&svc.db, fund_id).await?;
    let mut rows: Vec<Ranking> = state
        .companies
        .iter()
        .filter(|c| c.status == CompanyStatus::Active)
        .map(|c| {
            let s = score(c.reserve_exit_moic_bps, c.exit_probability);
            Ranking {
                rank: 0,
                company_id: c.id,
                name: c.name.clone(),
                exit_moic_on_planned_reserves: if c.planned_reserves_cents > 0 {
                    s
                } else {
                    None
                },
                allocation_score: s,
                planned_reserves_cents: c.planned_reserves_cents,
                allocation_cap_cents: c.allocation_cap_cents,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        rank_order(
            (
                a.exit_moic_on_planned_reserves,
                a.planned_reserves_cents,
                a.company_id,
            ),
            (
                b.exit_moic_on_planned_reserves,
                b.planned_reserves_cents,
                b.company_id,
            ),
        )
    });
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i32::try_from(i + 1).unwrap_or(i32::MAX);
    }
    Ok(rows)
}
