//! Operational endpoints: liveness and readiness.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use service::cache::RedisState;
use utoipa::ToSchema;

use crate::error::Error;
use crate::problem::Problem;
use crate::state::AppState;
use utoipa_actix_web::service_config::ServiceConfig;

/// The process is alive.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process can serve requests: its database answers.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// `up`: the database answered a query.
    #[schema(example = "up")]
    pub database: &'static str,
    /// Redis is optional: `up`, `down` (the service falls back to the database) or `not_configured`.
    #[schema(example = "not_configured")]
    pub redis: &'static str,
}

fn redis_label(state: RedisState) -> &'static str {
    match state {
        RedisState::NotConfigured => "not_configured",
        RedisState::Up => "up",
        RedisState::Down => "down",
    }
}

/// Liveness: answers as long as the process runs; touches nothing else.
#[utoipa::path(
    tag = "ops",
    operation_id = "get_healthz",
    responses((status = 200, description = "The process is alive.", body = Health)),
    security(()),
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the database answers a query; Redis's state is reported but does not decide readiness.
#[utoipa::path(
    tag = "ops",
    operation_id = "get_readyz",
    responses(
        (status = 200, description = "The database is reachable.", body = Readiness),
        (status = 503, description = "The database is unreachable.", body = Problem,
            content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ),
    security(()),
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    if state.service.db.is_down() {
        let redis = service::cache::redis_state(state.redis.as_ref()).await;
        return Err(Error::DatabaseUnavailable {
            redis: redis_label(redis),
        });
    }
    let (database, redis) = tokio::join!(
        state.service.db.ping(),
        service::cache::redis_state(state.redis.as_ref())
    );
    let redis = redis_label(redis);
    match database {
        Ok(()) => Ok(HttpResponse::Ok().json(Readiness {
            status: "ready",
            database: "up",
            redis,
        })),
        Err(e) => {
            if e.means_database_lost() {
                state.service.db.report_unavailable();
            }
            tracing::warn!(error = %crate::error::error_chain(&e), "readiness check failed");
            Err(Error::DatabaseUnavailable { redis })
        }
    }
}

/// Prometheus metrics in the text exposition format: requests and latency by route and status, database
/// pool use, outbox jobs by type and status, matrix-cache lookups per tier. For scrapers on the
/// operators' network: it needs no key, like `/healthz`, and shows no fund data.
#[utoipa::path(
    tag = "ops",
    operation_id = "get_metrics",
    responses(
        (status = 200, description = "The metrics.", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 503, description = "The database is unreachable.", body = Problem,
            content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ),
    security(()),
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let text = state.metrics.render(&state.service).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}
