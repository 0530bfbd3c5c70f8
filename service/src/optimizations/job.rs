//! The worker's side of a session: pending → running → completed | failed. The matrix is read through
//! the cache (first tier, then the database); the solve runs on the blocking pool. A model that cannot
//! be solved (infeasible constraints, a solver that gives up) is a `failed` session with the reason — a
//! deterministic outcome, not retried; an error of the database is retried by the outbox.

use std::sync::Arc;

use entity::optimization_session::{self, OptimizationStatus};
use entity::scenario_matrix::MatrixStatus;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::OptimizationConfig;
use crate::blocking::off_the_async_workers;
use crate::calc::optimizer::{Pass, Scenarios, Solution, SolveError, evaluate, solve};
use crate::db::{Database, now};
use crate::error::{Error, Result};
use crate::matrices::{Matrices, load};
use crate::outbox::Job;

/// The job that solves a session.
pub const JOB_OPTIMIZE: &str = "optimize";

pub struct Optimizer {
    matrices: Arc<Matrices>,
}

impl Optimizer {
    pub fn new(matrices: Arc<Matrices>) -> Self {
        Self { matrices }
    }
}

/// The session a job solves.
#[derive(Debug, Serialize, Deserialize)]
pub struct SolveSession {
    pub session_id: Uuid,
}

/// Moves the session `id` from `from` to `to` with the columns of `set`; `false` if it was not in
/// `from` (cancelled meanwhile, or already finished).
async fn transition(
    db: &Database,
    id: Uuid,
    from: &[OptimizationStatus],
    to: OptimizationStatus,
    set: Vec<(optimization_session::Column, Expr)>,
) -> Result<bool> {
    use optimization_session::Column as C;
    let mut update = optimization_session::Entity::update_many()
        .col_expr(C::Status, Expr::value(to))
        .col_expr(C::UpdatedAt, Expr::value(now()))
        .col_expr(C::Version, Expr::col(C::Version).add(1));
    for (column, value) in set {
        update = update.col_expr(column, value);
    }
    let done = update
        .filter(C::Id.eq(id))
        .filter(C::Status.is_in(from.iter().copied()))
        .exec(db.connection())
        .await?;
    Ok(done.rows_affected == 1)
}

async fn fail(db: &Database, id: Uuid, message: &str) -> Result<()> {
    use optimization_session::Column as C;
    transition(
        db,
        id,
        &[OptimizationStatus::Pending, OptimizationStatus::Running],
        OptimizationStatus::Failed,
        vec![
            (C::ErrorMessage, Expr::value(message.to_owned())),
            (C::CompletedAt, Expr::value(now())),
        ],
    )
    .await
    .map(|_| ())
}

fn pass_json(p: &Pass) -> Value {
    json!({
        "status": p.status,
        "iterations": p.iterations,
        "solve_time_ms": p.solve_time_ms,
        "duality_gap": p.duality_gap,
        "cuts": p.cuts,
        "tail_scenarios": p.tail_scenarios,
    })
}

/// The stored metrics of a solution (SPEC §10).
fn metrics_json(s: &Solution, alpha: f64) -> Value {
    json!({
        "expected_moic": s.metrics.expected_moic,
        "cvar": s.metrics.cvar,
        "var": s.metrics.var,
        "loss_probability": s.metrics.loss_probability,
        "cvar_confidence": alpha,
        "pass1_optimum": s.pass1_optimum,
        "epsilon": s.epsilon,
        "max_violation": s.metrics.max_violation,
        "pass1": pass_json(&s.pass1),
        "pass2": pass_json(&s.pass2),
    })
}

/// The plan's weights and figures, beside the optimum's: the comparison a GP wants.
fn plan_json(buckets: &[String], weights: &[f64], m: &crate::calc::optimizer::Metrics) -> Value {
    let weights: serde_json::Map<String, Value> = buckets
        .iter()
        .zip(weights)
        .map(|(b, w)| (b.clone(), json!(w)))
        .collect();
    json!({
        "weights": weights,
        "expected_moic": m.expected_moic,
        "cvar": m.cvar,
        "var": m.var,
        "loss_probability": m.loss_probability,
        "max_violation": m.max_violation,
    })
}

fn six_places(v: f64) -> Option<entity::ExactDecimal> {
    Decimal::from_f64(v).map(|d| d.round_dp(6).into())
}

impl Optimizer {
    async fn optimize(&self, db: &Database, id: Uuid) -> Result<()> {
        use optimization_session::Column as C;
        let Some(session) = optimization_session::Entity::find_by_id(id)
            .one(db.connection())
            .await?
        else {
            return Ok(());
        };
        match session.status {
            OptimizationStatus::Pending => {
                let started = transition(
                    db,
                    id,
                    &[OptimizationStatus::Pending],
                    OptimizationStatus::Running,
                    vec![(C::StartedAt, Expr::value(now()))],
                )
                .await?;
                if !started {
                    return Ok(()); // cancelled meanwhile
                }
            }
            // A retry after a worker stopped mid-way.
            OptimizationStatus::Running => {}
            _ => return Ok(()),
        }
        let config: OptimizationConfig = serde_json::from_value(session.config.clone())
            .map_err(|e| Error::Invariant(format!("stored optimization config: {e}")))?;
        let view = load(db, &self.matrices, &config.matrix_key, true).await?;
        let Some((record, Some(values))) = view
            .filter(|v| v.record.status == MatrixStatus::Complete)
            .map(|v| (v.record, v.values))
        else {
            return fail(
                db,
                id,
                "the scenario matrix is no longer complete (it was invalidated); create it again and \
                 post the optimization again",
            )
            .await;
        };
        let buckets = record.buckets();
        let model = config.model(&buckets);
        let alpha = config.cvar_confidence;
        // The user's own plan: the matrix's capital allocation, in column order (issue #27).
        let plan_weights = record.plan_weights();
        let solved = off_the_async_workers("the solver", move || {
            let m = Scenarios {
                buckets: buckets.len(),
                values: &values,
            };
            let plan = plan_weights.map(|w| (evaluate(&m, &model, &w), w));
            solve(&m, &model).map(|s| (s, buckets, plan))
        })
        .await?;
        match solved {
            Ok((s, buckets, plan)) => {
                let mut metrics = metrics_json(&s, alpha);
                if let Some((figures, w)) = plan {
                    metrics["plan"] = plan_json(&buckets, &w, &figures);
                }
                let weights: serde_json::Map<String, Value> = buckets
                    .iter()
                    .zip(&s.weights)
                    .map(|(b, w)| (b.clone(), json!(w)))
                    .collect();
                transition(
                    db,
                    id,
                    &[OptimizationStatus::Running],
                    OptimizationStatus::Completed,
                    vec![
                        (C::ResultWeights, Expr::value(Value::Object(weights))),
                        (C::ResultMetrics, Expr::value(metrics)),
                        (C::Pass1EStar, Expr::value(six_places(s.pass1_optimum))),
                        (C::PrimaryLockEpsilon, Expr::value(six_places(s.epsilon))),
                        (C::Pass1Iterations, Expr::value(s.pass1.iterations as i32)),
                        (C::Pass2Iterations, Expr::value(s.pass2.iterations as i32)),
                        (C::CompletedAt, Expr::value(now())),
                    ],
                )
                .await?;
                Ok(())
            }
            Err(e @ (SolveError::Infeasible(_) | SolveError::Solver { .. })) => {
                fail(db, id, &e.to_string()).await
            }
        }
    }
}

impl Job for Optimizer {
    const NAME: &'static str = JOB_OPTIMIZE;
    const MAX_ATTEMPTS: i32 = 3;
    type Payload = SolveSession;
    type Error = Error;

    async fn run(&self, db: &Database, job: &SolveSession) -> Result<()> {
        self.optimize(db, job.session_id).await
    }

    async fn give_up(&self, db: &Database, job: &SolveSession, reason: &str) -> Result<()> {
        fail(db, job.session_id, reason).await
    }
}
