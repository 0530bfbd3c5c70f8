//! The cache's statistics (SPEC §9, issue #12): hits and misses per tier, generations and their time,
//! lookup latency percentiles. Counted per process since its start (a scale-out deployment sums them);
//! the bytes stored are read from the database when asked.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hdrhistogram::Histogram;

/// Where a lookup was answered from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServedFrom {
    FirstTier,
    Database,
    Generated,
}

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Percentiles of one kind of lookup, microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub count: u64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// Latencies from 1 µs to 10 min at 3 significant digits.
struct Latencies(Mutex<Histogram<u64>>);

impl Default for Latencies {
    fn default() -> Self {
        let h = Histogram::new_with_bounds(1, 600_000_000, 3)
            .unwrap_or_else(|_| Histogram::new(3).expect("3 significant digits are allowed"));
        Self(Mutex::new(h))
    }
}

impl Latencies {
    fn record(&self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, 600_000_000);
        let mut h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Clamped into the histogram's bounds, so recording cannot fail.
        let _ = h.record(us);
    }

    fn percentiles(&self) -> Percentiles {
        let h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Percentiles {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p95_us: h.value_at_quantile(0.95),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
        }
    }
}

#[derive(Default)]
pub struct Stats {
    pub first_tier_hits: Counter,
    pub first_tier_misses: Counter,
    /// Lookups that found the first tier unreachable or slow (then served from the database).
    pub first_tier_errors: Counter,
    /// Entries that could not be read (bad bytes, wrong type): removed and treated as misses.
    pub first_tier_corrupt: Counter,
    pub database_hits: Counter,
    pub database_misses: Counter,
    /// Stored payloads that failed their checks on read and were regenerated.
    pub database_corrupt: Counter,
    /// Hits whose stored canonical config differed from the request's: never served.
    pub collisions: Counter,
    pub generations: Counter,
    generation_us: AtomicU64,
    first_tier_latency: Latencies,
    database_latency: Latencies,
    generated_latency: Latencies,
}

/// A copy of the statistics at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub first_tier_hits: u64,
    pub first_tier_misses: u64,
    pub first_tier_errors: u64,
    pub first_tier_corrupt: u64,
    pub database_hits: u64,
    pub database_misses: u64,
    pub database_corrupt: u64,
    pub collisions: u64,
    pub generations: u64,
    pub generation_ms_total: u64,
    pub first_tier_hit_latency: Percentiles,
    pub database_hit_latency: Percentiles,
    pub generated_latency: Percentiles,
}

impl Stats {
    /// A whole lookup's time, by where it was answered from.
    pub fn served(&self, from: ServedFrom, took: Duration) {
        match from {
            ServedFrom::FirstTier => self.first_tier_latency.record(took),
            ServedFrom::Database => self.database_latency.record(took),
            ServedFrom::Generated => self.generated_latency.record(took),
        }
    }

    pub fn generated(&self, took: Duration) {
        self.generations.add();
        self.generation_us
            .fetch_add(took.as_micros() as u64, Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            first_tier_hits: self.first_tier_hits.get(),
            first_tier_misses: self.first_tier_misses.get(),
            first_tier_errors: self.first_tier_errors.get(),
            first_tier_corrupt: self.first_tier_corrupt.get(),
            database_hits: self.database_hits.get(),
            database_misses: self.database_misses.get(),
            database_corrupt: self.database_corrupt.get(),
            collisions: self.collisions.get(),
            generations: self.generations.get(),
            generation_ms_total: self.generation_us.load(Relaxed) / 1_000,
            first_tier_hit_latency: self.first_tier_latency.percentiles(),
            database_hit_latency: self.database_latency.percentiles(),
            generated_latency: self.generated_latency.percentiles(),
        }
    }
}
