//! Purchase lots of a fund's investments (SPEC §3, §6.1, §12): creation (idempotent, with the cost
//! basis checked against price × shares), reads and filtered lists. Lots are immutable.

use chrono::NaiveDate;
use entity::ExactDecimal;
use entity::investment;
use entity::investment_lot::{self, LotType};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::auth::Principal;
use crate::calc::money::{COST_BASIS_TOLERANCE_CENTS, Cents, MAX_SAFE_INTEGER, cost_basis_cents};
use crate::context::Service;
use crate::db::now;
use crate::error::{Error, Result};
use crate::fields::{Problems, parse_shares};
use crate::funds;
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, keyed};
use crate::in_fund::in_fund;
use crate::pagination::{self, Page, PageRequest};

#[derive(Clone, Debug)]
pub struct NewLot {
    pub lot_type: LotType,
    pub share_price_cents: Cents,
    /// Shares as sent (a decimal string), validated here.
    pub shares_acquired: String,
    /// Cost including fees; computed from price × shares when absent.
    pub cost_basis_cents: Option<Cents>,
    pub acquired_on: NaiveDate,
}

/// The lot's shares and cost basis, validated: the stated cost must be within the tolerance of
/// price × shares (SPEC §6.1); without one, the computed cost is used.
fn shares_and_cost(input: &NewLot) -> Result<(rust_decimal::Decimal, i64)> {
    let mut p = Problems::default();
    p.check(
        input.share_price_cents >= Cents::ZERO,
        "/share_price_cents",
        "must be 0 or more",
    );
    if let Some(c) = input.cost_basis_cents {
        p.check(c >= Cents::ZERO, "/cost_basis_cents", "must be 0 or more");
    }
    let shares = p.absorb(parse_shares(&input.shares_acquired, "/shares_acquired"))?;
    p.finish()?;
    let shares = shares.ok_or_else(|| Error::Invariant("shares validated".into()))?;
    let expected = cost_basis_cents(input.share_price_cents.get(), shares)
        .filter(|cents| *cents <= MAX_SAFE_INTEGER)
        .ok_or_else(|| {
            Error::invalid(
                "/share_price_cents",
                "share price × shares exceeds the largest amount the API handles, 2^53 − 1 cents",
            )
        })?;
    let cost = match input.cost_basis_cents.map(Cents::get) {
        None => expected,
        Some(given) if given.abs_diff(expected) > COST_BASIS_TOLERANCE_CENTS as u64 => {
            return Err(Error::CostBasisMismatch {
                expected,
                given,
                tolerance: COST_BASIS_TOLERANCE_CENTS,
            });
        }
        Some(given) => given,
    };
    Ok((shares, cost))
}

in_fund!(investment_lot, "lot", Uuid);

keyed!(investment_lot, LOT_KEY, InvestmentId, in_fund Lot);

#[tracing::instrument(skip_all, fields(fund_id = fund_id, investment_id = investment_id))]
pub async fn create_lot(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    investment_id: i64,
    input: NewLot,
    idem: Option<Idempotency>,
) -> Result<Outcome<investment_lot::Model>> {
    principal.require_write(fund_id)?;
    let (shares, cost) = shares_and_cost(&input)?;
    let row = investment_lot::ActiveModel {
        id: Set(Uuid::now_v7()),
        fund_id: Set(fund_id),
        investment_id: Set(investment_id),
        lot_type: Set(input.lot_type),
        share_price_cents: Set(input.share_price_cents.get()),
        shares_acquired: Set(ExactDecimal(shares)),
        cost_basis_cents: Set(cost),
        acquired_on: Set(input.acquired_on),
        idempotency_key: Set(idem.as_ref().map(|i| i.key.as_str().to_owned())),
        request_fingerprint: Set(idem.as_ref().map(|i| i.fingerprint.clone())),
        created_at: Set(now()),
    };
    idempotency::create_row(
        svc,
        idem,
        KeyedBy::<investment_lot::Entity>::under(investment_id),
        row,
        // The investment must be this fund's: another fund's investment is simply not found here. (The
        // composite foreign key refuses it too; this check names it for the answer.)
        move |txn| {
            Box::pin(async move {
                investment::Entity::find_by_id(investment_id)
                    .filter(investment::Column::FundId.eq(fund_id))
                    .one(txn)
                    .await?
                    .ok_or_else(|| Error::not_found("investment", investment_id))?;
                Ok(())
            })
        },
    )
    .await
}

#[derive(Clone, Copy, Debug, Default)]
pub struct LotFilter {
    pub investment_id: Option<i64>,
    pub lot_type: Option<LotType>,
}

/// The fund's lots, newest first. Always filtered by the fund in the path.
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn list_lots(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    filter: LotFilter,
    page: PageRequest,
) -> Result<Page<investment_lot::Model>> {
    principal.require_read(fund_id)?;
    let conn = svc.db.connection();
    funds::require(conn, fund_id).await?;
    let mut query =
        investment_lot::Entity::find().filter(investment_lot::Column::FundId.eq(fund_id));
    if let Some(i) = filter.investment_id {
        query = query.filter(investment_lot::Column::InvestmentId.eq(i));
    }
    if let Some(t) = filter.lot_type {
        query = query.filter(investment_lot::Column::LotType.eq(t));
    }
    pagination::by_time_and_uuid(
        query,
        (
            investment_lot::Column::CreatedAt,
            investment_lot::Column::Id,
        ),
        &page,
        conn,
        |l: &investment_lot::Model| (l.created_at, l.id),
    )
    .await
}
