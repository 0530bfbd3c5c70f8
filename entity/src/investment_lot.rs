use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ExactDecimal;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum LotType {
    Initial,
    FollowOn,
    Secondary,
    Conversion,
}

/// A purchase lot. Immutable once written.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "investment_lots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub fund_id: i64,
    pub investment_id: i64,
    pub lot_type: LotType,
    pub share_price_cents: i64,
    /// Shares bought, 8 decimal places.
    pub shares_acquired: ExactDecimal,
    /// Cost including fees, in cents (within ±1000 cents of price × shares).
    pub cost_basis_cents: i64,
    pub acquired_on: Date,
    pub idempotency_key: Option<String>,
    /// SHA-256 hex of the canonical request that created the lot.
    pub request_fingerprint: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::investment::Entity",
        from = "Column::InvestmentId",
        to = "super::investment::Column::Id",
        on_delete = "Cascade"
    )]
    Investment,
}

impl Related<super::investment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Investment.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
