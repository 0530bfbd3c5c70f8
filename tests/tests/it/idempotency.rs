//! Idempotent creation over real HTTP (SPEC §4), on every backend.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use updog_tests::{TestApp, backends};

fn lot_body(shares: &str) -> Value {
    json!({"lot_type": "initial", "share_price_cents": 250000, "shares_acquired": shares, "acquired_on": "2024-01-15"})
}

async fn setup(app: &TestApp) -> (i64, i64, String) {
    let fund = app.fund("Fund I").await;
    let company = app.company(fund, "Acme").await;
    let investment = app.investment(fund, company).await;
    (
        fund,
        investment,
        format!("/api/v1/funds/{fund}/investments/{investment}/lots"),
    )
}

#[tokio::test]
async fn replaying_a_lot_with_the_same_key_returns_the_original_response_byte_for_byte() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, _, lots) = setup(&app).await;

        let first = app
            .post(&lots, &app.admin, &lot_body("1000"), Some("lot-1"))
            .await;
        assert_eq!(first.status(), StatusCode::CREATED);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let location = first.headers()["location"].to_str().unwrap().to_owned();
        let first_body = first.bytes().await.unwrap();

        // The same body with its keys in another order is the same request.
        let reordered: Value = serde_json::from_str(
            r#"{"acquired_on":"2024-01-15","shares_acquired":"1000","share_price_cents":250000,"lot_type":"initial"}"#,
        )
        .unwrap();
        let replay = app.post(&lots, &app.admin, &reordered, Some("lot-1")).await;
        assert_eq!(replay.status(), StatusCode::CREATED, "[{backend:?}]");
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        assert_eq!(replay.headers()["location"].to_str().unwrap(), location);
        assert_eq!(
            replay.bytes().await.unwrap(),
            first_body,
            "[{backend:?}] replay is byte-identical"
        );

        assert_eq!(
            app.db.count("investment_lots").await,
            1,
            "[{backend:?}] one lot"
        );
        assert_eq!(
            app.db.count("idempotency_records").await,
            1,
            "[{backend:?}] one record"
        );
        let lot: Value = serde_json::from_slice(&first_body).unwrap();
        assert_eq!(lot["cost_basis_cents"], 250_000_000);
        assert_eq!(lot["shares_acquired"], "1000.00000000");
    }
}

#[tokio::test]
async fn reusing_a_key_with_a_different_body_is_refused_and_writes_nothing() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, _, lots) = setup(&app).await;
        assert_eq!(
            app.post(&lots, &app.admin, &lot_body("1000"), Some("k"))
                .await
                .status(),
            StatusCode::CREATED
        );

        let reused = app
            .post(&lots, &app.admin, &lot_body("2000"), Some("k"))
            .await;
        assert_eq!(
            reused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "[{backend:?}]"
        );
        let problem: Value = reused.json().await.unwrap();
        assert_eq!(problem["code"], "idempotency_key_reused");
        assert_eq!(app.db.count("investment_lots").await, 1, "[{backend:?}]");
    }
}

#[tokio::test]
async fn a_refused_request_is_not_recorded_so_a_corrected_retry_with_the_same_key_executes() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, _, lots) = setup(&app).await;
        let mut wrong = lot_body("1000");
        wrong["cost_basis_cents"] = json!(1);
        let refused = app.post(&lots, &app.admin, &wrong, Some("fix-me")).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "cost_basis_mismatch");
        assert_eq!(problem["expected_cost_basis_cents"], 250_000_000);
        assert_eq!(
            app.db.count("idempotency_records").await,
            0,
            "[{backend:?}] nothing recorded"
        );

        let mut corrected = lot_body("1000");
        corrected["cost_basis_cents"] = json!(250_000_999); // fees within the 1000-cent tolerance
        let created = app
            .post(&lots, &app.admin, &corrected, Some("fix-me"))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED, "[{backend:?}]");
        let lot: Value = created.json().await.unwrap();
        assert_eq!(lot["cost_basis_cents"], 250_000_999);
    }
}

#[tokio::test]
async fn ten_parallel_creates_with_distinct_keys_make_ten_lots() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, _, lots) = setup(&app).await;
        let body = lot_body("10");
        let requests = (0..10).map(|i| {
            let (app, lots, body) = (&app, &lots, &body);
            async move {
                app.post(lots, &app.admin, body, Some(&format!("key-{i}")))
                    .await
                    .status()
            }
        });
        let statuses = join_all(requests).await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::CREATED),
            "[{backend:?}] {statuses:?}"
        );
        assert_eq!(app.db.count("investment_lots").await, 10, "[{backend:?}]");
    }
}

#[tokio::test]
async fn twenty_parallel_creates_with_one_key_make_one_lot_and_identical_replays() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, _, lots) = setup(&app).await;
        let body = lot_body("10");
        let requests = (0..20).map(|_| {
            let (app, lots, body) = (&app, &lots, &body);
            async move {
                let response = app.post(lots, &app.admin, body, Some("the-one-key")).await;
                let status = response.status();
                let replayed = response.headers().contains_key("idempotent-replayed");
                (status, replayed, response.bytes().await.unwrap())
            }
        });
        let results = join_all(requests).await;
        for (status, _, body) in &results {
            assert_eq!(
                *status,
                StatusCode::CREATED,
                "[{backend:?}] {}",
                String::from_utf8_lossy(body)
            );
        }
        let originals = results.iter().filter(|(_, replayed, _)| !replayed).count();
        assert_eq!(originals, 1, "[{backend:?}] exactly one request executed");
        let first = &results[0].2;
        assert!(
            results.iter().all(|(_, _, b)| b == first),
            "[{backend:?}] every response has the same bytes"
        );
        assert_eq!(
            app.db.count("investment_lots").await,
            1,
            "[{backend:?}] one lot"
        );
    }
}

#[tokio::test]
async fn a_key_is_scoped_by_its_parent_resource() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, _, lots) = setup(&app).await;
        let company = app.company(fund, "Other Co").await;
        let other = app.investment(fund, company).await;
        let other_lots = format!("/api/v1/funds/{fund}/investments/{other}/lots");
        assert_eq!(
            app.post(&lots, &app.admin, &lot_body("1"), Some("same"))
                .await
                .status(),
            StatusCode::CREATED
        );
        let second = app
            .post(&other_lots, &app.admin, &lot_body("1"), Some("same"))
            .await;
        assert_eq!(second.status(), StatusCode::CREATED, "[{backend:?}]");
        assert!(second.headers().get("idempotent-replayed").is_none());
        assert_eq!(app.db.count("investment_lots").await, 2);
    }
}

#[tokio::test]
async fn after_its_record_expires_a_key_still_cannot_create_a_second_lot() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, _, lots) = setup(&app).await;
        let first = app
            .post(&lots, &app.admin, &lot_body("5"), Some("old-key"))
            .await;
        let lot: Value = first.json().await.unwrap();
        // The reaper has removed the record.
        let removed = service::idempotency::reap_expired(
            &app.db.db,
            chrono::Utc::now() + chrono::Duration::days(30),
        )
        .await
        .unwrap();
        assert_eq!(removed, 1, "[{backend:?}] the lot's record was reaped");

        let retry = app
            .post(&lots, &app.admin, &lot_body("5"), Some("old-key"))
            .await;
        assert_eq!(retry.status(), StatusCode::CONFLICT, "[{backend:?}]");
        let expected = format!("/api/v1/funds/{fund}/lots/{}", lot["id"].as_str().unwrap());
        assert_eq!(retry.headers()["location"].to_str().unwrap(), expected);
        let problem: Value = retry.json().await.unwrap();
        assert_eq!(problem["code"], "idempotency_key_expired");
        assert_eq!(problem["location"], expected.as_str());
        assert_eq!(
            app.db.count("investment_lots").await,
            1,
            "[{backend:?}] never a second row"
        );
    }
}

#[tokio::test]
async fn malformed_idempotency_keys_are_400_and_write_nothing() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (_, _, lots) = setup(&app).await;
        let too_long = "k".repeat(256);
        for key in ["", too_long.as_str(), "has space"] {
            let response = app.post(&lots, &app.admin, &lot_body("1"), Some(key)).await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "[{backend:?}] key {key:?}"
            );
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["code"], "invalid_header");
            assert_eq!(problem["header"], "Idempotency-Key");
        }
        let non_ascii = app
            .client
            .post(app.url(&lots))
            .bearer_auth(&app.admin)
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes("clé".as_bytes()).unwrap(),
            )
            .json(&lot_body("1"))
            .send()
            .await
            .unwrap();
        assert_eq!(non_ascii.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.db.count("investment_lots").await, 0, "[{backend:?}]");
    }
}

#[tokio::test]
async fn a_deleted_lots_key_still_replays_its_creation_and_makes_no_second_lot() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, _, lots) = setup(&app).await;
        let first = app
            .post(&lots, &app.admin, &lot_body("1000"), Some("lot-gone"))
            .await;
        assert_eq!(first.status(), StatusCode::CREATED, "[{backend:?}]");
        let first_body = first.bytes().await.unwrap();
        let lot: Value = serde_json::from_slice(&first_body).unwrap();
        let deleted = app
            .send(
                reqwest::Method::DELETE,
                &format!("/api/v1/funds/{fund}/lots/{}", lot["id"].as_str().unwrap()),
                &app.admin,
                None,
                None,
            )
            .await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT, "[{backend:?}]");

        // The record outlives the row: the retry is the recorded answer, not a new lot.
        let retry = app
            .post(&lots, &app.admin, &lot_body("1000"), Some("lot-gone"))
            .await;
        assert_eq!(retry.status(), StatusCode::CREATED, "[{backend:?}]");
        assert_eq!(retry.headers()["idempotent-replayed"], "true");
        assert_eq!(retry.bytes().await.unwrap(), first_body, "[{backend:?}]");
        assert_eq!(app.db.count("investment_lots").await, 0, "[{backend:?}]");
        assert_eq!(
            app.db.count("idempotency_records").await,
            1,
            "[{backend:?}]"
        );
    }
}

#[tokio::test]
async fn a_keyed_create_stopped_by_another_unique_index_is_named_and_recorded_nowhere() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        let companies = format!("/api/v1/funds/{fund}/companies");
        let body = json!({"name": "Acme", "stage": "seed"});
        let first = app.post(&companies, &app.admin, &body, Some("c-1")).await;
        assert_eq!(first.status(), StatusCode::CREATED, "[{backend:?}]");
        let records = app.db.count("idempotency_records").await;

        let taken = app.post(&companies, &app.admin, &body, Some("c-2")).await;
        assert_eq!(taken.status(), StatusCode::CONFLICT, "[{backend:?}]");
        let problem: Value = taken.json().await.unwrap();
        assert_eq!(problem["code"], "company_name_taken", "[{backend:?}]");
        assert_eq!(
            app.db.count("portfolio_companies").await,
            1,
            "[{backend:?}]"
        );
        assert_eq!(
            app.db.count("idempotency_records").await,
            records,
            "[{backend:?}] the refusal is not recorded"
        );

        // A company of a fund that does not exist: the foreign key refuses it, the answer names the fund.
        let missing = app
            .post(
                "/api/v1/funds/999999/companies",
                &app.admin,
                &body,
                Some("c-3"),
            )
            .await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "[{backend:?}]");
        assert_eq!(
            app.db.count("idempotency_records").await,
            records,
            "[{backend:?}]"
        );
    }
}
