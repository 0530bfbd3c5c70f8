//! HTTP handlers, one module per resource, named as the service's modules and the OpenAPI tags are.
//! Every handler is registered here so that the routes and the OpenAPI description come from one
//! source.

use utoipa_actix_web::service_config::ServiceConfig;

pub mod api_keys;
pub mod companies;
pub mod distributions;
pub mod funds;
pub mod investments;
pub mod lots;
pub mod matrices;
pub mod metrics;
pub mod ops;
pub mod optimizations;
pub mod reserves;
pub mod snapshots;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(funds::create_fund)
        .service(funds::list_funds)
        .service(funds::get_fund)
        .service(funds::update_fund)
        .service(funds::delete_fund)
        .service(companies::create_company)
        .service(companies::list_companies)
        .service(companies::get_company)
        .service(companies::update_company)
        .service(companies::delete_company)
        .service(investments::create_investment)
        .service(investments::list_investments)
        .service(investments::get_investment)
        .service(investments::update_investment)
        .service(investments::delete_investment)
        .service(lots::create_lot)
        .service(lots::list_lots)
        .service(lots::get_lot)
        .service(lots::delete_lot)
        .service(distributions::create_distribution)
        .service(distributions::list_distributions)
        .service(distributions::get_distribution)
        .service(distributions::delete_distribution)
        .service(metrics::get_fund_moic)
        .service(metrics::list_lot_moic)
        .service(reserves::get_reserve_rankings)
        .service(reserves::get_reserve_plan)
        .service(reserves::update_reserve_plan)
        .service(snapshots::create_snapshot)
        .service(snapshots::list_snapshots)
        .service(snapshots::get_snapshot)
        .service(snapshots::list_snapshot_allocations)
        .service(snapshots::update_snapshot)
        .service(snapshots::delete_snapshot)
        .service(snapshots::apply_snapshot)
        .service(api_keys::create_api_key)
        .service(api_keys::list_api_keys)
        .service(api_keys::get_api_key)
        .service(api_keys::delete_api_key)
        .service(matrices::create_scenario_matrix)
        .service(matrices::get_scenario_matrix)
        .service(matrices::invalidate_cache)
        .service(matrices::get_cache_stats)
        .service(optimizations::create_optimization)
        .service(optimizations::get_optimization)
        .service(optimizations::cancel_optimization);
}
