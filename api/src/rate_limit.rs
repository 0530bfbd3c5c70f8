//! The per-key request rate limit (`UPDOG_RATE_LIMIT_PER_KEY`, issue #25): governor's GCRA, one
//! state per API key, in this process. Off by default; a deployment of several processes allows each
//! key that many requests per second per process.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use uuid::Uuid;

/// `per_second` requests per second for each key, with a burst of as many.
pub struct KeyRateLimit {
    limiter: governor::DefaultKeyedRateLimiter<Uuid>,
    clock: DefaultClock,
}

impl KeyRateLimit {
    pub fn new(per_second: NonZeroU32) -> Self {
        Self {
            limiter: governor::RateLimiter::keyed(governor::Quota::per_second(per_second)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of `key`; when it is over its rate, the whole seconds to wait instead.
    pub fn admit(&self, key: Uuid) -> Result<(), u64> {
        self.limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}
