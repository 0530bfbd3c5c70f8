//! Wire types shared by the route modules: path ids, paging parameters, decimals as strings, PATCH's
//! three-state fields, and the enums of the domain as the API spells them. One place for each, so that
//! route modules never import one another.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use service::money::fixed_scale;
use service::pagination::PageRequest;
use utoipa::{IntoParams, ToSchema};

use crate::error::Error;
use crate::problem::ProblemCode;

/// A positive 64-bit id from the path; anything else is a 400.
#[derive(Clone, Copy, Debug)]
pub struct Id(pub i64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if v <= 0 || v > service::money::MAX_SAFE_INTEGER {
            Err(serde::de::Error::custom(
                "ids are positive integers up to 2^53 - 1",
            ))
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
    /// The `next_cursor` of the previous page (opaque; anything not of this pattern is a 400
    /// `invalid_cursor`).
    #[param(pattern = "^[A-Za-z0-9_-]{10}[AEIMQUYcgkosw048]$")]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<PageRequest, Error> {
        page_request(self.limit, self.cursor.as_deref())
    }
}

/// A validated page request from `?limit=&cursor=`; a bad limit is a 400 like any bad query parameter.
pub fn page_request(limit: Option<u64>, cursor: Option<&str>) -> Result<PageRequest, Error> {
    PageRequest::new(limit, cursor).map_err(|e| match e {
        service::Error::Validation(_) => Error::BadRequest {
            code: ProblemCode::InvalidQuery,
            detail: "limit must be between 1 and 100.".into(),
        },
        other => Error::Service(other),
    })
}

/// `Option<Option<T>>` for PATCH bodies: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A decimal written as a JSON string with exactly `dp` places (SPEC §2: shares 8, ratios and
/// probabilities 6), rounded half-up by [`fixed_scale`]. Documented as a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecimalText(Decimal);

impl DecimalText {
    pub fn new(value: Decimal, dp: u32) -> Self {
        Self(fixed_scale(value, dp))
    }

    /// A ratio (MOIC, multiple, IRR, probability): 6 places.
    pub fn ratio(value: Option<Decimal>) -> Option<Self> {
        value.map(|d| Self::new(d, 6))
    }

    /// A share quantity: 8 places.
    pub fn shares(value: Decimal) -> Self {
        Self::new(value, 8)
    }

    /// The value, rounded and scaled for the wire.
    pub fn value(self) -> Decimal {
        self.0
    }
}

impl Serialize for DecimalText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // `Decimal`'s `Display` is plain notation with the value's own scale, which `new` has fixed.
        serializer.collect_str(&self.0)
    }
}

/// A calendar date on the wire: exactly `YYYY-MM-DD` (SPEC §2, §6.1a). `2021-3-15` and `03/15/2021`
/// are refused with a message that names the expected form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct WireDate(pub NaiveDate);

/// Parses a date written exactly `YYYY-MM-DD`; the error says what was expected.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| format!("{text:?} is not a date written YYYY-MM-DD, e.g. 2021-03-15"))
}

impl<'de> Deserialize<'de> for WireDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        parse_date(&text)
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// Declares a wire enum mirroring a domain enum variant for variant (snake_case on the wire), with the
/// conversions both ways. Entities stay off the wire (SPEC §1), and the compiler keeps the two in step.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident mirrors $($domain:ident)::+ {
            $( $(#[$vmeta:meta])* $variant:ident ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl From<$($domain)::+> for $name {
            fn from(value: $($domain)::+) -> Self {
                use $($domain)::+ as Domain;
                match value {
                    $( Domain::$variant => Self::$variant ),+
                }
            }
        }

        impl From<$name> for $($domain)::+ {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => Self::$variant ),+
                }
            }
        }
    };
}

wire_enum! {
    /// Whether the fund is still investing.
    FundStatus mirrors service::entity::fund::FundStatus { Active, Closed }
}

wire_enum! {
    /// What the management fee is charged on after the commitment period: the whole `commitment`
    /// (`size_cents`), or the `net_invested_capital` (cost of the investments still held before each
    /// quarter's first day).
    FeeBasis mirrors service::entity::fund::FeeBasis { Commitment, NetInvestedCapital }
}

wire_enum! {
    /// How distributions are divided between the LPs and the GP: `european` (whole of fund: all
    /// paid-in capital and the preferred return first, then the catch-up and the split) or `american`
    /// (deal by deal: the capital of realized deals first, then the split, with a clawback at `as_of`).
    WaterfallKind mirrors service::entity::fund::WaterfallKind { European, American }
}

wire_enum! {
    /// Financing stage.
    Stage mirrors service::entity::portfolio_company::Stage {
        PreSeed, Seed, SeriesA, SeriesB, SeriesC, Growth,
    }
}

wire_enum! {
    /// Whether the fund still holds the company.
    CompanyStatus mirrors service::entity::portfolio_company::CompanyStatus {
        Active, Exited, WrittenOff,
    }
}

wire_enum! {
    /// Where a mark's price comes from: a priced `round`, a `secondary` sale, a `409a` valuation, the
    /// manager's own (`manual`), or a `write_off` (price 0: the company is worth nothing from that date).
    MarkSource mirrors service::entity::company_mark::MarkSource {
        Round,
        Secondary,
        #[serde(rename = "409a")]
        Valuation409a,
        Manual,
        WriteOff,
    }
}

wire_enum! {
    /// How a lot was acquired.
    LotType mirrors service::entity::investment_lot::LotType {
        Initial, FollowOn, Secondary, Conversion,
    }
}

wire_enum! {
    /// What the proceeds were.
    DistributionKind mirrors service::entity::distribution::DistributionKind {
        Exit, PartialSale, Dividend, Recapitalization,
    }
}

wire_enum! {
    /// A forecast's progress: `pending → calculating → complete | error`.
    ForecastStatus mirrors service::entity::fund_forecast::ForecastStatus {
        Pending, Calculating, Complete, Error,
    }
}

wire_enum! {
    /// A snapshot's progress: `pending → calculating → complete | error`.
    SnapshotStatus mirrors service::entity::forecast_snapshot::SnapshotStatus {
        Pending, Calculating, Complete, Error,
    }
}

wire_enum! {
    /// A scenario matrix's state: `pending` and `processing` while a worker generates it, `complete`
    /// with its values, `failed` with a reason, `invalidated` until a create regenerates it.
    MatrixStatus mirrors service::entity::scenario_matrix::MatrixStatus {
        Pending, Processing, Complete, Failed, Invalidated,
    }
}

wire_enum! {
    /// An optimization's state: `pending` (queued; cancellable), `running`, then `completed` with weights
    /// and metrics, or `failed` with a reason; `cancelled` by a `DELETE` while pending.
    OptimizationStatus mirrors service::entity::optimization_session::OptimizationStatus {
        Pending, Running, Completed, Failed, Cancelled,
    }
}

/// `/optimizations/{optimization_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OptimizationPath {
    /// The optimization session.
    pub optimization_id: uuid::Uuid,
}

wire_enum! {
    /// Where an allocation came from.
    AllocationSource mirrors service::entity::reserve_allocation::AllocationSource { Engine, Manual }
}

wire_enum! {
    /// What a key may do.
    Role mirrors service::entity::api_key::Role {
        /// Everything, on every fund, including key management.
        Admin,
        /// Read and write its funds.
        Writer,
        /// Read its funds.
        Reader,
    }
}

wire_enum! {
    /// How unrealized value was measured.
    ValuationBasis mirrors service::metrics::ValuationBasis {
        /// Shares held × the company's current share price.
        Mark,
        /// No mark: remaining shares are held at cost.
        Cost,
    }
}

wire_enum! {
    /// Which limit decided a company's reserve cap.
    BindingCap mirrors service::reserves::BindingCap {
        /// The company's own `allocation_cap_cents`.
        CompanyCap,
        /// `cap_percent_bps` of invested.
        PercentOfInvested,
        /// The stage's cap.
        StageCap,
    }
}

/// `/funds/{fund_id}`: the fund in the path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FundPath {
    /// The fund.
    #[param(value_type = i64, minimum = 1)]
    pub fund_id: Id,
}

/// `/funds/{fund_id}/companies/{company_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CompanyPath {
    /// The fund.
    #[param(value_type = i64, minimum = 1)]
    pub fund_id: Id,
    /// A company of that fund.
    #[param(value_type = i64, minimum = 1)]
    pub company_id: Id,
}

/// `/funds/{fund_id}/investments/{investment_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InvestmentPath {
    /// The fund.
    #[param(value_type = i64, minimum = 1)]
    pub fund_id: Id,
    /// An investment of that fund.
    #[param(value_type = i64, minimum = 1)]
    pub investment_id: Id,
}

/// `/funds/{fund_id}/distributions/{distribution_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DistributionPath {
    /// The fund.
    #[param(value_type = i64, minimum = 1)]
    pub fund_id: Id,
    /// A distribution of that fund.
    #[param(value_type = i64, minimum = 1)]
    pub distribution_id: Id,
}

/// `/funds/{fund_id}/lots/{lot_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct LotPath {
    /// The fund.
    #[param(value_type = i64, minimum = 1)]
    pub fund_id: Id,
    /// A lot of that fund.
    pub lot_id: uuid::Uuid,
}

/// `/snapshots/{snapshot_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SnapshotPath {
    /// The snapshot.
    pub snapshot_id: uuid::Uuid,
}

/// `/forecasts/{forecast_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ForecastPath {
    /// The forecast.
    pub forecast_id: uuid::Uuid,
}

/// `/api-keys/{key_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KeyPath {
    /// The key.
    pub key_id: uuid::Uuid,
}

/// The `Idempotency-Key` header of a creating request (SPEC §4), documented once. Handlers read it
/// through [`crate::extract::create`].
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Documentation of the header; its value is read from the request itself.
pub struct IdempotencyKeyHeader {
    /// Makes retries safe: 1 to 255 visible ASCII characters. A retry with the same key and body
    /// replays the recorded response (`Idempotent-Replayed: true`).
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]+$"
    )]
    pub idempotency_key: Option<String>,
}

/// The `If-Match` header of a versioned write (SPEC §5), documented once. Handlers read it through
/// [`crate::extract::if_match`].
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Documentation of the header; its value is read from the request itself.
pub struct IfMatchHeader {
    /// The resource's current `ETag`, a quoted version such as `"3"` (a bare `3` is read the same).
    /// Required by the operation: without it the answer is 428 `precondition_required` (documented as
    /// such rather than as a required parameter, so that the 428 is the contract).
    #[param(
        rename = "If-Match",
        required = false,
        pattern = r#"^[ \t]*(W/)?("[0-9]{1,18}"|[0-9]{1,18})[ \t]*$"#
    )]
    pub if_match: String,
}

/// Declares the page type of a list: `data` and `next_cursor` (SPEC §2), built from a service page.
macro_rules! page_of {
    ($(#[$meta:meta])* $name:ident of $item:ident) => {
        $(#[$meta])*
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            /// The `cursor` of the next page; `null` on the last page.
            pub next_cursor: Option<String>,
        }

        impl<M> From<service::pagination::Page<M>> for $name
        where
            for<'m> $item: From<&'m M>,
        {
            fn from(page: service::pagination::Page<M>) -> Self {
                Self {
                    data: page.items.iter().map($item::from).collect(),
                    next_cursor: page.next_cursor,
                }
            }
        }
    };
}
pub(crate) use page_of;

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn text(value: &str, dp: u32) -> String {
        serde_json::to_string(&DecimalText::new(Decimal::from_str(value).unwrap(), dp)).unwrap()
    }

    #[test]
    fn decimals_are_strings_in_plain_notation_with_exactly_their_places() {
        assert_eq!(text("1.8", 6), "\"1.800000\"");
        assert_eq!(text("0", 6), "\"0.000000\"");
        assert_eq!(text("-1.0000015", 6), "\"-1.000002\"");
        assert_eq!(text("123456789.1234567", 6), "\"123456789.123457\"");
        assert_eq!(text("0.00000001", 8), "\"0.00000001\"");
        assert_eq!(text("1000.5", 8), "\"1000.50000000\"");
        assert_eq!(text("0.0000005", 6), "\"0.000001\"");
    }
}
