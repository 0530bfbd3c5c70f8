//! XIRR: the annual rate at which dated cash flows have zero net present value (Actual/365), computed
//! with exact decimals (SPEC §6.4).
//!
//! `NPV(r) = Σ aᵢ · (1 + r)^(−dᵢ/365)`, where `dᵢ` is the number of days from the first flow. Newton–Raphson
//! from 10%, falling back to bisection over a bracket found on a fixed grid of rates. The answer is
//! accepted when |NPV| < 1e-7 of the invested amount, and is `None` when the flows never change sign or no
//! root lies in (−0.9999, 100).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::MathematicalOps;

use crate::money::fixed_scale;

/// A dated cash flow: negative for money invested, positive for money returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CashFlow {
    pub date: NaiveDate,
    pub amount_cents: i64,
}

const LOWER: Decimal = Decimal::from_parts(9999, 0, 0, true, 4); // −0.9999
const UPPER: Decimal = Decimal::from_parts(100, 0, 0, false, 0);
const TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 7); // 1e-7
const MAX_NEWTON: usize = 60;
const MAX_BISECTION: usize = 200;

/// Flows normalised by the amount invested, grouped by day offset, in ascending order of days.
struct Flows {
    /// (days from the first flow, the same as a decimal, amount / invested)
    points: Vec<(u64, Decimal, Decimal)>,
}

impl Flows {
    /// NPV and its derivative at `r`, or `None` when the arithmetic overflows (very negative rates over
    /// long horizons).
    ///
    /// The discount factor of day `d` is `q^d` with `q = (1 + r)^(−1/365)`: one `exp` per evaluation, then
    /// each factor from the previous one by integer powers of `q` (the days ascend), which is what makes
    /// thousands of distinct dates cheap. Rounding stays around the 25th significant digit.
    fn npv(&self, r: Decimal) -> Option<(Decimal, Decimal)> {
        let one_plus = Decimal::ONE.checked_add(r)?;
        if one_plus <= Decimal::ZERO {
            return None;
        }
        let q = (-one_plus.checked_ln()? / Decimal::from(365)).checked_exp()?;
        let mut npv = Decimal::ZERO;
        // Σ days × term; the derivative is −(that) / 365 / (1 + r), divided once at the end.
        let mut weighted = Decimal::ZERO;
        let mut day = 0u64;
        let mut discount = Decimal::ONE;
        for (d, days, a) in &self.points {
            if *d > day {
                discount = discount.checked_mul(q.checked_powu(d - day)?)?;
                day = *d;
            }
            let term = a.checked_mul(discount)?;
            npv = npv.checked_add(term)?;
            weighted = weighted.checked_add(days.checked_mul(term)?)?;
        }
        let slope = -(weighted
            .checked_div(Decimal::from(365))?
            .checked_div(one_plus)?);
        Some((npv, slope))
    }
}

/// The XIRR of `flows` as a decimal rate (0.1 = 10% a year), rounded half-up to 6 places.
pub fn xirr(flows: &[CashFlow]) -> Option<Decimal> {
    let mut by_date: BTreeMap<NaiveDate, i128> = BTreeMap::new();
    for f in flows {
        *by_date.entry(f.date).or_default() += i128::from(f.amount_cents);
    }
    by_date.retain(|_, a| *a != 0);
    let invested: i128 = by_date.values().filter(|a| **a < 0).map(|a| -a).sum();
    let returned: i128 = by_date.values().filter(|a| **a > 0).sum();
    if invested == 0 || returned == 0 {
        return None;
    }
    let first = *by_date.keys().next()?;
    let scale = Decimal::from_i128_with_scale(invested, 0);
    let points = by_date
        .iter()
        .map(|(d, a)| {
            let days = u64::try_from((*d - first).num_days()).ok()?;
            Some((
                days,
                Decimal::from(days),
                Decimal::from_i128_with_scale(*a, 0).checked_div(scale)?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    let flows = Flows { points };
    solve(&flows).map(|r| fixed_scale(r, 6))
}

fn solve(flows: &Flows) -> Option<Decimal> {
    // Newton–Raphson, from the rate that turns the multiple into a return over the money-weighted
    // holding period (close to the root for typical venture flows, so few iterations are needed).
    let mut r = first_guess(flows).unwrap_or(Decimal::new(1, 1));
    for _ in 0..MAX_NEWTON {
        let Some((npv, slope)) = flows.npv(r) else {
            break;
        };
        if npv.abs() < TOLERANCE {
            return Some(r);
        }
        if slope.is_zero() {
            break;
        }
        let next = r - npv / slope;
        if next <= LOWER || next >= UPPER {
            break;
        }
        r = next;
    }
    // Bisection over the first bracket found on a grid of rates.
    let grid = [
        "-0.9999", "-0.99", "-0.95", "-0.9", "-0.75", "-0.5", "-0.25", "0", "0.1", "0.25", "0.5",
        "1", "2", "5", "10", "25", "50", "100",
    ];
    let mut previous: Option<(Decimal, Decimal)> = None;
    for text in grid {
        let rate: Decimal = text.parse().ok()?;
        let Some((npv, _)) = flows.npv(rate) else {
            continue;
        };
        if npv.abs() < TOLERANCE {
            return Some(rate);
        }
        if let Some((lo_rate, lo_npv)) = previous
            && (lo_npv.is_sign_negative() != npv.is_sign_negative())
        {
            return bisect(flows, lo_rate, lo_npv, rate);
        }
        previous = Some((rate, npv));
    }
    None
}

fn first_guess(flows: &Flows) -> Option<Decimal> {
    let (mut out, mut inflow) = (Decimal::ZERO, Decimal::ZERO);
    let (mut out_days, mut in_days) = (Decimal::ZERO, Decimal::ZERO);
    for (_, days, a) in &flows.points {
        if a.is_sign_negative() {
            out -= *a;
            out_days -= *days * *a;
        } else {
            inflow += *a;
            in_days += *days * *a;
        }
    }
    let years = (in_days.checked_div(inflow)? - out_days.checked_div(out)?) / Decimal::from(365);
    if years <= Decimal::new(1, 2) {
        return None;
    }
    let multiple = inflow.checked_div(out)?;
    let guess = (multiple.checked_ln()? / years).checked_exp()? - Decimal::ONE;
    (guess > LOWER && guess < UPPER).then_some(guess)
}

fn bisect(flows: &Flows, mut lo: Decimal, mut lo_npv: Decimal, mut hi: Decimal) -> Option<Decimal> {
    for _ in 0..MAX_BISECTION {
        let mid = (lo + hi) / Decimal::TWO;
        let (npv, _) = flows.npv(mid)?;
        if npv.abs() < TOLERANCE || (hi - lo).abs() < Decimal::new(1, 12) {
            return Some(mid);
        }
        if npv.is_sign_negative() == lo_npv.is_sign_negative() {
            lo = mid;
            lo_npv = npv;
        } else {
            hi = mid;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn flow(date: NaiveDate, amount_cents: i64) -> CashFlow {
        CashFlow { date, amount_cents }
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn one_outflow_and_one_inflow_a_365_day_year_apart_is_the_simple_return() {
        // 2021 is not a leap year: exactly 365 days.
        let flows = [flow(d(2021, 1, 1), -100_000), flow(d(2022, 1, 1), 110_000)];
        assert_eq!(xirr(&flows), Some(dec("0.100000")));
        let doubled = [flow(d(2021, 1, 1), -100_000), flow(d(2022, 1, 1), 200_000)];
        assert_eq!(xirr(&doubled), Some(dec("1.000000")));
        let halved = [flow(d(2021, 1, 1), -100_000), flow(d(2022, 1, 1), 50_000)];
        assert_eq!(xirr(&halved), Some(dec("-0.500000")));
    }

    #[test]
    fn a_leap_year_period_uses_actual_over_365() {
        // 366 days: r = 1.1^(365/366) − 1 = 0.0997135…
        let flows = [flow(d(2020, 1, 1), -100_000), flow(d(2021, 1, 1), 110_000)];
        assert_eq!(xirr(&flows), Some(dec("0.099714")));
    }

    #[test]
    fn irregular_multi_flow_dates_match_the_known_xirr() {
        // The spreadsheet XIRR documentation example: 0.373362535…
        let flows = [
            flow(d(2008, 1, 1), -1_000_000),
            flow(d(2008, 3, 1), 275_000),
            flow(d(2008, 10, 30), 425_000),
            flow(d(2009, 2, 15), 325_000),
            flow(d(2009, 4, 1), 275_000),
        ];
        let r = xirr(&flows).unwrap();
        assert!((r - dec("0.373363")).abs() <= dec("0.000001"), "{r}");
    }

    #[test]
    fn flows_that_never_change_sign_have_no_irr() {
        assert_eq!(
            xirr(&[flow(d(2021, 1, 1), -100), flow(d(2022, 1, 1), -100)]),
            None
        );
        assert_eq!(xirr(&[flow(d(2021, 1, 1), 100)]), None);
        assert_eq!(xirr(&[]), None);
    }

    #[test]
    fn a_total_loss_has_no_root_in_the_allowed_range() {
        // Almost everything lost within a day: the root lies below −0.9999.
        let flows = [flow(d(2021, 1, 1), -1_000_000), flow(d(2021, 1, 2), 1)];
        assert_eq!(xirr(&flows), None);
    }

    #[test]
    fn flows_on_the_same_day_are_netted() {
        let flows = [
            flow(d(2021, 1, 1), -60_000),
            flow(d(2021, 1, 1), -40_000),
            flow(d(2022, 1, 1), 100_000),
            flow(d(2022, 1, 1), 10_000),
        ];
        assert_eq!(xirr(&flows), Some(dec("0.100000")));
    }
}
