//! Optimization sessions (SPEC §10): a config posted against a stored scenario matrix, solved in the
//! background by an outbox job (`job.rs`) with the two-pass model of `model.rs`.

pub use crate::calc::optimizer as model;

mod job;

pub use job::{JOB_OPTIMIZE, Optimizer, SolveSession};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::job_outbox;
use entity::optimization_session::{self, OptimizationStatus};
use entity::scenario_matrix::MatrixStatus;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Principal;
use crate::context::Service;
use crate::db::now;
use crate::error::{ConflictCode, Error, FieldError, ResourceRef, Result};
use crate::fields::Problems;
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, keyed};
use crate::matrices::{MatrixRecord, store as matrix_store};
use model::{Model, Objective};

/// What pass 1 optimises, as the wire and the stored config name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveName {
    MaximizeReturn,
    MinimizeRisk,
    RiskAdjusted,
}

/// A session's config as requested (before it meets the matrix).
#[derive(Clone, Debug, Default)]
pub struct NewOptimization {
    pub objective: String,
    pub risk_aversion: Option<f64>,
    /// `{bucket: [lo, hi]}`; buckets not named keep [0, 1].
    pub weight_bounds: BTreeMap<String, Vec<f64>>,
    pub cvar_confidence: Option<f64>,
    pub cvar_limit: Option<f64>,
    pub min_expected_moic: Option<f64>,
    pub epsilon: Option<f64>,
}

/// The config as stored and answered: every default filled in, bounds for every bucket, in the matrix's
/// column order when read back through `buckets`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizationConfig {
    pub matrix_key: String,
    pub objective: ObjectiveName,
    pub risk_aversion: Option<f64>,
    pub weight_bounds: BTreeMap<String, [f64; 2]>,
    pub cvar_confidence: f64,
    pub cvar_limit: Option<f64>,
    pub min_expected_moic: Option<f64>,
    pub epsilon: Option<f64>,
}

/// α when the request names none.
pub const DEFAULT_CVAR_CONFIDENCE: f64 = 0.95;

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

impl OptimizationConfig {
    /// The solver's model, bounds in `buckets` (column) order.
    pub fn model(&self, buckets: &[String]) -> Model {
        Model {
            objective: match self.objective {
                ObjectiveName::MaximizeReturn => Objective::MaximizeReturn,
                ObjectiveName::MinimizeRisk => Objective::MinimizeRisk,
                ObjectiveName::RiskAdjusted => Objective::RiskAdjusted {
                    risk_aversion: self.risk_aversion.unwrap_or_default(),
                },
            },
            bounds: buckets
                .iter()
                .map(|b| {
                    self.weight_bounds
                        .get(b)
                        .map_or((0.0, 1.0), |[lo, hi]| (*lo, *hi))
                })
                .collect(),
            cvar_confidence: self.cvar_confidence,
            cvar_limit: self.cvar_limit,
            min_expected_moic: self.min_expected_moic,
            epsilon: self.epsilon,
        }
    }
}

/// Every rule of a config against its matrix, each broken one named by its JSON pointer.
fn validate(input: NewOptimization, matrix: &MatrixRecord) -> Result<OptimizationConfig> {
    let mut p = Problems::default();
    if matrix.status != MatrixStatus::Complete {
        p.push(FieldError::new(
            "",
            format!(
                "the scenario matrix {} is {:?}, not complete: only a complete matrix can be optimized",
                matrix.matrix_key, matrix.status
            )
            .to_lowercase(),
        ));
    }
    let objective = match input.objective.as_str() {
        "maximize_return" => Some(ObjectiveName::MaximizeReturn),
        "minimize_risk" => Some(ObjectiveName::MinimizeRisk),
        "risk_adjusted" => Some(ObjectiveName::RiskAdjusted),
        _ => None,
    };
    p.check(
        objective.is_some(),
        "/objective",
        "must be one of maximize_return, minimize_risk, risk_adjusted",
    );
    match (objective, input.risk_aversion) {
        (Some(ObjectiveName::RiskAdjusted), None) => p.push(FieldError::new(
            "/risk_aversion",
            "is required by the objective risk_adjusted",
        )),
        (Some(ObjectiveName::RiskAdjusted), Some(l)) => p.check(
            l.is_finite() && l >= 0.0,
            "/risk_aversion",
            "must be 0 or more",
        ),
        (_, Some(_)) => p.push(FieldError::new(
            "/risk_aversion",
            "applies only to the objective risk_adjusted",
        )),
        (_, None) => {}
    }
    let alpha = input.cvar_confidence.unwrap_or(DEFAULT_CVAR_CONFIDENCE);
    p.check(
        alpha.is_finite() && alpha > 0.0 && alpha < 1.0,
        "/cvar_confidence",
        "must be strictly between 0 and 1",
    );
    let buckets = matrix.buckets();
    let mut bounds = BTreeMap::new();
    for (name, pair) in &input.weight_bounds {
        let at = format!("/weight_bounds/{}", escape(name));
        if !buckets.contains(name) {
            p.push(FieldError::new(
                at,
                format!(
                    "the matrix has no bucket {name:?} (its buckets: {})",
                    buckets.join(", ")
                ),
            ));
            continue;
        }
        match pair.as_slice() {
            [lo, hi] if (0.0..=1.0).contains(lo) && (0.0..=1.0).contains(hi) && lo <= hi => {
                bounds.insert(name.clone(), [*lo, *hi]);
            }
            _ => p.push(FieldError::new(at, "must be [lo, hi] with 0 ≤ lo ≤ hi ≤ 1")),
        }
    }
    for b in &buckets {
        bounds.entry(b.clone()).or_insert([0.0, 1.0]);
    }
    let (low, high): (f64, f64) = bounds
        .values()
        .fold((0.0, 0.0), |(l, h), [lo, hi]| (l + lo, h + hi));
    if low > 1.0 + 1e-12 || high < 1.0 - 1e-12 {
        p.push(FieldError::new(
            "/weight_bounds",
            format!("weights cannot sum to 1 within these bounds (lower ends sum to {low}, upper ends to {high})"),
        ));
    }
    p.check(
        input.cvar_limit.is_none_or(f64::is_finite),
        "/cvar_limit",
        "must be a finite number",
    );
    p.check(
        input
            .min_expected_moic
            .is_none_or(|m| m.is_finite() && m >= 0.0),
        "/min_expected_moic",
        "must be 0 or more",
    );
    p.check(
        input.epsilon.is_none_or(|e| e.is_finite() && e > 0.0),
        "/epsilon",
        "must be greater than 0",
    );
    p.finish()?;
    Ok(OptimizationConfig {
        matrix_key: matrix.matrix_key.clone(),
        objective: objective.ok_or_else(|| Error::Invariant("objective checked above".into()))?,
        risk_aversion: input.risk_aversion,
        weight_bounds: bounds,
        cvar_confidence: alpha,
        cvar_limit: input.cvar_limit,
        min_expected_moic: input.min_expected_moic,
        epsilon: input.epsilon,
    })
}

keyed!(optimization_session, OPTIMIZATION_KEY, MatrixId, |o| {
    ResourceRef::Optimization(o.id)
});

/// Queues an optimization of the matrix `matrix_key` (SPEC §10), idempotently (SPEC §4): the session
/// and its job in one transaction, queued.
#[tracing::instrument(skip_all, fields(matrix_key = matrix_key))]
pub async fn create_optimization(
    svc: &Service,
    principal: &Principal,
    matrix_key: &str,
    input: NewOptimization,
    idem: Option<Idempotency>,
) -> Result<Outcome<optimization_session::Model>> {
    let matrix = match matrix_store::find(svc.db.connection(), matrix_key).await? {
        Some(m) if principal.may_read(m.fund_id) => m,
        _ => return Err(Error::not_found("scenario matrix", matrix_key)),
    };
    principal.require_write(matrix.fund_id)?;
    let record = MatrixRecord::of(&matrix);
    // The matrix is named by the path: the refusal is of the whole request.
    record.refuse_unbounded("")?;
    let config = validate(input, &record)?;
    let (fund_id, matrix_id) = (matrix.fund_id, matrix.id);
    idempotency::create(
        svc,
        idem,
        KeyedBy::<optimization_session::Entity>::under(matrix_id),
        move |txn, key| Box::pin(insert(txn, fund_id, matrix_id, config, key)),
    )
    .await
    .inspect(|outcome| {
        if outcome.queued() {
            svc.db.jobs_queued().ring()
        }
    })
}

async fn insert(
    txn: &DatabaseTransaction,
    fund_id: i64,
    matrix_id: Uuid,
    config: OptimizationConfig,
    key: Option<String>,
) -> Result<Outcome<optimization_session::Model>> {
    let at = now();
    let config = serde_json::to_value(&config)
        .map_err(|e| Error::Invariant(format!("optimization config: {e}")))?;
    let session = optimization_session::ActiveModel {
        id: Set(Uuid::now_v7()),
        fund_id: Set(fund_id),
        matrix_id: Set(matrix_id),
        config: Set(config),
        status: Set(OptimizationStatus::Pending),
        pass1_e_star: Set(None),
        primary_lock_epsilon: Set(None),
        result_weights: Set(None),
        result_metrics: Set(None),
        pass1_iterations: Set(None),
        pass2_iterations: Set(None),
        error_message: Set(None),
        started_at: Set(None),
        completed_at: Set(None),
        idempotency_key: Set(key),
        created_at: Set(at),
        updated_at: Set(at),
        version: Set(1),
    }
    .insert(txn)
    .await?;
    job(&session, at)?.insert(txn).await?;
    Ok(Outcome::Queued(session))
}

/// The outbox row that solves a session (SPEC §10): deduplicated by the session's id.
fn job(
    session: &optimization_session::Model,
    at: DateTime<Utc>,
) -> Result<job_outbox::ActiveModel> {
    let payload = SolveSession {
        session_id: session.id,
    };
    let dedupe = Some(session.id.to_string());
    crate::outbox::queue::<Optimizer>(Some(session.fund_id), dedupe, &payload, at)
}

/// A session the caller may read; another fund's is not found (SPEC §13).
pub async fn get_optimization(
    svc: &Service,
    principal: &Principal,
    id: Uuid,
) -> Result<optimization_session::Model> {
    match optimization_session::Entity::find_by_id(id)
        .one(svc.db.connection())
        .await?
    {
        Some(s) if principal.may_read(s.fund_id) => Ok(s),
        _ => Err(Error::not_found("optimization", id)),
    }
}

/// The matrix key a session was posted against (kept in its config).
pub fn matrix_key_of(session: &optimization_session::Model) -> Option<String> {
    session
        .config
        .get("matrix_key")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// Cancels a pending session (`DELETE`); a running or finished one is a 409.
pub async fn cancel_optimization(
    svc: &Service,
    principal: &Principal,
    id: Uuid,
) -> Result<optimization_session::Model> {
    let session = get_optimization(svc, principal, id).await?;
    principal.require_write(session.fund_id)?;
    let conn = svc.db.connection();
    use optimization_session::Column as C;
    let done = optimization_session::Entity::update_many()
        .col_expr(C::Status, Expr::value(OptimizationStatus::Cancelled))
        .col_expr(C::UpdatedAt, Expr::value(now()))
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .filter(C::Id.eq(id))
        .filter(C::Status.eq(OptimizationStatus::Pending))
        .exec(conn)
        .await?;
    let current = get_optimization(svc, principal, id).await?;
    if done.rows_affected == 1 || current.status == OptimizationStatus::Cancelled {
        return Ok(current);
    }
    Err(Error::Conflict {
        code: ConflictCode::OptimizationNotPending,
        message: format!(
            "the optimization is {:?}; only a pending one can be cancelled",
            current.status
        )
        .to_lowercase(),
    })
}
