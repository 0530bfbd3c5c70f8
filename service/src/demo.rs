//! A demo fund for newcomers (`updog demo`, issue #16): six companies across stages, several rounds,
//! lots of every type, marks, a partial sale, a dividend and an exit, exit assumptions and planned
//! reserves, and a snapshot. Written through the same create paths as the API, each under a fixed
//! `Idempotency-Key`, so running it again adds nothing.

use chrono::{NaiveDate, TimeZone, Utc};
use entity::api_key::Role;
use entity::distribution::DistributionKind;
use entity::investment_lot::LotType;
use entity::portfolio_company::{CompanyStatus, Stage};
use entity::{
    distribution, forecast_snapshot, fund, investment, investment_lot, portfolio_company,
};
use serde_json::json;
use uuid::Uuid;

use crate::auth::Principal;
use crate::calc::money::Cents;
use crate::calc::scenarios::{Bucket, MatrixConfig};
use crate::companies::{self, CompanyFields};
use crate::context::Service;
use crate::distributions::{self, NewDistribution};
use crate::error::{Error, ResourceRef, Result};
use crate::funds::{self, NewFund, NewTerms};
use crate::idempotency::{Idempotency, IdempotencyKey, Keyed, KeyedBy, Outcome};
use crate::investments::{self, NewInvestment};
use crate::lots::{self, NewLot};
use crate::snapshots::{self, NewSnapshot};

/// The principal the demo writes as (it is recorded with the idempotency records, not a stored key).
const DEMO_PRINCIPAL: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_00de_0f00_0001);

/// What the demo holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Demo {
    pub fund_id: i64,
    pub companies: usize,
    pub lots: usize,
    pub snapshot_id: String,
    pub forecast_id: String,
}

fn key(what: &str) -> String {
    format!("demo-{what}")
}

fn idem(what: &str) -> Result<Option<Idempotency>> {
    let key = IdempotencyKey::parse(&key(what)).map_err(Error::Invariant)?;
    Ok(Some(Idempotency::new(
        format!("updog demo: {what}"),
        key,
        Some(DEMO_PRINCIPAL),
        &json!({"demo": what}),
    )?))
}

/// What the demo's create of `what` made: on the first run, the outcome's own value; on a later run (a
/// replay, or a key whose record has expired), the row that its key made, found by the key.
async fn made<E: Keyed, T>(
    svc: &Service,
    what: &str,
    keyed_by: KeyedBy<E>,
    outcome: Result<Outcome<T>>,
    locate: fn(&T) -> ResourceRef,
) -> Result<ResourceRef> {
    match outcome.map(Outcome::into_fresh) {
        Ok(Ok((_, v))) => Ok(locate(&v)),
        Ok(Err(_replayed)) => keyed_by
            .existing(&svc.db, &key(what))
            .await?
            .ok_or_else(|| Error::Invariant(format!("demo: {what} was recorded but is gone"))),
        Err(Error::IdempotencyKeyExpired {
            existing: Some(existing),
        }) => Ok(existing),
        Err(e) => Err(e),
    }
}

/// The sequence id of a fund, company, investment or distribution.
fn int(made: ResourceRef) -> Result<i64> {
    match made {
        ResourceRef::Fund(id)
        | ResourceRef::Company { id, .. }
        | ResourceRef::Investment { id, .. }
        | ResourceRef::Distribution { id, .. } => Ok(id),
        other => Err(Error::Invariant(format!(
            "demo: {other:?} has no sequence id"
        ))),
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// One company of the demo: name, stage, status, mark (cents per share), exit multiple (bps),
/// probability, exit multiple on reserves (bps), planned reserves (cents).
struct Company {
    name: &'static str,
    stage: Stage,
    status: CompanyStatus,
    mark: i64,
    exit_bps: Option<i64>,
    probability: Option<&'static str>,
    reserve_exit_bps: Option<i64>,
    planned: i64,
}

/// One round: company index, round name, date, and its lots (type, price in cents, shares).
type Round = (
    usize,
    &'static str,
    NaiveDate,
    &'static [(LotType, i64, &'static str)],
);

/// Seeds the demo fund (or finds it seeded) and returns what it holds. The snapshot is queued; the
/// workers calculate it.
pub async fn seed(svc: &Service) -> Result<Demo> {
    let principal = Principal {
        key_id: DEMO_PRINCIPAL,
        role: Role::Admin,
        funds: Vec::new(),
    };
    let p = &principal;
    let created = funds::create_fund(
        svc,
        p,
        NewFund {
            name: "Updog Demo Fund I".into(),
            size_cents: Cents::new(10_000_000_000),
            vintage_year: 2022,
            management_fee_bps: 200,
            carry_bps: 2000,
            reserve_ratio_bps: 4000,
            base_currency: "USD".into(),
            // An 8 % preferred return with a full catch-up: the usual European terms.
            terms: NewTerms {
                first_close_on: Some(date(2022, 1, 1)),
                hurdle_bps: 800,
                ..NewTerms::default()
            },
        },
        idem("fund")?,
    )
    .await;
    let fund_id = int(made(
        svc,
        "fund",
        KeyedBy::<fund::Entity>::top(),
        created,
        fund::Entity::locate,
    )
    .await?)?;

    let companies = [
        Company {
            name: "Acme Robotics",
            stage: Stage::Seed,
            status: CompanyStatus::Active,
            mark: 450,
            exit_bps: Some(80_000),
            probability: Some("0.25"),
            reserve_exit_bps: Some(50_000),
            planned: 150_000_000,
        },
        Company {
            name: "Borealis Health",
            stage: Stage::SeriesA,
            status: CompanyStatus::Active,
            mark: 1_200,
            exit_bps: Some(50_000),
            probability: Some("0.35"),
            reserve_exit_bps: Some(40_000),
            planned: 200_000_000,
        },
        Company {
            name: "Cobalt Data",
            stage: Stage::SeriesB,
            status: CompanyStatus::Active,
            mark: 900,
            exit_bps: Some(30_000),
            probability: Some("0.5"),
            reserve_exit_bps: Some(25_000),
            planned: 100_000_000,
        },
        Company {
            name: "Driftwood Labs",
            stage: Stage::PreSeed,
            status: CompanyStatus::WrittenOff,
            mark: 0,
            exit_bps: None,
            probability: None,
            reserve_exit_bps: None,
            planned: 0,
        },
        Company {
            name: "Eon Payments",
            stage: Stage::Growth,
            status: CompanyStatus::Exited,
            mark: 5_000,
            exit_bps: None,
            probability: None,
            reserve_exit_bps: None,
            planned: 0,
        },
        Company {
            name: "Fathom AI",
            stage: Stage::Seed,
            status: CompanyStatus::Active,
            mark: 300,
            exit_bps: Some(100_000),
            probability: Some("0.1"),
            reserve_exit_bps: Some(60_000),
            planned: 120_000_000,
        },
    ];
    let marked_at = Utc.with_ymd_and_hms(2026, 9, 30, 0, 0, 0).single();
    let mut company_ids = Vec::new();
    for (i, c) in companies.iter().enumerate() {
        let fields = CompanyFields {
            name: Some(c.name.into()),
            sector: Some(Some(
                ["robotics", "health", "data", "consumer", "fintech", "ai"][i].into(),
            )),
            stage: Some(c.stage),
            status: Some(c.status),
            current_share_price_cents: Some(Some(c.mark)),
            marked_at: Some(marked_at),
            exit_moic_bps: Some(c.exit_bps),
            exit_probability: Some(c.probability.map(str::to_owned)),
            reserve_exit_moic_bps: Some(c.reserve_exit_bps),
            planned_reserves_cents: Some(c.planned),
            allocation_cap_cents: Some((c.planned > 0).then_some(c.planned * 2)),
        };
        let outcome =
            companies::create_company(svc, p, fund_id, fields, idem(&format!("company-{i}"))?)
                .await;
        let keyed_by = KeyedBy::<portfolio_company::Entity>::under(fund_id);
        let what = format!("company-{i}");
        let company = made(
            svc,
            &what,
            keyed_by,
            outcome,
            portfolio_company::Entity::locate,
        );
        company_ids.push(int(company.await?)?);
    }

    let rounds: [Round; 8] = [
        (
            0,
            "Seed",
            date(2022, 3, 15),
            &[(LotType::Initial, 100, "2000000")],
        ),
        (
            0,
            "Series A",
            date(2023, 9, 1),
            &[(LotType::FollowOn, 300, "500000")],
        ),
        (
            1,
            "Series A",
            date(2022, 6, 10),
            &[(LotType::Initial, 800, "375000")],
        ),
        (
            1,
            "Secondary",
            date(2024, 2, 1),
            &[(LotType::Secondary, 600, "100000")],
        ),
        (
            2,
            "Series B",
            date(2022, 11, 20),
            &[
                (LotType::Initial, 1_500, "200000"),
                (LotType::Conversion, 1_000, "50000"),
            ],
        ),
        (
            3,
            "Pre-seed",
            date(2022, 1, 10),
            &[(LotType::Initial, 50, "1000000")],
        ),
        (
            4,
            "Growth",
            date(2022, 8, 1),
            &[(LotType::Initial, 2_000, "250000")],
        ),
        (
            5,
            "Seed",
            date(2024, 4, 1),
            &[(LotType::Initial, 150, "1000000")],
        ),
    ];
    let mut lot_count = 0;
    for (r, (company, round_name, on, lots_of_round)) in rounds.iter().enumerate() {
        let what = format!("investment-{r}");
        let created = investments::create_investment(
            svc,
            p,
            fund_id,
            NewInvestment {
                company_id: company_ids[*company],
                round_name: (*round_name).into(),
                invested_on: *on,
            },
            idem(&what)?,
        )
        .await;
        let keyed_by = KeyedBy::<investment::Entity>::under(fund_id);
        let investment =
            int(made(svc, &what, keyed_by, created, investment::Entity::locate).await?)?;
        for (l, (lot_type, price, shares)) in lots_of_round.iter().enumerate() {
            let what = format!("lot-{r}-{l}");
            let created = lots::create_lot(
                svc,
                p,
                fund_id,
                investment,
                NewLot {
                    lot_type: *lot_type,
                    share_price: None,
                    share_price_cents: Some(Cents::new(*price)),
                    shares_acquired: (*shares).into(),
                    transaction_costs_cents: None,
                    cost_basis_cents: None,
                    acquired_on: *on,
                },
                idem(&what)?,
            )
            .await;
            let keyed_by = KeyedBy::<investment_lot::Entity>::under(investment);
            made(
                svc,
                &what,
                keyed_by,
                created,
                investment_lot::Entity::locate,
            )
            .await?;
            lot_count += 1;
        }
    }

    let flows = [
        (
            1,
            date(2025, 3, 1),
            120_000_000,
            DistributionKind::PartialSale,
            Some("100000"),
        ),
        (
            2,
            date(2025, 6, 30),
            5_000_000,
            DistributionKind::Dividend,
            None,
        ),
        (
            4,
            date(2025, 10, 15),
            1_250_000_000,
            DistributionKind::Exit,
            Some("250000"),
        ),
    ];
    for (d, (company, on, amount, kind, sold)) in flows.into_iter().enumerate() {
        let what = format!("distribution-{d}");
        let created = distributions::create_distribution(
            svc,
            p,
            fund_id,
            NewDistribution {
                company_id: company_ids[company],
                distributed_on: on,
                amount_cents: Cents::new(amount),
                kind,
                shares_sold: sold.map(str::to_owned),
            },
            idem(&what)?,
        )
        .await;
        let keyed_by = KeyedBy::<distribution::Entity>::under(fund_id);
        made(svc, &what, keyed_by, created, distribution::Entity::locate).await?;
    }

    let created = snapshots::create_snapshot(
        svc,
        p,
        fund_id,
        NewSnapshot {
            name: "Demo Q3 2026".into(),
            reserve_policy: None,
            allocations: None,
        },
        idem("snapshot")?,
    )
    .await;
    let keyed_by = KeyedBy::<forecast_snapshot::Entity>::under(fund_id);
    let snapshot = match made(svc, "snapshot", keyed_by, created, |s| {
        ResourceRef::Snapshot(s.id)
    })
    .await?
    {
        ResourceRef::Snapshot(id) => id,
        other => {
            return Err(Error::Invariant(format!(
                "demo: {other:?} is not a snapshot"
            )));
        }
    };
    let forecast_id = forecast(svc, p, fund_id).await?;
    Ok(Demo {
        fund_id,
        companies: company_ids.len(),
        lots: lot_count,
        snapshot_id: snapshot.to_string(),
        forecast_id: forecast_id.to_string(),
    })
}

/// A 10,000-scenario matrix of the demo's three active stages and a forecast over it (SPEC §6.7), so
/// that a new user sees a distribution of net returns at once. The forecast is queued; the workers
/// compute it.
async fn forecast(svc: &Service, p: &Principal, fund_id: i64) -> Result<Uuid> {
    let mut config = MatrixConfig::sample(fund_id, 10_000, 2026);
    config.buckets = vec![
        Bucket {
            name: "seed".into(),
            capital_allocation_pct: 30.0,
            moic_median: 1.2,
            moic_p90: 4.5,
            moic_cap: None,
        },
        Bucket {
            name: "series_a".into(),
            capital_allocation_pct: 40.0,
            moic_median: 1.5,
            moic_p90: 4.0,
            moic_cap: None,
        },
        Bucket {
            name: "series_b".into(),
            capital_allocation_pct: 30.0,
            moic_median: 1.6,
            moic_p90: 3.2,
            moic_cap: None,
        },
    ];
    // Get-or-generate: a later run finds the stored matrix (no key needed).
    let matrix_key = match crate::matrices::create_matrix(svc, p, config, None)
        .await?
        .into_fresh()
    {
        Ok((_, record)) => record.matrix_key,
        Err(_) => {
            return Err(Error::Invariant(
                "demo: a matrix without a key replayed".into(),
            ));
        }
    };
    let created = crate::forecasts::create_forecast(
        svc,
        p,
        fund_id,
        crate::forecasts::NewForecast {
            name: Some("Demo forecast".into()),
            matrix_key,
            as_of: Some(date(2026, 9, 30)),
            ..Default::default()
        },
        idem("forecast")?,
    )
    .await;
    let keyed_by = KeyedBy::<entity::fund_forecast::Entity>::under(fund_id);
    match made(svc, "forecast", keyed_by, created, |f| {
        ResourceRef::Forecast(f.id)
    })
    .await?
    {
        ResourceRef::Forecast(id) => Ok(id),
        other => Err(Error::Invariant(format!(
            "demo: {other:?} is not a forecast"
        ))),
    }
}
