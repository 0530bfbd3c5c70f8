//! Realized proceeds from a fund's companies (SPEC §3, §12): creation (idempotent) and lists.
//! Distributions are immutable.

use chrono::NaiveDate;
use entity::ExactDecimal;
use entity::distribution::{self, DistributionKind};
use sea_orm::ActiveValue::Set;

use crate::auth::Principal;
use crate::companies;
use crate::context::Service;
use crate::db::now;
use crate::error::{ResourceRef, Result, UniqueIndex, unique};
use crate::fields::{Problems, parse_shares};
use crate::funds;
use crate::idempotency::{self, Idempotency, Keyed, KeyedBy, Outcome};
use crate::in_fund::InFund;

#[derive(Clone, Debug)]
pub struct NewDistribution {
    pub company_id: i64,
    pub distributed_on: NaiveDate,
    pub amount_cents: i64,
    pub kind: DistributionKind,
    /// Shares sold as sent (a decimal string), validated here.
    pub shares_sold: Option<String>,
}

impl InFund for distribution::Entity {
    const NAME: &'static str = "distribution";
    type Id = i64;
    fn fund_column() -> distribution::Column {
        distribution::Column::FundId
    }
    fn id_column() -> distribution::Column {
        distribution::Column::Id
    }
}

impl Keyed for distribution::Entity {
    const KEY_INDEX: UniqueIndex = unique::DISTRIBUTION_KEY;
    fn key_column() -> distribution::Column {
        distribution::Column::IdempotencyKey
    }
    fn parent_column() -> Option<distribution::Column> {
        Some(distribution::Column::FundId)
    }
    fn locate(d: &distribution::Model) -> ResourceRef {
        ResourceRef::Distribution {
            fund_id: d.fund_id,
            id: d.id,
        }
    }
}

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
        input.amount_cents > 0,
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
        amount_cents: Set(input.amount_cents),
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
        move |txn| {
            Box::pin(async move {
                funds::require(txn, fund_id).await?;
                companies::require_named(txn, fund_id, input.company_id).await?;
                Ok(())
            })
        },
    )
    .await
}
