//! Updog's schema migrations (sea-orm-migration), one file per migration, named
//! `mYYYYMMDD_HHMMSS_<verb>_<noun>`. Each `down` restores exactly the schema before its `up`.
//!
//! Run them with `cargo run -p migration -- <up|down|status|fresh|refresh|reset>` or
//! `sea-orm-cli migrate <same> -d migration`; see `migration/README.md`.

pub use sea_orm_migration::prelude::*;

pub mod lint;
pub mod safety;

mod common;
mod m20261122_000001_create_funds;
mod m20261122_000002_create_portfolio_companies;
mod m20261122_000003_create_investments;
mod m20261122_000004_create_investment_lots;
mod m20261122_000005_create_distributions;
mod m20261122_000006_create_forecast_snapshots;
mod m20261122_000007_create_reserve_allocations;
mod m20261122_000008_create_job_outbox;
mod m20261122_000009_create_scenario_matrices;
mod m20261122_000010_create_optimization_sessions;
mod m20261122_000011_create_idempotency_records;
mod m20261122_000012_create_api_keys;
mod m20261122_000013_create_index_distributions_company_date;
mod m20261130_000014_compress_snapshot_documents_with_lz4;
mod m20261202_000015_create_company_marks;
mod m20261202_000016_add_lot_exact_price_and_costs;
mod m20261202_000017_add_fund_terms;
mod m20261202_000018_create_fund_forecasts;
mod m20261202_000019_create_index_scenario_matrices_fund_cursor;
mod m20261202_000020_add_fund_state_version;
mod m20261202_000021_store_snapshot_documents_as_zstd;
mod m20261202_000022_add_fund_holdings_version;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_funds::Migration),
            Box::new(m20261122_000002_create_portfolio_companies::Migration),
            Box::new(m20261122_000003_create_investments::Migration),
            Box::new(m20261122_000004_create_investment_lots::Migration),
            Box::new(m20261122_000005_create_distributions::Migration),
            Box::new(m20261122_000006_create_forecast_snapshots::Migration),
            Box::new(m20261122_000007_create_reserve_allocations::Migration),
            Box::new(m20261122_000008_create_job_outbox::Migration),
            Box::new(m20261122_000009_create_scenario_matrices::Migration),
            Box::new(m20261122_000010_create_optimization_sessions::Migration),
            Box::new(m20261122_000011_create_idempotency_records::Migration),
            Box::new(m20261122_000012_create_api_keys::Migration),
            Box::new(m20261122_000013_create_index_distributions_company_date::Migration),
            Box::new(m20261130_000014_compress_snapshot_documents_with_lz4::Migration),
            Box::new(m20261202_000015_create_company_marks::Migration),
            Box::new(m20261202_000016_add_lot_exact_price_and_costs::Migration),
            Box::new(m20261202_000017_add_fund_terms::Migration),
            Box::new(m20261202_000018_create_fund_forecasts::Migration),
            Box::new(m20261202_000019_create_index_scenario_matrices_fund_cursor::Migration),
            Box::new(m20261202_000020_add_fund_state_version::Migration),
            Box::new(m20261202_000021_store_snapshot_documents_as_zstd::Migration),
            Box::new(m20261202_000022_add_fund_holdings_version::Migration),
        ]
    }
}

/// Migrations whose risk score is above the lint threshold, each with the reviewed reason it is
/// acceptable. Add an entry only after reviewing the finding; the reason is printed by every lint run.
pub fn risk_acknowledgements() -> &'static [(&'static str, &'static str)] {
    &[(
        "m20261202_000021_store_snapshot_documents_as_zstd",
        "changes the type of forecast_snapshots.inputs and calculated_metrics (jsonb to bytea): one \
         rewrite of a table of few rows under its lock; no reader queries inside the documents, and \
         the service deployed with it is the only one that reads them (docs/DECISIONS.md)",
    )]
}

/// Lints every migration's PostgreSQL SQL.
pub async fn lint_all() -> Result<Vec<lint::Report>, DbErr> {
    let acks = risk_acknowledgements();
    let mut out = Vec::new();
    for m in Migrator::migrations() {
        let sql =
            safety::render(m.as_ref(), sea_orm_migration::sea_orm::DbBackend::Postgres).await?;
        let findings = lint::lint_statements(&sql);
        out.push(lint::Report {
            migration: m.name().to_owned(),
            score: lint::score(&findings),
            findings,
            acknowledgement: acks.iter().find(|(n, _)| *n == m.name()).map(|(_, r)| *r),
        });
    }
    Ok(out)
}
