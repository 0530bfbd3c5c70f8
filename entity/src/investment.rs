use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "investments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub fund_id: i64,
    pub company_id: i64,
    pub round_name: String,
    pub invested_on: Date,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
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
    #[sea_orm(has_many = "super::investment_lot::Entity")]
    InvestmentLot,
}

impl Related<super::portfolio_company::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PortfolioCompany.def()
    }
}

impl Related<super::investment_lot::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::InvestmentLot.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
