//! HTTP handlers, one module per resource, named as the service's modules and the OpenAPI tags are.
//! Each module registers its own handlers (`routes`), so that the routes and the OpenAPI description
//! come from one source and a new endpoint touches its module only.

use utoipa_actix_web::service_config::ServiceConfig;

pub mod api_keys;
pub mod companies;
pub mod distributions;
pub mod forecasts;
pub mod funds;
pub mod investments;
pub mod lots;
pub mod marks;
pub mod matrices;
pub mod metrics;
pub mod ops;
pub mod optimizations;
pub mod reserves;
pub mod returns;
pub mod snapshots;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    ops::routes(cfg);
    funds::routes(cfg);
    companies::routes(cfg);
    investments::routes(cfg);
    lots::routes(cfg);
    marks::routes(cfg);
    distributions::routes(cfg);
    metrics::routes(cfg);
    reserves::routes(cfg);
    returns::routes(cfg);
    snapshots::routes(cfg);
    forecasts::routes(cfg);
    api_keys::routes(cfg);
    matrices::routes(cfg);
    optimizations::routes(cfg);
}
