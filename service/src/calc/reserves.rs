//! The follow-on reserve allocation engine (SPEC §6.5): a greedy allocation of the fund's available
//! reserves over its active companies, ranked by the expected multiple on the next dollar of reserves.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use entity::investment_lot::LotType;
use entity::portfolio_company::{CompanyStatus, Stage};
use rust_decimal::Decimal;
use sea_orm::ActiveEnum;
use serde::{Deserialize, Serialize};

use super::moic::bps;
use super::money::{Bps, currency_text, fixed_scale};
use super::state::{CompanyState, PortfolioState};
use crate::error::{Error, FieldError, Result};

/// Version of the engine's rules, recorded in snapshots so that a change of rules changes the hash.
/// `reserves-2` (issue #26): marks by date, an exit sells every share held, projected value over active
/// companies only, and the `min_expected_multiple_bps` floor. `reserves-3` (issue #23): the fund's terms
/// are captured, and the calculation adds the net returns of SPEC §6.6 (`calculated_metrics.net`).
pub const ENGINE_VERSION: &str = "reserves-3";

/// How reserves are sized and capped. Absent fields take their defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
// Fields in canonical (RFC 8785) order, so that `serde_json` writes the canonical form itself
// (`canonical::write_in_declared_order`).
pub struct ReservePolicy {
    /// No company gets more than this share of what was invested in it, bps; default 5000.
    pub cap_percent_bps: Option<i32>,
    /// Amounts below this are not allocated (they stay in `remaining`).
    pub min_check_cents: Option<i64>,
    /// A company whose ranking value (expected multiple on the next dollar) is below this, bps, is not
    /// funded; default 10000 (1.0×: reserves are not spent where they are expected to lose money). A
    /// company without a ranking value is ranked last and may be funded.
    #[serde(default)]
    pub min_expected_multiple_bps: Option<i32>,
    /// Share of the fund kept for follow-ons, bps; default: the fund's own `reserve_ratio_bps`.
    pub reserve_ratio_bps: Option<i32>,
    /// Per-stage caps as a share of invested, bps.
    #[serde(serialize_with = "crate::canonical::option_map_by_name")]
    pub stage_caps_bps: Option<BTreeMap<Stage, i32>>,
}

/// The default `min_expected_multiple_bps`: 1.0×.
pub const DEFAULT_MIN_EXPECTED_MULTIPLE_BPS: i32 = 10_000;

pub const DEFAULT_CAP_PERCENT_BPS: i32 = 5000;

impl ReservePolicy {
    pub fn validate(&self, pointer: &str) -> Result<()> {
        let mut errors = Vec::new();
        let in_range = |v: i32| (0..=10_000).contains(&v);
        if self.reserve_ratio_bps.is_some_and(|v| !in_range(v)) {
            errors.push(FieldError::new(
                format!("{pointer}/reserve_ratio_bps"),
                "must be between 0 and 10000",
            ));
        }
        if self
            .cap_percent_bps
            .is_some_and(|v| !(0..=1_000_000).contains(&v))
        {
            errors.push(FieldError::new(
                format!("{pointer}/cap_percent_bps"),
                "must be between 0 and 1000000",
            ));
        }
        for (stage, v) in self.stage_caps_bps.iter().flatten() {
            if !(0..=1_000_000).contains(v) {
                errors.push(FieldError::new(
                    format!("{pointer}/stage_caps_bps/{}", stage.to_value()),
                    "must be between 0 and 1000000",
                ));
            }
        }
        if self
            .min_expected_multiple_bps
            .is_some_and(|v| !(0..=1_000_000).contains(&v))
        {
            errors.push(FieldError::new(
                format!("{pointer}/min_expected_multiple_bps"),
                "must be between 0 and 1000000",
            ));
        }
        if self.min_check_cents.is_some_and(|v| v < 0) {
            errors.push(FieldError::new(
                format!("{pointer}/min_check_cents"),
                "must be 0 or more",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(errors))
        }
    }
}

/// Which limit decided a company's cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingCap {
    /// The company's own `allocation_cap_cents`.
    CompanyCap,
    /// `cap_percent_bps` of invested.
    PercentOfInvested,
    /// The stage's cap.
    StageCap,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in alphabetical order, so that `serde_json` writes the canonical form (`snapshots::calculate`).
pub struct CompanyAllocation {
    /// The ranking value: reserve exit multiple × exit probability (6 places); `None` when unknown.
    pub allocation_score: Option<Decimal>,
    pub binding_cap: BindingCap,
    pub cap_cents: i64,
    pub company_id: i64,
    pub planned_reserve_cents: i64,
    /// Rank, 1 = first.
    pub priority: i32,
    pub rationale: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in alphabetical order, so that `serde_json` writes the canonical form (`snapshots::calculate`).
pub struct ReservePlan {
    pub allocations: Vec<CompanyAllocation>,
    pub available_cents: i64,
    pub remaining_cents: i64,
}

fn floor_bps(amount: i64, bps_value: i32) -> i64 {
    // i128: amount × 1_000_000 bps cannot overflow.
    let v = i128::from(amount) * i128::from(bps_value) / 10_000;
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The ranking value of a company: `reserve_exit_moic_bps / 10000 × exit_probability`, 6 places.
pub fn score(
    reserve_exit_moic_bps: Option<i64>,
    exit_probability: Option<Decimal>,
) -> Option<Decimal> {
    match (reserve_exit_moic_bps, exit_probability) {
        (Some(m), Some(p)) => Some(fixed_scale(bps(m) * p, 6)),
        _ => None,
    }
}

/// An active company in the engine's order (SPEC §6.5 step 2), with what it is ranked by.
#[derive(Clone, Copy, Debug)]
pub struct Ranked<'s> {
    pub company: &'s CompanyState,
    /// Σ cost basis of its lots, cents: the first tie-break, and the base of its caps.
    pub invested: i64,
    /// `reserve_exit_moic_bps / 10000 × exit_probability`, 6 places; `None` when either is missing.
    pub score: Option<Decimal>,
}

/// The fund's active companies in the order reserves go to them: ranking value descending (unknown
/// last), then invested descending, then id ascending. Written-off and exited companies get nothing.
pub fn rank(state: &PortfolioState) -> Vec<Ranked<'_>> {
    let mut invested: BTreeMap<i64, i64> = BTreeMap::new();
    for lot in state.lots.iter() {
        *invested.entry(lot.company_id).or_default() += lot.cost_basis_cents;
    }
    let mut ranked: Vec<Ranked<'_>> = state
        .companies
        .iter()
        .filter(|c| c.status == CompanyStatus::Active)
        .map(|c| Ranked {
            company: c,
            invested: invested.get(&c.id).copied().unwrap_or(0),
            score: score(c.reserve_exit_moic_bps, c.exit_probability),
        })
        .collect();
    ranked.sort_by(|a, b| {
        let by_score = match (a.score, b.score) {
            (Some(x), Some(y)) => y.cmp(&x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_score
            .then(b.invested.cmp(&a.invested))
            .then(a.company.id.cmp(&b.company.id))
    });
    ranked
}

/// Allocates the fund's available reserves. Deterministic, and independent of the order of the inputs.
pub fn allocate(state: &PortfolioState, policy: &ReservePolicy) -> ReservePlan {
    // A policy's ratio is validated to 0..=10000 (`ReservePolicy::validate`).
    let ratio = policy
        .reserve_ratio_bps
        .and_then(|r| Bps::new(r.into()))
        .unwrap_or(state.fund.reserve_ratio_bps);
    let follow_on_made: i64 = state
        .lots
        .iter()
        .filter(|l| l.lot_type == LotType::FollowOn)
        .map(|l| l.cost_basis_cents)
        .sum();
    let available = (state.fund.size_cents.times_bps_floor(ratio).get() - follow_on_made).max(0);
    let cap_percent = policy.cap_percent_bps.unwrap_or(DEFAULT_CAP_PERCENT_BPS);
    let min_check = policy.min_check_cents.unwrap_or(0);
    let min_multiple = bps(policy
        .min_expected_multiple_bps
        .unwrap_or(DEFAULT_MIN_EXPECTED_MULTIPLE_BPS)
        .into());
    let money = |cents: i64| currency_text(&state.fund.base_currency, cents);

    let active = rank(state);
    let total = active.len();
    let mut remaining = available;
    let mut allocations = Vec::with_capacity(total);
    for (
        i,
        Ranked {
            company: c,
            invested: inv,
            ..
        },
    ) in active.into_iter().enumerate()
    {
        let mut cap = (floor_bps(inv, cap_percent), BindingCap::PercentOfInvested);
        if let Some(own) = c.allocation_cap_cents
            && own < cap.0
        {
            cap = (own, BindingCap::CompanyCap);
        }
        if let Some(stage_bps) = policy.stage_caps_bps.as_ref().and_then(|m| m.get(&c.stage)) {
            let stage_cap = floor_bps(inv, *stage_bps);
            if stage_cap < cap.0 {
                cap = (stage_cap, BindingCap::StageCap);
            }
        }
        let s = score(c.reserve_exit_moic_bps, c.exit_probability);
        let expected_loss = s.is_some_and(|v| v < min_multiple);
        let mut amount = remaining.min(cap.0).max(0);
        if amount < min_check || expected_loss {
            amount = 0;
        }
        remaining -= amount;
        let multiple = s
            .map(|v| format!("an expected reserve multiple of {v}x"))
            .unwrap_or_else(|| "no expected reserve multiple".into());
        let limit = match cap.1 {
            BindingCap::CompanyCap => "the company's own allocation cap",
            BindingCap::PercentOfInvested => "the percent-of-invested cap",
            BindingCap::StageCap => "its stage cap",
        };
        let rationale = if expected_loss {
            format!(
                "Ranked {} of {total} with {multiple}, below the minimum of {}x: not funded.",
                i + 1,
                fixed_scale(min_multiple, 2)
            )
        } else {
            format!(
                "Ranked {} of {total} with {multiple}; allocated {} of a {} cap set by {limit}.",
                i + 1,
                money(amount),
                money(cap.0)
            )
        };
        allocations.push(CompanyAllocation {
            company_id: c.id,
            planned_reserve_cents: amount,
            allocation_score: s,
            priority: i32::try_from(i + 1).unwrap_or(i32::MAX),
            cap_cents: cap.0,
            binding_cap: cap.1,
            rationale,
        });
    }
    ReservePlan {
        available_cents: available,
        allocations,
        remaining_cents: remaining,
    }
}

#[cfg(test)]
mod tests;
