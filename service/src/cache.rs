//! The optional Redis connection (the first tier of the scenario-matrix cache, SPEC §9).
//!
//! Redis is never required: when it is not configured, or down, the service keeps answering from
//! PostgreSQL and an in-process cache. Every Redis call is bounded by a timeout for that reason, and a
//! call that failed makes the next ones skip Redis for [`BACKOFF`], so that a dead or hanging Redis
//! costs one timeout per second, not one per request; after that it is tried again, and used again
//! as soon as it answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::{Error, Result};

/// How long any Redis round trip may take before it is treated as "Redis unavailable". Matrices of up
/// to a few MB travel in one reply, which loopback carries in a few milliseconds.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is skipped after a failed call.
pub const BACKOFF: Duration = Duration::from_secs(1);

/// What `/readyz` reports about Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisState {
    NotConfigured,
    Up,
    Down,
}

/// Why a Redis call gave no answer: it is treated as a miss by every caller.
#[derive(Debug)]
pub enum Unavailable {
    /// Skipped: an earlier call failed less than [`BACKOFF`] ago.
    BackingOff,
    TimedOut,
    /// The connection failed, or Redis answered with an error (`WRONGTYPE` for a key that holds
    /// something else: a corrupt entry, not an outage).
    Failed(redis::RedisError),
}

impl Unavailable {
    /// Redis answered, with an error reply: it is up, the entry is bad.
    pub fn is_reply_error(&self) -> bool {
        matches!(self, Self::Failed(e) if e.code().is_some())
    }
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BackingOff => write!(f, "skipped after a recent failure"),
            Self::TimedOut => write!(f, "no answer within {} ms", REDIS_TIMEOUT.as_millis()),
            Self::Failed(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    /// Milliseconds since `epoch` before which Redis is skipped (0: not skipped).
    skip_until_ms: Arc<AtomicU64>,
    epoch: Instant,
}

impl Redis {
    /// Parses the URL; does not connect (Redis may come up later).
    pub fn new(url: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(Error::InvalidRedisUrl)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(Error::InvalidRedisUrl)?;
        Ok(Self {
            conn,
            skip_until_ms: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Runs one command (or pipeline) against Redis, bounded by [`REDIS_TIMEOUT`]; a failure to reach
    /// Redis starts the back-off (an error reply does not: Redis is up).
    pub async fn call<T, F, Fut>(&self, f: F) -> std::result::Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.now_ms() < self.skip_until_ms.load(Ordering::Relaxed) {
            return Err(Unavailable::BackingOff);
        }
        let outcome = match tokio::time::timeout(REDIS_TIMEOUT, f(self.conn.clone())).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) if e.code().is_some() => return Err(Unavailable::Failed(e)),
            Ok(Err(e)) => Unavailable::Failed(e),
            Err(_) => Unavailable::TimedOut,
        };
        self.skip_until_ms.store(
            self.now_ms() + BACKOFF.as_millis() as u64,
            Ordering::Relaxed,
        );
        tracing::warn!(error = %outcome, "Redis unavailable; skipping it for {} ms", BACKOFF.as_millis());
        Err(outcome)
    }

    /// A `PING`, bounded by [`REDIS_TIMEOUT`] (and not skipped: readiness reports the truth).
    pub async fn ping(&self) -> RedisState {
        let mut conn = self.conn.clone();
        let attempt = async move { redis::cmd("PING").query_async::<String>(&mut conn).await };
        match tokio::time::timeout(REDIS_TIMEOUT, attempt).await {
            Ok(Ok(_)) => {
                self.skip_until_ms.store(0, Ordering::Relaxed);
                RedisState::Up
            }
            _ => RedisState::Down,
        }
    }
}

/// The state of an optional Redis.
pub async fn redis_state(redis: Option<&Redis>) -> RedisState {
    match redis {
        None => RedisState::NotConfigured,
        Some(r) => r.ping().await,
    }
}
