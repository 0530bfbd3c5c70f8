use sea_orm::entity::prelude::*;

text_enum! {
    pub enum FundStatus in "String(StringLen::N(16))" {
        Active,
        Closed,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "funds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub size_cents: i64,
    pub vintage_year: i32,
    pub management_fee_bps: i32,
    pub carry_bps: i32,
    /// Share of the fund kept for follow-ons, in basis points (10000 = 100%).
    pub reserve_ratio_bps: i32,
    pub base_currency: String,
    pub status: FundStatus,
    pub reserve_plan_version: i64,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

no_relations!();
