//! Keyset pagination (SPEC §2): `limit` 1..100 and an opaque cursor naming the last row returned.
//! Lists are newest first.
//!
//! The cursor is URL-safe base64 (no padding) of the sort key in fixed-width big-endian bytes: 8 bytes
//! (an id: 11 characters, the last one of `[AEIMQUYcgkosw048]`) or 8 + 16 bytes (microseconds and a
//! UUID: 32 characters). So the pattern `openapi.yaml` gives each list's `cursor` is exactly the set of
//! cursors the server accepts: every string that matches names a position (perhaps past the end, an
//! empty page), and every other string is a 400 `invalid_cursor`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PartialModelTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

use crate::error::{Error, Result};

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

/// Where a page starts: after the row with this sort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// Lists ordered by a 64-bit id, descending.
    Id(i64),
    /// Lists ordered by `(created_at DESC, id DESC)` with UUID ids.
    TimeUuid(DateTime<Utc>, Uuid),
    /// Lists ordered by a UUID, ascending (computed lists, such as a fund's lot figures).
    Uuid(Uuid),
}

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in microseconds since the Unix epoch.
const EARLIEST: i64 = -62_135_596_800_000_000;
const LATEST: i64 = 253_402_300_799_999_999;

/// The pattern of a cursor over ids (8 bytes in base64url: the last character carries 2 bits of
/// padding, which must be zero).
pub const ID_CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]{10}[AEIMQUYcgkosw048]$";
/// The pattern of a cursor over (time, UUID) (24 bytes: 32 characters, no padding bits).
pub const TIME_UUID_CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]{32}$";
/// The pattern of a cursor over a UUID (16 bytes: 22 characters, the last carrying 4 bits of padding).
pub const UUID_CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]{21}[AQgw]$";

impl Cursor {
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(24);
        match self {
            Cursor::Id(id) => raw.extend_from_slice(&id.to_be_bytes()),
            Cursor::TimeUuid(t, id) => {
                raw.extend_from_slice(&t.timestamp_micros().to_be_bytes());
                raw.extend_from_slice(id.as_bytes());
            }
            Cursor::Uuid(id) => raw.extend_from_slice(id.as_bytes()),
        }
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(text: &str) -> Result<Self> {
        // Canonical encodings only: a last character with non-zero padding bits is refused by the
        // decoder, so one position has one cursor.
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| Error::InvalidCursor)?;
        match bytes.len() {
            8 => {
                let id = i64::from_be_bytes(bytes.try_into().map_err(|_| Error::InvalidCursor)?);
                Ok(Cursor::Id(id))
            }
            24 => {
                let (micros, id) = bytes.split_at(8);
                let micros =
                    i64::from_be_bytes(micros.try_into().map_err(|_| Error::InvalidCursor)?);
                // A position beyond the years both databases represent (1 to 9999) is before or after
                // every row.
                let time = DateTime::from_timestamp_micros(micros.clamp(EARLIEST, LATEST))
                    .ok_or(Error::InvalidCursor)?;
                let id = Uuid::from_slice(id).map_err(|_| Error::InvalidCursor)?;
                Ok(Cursor::TimeUuid(time, id))
            }
            16 => Ok(Cursor::Uuid(
                Uuid::from_slice(&bytes).map_err(|_| Error::InvalidCursor)?,
            )),
            _ => Err(Error::InvalidCursor),
        }
    }

    pub fn as_id(&self) -> Result<i64> {
        match self {
            Cursor::Id(id) => Ok(*id),
            Cursor::TimeUuid(..) | Cursor::Uuid(_) => Err(Error::InvalidCursor),
        }
    }

    pub fn as_time_uuid(&self) -> Result<(DateTime<Utc>, Uuid)> {
        match self {
            Cursor::TimeUuid(t, id) => Ok((*t, *id)),
            Cursor::Id(_) | Cursor::Uuid(_) => Err(Error::InvalidCursor),
        }
    }

    pub fn as_uuid(&self) -> Result<Uuid> {
        match self {
            Cursor::Uuid(id) => Ok(*id),
            Cursor::Id(_) | Cursor::TimeUuid(..) => Err(Error::InvalidCursor),
        }
    }
}

/// A validated page request.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Validates `limit` (1..=100, default 20) and decodes `cursor`.
    pub fn new(limit: Option<u64>, cursor: Option<&str>) -> Result<Self> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid(
                "/limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = cursor.map(Cursor::decode).transpose()?;
        Ok(Self { limit, after })
    }
}

/// One page of rows of `E` ordered by their 64-bit `id_col`, newest (highest id) first: `query` holds
/// the scope (`fund_id = …`), this adds the order, the keyset condition and the limit.
pub async fn by_id<E, C>(
    query: Select<E>,
    id_col: E::Column,
    page: &PageRequest,
    conn: &C,
    id_of: impl Fn(&E::Model) -> i64,
) -> Result<Page<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut query = query.order_by_desc(id_col).limit(page.limit + 1);
    if let Some(cursor) = page.after {
        query = query.filter(id_col.lt(cursor.as_id()?));
    }
    let rows = query.all(conn).await?;
    Ok(Page::from_rows(rows, page.limit, |m| Cursor::Id(id_of(m))))
}

/// One page of rows of `E`, read as `M` (the model, or a partial model of the columns the caller
/// needs), ordered by `(time_col, id_col)`, newest first (lots by creation, snapshots by capture time):
/// the keyset condition is "earlier, or as early with a smaller id".
pub async fn by_time_and_uuid<E, M, C>(
    query: Select<E>,
    (time_col, id_col): (E::Column, E::Column),
    page: &PageRequest,
    conn: &C,
    key_of: impl Fn(&M) -> (DateTime<Utc>, Uuid),
) -> Result<Page<M>>
where
    E: EntityTrait,
    M: PartialModelTrait + Send + Sync,
    C: ConnectionTrait,
{
    let mut query = query
        .order_by_desc(time_col)
        .order_by_desc(id_col)
        .limit(page.limit + 1);
    if let Some(cursor) = page.after {
        let (t, id) = cursor.as_time_uuid()?;
        query = query.filter(
            Condition::any()
                .add(time_col.lt(t))
                .add(Condition::all().add(time_col.eq(t)).add(id_col.lt(id))),
        );
    }
    let rows = query.into_partial_model::<M>().all(conn).await?;
    Ok(Page::from_rows(rows, page.limit, |m| {
        let (t, id) = key_of(m);
        Cursor::TimeUuid(t, id)
    }))
}

/// One page of results and the cursor of the next page, if there is one.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows: the extra row only tells that more exist.
    pub fn from_rows(mut rows: Vec<T>, limit: u64, cursor_of: impl Fn(&T) -> Cursor) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| cursor_of(r).encode())
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let id = Cursor::Id(42);
        assert_eq!(Cursor::decode(&id.encode()).unwrap(), id);
        let t = DateTime::from_timestamp_micros(1_763_700_000_123_456).unwrap();
        let tu = Cursor::TimeUuid(t, Uuid::now_v7());
        assert_eq!(Cursor::decode(&tu.encode()).unwrap(), tu);
        let u = Cursor::Uuid(Uuid::now_v7());
        assert_eq!(u.encode().len(), 22);
        assert_eq!(Cursor::decode(&u.encode()).unwrap(), u);
        for bad in ["", "!!!", "aGVsbG8", "aTp4", "dDoxOjI", "AAAAAAAAAAB"] {
            assert!(
                matches!(Cursor::decode(bad), Err(Error::InvalidCursor)),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_cursor_matching_its_pattern_names_a_position() {
        // The id cursor's last character may only be one whose padding bits are zero.
        for last in "AEIMQUYcgkosw048".chars() {
            let text = format!("Zz-_09aZz-{last}");
            assert!(matches!(Cursor::decode(&text), Ok(Cursor::Id(_))), "{text}");
        }
        for last in "AQgw".chars() {
            let text = format!("{}{last}", "Zz-_09aZz-Zz-_09aZz-_");
            assert!(
                matches!(Cursor::decode(&text), Ok(Cursor::Uuid(_))),
                "{text}"
            );
        }
        let far = "_".repeat(32);
        assert!(matches!(Cursor::decode(&far), Ok(Cursor::TimeUuid(..))));
        let encoded = Cursor::Id(i64::MIN).encode();
        assert_eq!(encoded.len(), 11);
        let earliest = DateTime::from_timestamp_micros(EARLIEST).unwrap();
        assert_eq!(Cursor::TimeUuid(earliest, Uuid::nil()).encode().len(), 32);
        let Ok(Cursor::TimeUuid(t, _)) = Cursor::decode(&"0".repeat(32)) else {
            panic!("a cursor of the pattern decodes");
        };
        assert!(t >= earliest, "clamped into the databases' years");
    }

    #[test]
    fn limits_outside_one_to_a_hundred_are_refused() {
        assert_eq!(PageRequest::new(None, None).unwrap().limit, 20);
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(101), None).is_err());
        assert_eq!(PageRequest::new(Some(100), None).unwrap().limit, 100);
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Any text is a cursor or an `InvalidCursor`, never a panic; a cursor decodes to itself
            /// and encodes to the text it came from (one position, one text).
            #[test]
            fn any_text_decodes_to_a_cursor_or_invalid_cursor(text in "\\PC{0,40}") {
                match Cursor::decode(&text) {
                    Ok(c) => {
                        let again = Cursor::decode(&c.encode()).unwrap();
                        prop_assert_eq!(again, c);
                    }
                    Err(e) => prop_assert!(matches!(e, Error::InvalidCursor)),
                }
            }

            #[test]
            fn base64url_texts_of_any_length_never_panic(text in "[A-Za-z0-9_-]{0,48}") {
                let _ = Cursor::decode(&text);
            }

            #[test]
            fn every_position_round_trips(id in any::<i64>(), micros in any::<i64>(), uuid in any::<u128>()) {
                let c = Cursor::Id(id);
                prop_assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
                let time = DateTime::from_timestamp_micros(micros.clamp(EARLIEST, LATEST)).unwrap();
                let c = Cursor::TimeUuid(time, Uuid::from_u128(uuid));
                prop_assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
                let c = Cursor::Uuid(Uuid::from_u128(uuid));
                prop_assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
            }
        }
    }
}
