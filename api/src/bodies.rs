//! Answers kept as the bytes they were written to, while what they were written from is unchanged: the
//! `/moic` body of a fund whose computed metrics the service reuses (`service::metrics::reuse`) is not
//! serialised again. Entries are keyed by fund and date and hold a weak reference to the metrics they
//! were written from; a body answers only while those very metrics are the service's current ones.

use std::sync::{Arc, Weak};

use actix_web::web::Bytes;
use chrono::NaiveDate;
use moka::sync::Cache;
use service::metrics::PortfolioMetrics;

/// Bytes of bodies kept (a `/moic` body holds fund and company figures: kilobytes per fund).
const CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

/// `/moic` bodies by fund and valuation date.
#[derive(Clone)]
pub struct MoicBodies {
    entries: Cache<(i64, NaiveDate), (Weak<PortfolioMetrics>, Bytes)>,
}

impl Default for MoicBodies {
    fn default() -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(CAPACITY_BYTES)
                .weigher(|_, (_, body): &(Weak<PortfolioMetrics>, Bytes)| {
                    u32::try_from(body.len() + 64).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }
}

impl MoicBodies {
    /// The body written from `metrics`: kept from an earlier request if it was written from these very
    /// metrics, otherwise written by `write` now and kept.
    pub fn get_or_write<E>(
        &self,
        fund_id: i64,
        metrics: &Arc<PortfolioMetrics>,
        write: impl FnOnce(&PortfolioMetrics) -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        let key = (fund_id, metrics.as_of);
        if let Some((from, body)) = self.entries.get(&key)
            && from.upgrade().is_some_and(|m| Arc::ptr_eq(&m, metrics))
        {
            return Ok(body);
        }
        let body = Bytes::from(write(metrics)?);
        self.entries
            .insert(key, (Arc::downgrade(metrics), body.clone()));
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(day: u32) -> Arc<PortfolioMetrics> {
        let as_of = NaiveDate::from_ymd_opt(2026, 1, day).unwrap();
        let empty = service::fund_state::PortfolioState {
            fund: service::fund_state::FundState {
                id: 1,
                size_cents: service::money::Cents::new(100),
                reserve_ratio_bps: service::money::Bps::ZERO,
                base_currency: "USD".into(),
                terms: None,
            },
            companies: Vec::new(),
            lots: Default::default(),
            distributions: Vec::new(),
        };
        Arc::new(service::metrics::compute(&empty, as_of))
    }

    #[test]
    fn a_body_is_reused_for_the_same_metrics_and_written_again_for_new_ones() {
        let bodies = MoicBodies::default();
        let first = metrics(1);
        let mut writes = 0;
        let mut write = |_: &PortfolioMetrics| -> Result<Vec<u8>, ()> {
            writes += 1;
            Ok(format!("body {writes}").into_bytes())
        };
        assert_eq!(
            bodies.get_or_write(1, &first, &mut write).unwrap(),
            "body 1"
        );
        assert_eq!(
            bodies.get_or_write(1, &first, &mut write).unwrap(),
            "body 1"
        );
        let recomputed = metrics(1);
        assert_eq!(
            bodies.get_or_write(1, &recomputed, &mut write).unwrap(),
            "body 2"
        );
        assert_eq!(
            bodies.get_or_write(2, &recomputed, &mut write).unwrap(),
            "body 3"
        );
    }
}
