use sea_orm::entity::prelude::*;

use crate::ExactDecimal;

text_enum! {
    pub enum LotType in "String(StringLen::N(16))" {
        Initial,
        FollowOn,
        Secondary,
        Conversion,
    }
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
    /// Price per share in cents, rounded half-up to a whole cent (the exact price is `share_price`).
    pub share_price_cents: i64,
    /// Price per share in the fund's currency, exact, up to 8 places; `None` for a lot written before
    /// the column existed, whose price is exactly `share_price_cents / 100`.
    pub share_price: Option<ExactDecimal>,
    /// Legal and broker fees, cents: part of the cost basis.
    pub transaction_costs_cents: i64,
    /// Shares bought, 8 decimal places.
    pub shares_acquired: ExactDecimal,
    /// Cost including fees, in cents (within ±1000 cents of price × shares + transaction costs).
    pub cost_basis_cents: i64,
    pub acquired_on: Date,
    pub idempotency_key: Option<String>,
    /// SHA-256 hex of the canonical request that created the lot.
    pub request_fingerprint: Option<String>,
    pub created_at: DateTimeUtc,
}

no_relations!();
