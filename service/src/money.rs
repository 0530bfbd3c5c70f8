//! Money and exact decimals: integer cents, `Decimal` ratios, half-up rounding (SPEC §2, §6).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

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

#[cfg(test)]
mod tests {
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
}
