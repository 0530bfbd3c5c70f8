//! Overload without collapse (issue #25, item 5): the heavy computations of a request — reading a
//! whole fund's state and computing from it (a recompute of `/moic`, `/returns` or the rankings, a
//! snapshot capture, a forecast's inputs) — run at most `running` at once per process (default: the
//! number of cores, since each is CPU-bound once the rows are read). Up to `queued` more wait their
//! turn; a request beyond those, or one that has waited `patience`, is refused with
//! [`Error::Busy`] (503 with `Retry-After`) at once, holding nothing: memory stays bounded by
//! `running` fund states, whatever the load.
//!
//! A waiting request holds no fund state, only its place. Requests for the same fund state do not
//! reach the gate twice: the single flight of `metrics::reuse` makes them wait for the first one's
//! answer. Creations with one idempotency key ([`HeavyGate::enter_keyed`]) go through one at a time
//! too: the first does the work, the later ones replay its answer, and a burst of retries takes one
//! place in the queue, not one each.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};
use crate::flight::{Flight, Flights};

/// How long a queued request waits for its turn before it is refused.
const PATIENCE: Duration = Duration::from_secs(10);

/// How many requests wait per running computation, by default.
const QUEUED_PER_RUNNING: usize = 8;

/// The gate every heavy computation of a request passes.
pub struct HeavyGate {
    running: Arc<Semaphore>,
    /// Requests waiting for a permit.
    waiting: AtomicUsize,
    /// At most this many wait.
    queued: usize,
    patience: Duration,
    /// Creations by idempotency key in progress in this process.
    keys: Flights,
}

/// A running computation's place: dropping it lets the next one run.
#[must_use = "the computation runs while its permit is held"]
pub struct HeavyPermit(#[allow(dead_code)] OwnedSemaphorePermit);

/// A creation's place: its idempotency key's turn, and a permit.
#[must_use = "the creation runs while its permit is held"]
pub struct KeyedPermit<'a> {
    _permit: HeavyPermit,
    _key: Option<Flight<'a>>,
}

impl Default for HeavyGate {
    /// As many running as the machine has cores, eight times as many waiting.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores, cores * QUEUED_PER_RUNNING)
    }
}

impl HeavyGate {
    /// At most `running` (at least one) at once, `queued` more waiting.
    pub fn new(running: usize, queued: usize) -> Self {
        Self {
            running: Arc::new(Semaphore::new(running.max(1))),
            waiting: AtomicUsize::new(0),
            queued,
            patience: PATIENCE,
            keys: Flights::default(),
        }
    }

    /// The same gate with another patience (tests).
    pub fn with_patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// [`HeavyGate::enter`], after the other requests of this process with the same idempotency `key`
    /// (scoped by the caller) are done.
    pub async fn enter_keyed(
        &self,
        what: &'static str,
        key: Option<&str>,
    ) -> Result<KeyedPermit<'_>> {
        let turn = match key {
            Some(key) => Some(self.keys.enter(key).await),
            None => None,
        };
        Ok(KeyedPermit {
            _permit: self.enter(what).await?,
            _key: turn,
        })
    }

    /// A permit to run `what` now, after waiting in the queue if need be; [`Error::Busy`] when the queue
    /// is full or the wait outlasts the patience.
    pub async fn enter(&self, what: &'static str) -> Result<HeavyPermit> {
        if let Ok(permit) = self.running.clone().try_acquire_owned() {
            return Ok(HeavyPermit(permit));
        }
        let busy = || Error::Busy {
            what,
            retry_after_secs: 1,
        };
        // A place in the queue, if one is free (counted before waiting, released however it ends).
        if self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.queued).then_some(n + 1)
            })
            .is_err()
        {
            return Err(busy());
        }
        let waited =
            tokio::time::timeout(self.patience, self.running.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Ok(Ok(permit)) => Ok(HeavyPermit(permit)),
            // Timed out, or the semaphore closed (never: it is not closed).
            _ => Err(busy()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_runs_one_waits_and_the_next_is_refused_at_once() {
        let gate = Arc::new(HeavyGate::new(1, 1));
        let running = gate.enter("a calculation").await.expect("runs");
        let queued = tokio::spawn({
            let gate = gate.clone();
            async move { gate.enter("a calculation").await.map(|_| ()) }
        });
        // The second takes the one place in the queue.
        while gate.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            gate.enter("a calculation").await,
            Err(Error::Busy {
                what: "a calculation",
                retry_after_secs: 1
            })
        ));
        drop(running);
        assert!(queued.await.unwrap().is_ok(), "the queued one runs next");
        assert!(
            gate.enter("a calculation").await.is_ok(),
            "and the gate is free again"
        );
    }

    #[tokio::test]
    async fn a_queued_request_that_waits_past_the_patience_is_refused() {
        let gate = HeavyGate::new(1, 4).with_patience(Duration::from_millis(20));
        let _running = gate.enter("a capture").await.expect("runs");
        assert!(matches!(
            gate.enter("a capture").await,
            Err(Error::Busy { .. })
        ));
        assert_eq!(
            gate.waiting.load(Ordering::Acquire),
            0,
            "its place is given back"
        );
    }

    #[tokio::test]
    async fn requests_with_one_idempotency_key_take_their_turns_and_one_place_at_a_time() {
        let gate = Arc::new(HeavyGate::new(1, 0));
        let first = gate
            .enter_keyed("a capture", Some("snapshot:1:k"))
            .await
            .expect("runs");
        // A retry with the same key waits for its turn, not in the queue (which has no place).
        let retry = tokio::spawn({
            let gate = gate.clone();
            async move {
                gate.enter_keyed("a capture", Some("snapshot:1:k"))
                    .await
                    .map(|_| ())
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!retry.is_finished(), "the retry waits for the first");
        assert_eq!(
            gate.waiting.load(Ordering::Acquire),
            0,
            "and holds no place"
        );
        drop(first);
        assert!(
            retry.await.unwrap().is_ok(),
            "then runs (and replays the first's answer)"
        );
    }
}
