//! `/api/v1/funds/{fund_id}/returns`: net returns to the LPs (SPEC §6.6) and the ledger they come from.

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use service::returns::{self as domain, LedgerKind as DomainKind};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::Error;
use crate::extract::Caller;
use crate::negotiate::{Format, Money, csv_response, negotiate};
use crate::responses::TableErrors;
use crate::routes::metrics::FundMetrics;
use crate::wire::{DecimalText, FeeBasis, FundPath, WireDate};
use utoipa_actix_web::service_config::ServiceConfig;

/// The net figures of SPEC §6.6 on `as_of`. Cents are exact; ratios and the IRR are decimal strings with
/// 6 places, `null` while paid-in is 0 (or, for the IRR, when none exists). A snapshot's
/// `calculated_metrics.net` holds the same figures.
#[derive(Serialize, ToSchema)]
pub struct NetFigures {
    /// The valuation date: only flows dated on or before it count, and the NAV uses the marks in
    /// effect on it.
    pub as_of: NaiveDate,
    /// Commitments (the fund's `size_cents`).
    pub committed_cents: i64,
    /// Capital called for investments: the cost basis of every lot acquired by `as_of`.
    pub invested_cents: i64,
    /// Management fees called by `as_of`.
    pub fees_cents: i64,
    /// `invested_cents` + `fees_cents`.
    pub paid_in_cents: i64,
    /// Paid-in / committed.
    #[schema(value_type = Option<String>)]
    pub pic: Option<DecimalText>,
    /// What the waterfall gave the LPs of every distribution by `as_of`.
    pub lp_distributed_cents: i64,
    /// What it gave the GP (catch-up and carry).
    pub gp_carry_paid_cents: i64,
    /// The LPs' part of the NAV in a hypothetical liquidation on `as_of`, clawback included.
    pub lp_nav_cents: i64,
    /// The GP's part of that liquidation, before any clawback.
    pub accrued_carry_cents: i64,
    /// What the GP owes back at `as_of` (American waterfall; 0 for European).
    pub clawback_cents: i64,
    /// LP distributed / paid-in.
    #[schema(value_type = Option<String>)]
    pub dpi: Option<DecimalText>,
    /// LP NAV / paid-in.
    #[schema(value_type = Option<String>)]
    pub rvpi: Option<DecimalText>,
    /// (LP distributed + LP NAV) / paid-in.
    #[schema(value_type = Option<String>)]
    pub tvpi: Option<DecimalText>,
    /// XIRR of the LPs' flows: paid-in negative, LP distributions and the LP NAV (on `as_of`) positive.
    #[schema(value_type = Option<String>)]
    pub net_irr: Option<DecimalText>,
    /// The bridge from gross to net, exact: total value − invested.
    pub gross_profit_cents: i64,
    /// Carry paid + accrued − clawback.
    pub carry_cents: i64,
    /// `gross_profit_cents` − `fees_cents` − `carry_cents`.
    pub net_profit_cents: i64,
}

impl From<&domain::NetReturns> for NetFigures {
    fn from(n: &domain::NetReturns) -> Self {
        Self {
            as_of: n.as_of,
            committed_cents: n.committed_cents,
            invested_cents: n.invested_cents,
            fees_cents: n.fees_cents,
            paid_in_cents: n.paid_in_cents,
            pic: DecimalText::ratio(n.pic),
            lp_distributed_cents: n.lp_distributed_cents,
            gp_carry_paid_cents: n.gp_carry_paid_cents,
            lp_nav_cents: n.lp_nav_cents,
            accrued_carry_cents: n.accrued_carry_cents,
            clawback_cents: n.clawback_cents,
            dpi: DecimalText::ratio(n.dpi),
            rvpi: DecimalText::ratio(n.rvpi),
            tvpi: DecimalText::ratio(n.tvpi),
            net_irr: DecimalText::ratio(n.net_irr),
            gross_profit_cents: n.gross_profit_cents,
            carry_cents: n.carry_cents,
            net_profit_cents: n.net_profit_cents,
        }
    }
}

/// A fund's net returns, with the gross figures of `/moic` on the same date beside them.
#[derive(Serialize, ToSchema)]
pub struct FundReturns {
    pub fund_id: i64,
    /// ISO 4217 code of every amount.
    pub base_currency: String,
    #[serde(flatten)]
    pub net: NetFigures,
    /// The gross figures (SPEC §6.4) on `as_of`.
    pub gross: FundMetrics,
}

/// The valuation date.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReturnsQuery {
    /// Valuation date (`YYYY-MM-DD`); default today (UTC). Before the first close every amount is 0
    /// and every ratio `null`.
    #[param(value_type = Option<String>, format = Date)]
    pub as_of: Option<WireDate>,
}

/// What a ledger line records: a call (`investment`, `management_fee`), a `distribution`, or the
/// hypothetical `liquidation` of the NAV on `as_of` (last; it changes nothing).
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    Investment,
    ManagementFee,
    Distribution,
    Liquidation,
}

impl From<DomainKind> for LedgerKind {
    fn from(k: DomainKind) -> Self {
        match k {
            DomainKind::Investment => Self::Investment,
            DomainKind::ManagementFee => Self::ManagementFee,
            DomainKind::Distribution => Self::Distribution,
            DomainKind::Liquidation => Self::Liquidation,
        }
    }
}

/// One line of the ledger. A call fills the call fields, a distribution or the liquidation the tier
/// fields; the running balances are on every line.
#[derive(Serialize, ToSchema)]
pub struct LedgerLine {
    pub on: NaiveDate,
    pub kind: LedgerKind,
    pub amount_cents: i64,
    /// The lot an investment call paid for.
    pub lot_id: Option<Uuid>,
    pub company_id: Option<i64>,
    pub distribution_id: Option<i64>,
    /// A fee's basis: `commitment` during the commitment period, then the fund's
    /// `post_period_fee_basis`.
    pub fee_basis: Option<FeeBasis>,
    pub fee_basis_cents: Option<i64>,
    /// A fee's annual rate, basis points.
    pub fee_rate_bps: Option<i64>,
    /// Days of the quarter charged (fewer than `quarter_days` in the first and last quarters).
    pub fee_charged_days: Option<i64>,
    pub fee_quarter_days: Option<i64>,
    /// The cost a distribution relieves (FIFO cost of its shares; an exit's whole remaining cost).
    pub relieved_cost_cents: Option<i64>,
    /// Tier 1, return of capital.
    pub lp_tier1_cents: Option<i64>,
    /// Tier 2, preferred return.
    pub lp_tier2_cents: Option<i64>,
    /// Tier 3, catch-up: the LPs' and the GP's parts.
    pub lp_tier3_cents: Option<i64>,
    pub gp_tier3_cents: Option<i64>,
    /// Tier 4, the split.
    pub lp_tier4_cents: Option<i64>,
    pub gp_tier4_cents: Option<i64>,
    /// Everything the LPs and the GP got of this amount: the parts sum to `amount_cents`.
    pub lp_cents: Option<i64>,
    pub gp_cents: Option<i64>,
    /// Paid-in capital after this line.
    pub paid_in_cents: i64,
    /// Capital returned to the LPs (tier 1) after this line.
    pub returned_cents: i64,
    /// The hurdle balance after a distribution (European; with no hurdle, the paid-in capital not yet
    /// returned).
    pub hurdle_balance_cents: Option<i64>,
}

impl From<&domain::LedgerEntry> for LedgerLine {
    fn from(e: &domain::LedgerEntry) -> Self {
        let s = e.split;
        Self {
            on: e.on,
            kind: e.kind.into(),
            amount_cents: e.amount_cents,
            lot_id: e.lot_id,
            company_id: e.company_id,
            distribution_id: e.distribution_id,
            fee_basis: e.fee.map(|f| f.basis.into()),
            fee_basis_cents: e.fee.map(|f| f.basis_cents),
            fee_rate_bps: e.fee.map(|f| f.rate_bps),
            fee_charged_days: e.fee.map(|f| f.charged_days),
            fee_quarter_days: e.fee.map(|f| f.quarter_days),
            relieved_cost_cents: e.relieved_cost_cents,
            lp_tier1_cents: s.map(|s| s.tier1_lp),
            lp_tier2_cents: s.map(|s| s.tier2_lp),
            lp_tier3_cents: s.map(|s| s.tier3_lp),
            gp_tier3_cents: s.map(|s| s.tier3_gp),
            lp_tier4_cents: s.map(|s| s.tier4_lp),
            gp_tier4_cents: s.map(|s| s.tier4_gp),
            lp_cents: s.map(|s| s.lp()),
            gp_cents: s.map(|s| s.gp()),
            paid_in_cents: e.paid_in_cents,
            returned_cents: e.returned_cents,
            hurdle_balance_cents: e.hurdle_balance_cents,
        }
    }
}

/// Every call and distribution of a fund by `as_of`, in event order, then the liquidation.
#[derive(Serialize, ToSchema)]
pub struct ReturnsLedger {
    pub fund_id: i64,
    pub as_of: NaiveDate,
    /// ISO 4217 code of every amount.
    pub base_currency: String,
    /// The whole ledger, in event order: on one date calls come before distributions, investments
    /// before fees, distributions in id order. Not paged: each line's running balances are read in
    /// order, and the CSV is the same table.
    pub data: Vec<LedgerLine>,
}

/// The answer's format (406 before any work), then the fund's returns: what both endpoints start with.
async fn negotiated(
    caller: &Caller,
    fund_id: i64,
    query: &ReturnsQuery,
    req: &HttpRequest,
) -> Result<(Format, std::sync::Arc<domain::FundReturns>), Error> {
    let format = negotiate(req)?;
    let computed = domain::fund_returns(
        caller.service(),
        &caller.principal,
        fund_id,
        query.as_of.map(|d| d.0),
    )
    .await?;
    Ok((format, computed))
}

/// Net returns to the LPs: paid-in capital, DPI, RVPI, TVPI and net IRR after management fees and carried
/// interest, with the bridge from gross to net. Reused while the fund's data is unchanged; with
/// `Accept: text/csv`, the same figures as one row (money with 2 places, then cents).
#[utoipa::path(
    tag = "returns", operation_id = "get_fund_returns", params(FundPath, ReturnsQuery),
    responses((status = 200, description = "The net figures (JSON), or one CSV row of them.", content(
        (FundReturns = "application/json"),
        (String = "text/csv"),
    )), TableErrors)
)]
#[get("/api/v1/funds/{fund_id}/returns")]
pub async fn get_fund_returns(
    caller: Caller,
    path: web::Path<FundPath>,
    query: web::Query<ReturnsQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let fund_id = path.fund_id.0;
    let (format, computed) = negotiated(&caller, fund_id, &query, &req).await?;
    if format == Format::Csv {
        let row = ReturnsRow::from(&computed.net);
        return csv_response(&[row], &format!("fund-{fund_id}-returns.csv"));
    }
    Ok(HttpResponse::Ok().json(FundReturns {
        fund_id,
        base_currency: computed.base_currency.clone(),
        net: NetFigures::from(&computed.net),
        gross: FundMetrics::from(&computed.gross),
    }))
}

/// The ledger of the net returns: every call (a fee with its basis and rate) and every distribution
/// (each tier's LP and GP cents, and the running paid-in, returned capital and hurdle balance), in event
/// order, then the liquidation of the NAV. With `Accept: text/csv`, the same lines as a table.
#[utoipa::path(
    tag = "returns", operation_id = "get_fund_returns_ledger", params(FundPath, ReturnsQuery),
    responses((status = 200, description = "The ledger (JSON), or its lines as CSV (a header line of the field names, one line per entry).", content(
        (ReturnsLedger = "application/json"),
        (String = "text/csv"),
    )), TableErrors)
)]
#[get("/api/v1/funds/{fund_id}/returns/ledger")]
pub async fn get_fund_returns_ledger(
    caller: Caller,
    path: web::Path<FundPath>,
    query: web::Query<ReturnsQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let fund_id = path.fund_id.0;
    let (format, computed) = negotiated(&caller, fund_id, &query, &req).await?;
    if format == Format::Csv {
        let rows: Vec<LedgerRow> = computed
            .ledger
            .iter()
            .map(|e| LedgerRow::from(LedgerLine::from(e)))
            .collect();
        return csv_response(&rows, &format!("fund-{fund_id}-returns-ledger.csv"));
    }
    Ok(HttpResponse::Ok().json(ReturnsLedger {
        fund_id,
        as_of: computed.as_of,
        base_currency: computed.base_currency.clone(),
        data: computed.ledger.iter().map(LedgerLine::from).collect(),
    }))
}

/// The figures as one CSV row: money in the fund's currency with 2 places, then ratios, then cents.
#[derive(Serialize)]
struct ReturnsRow {
    as_of: NaiveDate,
    committed: Money,
    paid_in: Money,
    fees: Money,
    lp_distributed: Money,
    lp_nav: Money,
    gp_carry_paid: Money,
    accrued_carry: Money,
    clawback: Money,
    net_profit: Money,
    pic: Option<DecimalText>,
    dpi: Option<DecimalText>,
    rvpi: Option<DecimalText>,
    tvpi: Option<DecimalText>,
    net_irr: Option<DecimalText>,
    committed_cents: i64,
    invested_cents: i64,
    fees_cents: i64,
    paid_in_cents: i64,
    lp_distributed_cents: i64,
    gp_carry_paid_cents: i64,
    lp_nav_cents: i64,
    accrued_carry_cents: i64,
    clawback_cents: i64,
    gross_profit_cents: i64,
    carry_cents: i64,
    net_profit_cents: i64,
}

impl From<&domain::NetReturns> for ReturnsRow {
    fn from(n: &domain::NetReturns) -> Self {
        Self {
            as_of: n.as_of,
            committed: Money(n.committed_cents),
            paid_in: Money(n.paid_in_cents),
            fees: Money(n.fees_cents),
            lp_distributed: Money(n.lp_distributed_cents),
            lp_nav: Money(n.lp_nav_cents),
            gp_carry_paid: Money(n.gp_carry_paid_cents),
            accrued_carry: Money(n.accrued_carry_cents),
            clawback: Money(n.clawback_cents),
            net_profit: Money(n.net_profit_cents),
            pic: DecimalText::ratio(n.pic),
            dpi: DecimalText::ratio(n.dpi),
            rvpi: DecimalText::ratio(n.rvpi),
            tvpi: DecimalText::ratio(n.tvpi),
            net_irr: DecimalText::ratio(n.net_irr),
            committed_cents: n.committed_cents,
            invested_cents: n.invested_cents,
            fees_cents: n.fees_cents,
            paid_in_cents: n.paid_in_cents,
            lp_distributed_cents: n.lp_distributed_cents,
            gp_carry_paid_cents: n.gp_carry_paid_cents,
            lp_nav_cents: n.lp_nav_cents,
            accrued_carry_cents: n.accrued_carry_cents,
            clawback_cents: n.clawback_cents,
            gross_profit_cents: n.gross_profit_cents,
            carry_cents: n.carry_cents,
            net_profit_cents: n.net_profit_cents,
        }
    }
}

/// A ledger line in CSV: the amounts in the fund's currency with 2 places first, then the details and
/// the same amounts in cents (csv cannot write a flattened struct, so the fields are listed).
#[derive(Serialize)]
struct LedgerRow {
    on: NaiveDate,
    kind: LedgerKind,
    amount: Money,
    lp: Option<Money>,
    gp: Option<Money>,
    paid_in: Money,
    returned: Money,
    hurdle_balance: Option<Money>,
    lot_id: Option<Uuid>,
    company_id: Option<i64>,
    distribution_id: Option<i64>,
    fee_basis: Option<FeeBasis>,
    fee_basis_cents: Option<i64>,
    fee_rate_bps: Option<i64>,
    fee_charged_days: Option<i64>,
    fee_quarter_days: Option<i64>,
    relieved_cost_cents: Option<i64>,
    lp_tier1_cents: Option<i64>,
    lp_tier2_cents: Option<i64>,
    lp_tier3_cents: Option<i64>,
    gp_tier3_cents: Option<i64>,
    lp_tier4_cents: Option<i64>,
    gp_tier4_cents: Option<i64>,
    amount_cents: i64,
    lp_cents: Option<i64>,
    gp_cents: Option<i64>,
    paid_in_cents: i64,
    returned_cents: i64,
    hurdle_balance_cents: Option<i64>,
}

impl From<LedgerLine> for LedgerRow {
    fn from(l: LedgerLine) -> Self {
        Self {
            on: l.on,
            kind: l.kind,
            amount: Money(l.amount_cents),
            lp: l.lp_cents.map(Money),
            gp: l.gp_cents.map(Money),
            paid_in: Money(l.paid_in_cents),
            returned: Money(l.returned_cents),
            hurdle_balance: l.hurdle_balance_cents.map(Money),
            lot_id: l.lot_id,
            company_id: l.company_id,
            distribution_id: l.distribution_id,
            fee_basis: l.fee_basis,
            fee_basis_cents: l.fee_basis_cents,
            fee_rate_bps: l.fee_rate_bps,
            fee_charged_days: l.fee_charged_days,
            fee_quarter_days: l.fee_quarter_days,
            relieved_cost_cents: l.relieved_cost_cents,
            lp_tier1_cents: l.lp_tier1_cents,
            lp_tier2_cents: l.lp_tier2_cents,
            lp_tier3_cents: l.lp_tier3_cents,
            gp_tier3_cents: l.gp_tier3_cents,
            lp_tier4_cents: l.lp_tier4_cents,
            gp_tier4_cents: l.gp_tier4_cents,
            amount_cents: l.amount_cents,
            lp_cents: l.lp_cents,
            gp_cents: l.gp_cents,
            paid_in_cents: l.paid_in_cents,
            returned_cents: l.returned_cents,
            hurdle_balance_cents: l.hurdle_balance_cents,
        }
    }
}

/// Registers this module's routes (the ledger's literal segment first).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_fund_returns_ledger)
        .service(get_fund_returns);
}
