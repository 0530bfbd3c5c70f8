//! SeaORM entities of the Updog schema: one module per table (see `migration/` for the DDL).
//!
//! Entities never appear on the wire; the API has its own request and response types. Statuses and
//! kinds are enums stored as text (`DeriveActiveEnum`), matching the CHECK constraints of the migrations.
//! Exact decimals are [`ExactDecimal`], which round-trips on PostgreSQL `numeric` and SQLite `text`.

/// Declares a status or kind: a closed set of values stored as snake_case text in a column of type
/// `$db` (the migration's CHECK lists the same values), serialized the same way in snapshots.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident in $db:tt {
            $( $(#[$vmeta:meta])* $variant:ident ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, sea_orm::EnumIter,
            sea_orm::DeriveActiveEnum, serde::Serialize, serde::Deserialize,
        )]
        #[sea_orm(rs_type = "String", db_type = $db, rename_all = "snake_case")]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }
    };
}

/// The rest of an entity: no SeaORM relations and no active-model hooks. Every query is scoped by
/// `fund_id` without a join (SPEC §3) and the foreign keys live in the migrations, where the database
/// enforces them; a relation is declared when a query first needs one (docs/DECISIONS.md).
macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

mod exact_decimal;
pub mod json_document;

pub mod api_key;
pub mod company_mark;
pub mod distribution;
pub mod forecast_snapshot;
pub mod fund;
pub mod fund_forecast;
pub mod idempotency_record;
pub mod investment;
pub mod investment_lot;
pub mod job_outbox;
pub mod optimization_session;
pub mod portfolio_company;
pub mod reserve_allocation;
pub mod scenario_matrix;

pub use exact_decimal::ExactDecimal;
pub use json_document::{JsonDocument, PackedDocument};
