//! `/api/v1/funds/{fund_id}/companies/{company_id}/marks`: a company's dated valuations (SPEC §6.4).

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use service::entity::company_mark;
use service::marks::{self, NewMark};
use service::money::round_half_up;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::Error;
use crate::extract::{Caller, Creation};
use crate::replies::Written;
use crate::responses::{CreateErrors, Created, ReadErrors, RemoveErrors};
use crate::wire::{
    CompanyPath, DecimalText, Id, IdempotencyKeyHeader, MarkSource, WireDate, page_of, page_request,
};
use utoipa_actix_web::service_config::ServiceConfig;

/// A company's valuation on a date: every figure asked for a date on or after `marked_on` (and before
/// the company's next mark) values its shares at this price. Immutable: delete and enter again.
#[derive(Serialize, ToSchema)]
pub struct Mark {
    pub id: Uuid,
    pub fund_id: i64,
    pub company_id: i64,
    /// The day the price takes effect.
    #[schema(value_type = String, format = Date, example = "2025-03-31")]
    pub marked_on: NaiveDate,
    /// Price per share in the fund's currency, exact, a decimal string with 8 places.
    #[schema(value_type = String, example = "0.42130000")]
    pub share_price: DecimalText,
    /// Price per share in cents, rounded half-up to a whole cent. Deprecated: read `share_price`,
    /// which is exact.
    #[schema(deprecated)]
    pub share_price_cents: i64,
    pub source: MarkSource,
    /// Why the price, in the manager's words; `null` when none was given.
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A price in exact cents as the wire writes it: the currency amount with 8 places.
pub fn price_text(cents: Decimal) -> DecimalText {
    DecimalText::new(cents / Decimal::ONE_HUNDRED, 8)
}

/// A price in exact cents rounded half-up to a whole cent (the deprecated `share_price_cents`).
pub fn whole_cents(cents: Decimal) -> i64 {
    round_half_up(cents, 0).to_i64().unwrap_or(i64::MAX)
}

impl From<&company_mark::Model> for Mark {
    fn from(m: &company_mark::Model) -> Self {
        Self {
            id: m.id,
            fund_id: m.fund_id,
            company_id: m.company_id,
            marked_on: m.marked_on,
            share_price: price_text(m.share_price_cents.0),
            share_price_cents: whole_cents(m.share_price_cents.0),
            source: m.source.into(),
            note: m.note.clone(),
            created_at: m.created_at,
        }
    }
}

impl Written for company_mark::Model {
    type Wire = Mark;
    fn location(&self) -> String {
        format!(
            "/api/v1/funds/{}/companies/{}/marks/{}",
            self.fund_id, self.company_id, self.id
        )
    }
}

page_of! {
    /// A page of marks, the most recently entered first.
    MarkPage of Mark
}

/// A new mark: the price as `share_price` (exact, in the fund's currency) or `share_price_cents`
/// (whole cents), exactly one.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMark {
    /// The day the price takes effect, `YYYY-MM-DD`; one mark per company and day.
    #[schema(value_type = String, format = Date, example = "2025-03-31")]
    pub marked_on: WireDate,
    /// Price per share in the fund's currency: a decimal string, at most 8 places, e.g. `"0.4213"`.
    #[schema(pattern = r"^[0-9]{1,14}(\.[0-9]{1,8})?$", example = "0.4213")]
    pub share_price: Option<String>,
    /// Price per share in whole cents, 0 or more (instead of `share_price`).
    #[schema(minimum = 0, maximum = 9007199254740991i64)]
    pub share_price_cents: Option<i64>,
    /// Where the price comes from. `write_off` (price 0) writes the company off from `marked_on`.
    pub source: MarkSource,
    /// Why the price, 1 to 1000 characters.
    #[schema(min_length = 1, max_length = 1000)]
    pub note: Option<String>,
}

/// `/funds/{fund_id}/companies/{company_id}/marks/{mark_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MarkPath {
    /// The fund.
    #[param(value_type = i64, minimum = 1)]
    pub fund_id: Id,
    /// A company of that fund.
    #[param(value_type = i64, minimum = 1)]
    pub company_id: Id,
    /// A mark of that company.
    pub mark_id: Uuid,
}

/// A page of marks.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MarkQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page (opaque; anything not of this pattern is a 400
    /// `invalid_cursor`).
    #[param(pattern = "^[A-Za-z0-9_-]{32}$")]
    pub cursor: Option<String>,
}

/// Record a company's valuation on a date.
#[utoipa::path(
    tag = "marks", operation_id = "create_mark", request_body = CreateMark,
    params(CompanyPath, IdempotencyKeyHeader),
    responses(Created<Mark>, CreateErrors)
)]
#[post("/api/v1/funds/{fund_id}/companies/{company_id}/marks")]
pub async fn create_mark(
    creation: Creation,
    path: web::Path<CompanyPath>,
) -> Result<HttpResponse, Error> {
    let (fund_id, company_id) = (path.fund_id.0, path.company_id.0);
    let scope = format!("POST /api/v1/funds/{fund_id}/companies/{company_id}/marks");
    creation
        .run(scope, async |svc, principal, input: CreateMark, idem| {
            let input = NewMark {
                marked_on: input.marked_on.0,
                share_price: input.share_price,
                share_price_cents: input.share_price_cents,
                source: input.source.into(),
                note: input.note,
            };
            marks::create_mark(svc, principal, fund_id, company_id, input, idem).await
        })
        .await
}

/// List a company's marks, the most recently entered first.
#[utoipa::path(
    tag = "marks", operation_id = "list_marks", params(CompanyPath, MarkQuery),
    responses((status = 200, description = "A page of marks.", body = MarkPage), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/companies/{company_id}/marks")]
pub async fn list_marks(
    caller: Caller,
    path: web::Path<CompanyPath>,
    query: web::Query<MarkQuery>,
) -> Result<HttpResponse, Error> {
    let q = query.into_inner();
    let page = page_request(q.limit, q.cursor.as_deref())?;
    let page = marks::list_marks(
        caller.service(),
        &caller.principal,
        path.fund_id.0,
        path.company_id.0,
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(MarkPage::from(page)))
}

/// Get one mark of a company.
#[utoipa::path(
    tag = "marks", operation_id = "get_mark", params(MarkPath),
    responses((status = 200, description = "The mark.", body = Mark), ReadErrors)
)]
#[get("/api/v1/funds/{fund_id}/companies/{company_id}/marks/{mark_id}")]
pub async fn get_mark(caller: Caller, path: web::Path<MarkPath>) -> Result<HttpResponse, Error> {
    let mark = marks::get_mark(
        caller.service(),
        &caller.principal,
        path.fund_id.0,
        path.company_id.0,
        path.mark_id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(Mark::from(&mark)))
}

/// Delete a mark; the company's current price becomes its latest remaining mark. Deleting the
/// write-off mark of a written-off company makes it active again. Snapshots keep what they captured.
#[utoipa::path(
    tag = "marks", operation_id = "delete_mark", params(MarkPath),
    responses((status = 204, description = "Deleted."), RemoveErrors)
)]
#[delete("/api/v1/funds/{fund_id}/companies/{company_id}/marks/{mark_id}")]
pub async fn delete_mark(caller: Caller, path: web::Path<MarkPath>) -> Result<HttpResponse, Error> {
    marks::delete_mark(
        caller.service(),
        &caller.principal,
        path.fund_id.0,
        path.company_id.0,
        path.mark_id,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers this module's routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_mark)
        .service(list_marks)
        .service(get_mark)
        .service(delete_mark);
}
