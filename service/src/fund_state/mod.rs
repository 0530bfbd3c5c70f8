//! Loading a fund's state for the calculations (SPEC §6) and for snapshots (SPEC §7.1): the one place
//! that reads companies, lots and distributions in bulk. [`load_state`] works on any connection or
//! transaction. (A binary `COPY` reader for the MOIC's reads was removed once SeaORM's queries measured
//! within SPEC §16's target: docs/DECISIONS.md.)

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use entity::ExactDecimal;
use entity::company_mark::{self, MarkSource};
use entity::distribution::DistributionKind;
use entity::fund::{FeeBasis, WaterfallKind};
use entity::investment_lot::LotType;
use entity::portfolio_company::{CompanyStatus, Stage};
use entity::{distribution, fund, investment, investment_lot, portfolio_company};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DerivePartialModel, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

pub use crate::calc::state::{
    CompanyState, DistributionState, FundState, LotState, MarkState, PortfolioState,
};

use crate::calc::money::{Bps, Cents};
use crate::calc::terms::FundTerms;
use crate::error::{Error, Result};

/// Reads everything the calculations need in five queries, whatever the size of the fund, on any
/// connection or transaction. The queries run concurrently when the pool allows it, and select only the
/// columns used (partial models: much cheaper than whole models for ten thousand lots).
#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn load_state<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<PortfolioState> {
    load_state_with_lots(conn, fund_id, async {
        Ok(Arc::new(load_lots(conn, fund_id).await?))
    })
    .await
}

/// [`load_state`] with the fund's lots from `lots` (read, or kept from an earlier read of the same
/// holdings: `metrics::reuse::load_state_reusing`), awaited with the other queries.
pub async fn load_state_with_lots<C, L>(conn: &C, fund_id: i64, lots: L) -> Result<PortfolioState>
where
    C: ConnectionTrait,
    L: Future<Output = Result<Arc<Vec<LotState>>>>,
{
    let (fund, companies, lots, distributions, marks) = futures::join!(
        fund::Entity::find_by_id(fund_id)
            .into_partial_model::<FundRow>()
            .one(conn),
        portfolio_company::Entity::find()
            .filter(portfolio_company::Column::FundId.eq(fund_id))
            .order_by_asc(portfolio_company::Column::Id)
            .into_partial_model::<CompanyRow>()
            .all(conn),
        lots,
        distribution::Entity::find()
            .filter(distribution::Column::FundId.eq(fund_id))
            .order_by_asc(distribution::Column::Id)
            .into_partial_model::<DistributionRow>()
            .all(conn),
        company_mark::Entity::find()
            .filter(company_mark::Column::FundId.eq(fund_id))
            .order_by_asc(company_mark::Column::CompanyId)
            .order_by_asc(company_mark::Column::MarkedOn)
            .into_partial_model::<MarkRow>()
            .all(conn),
    );
    let mut marks_of: HashMap<i64, Vec<MarkState>> = HashMap::new();
    for m in marks? {
        marks_of.entry(m.company_id).or_default().push(MarkState {
            marked_on: m.marked_on,
            share_price_cents: m.share_price_cents.0.normalize(),
            source: m.source,
        });
    }
    let fund = fund?.ok_or_else(|| Error::not_found("fund", fund_id))?;
    let lots = lots?;
    Ok(PortfolioState {
        fund: FundState {
            id: fund.id,
            size_cents: Cents::new(fund.size_cents),
            // The schema's CHECK keeps it within 0..=10000.
            reserve_ratio_bps: Bps::new(fund.reserve_ratio_bps.into()).ok_or_else(|| {
                Error::Invariant(format!("fund {fund_id}: reserve ratio out of range"))
            })?,
            terms: Some(fund.terms()?),
            base_currency: fund.base_currency,
        },
        companies: companies?
            .into_iter()
            .map(|row| {
                let mut company = CompanyState::from(row);
                company.marks = Some(marks_of.remove(&company.id).unwrap_or_default());
                company
            })
            .collect(),
        lots,
        distributions: distributions?
            .into_iter()
            .map(DistributionState::from)
            .collect(),
    })
}

#[derive(DerivePartialModel)]
#[sea_orm(entity = "fund::Entity")]
struct FundRow {
    id: i64,
    size_cents: i64,
    vintage_year: i32,
    management_fee_bps: i32,
    carry_bps: i32,
    reserve_ratio_bps: i32,
    base_currency: String,
    first_close_on: Option<NaiveDate>,
    commitment_period_years: i32,
    term_years: i32,
    post_period_fee_bps: Option<i32>,
    post_period_fee_basis: FeeBasis,
    hurdle_bps: i32,
    catch_up_bps: i32,
    waterfall: WaterfallKind,
}

impl FundRow {
    /// The terms with SPEC §6.6's defaults filled in; the schema's CHECKs keep every one in range.
    fn terms(&self) -> Result<FundTerms> {
        let bps = |v: i32, what: &str| {
            Bps::new(v.into())
                .ok_or_else(|| Error::Invariant(format!("fund {}: {what} out of range", self.id)))
        };
        let years = |v: i32, what: &str| {
            u32::try_from(v)
                .map_err(|_| Error::Invariant(format!("fund {}: {what} out of range", self.id)))
        };
        Ok(FundTerms {
            committed: Cents::new(self.size_cents),
            first_close_on: self
                .first_close_on
                .or_else(|| NaiveDate::from_ymd_opt(self.vintage_year, 1, 1))
                .ok_or_else(|| Error::Invariant(format!("fund {}: vintage year", self.id)))?,
            commitment_period_years: years(self.commitment_period_years, "commitment period")?,
            term_years: years(self.term_years, "term")?,
            management_fee: bps(self.management_fee_bps, "management fee")?,
            post_period_fee: bps(
                self.post_period_fee_bps.unwrap_or(self.management_fee_bps),
                "post-period fee",
            )?,
            post_period_fee_basis: self.post_period_fee_basis,
            carry: bps(self.carry_bps, "carry")?,
            hurdle: bps(self.hurdle_bps, "hurdle")?,
            catch_up: bps(self.catch_up_bps, "catch-up")?,
            waterfall: self.waterfall,
        })
    }
}

#[derive(DerivePartialModel)]
#[sea_orm(entity = "portfolio_company::Entity")]
struct CompanyRow {
    id: i64,
    name: String,
    stage: Stage,
    status: CompanyStatus,
    current_share_price_cents: Option<i64>,
    exit_moic_bps: Option<i64>,
    exit_probability: Option<ExactDecimal>,
    reserve_exit_moic_bps: Option<i64>,
    planned_reserves_cents: i64,
    allocation_cap_cents: Option<i64>,
}

impl From<CompanyRow> for CompanyState {
    fn from(r: CompanyRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            stage: r.stage,
            status: r.status,
            current_share_price_cents: r.current_share_price_cents,
            exit_moic_bps: r.exit_moic_bps,
            exit_probability: r.exit_probability.map(|p| p.0),
            reserve_exit_moic_bps: r.reserve_exit_moic_bps,
            planned_reserves_cents: r.planned_reserves_cents,
            allocation_cap_cents: r.allocation_cap_cents,
            marks: None,
        }
    }
}

#[derive(DerivePartialModel)]
#[sea_orm(entity = "company_mark::Entity")]
struct MarkRow {
    company_id: i64,
    marked_on: NaiveDate,
    share_price_cents: ExactDecimal,
    source: MarkSource,
}

#[derive(DerivePartialModel)]
#[sea_orm(entity = "distribution::Entity")]
struct DistributionRow {
    id: i64,
    company_id: i64,
    distributed_on: NaiveDate,
    amount_cents: i64,
    kind: DistributionKind,
    shares_sold: Option<ExactDecimal>,
    created_at: DateTime<Utc>,
}

impl From<DistributionRow> for DistributionState {
    fn from(r: DistributionRow) -> Self {
        Self {
            id: r.id,
            company_id: r.company_id,
            distributed_on: r.distributed_on,
            amount_cents: r.amount_cents,
            kind: r.kind,
            shares_sold: r.shares_sold.map(|s| s.0),
            created_at: r.created_at,
        }
    }
}

#[derive(DerivePartialModel)]
#[sea_orm(entity = "investment::Entity")]
struct InvestmentRow {
    id: i64,
    company_id: i64,
    round_name: String,
}

#[derive(DerivePartialModel)]
#[sea_orm(entity = "investment_lot::Entity")]
struct LotRow {
    id: Uuid,
    investment_id: i64,
    lot_type: LotType,
    shares_acquired: ExactDecimal,
    cost_basis_cents: i64,
    acquired_on: NaiveDate,
    created_at: DateTime<Utc>,
}

/// A fund's lots with their companies, in two queries (lots, and investment → company), in id order.
pub async fn load_lots<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<Vec<LotState>> {
    let mut lots = fund_lots(conn, fund_id).await?;
    // Sorted here rather than by the database: an ORDER BY on ten thousand UUIDs costs PostgreSQL more
    // than the sort costs us, and the order only has to be deterministic (equal states, equal inputs).
    lots.sort_unstable_by_key(|l| l.id.as_u128());
    Ok(lots)
}

async fn fund_lots<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<Vec<LotState>> {
    let investments_q = investment::Entity::find()
        .filter(investment::Column::FundId.eq(fund_id))
        .into_partial_model::<InvestmentRow>()
        .all(conn);
    let lots_q = investment_lot::Entity::find()
        .filter(investment_lot::Column::FundId.eq(fund_id))
        .into_partial_model::<LotRow>()
        .all(conn);
    let (investments, lots) = futures::join!(investments_q, lots_q);
    let investments: HashMap<i64, (i64, String)> = investments?
        .into_iter()
        .map(|i| (i.id, (i.company_id, i.round_name)))
        .collect();
    lots?
        .into_iter()
        .map(|r| {
            let (company_id, round_name) = investments.get(&r.investment_id).ok_or_else(|| {
                Error::Invariant(format!("lot {} has no investment in its fund", r.id))
            })?;
            Ok(LotState {
                id: r.id,
                company_id: *company_id,
                investment_id: r.investment_id,
                round_name: round_name.clone(),
                lot_type: r.lot_type,
                shares: r.shares_acquired.0,
                cost_basis_cents: r.cost_basis_cents,
                acquired_on: r.acquired_on,
                created_at: r.created_at,
            })
        })
        .collect()
}
