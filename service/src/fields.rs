//! Validation of request fields shared by the resources. Pointers name the JSON fields of the request
//! body (RFC 6901), so that a client can tell which field to fix.

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::calc::money::SHARE_SCALE;
use crate::error::{Error, FieldError, Result};

/// The invalid fields of one request, collected so that the client learns of all of them at once.
#[derive(Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn check(&mut self, ok: bool, pointer: &str, message: &str) {
        if !ok {
            self.0.push(FieldError::new(pointer, message));
        }
    }

    /// Collects the field errors of a parse that failed validation; passes any other error on.
    pub fn absorb<T>(&mut self, parsed: Result<T>) -> Result<Option<T>> {
        match parsed {
            Ok(v) => Ok(Some(v)),
            Err(Error::Validation(mut errs)) => {
                self.0.append(&mut errs);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

/// A name or label: 1 to 255 characters, not only white space.
pub fn name_ok(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= 255
}

/// A share in basis points: 0 to 10000.
pub fn bps_ok(bps: i32) -> bool {
    (0..=10_000).contains(&bps)
}

/// Whether `text` is a plain decimal: 1 to `digits` digits, then optionally a point and 1 to `places`
/// digits. Exactly the pattern `openapi.yaml` gives such fields, so that the schema and the server agree.
fn plain_decimal(text: &str, digits: usize, places: usize) -> bool {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let all_digits =
        |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole, digits) && fraction.is_none_or(|f| all_digits(f, places))
}

/// Parses a number of a scenario-matrix config (an allocation percent, a MOIC, a weight, a rate): a
/// plain decimal string (`^[0-9]{1,6}(\.[0-9]{1,10})?$`). The generator works in `f64`, and the matrix
/// key rounds to 5 decimals, so more places are accepted and only the first five count.
pub fn parse_matrix_number(text: &str, pointer: &str) -> Result<f64> {
    if !plain_decimal(text, 6, 10) {
        return Err(Error::invalid(
            pointer,
            "must be a decimal string of up to 6 digits and at most 10 decimal places, e.g. \"2.5\"",
        ));
    }
    text.parse::<f64>()
        .map_err(|_| Error::invalid(pointer, "must be a decimal number written as a string"))
}

/// Parses a share quantity: a plain decimal string (`^[0-9]{1,10}(\.[0-9]{1,8})?$`), greater than
/// zero.
pub fn parse_shares(text: &str, pointer: &str) -> Result<Decimal> {
    if !plain_decimal(text, 10, SHARE_SCALE as usize) {
        return Err(Error::invalid(
            pointer,
            "must be a decimal string of up to 10 digits and at most 8 decimal places, e.g. \"1000.5\"",
        ));
    }
    let value = Decimal::from_str(text).map_err(|_| {
        Error::invalid(
            pointer,
            "must be a decimal number written as a string, e.g. \"1000.5\"",
        )
    })?;
    if value <= Decimal::ZERO {
        return Err(Error::invalid(pointer, "must be greater than 0"));
    }
    if value.normalize().scale() > SHARE_SCALE {
        return Err(Error::invalid(
            pointer,
            "must have at most 8 decimal places",
        ));
    }
    // numeric(18, 8): at most 10 digits before the point.
    if value >= Decimal::from(10_000_000_000i64) {
        return Err(Error::invalid(pointer, "must be less than 10000000000"));
    }
    Ok(value.normalize())
}

/// Parses a price per share in the fund's currency: a plain decimal string of up to 14 digits and at
/// most 8 places (`"0.4213"`), 0 or more. The result is in currency units, exactly.
pub fn parse_price(text: &str, pointer: &str) -> Result<Decimal> {
    if !plain_decimal(text, 14, SHARE_SCALE as usize) {
        return Err(Error::invalid(
            pointer,
            "must be a price per share in the fund's currency: a decimal string of up to 14 digits and \
             at most 8 decimal places, e.g. \"0.4213\"",
        ));
    }
    Decimal::from_str(text)
        .map(|d| d.normalize())
        .map_err(|_| Error::invalid(pointer, "must be a decimal number written as a string"))
}

/// The price of a mark or a lot in exact cents, from exactly one of its two wire forms (SPEC §6.1).
pub fn price_cents(
    p: &mut Problems,
    share_price: Option<&str>,
    share_price_cents: Option<i64>,
) -> Result<Option<Decimal>> {
    match (share_price, share_price_cents) {
        (Some(_), Some(_)) => {
            p.check(
                false,
                "/share_price",
                "send share_price or share_price_cents, not both",
            );
            Ok(None)
        }
        (None, None) => {
            p.check(
                false,
                "/share_price",
                "is required (or share_price_cents, in whole cents)",
            );
            Ok(None)
        }
        (Some(text), None) => Ok(p
            .absorb(parse_price(text, "/share_price"))?
            .map(|units| units * Decimal::ONE_HUNDRED)),
        (None, Some(cents)) => {
            p.check(cents >= 0, "/share_price_cents", "must be 0 or more");
            Ok(Some(Decimal::from(cents)))
        }
    }
}

/// A share quantity as the wire writes it: 8 decimal places.
pub fn shares_text(shares: Decimal) -> String {
    crate::calc::money::fixed_scale(shares, SHARE_SCALE).to_string()
}

/// Parses a probability: a plain decimal string (`^[0-9](\.[0-9]{1,6})?$`) in [0, 1].
pub fn parse_probability(text: &str, pointer: &str) -> Result<Decimal> {
    if !plain_decimal(text, 1, 6) {
        return Err(Error::invalid(
            pointer,
            "must be a decimal string in [0, 1] with at most 6 decimal places, e.g. \"0.25\"",
        ));
    }
    let value = Decimal::from_str(text).map_err(|_| {
        Error::invalid(
            pointer,
            "must be a decimal number written as a string, e.g. \"0.25\"",
        )
    })?;
    if value < Decimal::ZERO || value > Decimal::ONE {
        return Err(Error::invalid(pointer, "must be between 0 and 1"));
    }
    if value.normalize().scale() > 6 {
        return Err(Error::invalid(
            pointer,
            "must have at most 6 decimal places",
        ));
    }
    Ok(value.normalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_need_a_positive_value_with_at_most_eight_decimals() {
        assert_eq!(
            parse_shares("1000.12345678", "/s").unwrap().to_string(),
            "1000.12345678"
        );
        assert_eq!(parse_shares("1.50000000", "/s").unwrap().to_string(), "1.5");
        assert!(parse_shares("0.123456789", "/s").is_err());
        assert!(parse_shares("0", "/s").is_err());
        assert!(parse_shares("-1", "/s").is_err());
        assert!(parse_shares("abc", "/s").is_err());
        assert!(parse_shares("10000000000", "/s").is_err());
    }

    #[test]
    fn decimals_are_plain_digits_as_the_schema_pattern_says() {
        for ok in ["1", "0.5", "9999999999.99999999", "0001.10"] {
            assert!(parse_shares(ok, "/s").is_ok(), "{ok}");
        }
        for bad in [" 1", "1 ", "+1", "1.", ".5", "1e3", "1,5", "", "1.2.3"] {
            assert!(parse_shares(bad, "/s").is_err(), "{bad:?}");
        }
        assert!(parse_probability("0.250000", "/p").is_ok());
        for bad in ["00.5", " 0.5", ".5", "2"] {
            assert!(parse_probability(bad, "/p").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn probabilities_lie_in_zero_to_one() {
        assert!(parse_probability("0.5", "/p").is_ok());
        assert!(parse_probability("1", "/p").is_ok());
        assert!(parse_probability("1.000001", "/p").is_err());
        assert!(parse_probability("0.1234567", "/p").is_err());
    }
}
