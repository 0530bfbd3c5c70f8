//! MOIC, rankings and the reserve plan over real HTTP (SPEC §6, §7.5).

use reqwest::StatusCode;
use serde_json::{Value, json};
use updog_tests::{TestApp, backends};

async fn patch_company(app: &TestApp, fund: i64, company: i64, body: Value) {
    let response = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/funds/{fund}/companies/{company}"),
            &app.admin,
            Some("\"1\""),
            Some(&body),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_moic_endpoint_reports_lot_company_and_fund_figures() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let acme = app.company(fund, "Acme").await;
        let beta = app.company(fund, "Beta").await;
        patch_company(&app, fund, acme, json!({"current_share_price_cents": 300, "marked_at": "2024-01-01T00:00:00Z", "exit_moic_bps": 40000, "exit_probability": "0.8"})).await;
        let acme_inv = app.investment(fund, acme).await;
        let beta_inv = app.investment(fund, beta).await;
        let lot = |kind: &str, price: i64, shares: &str, on: &str| json!({"lot_type": kind, "share_price_cents": price, "shares_acquired": shares, "acquired_on": on});
        for (inv, body) in [
            (acme_inv, lot("initial", 100, "100", "2024-01-01")),
            (acme_inv, lot("follow_on", 200, "100", "2024-02-01")),
            (beta_inv, lot("initial", 1000, "10", "2024-03-01")),
        ] {
            app.lot(fund, inv, &body).await;
        }
        let sale = json!({"company_id": acme, "distributed_on": "2025-01-01", "amount_cents": 60000, "kind": "partial_sale", "shares_sold": "150"});
        assert_eq!(
            app.post(
                &format!("/api/v1/funds/{fund}/distributions"),
                &app.admin,
                &sale,
                None
            )
            .await
            .status(),
            StatusCode::CREATED
        );

        let body: Value = app
            .get_as(
                &format!("/api/v1/funds/{fund}/moic?as_of=2026-01-01"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["as_of"], "2026-01-01");
        let acme_m = body["companies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["company_id"] == acme)
            .unwrap();
        assert_eq!(acme_m["realized_cents"], 60000, "[{backend:?}]");
        assert_eq!(acme_m["unrealized_cents"], 15000);
        assert_eq!(acme_m["current_moic"], "2.500000");
        assert_eq!(acme_m["current_moic_initial"], "4.000000");
        assert_eq!(acme_m["current_moic_follow_on"], "1.750000");
        assert_eq!(acme_m["expected_exit_moic"], "3.200000");
        assert_eq!(acme_m["valuation_basis"], "mark");
        assert_eq!(acme_m["shares_held"], "50.00000000");
        let beta_m = body["companies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["company_id"] == beta)
            .unwrap();
        assert_eq!(beta_m["valuation_basis"], "cost", "no mark: held at cost");
        assert_eq!(beta_m["current_moic"], "1.000000");
        assert_eq!(beta_m["current_moic_follow_on"], Value::Null);
        let f = &body["fund"];
        assert_eq!(f["invested_cents"], 40000);
        assert_eq!(f["total_value_cents"], 85000);
        assert_eq!(f["gross_moic"], "2.125000");
        assert_eq!(body["lot_count"], 3);
        assert!(body.get("lots").is_none(), "lot figures are paged apart");

        // The lot figures, two to a page, in the order the lots were recorded.
        let lots = format!("/api/v1/funds/{fund}/moic/lots?as_of=2026-01-01&limit=2");
        let first: Value = app.get_as(&lots, &app.admin).await.json().await.unwrap();
        assert_eq!(first["as_of"], "2026-01-01");
        let cursor = first["next_cursor"]
            .as_str()
            .expect("a second page")
            .to_owned();
        let second: Value = app
            .get_as(&format!("{lots}&cursor={cursor}"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(second["next_cursor"], Value::Null, "[{backend:?}]");
        let figures: Vec<(Value, Value, Value, Value)> = [&first, &second]
            .iter()
            .flat_map(|page| page["data"].as_array().unwrap().clone())
            .map(|l| {
                (
                    l["company_id"].clone(),
                    l["realized_cents"].clone(),
                    l["unrealized_cents"].clone(),
                    l["moic"].clone(),
                )
            })
            .collect();
        assert_eq!(
            figures,
            vec![
                (json!(acme), json!(40000), json!(0), json!("4.000000")),
                (json!(acme), json!(20000), json!(15000), json!("1.750000")),
                (json!(beta), json!(0), json!(10000), json!("1.000000")),
            ],
            "[{backend:?}] FIFO: the sale relieved the initial lot first"
        );
        let bad_cursor = app.get_as(&format!("{lots}&cursor=nope"), &app.admin).await;
        assert_eq!(bad_cursor.status(), StatusCode::BAD_REQUEST);
        let bad_limit = app
            .get_as(
                &format!("/api/v1/funds/{fund}/moic/lots?limit=0"),
                &app.admin,
            )
            .await;
        assert_eq!(bad_limit.status(), StatusCode::BAD_REQUEST, "as every list");
        assert!(
            f["gross_irr"].as_str().is_some(),
            "an IRR exists for these flows"
        );

        // Before anything was bought, nothing counts and the ratios are null.
        let early: Value = app
            .get_as(
                &format!("/api/v1/funds/{fund}/moic?as_of=2023-01-01"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(early["fund"]["invested_cents"], 0);
        assert_eq!(early["fund"]["gross_moic"], Value::Null);
        assert_eq!(early["fund"]["gross_irr"], Value::Null);

        let bad = app
            .get_as(
                &format!("/api/v1/funds/{fund}/moic?as_of=yesterday"),
                &app.admin,
            )
            .await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn the_reserve_plan_updates_atomically_under_its_version() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let a = app.company(fund, "A").await;
        let b = app.company(fund, "B").await;
        let other_fund = app.fund("Other").await;
        let foreign = app.company(other_fund, "Foreign").await;
        let plan_path = format!("/api/v1/funds/{fund}/reserve-plan");

        let response = app.get_as(&plan_path, &app.admin).await;
        assert_eq!(response.headers()["etag"], "\"1\"");
        let plan: Value = response.json().await.unwrap();
        assert_eq!(plan["version"], 1);
        assert_eq!(plan["total_planned_cents"], 0);

        let put = |body: Value| {
            app.client
                .put(app.url(&plan_path))
                .bearer_auth(&app.admin)
                .json(&body)
                .send()
        };
        let rejected: Vec<(Value, StatusCode)> = vec![
            (
                json!({"expected_version": 1, "updates": [{"company_id": foreign, "planned_reserves_cents": 5}]}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                json!({"expected_version": 1, "updates": [{"company_id": a, "planned_reserves_cents": 10}, {"company_id": b, "planned_reserves_cents": -1}]}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                json!({"expected_version": 1, "updates": [{"company_id": a, "planned_reserves_cents": 10, "allocation_cap_cents": 5}]}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                json!({"expected_version": 1, "updates": [{"company_id": a, "planned_reserves_cents": 1}, {"company_id": a, "planned_reserves_cents": 2}]}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                json!({"expected_version": 1, "updates": (0..501).map(|i| json!({"company_id": i + 1, "planned_reserves_cents": 0})).collect::<Vec<_>>()}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                json!({"expected_version": 1, "updates": []}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                json!({"expected_version": 9, "updates": [{"company_id": a, "planned_reserves_cents": 10}]}),
                StatusCode::PRECONDITION_FAILED,
            ),
        ];
        for (body, status) in rejected {
            let response = put(body.clone()).await.unwrap();
            assert_eq!(response.status(), status, "[{backend:?}] {body}");
        }
        let unchanged: Value = app
            .get_as(&plan_path, &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(unchanged["version"], 1, "[{backend:?}] nothing applied");
        assert_eq!(unchanged["total_planned_cents"], 0);

        let ok = put(json!({"expected_version": 1, "updates": [
            {"company_id": a, "planned_reserves_cents": 500000, "allocation_cap_cents": 800000},
            {"company_id": b, "planned_reserves_cents": 250000}
        ]}))
        .await
        .unwrap();
        assert_eq!(ok.status(), StatusCode::OK, "[{backend:?}]");
        assert_eq!(ok.headers()["etag"], "\"2\"");
        let plan: Value = ok.json().await.unwrap();
        assert_eq!(plan["version"], 2);
        assert_eq!(plan["total_planned_cents"], 750000);
        // The same version again is stale now.
        let stale = put(json!({"expected_version": 1, "updates": [{"company_id": a, "planned_reserves_cents": 1}]})).await.unwrap();
        assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
        let problem: Value = stale.json().await.unwrap();
        assert_eq!(problem["current_version"], 2);
    }
}

async fn plan_version(app: &TestApp, fund: i64) -> i64 {
    let path = format!("/api/v1/funds/{fund}/reserve-plan");
    let plan: Value = app.get_as(&path, &app.admin).await.json().await.unwrap();
    plan["version"].as_i64().unwrap()
}

/// Planned reserves and caps are inputs of the reserve plan: changing them through a company moves the
/// plan's version, so a plan update made against the old version cannot overwrite the change (SPEC
/// §7.5); and a cap below the planned reserves is refused wherever either changes.
#[tokio::test]
async fn changing_a_companys_reserves_moves_the_plan_version_and_keeps_cap_above_planned() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let company = app.company(fund, "A").await;
        let plan_path = format!("/api/v1/funds/{fund}/reserve-plan");
        assert_eq!(plan_version(&app, fund).await, 1);

        patch_company(&app, fund, company, json!({"planned_reserves_cents": 100})).await;
        assert_eq!(
            plan_version(&app, fund).await,
            2,
            "[{backend:?}] planned reserves are a plan input"
        );
        let stale = app
            .client
            .put(app.url(&plan_path))
            .bearer_auth(&app.admin)
            .json(&json!({"expected_version": 1, "updates": [{"company_id": company, "planned_reserves_cents": 7}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            stale.status(),
            StatusCode::PRECONDITION_FAILED,
            "[{backend:?}]"
        );

        let company_path = format!("/api/v1/funds/{fund}/companies/{company}");
        let below = app
            .client
            .patch(app.url(&company_path))
            .bearer_auth(&app.admin)
            .header("If-Match", "\"2\"")
            .json(&json!({"allocation_cap_cents": 50}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            below.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "[{backend:?}]"
        );
        let below: Value = below.json().await.unwrap();
        assert_eq!(below["errors"][0]["pointer"], "/allocation_cap_cents");
        let unchanged: Value = app
            .get_as(&company_path, &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(unchanged["version"], 2, "[{backend:?}] nothing written");
        assert_eq!(unchanged["allocation_cap_cents"], Value::Null);
        assert_eq!(
            plan_version(&app, fund).await,
            2,
            "[{backend:?}] the plan did not move"
        );

        // A name change is not a plan input.
        let renamed = app
            .client
            .patch(app.url(&company_path))
            .bearer_auth(&app.admin)
            .header("If-Match", "\"2\"")
            .json(&json!({"name": "A2"}))
            .send()
            .await
            .unwrap();
        assert_eq!(renamed.status(), StatusCode::OK);
        assert_eq!(plan_version(&app, fund).await, 2, "[{backend:?}]");
    }
}

/// The rankings are the allocation engine's order (SPEC §6.5 step 2): ranking value first, unknown
/// last, then invested, then id; so the order a user reads is the order reserves are allocated.
#[tokio::test]
async fn rankings_follow_the_engines_order_value_then_invested_then_id() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let mut ids = Vec::new();
        for (name, bps, p, planned) in [
            ("Low", json!(20000), "0.5", 100),
            ("Even", json!(40000), "0.5", 0),
            ("Invested", json!(40000), "0.5", 100),
            ("Unknown", Value::Null, "0.9", 100),
            ("Best", json!(40000), "0.9", 0),
        ] {
            let body = json!({"name": name, "stage": "seed", "reserve_exit_moic_bps": bps, "exit_probability": p, "planned_reserves_cents": planned});
            ids.push(
                app.created(&format!("/api/v1/funds/{fund}/companies"), &body)
                    .await,
            );
        }
        // "Invested" ties "Even" on value (2.0) and wins on invested.
        let investment = app.investment(fund, ids[2]).await;
        let lot = json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "10", "acquired_on": "2024-01-01"});
        let path = format!("/api/v1/funds/{fund}/investments/{investment}/lots");
        let created = app.post(&path, &app.admin, &lot, None).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let body: Value = app
            .get_as(
                &format!("/api/v1/funds/{fund}/reserves/rankings"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        let order: Vec<i64> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["company_id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            order,
            vec![ids[4], ids[2], ids[1], ids[0], ids[3]],
            "[{backend:?}] Best 3.6, Invested 2.0 (1000 cents in), Even 2.0, Low 1.0, Unknown"
        );
        assert_eq!(body["data"][0]["allocation_score"], "3.600000");
        assert_eq!(
            body["data"][0]["exit_moic_on_planned_reserves"],
            Value::Null
        );
        assert_eq!(body["data"][1]["invested_cents"], 1000);
        assert_eq!(body["data"][1]["exit_moic_on_planned_reserves"], "2.000000");
        assert_eq!(body["data"][1]["rank"], 2);
        assert_eq!(body["data"][4]["allocation_score"], Value::Null);
    }
}

/// The one reader of a fund's state (for `GET /moic`, the rankings and snapshots alike) sees exactly the
/// fund's own rows, with their exact decimals and awkward names, in a deterministic order.
#[tokio::test]
async fn the_fund_state_reader_loads_exactly_the_funds_own_rows() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let other_fund = app.fund("Other").await;
        let acme = app.company(fund, "Acme \"quoted\" ✓").await;
        let beta = app.company(fund, "Beta").await;
        let other = app.company(other_fund, "Elsewhere").await;
        patch_company(&app, fund, beta, json!({"current_share_price_cents": 12345, "marked_at": "2024-01-01T00:00:00Z", "exit_moic_bps": 30000, "exit_probability": "0.123456"})).await;
        let acme_seed = app.investment(fund, acme).await;
        let acme_a = app.investment(fund, acme).await;
        let beta_seed = app.investment(fund, beta).await;
        let other_inv = app.investment(other_fund, other).await;
        let lots = [
            (fund, acme_seed, "initial", 100, "0.00000001", "1999-12-31"),
            (
                fund,
                acme_seed,
                "follow_on",
                250,
                "1234567.89012345",
                "2000-01-01",
            ),
            (
                fund,
                acme_a,
                "secondary",
                1,
                "9999999.99999999",
                "2024-02-29",
            ),
            (fund, beta_seed, "conversion", 99999, "42", "2031-07-04"),
            (fund, beta_seed, "initial", 100, "100", "2024-01-01"),
            (other_fund, other_inv, "initial", 100, "5", "2024-01-01"),
        ];
        for (f, inv, kind, price, shares, on) in lots {
            let body = json!({"lot_type": kind, "share_price_cents": price, "shares_acquired": shares, "acquired_on": on});
            app.lot(f, inv, &body).await;
        }
        for body in [
            json!({"company_id": acme, "distributed_on": "2025-01-01", "amount_cents": 60000, "kind": "partial_sale", "shares_sold": "0.5"}),
            json!({"company_id": beta, "distributed_on": "2025-06-30", "amount_cents": 1234, "kind": "dividend"}),
        ] {
            let r = app
                .post(
                    &format!("/api/v1/funds/{fund}/distributions"),
                    &app.admin,
                    &body,
                    None,
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED, "[{backend:?}]");
        }

        let by_query = service::fund_state::load_state(app.db.conn(), fund)
            .await
            .unwrap();
        assert_eq!(
            by_query.lots.len(),
            5,
            "[{backend:?}] only the fund's own lots"
        );
        assert_eq!(by_query.companies.len(), 2);
        assert_eq!(by_query.distributions.len(), 2);
        // Lots in id order, whatever order the database returns them in: equal states, equal inputs.
        let ids: Vec<_> = by_query.lots.iter().map(|l| l.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "[{backend:?}]");
        assert_eq!(
            by_query.companies[0].name, "Acme \"quoted\" ✓",
            "[{backend:?}]"
        );
        assert_eq!(
            serde_json::to_value(&by_query.companies[1]).unwrap()["exit_probability"],
            "0.123456",
            "[{backend:?}]"
        );
        let tiny = by_query
            .lots
            .iter()
            .find(|l| l.acquired_on.to_string() == "1999-12-31")
            .unwrap();
        assert_eq!(tiny.shares.to_string(), "0.00000001", "[{backend:?}]");
        assert_eq!(tiny.company_id, acme);

        // A fund that does not exist is a 404.
        assert!(matches!(
            service::fund_state::load_state(app.db.conn(), 999_999).await,
            Err(service::Error::NotFound { .. })
        ));
    }
}

#[tokio::test]
async fn computed_metrics_are_reused_while_the_fund_is_unchanged_and_recomputed_after_any_write() {
    use std::sync::Arc;
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let svc = service::Service::new(
            app.db.db.clone(),
            24,
            service::matrices::FirstTier::memory(1 << 20),
            std::sync::Arc::new(api::replies::Replies),
        );
        let admin = service::auth::Principal {
            key_id: uuid::Uuid::now_v7(),
            role: service::entity::api_key::Role::Admin,
            funds: Vec::new(),
        };
        let fund = app.fund("Fund I").await;
        let company = app.company(fund, "Acme").await;
        let investment = app.investment(fund, company).await;
        let lots = format!("/api/v1/funds/{fund}/investments/{investment}/lots");
        let lot = json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "10", "acquired_on": "2024-02-01"});
        app.post(&lots, &app.admin, &lot, None).await;
        let moic = || service::metrics::fund_moic(&svc, &admin, fund, None);
        let first = moic().await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &moic().await.unwrap()),
            "[{backend:?}] reused"
        );

        // Every kind of write is seen: a lot, a company's mark, an investment, a distribution, the fund.
        let writes: Vec<(&str, reqwest::Method, String, Value, Option<&str>)> = vec![
            (
                "a lot",
                reqwest::Method::POST,
                lots.clone(),
                lot.clone(),
                None,
            ),
            (
                "a mark",
                reqwest::Method::PATCH,
                format!("/api/v1/funds/{fund}/companies/{company}"),
                json!({"current_share_price_cents": 250}),
                Some("\"1\""),
            ),
            (
                "an investment",
                reqwest::Method::PATCH,
                format!("/api/v1/funds/{fund}/investments/{investment}"),
                json!({"round_name": "Seed II"}),
                Some("\"1\""),
            ),
            (
                "a distribution",
                reqwest::Method::POST,
                format!("/api/v1/funds/{fund}/distributions"),
                json!({"company_id": company, "distributed_on": "2024-06-01", "amount_cents": 100, "kind": "dividend"}),
                None,
            ),
            (
                "the fund",
                reqwest::Method::PATCH,
                format!("/api/v1/funds/{fund}"),
                json!({"name": "Fund I bis"}),
                Some("\"1\""),
            ),
        ];
        let mut before = first;
        for (what, method, path, body, if_match) in writes {
            let mut request = app
                .client
                .request(method, app.url(&path))
                .bearer_auth(&app.admin)
                .json(&body);
            if let Some(v) = if_match {
                request = request.header("If-Match", v);
            }
            let status = request.send().await.unwrap().status();
            assert!(status.is_success(), "[{backend:?}] {what}: {status}");
            let after = moic().await.unwrap();
            assert!(
                !Arc::ptr_eq(&before, &after),
                "[{backend:?}] {what} is seen"
            );
            assert!(
                Arc::ptr_eq(&after, &moic().await.unwrap()),
                "[{backend:?}] then reused"
            );
            before = after;
        }
        assert_eq!(before.fund.invested_cents, 2_000);
        assert_eq!(before.fund.realized_cents, 100);
    }
}
