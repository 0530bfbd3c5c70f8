//! The scenario-matrix benchmarks of SPEC §16 (issue #12), each a ratio or a time measured in one run:
//!
//! 1. generating a 10,000 × 10 matrix (target: under 100 ms, release build);
//! 2. a first-tier hit from Redis — `HMGET` of the entry, its checksum, the key/config check and the
//!    bytes read into `f32`s — against a raw Redis `GET` of the same value bytes (target: within 2×).
//!
//! Run with `bench/matrices.sh` (release build, Redis at `BENCH_REDIS_URL` or 127.0.0.1:6379).

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use service::cache::Redis;
use service::matrices::{
    Bucket, Entry, FirstTier, Matrices, MatrixConfig, MatrixRecord, canonical_config, generate,
    matrix_key, store::Payload,
};

fn config(scenarios: u32, buckets: usize) -> MatrixConfig {
    let share = 100.0 / buckets as f64;
    MatrixConfig {
        buckets: (0..buckets)
            .map(|i| Bucket {
                name: format!("bucket_{i:02}"),
                capital_allocation_pct: share,
                moic_median: 1.0 + i as f64 * 0.25,
                moic_p90: 3.0 + i as f64,
                moic_cap: None,
            })
            .collect(),
        ..MatrixConfig::sample(1, scenarios, 2026)
    }
}

/// Median, p95 and min of `samples`, in microseconds.
fn summary(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| us(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    (at(0.5), at(0.95), us(samples[0]))
}

async fn time_n<F, Fut>(n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        f().await;
        out.push(started.elapsed());
    }
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);

    // 1. Generation.
    let c = config(10_000, 10);
    for _ in 0..3 {
        std::hint::black_box(generate(&c));
    }
    let mut gen_times: Vec<Duration> = (0..30)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(generate(&c));
            started.elapsed()
        })
        .collect();
    let (median, p95, min) = summary(&mut gen_times);
    println!(
        "generate 10,000 x 10: median {:.1} ms, p95 {:.1} ms, min {:.1} ms (target < 100 ms)",
        median / 1e3,
        p95 / 1e3,
        min / 1e3
    );
    let values = generate(&c).values;
    let started = Instant::now();
    let payload = Payload::encode(&values).expect("encode");
    println!(
        "encode (zstd level 3): {:.1} ms, {} bytes -> {} bytes",
        started.elapsed().as_secs_f64() * 1e3,
        payload.raw_bytes,
        payload.bytes.len()
    );

    let mut decodes: Vec<Duration> = (0..200)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(
                service::matrices::codec::decode("zstd", &payload.bytes, 10_000, 10)
                    .expect("decode"),
            );
            started.elapsed()
        })
        .collect();
    let (median, _, _) = summary(&mut decodes);
    println!("decode alone (zstd + checks): median {median:.0} us");

    // 2. A Redis hit against a raw GET of the same bytes.
    let redis = Redis::new(&url).expect("a Redis URL");
    let namespace = format!("bench-{}", std::process::id());
    let tier = FirstTier::redis(redis.clone(), Some(&namespace));
    let matrices = Matrices::new(tier.clone());
    let key = matrix_key(&c).expect("key");
    let now = chrono::Utc::now();
    let record = MatrixRecord {
        id: uuid::Uuid::now_v7(),
        matrix_key: key.clone(),
        fund_id: 1,
        taxonomy_version: "bench".into(),
        matrix_type: "moic".into(),
        status: service::entity::scenario_matrix::MatrixStatus::Complete,
        num_scenarios: 10_000,
        bucket_count: 10,
        config: canonical_config(&c),
        compression_codec: Some(service::matrices::codec::CODEC.into()),
        matrix_layout: Some(service::matrices::codec::LAYOUT.into()),
        raw_bytes: Some(payload.raw_bytes),
        stored_bytes: Some(payload.bytes.len() as i64),
        error_message: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let entry = Entry::new(record, &values);
    assert!(tier.put(&entry).await, "Redis at {url} takes the entry");
    let raw_key = format!("{namespace}:raw");
    let bytes = entry.raw.clone();
    redis
        .call(|mut c| async move {
            redis::cmd("SET")
                .arg(&raw_key)
                .arg(bytes.as_slice())
                .query_async::<()>(&mut c)
                .await
        })
        .await
        .expect("SET the raw bytes");
    let raw_key = format!("{namespace}:raw");

    let raw_get = || {
        let (redis, raw_key) = (redis.clone(), raw_key.clone());
        async move {
            let got: Vec<u8> = redis
                .call(|mut c| async move {
                    redis::cmd("GET")
                        .arg(&raw_key)
                        .query_async::<Vec<u8>>(&mut c)
                        .await
                })
                .await
                .expect("GET");
            std::hint::black_box(got);
        }
    };
    let hit = || {
        let (matrices, key) = (&matrices, key.clone());
        async move {
            let (_, values) = matrices.cached_entry(&key).await.expect("a first-tier hit");
            assert_eq!(values.len(), 100_000);
            std::hint::black_box(values);
        }
    };
    // Where a hit's time goes.
    let fetch = || {
        let (tier, key) = (&tier, key.clone());
        async move {
            match tier.entry(&key).await {
                service::matrices::first_tier::Found::Hit(e) => {
                    std::hint::black_box(e);
                }
                _ => panic!("a hit"),
            }
        }
    };
    let mut fetches = time_n(500, fetch).await;
    let mut reads: Vec<Duration> = (0..500)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(entry.values().expect("values"));
            started.elapsed()
        })
        .collect();
    let mut hashes: Vec<Duration> = (0..500)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(
                service::canonical::canonical_sha256(&entry.record.config).unwrap(),
            );
            started.elapsed()
        })
        .collect();
    println!(
        "  of a hit: HMGET + checksum + metadata {:.0} us, bytes to checked f32s {:.0} us, config hash {:.0} us (medians)",
        summary(&mut fetches).0,
        summary(&mut reads).0,
        summary(&mut hashes).0
    );

    // Warm-up, then raw and hit interleaved request by request, so that the machine's drift (its speed
    // varies by 2x between minutes) falls on both alike.
    time_n(200, raw_get).await;
    time_n(200, hit).await;
    let (mut raws, mut hits) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        raws.extend(time_n(1, raw_get).await);
        hits.extend(time_n(1, hit).await);
    }
    let (r, r95, _) = summary(&mut raws);
    let (h, h95, _) = summary(&mut hits);
    println!(
        "raw GET of the same {} value bytes: median {r:.0} us (p95 {r95:.0})",
        entry.raw.len()
    );
    println!("first-tier hit (HMGET + checksum + checks + f32s): median {h:.0} us (p95 {h95:.0})");
    println!(
        "ratio hit / raw GET, {rounds} interleaved pairs (median; target <= 2.0): {:.2} (p95: {:.2})",
        h / r,
        h95 / r95
    );
    let _ = tier.clear().await;
    let _ = redis
        .call(|mut c| async move {
            redis::cmd("DEL")
                .arg(format!("{namespace}:raw"))
                .query_async::<()>(&mut c)
                .await
        })
        .await;
    println!("{}", support::rss::peak_rss());
}
