//! The matrix cache under faults (issue #12): a corrupt stored payload, a foreign config under a key, a
//! corrupt Redis entry, and a Redis stopped mid-test (a test-owned `redis-server` on its own port).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use updog_tests::{TestApp, backends, redis_url};

use crate::matrices::{
    config, create, expected_values, invalidate, read, redis_of, stats, values_of,
};

#[tokio::test]
async fn a_corrupt_stored_payload_or_a_foreign_config_is_never_served() {
    for backend in backends() {
        // The in-process tier, so that the database is read after the first tier is bypassed below.
        let app = TestApp::spawn_configured(backend, 0, None).await;
        let fund = app.fund("Fund I").await;
        let (_, created) = create(&app, fund, &config(3)).await;
        let key = created["matrix_key"].as_str().unwrap().to_owned();
        // Another process (an empty in-process tier) reads from the database.
        let other = app.another_process().await;
        let read_other = |query: &'static str| {
            let url = format!("{other}/api/v1/scenario-matrices/{key}{query}");
            let (client, admin) = (app.client.clone(), app.admin.clone());
            async move {
                let r = client.get(url).bearer_auth(admin).send().await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }
        };
        corrupt_stored_payload(&app, backend, &key).await;
        let (status, repaired) = read_other("?include=matrix").await;
        assert_eq!(status, StatusCode::OK, "[{backend:?}] {repaired}");
        assert_eq!(
            values_of(&repaired),
            expected_values(fund, 3, 2000),
            "[{backend:?}] regenerated, not decoded from garbage"
        );
        assert_eq!(repaired["version"], 2, "[{backend:?}] the row was repaired");

        // A stored row whose config is not the request's (a collision, or a key-version bug): the
        // request gets its own matrix, generated, and the row is replaced.
        app.db
            .exec(&format!(
                "UPDATE scenario_matrices SET config = '{{\"key_version\": 0}}' WHERE matrix_key = '{key}'"
            ))
            .await
            .unwrap();
        // A process that has cached nothing yet, so that the request reaches the database.
        let third = app.another_process().await;
        let r = app
            .client
            .post(format!("{third}/api/v1/funds/{fund}/scenario-matrices"))
            .bearer_auth(&app.admin)
            .json(&config(3))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "[{backend:?}]");
        let stats_of_third: Value = app
            .client
            .get(format!("{third}/api/v1/cache/stats"))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(stats_of_third["collisions"], 1, "{stats_of_third}");
        let rows = app
            .db
            .query(&format!(
                "SELECT version FROM scenario_matrices WHERE matrix_key = '{key}'"
            ))
            .await;
        assert_eq!(rows.len(), 1);
        let version: i64 = rows[0].try_get("", "version").unwrap();
        assert_eq!(version, 3, "[{backend:?}] the foreign row was replaced");
    }
}

#[tokio::test]
async fn a_corrupt_or_foreign_redis_entry_is_replaced_not_served() {
    let Some(_) = redis_url() else {
        eprintln!("TEST_REDIS_URL is not set: this test needs Redis (CI sets it)");
        return;
    };
    let app = TestApp::spawn(service::Backend::Sqlite).await;
    let fund = app.fund("Fund I").await;
    let (_, created) = create(&app, fund, &config(4)).await;
    let key = created["matrix_key"].as_str().unwrap().to_owned();
    let (mut conn, prefix) = redis_of(&app).await.unwrap();
    let redis_key = format!("{prefix}{key}");
    let expected = expected_values(fund, 4, 2000);

    // Not a hash at all.
    redis::cmd("SET")
        .arg(&redis_key)
        .arg("garbage")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    answers_the_right_values(&app, &key, &expected).await;
    // Warmed again with the right entry.
    let kind: String = redis::cmd("TYPE")
        .arg(&redis_key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(kind, "hash");

    // Bytes flipped: zstd's checksum catches it.
    let mut bytes: Vec<u8> = redis::cmd("HGET")
        .arg(&redis_key)
        .arg("matrix")
        .query_async(&mut conn)
        .await
        .unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    redis::cmd("HSET")
        .arg(&redis_key)
        .arg("matrix")
        .arg(bytes)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    answers_the_right_values(&app, &key, &expected).await;

    // Metadata whose config is another's (a collision): not served, counted.
    let meta: String = redis::cmd("HGET")
        .arg(&redis_key)
        .arg("meta")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut meta: Value = serde_json::from_str(&meta).unwrap();
    meta["config"]["seed"] = json!("5");
    redis::cmd("HSET")
        .arg(&redis_key)
        .arg("meta")
        .arg(meta.to_string())
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let (status, again) = create(&app, fund, &config(4)).await;
    assert_eq!(status, StatusCode::OK, "served from the database: {again}");
    assert_eq!(again["config"]["seed"], "4");
    let s = stats(&app).await;
    assert!(s["first_tier"]["corrupt"].as_u64().unwrap() >= 2, "{s}");
    assert!(s["collisions"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["generations"]["count"], 1, "{s}");
}

/// A `redis-server` owned by the test, on its own port (never the shared service).
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let server = Self { port, child };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replaces the stored payload of the matrix `key` by the first bytes of a zstd frame and nothing
/// more: a payload that no longer decodes.
async fn corrupt_stored_payload(app: &TestApp, backend: service::Backend, key: &str) {
    let garbage = if backend == service::Backend::Postgres {
        "'\\x28b52ffd0000'::bytea"
    } else {
        "X'28B52FFD0000'"
    };
    app.db
        .exec(&format!(
            "UPDATE scenario_matrices SET matrix = {garbage} WHERE matrix_key = '{key}'"
        ))
        .await
        .unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_redis_stopped_mid_test_costs_no_answer_and_is_used_again_once_back() {
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("redis-server is not installed: this test needs it (CI installs it)");
        return;
    }
    let port = free_port();
    let own = OwnRedis::start(port);
    let app = TestApp::spawn_configured(service::Backend::Sqlite, 0, Some(own.url())).await;
    let fund = app.fund("Fund I").await;
    let (status, created) = create(&app, fund, &config(6)).await;
    assert_eq!(status, StatusCode::CREATED);
    let key = created["matrix_key"].as_str().unwrap().to_owned();
    let hits = |s: &Value| s["first_tier"]["hits"].as_u64().unwrap();
    let before = hits(&stats(&app).await);
    assert_eq!(read(&app, &key, true).await.0, StatusCode::OK);
    assert_eq!(hits(&stats(&app).await), before + 1, "served from Redis");

    println!("stopping the test's redis-server on port {port}");
    own.stop();
    answers_the_right_values(&app, &key, &expected_values(fund, 6, 2000)).await;
    let (status, other) = create(&app, fund, &config(8)).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    // A burst of 24 concurrent reads and creates while Redis is down: every answer correct.
    let expected = expected_values(fund, 6, 2000);
    let burst = (0..24u64).map(|i| {
        let (app, key, expected) = (&app, &key, &expected);
        async move {
            if i % 3 == 0 {
                let (status, body) = create(app, fund, &config(100 + i)).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                assert_eq!(body["config"]["seed"], (100 + i).to_string());
            } else {
                let (status, body) = read(app, key, i % 3 == 1).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                if i % 3 == 1 {
                    assert_eq!(&values_of(&body), expected);
                }
            }
        }
    });
    futures::future::join_all(burst).await;
    println!("24 concurrent reads and creates answered correctly while Redis was down");
    let (status, invalidated) = invalidate(&app, json!({"matrix_key": key})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(invalidated["first_tier_cleared"], false, "{invalidated}");
    let s = stats(&app).await;
    assert!(s["first_tier"]["errors"].as_u64().unwrap() >= 1, "{s}");
    let ready: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["redis"], "down");

    println!("restarting it");
    let own = OwnRedis::start(port);
    tokio::time::sleep(service::cache::BACKOFF + Duration::from_millis(200)).await;
    let other_key = other["matrix_key"].as_str().unwrap();
    assert_eq!(read(&app, other_key, true).await.0, StatusCode::OK); // from PostgreSQL, warms Redis
    let before = hits(&stats(&app).await);
    assert_eq!(read(&app, other_key, true).await.0, StatusCode::OK);
    assert_eq!(
        hits(&stats(&app).await),
        before + 1,
        "Redis is used again once it is back"
    );
    own.stop();
}

/// A read of the matrix with its values answers 200 and exactly `expected`, whatever the first tier held.
async fn answers_the_right_values(app: &TestApp, key: &str, expected: &[f32]) {
    let (status, got) = read(app, key, true).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(values_of(&got), expected);
}

/// Issue #27: a matrix stored under key version 1 (before the calibrated generator) stays readable by
/// its key and, when its payload is unreadable, is regenerated by version 1's generator, bit for bit;
/// the same config asked now gets a new key, of version 2, and calibrated values.
#[tokio::test]
async fn a_version_1_matrix_stays_readable_and_is_regenerated_by_its_own_generator() {
    use service::matrices::{
        GeneratorKind, MatrixConfig, canonical_config, generate, generate_with, store,
    };
    for backend in backends() {
        let app = TestApp::spawn_configured(backend, 0, None).await;
        let fund = app.fund("Fund I").await;
        let config = MatrixConfig::sample(fund, 500, 5);
        let mut v1 = canonical_config(&config);
        v1["key_version"] = json!(1);
        let v1_key = service::canonical::canonical_sha256(&v1).unwrap();
        let v1_values = generate_with(&config, GeneratorKind::PowerLaw).values;
        // Stored as version 1 wrote it, then its payload spoiled.
        store::insert(
            app.db.conn(),
            &v1_key,
            &config,
            &v1,
            Some(store::Payload::encode(&v1_values).unwrap()),
        )
        .await
        .unwrap()
        .expect("stored");
        let (_, read_back) = read(&app, &v1_key, true).await;
        assert_eq!(
            values_of(&read_back),
            v1_values,
            "[{backend:?}] readable by its key"
        );
        corrupt_stored_payload(&app, backend, &v1_key).await;
        let other = app.another_process().await;
        let regenerated: Value = app
            .client
            .get(format!(
                "{other}/api/v1/scenario-matrices/{v1_key}?include=matrix"
            ))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            values_of(&regenerated),
            v1_values,
            "regenerated by version 1's generator"
        );
        // The same config asked today: version 2's key and the calibrated values.
        let body = json!({
            "taxonomy_version": "v1", "num_scenarios": 500, "seed": 5,
            "buckets": [
                {"name": "seed", "capital_allocation_pct": "40", "moic_median": "1.5", "moic_p90": "6"},
                {"name": "series_a", "capital_allocation_pct": "60", "moic_median": "2", "moic_p90": "4"},
            ],
            "correlation_weights": {"macro": "0.3", "systematic": "0.3", "idiosyncratic": "0.4"},
        });
        let (status, fresh) = create(&app, fund, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{fresh}");
        assert_ne!(fresh["matrix_key"], v1_key.as_str());
        assert_eq!(fresh["config"]["key_version"], 2);
        let (_, fresh_values) = read(&app, fresh["matrix_key"].as_str().unwrap(), true).await;
        assert_eq!(values_of(&fresh_values), generate(&config).values);
    }
}
