//! Reading a fund's lots from PostgreSQL with one binary `COPY … TO STDOUT`.
//!
//! A fund's MOIC reads every lot (ten thousand for a large fund). Through the row protocol each row is a
//! message decoded column by column with type checks; most of the time of `GET /moic` went there. `COPY`
//! in binary format streams the same rows as length-prefixed fields that are parsed here in one pass,
//! without allocating per row. Only this reader knows the format; it returns the same [`LotState`]s as the
//! generic loader in `analytics`, which the integration tests compare on PostgreSQL.
//!
//! Format (PostgreSQL docs, "COPY … Binary Format"): an 11-byte signature, a 32-bit flags word, a 32-bit
//! header-extension length and the extension; then per tuple a 16-bit field count (−1 ends the data)
//! and per field a 32-bit length (−1 for NULL) and the value in the type's binary send format.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use entity::investment_lot::LotType;
use futures::TryStreamExt;
use rust_decimal::Decimal;
use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::{DbErr, RuntimeErr};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::metrics::LotState;
use crate::money::SHARE_SCALE;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// PostgreSQL's epoch for `date` and `timestamptz` in binary form.
const PG_EPOCH: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");

/// Every lot of `fund_id` with its company, in no particular order.
pub async fn fund_lots(pool: &PgPool, fund_id: i64) -> Result<Vec<LotState>> {
    // COPY takes no bind parameters; the id is an integer, formatted, never text from a request.
    // Shares are numeric(18,8): × 10⁸ they are an exact integer below 10¹⁸, so they travel as int8.
    let statement = format!(
        "COPY (SELECT l.id, i.company_id, l.investment_id, l.lot_type, \
                      (l.shares_acquired * 100000000)::int8, l.cost_basis_cents, l.acquired_on, l.created_at \
               FROM investment_lots l JOIN investments i ON i.id = l.investment_id AND i.fund_id = l.fund_id \
               WHERE l.fund_id = {fund_id}) TO STDOUT WITH (FORMAT binary)"
    );
    let stream = pool.copy_out_raw(&statement).await.map_err(db_error)?;
    let chunks: Vec<_> = stream.try_collect().await.map_err(db_error)?;
    let mut data = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
    for chunk in &chunks {
        data.extend_from_slice(chunk);
    }
    parse_lots(&data)
}

fn db_error(err: sea_orm::sqlx::Error) -> Error {
    Error::from_db(DbErr::Query(RuntimeErr::SqlxError(err.into())))
}

fn malformed(what: &str) -> Error {
    Error::Invariant(format!("binary COPY of lots: {what}"))
}

/// Parses the binary COPY output of [`fund_lots`]' query.
fn parse_lots(data: &[u8]) -> Result<Vec<LotState>> {
    let mut r = Reader { data, at: 0 };
    if r.take(SIGNATURE.len())? != SIGNATURE {
        return Err(malformed("bad signature"));
    }
    let _flags = r.u32()?;
    let extension = r.u32()? as usize;
    r.take(extension)?;

    let mut lots = Vec::with_capacity(data.len() / 120);
    loop {
        let fields = r.i16()?;
        if fields == -1 {
            break;
        }
        if fields != 8 {
            return Err(malformed("expected 8 fields"));
        }
        let id = Uuid::from_slice(r.field(16)?).map_err(|_| malformed("uuid"))?;
        let company_id = r.int8()?;
        let investment_id = r.int8()?;
        let lot_type = match r.text()? {
            b"initial" => LotType::Initial,
            b"follow_on" => LotType::FollowOn,
            b"secondary" => LotType::Secondary,
            b"conversion" => LotType::Conversion,
            _ => return Err(malformed("unknown lot type")),
        };
        let shares = Decimal::new(r.int8()?, SHARE_SCALE);
        let cost_basis_cents = r.int8()?;
        let days = i32::from_be_bytes(r.fixed::<4>()?);
        let acquired_on = if days >= 0 {
            PG_EPOCH.checked_add_days(Days::new(u64::from(days.unsigned_abs())))
        } else {
            PG_EPOCH.checked_sub_days(Days::new(u64::from(days.unsigned_abs())))
        }
        .ok_or_else(|| malformed("date out of range"))?;
        let micros = r.int8()?;
        let created_at = PG_EPOCH
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .and_then(|epoch: DateTime<Utc>| {
                epoch.checked_add_signed(TimeDelta::microseconds(micros))
            })
            .ok_or_else(|| malformed("timestamp out of range"))?;
        lots.push(LotState {
            id,
            company_id,
            investment_id,
            lot_type,
            shares,
            cost_basis_cents,
            acquired_on,
            created_at,
        });
    }
    Ok(lots)
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.data.len());
        let end = end.ok_or_else(|| malformed("truncated"))?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let len = self.i32()?;
        if usize::try_from(len).ok() != Some(N) {
            return Err(malformed("unexpected field length"));
        }
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(b))
    }

    fn i32(&mut self) -> Result<i32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(i32::from_be_bytes(b))
    }

    fn i16(&mut self) -> Result<i16> {
        let mut b = [0u8; 2];
        b.copy_from_slice(self.take(2)?);
        Ok(i16::from_be_bytes(b))
    }

    /// A non-NULL field of exactly `n` bytes.
    fn field(&mut self, n: usize) -> Result<&'a [u8]> {
        let len = self.i32()?;
        if usize::try_from(len).ok() != Some(n) {
            return Err(malformed("unexpected field length"));
        }
        self.take(n)
    }

    fn int8(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.fixed::<8>()?))
    }

    /// A non-NULL text field's bytes.
    fn text(&mut self) -> Result<&'a [u8]> {
        let len = self.i32()?;
        let len = usize::try_from(len).map_err(|_| malformed("NULL text"))?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a COPY stream the way PostgreSQL writes one.
    fn stream(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        for row in rows {
            out.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for field in row {
                match field {
                    Some(bytes) => {
                        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                        out.extend_from_slice(bytes);
                    }
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    fn lot_row(lot_type: &str, days: i32, micros: i64) -> Vec<Option<Vec<u8>>> {
        vec![
            Some(Uuid::from_u128(42).as_bytes().to_vec()),
            Some(7i64.to_be_bytes().to_vec()),
            Some(70i64.to_be_bytes().to_vec()),
            Some(lot_type.as_bytes().to_vec()),
            Some(100_050_000_000i64.to_be_bytes().to_vec()),
            Some(250_125i64.to_be_bytes().to_vec()),
            Some(days.to_be_bytes().to_vec()),
            Some(micros.to_be_bytes().to_vec()),
        ]
    }

    #[test]
    fn a_copied_lot_reads_back_with_its_dates_shares_and_type() {
        // 2026-01-31 is 9527 days after 2000-01-01; 1.5 s after that epoch for created_at.
        let data = stream(&[
            lot_row("follow_on", 9527, 1_500_000),
            lot_row("initial", -1, -1),
        ]);
        let lots = parse_lots(&data).unwrap();
        assert_eq!(lots.len(), 2);
        let lot = &lots[0];
        assert_eq!(lot.id, Uuid::from_u128(42));
        assert_eq!((lot.company_id, lot.investment_id), (7, 70));
        assert_eq!(lot.lot_type, LotType::FollowOn);
        assert_eq!(lot.shares.to_string(), "1000.50000000");
        assert_eq!(lot.cost_basis_cents, 250_125);
        assert_eq!(
            lot.acquired_on,
            NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()
        );
        assert_eq!(lot.created_at.to_rfc3339(), "2000-01-01T00:00:01.500+00:00");
        assert_eq!(
            lots[1].acquired_on,
            NaiveDate::from_ymd_opt(1999, 12, 31).unwrap()
        );
        assert_eq!(
            lots[1].created_at.to_rfc3339(),
            "1999-12-31T23:59:59.999999+00:00"
        );
    }

    #[test]
    fn malformed_streams_are_errors_not_panics() {
        let good = stream(&[lot_row("initial", 0, 0)]);
        for cut in [0, 5, 19, 30, good.len() - 1] {
            assert!(parse_lots(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert!(parse_lots(&stream(&[lot_row("bogus", 0, 0)])).is_err());
        let mut null_type = lot_row("initial", 0, 0);
        null_type[3] = None;
        assert!(parse_lots(&stream(&[null_type])).is_err());
        let mut short = lot_row("initial", 0, 0);
        short.pop();
        assert!(parse_lots(&stream(&[short])).is_err());
        assert!(parse_lots(b"not a copy stream at all").is_err());
    }
}
