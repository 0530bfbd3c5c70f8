use std::str::FromStr;

use proptest::prelude::*;

use chrono::DateTime;
use entity::distribution::DistributionKind;
use entity::portfolio_company::Stage;

use super::*;
use crate::calc::money::Bps;
use crate::calc::state::MarkState;
use entity::company_mark::MarkSource;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn company(id: i64) -> CompanyState {
    CompanyState {
        id,
        name: format!("Company {id}"),
        stage: Stage::Seed,
        status: CompanyStatus::Active,
        current_share_price_cents: None,
        exit_moic_bps: None,
        exit_probability: None,
        reserve_exit_moic_bps: None,
        planned_reserves_cents: 0,
        allocation_cap_cents: None,
        marks: None,
    }
}

fn lot(
    n: u128,
    company_id: i64,
    lot_type: LotType,
    shares: &str,
    cost: i64,
    on: NaiveDate,
) -> LotState {
    LotState {
        id: Uuid::from_u128(n),
        company_id,
        investment_id: company_id * 10,
        round_name: "Seed".into(),
        lot_type,
        shares: dec(shares),
        cost_basis_cents: cost,
        acquired_on: on,
        created_at: DateTime::from_timestamp(1_700_000_000 + n as i64, 0).unwrap(),
    }
}

fn sale(
    id: i64,
    company_id: i64,
    amount: i64,
    shares: Option<&str>,
    on: NaiveDate,
) -> DistributionState {
    DistributionState {
        id,
        company_id,
        distributed_on: on,
        amount_cents: amount,
        kind: if shares.is_some() {
            DistributionKind::PartialSale
        } else {
            DistributionKind::Dividend
        },
        shares_sold: shares.map(dec),
        created_at: DateTime::from_timestamp(1_700_000_000 + id, 0).unwrap(),
    }
}

/// The shared test fund (`calc::fixtures::portfolio`) of $1,000,000 with 40 % reserves.
fn state(
    companies: Vec<CompanyState>,
    lots: Vec<LotState>,
    distributions: Vec<DistributionState>,
) -> PortfolioState {
    let mut state = crate::calc::fixtures::portfolio(100_000_000, companies, lots, distributions);
    state.fund.reserve_ratio_bps = Bps::new(4000).unwrap();
    state
}

const AS_OF: fn() -> NaiveDate = || date(2026, 1, 1);

/// One company marked at 200 cents a share, bought at 100 cents: `shares` on `on`.
fn bought_at_one_marked_at_two(shares: &str, on: NaiveDate) -> PortfolioState {
    let mut c = company(1);
    c.current_share_price_cents = Some(200);
    let cost = 100 * shares.parse::<i64>().expect("whole shares");
    state(
        vec![c],
        vec![lot(1, 1, LotType::Initial, shares, cost, on)],
        vec![],
    )
}

#[test]
fn invested_one_million_worth_two_million_is_2x() {
    let s = bought_at_one_marked_at_two("1000000", date(2024, 1, 1));
    let m = compute(&s, AS_OF());
    assert_eq!(m.companies[0].current_moic, Some(dec("2.000000")));
    assert_eq!(m.companies[0].total_value_cents, 200_000_000);
    assert_eq!(m.companies[0].valuation_basis, ValuationBasis::Mark);
    assert_eq!(m.fund.gross_moic, Some(dec("2.000000")));
}

#[test]
fn the_exit_variants_follow_the_truth_cases() {
    let mut c = company(1);
    c.exit_moic_bps = Some(40_000);
    c.exit_probability = Some(dec("0.8"));
    let m = compute(&state(vec![c.clone()], vec![], vec![]), AS_OF());
    assert_eq!(m.companies[0].exit_moic, Some(dec("4.000000")));
    assert_eq!(m.companies[0].expected_exit_moic, Some(dec("3.200000")));
    // No planned reserves: no multiple on them.
    assert_eq!(m.companies[0].exit_moic_on_planned_reserves, None);
    // Invested 0: no current MOIC.
    assert_eq!(m.companies[0].current_moic, None);

    c.reserve_exit_moic_bps = Some(40_000);
    c.exit_probability = Some(dec("0.5"));
    c.planned_reserves_cents = 1_000_000;
    let m = compute(&state(vec![c], vec![], vec![]), AS_OF());
    assert_eq!(
        m.companies[0].exit_moic_on_planned_reserves,
        Some(dec("2.000000"))
    );
}

#[test]
fn a_company_without_follow_on_lots_has_no_follow_on_moic() {
    let s = state(
        vec![company(1)],
        vec![lot(1, 1, LotType::Initial, "10", 1000, date(2024, 1, 1))],
        vec![],
    );
    let m = compute(&s, AS_OF());
    assert_eq!(m.companies[0].current_moic_follow_on, None);
    assert_eq!(m.companies[0].current_moic_initial, Some(dec("1.000000")));
}

#[test]
fn fund_moic_is_a_sum_of_lots_not_an_average_of_ratios() {
    let mut a = company(1);
    a.current_share_price_cents = Some(200);
    let mut b = company(2);
    b.current_share_price_cents = Some(160);
    let s = state(
        vec![a, b],
        vec![
            lot(
                1,
                1,
                LotType::Initial,
                "1000000",
                100_000_000,
                date(2024, 1, 1),
            ),
            lot(
                2,
                2,
                LotType::Initial,
                "1000000",
                100_000_000,
                date(2024, 1, 1),
            ),
        ],
        vec![],
    );
    assert_eq!(compute(&s, AS_OF()).fund.gross_moic, Some(dec("1.800000")));
}

#[test]
fn a_sale_relieves_lots_first_in_first_out_and_its_proceeds_follow_the_shares() {
    let mut c = company(1);
    c.current_share_price_cents = Some(300);
    let s = state(
        vec![c],
        vec![
            // Listed out of order on purpose: FIFO is by acquisition date.
            lot(2, 1, LotType::FollowOn, "100", 20_000, date(2024, 2, 1)),
            lot(1, 1, LotType::Initial, "100", 10_000, date(2024, 1, 1)),
        ],
        vec![sale(1, 1, 60_000, Some("150"), date(2025, 1, 1))],
    );
    let m = compute(&s, AS_OF());
    let first = m
        .lots
        .iter()
        .find(|l| l.lot_id == Uuid::from_u128(1))
        .unwrap();
    let second = m
        .lots
        .iter()
        .find(|l| l.lot_id == Uuid::from_u128(2))
        .unwrap();
    assert_eq!(
        (
            first.shares_held,
            first.realized_cents,
            first.unrealized_cents
        ),
        (dec("0"), 40_000, 0)
    );
    assert_eq!(
        (
            second.shares_held,
            second.realized_cents,
            second.unrealized_cents
        ),
        (dec("50"), 20_000, 15_000)
    );
    assert_eq!(first.moic, Some(dec("4.000000")));
    assert_eq!(second.moic, Some(dec("1.750000")));
    let co = &m.companies[0];
    assert_eq!(
        (co.realized_cents, co.unrealized_cents, co.invested_cents),
        (60_000, 15_000, 30_000)
    );
    assert_eq!(co.current_moic, Some(dec("2.500000")));
    assert_eq!(co.current_moic_initial, Some(dec("4.000000")));
    assert_eq!(co.current_moic_follow_on, Some(dec("1.750000")));
}

#[test]
fn dividends_are_spread_over_lots_by_cost_basis() {
    let s = state(
        vec![company(1)],
        vec![
            lot(1, 1, LotType::Initial, "100", 10_000, date(2024, 1, 1)),
            lot(2, 1, LotType::FollowOn, "100", 20_000, date(2024, 2, 1)),
        ],
        vec![sale(1, 1, 3_000, None, date(2025, 1, 1))],
    );
    let m = compute(&s, AS_OF());
    assert_eq!(
        m.lots.iter().map(|l| l.realized_cents).collect::<Vec<_>>(),
        vec![1_000, 2_000]
    );
    // No mark: held at cost, and said so.
    assert_eq!(m.companies[0].valuation_basis, ValuationBasis::Cost);
    assert_eq!(m.companies[0].unrealized_cents, 30_000);
    assert_eq!(m.companies[0].current_moic, Some(dec("1.100000")));
}

#[test]
fn only_flows_on_or_before_as_of_count() {
    let s = state(
        vec![company(1)],
        vec![
            lot(1, 1, LotType::Initial, "100", 10_000, date(2024, 1, 1)),
            lot(2, 1, LotType::FollowOn, "100", 20_000, date(2026, 6, 1)),
        ],
        vec![sale(1, 1, 3_000, None, date(2026, 7, 1))],
    );
    let m = compute(&s, AS_OF());
    assert_eq!(m.fund.invested_cents, 10_000);
    assert_eq!(m.fund.realized_cents, 0);
    assert_eq!(m.lots.len(), 1);
}

#[test]
fn the_fund_irr_of_a_doubling_in_one_year_is_100_percent() {
    let s = bought_at_one_marked_at_two("1000", date(2025, 1, 1));
    let m = compute(&s, date(2026, 1, 1));
    assert_eq!(m.fund.gross_irr, Some(dec("1.000000")));
    assert_eq!(m.as_of, date(2026, 1, 1));
}

#[test]
fn projected_value_uses_exit_assumptions_and_planned_reserves() {
    let mut c = company(1);
    c.exit_moic_bps = Some(30_000);
    c.exit_probability = Some(dec("0.5"));
    c.reserve_exit_moic_bps = Some(20_000);
    c.planned_reserves_cents = 10_000;
    let s = state(
        vec![c],
        vec![lot(1, 1, LotType::Initial, "100", 10_000, date(2024, 1, 1))],
        vec![],
    );
    let f = compute(&s, AS_OF()).fund;
    // 10000 × 3 × 0.5 + 10000 × 2 × 0.5 = 25000, over 10000 invested + 10000 planned.
    assert_eq!(f.projected_value_cents, 25_000);
    assert_eq!(f.projected_moic, Some(dec("1.250000")));
    assert_eq!(f.planned_reserves_cents, 10_000);
}

#[test]
fn ratios_round_half_up_to_six_places_and_are_null_over_zero() {
    assert_eq!(ratio(2_000_000, 1_000_000), Some(dec("2.000000")));
    assert_eq!(ratio(1, 3), Some(dec("0.333333")));
    assert_eq!(ratio(2, 3), Some(dec("0.666667")));
    // 0.0000005 is a midpoint: away from zero.
    assert_eq!(ratio(1, 2_000_000), Some(dec("0.000001")));
    assert_eq!(ratio(-1, 2_000_000), Some(dec("-0.000001")));
    assert_eq!(ratio(5, 0), None);
    assert_eq!(
        ratio(i64::MAX, 1).map(|r| r.to_string()),
        Some(format!("{}.000000", i64::MAX))
    );
}

#[test]
fn allocating_over_zero_weights_splits_evenly_and_leftovers_go_to_the_largest_remainders() {
    assert_eq!(allocate_cents(10, &[0, 0, 0]), vec![4, 3, 3]);
    assert_eq!(allocate_cents(100, &[1, 1, 1]), vec![34, 33, 33]);
    assert_eq!(allocate_cents(5, &[1, 2]), vec![2, 3]);
    assert_eq!(allocate_cents(7, &[]), Vec::<i64>::new());
}

#[test]
fn a_large_fund_computed_on_two_threads_equals_the_walk_on_one() {
    // 41 companies × 60 lots, half marked, with sales and dividends: above the parallel threshold.
    let companies: Vec<CompanyState> = (1..=41)
        .map(|id| CompanyState {
            current_share_price_cents: (id % 2 == 0).then_some(100 + id),
            ..company(id)
        })
        .collect();
    let mut lots = Vec::new();
    for c in 1..=41i64 {
        for n in 0..60u32 {
            let kind = if n % 3 == 0 {
                LotType::FollowOn
            } else {
                LotType::Initial
            };
            let i = (c as u128) * 1000 + u128::from(n);
            lots.push(lot(
                i,
                c,
                kind,
                &format!("{}.5", n + 1),
                i64::from(n + 1) * 150,
                date(2020 + (n % 5) as i32, 1 + n % 12, 1 + n % 28),
            ));
        }
    }
    let dists: Vec<DistributionState> = (1..=41i64)
        .flat_map(|c| {
            [
                sale(c * 2, c, 10_000 + c, Some("7.25"), date(2024, 6, 1)),
                sale(c * 2 + 1, c, 333 * c, None, date(2024, 7, 1)),
            ]
        })
        .collect();
    let s = state(companies, lots, dists);
    assert!(s.lots.len() >= PARALLEL_THRESHOLD_LOTS);
    let two = compute(&s, AS_OF());
    let one = compute_with(&s, AS_OF(), false);
    assert_eq!(two, one);
    assert_eq!(two.lots.len(), 41 * 60);
    assert_eq!(
        two.companies
            .iter()
            .map(|c| c.company_id)
            .collect::<Vec<_>>(),
        (1..=41).collect::<Vec<_>>()
    );
    assert!(two.fund.realized_cents > 0);
}

#[test]
fn an_empty_fund_has_null_ratios_not_errors() {
    let m = compute(&state(vec![], vec![], vec![]), AS_OF());
    assert_eq!(m.fund.gross_moic, None);
    assert_eq!(m.fund.gross_irr, None);
    assert_eq!(m.fund.projected_moic, None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn allocating_cents_is_exact_and_proportional(total in 0i64..1_000_000_000_000, weights in prop::collection::vec(0u32..1_000_000, 1..20)) {
        let weights: Vec<i128> = weights.into_iter().map(i128::from).collect();
        let parts = allocate_cents(total, &weights);
        prop_assert_eq!(parts.iter().sum::<i64>(), total);
        let sum: i128 = weights.iter().sum();
        for (p, w) in parts.iter().zip(&weights) {
            prop_assert!(*p >= 0);
            if sum != 0 {
                // |p − total × w / sum| < 1, in integers: |p × sum − total × w| < sum.
                prop_assert!((i128::from(*p) * sum - i128::from(total) * w).abs() < sum);
            }
        }
    }

    #[test]
    fn integer_half_up_division_agrees_with_decimal_rounding(n in -1_000_000_000_000i64..1_000_000_000_000, d in 1i64..1_000_000_000) {
        let expected = crate::calc::money::round_half_up(Decimal::from(n) / Decimal::from(d), 0);
        prop_assert_eq!(Decimal::from(div_half_up(i128::from(n), i128::from(d))), expected);
        prop_assert_eq!(div_half_up(i128::from(n), -i128::from(d)), -div_half_up(i128::from(n), i128::from(d)));
    }

    #[test]
    fn realized_proceeds_are_conserved_across_lots(
        sales in prop::collection::vec((1i64..10_000_000, prop::option::of(1u32..500)), 0..8),
        lot_shares in prop::collection::vec(1u32..300, 1..6),
    ) {
        let lots: Vec<LotState> = lot_shares.iter().enumerate()
            .map(|(i, s)| lot(i as u128 + 1, 1, LotType::Initial, &s.to_string(), i64::from(*s) * 100, date(2024, 1, 1 + i as u32)))
            .collect();
        let dists: Vec<DistributionState> = sales.iter().enumerate()
            .map(|(i, (amount, shares))| sale(i as i64 + 1, 1, *amount, shares.map(|s| s.to_string()).as_deref(), date(2025, 1, 1)))
            .collect();
        let total: i64 = dists.iter().map(|d| d.amount_cents).sum();
        let m = compute(&state(vec![company(1)], lots, dists), AS_OF());
        prop_assert_eq!(m.lots.iter().map(|l| l.realized_cents).sum::<i64>(), total);
        prop_assert_eq!(m.companies[0].realized_cents, total);
        prop_assert!(m.lots.iter().all(|l| l.shares_held >= Decimal::ZERO));
    }
}

fn mark(on: NaiveDate, cents: &str, source: MarkSource) -> MarkState {
    MarkState {
        marked_on: on,
        share_price_cents: dec(cents),
        source,
    }
}

#[test]
fn each_date_is_valued_at_the_mark_in_effect_on_it_and_a_write_off_is_zero_from_its_date() {
    // 1,000 shares bought at $1 on 2021-01-01; marked $2 on 2021-06-30, $0.4213 on 2022-06-30.
    let mut c = company(1);
    c.marks = Some(vec![
        mark(date(2021, 6, 30), "200", MarkSource::Round),
        mark(date(2022, 6, 30), "42.13", MarkSource::Valuation409a),
    ]);
    let mut s = state(
        vec![c],
        vec![lot(
            1,
            1,
            LotType::Initial,
            "1000",
            100_000,
            date(2021, 1, 1),
        )],
        vec![],
    );
    let value = |s: &PortfolioState, on| {
        let m = compute(s, on);
        (m.companies[0].valuation_basis, m.fund.unrealized_cents)
    };
    assert_eq!(
        value(&s, date(2021, 3, 31)),
        (ValuationBasis::Cost, 100_000)
    );
    assert_eq!(
        value(&s, date(2021, 6, 30)),
        (ValuationBasis::Mark, 200_000)
    );
    // 1,000 × 42.13 cents = 42,130 cents exactly.
    assert_eq!(value(&s, date(2023, 1, 1)), (ValuationBasis::Mark, 42_130));

    // Written off on 2023-03-31 (a mark of 0); a later mark does not revive a written-off company.
    let c = &mut s.companies[0];
    c.status = CompanyStatus::WrittenOff;
    let marks = c.marks.as_mut().unwrap();
    marks.push(mark(date(2023, 3, 31), "0", MarkSource::WriteOff));
    marks.push(mark(date(2023, 9, 30), "500", MarkSource::Manual));
    assert_eq!(value(&s, date(2023, 3, 30)), (ValuationBasis::Mark, 42_130));
    assert_eq!(value(&s, date(2023, 3, 31)), (ValuationBasis::Mark, 0));
    assert_eq!(value(&s, date(2024, 1, 1)), (ValuationBasis::Mark, 0));
}

#[test]
fn projected_value_counts_only_active_companies_remaining_cost() {
    // Two companies, $1,000 each, exit 3.0× at p = 0.5; the second exited for $2,500.
    let mut a = company(1);
    let mut b = company(2);
    for c in [&mut a, &mut b] {
        c.exit_moic_bps = Some(30_000);
        c.exit_probability = Some(dec("0.5"));
    }
    b.status = CompanyStatus::Exited;
    let exit = DistributionState {
        id: 1,
        company_id: 2,
        distributed_on: date(2024, 1, 1),
        amount_cents: 250_000,
        kind: DistributionKind::Exit,
        shares_sold: Some(dec("10")),
        created_at: DateTime::from_timestamp(1_700_000_100, 0).unwrap(),
    };
    let s = state(
        vec![a, b],
        vec![
            lot(1, 1, LotType::Initial, "10", 100_000, date(2023, 1, 1)),
            lot(2, 2, LotType::Initial, "10", 100_000, date(2023, 1, 1)),
        ],
        vec![exit],
    );
    let m = compute(&s, AS_OF());
    // Realized 250,000 + the active company's 100,000 × 3.0 × 0.5 = 150,000; the exit is not counted
    // again (it was 150,000 more before).
    assert_eq!(m.fund.projected_value_cents, 400_000);
}
