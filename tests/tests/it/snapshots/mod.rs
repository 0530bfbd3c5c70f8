//! Forecast snapshots and the job outbox (SPEC §7, §8), over real HTTP and real workers; the outbox's
//! retries, leases and workers in [`jobs`].

mod jobs;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use service::entity::api_key::Role;
use updog_tests::{TestApp, backends};

/// The populated fund of [`TestApp::portfolio`], as (fund, Acme, Beta).
async fn portfolio(app: &TestApp) -> (i64, i64, i64) {
    let p = app.portfolio().await;
    (p.fund, p.acme, p.beta)
}

async fn create(app: &TestApp, fund: i64, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/funds/{fund}/snapshots"),
        &app.admin,
        &body,
        None,
    )
    .await
}

async fn poll_until_complete(app: &TestApp, location: &str) -> Value {
    for _ in 0..100 {
        let body: Value = app.get_as(location, &app.admin).await.json().await.unwrap();
        if body["status"] == "complete" || body["status"] == "error" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("snapshot {location} did not complete");
}

#[tokio::test]
async fn a_client_creates_a_snapshot_polls_it_to_completion_and_reads_its_metrics_and_allocations()
{
    for backend in backends() {
        let app = TestApp::spawn_with_workers(backend, 2).await;
        let (fund, acme, beta) = portfolio(&app).await;
        let response = create(&app, fund, json!({"name": "Q4 plan"})).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        assert_eq!(response.headers()["retry-after"], "1");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = response.json().await.unwrap();
        assert_eq!(created["status"], "pending");
        assert_eq!(created["source_hash"].as_str().unwrap().len(), 64);

        let done = poll_until_complete(&app, &location).await;
        assert_eq!(done["status"], "complete", "[{backend:?}] {done}");
        assert_eq!(done["progress"]["done"], done["progress"]["total"]);

        // The metrics are exactly the §6 functions on the same data, as of the snapshot's date.
        let state = service::fund_state::load_state(app.db.conn(), fund)
            .await
            .unwrap();
        let time: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(done["snapshot_time"].clone()).unwrap();
        let expected = service::snapshots::calculate(
            &service::snapshots::SnapshotInputs {
                engine_version: service::reserves::ENGINE_VERSION.into(),
                state,
                reserve_policy: None,
                manual_allocations: None,
            },
            time,
        );
        assert_eq!(
            done["calculated_metrics"],
            serde_json::to_value(&expected).unwrap(),
            "[{backend:?}]"
        );
        assert_eq!(
            done["calculated_metrics"]["metrics"]["fund"]["invested_cents"],
            300_000
        );
        // The answer, its metrics unpacked into place as it is sent, is the whole snapshot as
        // `serde_json` writes it (the metrics in their place), with its version as ETag.
        let answer = app.get_as(&location, &app.admin).await;
        assert_eq!(answer.headers()["etag"], format!("\"{}\"", done["version"]));
        assert_eq!(answer.headers()["content-type"], "application/json");
        let text = answer.text().await.unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), done);
        assert!(
            text.starts_with(r#"{"id":"#) && text.ends_with(r#"Z"}"#),
            "{text}"
        );
        assert!(
            text.contains(r#""progress":{"done":"#)
                && text.contains(r#"},"calculated_metrics":{"metrics":"#)
        );
        // A list does not carry them (megabytes each for a large fund).
        let listed: Value = app
            .get_as(&format!("/api/v1/funds/{fund}/snapshots"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["data"][0]["id"], done["id"]);
        assert_eq!(listed["data"][0]["progress"], done["progress"]);
        assert!(
            listed["data"][0].get("calculated_metrics").is_none(),
            "{listed}"
        );

        let allocations: Value = app
            .get_as(&format!("{location}/allocations"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        let rows = allocations["data"].as_array().unwrap();
        assert_eq!(
            rows.len(),
            2,
            "[{backend:?}] one allocation per active company"
        );
        let companies: Vec<i64> = rows
            .iter()
            .map(|r| r["company_id"].as_i64().unwrap())
            .collect();
        // Equal scores: the larger investment (Beta, 200,000) ranks first.
        assert_eq!(companies, vec![beta, acme]);
        assert_eq!(rows[0]["priority"], 1);
        assert_eq!(rows[0]["source"], "engine");
        assert_eq!(rows[0]["allocation_score"], "1.500000");
        // Caps: 50% of invested.
        assert_eq!(rows[0]["planned_reserve_cents"], 100_000);
        assert_eq!(rows[1]["planned_reserve_cents"], 50_000);

        // Applying it copies the allocations into the reserve plan.
        let applied = app
            .post(
                &format!("{location}/apply"),
                &app.admin,
                &json!({"expected_version": 1}),
                None,
            )
            .await;
        assert_eq!(applied.status(), StatusCode::OK, "[{backend:?}]");
        let plan: Value = applied.json().await.unwrap();
        assert_eq!(plan["version"], 2);
        assert_eq!(plan["total_planned_cents"], 150_000);
    }
}

#[tokio::test]
async fn an_unchanged_fund_gives_the_same_snapshot_and_one_more_lot_a_new_one() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, acme, _) = portfolio(&app).await;
        let first: Value = create(&app, fund, json!({"name": "A"}))
            .await
            .json()
            .await
            .unwrap();
        let again = create(&app, fund, json!({"name": "another name, same state"})).await;
        assert_eq!(again.status(), StatusCode::OK, "[{backend:?}]");
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["id"], first["id"]);
        assert_eq!(again["source_hash"], first["source_hash"]);

        let investment = app.investment(fund, acme).await;
        let lot = json!({"lot_type": "follow_on", "share_price_cents": 500, "shares_acquired": "1", "acquired_on": "2025-01-01"});
        app.lot(fund, investment, &lot).await;
        let changed = create(&app, fund, json!({"name": "A"})).await;
        assert_eq!(changed.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        let changed: Value = changed.json().await.unwrap();
        assert_ne!(changed["source_hash"], first["source_hash"]);
        assert_eq!(app.db.count("forecast_snapshots").await, 2);
        assert_eq!(
            app.db.count("job_outbox").await,
            2,
            "one calculation job per snapshot"
        );

        // Retrying with an idempotency key never makes a second snapshot either.
        let body = json!({"name": "keyed"});
        let path = format!("/api/v1/funds/{fund}/snapshots");
        let a = app.post(&path, &app.admin, &body, Some("snap-key")).await;
        let b = app.post(&path, &app.admin, &body, Some("snap-key")).await;
        assert_eq!(b.headers()["idempotent-replayed"], "true");
        assert_eq!(a.bytes().await.unwrap(), b.bytes().await.unwrap());
    }
}

#[tokio::test]
async fn snapshots_of_another_fund_are_not_found_and_bad_requests_write_nothing() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, acme, _) = portfolio(&app).await;
        let other = app.fund("Other").await;
        let foreign = app.company(other, "Foreign").await;
        let snapshot: Value = create(&app, fund, json!({"name": "mine"}))
            .await
            .json()
            .await
            .unwrap();
        let id = snapshot["id"].as_str().unwrap().to_owned();
        let outsider = app.key(Role::Writer, &[other]).await;
        for path in [
            format!("/api/v1/snapshots/{id}"),
            format!("/api/v1/snapshots/{id}/allocations"),
        ] {
            assert_eq!(
                app.get_as(&path, &outsider).await.status(),
                StatusCode::NOT_FOUND,
                "[{backend:?}] {path}"
            );
        }
        let before = app.db.count("forecast_snapshots").await;

        let bad = [
            json!({"name": "x", "allocations": [{"company_id": foreign, "planned_reserve_cents": 1}]}),
            json!({"name": "x", "allocations": [{"company_id": acme, "planned_reserve_cents": -1}]}),
            json!({"name": "x", "allocations": [{"company_id": acme, "planned_reserve_cents": 1}, {"company_id": acme, "planned_reserve_cents": 2}]}),
            json!({"name": "x", "allocations": [{"company_id": acme, "planned_reserve_cents": 9_000_000_000_000i64}]}),
            json!({"name": ""}),
        ];
        for body in bad {
            let r = create(&app, fund, body.clone()).await;
            assert_eq!(
                r.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "[{backend:?}] {body}"
            );
        }
        assert_eq!(
            app.db.count("forecast_snapshots").await,
            before,
            "[{backend:?}] nothing written"
        );

        // Applying a snapshot that is not complete is refused; stale and missing renames too.
        let apply = app
            .post(
                &format!("/api/v1/snapshots/{id}/apply"),
                &app.admin,
                &json!({"expected_version": 1}),
                None,
            )
            .await;
        assert_eq!(apply.status(), StatusCode::CONFLICT);
        let problem: Value = apply.json().await.unwrap();
        assert_eq!(problem["code"], "snapshot_not_complete");
        let rename = |target: String, version: &str| {
            app.client
                .patch(app.url(&format!("/api/v1/snapshots/{target}")))
                .bearer_auth(&app.admin)
                .header("If-Match", version)
                .json(&json!({"name": "renamed"}))
                .send()
        };
        assert_eq!(
            rename(uuid::Uuid::now_v7().to_string(), "\"1\"")
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            rename(id.clone(), "\"5\"").await.unwrap().status(),
            StatusCode::PRECONDITION_FAILED
        );
        let renamed = rename(id.clone(), "\"1\"").await.unwrap();
        assert_eq!(renamed.status(), StatusCode::OK);
        assert_eq!(renamed.json::<Value>().await.unwrap()["name"], "renamed");

        // A manual allocation within the budget is taken as given.
        let manual = create(&app, fund, json!({"name": "manual", "allocations": [{"company_id": acme, "planned_reserve_cents": 1234, "rationale": "board decision"}]})).await;
        assert_eq!(manual.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        let manual: Value = manual.json().await.unwrap();
        let rows: Value = app
            .get_as(
                &format!(
                    "/api/v1/snapshots/{}/allocations",
                    manual["id"].as_str().unwrap()
                ),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(rows["data"][0]["source"], "manual");
        assert_eq!(rows["data"][0]["planned_reserve_cents"], 1234);

        let listed: Value = app
            .get_as(
                &format!("/api/v1/funds/{fund}/snapshots?status=pending&limit=1"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["data"].as_array().unwrap().len(), 1);
        assert!(listed["next_cursor"].is_string());
    }
}
