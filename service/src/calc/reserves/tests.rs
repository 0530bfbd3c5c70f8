use std::str::FromStr;

use chrono::{DateTime, NaiveDate};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::calc::money::Cents;
use crate::calc::state::{CompanyState, FundState, LotState};

fn company(id: i64, reserve_bps: Option<i64>, p: Option<&str>) -> CompanyState {
    CompanyState {
        id,
        name: format!("C{id}"),
        stage: Stage::SeriesA,
        status: CompanyStatus::Active,
        current_share_price_cents: None,
        exit_moic_bps: None,
        exit_probability: p.map(|v| Decimal::from_str(v).unwrap()),
        reserve_exit_moic_bps: reserve_bps,
        planned_reserves_cents: 0,
        allocation_cap_cents: None,
        marks: None,
    }
}

fn lot(n: u128, company_id: i64, lot_type: LotType, cost: i64) -> LotState {
    LotState {
        id: Uuid::from_u128(n),
        company_id,
        investment_id: company_id,
        round_name: "Seed".into(),
        lot_type,
        shares: Decimal::ONE,
        cost_basis_cents: cost,
        acquired_on: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
    }
}

fn state(
    size: i64,
    ratio: i32,
    companies: Vec<CompanyState>,
    lots: Vec<LotState>,
) -> PortfolioState {
    PortfolioState {
        fund: FundState {
            id: 1,
            size_cents: Cents::new(size),
            reserve_ratio_bps: Bps::new(ratio.into()).unwrap(),
            base_currency: "USD".into(),
            terms: None,
        },
        companies,
        lots: lots.into(),
        distributions: vec![],
    }
}

#[test]
fn reserves_go_first_to_the_best_expected_multiple_up_to_each_cap() {
    // Fund of 1,000,000 with 40% reserves = 400,000, less 50,000 of follow-ons already made = 350,000.
    let s = state(
        1_000_000,
        4000,
        vec![
            company(1, Some(20_000), Some("0.5")),
            company(2, Some(40_000), Some("0.5")),
            company(3, None, None),
        ],
        vec![
            lot(1, 1, LotType::Initial, 400_000),
            lot(2, 2, LotType::Initial, 200_000),
            lot(3, 2, LotType::FollowOn, 50_000),
            lot(4, 3, LotType::Initial, 1_000_000),
        ],
    );
    let plan = allocate(&s, &ReservePolicy::default());
    assert_eq!(plan.available_cents, 350_000);
    let order: Vec<i64> = plan.allocations.iter().map(|a| a.company_id).collect();
    assert_eq!(order, vec![2, 1, 3], "by score 2.0, 1.0, then unknown last");
    // Caps at 50% of invested: company 2 has 250,000 invested → 125,000; company 1 → 200,000.
    let amounts: Vec<i64> = plan
        .allocations
        .iter()
        .map(|a| a.planned_reserve_cents)
        .collect();
    assert_eq!(amounts, vec![125_000, 200_000, 25_000]);
    assert_eq!(plan.remaining_cents, 0);
    assert_eq!(
        plan.allocations[0].allocation_score,
        Some(Decimal::from_str("2.000000").unwrap())
    );
    assert_eq!(plan.allocations[0].priority, 1);
    assert!(
        plan.allocations[0]
            .rationale
            .starts_with("Ranked 1 of 3 with an expected reserve multiple of 2.000000x")
    );
}

#[test]
fn written_off_and_exited_companies_get_nothing_and_small_checks_stay_unallocated() {
    let mut gone = company(1, Some(90_000), Some("1"));
    gone.status = CompanyStatus::WrittenOff;
    let mut own_cap = company(2, Some(10_000), Some("1"));
    own_cap.allocation_cap_cents = Some(5_000);
    let s = state(
        100_000,
        10_000,
        vec![gone, own_cap],
        vec![
            lot(1, 1, LotType::Initial, 100_000),
            lot(2, 2, LotType::Initial, 100_000),
        ],
    );
    let plan = allocate(
        &s,
        &ReservePolicy {
            min_check_cents: Some(10_000),
            ..Default::default()
        },
    );
    assert_eq!(plan.allocations.len(), 1, "only active companies");
    assert_eq!(plan.allocations[0].binding_cap, BindingCap::CompanyCap);
    assert_eq!(
        plan.allocations[0].planned_reserve_cents, 0,
        "5,000 is below the 10,000 minimum check"
    );
    assert_eq!(plan.remaining_cents, 100_000);
}

#[test]
fn a_stage_cap_binds_when_it_is_the_smallest() {
    let s = state(
        1_000_000,
        10_000,
        vec![company(1, Some(10_000), Some("1"))],
        vec![lot(1, 1, LotType::Initial, 100_000)],
    );
    let policy = ReservePolicy {
        stage_caps_bps: Some(BTreeMap::from([(Stage::SeriesA, 1000)])),
        ..Default::default()
    };
    let plan = allocate(&s, &policy);
    assert_eq!(plan.allocations[0].planned_reserve_cents, 10_000);
    assert_eq!(plan.allocations[0].binding_cap, BindingCap::StageCap);
}

#[test]
fn available_reserves_never_go_below_zero() {
    let s = state(
        100,
        5000,
        vec![company(1, None, None)],
        vec![lot(1, 1, LotType::FollowOn, 1_000)],
    );
    let plan = allocate(&s, &ReservePolicy::default());
    assert_eq!((plan.available_cents, plan.remaining_cents), (0, 0));
}

/// (reserve exit multiple bps, probability in millionths, own cap, status index, invested cents)
type Spec = (Option<i64>, Option<u32>, Option<i64>, u8, i64);

fn arb_company() -> impl Strategy<Value = Spec> {
    (
        prop::option::of(0i64..100_000),
        prop::option::of(0u32..=1_000_000),
        prop::option::of(0i64..5_000_000),
        0u8..3,
        0i64..10_000_000,
    )
}

fn build(size: i64, ratio: i32, specs: &[Spec]) -> PortfolioState {
    let mut companies = Vec::new();
    let mut lots = Vec::new();
    for (i, (moic, p, cap, status, invested)) in specs.iter().enumerate() {
        let id = i as i64 + 1;
        let mut c = company(id, *moic, None);
        c.exit_probability = p.map(|v| Decimal::new(i64::from(v), 6));
        c.allocation_cap_cents = *cap;
        c.status = [
            CompanyStatus::Active,
            CompanyStatus::Active,
            CompanyStatus::WrittenOff,
        ][*status as usize];
        companies.push(c);
        lots.push(lot(
            id as u128,
            id,
            if i % 3 == 0 {
                LotType::FollowOn
            } else {
                LotType::Initial
            },
            *invested,
        ));
    }
    state(size, ratio, companies, lots)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn allocations_plus_remaining_equal_available_and_no_cap_is_exceeded(
        size in 1i64..10_000_000_000,
        ratio in 0i32..=10_000,
        min_check in prop::option::of(0i64..1_000_000),
        specs in prop::collection::vec(arb_company(), 0..25),
    ) {
        let s = build(size, ratio, &specs);
        let policy = ReservePolicy { min_check_cents: min_check, ..Default::default() };
        let plan = allocate(&s, &policy);
        let allocated: i64 = plan.allocations.iter().map(|a| a.planned_reserve_cents).sum();
        prop_assert_eq!(allocated + plan.remaining_cents, plan.available_cents);
        prop_assert!(plan.remaining_cents >= 0);
        for a in &plan.allocations {
            prop_assert!(a.planned_reserve_cents >= 0);
            prop_assert!(a.planned_reserve_cents <= a.cap_cents.max(0));
            if let Some(m) = min_check {
                prop_assert!(a.planned_reserve_cents == 0 || a.planned_reserve_cents >= m);
            }
        }
        let priorities: Vec<i32> = plan.allocations.iter().map(|a| a.priority).collect();
        prop_assert_eq!(priorities, (1..=plan.allocations.len() as i32).collect::<Vec<_>>());
    }

    #[test]
    fn the_plan_does_not_depend_on_the_order_of_the_inputs(
        size in 1i64..10_000_000_000,
        specs in prop::collection::vec(arb_company(), 0..25),
        seed in any::<u64>(),
    ) {
        let s = build(size, 5000, &specs);
        let mut shuffled = s.clone();
        // A deterministic shuffle driven by the seed.
        let n = shuffled.companies.len();
        for i in (1..n).rev() {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
            shuffled.companies.swap(i, j);
            std::sync::Arc::make_mut(&mut shuffled.lots).swap(i, j);
        }
        let policy = ReservePolicy::default();
        prop_assert_eq!(allocate(&s, &policy), allocate(&shuffled, &policy));
        prop_assert_eq!(allocate(&s, &policy), allocate(&s, &policy));
    }
}

#[test]
fn companies_expected_to_lose_money_are_not_funded_and_rationales_speak_currency() {
    // $10M fund, 40% reserves = $4M; each company has $3M invested, so a 50% cap of $1.5M.
    let s = state(
        1_000_000_000,
        4000,
        vec![
            company(1, Some(40_000), Some("0.5")), // 2.0× on the next dollar
            company(2, Some(3_000), Some("0.8")),  // 0.24×
            company(3, Some(14_000), Some("0.5")), // 0.7×
        ],
        vec![
            lot(1, 1, LotType::Initial, 300_000_000),
            lot(2, 2, LotType::Initial, 300_000_000),
            lot(3, 3, LotType::Initial, 300_000_000),
        ],
    );
    let plan = allocate(&s, &ReservePolicy::default());
    let amounts: Vec<(i64, i64)> = plan
        .allocations
        .iter()
        .map(|a| (a.company_id, a.planned_reserve_cents))
        .collect();
    assert_eq!(amounts, vec![(1, 150_000_000), (3, 0), (2, 0)]);
    assert_eq!(plan.remaining_cents, 250_000_000);
    assert_eq!(
        plan.allocations[0].rationale,
        "Ranked 1 of 3 with an expected reserve multiple of 2.000000x; allocated USD 1,500,000.00 \
         of a USD 1,500,000.00 cap set by the percent-of-invested cap."
    );
    assert_eq!(
        plan.allocations[2].rationale,
        "Ranked 3 of 3 with an expected reserve multiple of 0.240000x, below the minimum of 1.00x: \
         not funded."
    );

    // A lower floor funds the 0.7× company too.
    let policy = ReservePolicy {
        min_expected_multiple_bps: Some(5_000),
        ..Default::default()
    };
    let plan = allocate(&s, &policy);
    assert_eq!(plan.allocations[1].planned_reserve_cents, 150_000_000);
    assert_eq!(plan.allocations[2].planned_reserve_cents, 0);
}
