//! Realized proceeds from a fund's companies (SPEC §3, §12): creation (idempotent) and lists.
//! Distributions are immutable.

use chrono::NaiveDate;
use entity::ExactDecimal;
use entity::distribution::{self, DistributionKind};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::auth::Principal;
use crate::companies;
use crate::context::Service;
use crate::db::now;
use crate::error::{Error, ResourceRef, Result, unique};
use crate::fields::{Problems, parse_shares};
use crate::funds;
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, Rendered};
use crate::pagination::{self, Page, PageRequest};

#[derive(Clone, Debug)]
pub struct NewDistribution {
    pub company_id: i64,
    pub distributed_on: NaiveDate,
    pub amount_cents: i64,
    pub kind: DistributionKind,
    /// Shares sold as sent (a decimal string), validated here.
    pub shares_sold: Option<String>,
}

#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn create_distribution(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    input: NewDistribution,
    idem: Option<Idempotency>,
    render: impl Fn(&distribution::Model) -> Result<Rendered> + Send + Sync,
) -> Result<Outcome> {
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
        KeyedBy::<distribution::Entity> {
            index: unique::DISTRIBUTION_KEY,
            key_column: distribution::Column::IdempotencyKey,
            parent: Some((distribution::Column::FundId, fund_id.into())),
            locate: |d| ResourceRef::Distribution {
                fund_id: d.fund_id,
                id: d.id,
            },
        },
        row,
        move |txn| {
            Box::pin(async move {
                funds::require(txn, fund_id).await?;
                companies::require_named(txn, fund_id, input.company_id).await?;
                Ok(())
            })
        },
        render,
    )
    .await
}

#[tracing::instrument(skip_all, fields(fund_id = fund_id, distribution_id = id))]
pub async fn get_distribution(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: i64,
) -> Result<distribution::Model> {
    principal.require_read(fund_id)?;
    distribution::Entity::find_by_id(id)
        .filter(distribution::Column::FundId.eq(fund_id))
        .one(svc.db.connection())
        .await?
        .ok_or_else(|| Error::not_found("distribution", id))
}

#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn list_distributions(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    page: PageRequest,
) -> Result<Page<distribution::Model>> {
    principal.require_read(fund_id)?;
    let conn = svc.db.connection();
    funds::require(conn, fund_id).await?;
    let query = distribution::Entity::find().filter(distribution::Column::FundId.eq(fund_id));
    pagination::by_id(query, distribution::Column::Id, &page, conn, |d| d.id).await
}

/// Deletes a mistyped distribution (distributions are immutable: a correction deletes and re-enters).
/// Snapshots keep what they captured.
#[tracing::instrument(skip_all, fields(fund_id = fund_id, distribution_id = id))]
pub async fn delete_distribution(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: i64,
) -> Result<()> {
    principal.require_write(fund_id)?;
    let result = distribution::Entity::delete_many()
        .filter(distribution::Column::Id.eq(id))
        .filter(distribution::Column::FundId.eq(fund_id))
        .exec(svc.db.connection())
        .await?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(Error::not_found("distribution", id))
    }
}
