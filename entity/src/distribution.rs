use sea_orm::entity::prelude::*;

use crate::ExactDecimal;

text_enum! {
    pub enum DistributionKind in "String(StringLen::N(32))" {
        Exit,
        PartialSale,
        Dividend,
        Recapitalization,
    }
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

no_relations!();
