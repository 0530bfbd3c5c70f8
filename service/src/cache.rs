//! The optional Redis connection (the first tier of the scenario-matrix cache, SPEC §9).
//!
//! Redis is never required: when it is not configured, or down, the service keeps answering from
//! PostgreSQL and an in-process cache. Every Redis call is bounded by a timeout for that reason.

use std::time::Duration;

use crate::error::{Error, Result};

/// How long any Redis round trip may take before it is treated as "Redis unavailable".
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// What `/readyz` reports about Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisState {
    NotConfigured,
    Up,
    Down,
}

#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
}

impl Redis {
    /// Parses the URL; does not connect (Redis may come up later).
    pub fn new(url: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(Error::InvalidRedisUrl)?;
        Ok(Self { client })
    }

    /// A `PING` bounded by [`REDIS_TIMEOUT`].
    pub async fn ping(&self) -> RedisState {
        let attempt = async {
            let mut conn = self.client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        match tokio::time::timeout(REDIS_TIMEOUT, attempt).await {
            Ok(Ok(_)) => RedisState::Up,
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
