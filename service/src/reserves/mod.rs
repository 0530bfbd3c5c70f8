//! Follow-on reserves: the allocation engine (SPEC §6.5), the rankings it works from, and the fund's
//! reserve plan (SPEC §7.5).

mod plan;
mod rankings;

pub use crate::calc::reserves::{
    BindingCap, CompanyAllocation, DEFAULT_CAP_PERCENT_BPS, ENGINE_VERSION, Ranked, ReservePlan,
    ReservePolicy, allocate, rank, score,
};
pub use plan::{
    MAX_PLAN_UPDATES, PlanLine, PlanUpdate, PlanView, reserve_plan, update_reserve_plan,
};
pub(crate) use plan::{bump_version, check_cap};
pub use rankings::{Ranking, RankingsCache, reserve_rankings};
