//! Recorded responses kept in process after a replay (issue #14): a record never changes while it
//! lives — it is written once, with the business row, and only the reaper removes it, after
//! `expires_at` — so a key that was replayed once is answered again without a round trip. An entry
//! lives at most [`ENTRY_TTL`] and never past its record's `expires_at`; a record removed out of band
//! (by an operator) stops being replayed here within [`ENTRY_TTL`]. Only replays fill it: a create's
//! response is recorded in the database and read back from there on its first retry.
//!
//! Authentication and authorization still run before every replay (in the API, before the create path).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use moka::sync::Cache;

use super::key::Idempotency;
use super::outcome::Reply;
use crate::db::now;

/// How long an entry may answer before the database is asked again.
const ENTRY_TTL: Duration = Duration::from_secs(60);
/// Bytes of recorded bodies kept (bodies of a few hundred bytes: tens of thousands of keys).
const CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

/// One live record, as the database holds it.
pub struct Recorded {
    pub fingerprint: String,
    pub reply: Reply,
    pub expires_at: DateTime<Utc>,
}

/// Live records by scope and key.
#[derive(Clone)]
pub struct RecordCache {
    entries: Cache<(String, String), Arc<Recorded>>,
}

impl Default for RecordCache {
    fn default() -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(CAPACITY_BYTES)
                .weigher(|(scope, key): &(String, String), r: &Arc<Recorded>| {
                    let bytes = scope.len() + key.len() + r.reply.body.len() + 256;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .time_to_live(ENTRY_TTL)
                .build(),
        }
    }
}

impl RecordCache {
    /// The live record of this request's key, if one was replayed here lately.
    pub fn get(&self, idem: &Idempotency) -> Option<Arc<Recorded>> {
        let key = (idem.scope.clone(), idem.key.as_str().to_owned());
        let found = self.entries.get(&key)?;
        if found.expires_at <= now() {
            self.entries.invalidate(&key);
            return None;
        }
        Some(found)
    }

    pub fn put(&self, idem: &Idempotency, record: Recorded) {
        self.entries.insert(
            (idem.scope.clone(), idem.key.as_str().to_owned()),
            Arc::new(record),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::idempotency::IdempotencyKey;

    fn request(key: &str) -> Idempotency {
        let key = IdempotencyKey::parse(key).unwrap();
        Idempotency::new("POST /x".into(), key, None, &json!({"a": 1})).unwrap()
    }

    fn record(idem: &Idempotency, expires_at: DateTime<Utc>) -> Recorded {
        Recorded {
            fingerprint: idem.fingerprint.clone(),
            reply: Reply {
                status_code: 201,
                body: b"{}".to_vec(),
                location: None,
            },
            expires_at,
        }
    }

    #[test]
    fn a_kept_record_answers_until_its_own_expiry_and_only_for_its_key() {
        let cache = RecordCache::default();
        let live = request("live");
        cache.put(&live, record(&live, now() + chrono::Duration::hours(1)));
        assert_eq!(cache.get(&live).map(|r| r.reply.status_code), Some(201));
        assert!(cache.get(&request("other")).is_none());

        let expired = request("expired");
        cache.put(
            &expired,
            record(&expired, now() - chrono::Duration::seconds(1)),
        );
        assert!(cache.get(&expired).is_none(), "never past expires_at");
        assert!(cache.get(&expired).is_none(), "and removed");
    }
}
