//! Money and exact decimals: integer cents, `Decimal` ratios, half-up rounding (SPEC §2, §6).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Decimal places of share quantities.
pub const SHARE_SCALE: u32 = 8;
/// The largest amount (in cents, or any integer) the API accepts or returns: 2^53 − 1, the integers a
/// JavaScript client reads exactly (SPEC §2).
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;
/// A lot's stated cost basis may differ from price × shares by this many cents (fees).
pub const COST_BASIS_TOLERANCE_CENTS: i64 = 1000;

/// Rounds half-up (away from zero at the midpoint) to `dp` decimal places.
pub fn round_half_up(value: Decimal, dp: u32) -> Decimal {
    value.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// Rounds half-up to `dp` places and always shows `dp` places (`2` → `2.000000`), as the wire wants.
/// The one implementation of "a decimal at the wire's scale": calculations, snapshots and responses all
/// go through it.
pub fn fixed_scale(value: Decimal, dp: u32) -> Decimal {
    // The calculations already produce most values at the wire's scale.
    if value.scale() == dp {
        return value;
    }
    let mut v = round_half_up(value, dp);
    v.rescale(dp);
    v
}

/// `n / d` rounded half-up (midpoints away from zero), exactly, in integers. `d` must not be zero.
pub fn div_half_up(n: i128, d: i128) -> i128 {
    // 128-bit division is a software routine; nearly all operands here fit the hardware's 64 bits.
    if let (Ok(n), Ok(d)) = (i64::try_from(n), i64::try_from(d))
        && d > 0
        && d < (1 << 62)
        && n.unsigned_abs() < (1 << 62)
    {
        let (q, r) = (n / d, n % d);
        return i128::from(if 2 * r.abs() >= d { q + n.signum() } else { q });
    }
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    let (q, r) = (n / d, n % d);
    // |r| < d, so 2|r| cannot overflow.
    if 2 * r.abs() >= d { q + n.signum() } else { q }
}

/// `price_cents × shares`, rounded half-up to a whole cent, computed exactly. `None` when the result
/// does not fit in `i64` cents.
pub fn cost_basis_cents(price_cents: i64, shares: Decimal) -> Option<i64> {
    let exact = Decimal::from(price_cents).checked_mul(shares)?;
    round_half_up(exact, 0).to_i64()
}

/// `price_cents × shares` for a price with fractional cents (a converted SAFE at 42.13 cents), rounded
/// half-up to a whole cent, exactly. `None` when the result does not fit in `i64` cents.
pub fn cost_basis_exact_cents(price_cents: Decimal, shares: Decimal) -> Option<i64> {
    round_half_up(price_cents.checked_mul(shares)?, 0).to_i64()
}

/// An amount as a person reads it in a sentence: the currency code, thousands separated, 2 places
/// (`USD 1,500,000.00`, `USD -12.50`).
pub fn currency_text(currency: &str, cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{currency} {sign}{grouped}.{:02}", abs % 100)
}

/// A multiple in basis points as a decimal (40000 → 4).
pub fn bps(value: i64) -> Decimal {
    Decimal::new(value, 4)
}

/// `numerator / denominator` (two integer amounts, e.g. cents) rounded half-up to 6 places (the wire's
/// scale of ratios), computed
/// exactly in integers; `None` when the denominator is zero. The hot path of the lot and company ratios.
pub fn ratio(numerator: i64, denominator: i64) -> Option<Decimal> {
    if denominator == 0 {
        return None;
    }
    let scaled = div_half_up(i128::from(numerator) * 1_000_000, i128::from(denominator));
    Decimal::try_from_i128_with_scale(scaled, 6).ok()
}

/// Share quantities inside the calculation are integers in units of 10⁻⁸ share (the 8 places of
/// `numeric(18,8)`), so that FIFO relief, sums and pro-rata splits are exact integer arithmetic.
pub(crate) const SHARE_UNIT: i128 = 100_000_000;

/// A share quantity in 10⁻⁸ units. More than 8 places (never stored) are rounded half-up to 8.
pub(crate) fn share_units(shares: Decimal) -> i128 {
    let shares = if shares.scale() > SHARE_SCALE {
        round_half_up(shares, SHARE_SCALE)
    } else {
        shares
    };
    shares.mantissa() * 10i128.pow(SHARE_SCALE - shares.scale())
}

/// Back from 10⁻⁸ units to a decimal with 8 places.
pub(crate) fn shares_decimal(units: i128) -> Decimal {
    // In range for any sum of numeric(18,8) quantities a fund can hold (< 10²⁸ units).
    Decimal::try_from_i128_with_scale(units, SHARE_SCALE).unwrap_or(Decimal::MAX)
}

pub(crate) fn cents(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// Splits `total` cents over non-negative integer `weights` in proportion, exactly: floors first, then
/// the leftover cents go to the largest remainders (ties to the earlier weight). Σ result = total. All
/// weights zero → even split.
pub fn allocate_cents(total: i64, weights: &[i128]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let even;
    let (weights, sum) = match weights.iter().sum::<i128>() {
        0 => {
            even = vec![1i128; weights.len()];
            (&even[..], even.len() as i128)
        }
        sum => (weights, sum),
    };
    let total_wide = i128::from(total);
    // (floor, remainder over `sum`): the exact share is floor + remainder / sum.
    let mut shares: Vec<(i64, i128)> = weights
        .iter()
        .map(|w| {
            let exact = total_wide * w;
            (cents(exact.div_euclid(sum)), exact.rem_euclid(sum))
        })
        .collect();
    let assigned: i64 = shares.iter().map(|s| s.0).sum();
    let leftover = usize::try_from(total - assigned).unwrap_or(0);
    if leftover > 0 {
        let mut order: Vec<usize> = (0..shares.len()).collect();
        order.sort_by(|a, b| shares[*b].1.cmp(&shares[*a].1).then(a.cmp(b)));
        for i in order.into_iter().take(leftover) {
            shares[i].0 += 1;
        }
    }
    shares.into_iter().map(|s| s.0).collect()
}

pub(crate) fn to_cents(value: Decimal) -> i64 {
    i64::try_from(round_half_up(value, 0)).unwrap_or(i64::MAX)
}

/// An amount of money in integer cents (SPEC §2). Arithmetic is checked — an overflow is `None`, never
/// a wrap — and every operation that divides names its rounding. On the wire a plain integer within
/// ±(2^53 − 1): the API refuses any integer beyond that in a request body before one is built
/// (`api::extract::json_body`), and [`Cents::from_wire`] holds the same bound for other edges.
/// Serialised as that integer.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(i64);

impl Cents {
    pub const ZERO: Cents = Cents(0);

    pub const fn new(cents: i64) -> Self {
        Self(cents)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// An amount as a client may send or read it: within ±(2^53 − 1), else `None` (SPEC §2).
    pub fn from_wire(cents: i64) -> Option<Self> {
        (cents.unsigned_abs() <= MAX_SAFE_INTEGER as u64).then_some(Self(cents))
    }

    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Self)
    }

    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// The sum of `amounts`, or `None` on overflow.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Cents>) -> Option<Cents> {
        amounts
            .into_iter()
            .try_fold(Cents::ZERO, |sum, c| sum.checked_add(c))
    }

    /// `self × rate`, rounded half-up to the cent (a fee or a carry on an amount). Never overflows: a
    /// rate is at most 100%.
    pub fn times_bps_half_up(self, rate: Bps) -> Cents {
        let exact = i128::from(self.0) * i128::from(rate.get());
        Self(cents(div_half_up(exact, 10_000)))
    }

    /// `self × rate`, rounded down toward zero (a reserve held back from a fund's size).
    pub fn times_bps_floor(self, rate: Bps) -> Cents {
        Self(cents(i128::from(self.0) * i128::from(rate.get()) / 10_000))
    }

    /// `self × numerator / denominator`, rounded half-up to the cent (a pro-rata share, such as a partial
    /// quarter by days); `None` when the denominator is zero or the result does not fit.
    pub fn pro_rata_half_up(self, numerator: i64, denominator: i64) -> Option<Cents> {
        if denominator == 0 {
            return None;
        }
        let exact = i128::from(self.0) * i128::from(numerator);
        i64::try_from(div_half_up(exact, i128::from(denominator)))
            .ok()
            .map(Self)
    }

    /// `self` split over non-negative `weights` in proportion, exactly ([`allocate_cents`]: largest
    /// remainders get the leftover cents); the parts sum to `self`.
    pub fn split(self, weights: &[i128]) -> Vec<Cents> {
        allocate_cents(self.0, weights)
            .into_iter()
            .map(Self)
            .collect()
    }
}

impl std::fmt::Display for Cents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} cents", self.0)
    }
}

/// A rate in basis points, 0 to 10,000 (0% to 100%): a fee, a carry, a reserve ratio. Serialised as the
/// integer; a value out of range does not deserialise.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Bps(u16);

impl Bps {
    pub const ZERO: Bps = Bps(0);
    /// 100%.
    pub const ALL: Bps = Bps(10_000);

    /// `None` outside 0..=10,000.
    pub fn new(bps: i64) -> Option<Self> {
        u16::try_from(bps).ok().filter(|b| *b <= 10_000).map(Self)
    }

    pub const fn get(self) -> i64 {
        self.0 as i64
    }

    /// As a fraction: 2,000 bps → 0.2, exactly.
    pub fn as_fraction(self) -> Decimal {
        Decimal::new(self.get(), 4)
    }
}

impl TryFrom<i64> for Bps {
    type Error = String;
    fn try_from(bps: i64) -> Result<Self, String> {
        Self::new(bps).ok_or_else(|| format!("{bps} is not between 0 and 10000 basis points"))
    }
}

impl From<Bps> for i64 {
    fn from(b: Bps) -> i64 {
        b.get()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn amounts_in_sentences_are_grouped_in_thousands_with_two_places() {
        assert_eq!(currency_text("USD", 150_000_000), "USD 1,500,000.00");
        assert_eq!(currency_text("EUR", 5), "EUR 0.05");
        assert_eq!(currency_text("USD", 100_000), "USD 1,000.00");
        assert_eq!(currency_text("USD", -1_250), "USD -12.50");
        assert_eq!(currency_text("USD", 99_999), "USD 999.99");
    }

    #[test]
    fn a_fractional_cent_price_gives_an_exact_cost_rounded_half_up() {
        let price = Decimal::new(4213, 2); // 42.13 cents: $0.4213
        assert_eq!(
            cost_basis_exact_cents(price, Decimal::from(3_560_427)),
            Some(150_000_790)
        );
        assert_eq!(
            cost_basis_exact_cents(Decimal::from(100), Decimal::new(1555, 3)),
            Some(156)
        );
    }

    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn cost_basis_matches_the_spec_vectors() {
        assert_eq!(
            cost_basis_cents(250000, d("1000.00000000")),
            Some(250000000)
        );
        // SPEC §6.1 lists 333374433 for this vector, but 333333 × 1000.12345678 is exactly
        // 333374152.21884774, which rounds to 333374152 (see docs/DECISIONS.md).
        assert_eq!(
            cost_basis_cents(333333, d("1000.12345678")),
            Some(333374152)
        );
        assert_eq!(
            cost_basis_cents(100000000, d("10000000.12345678")),
            Some(1000000012345678)
        );
        assert_eq!(cost_basis_cents(123456, d("0.00000001")), Some(0));
        assert_eq!(cost_basis_cents(100, d("1.555")), Some(156));
    }

    #[test]
    fn cost_basis_beyond_i64_is_none_not_a_panic() {
        assert_eq!(cost_basis_cents(i64::MAX, d("2")), None);
        assert_eq!(cost_basis_cents(i64::MAX, d("9999999999.99999999")), None);
    }

    #[test]
    fn half_up_rounds_midpoints_away_from_zero() {
        assert_eq!(round_half_up(d("2.5"), 0), d("3"));
        assert_eq!(round_half_up(d("1.0000005"), 6), d("1.000001"));
        assert_eq!(round_half_up(d("1.0000004999"), 6), d("1.000000"));
    }

    #[test]
    fn bps_are_0_to_10000_and_read_as_a_fraction() {
        assert_eq!(Bps::new(2000).map(Bps::as_fraction), Some(d("0.2")));
        assert_eq!(Bps::new(10_000), Some(Bps::ALL));
        assert_eq!(Bps::new(10_001), None);
        assert_eq!(Bps::new(-1), None);
        assert!(serde_json::from_str::<Bps>("10001").is_err());
        assert_eq!(
            serde_json::to_string(&Bps::new(250).unwrap()).unwrap(),
            "250"
        );
    }

    #[test]
    fn cents_name_their_rounding() {
        let rate = Bps::new(200).unwrap();
        // 2% of 1,234.25: 24.685 → 24.69 half-up, 24.68 down.
        assert_eq!(
            Cents::new(123_425).times_bps_half_up(rate),
            Cents::new(2_469)
        );
        assert_eq!(Cents::new(123_425).times_bps_floor(rate), Cents::new(2_468));
        assert_eq!(
            Cents::new(-123_425).times_bps_half_up(rate),
            Cents::new(-2_469)
        );
        // A quarter of 91 days in a year of 365: 1,000,000 × 91 / 365 = 249,315.068… → 249,315.
        assert_eq!(
            Cents::new(1_000_000).pro_rata_half_up(91, 365),
            Some(Cents::new(249_315))
        );
        assert_eq!(Cents::new(1).pro_rata_half_up(1, 0), None);
        assert_eq!(Cents::new(i64::MAX).checked_add(Cents::new(1)), None);
        assert_eq!(Cents::from_wire(MAX_SAFE_INTEGER + 1), None);
        assert_eq!(
            Cents::from_wire(-MAX_SAFE_INTEGER),
            Some(Cents::new(-MAX_SAFE_INTEGER))
        );
        assert_eq!(serde_json::to_string(&Cents::new(-5)).unwrap(), "-5");
    }

    proptest::proptest! {
        /// The parts of a split sum to the whole, and none is negative for a non-negative whole.
        #[test]
        fn a_split_sums_to_the_whole(
            total in 0i64..=MAX_SAFE_INTEGER,
            weights in proptest::collection::vec(0i128..1_000_000_000, 0..20),
        ) {
            let parts = Cents::new(total).split(&weights);
            proptest::prop_assert_eq!(parts.len(), weights.len());
            if !weights.is_empty() {
                proptest::prop_assert_eq!(Cents::checked_sum(parts.iter().copied()), Some(Cents::new(total)));
                proptest::prop_assert!(parts.iter().all(|p| *p >= Cents::ZERO));
            }
        }

        /// A higher rate never takes less, and a rate takes at most the whole.
        #[test]
        fn a_rate_is_monotone_and_bounded(amount in 0i64..=MAX_SAFE_INTEGER, a in 0i64..=10_000, b in 0i64..=10_000) {
            let (lo, hi) = (Bps::new(a.min(b)).unwrap(), Bps::new(a.max(b)).unwrap());
            let c = Cents::new(amount);
            proptest::prop_assert!(c.times_bps_half_up(lo) <= c.times_bps_half_up(hi));
            proptest::prop_assert!(c.times_bps_half_up(hi) <= c);
            proptest::prop_assert!(c.times_bps_floor(hi) <= c.times_bps_half_up(hi));
        }
    }
}
