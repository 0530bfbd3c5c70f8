//! Micro-benchmarks of the calculations (SPEC §16, issue #14): cost basis, MOIC over a fund of 10,000
//! lots, XIRR, the reserve engine and the canonical fingerprint of a snapshot's inputs. Run with
//! `cargo bench -p service --bench micro`; results in BENCHMARKS.md. The fund is the shape of
//! `bench/seed_moic.sql`: 1,000 companies, 10 lots each, 1,000 distributions, half the companies marked.

use std::hint::black_box;

use chrono::{DateTime, Days, NaiveDate, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;
use service::canonical::canonical_sha256;
use service::entity::distribution::DistributionKind;
use service::entity::investment_lot::LotType;
use service::entity::portfolio_company::{CompanyStatus, Stage};
use service::fund_state::{CompanyState, DistributionState, FundState, LotState, PortfolioState};
use service::metrics::compute;
use service::metrics::xirr::{CashFlow, xirr};
use service::money::{Bps, Cents, cost_basis_cents};
use service::reserves::{ReservePolicy, allocate};
use uuid::Uuid;

const COMPANIES: i64 = 1_000;
const LOTS: i64 = 10_000;
const DISTRIBUTIONS: i64 = 1_000;

fn day(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + Days::new(n as u64)
}

fn at(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + n, 0).unwrap()
}

fn fund() -> PortfolioState {
    let stages = [Stage::Seed, Stage::SeriesA, Stage::SeriesB, Stage::Growth];
    let lot_types = [
        LotType::Initial,
        LotType::FollowOn,
        LotType::Secondary,
        LotType::Conversion,
    ];
    PortfolioState {
        fund: FundState {
            id: 1,
            size_cents: Cents::new(50_000_000_000),
            reserve_ratio_bps: Bps::new(4_000).unwrap(),
            base_currency: "USD".into(),
            terms: None,
        },
        companies: (1..=COMPANIES)
            .map(|c| CompanyState {
                id: c,
                name: format!("Company {c}"),
                stage: stages[(c % 4) as usize],
                status: CompanyStatus::Active,
                current_share_price_cents: (c % 2 == 0).then_some(100 + c % 900),
                exit_moic_bps: Some(10_000 + (c % 50) * 1_000),
                exit_probability: Some(Decimal::new(c % 100, 2)),
                reserve_exit_moic_bps: Some(15_000 + (c % 30) * 1_000),
                planned_reserves_cents: (c % 10) * 100_000,
                allocation_cap_cents: None,
                marks: None,
            })
            .collect(),
        lots: std::sync::Arc::new(
            (0..LOTS)
                .map(|n| LotState {
                    id: Uuid::from_u128(n as u128 + 1),
                    company_id: 1 + n % COMPANIES,
                    investment_id: 1 + n % COMPANIES,
                    round_name: "Seed".into(),
                    lot_type: lot_types[((n / 1_000) % 4) as usize],
                    shares: Decimal::new(10_005, 1),
                    cost_basis_cents: ((100 + n % 500) * 10_005) / 10,
                    acquired_on: day(n % 2_000),
                    created_at: at(n),
                })
                .collect::<Vec<_>>(),
        ),
        distributions: (0..DISTRIBUTIONS)
            .map(|d| DistributionState {
                id: d + 1,
                company_id: 1 + d % COMPANIES,
                distributed_on: day(1_461 + d % 600),
                amount_cents: 50_000 + d,
                kind: if d % 2 == 0 {
                    DistributionKind::PartialSale
                } else {
                    DistributionKind::Dividend
                },
                shares_sold: (d % 2 == 0).then(|| Decimal::new(250, 0)),
                created_at: at(LOTS + d),
            })
            .collect(),
    }
}

fn benches(c: &mut Criterion) {
    let state = fund();
    let as_of = day(2_200);

    c.bench_function("cost basis of one lot (price × shares, half-up)", |b| {
        b.iter(|| {
            cost_basis_cents(
                black_box(123_456),
                black_box(Decimal::new(1_000_512_345_678, 8)),
            )
        })
    });
    c.bench_function("MOIC of a fund of 1,000 companies and 10,000 lots", |b| {
        b.iter(|| compute(black_box(&state), as_of))
    });
    // The fund's own flows: every lot a purchase, every distribution a return, the marks a final value.
    let mut flows: Vec<CashFlow> = state
        .lots
        .iter()
        .map(|l| CashFlow {
            date: l.acquired_on,
            amount_cents: -l.cost_basis_cents,
        })
        .chain(state.distributions.iter().map(|d| CashFlow {
            date: d.distributed_on,
            amount_cents: d.amount_cents,
        }))
        .collect();
    flows.push(CashFlow {
        date: as_of,
        amount_cents: 3 * state.lots.iter().map(|l| l.cost_basis_cents).sum::<i64>() / 2,
    });
    c.bench_function("XIRR of 11,001 flows", |b| {
        b.iter(|| xirr(black_box(&flows)))
    });
    c.bench_function("reserve engine over 1,000 companies", |b| {
        b.iter(|| allocate(black_box(&state), &ReservePolicy::default()))
    });
    // From the typed state, as a capture does (no `serde_json::Value` in between).
    c.bench_function(
        "canonical fingerprint of the fund's state (JCS + SHA-256)",
        |b| b.iter(|| canonical_sha256(black_box(&state)).unwrap()),
    );
}

criterion_group! {
    name = micro;
    config = Criterion::default().sample_size(30);
    targets = benches
}
criterion_main!(micro);
