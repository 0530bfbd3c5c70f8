//! What a snapshot captures and what its calculation writes, and the rules both sides share: the status
//! machine (SPEC §7.3) and the shape of an allocation row.

use chrono::{DateTime, Utc};
use entity::ExactDecimal;
use entity::forecast_snapshot::SnapshotStatus;
use entity::reserve_allocation::{self, AllocationSource};
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::fund_state::PortfolioState;
use crate::metrics::PortfolioMetrics;
use crate::reserves::{ReservePlan, ReservePolicy};
use crate::returns::NetReturns;

pub const JOB_CALCULATE: &str = "snapshot.calculate";

/// A reserve allocation given by hand instead of by the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in canonical (RFC 8785) order, so that `serde_json` writes the canonical form itself
// (`canonical::write_in_declared_order`).
pub struct ManualAllocation {
    pub company_id: i64,
    pub planned_reserve_cents: i64,
    pub rationale: Option<String>,
}

/// What a snapshot captures: the whole input of its calculation. Its canonical form's SHA-256 is the
/// snapshot's `source_hash`; the snapshot's name is not an input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in canonical (RFC 8785) order, so that `serde_json` writes the canonical form itself
// (`canonical::write_in_declared_order`).
pub struct SnapshotInputs {
    pub engine_version: String,
    pub manual_allocations: Option<Vec<ManualAllocation>>,
    pub reserve_policy: Option<ReservePolicy>,
    pub state: PortfolioState,
}

/// What the worker writes into `calculated_metrics`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in alphabetical order, so that `serde_json` writes the canonical form (`snapshots::calculate`).
pub struct CalculatedMetrics {
    pub metrics: PortfolioMetrics,
    /// Net returns to the LPs on the snapshot's date (SPEC §6.6); absent from snapshots whose inputs
    /// were captured before fund terms existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<NetReturns>,
    /// The engine's plan; `None` when the allocations were given by hand.
    pub reserve_plan: Option<ReservePlan>,
}

/// The only status changes there are (SPEC §7.3).
pub fn can_transition(from: SnapshotStatus, to: SnapshotStatus) -> bool {
    use SnapshotStatus::*;
    matches!(
        (from, to),
        (Pending, Calculating) | (Pending, Error) | (Calculating, Complete) | (Calculating, Error)
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn allocation_model(
    snapshot_id: Uuid,
    fund_id: i64,
    company_id: i64,
    cents: i64,
    score: Option<rust_decimal::Decimal>,
    priority: usize,
    rationale: Option<String>,
    source: AllocationSource,
    at: DateTime<Utc>,
) -> reserve_allocation::ActiveModel {
    reserve_allocation::ActiveModel {
        id: Set(Uuid::now_v7()),
        fund_id: Set(fund_id),
        snapshot_id: Set(snapshot_id),
        company_id: Set(company_id),
        planned_reserve_cents: Set(cents),
        allocation_score: Set(score.map(ExactDecimal)),
        priority: Set(i32::try_from(priority).unwrap_or(i32::MAX)),
        rationale: Set(rationale),
        source: Set(source),
        created_at: Set(at),
    }
}

/// Rows per `INSERT` of allocations: 10 parameters a row stays under SQLite's 32,766 and PostgreSQL's
/// 65,535 parameters per statement.
const ALLOCATIONS_PER_STATEMENT: usize = 1_000;

/// Writes a snapshot's allocations in statements of many rows (one round trip per thousand companies,
/// not one per company).
pub(crate) async fn insert_allocations<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<reserve_allocation::ActiveModel>,
) -> crate::error::Result<()> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ALLOCATIONS_PER_STATEMENT).collect();
        reserve_allocation::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_status_transitions_are_allowed() {
        use SnapshotStatus::*;
        let all = [Pending, Calculating, Complete, Error];
        let allowed: Vec<(SnapshotStatus, SnapshotStatus)> = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| can_transition(*a, *b))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Pending, Calculating),
                (Pending, Error),
                (Calculating, Complete),
                (Calculating, Error)
            ]
        );
    }
}
