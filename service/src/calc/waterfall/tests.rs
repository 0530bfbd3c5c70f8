use proptest::prelude::*;

use super::*;
use crate::calc::money::{Bps, Cents};
use crate::calc::terms::FeeBasis;
use crate::calc::xirr::{CashFlow, xirr};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn terms(kind: WaterfallKind, carry: i64, hurdle: i64, catch_up: i64) -> FundTerms {
    FundTerms {
        committed: Cents::new(10_000),
        first_close_on: d(2021, 1, 1),
        commitment_period_years: 5,
        term_years: 10,
        management_fee: Bps::ZERO,
        post_period_fee: Bps::ZERO,
        post_period_fee_basis: FeeBasis::NetInvestedCapital,
        carry: Bps::new(carry).unwrap(),
        hurdle: Bps::new(hurdle).unwrap(),
        catch_up: Bps::new(catch_up).unwrap(),
        waterfall: kind,
    }
}

fn invest(on: NaiveDate, cents: i64) -> Call {
    Call {
        on,
        cents,
        kind: CallKind::Investment,
    }
}

fn proceeds(id: i64, on: NaiveDate, cents: i64, relieved: i64) -> Proceeds {
    Proceeds {
        id,
        on,
        cents,
        relieved_cost_cents: relieved,
    }
}

/// Issue #23's European case: h = 8 %, c = 100 %, k = 20 %, no fees.
#[test]
fn the_european_case_of_issue_23_is_exact_to_the_cent() {
    let t = terms(WaterfallKind::European, 2000, 800, 10_000);
    let calls = [invest(d(2021, 1, 1), 6000), invest(d(2022, 1, 1), 4000)];
    let paid = [
        proceeds(1, d(2023, 1, 1), 5000, 0),
        proceeds(2, d(2024, 1, 1), 7000, 0),
        proceeds(3, d(2024, 12, 31), 6000, 0),
    ];
    let w = divide(&t, &calls, &paid, &[], 0, d(2025, 1, 1));
    let parts: Vec<(i64, i64)> = w
        .distributions
        .iter()
        .map(|x| (x.split.lp(), x.split.gp()))
        .collect();
    assert_eq!(parts, vec![(5000, 0), (6824, 176), (4576, 1424)]);
    // The second: 50.00 of capital, 18.24 of preferred return, 1.76 of catch-up.
    let second = w.distributions[1].split;
    assert_eq!(
        (second.tier1_lp, second.tier2_lp, second.tier3_gp),
        (5000, 1824, 176)
    );
    // The third: 2.80 more catch-up, then 57.20 split 11.44 / 45.76.
    let third = w.distributions[2].split;
    assert_eq!(
        (third.tier3_gp, third.tier4_gp, third.tier4_lp),
        (280, 1144, 4576)
    );
    let gp: i64 = w.distributions.iter().map(|x| x.split.gp()).sum();
    assert_eq!(gp, 1600, "20 % of the profit of 80.00");
    // The LPs' net IRR: 21.496 %.
    let mut flows: Vec<CashFlow> = calls
        .iter()
        .map(|c| CashFlow {
            date: c.on,
            amount_cents: -c.cents,
        })
        .collect();
    flows.extend(w.distributions.iter().map(|x| CashFlow {
        date: x.on,
        amount_cents: x.split.lp(),
    }));
    let irr = xirr(&flows).unwrap();
    assert_eq!(
        crate::calc::money::round_half_up(irr, 5).to_string(),
        "0.21496"
    );
}

#[test]
fn the_nav_is_divided_as_a_last_distribution_and_changes_nothing_else() {
    let t = terms(WaterfallKind::European, 2000, 0, 10_000);
    let calls = [invest(d(2021, 1, 1), 10_000)];
    let w = divide(&t, &calls, &[], &[], 15_000, d(2022, 1, 1));
    // 100.00 of capital back, then 50.00 of profit split 20 / 80.
    assert_eq!(w.liquidation.tier1_lp, 10_000);
    assert_eq!((w.liquidation.gp(), w.liquidation.lp()), (1000, 14_000));
    assert!(w.distributions.is_empty());
}

#[test]
fn american_carry_is_clawed_back_when_the_fund_as_a_whole_falls_short() {
    let t = terms(WaterfallKind::American, 2000, 0, 10_000);
    // Two deals of 100.00: the first sold for 200.00 (carry 20.00 on its 100.00 gain), the second
    // written off.
    let calls = [invest(d(2021, 1, 1), 10_000), invest(d(2021, 1, 1), 10_000)];
    let sold = [proceeds(1, d(2022, 1, 1), 20_000, 10_000)];
    let w = divide(
        &t,
        &calls,
        &sold,
        &[WriteOff {
            on: d(2023, 1, 1),
            remaining_cost_cents: 10_000,
        }],
        0,
        d(2023, 6, 30),
    );
    assert_eq!(w.distributions[0].split.tier1_lp, 10_000);
    assert_eq!(w.distributions[0].split.gp(), 2000);
    // The fund returned 200.00 on 200.00: no profit, so the whole 20.00 is owed back.
    assert_eq!(w.clawback_cents, 2000);
}

#[derive(Clone, Debug)]
struct Fund {
    calls: Vec<Call>,
    proceeds: Vec<Proceeds>,
    nav: i64,
}

fn fund() -> impl Strategy<Value = Fund> {
    let call =
        (0u64..1500, 1i64..5_000_000, prop::bool::weighted(0.2)).prop_map(|(day, cents, fee)| {
            Call {
                on: d(2021, 1, 1) + chrono::Days::new(day),
                cents,
                kind: if fee {
                    CallKind::ManagementFee
                } else {
                    CallKind::Investment
                },
            }
        });
    let paid = (0u64..1500, 1i64..8_000_000, 0i64..3_000_000)
        .prop_map(|(day, cents, relieved)| (day, cents, relieved));
    (
        prop::collection::vec(call, 1..12),
        prop::collection::vec(paid, 0..12),
        0i64..20_000_000,
    )
        .prop_map(|(calls, paid, nav)| Fund {
            calls,
            proceeds: paid
                .into_iter()
                .enumerate()
                .map(|(i, (day, cents, relieved))| {
                    proceeds(
                        i as i64 + 1,
                        d(2021, 1, 1) + chrono::Days::new(day),
                        cents,
                        relieved,
                    )
                })
                .collect(),
            nav,
        })
}

fn lp_total(w: &Waterfall) -> i64 {
    w.distributions.iter().map(|x| x.split.lp()).sum::<i64>()
        + w.liquidation.lp()
        + w.clawback_cents
}

fn gp_total(w: &Waterfall) -> i64 {
    w.distributions.iter().map(|x| x.split.gp()).sum::<i64>() + w.liquidation.gp()
        - w.clawback_cents
}

const AS_OF: fn() -> NaiveDate = || d(2026, 1, 1);

proptest! {
    /// Each distribution's parts sum to it, and the NAV's parts to the NAV.
    #[test]
    fn parts_sum_to_the_whole(f in fund(), k in 0i64..=5000, h in 0i64..=1500, american in any::<bool>()) {
        let kind = if american { WaterfallKind::American } else { WaterfallKind::European };
        let t = terms(kind, k, if american { 0 } else { h }, 10_000);
        let w = divide(&t, &f.calls, &f.proceeds, &[], f.nav, AS_OF());
        for x in &w.distributions {
            prop_assert_eq!(x.split.lp() + x.split.gp(), x.cents);
            prop_assert!(x.split.gp() >= 0 && x.split.lp() >= 0);
        }
        prop_assert_eq!(w.liquidation.lp() + w.liquidation.gp(), f.nav);
    }

    /// Without carry the LPs get everything.
    #[test]
    fn without_carry_the_gp_gets_nothing(f in fund(), h in 0i64..=1500) {
        let w = divide(&terms(WaterfallKind::European, 0, h, 10_000), &f.calls, &f.proceeds, &[], f.nav, AS_OF());
        prop_assert_eq!(gp_total(&w), 0);
    }

    /// More carry never gives the LPs more.
    #[test]
    fn more_carry_never_raises_what_the_lps_get(f in fund(), k in 0i64..=4000, more in 1i64..=2000, h in 0i64..=1500, american in any::<bool>()) {
        let kind = if american { WaterfallKind::American } else { WaterfallKind::European };
        let h = if american { 0 } else { h };
        let low = divide(&terms(kind, k, h, 10_000), &f.calls, &f.proceeds, &[], f.nav, AS_OF());
        let high = divide(&terms(kind, k + more, h, 10_000), &f.calls, &f.proceeds, &[], f.nav, AS_OF());
        prop_assert!(lp_total(&high) <= lp_total(&low), "{} > {}", lp_total(&high), lp_total(&low));
    }

    /// European, h = 0, every call before the first distribution: the GP's total is k × profit,
    /// within one cent per amount divided.
    #[test]
    fn european_without_hurdle_pays_the_gp_k_of_the_profit(f in fund(), k in 0i64..=5000) {
        let mut f = f;
        for c in &mut f.calls {
            c.on = d(2020, 6, 1);
        }
        let w = divide(&terms(WaterfallKind::European, k, 0, 10_000), &f.calls, &f.proceeds, &[], f.nav, AS_OF());
        let paid_in: i64 = f.calls.iter().map(|c| c.cents).sum();
        let distributed: i64 = f.proceeds.iter().map(|p| p.cents).sum();
        let profit = (distributed + f.nav - paid_in).max(0);
        let expected = profit as i128 * k as i128 / 10_000;
        let amounts = f.proceeds.len() as i128 + 1;
        prop_assert!((gp_total(&w) as i128 - expected).abs() <= amounts, "{} vs {}", gp_total(&w), expected);
    }
}

proptest! {
    /// SPEC §6.6, as worded: European with h = 0 and no call dated after the first distribution that
    /// pays the GP ⇒ the GP's total is k × profit within one cent per distribution. (A call after it
    /// reopens tier 1, and the GP keeps carry a later shortfall would have denied it.)
    #[test]
    fn european_without_hurdle_and_no_later_call_pays_k_of_the_profit(f in fund(), k in 1i64..=5000) {
        let w = divide(&terms(WaterfallKind::European, k, 0, 10_000), &f.calls, &f.proceeds, &[], f.nav, AS_OF());
        let first_paying = w.distributions.iter().find(|x| x.split.gp() > 0).map(|x| x.on);
        prop_assume!(first_paying.is_none_or(|on| f.calls.iter().all(|c| c.on <= on)));
        let paid_in: i64 = f.calls.iter().map(|c| c.cents).sum();
        let distributed: i64 = f.proceeds.iter().map(|p| p.cents).sum();
        let profit = (distributed + f.nav - paid_in).max(0);
        let expected = profit as i128 * k as i128 / 10_000;
        let amounts = f.proceeds.len() as i128 + 1;
        prop_assert!((gp_total(&w) as i128 - expected).abs() <= amounts, "{} vs {}", gp_total(&w), expected);
    }

    /// SPEC §6.6: American after the clawback never pays the GP more than European with the same
    /// terms and h = 0, plus one cent per distribution.
    #[test]
    fn american_after_clawback_never_pays_the_gp_more_than_european(f in fund(), k in 0i64..=5000) {
        let american = divide(&terms(WaterfallKind::American, k, 0, 10_000), &f.calls, &f.proceeds, &[], f.nav, AS_OF());
        let european = divide(&terms(WaterfallKind::European, k, 0, 10_000), &f.calls, &f.proceeds, &[], f.nav, AS_OF());
        let slack = f.proceeds.len() as i64 + 1;
        prop_assert!(gp_total(&american) <= gp_total(&european) + slack, "{} > {}", gp_total(&american), gp_total(&european));
    }
}
