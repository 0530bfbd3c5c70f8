//! Reading a fund's companies, lots and distributions from PostgreSQL with binary `COPY … TO STDOUT`.
//!
//! A fund's MOIC reads every lot (ten thousand for a large fund). Through the row protocol each row is a
//! message decoded column by column with type checks; most of the time of `GET /moic` went there. `COPY`
//! in binary format streams the same rows as length-prefixed fields that are parsed here in one pass,
//! without allocating per row. Only this module knows the format; it returns the same states as the
//! generic loaders of `fund_state`, which the integration tests compare on PostgreSQL.
//!
//! Format (PostgreSQL docs, "COPY … Binary Format"): an 11-byte signature, a 32-bit flags word, a 32-bit
//! header-extension length and the extension; then per tuple a 16-bit field count (−1 ends the data)
//! and per field a 32-bit length (−1 for NULL) and the value in the type's binary send format.

use chrono::{DateTime, NaiveDate, Utc};
use entity::distribution::DistributionKind;
use entity::investment_lot::LotType;
use entity::portfolio_company::{CompanyStatus, Stage};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::{ActiveEnum, DbErr, Iterable, RuntimeErr};
use uuid::Uuid;

use super::model::{CompanyState, DistributionState, LotState};
use crate::error::{Error, Result};
use crate::money::SHARE_SCALE;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// PostgreSQL's epoch for `date` and `timestamptz` in binary form, 2000-01-01, in chrono's terms: days
/// from 0001-01-01 (day 1), and microseconds from the Unix epoch.
const PG_EPOCH_DAYS_FROM_CE: i32 = 730_120;
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;
/// Decimal places of exit probabilities (numeric(7,6)).
const PROBABILITY_SCALE: u32 = 6;

// COPY takes no bind parameters: the statements below format the fund id, an integer, never text from a
// request. Exact decimals travel as integers: numeric(18,8) × 10⁸ and numeric(7,6) × 10⁶ are exact
// integers below 10¹⁸. Integer columns are cast to int8 so that the parser reads one width.

/// Every lot of `fund_id` with its company, in no particular order.
pub async fn fund_lots(pool: &PgPool, fund_id: i64) -> Result<Vec<LotState>> {
    let data = copy_out(
        pool,
        &format!(
            "COPY (SELECT l.id, i.company_id::int8, l.investment_id::int8, l.lot_type, \
                          (l.shares_acquired * 100000000)::int8, l.cost_basis_cents::int8, l.acquired_on, l.created_at \
                   FROM investment_lots l JOIN investments i ON i.id = l.investment_id AND i.fund_id = l.fund_id \
                   WHERE l.fund_id = {fund_id}) TO STDOUT WITH (FORMAT binary)"
        ),
    )
    .await?;
    parse_lots(&data)
}

/// Every company of `fund_id`, in id order.
pub async fn fund_companies(pool: &PgPool, fund_id: i64) -> Result<Vec<CompanyState>> {
    let data = copy_out(
        pool,
        &format!(
            "COPY (SELECT id::int8, name, stage, status, current_share_price_cents::int8, exit_moic_bps::int8, \
                          (exit_probability * 1000000)::int8, reserve_exit_moic_bps::int8, \
                          planned_reserves_cents::int8, allocation_cap_cents::int8 \
                   FROM portfolio_companies WHERE fund_id = {fund_id} ORDER BY id) TO STDOUT WITH (FORMAT binary)"
        ),
    )
    .await?;
    parse_companies(&data)
}

/// Every distribution of `fund_id`, in id order.
pub async fn fund_distributions(pool: &PgPool, fund_id: i64) -> Result<Vec<DistributionState>> {
    let data = copy_out(
        pool,
        &format!(
            "COPY (SELECT id::int8, company_id::int8, distributed_on, amount_cents::int8, kind, \
                          (shares_sold * 100000000)::int8, created_at \
                   FROM distributions WHERE fund_id = {fund_id} ORDER BY id) TO STDOUT WITH (FORMAT binary)"
        ),
    )
    .await?;
    parse_distributions(&data)
}

/// The whole output of a `COPY … TO STDOUT`, in one buffer.
async fn copy_out(pool: &PgPool, statement: &str) -> Result<Vec<u8>> {
    let stream = pool.copy_out_raw(statement).await.map_err(db_error)?;
    let chunks: Vec<_> = stream.try_collect().await.map_err(db_error)?;
    let mut data = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
    for chunk in &chunks {
        data.extend_from_slice(chunk);
    }
    Ok(data)
}

fn db_error(err: sea_orm::sqlx::Error) -> Error {
    Error::from_db(DbErr::Query(RuntimeErr::SqlxError(err.into())))
}

fn malformed(what: &str) -> Error {
    Error::Invariant(format!("binary COPY: {what}"))
}

/// The values of a text-backed enum, looked up by their stored text without allocating per row.
struct EnumTable<E>(Vec<(String, E)>);

impl<E: ActiveEnum<Value = String> + Iterable + Copy> EnumTable<E> {
    fn new() -> Self {
        Self(E::iter().map(|e| (e.to_value(), e)).collect())
    }

    fn get(&self, text: &[u8], what: &str) -> Result<E> {
        self.0
            .iter()
            .find(|(t, _)| t.as_bytes() == text)
            .map(|(_, e)| *e)
            .ok_or_else(|| malformed(&format!("unknown {what}")))
    }
}

/// Walks the tuples of a binary COPY stream: calls `row` with a reader positioned on each tuple's
/// first field, after checking its field count.
fn for_each_tuple(
    data: &[u8],
    fields: i16,
    mut row: impl FnMut(&mut Reader<'_>) -> Result<()>,
) -> Result<()> {
    let mut r = Reader { data, at: 0 };
    if r.take(SIGNATURE.len())? != SIGNATURE {
        return Err(malformed("bad signature"));
    }
    let _flags = r.u32()?;
    let extension = r.u32()? as usize;
    r.take(extension)?;
    loop {
        match r.i16()? {
            -1 => return Ok(()),
            n if n == fields => row(&mut r)?,
            _ => return Err(malformed("unexpected field count")),
        }
    }
}

fn parse_lots(data: &[u8]) -> Result<Vec<LotState>> {
    let lot_types = EnumTable::<LotType>::new();
    // A lot's tuple is about 105 bytes.
    let mut lots = Vec::with_capacity(data.len() / 100 + 1);
    for_each_tuple(data, 8, |r| {
        lots.push(LotState {
            id: r.uuid()?,
            company_id: r.int8()?,
            investment_id: r.int8()?,
            lot_type: lot_types.get(r.text()?, "lot type")?,
            shares: Decimal::new(r.int8()?, SHARE_SCALE),
            cost_basis_cents: r.int8()?,
            acquired_on: r.date()?,
            created_at: r.timestamptz()?,
        });
        Ok(())
    })?;
    Ok(lots)
}

fn parse_companies(data: &[u8]) -> Result<Vec<CompanyState>> {
    let (stages, statuses) = (EnumTable::<Stage>::new(), EnumTable::<CompanyStatus>::new());
    let mut companies = Vec::new();
    for_each_tuple(data, 10, |r| {
        companies.push(CompanyState {
            id: r.int8()?,
            name: String::from_utf8(r.text()?.to_vec()).map_err(|_| malformed("name"))?,
            stage: stages.get(r.text()?, "stage")?,
            status: statuses.get(r.text()?, "status")?,
            current_share_price_cents: r.opt_int8()?,
            exit_moic_bps: r.opt_int8()?,
            exit_probability: r.opt_int8()?.map(|p| Decimal::new(p, PROBABILITY_SCALE)),
            reserve_exit_moic_bps: r.opt_int8()?,
            planned_reserves_cents: r.int8()?,
            allocation_cap_cents: r.opt_int8()?,
        });
        Ok(())
    })?;
    Ok(companies)
}

fn parse_distributions(data: &[u8]) -> Result<Vec<DistributionState>> {
    let kinds = EnumTable::<DistributionKind>::new();
    let mut distributions = Vec::new();
    for_each_tuple(data, 7, |r| {
        distributions.push(DistributionState {
            id: r.int8()?,
            company_id: r.int8()?,
            distributed_on: r.date()?,
            amount_cents: r.int8()?,
            kind: kinds.get(r.text()?, "distribution kind")?,
            shares_sold: r.opt_int8()?.map(|s| Decimal::new(s, SHARE_SCALE)),
            created_at: r.timestamptz()?,
        });
        Ok(())
    })?;
    Ok(distributions)
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

    fn int8(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.fixed::<8>()?))
    }

    /// An int8 field that may be NULL.
    fn opt_int8(&mut self) -> Result<Option<i64>> {
        let len = self.i32()?;
        match len {
            -1 => Ok(None),
            8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(self.take(8)?);
                Ok(Some(i64::from_be_bytes(b)))
            }
            _ => Err(malformed("unexpected field length")),
        }
    }

    fn uuid(&mut self) -> Result<Uuid> {
        Ok(Uuid::from_bytes(self.fixed::<16>()?))
    }

    /// A `date`: days since 2000-01-01.
    fn date(&mut self) -> Result<NaiveDate> {
        let days = i32::from_be_bytes(self.fixed::<4>()?);
        NaiveDate::from_num_days_from_ce_opt(PG_EPOCH_DAYS_FROM_CE.saturating_add(days))
            .ok_or_else(|| malformed("date out of range"))
    }

    /// A `timestamptz`: microseconds since 2000-01-01 00:00 UTC.
    fn timestamptz(&mut self) -> Result<DateTime<Utc>> {
        let micros = self.int8()?;
        micros
            .checked_add(PG_EPOCH_UNIX_MICROS)
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(|| malformed("timestamp out of range"))
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

    fn int8(v: i64) -> Option<Vec<u8>> {
        Some(v.to_be_bytes().to_vec())
    }

    fn text(v: &str) -> Option<Vec<u8>> {
        Some(v.as_bytes().to_vec())
    }

    #[test]
    fn companies_read_back_with_nullable_assumptions_and_probabilities_at_six_places() {
        let data = stream(&[
            vec![
                int8(1),
                text("Acme ✓"),
                text("series_a"),
                text("active"),
                int8(300),
                int8(40000),
                int8(800_000),
                int8(15000),
                int8(250_000),
                None,
            ],
            vec![
                int8(2),
                text(""),
                text("pre_seed"),
                text("written_off"),
                None,
                None,
                None,
                None,
                int8(0),
                int8(7),
            ],
        ]);
        let companies = parse_companies(&data).unwrap();
        assert_eq!(companies.len(), 2);
        let acme = &companies[0];
        assert_eq!((acme.id, acme.name.as_str()), (1, "Acme ✓"));
        assert_eq!(
            (acme.stage, acme.status),
            (Stage::SeriesA, CompanyStatus::Active)
        );
        assert_eq!(acme.current_share_price_cents, Some(300));
        assert_eq!(
            acme.exit_probability.map(|p| p.to_string()),
            Some("0.800000".to_owned())
        );
        assert_eq!(
            (
                acme.reserve_exit_moic_bps,
                acme.planned_reserves_cents,
                acme.allocation_cap_cents
            ),
            (Some(15000), 250_000, None)
        );
        let other = &companies[1];
        assert_eq!(
            (other.stage, other.status),
            (Stage::PreSeed, CompanyStatus::WrittenOff)
        );
        assert_eq!(
            (
                other.exit_moic_bps,
                other.exit_probability,
                other.allocation_cap_cents
            ),
            (None, None, Some(7))
        );

        let bad_stage = stream(&[vec![
            int8(1),
            text("A"),
            text("series_z"),
            text("active"),
            None,
            None,
            None,
            None,
            int8(0),
            None,
        ]]);
        assert!(parse_companies(&bad_stage).is_err());
        let bad_name = stream(&[vec![
            int8(1),
            Some(vec![0xff, 0xfe]),
            text("seed"),
            text("active"),
            None,
            None,
            None,
            None,
            int8(0),
            None,
        ]]);
        assert!(parse_companies(&bad_name).is_err());
        let null_planned = stream(&[vec![
            int8(1),
            text("A"),
            text("seed"),
            text("active"),
            None,
            None,
            None,
            None,
            None,
            None,
        ]]);
        assert!(parse_companies(&null_planned).is_err());
    }

    #[test]
    fn distributions_read_back_with_and_without_shares_sold() {
        let data = stream(&[
            vec![
                int8(5),
                int8(1),
                Some(9132i32.to_be_bytes().to_vec()),
                int8(60_000),
                text("partial_sale"),
                int8(50_000_000),
                int8(0),
            ],
            vec![
                int8(6),
                int8(1),
                Some(0i32.to_be_bytes().to_vec()),
                int8(1234),
                text("dividend"),
                None,
                int8(-86_400_000_000),
            ],
        ]);
        let distributions = parse_distributions(&data).unwrap();
        assert_eq!(distributions.len(), 2);
        let sale = &distributions[0];
        assert_eq!(
            (sale.id, sale.company_id, sale.amount_cents),
            (5, 1, 60_000)
        );
        assert_eq!(
            sale.distributed_on,
            NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
        );
        assert_eq!(sale.kind, DistributionKind::PartialSale);
        assert_eq!(
            sale.shares_sold.map(|s| s.to_string()),
            Some("0.50000000".to_owned())
        );
        assert_eq!(sale.created_at.to_rfc3339(), "2000-01-01T00:00:00+00:00");
        let dividend = &distributions[1];
        assert_eq!(dividend.kind, DistributionKind::Dividend);
        assert_eq!(dividend.shares_sold, None);
        assert_eq!(
            dividend.distributed_on,
            NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()
        );
        assert_eq!(
            dividend.created_at.to_rfc3339(),
            "1999-12-31T00:00:00+00:00"
        );
    }
}
