use sea_orm::entity::prelude::*;

use crate::ExactDecimal;

/// Where a mark's price comes from.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum MarkSource {
    /// The price of a priced financing round.
    #[sea_orm(string_value = "round")]
    #[serde(rename = "round")]
    Round,
    /// A secondary transaction.
    #[sea_orm(string_value = "secondary")]
    #[serde(rename = "secondary")]
    Secondary,
    /// A 409A valuation.
    #[sea_orm(string_value = "409a")]
    #[serde(rename = "409a")]
    Valuation409a,
    /// The manager's own mark.
    #[sea_orm(string_value = "manual")]
    #[serde(rename = "manual")]
    Manual,
    /// The company was written off: worth 0 from this date.
    #[sea_orm(string_value = "write_off")]
    #[serde(rename = "write_off")]
    WriteOff,
}

/// A company's valuation on a date (SPEC §6.4). Immutable once written; one per company and date.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "company_marks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub fund_id: i64,
    pub company_id: i64,
    pub marked_on: Date,
    /// Cents per share, exact, up to 8 decimal places.
    pub share_price_cents: ExactDecimal,
    pub source: MarkSource,
    pub note: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
}

no_relations!();
