//! SeaORM entities of the Updog schema: one module per table (see `migration/` for the DDL).
//!
//! Entities never appear on the wire; the API has its own request and response types. Statuses and
//! kinds are enums stored as text (`DeriveActiveEnum`), matching the CHECK constraints of the migrations.
//! Exact decimals are [`ExactDecimal`], which round-trips on PostgreSQL `numeric` and SQLite `text`.

mod exact_decimal;

pub mod api_key;
pub mod distribution;
pub mod forecast_snapshot;
pub mod fund;
pub mod idempotency_record;
pub mod investment;
pub mod investment_lot;
pub mod job_outbox;
pub mod optimization_session;
pub mod portfolio_company;
pub mod reserve_allocation;
pub mod scenario_matrix;

pub use exact_decimal::ExactDecimal;
