//! Purchase lots of a fund's investments (SPEC §3, §6.1, §12): creation (idempotent, with the cost
//! basis checked against price × shares), reads and filtered lists. Lots are immutable.

use chrono::NaiveDate;
use entity::ExactDecimal;
use entity::investment;
use entity::investment_lot::{self, LotType};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use crate::auth::Principal;
use crate::calc::holdings::{self, Bought, Breach};
use crate::calc::money::{
    COST_BASIS_TOLERANCE_CENTS, Cents, MAX_SAFE_INTEGER, cost_basis_exact_cents, round_half_up,
};
use crate::context::Service;
use crate::db::now;
use crate::distributions;
use crate::error::{Error, Result};
use crate::fields::{Problems, parse_shares, price_cents, shares_text};
use crate::funds;
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, keyed};
use crate::in_fund::{self, in_fund};
use crate::pagination::{self, Page, PageRequest};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

#[derive(Clone, Debug)]
pub struct NewLot {
    pub lot_type: LotType,
    /// Price per share in the fund's currency, exact (a decimal string as sent), or…
    pub share_price: Option<String>,
    /// …in whole cents: exactly one of the two.
    pub share_price_cents: Option<Cents>,
    /// Shares as sent (a decimal string), validated here.
    pub shares_acquired: String,
    /// Legal and broker fees, part of the cost basis (default 0).
    pub transaction_costs_cents: Option<Cents>,
    /// Cost including fees; computed from price × shares + transaction costs when absent.
    pub cost_basis_cents: Option<Cents>,
    pub acquired_on: NaiveDate,
}

/// What a valid lot stores: its exact price (cents), shares, fees and cost basis.
struct Priced {
    price_cents: Decimal,
    shares: Decimal,
    costs: i64,
    cost: i64,
}

/// The lot's price, shares and cost basis, validated: the stated cost must be within the tolerance of
/// price × shares (rounded half-up to a cent) + transaction costs (SPEC §6.1); without one, that is the
/// cost.
fn priced(input: &NewLot) -> Result<Priced> {
    let mut p = Problems::default();
    let price = price_cents(
        &mut p,
        input.share_price.as_deref(),
        input.share_price_cents.map(Cents::get),
    )?;
    let costs = input.transaction_costs_cents.unwrap_or(Cents::ZERO);
    p.check(
        costs >= Cents::ZERO,
        "/transaction_costs_cents",
        "must be 0 or more",
    );
    if let Some(c) = input.cost_basis_cents {
        p.check(c >= Cents::ZERO, "/cost_basis_cents", "must be 0 or more");
    }
    let shares = p.absorb(parse_shares(&input.shares_acquired, "/shares_acquired"))?;
    p.finish()?;
    let (Some(price_cents), Some(shares)) = (price, shares) else {
        return Err(Error::Invariant("price and shares validated".into()));
    };
    let too_large = |pointer| {
        Error::invalid(
            pointer,
            "share price × shares + transaction costs exceeds the largest amount the API handles, \
             2^53 − 1 cents",
        )
    };
    let pointer = if input.share_price.is_some() {
        "/share_price"
    } else {
        "/share_price_cents"
    };
    let expected = cost_basis_exact_cents(price_cents, shares)
        .and_then(|c| c.checked_add(costs.get()))
        .filter(|cents| *cents <= MAX_SAFE_INTEGER)
        .ok_or_else(|| too_large(pointer))?;
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
    Ok(Priced {
        price_cents,
        shares,
        costs: costs.get(),
        cost,
    })
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
    let lot = priced(&input)?;
    let row = investment_lot::ActiveModel {
        id: Set(Uuid::now_v7()),
        fund_id: Set(fund_id),
        investment_id: Set(investment_id),
        lot_type: Set(input.lot_type),
        share_price_cents: Set(round_half_up(lot.price_cents, 0)
            .to_i64()
            .ok_or_else(|| Error::invalid("/share_price", "is too large"))?),
        share_price: Set(Some(ExactDecimal(
            (lot.price_cents / Decimal::ONE_HUNDRED).normalize(),
        ))),
        transaction_costs_cents: Set(lot.costs),
        shares_acquired: Set(ExactDecimal(lot.shares)),
        cost_basis_cents: Set(lot.cost),
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

/// Deletes a mistyped lot (lots are immutable: delete and re-enter), unless a later distribution
/// needs its shares (SPEC §6.1a): then a 409 names that distribution and nothing is deleted. The
/// company's row is locked while its position is read, as a distribution's create does.
#[tracing::instrument(skip_all, fields(fund_id = fund_id, lot_id = %id))]
pub async fn delete_lot(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: Uuid,
) -> Result<()> {
    principal.require_write(fund_id)?;
    let txn = svc.db.connection().begin().await?;
    let lot = in_fund::find::<investment_lot::Entity, _>(&txn, fund_id, id)
        .await?
        .ok_or_else(|| Error::not_found("lot", id))?;
    let company_id = investment::Entity::find_by_id(lot.investment_id)
        .filter(investment::Column::FundId.eq(fund_id))
        .one(&txn)
        .await?
        .ok_or_else(|| Error::Invariant(format!("lot {id} has no investment in its fund")))?
        .company_id;
    distributions::lock_company(&txn, fund_id, company_id).await?;
    let (mut lots, sales) = distributions::position(&txn, fund_id, company_id).await?;
    let before = holdings::first_breach(&lots, &sales);
    let this = Bought {
        on: lot.acquired_on,
        shares: lot.shares_acquired.0,
    };
    if let Some(at) = lots.iter().position(|l| *l == this) {
        lots.remove(at);
    }
    if let Some(breach) = holdings::first_breach(&lots, &sales)
        && Some(breach) != before
    {
        return Err(short_without(id, breach));
    }
    investment_lot::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// The 409 for a lot whose deletion would break a later distribution.
fn short_without(lot_id: Uuid, breach: Breach) -> Error {
    match breach {
        Breach::BeforeFirstLot {
            id,
            on,
            first_lot_on,
            ..
        } => Error::LaterSaleShort {
            distribution_id: id.unwrap_or_default(),
            shares_held_on_date: rust_decimal::Decimal::new(0, 8),
            detail: format!(
                "without lot {lot_id}, distribution {} of {on} would come before the company's \
                 first lot ({}); delete that distribution first",
                id.unwrap_or_default(),
                first_lot_on.map_or_else(|| "none left".to_owned(), |d| format!("acquired on {d}"))
            ),
        },
        Breach::Oversold {
            id,
            on,
            shares_sold,
            shares_held_on_date,
        } => Error::LaterSaleShort {
            distribution_id: id.unwrap_or_default(),
            shares_held_on_date,
            detail: format!(
                "without lot {lot_id}, distribution {} of {on} would sell {} shares when only {} \
                 would be held; delete that distribution first",
                id.unwrap_or_default(),
                shares_text(shares_sold),
                shares_text(shares_held_on_date)
            ),
        },
    }
}
