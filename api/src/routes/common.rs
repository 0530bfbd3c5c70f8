//! DTO pieces shared by the resource modules.

use serde::{Deserialize, Deserializer};
use service::pagination::PageRequest;
use utoipa::IntoParams;

use crate::error::Error;
use crate::problem::ProblemCode;

/// A positive 64-bit id from the path; anything else is a 400.
#[derive(Clone, Copy, Debug)]
pub struct Id(pub i64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if v <= 0 {
            Err(serde::de::Error::custom("ids are positive integers"))
        } else {
            Ok(Id(v))
        }
    }
}

/// Keyset pagination parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<PageRequest, Error> {
        PageRequest::new(self.limit, self.cursor.as_deref()).map_err(|e| match e {
            service::Error::Validation(_) => Error::BadRequest {
                code: ProblemCode::InvalidQuery,
                detail: "limit must be between 1 and 100.".into(),
            },
            other => Error::Service(other),
        })
    }
}

/// `Option<Option<T>>` for PATCH bodies: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Formats a decimal with exactly `dp` places (SPEC §2: shares 8, probabilities and ratios 6).
pub fn fixed(value: rust_decimal::Decimal, dp: u32) -> String {
    let mut v = service::money::round_half_up(value, dp);
    v.rescale(dp);
    v.to_string()
}

/// A decimal written as a JSON string with exactly `dp` places, without an intermediate `String`
/// (responses such as a fund's MOIC hold tens of thousands of them). Documented as a string.
#[derive(Clone, Copy, Debug)]
pub struct DecimalText(rust_decimal::Decimal);

impl DecimalText {
    pub fn new(value: rust_decimal::Decimal, dp: u32) -> Self {
        // The calculations already produce most values at the wire's scale.
        if value.scale() == dp {
            return Self(value);
        }
        let mut v = service::money::round_half_up(value, dp);
        v.rescale(dp);
        Self(v)
    }

    /// The value, rounded and scaled for the wire.
    pub fn value(self) -> rust_decimal::Decimal {
        self.0
    }
}

impl serde::Serialize for DecimalText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // At most 29 digits, a sign and a point.
        let mut text = Vec::with_capacity(32);
        crate::json::push_decimal(&mut text, self.0);
        // push_decimal writes only ASCII digits, '-' and '.'.
        serializer.serialize_str(std::str::from_utf8(&text).unwrap_or_default())
    }
}
