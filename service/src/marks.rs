//! A company's dated valuations (SPEC §6.4): creation (idempotent), lists and deletion. Every figure
//! asked for a date uses the mark in effect on it; the company's `current_share_price_cents` and
//! `marked_at` are kept equal to its latest mark, in the transaction that changes the marks.
//!
//! A company's price changes by a mark only: `POST …/marks`, a `PATCH` of its current price (a `manual`
//! mark on the UTC day of `marked_at`, replacing one already on that day) or its write-off (a
//! `write_off` mark of 0). Marks are immutable: a wrong one is deleted and entered again.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use entity::ExactDecimal;
use entity::company_mark::{self, MarkSource};
use entity::portfolio_company::{self, CompanyStatus};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::calc::money::round_half_up;
use crate::context::Service;
use crate::db::now;
use crate::distributions::lock_company;
use crate::error::{ConflictCode, Error, Result, unique};
use crate::fields::{Problems, price_cents};
use crate::funds;
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, keyed};
use crate::pagination::{self, Page, PageRequest};

keyed!(company_mark, MARK_KEY, CompanyId, |m| {
    crate::error::ResourceRef::Mark {
        fund_id: m.fund_id,
        company_id: m.company_id,
        id: m.id,
    }
});

/// A new mark as sent: a price as an exact decimal in the fund's currency (`share_price`) or as whole
/// cents (`share_price_cents`), exactly one of them.
#[derive(Clone, Debug)]
pub struct NewMark {
    pub marked_on: NaiveDate,
    pub share_price: Option<String>,
    pub share_price_cents: Option<i64>,
    pub source: MarkSource,
    pub note: Option<String>,
}

#[tracing::instrument(skip_all, fields(fund_id = fund_id, company_id = company_id))]
pub async fn create_mark(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    company_id: i64,
    input: NewMark,
    idem: Option<Idempotency>,
) -> Result<Outcome<company_mark::Model>> {
    principal.require_write(fund_id)?;
    let mut p = Problems::default();
    let price = price_cents(
        &mut p,
        input.share_price.as_deref(),
        input.share_price_cents,
    )?;
    if let Some(note) = &input.note {
        p.check(
            (1..=1000).contains(&note.chars().count()),
            "/note",
            "must be 1 to 1000 characters",
        );
    }
    if input.source == MarkSource::WriteOff {
        p.check(
            price.is_none_or(|c| c.is_zero()),
            "/share_price",
            "a write-off's price is 0",
        );
    }
    p.finish()?;
    let price = price.ok_or_else(|| Error::Invariant("price validated".into()))?;
    let on = input.marked_on;
    idempotency::create(
        svc,
        idem,
        KeyedBy::<company_mark::Entity>::under(company_id),
        move |txn, key| {
            Box::pin(async move {
                funds::require(txn, fund_id).await?;
                lock_company(txn, fund_id, company_id)
                    .await?
                    .ok_or_else(|| Error::not_found("company", company_id))?;
                let mark = company_mark::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    fund_id: Set(fund_id),
                    company_id: Set(company_id),
                    marked_on: Set(on),
                    share_price_cents: Set(ExactDecimal(price)),
                    source: Set(input.source),
                    note: Set(input.note),
                    idempotency_key: Set(key),
                    created_at: Set(now()),
                }
                .insert(txn)
                .await
                .map_err(|e| date_taken(e.into(), company_id, on))?;
                let status =
                    (input.source == MarkSource::WriteOff).then_some(CompanyStatus::WrittenOff);
                follow_marks(txn, fund_id, company_id, None, status, Bump::Yes).await?;
                Ok(Outcome::Created(mark))
            })
        },
    )
    .await
}

/// A violation of the one-mark-per-day index becomes `mark_date_taken`; any other error passes.
fn date_taken(err: Error, company_id: i64, on: NaiveDate) -> Error {
    match &err {
        Error::Database(db) if unique::MARK_DATE.violated_by(db) => Error::Conflict {
            code: ConflictCode::MarkDateTaken,
            message: format!(
                "company {company_id} already has a mark on {on}; delete it to enter another"
            ),
        },
        _ => err,
    }
}

/// Records a mark of `price` cents on `on` in place of any mark on that day (a `PATCH` of the company's
/// price or status), inside the caller's transaction.
pub(crate) async fn replace_mark<C: ConnectionTrait>(
    conn: &C,
    fund_id: i64,
    company_id: i64,
    on: NaiveDate,
    price: Decimal,
    source: MarkSource,
) -> Result<()> {
    company_mark::Entity::delete_many()
        .filter(company_mark::Column::CompanyId.eq(company_id))
        .filter(company_mark::Column::FundId.eq(fund_id))
        .filter(company_mark::Column::MarkedOn.eq(on))
        .exec(conn)
        .await?;
    company_mark::ActiveModel {
        id: Set(Uuid::now_v7()),
        fund_id: Set(fund_id),
        company_id: Set(company_id),
        marked_on: Set(on),
        share_price_cents: Set(ExactDecimal(price)),
        source: Set(source),
        note: Set(None),
        idempotency_key: Set(None),
        created_at: Set(now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Sets the company's current price and `marked_at` to its latest mark (the price rounded half-up to
/// whole cents; `marked_at` the given instant, else the mark's day at 00:00 UTC), and its status when
/// given. The company row changed, so its version moves — unless the caller's own versioned update of
/// the row (a `PATCH`, a create) already counts as this change (`Bump::No`).
pub(crate) async fn follow_marks<C: ConnectionTrait>(
    conn: &C,
    fund_id: i64,
    company_id: i64,
    marked_at: Option<DateTime<Utc>>,
    status: Option<CompanyStatus>,
    bump: Bump,
) -> Result<()> {
    let latest = company_mark::Entity::find()
        .filter(company_mark::Column::CompanyId.eq(company_id))
        .filter(company_mark::Column::FundId.eq(fund_id))
        .order_by_desc(company_mark::Column::MarkedOn)
        .one(conn)
        .await?;
    let (price, at) = match latest {
        Some(m) => (
            round_half_up(m.share_price_cents.0, 0).to_i64(),
            Some(marked_at.unwrap_or_else(|| m.marked_on.and_time(NaiveTime::MIN).and_utc())),
        ),
        None => (None, None),
    };
    let mut update = portfolio_company::ActiveModel {
        current_share_price_cents: Set(price),
        marked_at: Set(at),
        updated_at: Set(now()),
        ..Default::default()
    };
    if let Some(status) = status {
        update.status = Set(status);
    }
    let mut query = portfolio_company::Entity::update_many().set(update);
    if bump == Bump::Yes {
        query = query.col_expr(
            portfolio_company::Column::Version,
            Expr::col(portfolio_company::Column::Version).add(1),
        );
    }
    query
        .filter(portfolio_company::Column::Id.eq(company_id))
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Whether [`follow_marks`] moves the company's version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bump {
    Yes,
    No,
}

/// The mark a company's own create or `PATCH` records (SPEC §6.4): a write-off is a `write_off` mark of
/// 0, a price a `manual` mark, each on the UTC day of `marked_at` (default today).
pub(crate) fn implied_mark(
    price_cents: Option<i64>,
    marked_at: Option<DateTime<Utc>>,
    written_off: bool,
) -> Result<Option<(NaiveDate, Decimal, MarkSource)>> {
    let on = marked_at.unwrap_or_else(now).date_naive();
    match (written_off, price_cents) {
        (true, Some(p)) if p != 0 => Err(Error::invalid(
            "/current_share_price_cents",
            "a written-off company's price is 0: leave it out when writing the company off",
        )),
        (true, _) => Ok(Some((on, Decimal::ZERO, MarkSource::WriteOff))),
        (false, Some(p)) => Ok(Some((on, Decimal::from(p), MarkSource::Manual))),
        (false, None) => Ok(None),
    }
}

/// A page of the company's marks, the most recently entered first.
#[tracing::instrument(skip_all, fields(fund_id = fund_id, company_id = company_id))]
pub async fn list_marks(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    company_id: i64,
    page: PageRequest,
) -> Result<Page<company_mark::Model>> {
    principal.require_read(fund_id)?;
    let conn = svc.db.connection();
    crate::in_fund::find::<portfolio_company::Entity, _>(conn, fund_id, company_id)
        .await?
        .ok_or_else(|| Error::not_found("company", company_id))?;
    let query = company_mark::Entity::find()
        .filter(company_mark::Column::FundId.eq(fund_id))
        .filter(company_mark::Column::CompanyId.eq(company_id));
    pagination::by_time_and_uuid(
        query,
        (company_mark::Column::CreatedAt, company_mark::Column::Id),
        &page,
        conn,
        |m: &company_mark::Model| (m.created_at, m.id),
    )
    .await
}

/// One mark of the company.
pub async fn get_mark(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    company_id: i64,
    id: Uuid,
) -> Result<company_mark::Model> {
    principal.require_read(fund_id)?;
    find_mark(svc.db.connection(), fund_id, company_id, id).await
}

/// The mark `id` of the company, if it is that company's (in that fund).
async fn find_mark<C: ConnectionTrait>(
    conn: &C,
    fund_id: i64,
    company_id: i64,
    id: Uuid,
) -> Result<company_mark::Model> {
    company_mark::Entity::find_by_id(id)
        .filter(company_mark::Column::FundId.eq(fund_id))
        .filter(company_mark::Column::CompanyId.eq(company_id))
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("mark", id))
}

/// Deletes a mark; the company's current price follows its latest remaining mark. Deleting the
/// write-off mark of a written-off company undoes the write-off: the company is active again.
#[tracing::instrument(skip_all, fields(fund_id = fund_id, company_id = company_id, mark_id = %id))]
pub async fn delete_mark(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    company_id: i64,
    id: Uuid,
) -> Result<()> {
    principal.require_write(fund_id)?;
    let txn = svc.db.connection().begin().await?;
    let company = lock_company(&txn, fund_id, company_id)
        .await?
        .ok_or_else(|| Error::not_found("company", company_id))?;
    let mark = find_mark(&txn, fund_id, company_id, id).await?;
    company_mark::Entity::delete_by_id(mark.id)
        .exec(&txn)
        .await?;
    let undo_write_off = mark.source == MarkSource::WriteOff
        && company.status == CompanyStatus::WrittenOff
        && company_mark::Entity::find()
            .filter(company_mark::Column::CompanyId.eq(company_id))
            .filter(company_mark::Column::Source.eq(MarkSource::WriteOff))
            .one(&txn)
            .await?
            .is_none();
    follow_marks(
        &txn,
        fund_id,
        company_id,
        None,
        undo_write_off.then_some(CompanyStatus::Active),
        Bump::Yes,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
