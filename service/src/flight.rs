//! Single-flight per process: concurrent misses for one key wait for the first, which computes and
//! stores the value; the others then find it stored. Used by the scenario-matrix lookup (SPEC §9; across
//! processes the database's unique `matrix_key` decides) and by the reuse of a fund's computed metrics
//! (one calculation per fund state, however many requests ask at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub struct Flights {
    running: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while a key's lookup runs; the next request for the key proceeds when it is dropped.
pub struct Flight<'a> {
    flights: &'a Flights,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Flights {
    /// Waits until no other request of this process is looking `key` up, then holds it.
    pub async fn enter(&self, key: &str) -> Flight<'_> {
        let lock = {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            running.entry(key.to_owned()).or_default().clone()
        };
        Flight {
            flights: self,
            key: key.to_owned(),
            guard: Some(lock.lock_owned().await),
        }
    }

    /// How many keys are in flight or awaited (for tests: zero once every request is done).
    pub fn len(&self) -> usize {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut running = self
            .flights
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Only the map holds the lock now: nobody waits for this key, so forget it.
        if running
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            running.remove(&self.key);
        }
    }
}
