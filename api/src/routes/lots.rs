//! Purchase lots: `/api/v1/funds/{fund_id}/investments/{investment_id}/lots` (create) and
//! `/api/v1/funds/{fund_id}/lots` (read, list).

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use service::entity::investment_lot;
use service::in_fund;
use service::lots::{self, LotFilter, NewLot};
use service::money::Cents;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::Error;
use crate::extract::{Caller, Creation};
use crate::replies::Written;
use crate::responses::{CreateErrors, Created, ReadErrors, RemoveHeldErrors};
use crate::wire::{
    DecimalText, FundPath, Id, IdempotencyKeyHeader, InvestmentPath, LotPath, LotType, WireDate,
    page_of, page_request,
};
use utoipa_actix_web::service_config::ServiceConfig;

/// A purchase lot: shares bought at one price on one date. Immutable.
#[derive(Serialize, ToSchema)]
pub struct Lot {
    pub id: Uuid,
    pub fund_id: i64,
    pub investment_id: i64,
    pub lot_type: LotType,
    /// Price paid per share in the fund's currency, exact, a decimal string with 8 places.
    #[schema(value_type = String, example = "0.42130000")]
    pub share_price: DecimalText,
    /// Price paid per share in cents, rounded half-up to a whole cent. Deprecated: read `share_price`,
    /// which is exact.
    #[schema(deprecated)]
    pub share_price_cents: i64,
    /// Legal and broker fees, cents: part of the cost basis.
    pub transaction_costs_cents: i64,
    /// Shares bought, a decimal string with 8 places.
    #[schema(value_type = String, example = "1000.12345678")]
    pub shares_acquired: DecimalText,
    /// Total cost including fees, cents.
    pub cost_basis_cents: i64,
    pub acquired_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

impl From<&investment_lot::Model> for Lot {
    fn from(m: &investment_lot::Model) -> Self {
        Self {
            id: m.id,
            fund_id: m.fund_id,
            investment_id: m.investment_id,
            lot_type: m.lot_type.into(),
            share_price: DecimalText::new(
                m.share_price
                    .map_or_else(|| Decimal::new(m.share_price_cents, 2), |p| p.0),
                8,
            ),
            share_price_cents: m.share_price_cents,
            transaction_costs_cents: m.transaction_costs_cents,
            shares_acquired: DecimalText::shares(m.shares_acquired.0),
            cost_basis_cents: m.cost_basis_cents,
            acquired_on: m.acquired_on,
            created_at: m.created_at,
        }
    }
}

page_of! {
    /// A page of lots, newest first.
    LotPage of Lot
}

/// A new lot.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLot {
    pub lot_type: LotType,
    /// Price per share in the fund's currency: a decimal string, at most 8 places (`"0.4213"`). Send
    /// this or `share_price_cents`, exactly one.
    #[schema(pattern = r"^[0-9]{1,14}(\.[0-9]{1,8})?$", example = "0.4213")]
    pub share_price: Option<String>,
    /// Price per share in whole cents, 0 or more (instead of `share_price`).
    #[schema(minimum = 0)]
    pub share_price_cents: Option<i64>,
    /// Legal and broker fees, cents, 0 or more (default 0): part of the cost basis.
    #[schema(minimum = 0)]
    pub transaction_costs_cents: Option<i64>,
    /// Shares bought: a decimal string, greater than 0, at most 8 decimal places.
    #[schema(example = "1000.5", pattern = r"^[0-9]{1,10}(\.[0-9]{1,8})?$")]
    pub shares_acquired: String,
    /// Total cost including fees, cents. Defaults to price × shares rounded half-up to a cent, plus
    /// `transaction_costs_cents`; when given it must be within 1000 cents of that.
    #[schema(minimum = 0)]
    pub cost_basis_cents: Option<i64>,
    /// `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date, example = "2021-03-15")]
    pub acquired_on: WireDate,
}

impl Written for investment_lot::Model {
    type Wire = Lot;
    fn location(&self) -> String {
        format!("/api/v1/funds/{}/lots/{}", self.fund_id, self.id)
    }
}

/// Record a purchase lot of an investment.
#[utoipa::path(
    tag = "lots", operation_id = "create_lot", request_body = CreateLot, params(InvestmentPath, IdempotencyKeyHeader),
    responses(Created<Lot>, CreateErrors)
)]
#[post("/api/v1/funds/{fund_id}/investments/{investment_id}/lots")]
pub async fn create_lot(
    creation: Creation,
    path: web::Path<InvestmentPath>,
) -> Result<HttpResponse, Error> {
    let (fund_id, investment_id) = (path.fund_id.0, path.investment_id.0);
    let scope = format!("POST /api/v1/funds/{fund_id}/investments/{investment_id}/lots");
    creation
        .run(scope, async |svc, principal, input: CreateLot, idem| {
            let input = NewLot {
                lot_type: input.lot_type.into(),
                share_price: input.share_price,
                share_price_cents: input.share_price_cents.map(Cents::new),
                shares_acquired: input.shares_acquired,
                transaction_costs_cents: input.transaction_costs_cents.map(Cents::new),
                cost_basis_cents: input.cost_basis_cents.map(Cents::new),
                acquired_on: input.acquired_on.0,
            };
            lots::create_lot(svc, principal, fund_id, investment_id, input, idem).await
        })
        .await
}

/// Filters of the lot list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LotQuery {
    /// Only lots of this investment (of the same fund).
    #[param(value_type = Option<i64>, minimum = 1)]
    pub investment_id: Option<Id>,
    /// Only lots of this type.
    pub lot_type: Option<LotType>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page (opaque; anything not of this pattern is a 400
    /// `invalid_cursor`).
    #[param(pattern = "^[A-Za-z0-9_-]{32}$")]
    pub cursor: Option<String>,
}

/// List a fund's lots, newest first. Only ever this fund's lots.
#[utoipa::path(
    tag = "lots", operation_id = "list_lots", params(FundPath, LotQuery),
    responses((status = 200, description = "A page of lots.", body = LotPage), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/lots")]
pub async fn list_lots(
    caller: Caller,
    path: web::Path<FundPath>,
    query: web::Query<LotQuery>,
) -> Result<HttpResponse, Error> {
    let q = query.into_inner();
    let page = page_request(q.limit, q.cursor.as_deref())?;
    let filter = LotFilter {
        investment_id: q.investment_id.map(|i| i.0),
        lot_type: q.lot_type.map(Into::into),
    };
    let page = lots::list_lots(
        caller.service(),
        &caller.principal,
        path.fund_id.0,
        filter,
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(LotPage::from(page)))
}

/// Get one lot of the fund.
#[utoipa::path(
    tag = "lots", operation_id = "get_lot", params(LotPath),
    responses((status = 200, description = "The lot.", body = Lot), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/lots/{lot_id}")]
pub async fn get_lot(caller: Caller, path: web::Path<LotPath>) -> Result<HttpResponse, Error> {
    let (fund_id, lot_id) = (path.fund_id, path.lot_id);
    let lot = in_fund::get::<investment_lot::Entity>(
        caller.service(),
        &caller.principal,
        fund_id.0,
        lot_id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(Lot::from(&lot)))
}

/// Delete a mistyped lot (lots are immutable: delete and re-enter); snapshots keep what they captured.
/// Refused with 409 `later_sale_short` when a later distribution sells shares that only this lot held.
#[utoipa::path(
    tag = "lots", operation_id = "delete_lot", params(LotPath),
    responses((status = 204, description = "Deleted."), RemoveHeldErrors)
)]
#[delete("/api/v1/funds/{fund_id}/lots/{lot_id}")]
pub async fn delete_lot(caller: Caller, path: web::Path<LotPath>) -> Result<HttpResponse, Error> {
    lots::delete_lot(
        caller.service(),
        &caller.principal,
        path.fund_id.0,
        path.lot_id,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_lot)
        .service(list_lots)
        .service(get_lot)
        .service(delete_lot);
}
