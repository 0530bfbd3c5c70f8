//! A demo fund for newcomers (`updog demo`, issue #16): six companies across stages, several rounds,
//! lots of every type, marks, a partial sale, a dividend and an exit, exit assumptions and planned
//! reserves, and a snapshot. Written through the same create paths as the API, each under a fixed
//! `Idempotency-Key`, so running it again adds nothing.

use chrono::{NaiveDate, TimeZone, Utc};
use entity::api_key::Role;
use entity::distribution::DistributionKind;
use entity::investment_lot::LotType;
use entity::portfolio_company::{CompanyStatus, Stage};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::Principal;
use crate::companies::{self, CompanyFields};
use crate::context::Service;
use crate::distributions::{self, NewDistribution};
use crate::error::{Error, ResourceRef, Result};
use crate::funds::{self, NewFund};
use crate::idempotency::{Idempotency, IdempotencyKey, Outcome, Rendered};
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
}

fn idem(what: &str) -> Result<Option<Idempotency>> {
    let key = IdempotencyKey::parse(&format!("demo-{what}")).map_err(Error::Invariant)?;
    Ok(Some(Idempotency::new(
        format!("updog demo: {what}"),
        key,
        Some(DEMO_PRINCIPAL),
        &json!({"demo": what}),
    )?))
}

fn render_id(id: Value) -> Result<Rendered> {
    let body = serde_json::to_vec(&json!({ "id": id }))
        .map_err(|e| Error::Invariant(format!("demo: {e}")))?;
    Ok(Rendered {
        status: 201,
        body,
        location: None,
        recorded_body: None,
    })
}

/// The id a create answered with, first time or replayed; a key whose record expired names the row
/// it made.
fn id_of(outcome: Result<Outcome>) -> Result<Value> {
    match outcome {
        Ok(o) => {
            let body: Value = serde_json::from_slice(&o.response.body)
                .map_err(|e| Error::Invariant(format!("demo: {e}")))?;
            Ok(body["id"].clone())
        }
        Err(Error::IdempotencyKeyExpired {
            existing: Some(existing),
        }) => Ok(match existing {
            ResourceRef::Fund(id)
            | ResourceRef::Company { id, .. }
            | ResourceRef::Investment { id, .. }
            | ResourceRef::Distribution { id, .. } => json!(id),
            ResourceRef::Lot { id, .. }
            | ResourceRef::Snapshot(id)
            | ResourceRef::ApiKey(id)
            | ResourceRef::Optimization(id) => json!(id.to_string()),
        }),
        Err(e) => Err(e),
    }
}

fn int(v: &Value) -> Result<i64> {
    v.as_i64()
        .ok_or_else(|| Error::Invariant(format!("demo: {v} is not an id")))
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
    let fund_id = int(&id_of(
        funds::create_fund(
            svc,
            p,
            NewFund {
                name: "Updog Demo Fund I".into(),
                size_cents: 10_000_000_000,
                vintage_year: 2022,
                management_fee_bps: 200,
                carry_bps: 2000,
                reserve_ratio_bps: 4000,
                base_currency: "USD".into(),
            },
            idem("fund")?,
            |m| render_id(json!(m.id)),
        )
        .await,
    )?)?;

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
        let outcome = companies::create_company(
            svc,
            p,
            fund_id,
            fields,
            idem(&format!("company-{i}"))?,
            |m| render_id(json!(m.id)),
        )
        .await;
        company_ids.push(int(&id_of(outcome)?)?);
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
        let investment = int(&id_of(
            investments::create_investment(
                svc,
                p,
                fund_id,
                NewInvestment {
                    company_id: company_ids[*company],
                    round_name: (*round_name).into(),
                    invested_on: *on,
                },
                idem(&format!("investment-{r}"))?,
                |m| render_id(json!(m.id)),
            )
            .await,
        )?)?;
        for (l, (lot_type, price, shares)) in lots_of_round.iter().enumerate() {
            id_of(
                lots::create_lot(
                    svc,
                    p,
                    fund_id,
                    investment,
                    NewLot {
                        lot_type: *lot_type,
                        share_price_cents: *price,
                        shares_acquired: (*shares).into(),
                        cost_basis_cents: None,
                        acquired_on: *on,
                    },
                    idem(&format!("lot-{r}-{l}"))?,
                    |m| render_id(json!(m.id.to_string())),
                )
                .await,
            )?;
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
        id_of(
            distributions::create_distribution(
                svc,
                p,
                fund_id,
                NewDistribution {
                    company_id: company_ids[company],
                    distributed_on: on,
                    amount_cents: amount,
                    kind,
                    shares_sold: sold.map(str::to_owned),
                },
                idem(&format!("distribution-{d}"))?,
                |m| render_id(json!(m.id)),
            )
            .await,
        )?;
    }

    let snapshot = id_of(
        snapshots::create_snapshot(
            svc,
            p,
            fund_id,
            NewSnapshot {
                name: "Demo Q3 2026".into(),
                reserve_policy: None,
                allocations: None,
            },
            idem("snapshot")?,
            |created| {
                let m = match created {
                    snapshots::Created::New(m) | snapshots::Created::Existing(m) => m,
                };
                render_id(json!(m.id.to_string()))
            },
        )
        .await,
    )?;
    Ok(Demo {
        fund_id,
        companies: company_ids.len(),
        lots: lot_count,
        snapshot_id: snapshot.as_str().unwrap_or_default().to_owned(),
    })
}
