//! The first tier of the matrix cache (SPEC §9): Redis when configured — a hash
//! `scenario-matrix:v1:<key>` holding `meta` (the [`MatrixRecord`] as JSON), `matrix` (the values,
//! uncompressed little-endian `f32`) and `xxh3` (the XXH3-64 of `matrix`, so that a changed byte is a
//! miss, not another number), with a 24-hour TTL — otherwise an in-process `moka` LRU bounded by bytes.
//!
//! Nothing here is an error to the caller: an unreachable Redis is [`Found::Unavailable`], an entry that
//! cannot be read is [`Found::Corrupt`], and both send the lookup on to the database.

use std::sync::Arc;

use moka::sync::Cache;

use super::record::{Entry, MatrixRecord};
use crate::cache::Redis;

/// The Redis key prefix; the version changes with the value's format.
pub const PREFIX: &str = "scenario-matrix:v1:";
/// How long Redis keeps an entry.
pub const TTL_SECS: u64 = 24 * 60 * 60;
/// Default bound of the in-process tier, bytes.
pub const DEFAULT_MEMORY_BYTES: u64 = 256 * 1024 * 1024;
/// Keys per `UNLINK` and per `SCAN` step.
const BATCH: usize = 500;

/// What a first-tier read found.
#[derive(Debug)]
pub enum Found<T> {
    Hit(T),
    Miss,
    /// Redis did not answer in time or at all.
    Unavailable,
    /// The entry exists but cannot be read (not a hash, missing fields, bad metadata).
    Corrupt(String),
}

#[derive(Clone)]
pub enum FirstTier {
    Redis {
        redis: Redis,
        /// Every key's prefix: [`PREFIX`], after a namespace when one is configured (deployments with
        /// different databases sharing one Redis must not share entries).
        prefix: Arc<str>,
    },
    Memory(Cache<String, Entry>),
}

/// XXH3-64 of the values, hex: cheap enough for every hit (tens of microseconds for 10,000 × 10).
fn checksum(raw: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(raw))
}

fn parse_record(key: &str, meta: &[u8]) -> Result<MatrixRecord, String> {
    let record: MatrixRecord =
        serde_json::from_slice(meta).map_err(|e| format!("metadata: {e}"))?;
    if record.matrix_key != key {
        return Err(format!("metadata of {}", record.matrix_key));
    }
    Ok(record)
}

impl FirstTier {
    /// The Redis tier, its keys under `namespace` if one is given.
    pub fn redis(redis: Redis, namespace: Option<&str>) -> Self {
        let prefix = match namespace {
            Some(ns) => format!("{ns}:{PREFIX}"),
            None => PREFIX.to_owned(),
        };
        Self::Redis {
            redis,
            prefix: prefix.into(),
        }
    }

    fn redis_key(prefix: &str, matrix_key: &str) -> String {
        format!("{prefix}{matrix_key}")
    }

    /// The in-process tier, holding at most `max_bytes` of compressed matrices.
    pub fn memory(max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            // The bytes plus a rough kilobyte for the record.
            .weigher(|_key: &String, entry: &Entry| {
                u32::try_from(entry.raw.len() + 1024).unwrap_or(u32::MAX)
            })
            .build();
        Self::Memory(cache)
    }

    /// `redis` or `memory`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Redis { .. } => "redis",
            Self::Memory(_) => "memory",
        }
    }

    /// The compressed bytes the in-process tier holds (Redis reports its own memory).
    pub fn memory_bytes(&self) -> Option<u64> {
        match self {
            Self::Redis { .. } => None,
            Self::Memory(cache) => {
                cache.run_pending_tasks();
                Some(cache.weighted_size())
            }
        }
    }

    /// The record of `key`, without its bytes.
    pub async fn record(&self, key: &str) -> Found<MatrixRecord> {
        match self {
            Self::Memory(cache) => match cache.get(key) {
                Some(entry) => Found::Hit(entry.record),
                None => Found::Miss,
            },
            Self::Redis { redis, prefix } => {
                let k = Self::redis_key(prefix, key);
                let got = redis
                    .call(|mut c| async move {
                        redis::cmd("HGET")
                            .arg(&k)
                            .arg("meta")
                            .query_async::<Option<Vec<u8>>>(&mut c)
                            .await
                    })
                    .await;
                match got {
                    Ok(None) => Found::Miss,
                    Ok(Some(meta)) => match parse_record(key, &meta) {
                        Ok(record) => Found::Hit(record),
                        Err(why) => Found::Corrupt(why),
                    },
                    Err(e) if e.is_reply_error() => Found::Corrupt(e.to_string()),
                    Err(_) => Found::Unavailable,
                }
            }
        }
    }

    /// The record and bytes of `key`.
    pub async fn entry(&self, key: &str) -> Found<Entry> {
        match self {
            Self::Memory(cache) => match cache.get(key) {
                Some(entry) => Found::Hit(entry),
                None => Found::Miss,
            },
            Self::Redis { redis, prefix } => {
                let k = Self::redis_key(prefix, key);
                let got = redis
                    .call(|mut c| async move {
                        redis::cmd("HMGET")
                            .arg(&k)
                            .arg("meta")
                            .arg("matrix")
                            .arg("xxh3")
                            .query_async::<(Option<Vec<u8>>, Option<Vec<u8>>, Option<String>)>(
                                &mut c,
                            )
                            .await
                    })
                    .await;
                match got {
                    Ok((None, None, None)) => Found::Miss,
                    Ok((Some(meta), Some(raw), Some(sum))) => {
                        if sum != checksum(&raw) {
                            return Found::Corrupt("the values do not match their checksum".into());
                        }
                        match parse_record(key, &meta) {
                            Ok(record) => Found::Hit(Entry {
                                record,
                                raw: Arc::new(raw),
                            }),
                            Err(why) => Found::Corrupt(why),
                        }
                    }
                    Ok(_) => Found::Corrupt("a field is missing".into()),
                    Err(e) if e.is_reply_error() => Found::Corrupt(e.to_string()),
                    Err(_) => Found::Unavailable,
                }
            }
        }
    }

    /// Stores `entry` (replacing whatever the key held); `false` if Redis could not take it.
    pub async fn put(&self, entry: &Entry) -> bool {
        match self {
            Self::Memory(cache) => {
                cache.insert(entry.record.matrix_key.clone(), entry.clone());
                true
            }
            Self::Redis { redis, prefix } => {
                let Ok(meta) = serde_json::to_vec(&entry.record) else {
                    return false;
                };
                let k = Self::redis_key(prefix, &entry.record.matrix_key);
                let raw = entry.raw.clone();
                let sum = checksum(&raw);
                redis
                    .call(|mut c| async move {
                        redis::pipe()
                            .atomic()
                            .cmd("DEL")
                            .arg(&k)
                            .ignore()
                            .cmd("HSET")
                            .arg(&k)
                            .arg("meta")
                            .arg(meta)
                            .arg("matrix")
                            .arg(raw.as_slice())
                            .arg("xxh3")
                            .arg(sum)
                            .ignore()
                            .cmd("EXPIRE")
                            .arg(&k)
                            .arg(TTL_SECS)
                            .ignore()
                            .query_async::<()>(&mut c)
                            .await
                    })
                    .await
                    .is_ok()
            }
        }
    }

    /// Removes the entries of `keys`; `false` if Redis could not be reached.
    pub async fn remove(&self, keys: &[String]) -> bool {
        match self {
            Self::Memory(cache) => {
                for key in keys {
                    cache.invalidate(key);
                }
                true
            }
            Self::Redis { redis, prefix } => {
                for chunk in keys.chunks(BATCH) {
                    let names: Vec<String> =
                        chunk.iter().map(|k| Self::redis_key(prefix, k)).collect();
                    let done = redis
                        .call(|mut c| async move {
                            redis::cmd("UNLINK")
                                .arg(&names)
                                .query_async::<u64>(&mut c)
                                .await
                        })
                        .await;
                    if done.is_err() {
                        return false;
                    }
                }
                true
            }
        }
    }

    /// Removes every matrix entry: `SCAN` over the prefix (never `KEYS`, which blocks Redis), `UNLINK`
    /// what it finds. `false` if Redis could not be reached.
    pub async fn clear(&self) -> bool {
        match self {
            Self::Memory(cache) => {
                cache.invalidate_all();
                true
            }
            Self::Redis { redis, prefix } => {
                let pattern = format!("{prefix}*");
                let mut cursor: u64 = 0;
                loop {
                    let pattern = pattern.clone();
                    let step = redis
                        .call(|mut c| async move {
                            redis::cmd("SCAN")
                                .arg(cursor)
                                .arg("MATCH")
                                .arg(&pattern)
                                .arg("COUNT")
                                .arg(BATCH)
                                .query_async::<(u64, Vec<String>)>(&mut c)
                                .await
                        })
                        .await;
                    let Ok((next, found)) = step else {
                        return false;
                    };
                    if !found.is_empty() {
                        let done = redis
                            .call(|mut c| async move {
                                redis::cmd("UNLINK")
                                    .arg(&found)
                                    .query_async::<u64>(&mut c)
                                    .await
                            })
                            .await;
                        if done.is_err() {
                            return false;
                        }
                    }
                    if next == 0 {
                        return true;
                    }
                    cursor = next;
                }
            }
        }
    }
}
