use chrono::DateTime;
use entity::portfolio_company::Stage;
use proptest::prelude::*;

use super::*;
use crate::calc::fixtures::{d, lot, portfolio};
use crate::calc::money::{Bps, Cents};
use crate::calc::state::DistributionState;
use crate::calc::terms::{FeeBasis, WaterfallKind};

/// A seed-stage active company.
fn company(id: i64) -> CompanyState {
    crate::calc::fixtures::company(id, Stage::Seed, CompanyStatus::Active)
}

/// A fund of $100,000.
fn state(
    companies: Vec<CompanyState>,
    lots: Vec<LotState>,
    distributions: Vec<DistributionState>,
) -> PortfolioState {
    portfolio(10_000_000, companies, lots, distributions)
}

fn terms(kind: WaterfallKind, fee_bps: i64, carry_bps: i64) -> FundTerms {
    FundTerms {
        committed: Cents::new(10_000_000),
        first_close_on: d(2021, 1, 1),
        commitment_period_years: 5,
        term_years: 10,
        management_fee: Bps::new(fee_bps).unwrap(),
        post_period_fee: Bps::new(fee_bps * 3 / 4).unwrap(),
        post_period_fee_basis: FeeBasis::NetInvestedCapital,
        carry: Bps::new(carry_bps).unwrap(),
        hurdle: Bps::ZERO,
        catch_up: Bps::ALL,
        waterfall: kind,
    }
}

fn exit(id: i64, company_id: i64, cents: i64, on: NaiveDate) -> DistributionState {
    DistributionState {
        id,
        company_id,
        distributed_on: on,
        amount_cents: cents,
        kind: DistributionKind::Exit,
        shares_sold: None,
        created_at: DateTime::from_timestamp(1_700_100_000 + id, 0).unwrap(),
    }
}

#[test]
fn a_fund_that_tripled_one_deal_pays_fees_then_capital_then_splits_the_profit() {
    // $100,000 committed, 2 % a year; $50,000 invested on the first close and exited for $150,000 a
    // year later. Five quarterly fees of $500 are called by 2022-01-01 (that day's before the exit).
    let s = state(
        vec![company(1)],
        vec![lot(1, 1, 5_000_000, d(2021, 1, 1))],
        vec![exit(1, 1, 15_000_000, d(2022, 1, 1))],
    );
    let (r, w, fees) = net_returns(
        &s,
        &terms(WaterfallKind::European, 200, 2000),
        d(2022, 1, 1),
    );
    assert_eq!(fees.len(), 5);
    assert_eq!(r.fees_cents, 250_000);
    assert_eq!(r.paid_in_cents, 5_250_000);
    assert_eq!(w.distributions[0].split.tier1_lp, 5_250_000);
    assert_eq!(
        r.gp_carry_paid_cents, 1_950_000,
        "20 % of the $97,500 over paid-in"
    );
    assert_eq!(r.lp_distributed_cents, 13_050_000);
    assert_eq!(r.dpi.unwrap().to_string(), "2.485714");
    assert_eq!(r.tvpi, r.dpi);
    assert_eq!(r.rvpi.unwrap().to_string(), "0.000000");
    assert_eq!(r.gross_profit_cents, 10_000_000);
    assert_eq!(r.net_profit_cents, 7_800_000);
    assert_eq!(r.pic.unwrap().to_string(), "0.525000");
}

#[test]
fn before_the_first_close_there_is_nothing_and_ratios_are_null() {
    let s = state(vec![company(1)], vec![], vec![]);
    let (r, _, _) = net_returns(
        &s,
        &terms(WaterfallKind::European, 200, 2000),
        d(2020, 12, 31),
    );
    assert_eq!((r.paid_in_cents, r.lp_nav_cents), (0, 0));
    assert_eq!((r.dpi, r.tvpi, r.net_irr), (None, None, None));
}

#[test]
fn a_fund_with_fees_and_no_lots_has_a_dpi_and_rvpi_of_zero() {
    let s = state(vec![company(1)], vec![], vec![]);
    let (r, _, _) = net_returns(
        &s,
        &terms(WaterfallKind::European, 200, 2000),
        d(2021, 12, 31),
    );
    assert_eq!(r.fees_cents, 200_000);
    assert_eq!(r.dpi.unwrap().to_string(), "0.000000");
    assert_eq!(r.rvpi.unwrap().to_string(), "0.000000");
}

/// A random fund: companies with lots, some exited, some written off, some held at a mark.
fn fund() -> impl Strategy<Value = PortfolioState> {
    let row = (
        1i64..100_000_000,
        0u64..2500,
        0u8..4,
        1i64..300_000_000,
        1u64..900,
    );
    prop::collection::vec(row, 1..8).prop_map(|rows| {
        let mut companies = Vec::new();
        let mut lots = Vec::new();
        let mut distributions = Vec::new();
        for (i, (cost, day, fate, proceeds, later)) in rows.into_iter().enumerate() {
            let id = i as i64 + 1;
            let bought = d(2021, 1, 1) + chrono::Days::new(day);
            let mut c = company(id);
            lots.push(lot(id as u128, id, cost, bought));
            match fate {
                0 => distributions.push(exit(id, id, proceeds, bought + chrono::Days::new(later))),
                1 => {
                    c.status = CompanyStatus::WrittenOff;
                    c.marks = Some(vec![crate::calc::state::MarkState {
                        marked_on: bought + chrono::Days::new(later),
                        share_price_cents: Decimal::ZERO,
                        source: MarkSource::WriteOff,
                    }]);
                }
                2 => {
                    c.marks = Some(vec![crate::calc::state::MarkState {
                        marked_on: bought,
                        share_price_cents: Decimal::from(proceeds / 1000),
                        source: MarkSource::Round,
                    }]);
                }
                _ => {}
            }
            companies.push(c);
        }
        state(companies, lots, distributions)
    })
}

proptest! {
    /// The bridge is exact, and LP NAV + accrued carry = NAV + clawback, for both waterfalls.
    #[test]
    fn the_bridge_from_gross_to_net_is_exact(s in fund(), fee in 0i64..=300, carry in 0i64..=3000, american in any::<bool>()) {
        let kind = if american { WaterfallKind::American } else { WaterfallKind::European };
        let as_of = d(2029, 6, 30);
        let (r, w, _) = net_returns(&s, &terms(kind, fee, carry), as_of);
        prop_assert_eq!(r.net_profit_cents, r.lp_distributed_cents + r.lp_nav_cents - r.paid_in_cents);
        let nav = compute(&s, as_of).fund.unrealized_cents;
        prop_assert_eq!(r.lp_nav_cents + r.accrued_carry_cents, nav + r.clawback_cents);
        prop_assert_eq!(w.liquidation.lp() + w.liquidation.gp(), nav);
    }

    /// Without carry, net profit is gross profit less fees.
    #[test]
    fn without_carry_net_profit_is_gross_profit_less_fees(s in fund(), fee in 0i64..=300, american in any::<bool>()) {
        let kind = if american { WaterfallKind::American } else { WaterfallKind::European };
        let (r, _, _) = net_returns(&s, &terms(kind, fee, 0), d(2029, 6, 30));
        prop_assert_eq!(r.net_profit_cents, r.gross_profit_cents - r.fees_cents);
    }

    /// More fees never raise what the LPs end up with over what they paid in.
    #[test]
    fn more_fees_never_raise_net_profit(s in fund(), fee in 0i64..=250, more in 1i64..=50, carry in 0i64..=3000) {
        let as_of = d(2029, 6, 30);
        let (low, _, _) = net_returns(&s, &terms(WaterfallKind::European, fee, carry), as_of);
        let (high, _, _) = net_returns(&s, &terms(WaterfallKind::European, fee + more, carry), as_of);
        prop_assert!(high.net_profit_cents <= low.net_profit_cents);
        prop_assert!(high.fees_cents >= low.fees_cents);
    }
}

#[test]
fn the_ledger_lists_calls_then_the_distribution_then_the_liquidation_with_running_balances() {
    // The tripled deal above, a second company still held at cost, valued on 2022-03-31.
    let s = state(
        vec![company(1), company(2)],
        vec![
            lot(1, 1, 5_000_000, d(2021, 1, 1)),
            lot(2, 2, 1_000_000, d(2021, 6, 1)),
        ],
        vec![exit(1, 1, 15_000_000, d(2022, 1, 1))],
    );
    let as_of = d(2022, 3, 31);
    let terms = terms(WaterfallKind::European, 200, 2000);
    let gross = compute(&s, as_of).fund;
    let result = net_result(&s, &terms, as_of, &gross);
    let lines = crate::calc::ledger::ledger(&s, as_of, &result);
    use crate::calc::ledger::LedgerKind::*;
    let kinds: Vec<_> = lines.iter().map(|l| (l.on, l.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (d(2021, 1, 1), Investment),
            (d(2021, 1, 1), ManagementFee),
            (d(2021, 4, 1), ManagementFee),
            (d(2021, 6, 1), Investment),
            (d(2021, 7, 1), ManagementFee),
            (d(2021, 10, 1), ManagementFee),
            (d(2022, 1, 1), ManagementFee),
            (d(2022, 1, 1), Distribution),
            (d(2022, 3, 31), Liquidation),
        ]
    );
    // Paid-in runs over the calls: 50,000 + 500 + 500 + 10,000 + 500 + 500 + 500 dollars.
    assert_eq!(lines[6].paid_in_cents, 6_250_000);
    let exit = &lines[7];
    assert_eq!(exit.distribution_id, Some(1));
    assert_eq!(exit.relieved_cost_cents, Some(5_000_000));
    let split = exit.split.unwrap();
    // All 62,500 paid in comes back first; 20 % of the remaining 87,500 goes to the GP.
    assert_eq!(split.tier1_lp, 6_250_000);
    assert_eq!(split.tier4_gp, 1_750_000);
    assert_eq!(split.lp() + split.gp(), 15_000_000);
    assert_eq!(exit.returned_cents, 6_250_000);
    assert_eq!(exit.hurdle_balance_cents, Some(0));
    // The liquidation divides the NAV (the second company at cost): all of it to the LPs' split.
    let last = lines.last().unwrap();
    assert_eq!(last.amount_cents, 1_000_000);
    assert_eq!(last.split.unwrap().tier4_gp, 200_000);
    assert_eq!(result.returns.accrued_carry_cents, 200_000);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.kind == Distribution)
            .map(|l| l.split.unwrap().lp())
            .sum::<i64>(),
        result.returns.lp_distributed_cents
    );
}

proptest! {
    /// SPEC §6.6: more carry or more fees never raise net TVPI, for either waterfall.
    #[test]
    fn more_carry_or_fees_never_raise_net_tvpi(s in fund(), fee in 0i64..=250, carry in 0i64..=3000, more_fee in 0i64..=50, more_carry in 0i64..=1000, american in any::<bool>()) {
        let kind = if american { WaterfallKind::American } else { WaterfallKind::European };
        let as_of = d(2029, 6, 30);
        let (base, _, _) = net_returns(&s, &terms(kind, fee, carry), as_of);
        let (dearer, _, _) = net_returns(&s, &terms(kind, fee + more_fee, carry + more_carry), as_of);
        if let (Some(low), Some(high)) = (dearer.tvpi, base.tvpi) {
            prop_assert!(low <= high, "{} > {}", low, high);
        }
    }
}

proptest! {
    /// `paid_in` is `net_returns`' paid-in, computed without the rest.
    #[test]
    fn paid_in_alone_is_the_net_returns_paid_in(s in fund(), fee in 0i64..=300, american in any::<bool>()) {
        let kind = if american { WaterfallKind::American } else { WaterfallKind::European };
        let t = terms(kind, fee, 2000);
        let as_of = d(2027, 3, 31);
        prop_assert_eq!(paid_in(&s, &t, as_of), net_returns(&s, &t, as_of).0.paid_in_cents);
    }
}
