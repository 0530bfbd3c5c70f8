//! Realized proceeds from a fund's companies (SPEC §3, §12): creation (idempotent) and lists.
//! Distributions are immutable. A distribution is written only if the company's lots can support it
//! (SPEC §6.1a, `calc::holdings`): the company's row is locked while its position is read and the
//! distribution written, so that two concurrent sales cannot both sell the same shares.

use chrono::NaiveDate;
use entity::ExactDecimal;
use entity::distribution::{self, DistributionKind};
use entity::portfolio_company::{self, CompanyStatus};
use entity::{investment, investment_lot};
use rust_decimal::Decimal;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter,
    QuerySelect,
};

use crate::auth::Principal;
use crate::calc::holdings::{self, Bought, Breach, Sold};
use crate::calc::money::Cents;
use crate::context::Service;
use crate::db::now;
use crate::error::{Error, Result};
use crate::fields::{Problems, parse_shares, shares_text};
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
    let (company_id, on, kind) = (input.company_id, input.distributed_on, input.kind);
    let amount_cents = input.amount_cents.get();
    idempotency::create(
        svc,
        idem,
        KeyedBy::<distribution::Entity>::under(fund_id),
        move |txn, key| {
            Box::pin(async move {
                funds::require(txn, fund_id).await?;
                lock_company(txn, fund_id, company_id)
                    .await?
                    .ok_or_else(|| {
                        Error::invalid(
                            "/company_id",
                            format!("fund {fund_id} has no company {company_id}"),
                        )
                    })?;
                let (lots, sales) = position(txn, fund_id, company_id).await?;
                let mut new = Sold {
                    id: None,
                    on,
                    kind,
                    shares_sold,
                };
                if kind == DistributionKind::Exit {
                    new.shares_sold = Some(exit_sells(&lots, &sales, &new)?);
                }
                let before = holdings::first_breach(&lots, &sales);
                let mut after = sales;
                after.push(new);
                if let Some(breach) = holdings::first_breach(&lots, &after)
                    && Some(breach) != before
                {
                    return Err(refused_sale(&new, breach));
                }
                let row = distribution::ActiveModel {
                    fund_id: Set(fund_id),
                    company_id: Set(company_id),
                    distributed_on: Set(on),
                    amount_cents: Set(amount_cents),
                    kind: Set(kind),
                    // An exit of a company whose shares were all sold before it sells none.
                    shares_sold: Set(new
                        .shares_sold
                        .filter(|s| *s > Decimal::ZERO)
                        .map(ExactDecimal)),
                    idempotency_key: Set(key),
                    created_at: Set(now()),
                    ..Default::default()
                };
                let created = row.insert(txn).await?;
                if kind == DistributionKind::Exit {
                    mark_exited(txn, fund_id, company_id).await?;
                }
                Ok(Outcome::Created(created))
            })
        },
    )
    .await
}

/// The shares an exit sells: every share held on its date. A stated `shares_sold` must be exactly that.
fn exit_sells(lots: &[Bought], sales: &[Sold], exit: &Sold) -> Result<Decimal> {
    let held = holdings::held_before(lots, sales, exit);
    match exit.shares_sold {
        Some(stated) if stated != held => Err(Error::SharesNotHeld {
            pointer: "/shares_sold",
            shares_held_on_date: held,
            detail: format!(
                "an exit sells every share held on its date: {} on {}, not {}; omit shares_sold or \
                 send exactly that",
                shares_text(held),
                exit.on,
                shares_text(stated)
            ),
        }),
        _ => Ok(held),
    }
}

/// The 422 for a new distribution that the company's lots cannot support.
fn refused_sale(new: &Sold, breach: Breach) -> Error {
    match breach {
        Breach::BeforeFirstLot { first_lot_on, .. } => Error::SharesNotHeld {
            pointer: "/distributed_on",
            shares_held_on_date: Decimal::new(0, 8),
            detail: match first_lot_on {
                Some(first) => format!(
                    "distributed_on {} is before the company's first lot, acquired on {first}: \
                     nothing was held then",
                    new.on
                ),
                None => format!(
                    "the company has no lots, so it held nothing on {} to distribute from",
                    new.on
                ),
            },
        },
        Breach::Oversold {
            id,
            shares_sold,
            shares_held_on_date,
            on,
        } => Error::SharesNotHeld {
            pointer: "/shares_sold",
            shares_held_on_date,
            detail: match id {
                // The new sale itself.
                None => format!(
                    "shares_sold {} is more than the {} shares the company held on {on}",
                    shares_text(shares_sold),
                    shares_text(shares_held_on_date)
                ),
                // A later sale that the new one, dated before it, would leave short.
                Some(later) => format!(
                    "this sale would leave distribution {later} of {on} short: it sells {} shares, \
                     and only {} would be held then",
                    shares_text(shares_sold),
                    shares_text(shares_held_on_date)
                ),
            },
        },
    }
}

/// The company's row, locked until the transaction ends (PostgreSQL; SQLite runs one writer at a
/// time): every write that changes what the company holds takes this lock first. `None` when the
/// fund has no such company.
pub(crate) async fn lock_company<C: ConnectionTrait>(
    conn: &C,
    fund_id: i64,
    company_id: i64,
) -> Result<Option<portfolio_company::Model>> {
    Ok(portfolio_company::Entity::find_by_id(company_id)
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .lock_exclusive()
        .one(conn)
        .await?)
}

/// What the company bought and what it distributed, for `calc::holdings`.
pub(crate) async fn position<C: ConnectionTrait>(
    conn: &C,
    fund_id: i64,
    company_id: i64,
) -> Result<(Vec<Bought>, Vec<Sold>)> {
    let investments: Vec<i64> = investment::Entity::find()
        .select_only()
        .column(investment::Column::Id)
        .filter(investment::Column::FundId.eq(fund_id))
        .filter(investment::Column::CompanyId.eq(company_id))
        .into_tuple()
        .all(conn)
        .await?;
    let lots: Vec<(NaiveDate, ExactDecimal)> = investment_lot::Entity::find()
        .select_only()
        .column(investment_lot::Column::AcquiredOn)
        .column(investment_lot::Column::SharesAcquired)
        .filter(investment_lot::Column::FundId.eq(fund_id))
        .filter(investment_lot::Column::InvestmentId.is_in(investments))
        .into_tuple()
        .all(conn)
        .await?;
    let sales: Vec<(i64, NaiveDate, DistributionKind, Option<ExactDecimal>)> =
        distribution::Entity::find()
            .select_only()
            .column(distribution::Column::Id)
            .column(distribution::Column::DistributedOn)
            .column(distribution::Column::Kind)
            .column(distribution::Column::SharesSold)
            .filter(distribution::Column::FundId.eq(fund_id))
            .filter(distribution::Column::CompanyId.eq(company_id))
            .into_tuple()
            .all(conn)
            .await?;
    Ok((
        lots.into_iter()
            .map(|(on, shares)| Bought {
                on,
                shares: shares.0,
            })
            .collect(),
        sales
            .into_iter()
            .map(|(id, on, kind, shares_sold)| Sold {
                id: Some(id),
                on,
                kind,
                shares_sold: shares_sold.map(|s| s.0),
            })
            .collect(),
    ))
}

/// An exit moves the company to `exited` (a versioned update of its row, in the exit's transaction).
async fn mark_exited<C: ConnectionTrait>(conn: &C, fund_id: i64, company_id: i64) -> Result<()> {
    portfolio_company::Entity::update_many()
        .set(portfolio_company::ActiveModel {
            status: Set(CompanyStatus::Exited),
            updated_at: Set(now()),
            ..Default::default()
        })
        .col_expr(
            portfolio_company::Column::Version,
            Expr::col(portfolio_company::Column::Version).add(1),
        )
        .filter(portfolio_company::Column::Id.eq(company_id))
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .exec(conn)
        .await?;
    Ok(())
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
