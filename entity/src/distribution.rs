use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ExactDecimal;

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(32))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum DistributionKind {
    Exit,
    PartialSale,
    Dividend,
    Recapitalization,
}

/// Realized proceeds from a company. Immutable once written.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "distributions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub fund_id: i64,
    pub company_id: i64,
    pub distributed_on: Date,
    pub amount_cents: i64,
    pub kind: DistributionKind,
    /// Shares sold by this distribution (reduces shares held), 8 decimal places.
    pub shares_sold: Option<ExactDecimal>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::portfolio_company::Entity",
        from = "Column::CompanyId",
        to = "super::portfolio_company::Column::Id",
        on_delete = "Cascade"
    )]
    PortfolioCompany,
}

impl Related<super::portfolio_company::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PortfolioCompany.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
