use std::str::FromStr;

use chrono::DateTime;
use entity::distribution::DistributionKind;
use entity::portfolio_company::Stage;
use proptest::prelude::*;

use super::*;
use crate::calc::fixtures::{company, d, lot, portfolio};
use crate::calc::money::{Bps, Cents};
use crate::calc::state::{CompanyState, DistributionState, LotState};
use crate::calc::terms::{FeeBasis, WaterfallKind};

/// A fund of $1,000,000.
fn state(
    companies: Vec<CompanyState>,
    lots: Vec<LotState>,
    distributions: Vec<DistributionState>,
) -> PortfolioState {
    portfolio(100_000_000, companies, lots, distributions)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// $1,000,000 committed on 2020-01-01 for ten years, 2 % a year on commitments throughout (so every
/// quarter charges $5,000), `carry_bps` over no hurdle.
fn terms(fee_bps: i64, carry_bps: i64, kind: WaterfallKind) -> FundTerms {
    FundTerms {
        committed: Cents::new(100_000_000),
        first_close_on: d(2020, 1, 1),
        commitment_period_years: 5,
        term_years: 10,
        management_fee: Bps::new(fee_bps).unwrap(),
        post_period_fee: Bps::new(fee_bps).unwrap(),
        post_period_fee_basis: FeeBasis::Commitment,
        carry: Bps::new(carry_bps).unwrap(),
        hurdle: Bps::ZERO,
        catch_up: Bps::ALL,
        waterfall: kind,
    }
}

/// Three companies bought on the first close: A ($200,000) and B ($100,000) at seed, C ($300,000) at
/// series A; nothing distributed; valued on 2024-12-31; seed exits after 1 year (2025-12-31), series A
/// after 2 (2026-12-31).
fn three_companies() -> (PortfolioState, ForecastPlan) {
    let s = state(
        vec![
            company(1, Stage::Seed, CompanyStatus::Active),
            company(2, Stage::Seed, CompanyStatus::Active),
            company(3, Stage::SeriesA, CompanyStatus::Active),
        ],
        vec![
            lot(1, 1, 20_000_000, d(2020, 1, 1)),
            lot(2, 2, 10_000_000, d(2020, 1, 1)),
            lot(3, 3, 30_000_000, d(2020, 1, 1)),
        ],
        vec![],
    );
    let as_of = d(2024, 12, 31);
    let plan = ForecastPlan {
        as_of,
        buckets: vec!["seed".into(), "series_a".into()],
        bucket_of_company: HashMap::from([(1, 0), (2, 0), (3, 1)]),
        exit_on: vec![exit_day(as_of, dec("1")), exit_day(as_of, dec("2"))],
        include_planned_reserves: true,
        deployed_cents: vec![0, 0],
    };
    (s, plan)
}

#[test]
fn exit_days_are_years_of_365_25_days_rounded_down() {
    assert_eq!(exit_day(d(2024, 12, 31), dec("1")), d(2025, 12, 31));
    assert_eq!(
        exit_day(d(2024, 12, 31), dec("2")),
        d(2026, 12, 31),
        "730.5 days → 730"
    );
    assert_eq!(
        exit_day(d(2024, 1, 1), dec("0.25")),
        d(2024, 4, 1),
        "91.3125 days → 91"
    );
}

#[test]
fn an_exit_is_the_exact_product_of_the_capital_and_the_stored_f32_rounded_half_up() {
    assert_eq!(exact_times(3, 0.5), 2, "1.5 rounds up");
    assert_eq!(exact_times(1, 0.5), 1);
    // 0.1f32 is 0.100000001490116119384765625 exactly: 30,000,000 × it = 3,000,000.0447…
    assert_eq!(exact_times(30_000_000, 0.1), 3_000_000);
    // 1e9 × 0.1f32 = 100,000,001.49… — a floating multiply of the two would give the same here, but
    // this is exact at any size: 2^53 − 1 cents times 3.
    assert_eq!(exact_times(1_000_000_000, 0.1), 100_000_001);
    assert_eq!(exact_times((1 << 53) - 1, 3.0), 3 * ((1 << 53) - 1));
    assert_eq!(exact_times(100, 0.0), 0);
    assert_eq!(exact_times(100, -2.0), 0);
}

#[test]
fn four_scenarios_of_two_buckets_give_the_figures_computed_by_hand() {
    let (s, plan) = three_companies();
    let t = terms(200, 2000, WaterfallKind::European);
    let prepared = prepare(&s, &t, &plan);
    assert_eq!(
        prepared.fees.iter().map(|f| f.amount_cents).sum::<i64>(),
        20_000_000
    );
    // Columns: seed (capital 30M cents), series A (30M cents).
    let cells = [0.0f32, 1.0, 2.0, 2.0, 1.0, 4.0, 10.0, 0.5];
    let values = Values {
        scenarios: 4,
        buckets: 2,
        cells: &cells,
    };
    let outcomes = prepared.run(values, 1);
    // By hand (cents): paid-in 80M (60M invested + 40 fees of 0.5M). Calls by 2025-12-31: 72M; by
    // 2026-12-31: 74M.
    // s0: 30M from series A, all capital back: LPs 30M.
    // s1: 60M on 2025-12-31 all tier 1; 60M on 2026-12-31: 14M tier 1, then 46M split 9.2M / 36.8M.
    // s2: 30M tier 1; 120M: 44M tier 1, 76M split 15.2M / 60.8M.
    // s3: 300M: 72M tier 1, 228M split 45.6M / 182.4M; 15M: 2M tier 1, 13M split 2.6M / 10.4M.
    let tvpi: Vec<_> = outcomes.iter().map(|o| o.net_tvpi.unwrap()).collect();
    assert_eq!(
        tvpi,
        [
            dec("0.375000"),
            dec("1.385000"),
            dec("1.685000"),
            dec("3.335000")
        ]
    );
    let carry: Vec<_> = outcomes.iter().map(|o| o.gp_carry_cents).collect();
    assert_eq!(carry, [0, 9_200_000, 15_200_000, 48_200_000]);
    let gross: Vec<_> = outcomes.iter().map(|o| o.gross_tvpi.unwrap()).collect();
    assert_eq!(
        gross,
        [
            dec("0.500000"),
            dec("2.000000"),
            dec("2.500000"),
            dec("5.250000")
        ]
    );
    // The IRR of the same flows written out by hand (s1).
    let mut flows = vec![CashFlow {
        date: d(2020, 1, 1),
        amount_cents: -60_000_000,
    }];
    for q in 0..40 {
        let on = d(2020 + q / 4, 1 + 3 * (q % 4) as u32, 1);
        flows.push(CashFlow {
            date: on,
            amount_cents: -500_000,
        });
    }
    flows.push(CashFlow {
        date: d(2025, 12, 31),
        amount_cents: 60_000_000,
    });
    flows.push(CashFlow {
        date: d(2026, 12, 31),
        amount_cents: 50_800_000,
    });
    assert_eq!(outcomes[1].net_irr, xirr(&flows));

    let r = results(&prepared, &outcomes);
    let net = r.net_tvpi.unwrap();
    // Nearest rank of 4: p5, p10, p25 → 1st; p50 → 2nd; p75 → 3rd; p90, p95 → 4th.
    assert_eq!(
        (net.p5, net.p10, net.p25, net.p50, net.p75, net.p90, net.p95),
        (
            dec("0.375000"),
            dec("0.375000"),
            dec("0.375000"),
            dec("1.385000"),
            dec("1.685000"),
            dec("3.335000"),
            dec("3.335000")
        )
    );
    assert_eq!(net.mean, dec("1.695000"), "6.78 / 4");
    assert_eq!(r.gross_tvpi.unwrap().mean, dec("2.562500"), "10.25 / 4");
    let gp = r.gp_carry_cents.unwrap();
    assert_eq!(
        (gp.mean, gp.p50, gp.p95),
        (18_150_000, 9_200_000, 48_200_000)
    );
    assert_eq!(
        r.probabilities,
        Probabilities {
            net_tvpi_below_1: dec("0.250000"),
            net_tvpi_at_least_2: dec("0.250000"),
            net_tvpi_at_least_3: dec("0.250000"),
            carry_positive: dec("0.750000"),
        }
    );
    assert_eq!(r.irr_undefined, 0);
    // Bins of (3.335 − 0.375) / 40 = 0.074: 1.385 falls in bin 13, 1.685 in 17, the largest in the last.
    let h = r.histogram.unwrap();
    assert_eq!(h.edges.len(), 41);
    assert_eq!(
        (h.edges[0], h.edges[1], h.edges[40]),
        (dec("0.375000"), dec("0.449000"), dec("3.335000"))
    );
    let mut counts = vec![0u64; 40];
    for bin in [0, 13, 17, 39] {
        counts[bin] = 1;
    }
    assert_eq!(h.counts, counts);
    // The J-curve: calls of 60M + 2M a year; distributions from 2025.
    let j: Vec<_> = r
        .j_curve
        .iter()
        .map(|p| (p.date.year(), p.p10, p.p50, p.p90))
        .collect();
    assert_eq!(j.len(), 11, "2020 through 2030, the year the term ends");
    assert_eq!(
        j[0],
        (2020, dec("-0.620000"), dec("-0.620000"), dec("-0.620000"))
    );
    assert_eq!(
        j[4],
        (2024, dec("-0.700000"), dec("-0.700000"), dec("-0.700000"))
    );
    assert_eq!(
        j[5],
        (2025, dec("-0.720000"), dec("-0.420000"), dec("1.824000"))
    );
    assert_eq!(
        j[6],
        (2026, dec("-0.440000"), dec("0.368000"), dec("1.928000"))
    );
    assert_eq!(
        j[9],
        (2029, dec("-0.500000"), dec("0.308000"), dec("1.868000"))
    );
    assert_eq!(j[10], j[9].with_year(2030));
}

trait WithYear {
    fn with_year(self, year: i32) -> Self;
}

impl WithYear for (i32, Decimal, Decimal, Decimal) {
    fn with_year(self, year: i32) -> Self {
        (year, self.1, self.2, self.3)
    }
}

#[test]
fn the_same_outcomes_on_one_thread_or_four() {
    let (s, plan) = three_companies();
    let prepared = prepare(&s, &terms(200, 2000, WaterfallKind::American), &plan);
    let cells: Vec<f32> = (0..2_000).map(|i| (i % 37) as f32 * 0.173).collect();
    let values = Values {
        scenarios: 1_000,
        buckets: 2,
        cells: &cells,
    };
    let one = prepared.run(values, 1);
    let four = prepared.run(values, 4);
    assert_eq!(one, four);
    assert_eq!(results(&prepared, &one), results(&prepared, &four));
}

/// A fund with history: two exits, a dividend and a write-off before `as_of`, two active companies.
fn with_history(fee_bps: i64, carry_bps: i64) -> (PortfolioState, FundTerms, ForecastPlan) {
    let exit = |id: i64, company_id: i64, cents: i64, on: NaiveDate, kind: DistributionKind| {
        DistributionState {
            id,
            company_id,
            distributed_on: on,
            amount_cents: cents,
            kind,
            shares_sold: None,
            created_at: DateTime::from_timestamp(1_700_100_000 + id, 0).unwrap(),
        }
    };
    let mut written_off = company(3, Stage::Seed, CompanyStatus::WrittenOff);
    written_off.marks = Some(vec![crate::calc::state::MarkState {
        marked_on: d(2022, 6, 30),
        share_price_cents: Decimal::ZERO,
        source: entity::company_mark::MarkSource::WriteOff,
    }]);
    let s = state(
        vec![
            company(1, Stage::Seed, CompanyStatus::Exited),
            company(2, Stage::SeriesA, CompanyStatus::Active),
            written_off,
            company(4, Stage::Seed, CompanyStatus::Active),
        ],
        vec![
            lot(1, 1, 5_000_000, d(2020, 3, 1)),
            lot(2, 2, 7_000_000, d(2020, 5, 1)),
            lot(3, 3, 3_000_000, d(2021, 1, 1)),
            lot(4, 4, 9_000_000, d(2021, 7, 1)),
            lot(5, 2, 2_000_000, d(2022, 2, 1)),
        ],
        vec![
            exit(1, 1, 12_000_000, d(2023, 3, 1), DistributionKind::Exit),
            exit(2, 2, 400_000, d(2023, 6, 1), DistributionKind::Dividend),
        ],
    );
    let as_of = d(2024, 6, 30);
    let plan = ForecastPlan {
        as_of,
        buckets: vec!["series_a".into(), "seed".into()],
        bucket_of_company: HashMap::from([(2, 0), (4, 1)]),
        exit_on: vec![exit_day(as_of, dec("3")), exit_day(as_of, dec("4.5"))],
        include_planned_reserves: true,
        deployed_cents: vec![0, 0],
    };
    (s, terms(fee_bps, carry_bps, WaterfallKind::European), plan)
}

#[test]
fn every_cell_at_one_without_fees_or_carry_returns_history_plus_the_remaining_cost() {
    let (s, t, plan) = with_history(0, 0);
    let prepared = prepare(&s, &t, &plan);
    let outcome = prepared.scenario(&[1.0, 1.0]);
    // (Σ history distributions + remaining cost of the active companies) ÷ invested:
    // (12.0M + 0.4M + (9M + 9M)) ÷ 26M.
    assert_eq!(outcome.net_tvpi, ratio(12_400_000 + 18_000_000, 26_000_000));
    assert_eq!(outcome.gross_tvpi, outcome.net_tvpi);
    assert_eq!(outcome.gp_carry_cents, 0);
}

proptest! {
    /// With fees and no carry: net TVPI = gross TVPI × (1 − fees ÷ paid-in), within rounding.
    #[test]
    fn without_carry_net_is_gross_less_the_fees_share(fee in 1i64..=300, a in 0f32..20.0, b in 0f32..20.0) {
        let (s, t, plan) = with_history(fee, 0);
        let prepared = prepare(&s, &t, &plan);
        let o = prepared.scenario(&[a, b]);
        let fees: i64 = prepared.fees.iter().map(|f| f.amount_cents).sum();
        let paid_in = 26_000_000 + fees;
        let expected = o.gross_tvpi.unwrap() * (Decimal::ONE - Decimal::from(fees) / Decimal::from(paid_in));
        prop_assert!((o.net_tvpi.unwrap() - expected).abs() <= dec("0.000002"), "{:?} vs {}", o.net_tvpi, expected);
    }

    /// Every scenario's LP and GP parts add up to what was distributed, and more carry never raises
    /// net TVPI.
    #[test]
    fn more_carry_never_raises_a_scenarios_net_tvpi(fee in 0i64..=300, carry in 0i64..=3000, more in 1i64..=1000, a in 0f32..20.0, b in 0f32..20.0) {
        let (s, t, plan) = with_history(fee, carry);
        let low = prepare(&s, &t, &plan).scenario(&[a, b]);
        let mut dearer = t.clone();
        dearer.carry = Bps::new(carry + more).unwrap();
        let high = prepare(&s, &dearer, &plan).scenario(&[a, b]);
        prop_assert!(high.net_tvpi <= low.net_tvpi);
    }
}

proptest! {
    /// A scenario's figures equal §6.6's net returns on the same fund with that scenario's exits entered
    /// as distributions, valued on the horizon: the forecast and `/returns` are one arithmetic, with a
    /// history that has distributions and a write-off before `as_of`.
    #[test]
    fn a_scenario_is_the_net_returns_of_its_exits_entered(a in 0f32..8.0, b in 0f32..8.0, carry in 0i64..=3000, american in any::<bool>()) {
        let (mut s, mut t, plan) = with_history(200, carry);
        if american {
            t.waterfall = WaterfallKind::American;
        }
        let prepared = prepare(&s, &t, &plan);
        let o = prepared.scenario(&[a, b]);
        // Series A (company 2) and seed (company 4) each exit with their remaining cost, 9M cents.
        for (id, company, cell, on) in [(10, 2, a, plan.exit_on[0]), (11, 4, b, plan.exit_on[1])] {
            let cents = exact_times(9_000_000, cell);
            if cents > 0 {
                s.distributions.push(DistributionState {
                    id,
                    company_id: company,
                    distributed_on: on,
                    amount_cents: cents,
                    kind: DistributionKind::Exit,
                    shares_sold: None,
                    created_at: DateTime::from_timestamp(1_700_200_000 + id, 0).unwrap(),
                });
            }
        }
        let horizon = t.fees_end().max(plan.exit_on[0]).max(plan.exit_on[1]);
        let (r, _, _) = crate::calc::returns::net_returns(&s, &t, horizon);
        prop_assert_eq!(o.net_tvpi, r.tvpi);
        prop_assert_eq!(o.net_irr, r.net_irr);
        prop_assert_eq!(o.gp_carry_cents, r.carry_cents);
    }
}
