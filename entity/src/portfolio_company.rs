use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ExactDecimal;

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
    Serialize,
    Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    PreSeed,
    Seed,
    SeriesA,
    SeriesB,
    SeriesC,
    Growth,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum CompanyStatus {
    Active,
    Exited,
    WrittenOff,
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

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::fund::Entity",
        from = "Column::FundId",
        to = "super::fund::Column::Id",
        on_delete = "Cascade"
    )]
    Fund,
    #[sea_orm(has_many = "super::investment::Entity")]
    Investment,
}

impl Related<super::fund::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Fund.def()
    }
}

impl Related<super::investment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Investment.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
