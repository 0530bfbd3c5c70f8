//! Realized proceeds from a fund's companies (SPEC §3, §12): creation (idempotent) and lists.
//! Distributions are immutable.

use chrono::NaiveDate;
use entity::ExactDecimal;
use entity::distribution::{self, DistributionKind};
use sea_orm::ActiveValue::Set;

use crate::auth::Principal;
use crate::calc::money::Cents;
use crate::companies;
use crate::context::Service;
use crate::db::now;
use crate::error::Result;
use crate::fields::{Problems, parse_shares};
use crate::funds;
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, keyed};
use crate::in_fund::in_fund;

#[derive(Clone, Debug)]
pub struct NewDistribution {
    pub company_id: i64,
    pub distributed_on: NaiveDate,
    pub amount_cents: Cents,
    pub kind: DistributionKind,
    /// Shares sold as sent (a decimal string), validated here.
    pub shares_sold: Option<String>,
}

in_fund!(distribution, "distribution", i64);

keyed!(distribution, DISTRIBUTION_KEY, FundId, in_fund Distribution);

#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn create_distribution(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    input: NewDistribution,
    idem: Option<Idempotency>,
) -> Result<Outcome<distribution::Model>> {
    principal.require_write(fund_id)?;
    let mut p = Problems::default();
    p.check(
        input.amount_cents > Cents::ZERO,
        "/amount_cents",
        "must be greater than 0",
    );
    p.check(input.company_id > 0, "/company_id", "must be a positive id");
    let shares_sold = match input.shares_sold.as_deref() {
        Some(text) => p.absorb(parse_shares(text, "/shares_sold"))?,
        None => None,
    };
    p.finish()?;
    let row = distribution::ActiveModel {
        fund_id: Set(fund_id),
        company_id: Set(input.company_id),
        distributed_on: Set(input.distributed_on),
        amount_cents: Set(input.amount_cents.get()),
        kind: Set(input.kind),
        shares_sold: Set(shares_sold.map(ExactDecimal)),
        idempotency_key: Set(idem.as_ref().map(|i| i.key.as_str().to_owned())),
        created_at: Set(now()),
        ..Default::default()
    };
    idempotency::create_row(
        svc,
        idem,
        KeyedBy::<distribution::Entity>::under(fund_id),
        row,
        companies::fund_and_company(fund_id, input.company_id),
    )
    .await
}

/// What a fund has distributed: how many distributions, their total and the first and last dates (none
/// for a fund without distributions).
#[derive(Clone, Debug, PartialEq, Eq, sea_orm::FromQueryResult)]
pub struct DistributionSummary {
    pub count: i64,
    pub total_cents: i64,
    pub first_on: Option<NaiveDate>,
    pub last_on: Option<NaiveDate>,
}

/// The summary of a fund's distributions, in one aggregate query.
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn summary(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
) -> Result<DistributionSummary> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    principal.require_read(fund_id)?;
    let conn = svc.db.connection();
    funds::require(conn, fund_id).await?;
    let on = || Expr::col(distribution::Column::DistributedOn);
    distribution::Entity::find()
        .select_only()
        .column_as(Expr::col(distribution::Column::Id).count(), "count")
        // PostgreSQL sums a bigint as numeric: cast back, and an empty sum is 0 cents.
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT)"),
            "total_cents",
        )
        .column_as(on().min(), "first_on")
        .column_as(on().max(), "last_on")
        .filter(distribution::Column::FundId.eq(fund_id))
        .into_model::<DistributionSummary>()
        .one(conn)
        .await?
        .ok_or_else(|| crate::Error::Invariant("an aggregate returned no row".into()))
}
