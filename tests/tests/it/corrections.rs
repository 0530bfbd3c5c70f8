//! Corrections (issue #16): an investment corrected or deleted, a lot or a distribution deleted — seen at
//! once by MOIC and the rankings, never by a snapshot already captured.

use reqwest::StatusCode;
use serde_json::{Value, json};
use service::entity::api_key::Role;
use updog_tests::{TestApp, backends};

async fn get(app: &TestApp, path: &str) -> Value {
    let r = app.get_as(path, &app.admin).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.json().await.unwrap()
}

fn invested_of(rankings: &Value, company: i64) -> i64 {
    rankings["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["company_id"] == company)
        .map(|r| r["invested_cents"].as_i64().unwrap())
        .unwrap_or(0)
}

#[tokio::test]
async fn corrections_show_at_once_in_moic_and_rankings_and_never_in_a_captured_snapshot() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        let (acme, beta) = (
            app.company(fund, "Acme").await,
            app.company(fund, "Beta").await,
        );
        let investment = app.investment(fund, acme).await;
        let lots = format!("/api/v1/funds/{fund}/investments/{investment}/lots");
        let lot = |cents: i64| json!({"lot_type": "initial", "share_price_cents": cents, "shares_acquired": "100", "acquired_on": "2024-02-01"});
        let keep: Value = app
            .post(&lots, &app.admin, &lot(100), None)
            .await
            .json()
            .await
            .unwrap();
        let mistyped: Value = app
            .post(&lots, &app.admin, &lot(10_000), None)
            .await
            .json()
            .await
            .unwrap();
        assert!(keep["id"].is_string() && mistyped["id"].is_string());
        let distribution = app
            .created(
                &format!("/api/v1/funds/{fund}/distributions"),
                &json!({"company_id": acme, "distributed_on": "2024-06-01", "amount_cents": 5_000, "kind": "dividend"}),
            )
            .await;

        // A snapshot captured and calculated now.
        let snapshot: Value = app
            .post(
                &format!("/api/v1/funds/{fund}/snapshots"),
                &app.admin,
                &json!({"name": "before"}),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        app.run_jobs().await;
        let snapshot_path = format!("/api/v1/snapshots/{}", snapshot["id"].as_str().unwrap());
        let captured = get(&app, &snapshot_path).await;
        assert_eq!(captured["status"], "complete", "[{backend:?}]");

        let moic = format!("/api/v1/funds/{fund}/moic");
        let rankings = format!("/api/v1/funds/{fund}/reserves/rankings");
        assert_eq!(get(&app, &moic).await["fund"]["invested_cents"], 1_010_000);
        assert_eq!(invested_of(&get(&app, &rankings).await, acme), 1_010_000);

        // The mistyped lot deleted: MOIC and rankings see it at once.
        let delete = |path: String| {
            app.client
                .delete(app.url(&path))
                .bearer_auth(&app.admin)
                .send()
        };
        let lot_path = format!(
            "/api/v1/funds/{fund}/lots/{}",
            mistyped["id"].as_str().unwrap()
        );
        assert_eq!(
            delete(lot_path.clone()).await.unwrap().status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            delete(lot_path.clone()).await.unwrap().status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&app, &moic).await["fund"]["invested_cents"],
            10_000,
            "[{backend:?}]"
        );
        assert_eq!(invested_of(&get(&app, &rankings).await, acme), 10_000);

        // The distribution deleted.
        let dist_path = format!("/api/v1/funds/{fund}/distributions/{distribution}");
        assert_eq!(get(&app, &moic).await["fund"]["realized_cents"], 5_000);
        assert_eq!(
            delete(dist_path.clone()).await.unwrap().status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            get(&app, &moic).await["fund"]["realized_cents"],
            0,
            "[{backend:?}]"
        );

        // The investment corrected: moved to Beta, renamed; stale or missing If-Match refused.
        let inv_path = format!("/api/v1/funds/{fund}/investments/{investment}");
        let patch = |if_match: Option<&str>, body: Value| {
            let mut r = app
                .client
                .patch(app.url(&inv_path))
                .bearer_auth(&app.admin)
                .json(&body);
            if let Some(v) = if_match {
                r = r.header("If-Match", v);
            }
            r.send()
        };
        let moved = patch(
            Some("\"1\""),
            json!({"company_id": beta, "round_name": "Seed II"}),
        )
        .await
        .unwrap();
        assert_eq!(moved.status(), StatusCode::OK, "[{backend:?}]");
        assert_eq!(moved.headers()["etag"], "\"2\"");
        let moved: Value = moved.json().await.unwrap();
        assert_eq!(
            (moved["company_id"].as_i64(), moved["round_name"].as_str()),
            (Some(beta), Some("Seed II"))
        );
        let ranked = get(&app, &rankings).await;
        assert_eq!(
            (invested_of(&ranked, acme), invested_of(&ranked, beta)),
            (0, 10_000)
        );
        let stale = patch(Some("\"1\""), json!({"round_name": "A"}))
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
        let missing = patch(None, json!({"round_name": "A"})).await.unwrap();
        assert_eq!(missing.status(), StatusCode::PRECONDITION_REQUIRED);
        for bad in [
            json!({}),
            json!({"company_id": 999_999}),
            json!({"round_name": null}),
            json!({"round_name": " "}),
        ] {
            let refused = patch(Some("\"2\""), bad.clone()).await.unwrap();
            assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }

        // The investment deleted with its lots.
        let gone = app
            .client
            .delete(app.url(&inv_path))
            .bearer_auth(&app.admin)
            .header("If-Match", "\"2\"")
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), StatusCode::NO_CONTENT, "[{backend:?}]");
        let remaining = get(&app, &format!("/api/v1/funds/{fund}/lots")).await;
        assert_eq!(remaining["data"], json!([]));
        assert_eq!(get(&app, &moic).await["fund"]["invested_cents"], 0);

        // The snapshot still holds what it captured, byte for byte.
        assert_eq!(get(&app, &snapshot_path).await, captured, "[{backend:?}]");

        // Another fund's key can correct nothing here.
        let other = app.fund("Other").await;
        let stranger = app.key(Role::Writer, &[other]).await;
        let refused = app
            .client
            .delete(app.url(&format!(
                "/api/v1/funds/{fund}/lots/{}",
                keep["id"].as_str().unwrap()
            )))
            .bearer_auth(&stranger)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn spreadsheets_get_csv_tables_by_accept_and_an_unproducible_accept_is_a_406() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        let acme = app.company(fund, "Acme, Inc.").await;
        let investment = app.investment(fund, acme).await;
        let lots = format!("/api/v1/funds/{fund}/investments/{investment}/lots");
        let body = json!({"lot_type": "initial", "share_price_cents": 250, "shares_acquired": "40", "acquired_on": "2024-02-01"});
        let lot: Value = app
            .post(&lots, &app.admin, &body, None)
            .await
            .json()
            .await
            .unwrap();
        let get_with = |path: String, accept: &'static str| {
            app.client
                .get(app.url(&path))
                .bearer_auth(&app.admin)
                .header("Accept", accept)
                .send()
        };

        let companies = get_with(format!("/api/v1/funds/{fund}/moic"), "text/csv")
            .await
            .unwrap();
        assert_eq!(companies.status(), StatusCode::OK, "[{backend:?}]");
        assert!(
            companies.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let text = companies.text().await.unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        // Rows name what they are about, and money is in the fund's currency (cents columns follow).
        assert_eq!(&header[..3], ["company", "status", "valuation_basis"]);
        let row = lines.next().unwrap();
        // A name with a comma is quoted, as spreadsheets expect.
        assert!(row.starts_with("\"Acme, Inc.\",active,"), "{row}");
        let invested = header.iter().position(|h| *h == "invested").unwrap();
        let invested_cents = header.iter().position(|h| *h == "invested_cents").unwrap();
        let cells: Vec<&str> = row
            .rsplit(',')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        // +1: the quoted name holds a comma.
        assert_eq!(cells[invested + 1], "100.00", "{row}");
        assert_eq!(cells[invested_cents + 1], "10000", "{row}");
        assert_eq!(
            cells[header.iter().position(|h| *h == "company_id").unwrap() + 1],
            acme.to_string()
        );
        assert_eq!(lines.next(), None);

        let lots_csv = get_with(
            format!("/api/v1/funds/{fund}/moic?rows=lots"),
            "text/csv;q=0.9, application/xml",
        )
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        let mut lines = lots_csv.lines();
        assert!(lines.next().unwrap().starts_with(
            "company,round,lot_type,acquired_on,shares_acquired,shares_held,cost_basis,"
        ));
        let row = lines.next().unwrap();
        assert!(row.starts_with("\"Acme, Inc.\",Seed,initial,"), "{row}");
        assert!(
            row.contains(&format!(",{},10000,", lot["id"].as_str().unwrap())),
            "{row}"
        );

        // JSON stays the default, and */* is JSON.
        let json_answer = get_with(format!("/api/v1/funds/{fund}/moic"), "*/*")
            .await
            .unwrap();
        assert_eq!(json_answer.headers()["content-type"], "application/json");

        let refused = get_with(format!("/api/v1/funds/{fund}/moic"), "application/xml")
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::NOT_ACCEPTABLE);
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "not_acceptable");

        // A snapshot's allocations as a table.
        let snapshot: Value = app
            .post(&format!("/api/v1/funds/{fund}/snapshots"), &app.admin, &json!({"name": "Q1", "allocations": [{"company_id": acme, "planned_reserve_cents": 0, "rationale": "hold"}]}), None)
            .await
            .json()
            .await
            .unwrap();
        app.run_jobs().await;
        let table = get_with(
            format!(
                "/api/v1/snapshots/{}/allocations",
                snapshot["id"].as_str().unwrap()
            ),
            "text/csv",
        )
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        let mut lines = table.lines();
        assert_eq!(
            lines.next().unwrap(),
            "priority,company,planned_reserve,allocation_score,source,rationale,company_id,planned_reserve_cents"
        );
        assert_eq!(
            lines.next().unwrap(),
            format!("1,\"Acme, Inc.\",0.00,,manual,hold,{acme},0")
        );
    }
}

#[tokio::test]
async fn the_demo_fund_is_seeded_once_with_real_numbers_whatever_the_runs() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let svc = service::Service::new(
            app.db.db.clone(),
            24,
            service::matrices::FirstTier::memory(1 << 20),
            std::sync::Arc::new(api::replies::Replies),
        );
        let first = service::demo::seed(&svc).await.unwrap();
        let expected = [
            ("funds", 1),
            ("portfolio_companies", 6),
            ("investments", 8),
            ("investment_lots", 9),
            ("distributions", 3),
            ("forecast_snapshots", 1),
            ("scenario_matrices", 1),
            ("fund_forecasts", 1),
        ];
        let mut counts = Vec::new();
        for (table, _) in expected {
            counts.push((table, app.db.count(table).await));
        }
        assert_eq!(counts, expected, "[{backend:?}]");
        let again = service::demo::seed(&svc).await.unwrap();
        assert_eq!(again, first, "[{backend:?}] the same fund, the same rows");
        for (table, before) in expected {
            assert_eq!(app.db.count(table).await, before, "[{backend:?}] {table}");
        }
        app.run_jobs().await;
        let fund = first.fund_id;
        let moic = get(&app, &format!("/api/v1/funds/{fund}/moic")).await;
        assert_eq!(
            moic["fund"]["invested_cents"], 1_760_000_000,
            "[{backend:?}]"
        );
        assert_eq!(moic["fund"]["realized_cents"], 1_375_000_000);
        assert!(moic["fund"]["gross_moic"].as_str().is_some());
        let snapshot = get(&app, &format!("/api/v1/snapshots/{}", first.snapshot_id)).await;
        assert_eq!(snapshot["status"], "complete");
        let ranked = get(&app, &format!("/api/v1/funds/{fund}/reserves/rankings")).await;
        assert!(ranked["data"].as_array().unwrap().len() >= 4);
        let forecast = get(&app, &format!("/api/v1/forecasts/{}", first.forecast_id)).await;
        assert_eq!(forecast["status"], "complete", "{forecast}");
        assert_eq!(forecast["results"]["scenarios"], 10_000);
    }
}
