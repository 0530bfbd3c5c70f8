//! Scenario matrices and their two-tier cache (SPEC §9, §12; issue #12): generated once, served from the
//! nearest tier, surviving a Redis outage and corruption, invalidated in both tiers, one row across
//! processes.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use service::entity::api_key::Role;
use service::matrices::{MatrixConfig, generate};
use updog_tests::{TestApp, backends};

/// A 2,000 × 2 config; its buckets deliberately not in name order.
pub(crate) fn config(seed: u64) -> Value {
    json!({
        "taxonomy_version": "v1",
        "num_scenarios": 2000,
        "seed": seed,
        "buckets": [
            {"name": "series_a", "capital_allocation_pct": "60", "moic_median": "2", "moic_p90": "4"},
            {"name": "seed", "capital_allocation_pct": "40", "moic_median": "1.5", "moic_p90": "6"},
        ],
        "correlation_weights": {"macro": "0.3", "systematic": "0.3", "idiosyncratic": "0.4"},
    })
}

/// The values the generator gives for [`config`] of `fund_id`, row-major, columns `seed`, `series_a`.
pub(crate) fn expected_values(fund_id: i64, seed: u64, num_scenarios: u32) -> Vec<f32> {
    generate(&MatrixConfig::sample(fund_id, num_scenarios, seed)).values
}

/// The values of a `?include=matrix` answer, row-major.
pub(crate) fn values_of(body: &Value) -> Vec<f32> {
    body["matrix"]
        .as_array()
        .expect("matrix rows")
        .iter()
        .flat_map(|row| row.as_array().expect("a row").clone())
        .map(|v| v.as_f64().expect("a number") as f32)
        .collect()
}

pub(crate) async fn create(app: &TestApp, fund: i64, body: &Value) -> (StatusCode, Value) {
    let r = app
        .post(
            &format!("/api/v1/funds/{fund}/scenario-matrices"),
            &app.admin,
            body,
            None,
        )
        .await;
    (r.status(), r.json().await.expect("JSON"))
}

pub(crate) async fn read(app: &TestApp, key: &str, include: bool) -> (StatusCode, Value) {
    let query = if include { "?include=matrix" } else { "" };
    let r = app
        .get_as(
            &format!("/api/v1/scenario-matrices/{key}{query}"),
            &app.admin,
        )
        .await;
    (r.status(), r.json().await.expect("JSON"))
}

pub(crate) async fn stats(app: &TestApp) -> Value {
    let r = app.get_as("/api/v1/cache/stats", &app.admin).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

pub(crate) async fn invalidate(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let r = app
        .post("/api/v1/cache/invalidate", &app.admin, &body, None)
        .await;
    (r.status(), r.json().await.expect("JSON"))
}

/// A direct connection to the Redis the app uses, and the app's key of a matrix.
pub(crate) async fn redis_of(app: &TestApp) -> Option<(redis::aio::MultiplexedConnection, String)> {
    let url = app.config.redis_url.as_deref()?;
    let conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test Redis");
    let prefix = format!(
        "{}:scenario-matrix:v1:",
        app.config.cache_namespace.as_deref().unwrap()
    );
    Some((conn, prefix))
}

pub(crate) async fn redis_exists(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key)
        .query_async::<i64>(conn)
        .await
        .unwrap()
        == 1
}

#[tokio::test]
async fn a_config_is_generated_once_then_served_from_the_nearest_tier() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        let (status, created) = create(&app, fund, &config(42)).await;
        assert_eq!(status, StatusCode::CREATED, "[{backend:?}] {created}");
        let key = created["matrix_key"].as_str().unwrap().to_owned();
        assert_eq!(key.len(), 64);
        assert_eq!(created["status"], "complete");
        assert_eq!(created["buckets"], json!(["seed", "series_a"]));
        assert_eq!(created["compression_codec"], "zstd");
        assert_eq!(created["matrix_layout"], "row_major_f32_le");
        assert_eq!(created["raw_bytes"], 2000 * 2 * 4);
        assert_eq!(created["config"]["seed"], "42");
        assert_eq!(created["config"]["buckets"][0]["moic_p90"], "6.00000");
        assert!(created.get("matrix").is_none());

        // The same config with its buckets reordered and noise in the 6th decimal: the same matrix.
        let mut same = config(42);
        same["buckets"] = json!([
            {"name": "seed", "capital_allocation_pct": "40.000001", "moic_median": "1.5", "moic_p90": "6"},
            {"name": "series_a", "capital_allocation_pct": "59.999999", "moic_median": "2", "moic_p90": "4"},
        ]);
        let (status, again) = create(&app, fund, &same).await;
        assert_eq!(status, StatusCode::OK, "[{backend:?}] {again}");
        assert_eq!(again["matrix_key"], key.as_str());
        assert_eq!(again["id"], created["id"]);

        let (status, read_back) = read(&app, &key, true).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read_back["buckets"], json!(["seed", "series_a"]));
        assert_eq!(read_back["matrix"].as_array().unwrap().len(), 2000);
        assert_eq!(read_back["matrix"][0].as_array().unwrap().len(), 2);
        assert_eq!(
            values_of(&read_back),
            expected_values(fund, 42, 2000),
            "[{backend:?}] the stored values are the generator's"
        );
        let (status, meta) = read(&app, &key, false).await;
        assert_eq!(status, StatusCode::OK);
        assert!(meta.get("matrix").is_none());

        assert_eq!(app.db.count("scenario_matrices").await, 1);
        let s = stats(&app).await;
        assert_eq!(s["generations"]["count"], 1, "[{backend:?}] {s}");
        assert!(
            s["first_tier"]["hits"].as_u64().unwrap() >= 2,
            "[{backend:?}] the repeat and the reads came from the first tier: {s}"
        );
        assert_eq!(s["database"]["matrices"], 1);
        assert_eq!(
            s["database"]["bytes"], created["stored_bytes"],
            "[{backend:?}] {s}"
        );
        assert!(s["latency"]["generated"]["count"].as_u64().unwrap() >= 1);
    }
}

#[tokio::test]
async fn bad_configs_are_refused_naming_each_field_and_nothing_is_written() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        let with = |pointer: &str, value: Value| {
            let mut body = config(1);
            *body.pointer_mut(pointer).unwrap() = value;
            body
        };
        let fifty_one: Vec<Value> = (0..51)
            .map(|i| json!({"name": format!("b{i:02}"), "capital_allocation_pct": "1", "moic_median": "1", "moic_p90": "2"}))
            .collect();
        let cases = [
            (
                with("/buckets/0/capital_allocation_pct", json!("61")),
                "/buckets",
            ),
            (
                with("/buckets/1/moic_p90", json!("1.5")),
                "/buckets/1/moic_p90",
            ),
            (
                with("/correlation_weights/macro", json!("0.5")),
                "/correlation_weights",
            ),
            (with("/num_scenarios", json!(0)), "/num_scenarios"),
            (with("/num_scenarios", json!(100_001)), "/num_scenarios"),
            (with("/buckets", json!(fifty_one)), "/buckets"),
            (
                with("/buckets/1/name", json!("series_a")),
                "/buckets/1/name",
            ),
            (with("/seed", json!(-1)), "/seed"),
            (with("/seed", json!(1.5)), "/seed"),
            (
                with("/buckets/0/moic_median", json!("2e3")),
                "/buckets/0/moic_median",
            ),
        ];
        for (body, pointer) in cases {
            let (status, problem) = create(&app, fund, &body).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "[{backend:?}] {pointer}: {problem}"
            );
            let pointers: Vec<&str> = problem["errors"]
                .as_array()
                .unwrap_or_else(|| panic!("errors in {problem}"))
                .iter()
                .map(|e| e["pointer"].as_str().unwrap())
                .collect();
            assert!(
                pointers.contains(&pointer),
                "[{backend:?}] {pointer} named in {problem}"
            );
        }
        assert_eq!(app.db.count("scenario_matrices").await, 0);
        assert_eq!(stats(&app).await["generations"]["count"], 0);
    }
}

#[tokio::test]
async fn another_funds_matrix_is_not_found_and_its_fund_is_forbidden() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (mine, theirs) = (app.fund("Mine").await, app.fund("Theirs").await);
        let (_, created) = create(&app, theirs, &config(7)).await;
        let key = created["matrix_key"].as_str().unwrap();
        let writer = app.key(Role::Writer, &[mine]).await;
        let got = app
            .get_as(&format!("/api/v1/scenario-matrices/{key}"), &writer)
            .await;
        assert_eq!(got.status(), StatusCode::NOT_FOUND, "[{backend:?}]");
        let posted = app
            .post(
                &format!("/api/v1/funds/{theirs}/scenario-matrices"),
                &writer,
                &config(7),
                None,
            )
            .await;
        assert_eq!(posted.status(), StatusCode::FORBIDDEN, "[{backend:?}]");
        let invalidated = app
            .post(
                "/api/v1/cache/invalidate",
                &writer,
                &json!({"matrix_key": key}),
                None,
            )
            .await;
        assert_eq!(invalidated.status(), StatusCode::NOT_FOUND, "[{backend:?}]");
        let all = app
            .post(
                "/api/v1/cache/invalidate",
                &writer,
                &json!({"all": true}),
                None,
            )
            .await;
        assert_eq!(all.status(), StatusCode::FORBIDDEN, "[{backend:?}]");
        let stats = app.get_as("/api/v1/cache/stats", &writer).await;
        assert_eq!(stats.status(), StatusCode::FORBIDDEN, "[{backend:?}]");
        // The other fund's matrix is untouched.
        assert_eq!(read(&app, key, false).await.1["status"], "complete");
    }
}

#[tokio::test]
async fn invalidation_clears_both_tiers_and_a_create_regenerates_the_row() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        let (_, first) = create(&app, fund, &config(1)).await;
        let (_, second) = create(&app, fund, &config(2)).await;
        let key = first["matrix_key"].as_str().unwrap().to_owned();
        let mut redis = redis_of(&app).await;
        if let Some((conn, prefix)) = &mut redis {
            assert!(redis_exists(conn, &format!("{prefix}{key}")).await);
        }

        let (status, outcome) = invalidate(&app, json!({"matrix_key": key})).await;
        assert_eq!(status, StatusCode::OK, "[{backend:?}] {outcome}");
        assert_eq!(outcome["invalidated"], 1);
        assert_eq!(outcome["first_tier_cleared"], true);
        if let Some((conn, prefix)) = &mut redis {
            assert!(!redis_exists(conn, &format!("{prefix}{key}")).await);
        }
        let (_, meta) = read(&app, &key, true).await;
        assert_eq!(meta["status"], "invalidated", "[{backend:?}] {meta}");
        assert!(meta.get("matrix").is_none());
        assert!(meta["stored_bytes"].is_null());

        // A create regenerates it into the same row, one version on.
        let (status, regenerated) = create(&app, fund, &config(1)).await;
        assert_eq!(status, StatusCode::CREATED, "[{backend:?}] {regenerated}");
        assert_eq!(regenerated["id"], first["id"]);
        assert_eq!(regenerated["version"], 3);
        assert_eq!(app.db.count("scenario_matrices").await, 2);
        let (_, values) = read(&app, &key, true).await;
        assert_eq!(values_of(&values), expected_values(fund, 1, 2000));

        // By fund: both; then all: nothing left to invalidate.
        let (status, by_fund) = invalidate(&app, json!({"fund_id": fund})).await;
        assert_eq!(
            (status, by_fund["invalidated"].clone()),
            (StatusCode::OK, json!(2))
        );
        for m in [&first, &second] {
            let k = m["matrix_key"].as_str().unwrap();
            assert_eq!(read(&app, k, false).await.1["status"], "invalidated");
            if let Some((conn, prefix)) = &mut redis {
                assert!(!redis_exists(conn, &format!("{prefix}{k}")).await);
            }
        }
        assert_eq!(create(&app, fund, &config(2)).await.0, StatusCode::CREATED);
        let (status, all) = invalidate(&app, json!({"all": true})).await;
        assert_eq!(
            (status, all["invalidated"].clone()),
            (StatusCode::OK, json!(1))
        );

        // Exactly one target.
        for body in [
            json!({}),
            json!({"all": true, "fund_id": fund}),
            json!({"all": false}),
        ] {
            let (status, problem) = invalidate(&app, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body}: {problem}"
            );
        }
        let (status, _) = invalidate(&app, json!({"fund_id": fund + 100})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_large_matrix_is_queued_and_generated_by_a_worker() {
    for backend in backends() {
        let app = TestApp::spawn_with_workers(backend, 1).await;
        let fund = app.fund("Fund I").await;
        let mut body = config(5);
        body["num_scenarios"] = json!(60_000);
        let response = app
            .post(
                &format!("/api/v1/funds/{fund}/scenario-matrices"),
                &app.admin,
                &body,
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        assert_eq!(response.headers()["retry-after"], "1");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let queued: Value = response.json().await.unwrap();
        assert!(
            ["pending", "processing"].contains(&queued["status"].as_str().unwrap()),
            "{queued}"
        );
        assert!(queued["raw_bytes"].is_null());

        let mut done = Value::Null;
        for _ in 0..300 {
            let got: Value = app
                .get_as(&format!("{location}?include=matrix"), &app.admin)
                .await
                .json()
                .await
                .unwrap();
            if got["status"] == "complete" {
                done = got;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            done["status"], "complete",
            "[{backend:?}] generated in time"
        );
        assert_eq!(values_of(&done), expected_values(fund, 5, 60_000));
        // Asked again: stored, not queued again.
        let (status, again) = create(&app, fund, &body).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(app.db.count("scenario_matrices").await, 1);
    }
}

#[tokio::test]
async fn concurrent_misses_generate_once_per_process_and_store_one_row_across_processes() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        // Scale-out runs on PostgreSQL; SQLite, the embedded default, is one process's database (two
        // processes writing one file meet SQLite's snapshot errors, docs/DECISIONS.md).
        let other = match backend {
            service::Backend::Postgres => app.another_process().await,
            service::Backend::Sqlite => format!("http://{}", app.address),
        };
        let path = format!("/api/v1/funds/{fund}/scenario-matrices");
        let requests = (0..16).map(|i| {
            let base = if i % 2 == 0 {
                format!("http://{}", app.address)
            } else {
                other.clone()
            };
            let (app, path) = (&app, &path);
            async move {
                let r = app
                    .client
                    .post(format!("{base}{path}"))
                    .bearer_auth(&app.admin)
                    .json(&config(9))
                    .send()
                    .await
                    .unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }
        });
        let results = join_all(requests).await;
        for (status, body) in &results {
            assert!(
                [StatusCode::CREATED, StatusCode::OK].contains(status),
                "[{backend:?}] {status} {body}"
            );
        }
        let ids: std::collections::HashSet<String> =
            results.iter().map(|(_, b)| b["id"].to_string()).collect();
        assert_eq!(ids.len(), 1, "[{backend:?}] one matrix for everyone");
        assert_eq!(app.db.count("scenario_matrices").await, 1, "[{backend:?}]");
        let created = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count();
        assert_eq!(
            created, 1,
            "[{backend:?}] one request generated and stored it"
        );
        // This process generated at most once (its requests waited for the first).
        let generations = stats(&app).await["generations"]["count"].as_u64().unwrap();
        assert!(generations <= 1, "[{backend:?}] {generations} generations");
    }
}
