//! A fund's economic terms (SPEC §6.6): what the fee schedule and the waterfalls read. Plain values, each
//! with the default SPEC §6.6 gives a fund that never set it.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::money::{Bps, Cents};

pub use entity::fund::{FeeBasis, WaterfallKind};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Fields in canonical (RFC 8785) order, so that `serde_json` writes the canonical form itself
// (`canonical::write_in_declared_order`).
pub struct FundTerms {
    /// Carried interest k.
    pub carry: Bps,
    /// The GP's share c of each cent inside the catch-up tier.
    pub catch_up: Bps,
    pub commitment_period_years: u32,
    /// Commitments, cents (the fund's `size_cents`).
    pub committed: Cents,
    pub first_close_on: NaiveDate,
    /// Preferred return h (annual, compounded by actual days / 365).
    pub hurdle: Bps,
    /// Annual fee during the commitment period, on commitments.
    pub management_fee: Bps,
    /// Annual fee after it, on `post_period_fee_basis`.
    pub post_period_fee: Bps,
    pub post_period_fee_basis: FeeBasis,
    pub term_years: u32,
    pub waterfall: WaterfallKind,
}

impl FundTerms {
    /// The day fees stop: `first_close_on` + `term_years`.
    pub fn fees_end(&self) -> NaiveDate {
        add_years(self.first_close_on, self.term_years)
    }

    /// The day the commitment period ends: `first_close_on` + `commitment_period_years`.
    pub fn commitment_period_end(&self) -> NaiveDate {
        add_years(self.first_close_on, self.commitment_period_years)
    }
}

/// `date` + `years`, keeping the month and day; 29 February becomes 28 February (SPEC §6.6).
pub fn add_years(date: NaiveDate, years: u32) -> NaiveDate {
    let year = date.year() + years as i32;
    NaiveDate::from_ymd_opt(year, date.month(), date.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, date.month(), 28))
        .unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_years_keeps_the_day_and_a_leap_day_becomes_the_28th() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(add_years(d(2021, 1, 1), 10), d(2031, 1, 1));
        assert_eq!(add_years(d(2024, 2, 29), 1), d(2025, 2, 28));
        assert_eq!(add_years(d(2024, 2, 29), 4), d(2028, 2, 29));
    }
}
