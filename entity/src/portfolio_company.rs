use sea_orm::entity::prelude::*;

use crate::ExactDecimal;

text_enum! {
    pub enum Stage in "String(StringLen::N(16))" {
        PreSeed,
        Seed,
        SeriesA,
        SeriesB,
        SeriesC,
        Growth,
    }
}

text_enum! {
    pub enum CompanyStatus in "String(StringLen::N(16))" {
        Active,
        Exited,
        WrittenOff,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "portfolio_companies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub fund_id: i64,
    pub name: String,
    pub sector: Option<String>,
    pub stage: Stage,
    pub status: CompanyStatus,
    /// Latest mark, in cents per share.
    pub current_share_price_cents: Option<i64>,
    pub marked_at: Option<DateTimeUtc>,
    /// Expected exit multiple on invested capital, in basis points (10000 = 1.00x).
    pub exit_moic_bps: Option<i64>,
    /// Probability of that exit, in [0, 1], 6 decimal places.
    pub exit_probability: Option<ExactDecimal>,
    /// Expected multiple on the next dollar of reserves, in basis points.
    pub reserve_exit_moic_bps: Option<i64>,
    pub planned_reserves_cents: i64,
    pub allocation_cap_cents: Option<i64>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

no_relations!();
