//! HTTP handlers, one module per resource. Every handler is registered here so that the routes and the
//! OpenAPI description come from one source.

use utoipa_actix_web::service_config::ServiceConfig;

pub mod ops;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz).service(ops::readyz);
}
