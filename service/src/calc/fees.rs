//! The management-fee schedule (SPEC §6.6 item 1): quarterly in advance, partial quarters pro rata by
//! days, on commitments during the commitment period and then on commitments or net invested capital.
//! Pure: the caller supplies the fund's cost changes (lots bought, cost relieved, write-offs) as dated
//! amounts, and the valuation date.

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::money::{Bps, div_half_up};
use super::terms::{FeeBasis, FundTerms};

/// A dated change of the fund's net invested capital, cents: `+` a lot's cost on its acquisition date,
/// `−` the cost a distribution relieves on its date, `−` a company's remaining cost on its write-off date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostChange {
    pub on: NaiveDate,
    pub cents: i64,
}

/// One quarter's fee, called on its first charged day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeCall {
    pub on: NaiveDate,
    /// basis × annual rate / 4 × charged days / days in the quarter, rounded half-up to the cent.
    pub amount_cents: i64,
    pub basis_cents: i64,
    /// The annual rate charged.
    pub rate: Bps,
    pub basis: FeeBasis,
    pub charged_days: i64,
    pub quarter_days: i64,
}

/// Every fee called on or before `as_of`, in date order.
pub fn fee_schedule(terms: &FundTerms, changes: &[CostChange], as_of: NaiveDate) -> Vec<FeeCall> {
    let mut changes: Vec<CostChange> = changes.to_vec();
    changes.sort_by_key(|c| c.on);
    let (start, end) = (terms.first_close_on, terms.fees_end());
    let period_end = terms.commitment_period_end();
    let mut calls = Vec::new();
    let mut quarter = quarter_start(start);
    // Net invested capital before the quarter's first day: the changes dated before it.
    let (mut applied, mut invested) = (0, 0i64);
    while quarter < end {
        let next = quarter + Months::new(3);
        let first = quarter.max(start);
        let last = next.min(end);
        if first > as_of {
            break;
        }
        while applied < changes.len() && changes[applied].on < first {
            invested += changes[applied].cents;
            applied += 1;
        }
        let (rate, basis, basis_cents) = if first < period_end {
            (
                terms.management_fee,
                FeeBasis::Commitment,
                terms.committed.get(),
            )
        } else {
            let basis_cents = match terms.post_period_fee_basis {
                FeeBasis::Commitment => terms.committed.get(),
                FeeBasis::NetInvestedCapital => invested.max(0),
            };
            (
                terms.post_period_fee,
                terms.post_period_fee_basis,
                basis_cents,
            )
        };
        let charged_days = (last - first).num_days();
        let quarter_days = (next - quarter).num_days();
        let amount = div_half_up(
            i128::from(basis_cents) * i128::from(rate.get()) * i128::from(charged_days),
            4 * 10_000 * i128::from(quarter_days),
        );
        calls.push(FeeCall {
            on: first,
            amount_cents: i64::try_from(amount).unwrap_or(i64::MAX),
            basis_cents,
            rate,
            basis,
            charged_days,
            quarter_days,
        });
        quarter = next;
    }
    calls
}

/// The first day of the calendar quarter holding `date`.
fn quarter_start(date: NaiveDate) -> NaiveDate {
    let month = (date.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calc::money::Cents;
    use crate::calc::terms::WaterfallKind;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn terms() -> FundTerms {
        FundTerms {
            committed: Cents::new(10_000_000_000),
            first_close_on: d(2021, 1, 1),
            commitment_period_years: 5,
            term_years: 10,
            management_fee: Bps::new(200).unwrap(),
            post_period_fee: Bps::new(150).unwrap(),
            post_period_fee_basis: FeeBasis::NetInvestedCapital,
            carry: Bps::new(2000).unwrap(),
            hurdle: Bps::ZERO,
            catch_up: Bps::ALL,
            waterfall: WaterfallKind::European,
        }
    }

    /// Issue #23's case: 80M invested by 2025-12-31, then an exit relieving 10M on 2026-05-15, a 5M
    /// follow-on on 2027-02-10, half of an 8M position sold on 2027-08-20, a 6M write-off on 2028-11-05,
    /// exits relieving 15M on 2029-06-30 and 20M on 2030-03-01.
    fn changes() -> Vec<CostChange> {
        let m = |millions: i64| millions * 100_000_000;
        [
            (d(2022, 3, 1), m(80)),
            (d(2026, 5, 15), -m(10)),
            (d(2027, 2, 10), m(5)),
            (d(2027, 8, 20), -m(4)),
            (d(2028, 11, 5), -m(6)),
            (d(2029, 6, 30), -m(15)),
            (d(2030, 3, 1), -m(20)),
        ]
        .into_iter()
        .map(|(on, cents)| CostChange { on, cents })
        .collect()
    }

    #[test]
    fn the_fee_case_of_issue_23_is_exact_to_the_cent() {
        let calls = fee_schedule(&terms(), &changes(), d(2040, 1, 1));
        assert_eq!(calls.len(), 40);
        assert!(calls[..20].iter().all(|c| c.amount_cents == 50_000_000));
        let on = |day: NaiveDate| calls.iter().find(|c| c.on == day).unwrap();
        // Basis 70M: 80M less the 10M exit of 2026-05-15.
        assert_eq!(on(d(2026, 7, 1)).basis_cents, 7_000_000_000);
        assert_eq!(on(d(2026, 7, 1)).amount_cents, 26_250_000);
        // Basis 50M: the exit on 2029-06-30, a quarter's last day, counts for the next quarter.
        assert_eq!(on(d(2029, 7, 1)).basis_cents, 5_000_000_000);
        assert_eq!(on(d(2029, 7, 1)).amount_cents, 18_750_000);
        let total: i64 = calls.iter().map(|c| c.amount_cents).sum();
        assert_eq!(total, 1_466_875_000);
    }

    #[test]
    fn a_first_close_inside_a_quarter_pays_that_quarter_pro_rata_by_days() {
        let mut t = terms();
        t.first_close_on = d(2021, 2, 15);
        let calls = fee_schedule(&t, &[], d(2021, 12, 31));
        // 2021-02-15 to 2021-04-01: 45 of the quarter's 90 days of 500,000.00.
        assert_eq!(calls[0].on, d(2021, 2, 15));
        assert_eq!((calls[0].charged_days, calls[0].quarter_days), (45, 90));
        assert_eq!(calls[0].amount_cents, 25_000_000);
        assert_eq!(calls.len(), 4);
        // The last quarter of the term ends at 2031-02-15: 45 days of 90 again.
        let all = fee_schedule(&t, &[], d(2040, 1, 1));
        let last = all.last().unwrap();
        assert_eq!((last.on, last.charged_days), (d(2031, 1, 1), 45));
    }

    #[test]
    fn nothing_is_called_before_the_first_close() {
        assert!(fee_schedule(&terms(), &changes(), d(2020, 12, 31)).is_empty());
    }
}
