//! Optimization sessions: `/api/v1/scenario-matrices/{matrix_key}/optimizations` and
//! `/api/v1/optimizations/{optimization_id}`.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service::entity::optimization_session;
use service::optimizations::{self, NewOptimization};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::Error;
use crate::extract::{Caller, Creation, with_etag};
use crate::replies::{Written, poll_later};
use crate::responses::{CancelErrors, CreateErrors, ReadErrors};
use crate::routes::matrices::MatrixPath;
use crate::wire::{IdempotencyKeyHeader, OptimizationPath, OptimizationStatus};
use utoipa_actix_web::service_config::ServiceConfig;

/// What pass 1 optimises.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptimizationObjective {
    /// Maximise the expected multiple E (subject to `cvar_limit` if set).
    MaximizeReturn,
    /// Minimise CVaR (subject to `min_expected_moic` if set).
    MinimizeRisk,
    /// Maximise E − `risk_aversion` × CVaR.
    RiskAdjusted,
}

/// An optimization of the matrix's bucket weights (SPEC §10). Numbers are JSON numbers: the model is
/// solved in floating point, and weights come back as numbers.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOptimization {
    #[schema(value_type = OptimizationObjective)]
    pub objective: String,
    /// λ ≥ 0; required by `risk_adjusted`, refused with the other objectives.
    #[schema(minimum = 0)]
    pub risk_aversion: Option<f64>,
    /// `{bucket: [lo, hi]}` with 0 ≤ lo ≤ hi ≤ 1, buckets of the matrix; a bucket not named keeps [0, 1].
    /// The bounds must let the weights sum to 1.
    #[schema(value_type = Option<BTreeMap<String, Vec<f64>>>)]
    pub weight_bounds: Option<BTreeMap<String, Vec<f64>>>,
    /// α, strictly between 0 and 1 (default 0.95).
    #[schema(exclusive_minimum = 0, exclusive_maximum = 1)]
    pub cvar_confidence: Option<f64>,
    /// Most CVaR_α of the loss (1 − multiple) allowed.
    pub cvar_limit: Option<f64>,
    /// Least expected multiple allowed.
    #[schema(minimum = 0)]
    pub min_expected_moic: Option<f64>,
    /// Pass 2's tolerance on pass 1's optimum (default max(1e-6 × |optimum|, 1e-9)).
    #[schema(exclusive_minimum = 0)]
    pub epsilon: Option<f64>,
}

impl From<CreateOptimization> for NewOptimization {
    fn from(c: CreateOptimization) -> Self {
        Self {
            objective: c.objective,
            risk_aversion: c.risk_aversion,
            weight_bounds: c.weight_bounds.unwrap_or_default(),
            cvar_confidence: c.cvar_confidence,
            cvar_limit: c.cvar_limit,
            min_expected_moic: c.min_expected_moic,
            epsilon: c.epsilon,
        }
    }
}

/// The config as stored: defaults filled in, bounds for every bucket.
#[derive(ToSchema)]
#[allow(dead_code)] // The schema of `Optimization::config`, which is sent as stored.
pub struct OptimizationSettings {
    pub matrix_key: String,
    pub objective: OptimizationObjective,
    pub risk_aversion: Option<f64>,
    pub weight_bounds: BTreeMap<String, Vec<f64>>,
    pub cvar_confidence: f64,
    pub cvar_limit: Option<f64>,
    pub min_expected_moic: Option<f64>,
    pub epsilon: Option<f64>,
}

/// How one solver pass ended. A pass solves a few programs in rounds, each representing CVaR only as
/// far as needed (docs/DECISIONS.md, "The optimizer at the API's limits").
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SolverPass {
    /// Clarabel's status of the pass's last program: `solved` or `almost_solved` on a completed
    /// session.
    pub status: String,
    /// Interior-point iterations over all the pass's programs.
    pub iterations: u32,
    /// The solver's own time over all the pass's programs, in milliseconds (not the CVaR computed
    /// between them).
    pub solve_time_ms: f64,
    /// |primal − dual objective| of the last program, plus how far the CVaR of the weights (from the
    /// whole matrix) lies above the program's value of it: a bound on the distance from the optimum.
    pub duality_gap: f64,
    /// CVaR's supporting hyperplanes in the last program (0 when it used the scenario form or no CVaR).
    pub cuts: u32,
    /// Scenarios with Rockafellar–Uryasev rows in the last program (0 when it used cuts or no CVaR).
    pub tail_scenarios: u32,
}

/// The chosen weights' risk and return, computed from the matrix, and the certificate.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OptimizationMetrics {
    /// E: the mean multiple over the scenarios.
    pub expected_moic: f64,
    /// CVaR_α of the loss 1 − multiple.
    pub cvar: f64,
    /// VaR_α of the loss (its α-quantile).
    pub var: f64,
    /// Share of scenarios whose multiple is below 1.
    pub loss_probability: f64,
    pub cvar_confidence: f64,
    /// Pass 1's optimum: E* (maximize_return), CVaR* (minimize_risk) or max E − λ·CVaR.
    pub pass1_optimum: f64,
    /// How far pass 2 could move from pass 1's optimum.
    pub epsilon: f64,
    /// The largest violation of the constraints (bounds, Σ = 1, CVaR limit, minimum E) recomputed from
    /// the weights against the matrix.
    pub max_violation: f64,
    pub pass1: SolverPass,
    pub pass2: SolverPass,
    /// The user's own plan — the matrix's `capital_allocation_pct` as weights — and its figures over the
    /// same scenarios, beside the optimum's.
    pub plan: Option<PlanMetrics>,
}

/// The plan's weights and their risk and return, computed from the matrix like the optimum's.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PlanMetrics {
    /// `{bucket: capital_allocation_pct ÷ 100}`.
    pub weights: BTreeMap<String, f64>,
    pub expected_moic: f64,
    pub cvar: f64,
    pub var: f64,
    pub loss_probability: f64,
    /// How far the plan is from the optimization's constraints (0: it satisfies them).
    pub max_violation: f64,
}

/// An optimization session.
#[derive(Serialize, ToSchema)]
pub struct Optimization {
    pub id: Uuid,
    pub fund_id: i64,
    /// The scenario matrix optimised over.
    pub matrix_key: Option<String>,
    pub status: OptimizationStatus,
    #[schema(value_type = OptimizationSettings)]
    pub config: serde_json::Value,
    /// `{bucket: weight}` (JSON numbers, summing to 1) once completed.
    #[schema(value_type = Option<BTreeMap<String, f64>>)]
    pub weights: Option<serde_json::Value>,
    #[schema(value_type = Option<OptimizationMetrics>)]
    pub metrics: Option<serde_json::Value>,
    /// Why it failed: the constraints that cannot hold together, or what stopped the solver.
    pub error_message: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<&optimization_session::Model> for Optimization {
    fn from(m: &optimization_session::Model) -> Self {
        Self {
            id: m.id,
            fund_id: m.fund_id,
            matrix_key: optimizations::matrix_key_of(m),
            status: m.status.into(),
            config: m.config.clone(),
            weights: m.result_weights.clone(),
            metrics: m.result_metrics.clone(),
            error_message: m.error_message.clone(),
            version: m.version,
            created_at: m.created_at,
            started_at: m.started_at,
            completed_at: m.completed_at,
            updated_at: m.updated_at,
        }
    }
}

fn session_response(m: &optimization_session::Model) -> HttpResponse {
    let mut response = with_etag(&Optimization::from(m), m.version);
    if matches!(
        OptimizationStatus::from(m.status),
        OptimizationStatus::Pending | OptimizationStatus::Running
    ) {
        poll_later(&mut response);
    }
    response
}

impl Written for optimization_session::Model {
    type Wire = Optimization;
    fn location(&self) -> String {
        format!("/api/v1/optimizations/{}", self.id)
    }
}

/// Queue an optimization of a complete matrix's bucket weights; poll `Location`.
#[utoipa::path(
    tag = "optimizations", operation_id = "create_optimization", request_body = CreateOptimization, params(MatrixPath, IdempotencyKeyHeader),
    responses(
        (status = 202, description = "Queued: poll `Location`.", body = Optimization, headers(("Location" = String, description = "The session."), ("Retry-After" = u32, description = "Seconds before polling."), ("Idempotent-Replayed" = String, description = "`true` on a replayed response."))),
        CreateErrors
    )
)]
#[post("/api/v1/scenario-matrices/{matrix_key}/optimizations")]
pub async fn create_optimization(
    creation: Creation,
    path: web::Path<MatrixPath>,
) -> Result<HttpResponse, Error> {
    let key = path.into_inner().matrix_key;
    let scope = format!("POST /api/v1/scenario-matrices/{key}/optimizations");
    creation
        .run(
            scope,
            async |svc, principal, input: CreateOptimization, idem| {
                optimizations::create_optimization(svc, principal, &key, input.into(), idem).await
            },
        )
        .await
}

/// One session (with `Retry-After` while pending or running).
#[utoipa::path(
    tag = "optimizations", operation_id = "get_optimization", params(OptimizationPath),
    responses((status = 200, description = "The session.", body = Optimization, headers(("ETag" = String, description = "The version, quoted."), ("Retry-After" = u32, description = "Present while pending or running."))), ReadErrors)
)]
#[get("/api/v1/optimizations/{optimization_id}")]
pub async fn get_optimization(
    caller: Caller,
    path: web::Path<OptimizationPath>,
) -> Result<HttpResponse, Error> {
    let session =
        optimizations::get_optimization(caller.service(), &caller.principal, path.optimization_id)
            .await?;
    Ok(session_response(&session))
}

/// Cancel a pending session (409 `optimization_not_pending` once it has started); answers the
/// cancelled session.
#[utoipa::path(
    tag = "optimizations", operation_id = "cancel_optimization", params(OptimizationPath),
    responses((status = 200, description = "Cancelled.", body = Optimization), CancelErrors)
)]
#[delete("/api/v1/optimizations/{optimization_id}")]
pub async fn cancel_optimization(
    caller: Caller,
    path: web::Path<OptimizationPath>,
) -> Result<HttpResponse, Error> {
    let session = optimizations::cancel_optimization(
        caller.service(),
        &caller.principal,
        path.optimization_id,
    )
    .await?;
    Ok(session_response(&session))
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_optimization)
        .service(get_optimization)
        .service(cancel_optimization);
}
