use sea_orm::entity::prelude::*;

text_enum! {
    pub enum FundStatus in "String(StringLen::N(16))" {
        Active,
        Closed,
    }
}

text_enum! {
    /// What the management fee is charged on after the commitment period (SPEC §6.6).
    pub enum FeeBasis in "String(StringLen::N(32))" {
        /// The whole commitment (`size_cents`).
        Commitment,
        /// The cost of the investments still held before the quarter's first day (ILPA's usual basis
        /// after the investment period).
        NetInvestedCapital,
    }
}

text_enum! {
    /// How distributions are divided between the LPs and the GP (SPEC §6.6).
    pub enum WaterfallKind in "String(StringLen::N(16))" {
        /// Whole of fund: all capital and the preferred return first, then the catch-up and the split.
        European,
        /// Deal by deal: the capital of realized deals first, then the split, with a clawback at the end.
        American,
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
    /// The first close; `None` reads as 1 January of `vintage_year` (SPEC §6.6).
    pub first_close_on: Option<Date>,
    pub commitment_period_years: i32,
    pub term_years: i32,
    /// Annual fee after the commitment period; `None` reads as `management_fee_bps`.
    pub post_period_fee_bps: Option<i32>,
    pub post_period_fee_basis: FeeBasis,
    pub hurdle_bps: i32,
    pub catch_up_bps: i32,
    pub waterfall: WaterfallKind,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
    /// Moves, in the same transaction, with every write to the fund's row or to the rows of its
    /// companies, marks, investments, lots and distributions (database triggers, migration
    /// `m20261202_000020`): equal versions mean an unchanged fund state.
    pub state_version: i64,
    /// Moves with `state_version` by every write to the fund's investments and lots, and by nothing
    /// else (migration `m20261202_000022`): equal versions mean the same lots.
    pub holdings_version: i64,
}

no_relations!();
