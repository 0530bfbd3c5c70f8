//! The portfolio resources over real HTTP: create, read, page through, update with ETags, and the rules
//! of authentication and fund scope (SPEC §2, §5, §12, §13).

use reqwest::StatusCode;
use serde_json::{Value, json};
use service::entity::api_key::Role;
use updog_tests::{TestApp, backends, id_of};

#[tokio::test]
async fn a_client_creates_a_fund_company_investment_and_lots_and_pages_through_them() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        let company = app.company(fund, "Acme").await;
        let investment = app.investment(fund, company).await;
        let lots = format!("/api/v1/funds/{fund}/investments/{investment}/lots");
        let mut created = Vec::new();
        for (i, kind) in [
            "initial",
            "follow_on",
            "follow_on",
            "secondary",
            "conversion",
        ]
        .iter()
        .enumerate()
        {
            let body = json!({"lot_type": kind, "share_price_cents": 100 + i, "shares_acquired": "1.5", "acquired_on": "2024-02-01"});
            let response = app.post(&lots, &app.admin, &body, None).await;
            assert_eq!(response.status(), StatusCode::CREATED, "[{backend:?}]");
            let lot: Value = response.json().await.unwrap();
            assert_eq!(lot["fund_id"], fund);
            created.push(lot["id"].as_str().unwrap().to_owned());
        }

        // Page through two at a time: newest first, no repeats, no gaps, then a null cursor.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/api/v1/funds/{fund}/lots?limit=2");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page: Value = app.get_as(&path, &app.admin).await.json().await.unwrap();
            pages += 1;
            for lot in page["data"].as_array().unwrap() {
                seen.push(lot["id"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3, "[{backend:?}]");
        created.reverse();
        assert_eq!(seen, created, "[{backend:?}] newest first, each lot once");

        // Filters parse from the query string.
        let follow_ons: Value = app
            .get_as(
                &format!("/api/v1/funds/{fund}/lots?lot_type=follow_on&investment_id={investment}"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            follow_ons["data"].as_array().unwrap().len(),
            2,
            "[{backend:?}]"
        );

        // The other resources read back as written.
        let got: Value = app
            .get_as(
                &format!("/api/v1/funds/{fund}/lots/{}", created[0]),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(got["lot_type"], "conversion");
        assert_eq!(got["shares_acquired"], "1.50000000");
        assert_eq!(got["cost_basis_cents"], 156); // 104 × 1.5 = 156
        let investments: Value = app
            .get_as(&format!("/api/v1/funds/{fund}/investments"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(investments["data"][0]["id"], investment);
        let companies: Value = app
            .get_as(&format!("/api/v1/funds/{fund}/companies"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(companies["data"][0]["name"], "Acme");

        let distribution = json!({"company_id": company, "distributed_on": "2025-01-01", "amount_cents": 5000, "kind": "partial_sale", "shares_sold": "0.5"});
        let response = app
            .post(
                &format!("/api/v1/funds/{fund}/distributions"),
                &app.admin,
                &distribution,
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let listed: Value = app
            .get_as(&format!("/api/v1/funds/{fund}/distributions"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["data"][0]["shares_sold"], "0.50000000");
        assert_eq!(listed["data"][0]["amount_cents"], 5000);
    }
}

#[tokio::test]
async fn the_lot_list_never_shows_another_funds_lots() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let body = json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "1", "acquired_on": "2024-02-01"});
        let mut ids = Vec::new();
        for name in ["One", "Two"] {
            let fund = app.fund(name).await;
            let company = app.company(fund, "Co").await;
            let investment = app.investment(fund, company).await;
            let lot = app.lot(fund, investment, &body).await;
            ids.push((fund, investment, lot["id"].as_str().unwrap().to_owned()));
        }
        let (one, _, one_lot) = &ids[0];
        let (_, two_investment, two_lot) = &ids[1];

        let listed: Value = app
            .get_as(&format!("/api/v1/funds/{one}/lots"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        let listed: Vec<&str> = listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            listed,
            vec![one_lot.as_str()],
            "[{backend:?}] only fund one's lot"
        );

        // Filtering fund one's lots by fund two's investment finds nothing, not fund two's lot.
        let filtered: Value = app
            .get_as(
                &format!("/api/v1/funds/{one}/lots?investment_id={two_investment}"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(filtered["data"], json!([]), "[{backend:?}]");

        // Fund two's lot addressed under fund one does not exist.
        let response = app
            .get_as(&format!("/api/v1/funds/{one}/lots/{two_lot}"), &app.admin)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "[{backend:?}]");

        // Creating a lot under fund one for fund two's investment: not found, nothing written.
        let response = app
            .post(
                &format!("/api/v1/funds/{one}/investments/{two_investment}/lots"),
                &app.admin,
                &body,
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "[{backend:?}]");
        assert_eq!(app.db.count("investment_lots").await, 2);
    }
}

#[tokio::test]
async fn keys_are_checked_before_anything_else_and_scoped_to_their_funds() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let mine = app.fund("Mine").await;
        let theirs = app.fund("Theirs").await;
        let writer = app.key(Role::Writer, &[mine]).await;
        let reader = app.key(Role::Reader, &[mine]).await;

        let missing = app.get("/api/v1/funds").await;
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED, "[{backend:?}]");
        assert!(
            missing.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let unknown = app.get_as("/api/v1/funds", "updog_not-a-real-key").await;
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

        // Lists show only in-scope funds.
        let listed: Value = app
            .get_as("/api/v1/funds", &writer)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["data"].as_array().unwrap().len(), 1);
        assert_eq!(listed["data"][0]["id"], mine);
        let all: Value = app
            .get_as("/api/v1/funds", &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(all["data"].as_array().unwrap().len(), 2);

        // Outside the scope: 403 on fund paths.
        assert_eq!(
            app.get_as(&format!("/api/v1/funds/{theirs}"), &writer)
                .await
                .status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.get_as(&format!("/api/v1/funds/{theirs}/lots"), &reader)
                .await
                .status(),
            StatusCode::FORBIDDEN
        );

        // A reader reads but does not write; a writer writes its fund.
        let company = json!({"name": "Acme", "stage": "seed"});
        let path = format!("/api/v1/funds/{mine}/companies");
        assert_eq!(app.get_as(&path, &reader).await.status(), StatusCode::OK);
        assert_eq!(
            app.post(&path, &reader, &company, None).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.post(&path, &writer, &company, None).await.status(),
            StatusCode::CREATED
        );
        // Only an admin creates funds.
        let fund = json!({"name": "New", "size_cents": 1, "vintage_year": 2025});
        assert_eq!(
            app.post("/api/v1/funds", &writer, &fund, None)
                .await
                .status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(app.db.count("funds").await, 2);
    }
}

#[tokio::test]
async fn an_admin_mints_lists_and_revokes_keys_over_the_api() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let response = app
            .post(
                "/api/v1/api-keys",
                &app.admin,
                &json!({"name": "analyst", "role": "reader", "fund_ids": [fund]}),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "[{backend:?}]");
        let created: Value = response.json().await.unwrap();
        let secret = created["key"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("updog_") && secret.len() >= 40);
        assert_eq!(created["fund_ids"], json!([fund]));
        assert_eq!(
            app.get_as(&format!("/api/v1/funds/{fund}"), &secret)
                .await
                .status(),
            StatusCode::OK
        );

        let listed: Value = app
            .get_as("/api/v1/api-keys", &app.admin)
            .await
            .json()
            .await
            .unwrap();
        let text = listed.to_string();
        assert!(!text.contains(&secret), "a listing never shows a secret");
        assert_eq!(listed["data"].as_array().unwrap().len(), 2);
        // Readers cannot manage keys.
        assert_eq!(
            app.get_as("/api/v1/api-keys", &secret).await.status(),
            StatusCode::FORBIDDEN
        );

        let id = created["id"].as_str().unwrap();
        let revoke = app
            .client
            .delete(app.url(&format!("/api/v1/api-keys/{id}")))
            .bearer_auth(&app.admin);
        assert_eq!(
            revoke.try_clone().unwrap().send().await.unwrap().status(),
            StatusCode::PRECONDITION_REQUIRED
        );
        let revoked = revoke.header("If-Match", "\"1\"").send().await.unwrap();
        assert_eq!(revoked.status(), StatusCode::NO_CONTENT, "[{backend:?}]");
        assert_eq!(
            app.get_as(&format!("/api/v1/funds/{fund}"), &secret)
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn updates_need_the_current_etag_in_if_match() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let path = format!("/api/v1/funds/{fund}");
        let response = app.get_as(&path, &app.admin).await;
        assert_eq!(response.headers()["etag"], "\"1\"", "[{backend:?}]");

        let patch = |if_match: Option<&str>| {
            let mut request = app
                .client
                .patch(app.url(&path))
                .bearer_auth(&app.admin)
                .json(&json!({"name": "Renamed"}));
            if let Some(v) = if_match {
                request = request.header("If-Match", v);
            }
            request.send()
        };
        let missing = patch(None).await.unwrap();
        assert_eq!(
            missing.status(),
            StatusCode::PRECONDITION_REQUIRED,
            "[{backend:?}]"
        );
        let malformed = patch(Some("\"one\"")).await.unwrap();
        assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
        // A bare version number is read as the version (the schema's pattern allows it).
        let bare_but_stale = patch(Some("7")).await.unwrap();
        assert_eq!(bare_but_stale.status(), StatusCode::PRECONDITION_FAILED);
        let stale = patch(Some("\"7\"")).await.unwrap();
        assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
        let problem: Value = stale.json().await.unwrap();
        assert_eq!(problem["code"], "version_conflict");
        assert_eq!(problem["current_version"], 1);

        let ok = patch(Some("\"1\"")).await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK, "[{backend:?}]");
        assert_eq!(ok.headers()["etag"], "\"2\"");
        let body: Value = ok.json().await.unwrap();
        assert_eq!(body["name"], "Renamed");
        assert_eq!(body["version"], 2);

        // The same version twice: the second loses.
        assert_eq!(
            patch(Some("\"1\"")).await.unwrap().status(),
            StatusCode::PRECONDITION_FAILED
        );

        // A missing resource is 404, not 412.
        let company = app.company(fund, "Acme").await;
        let gone = app
            .client
            .delete(app.url(&format!("/api/v1/funds/{fund}/companies/{}", company + 100)))
            .bearer_auth(&app.admin)
            .header("If-Match", "\"1\"")
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        let deleted = app
            .client
            .delete(app.url(&format!("/api/v1/funds/{fund}/companies/{company}")))
            .bearer_auth(&app.admin)
            .header("If-Match", "\"1\"")
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.db.count("portfolio_companies").await, 0);
    }
}

#[tokio::test]
async fn a_company_patch_sets_marks_and_clears_nullable_fields() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let created = app
            .post(
                &format!("/api/v1/funds/{fund}/companies"),
                &app.admin,
                &json!({"name": "Acme", "stage": "series_a", "sector": "fintech", "exit_moic_bps": 40000, "exit_probability": "0.8"}),
                None,
            )
            .await;
        let company = id_of(created).await;
        let path = format!("/api/v1/funds/{fund}/companies/{company}");
        let response = app
            .client
            .patch(app.url(&path))
            .bearer_auth(&app.admin)
            .header("If-Match", "\"1\"")
            .json(&json!({"sector": null, "current_share_price_cents": 1250, "exit_probability": "0.25"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "[{backend:?}]");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["sector"], Value::Null);
        assert_eq!(body["current_share_price_cents"], 1250);
        assert_eq!(body["exit_probability"], "0.250000");
        assert_eq!(body["exit_moic_bps"], 40000, "untouched fields stay");
        assert_eq!(body["stage"], "series_a");

        // Names are unique within a fund.
        let duplicate = app
            .post(
                &format!("/api/v1/funds/{fund}/companies"),
                &app.admin,
                &json!({"name": "Acme", "stage": "seed"}),
                None,
            )
            .await;
        assert_eq!(duplicate.status(), StatusCode::CONFLICT, "[{backend:?}]");
        let problem: Value = duplicate.json().await.unwrap();
        assert_eq!(problem["code"], "company_name_taken");
    }
}

/// JSON (and the schema's `integer`) do not tell `2.0` from `2`: an integral number written with a
/// fraction or an exponent is accepted as that integer.
#[tokio::test]
async fn an_integral_number_written_as_a_float_is_taken_as_the_integer() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let body: Value = serde_json::from_str(
            r#"{"name": "Floaty", "size_cents": 2.5e3, "vintage_year": 2024.0}"#,
        )
        .unwrap();
        let response = app.post("/api/v1/funds", &app.admin, &body, None).await;
        assert_eq!(response.status(), StatusCode::CREATED, "[{backend:?}]");
        let fund: Value = response.json().await.unwrap();
        assert_eq!(fund["size_cents"], 2500);
        assert_eq!(fund["vintage_year"], 2024);
        let fractional: Value =
            serde_json::from_str(r#"{"name": "Half", "size_cents": 2.5, "vintage_year": 2024}"#)
                .unwrap();
        let response = app
            .post("/api/v1/funds", &app.admin, &fractional, None)
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "[{backend:?}]");
    }
}

/// A fund's distributions summarised: none at first (a count of 0, a total of 0, no dates); then the
/// count, the total to the cent and the first and last dates of three; another fund's summary is not
/// the caller's to read, and a fund that does not exist is not found.
#[tokio::test]
async fn a_funds_distributions_are_summarised_by_count_total_and_first_and_last_date() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let company = app.company(fund, "Acme").await;
        // Distributions come from shares held (SPEC §6.1a): a lot before the first of them.
        let investment = app.investment(fund, company).await;
        app.lot(
            fund,
            investment,
            &json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "10", "acquired_on": "2024-01-01"}),
        )
        .await;
        let summary = format!("/api/v1/funds/{fund}/distributions/summary");
        let read =
            async || -> Value { app.get_as(&summary, &app.admin).await.json().await.unwrap() };
        assert_eq!(
            read().await,
            json!({"count": 0, "total_cents": 0, "first_on": null, "last_on": null}),
            "[{backend:?}]"
        );

        for (on, cents) in [
            ("2025-06-30", 12_345),
            ("2024-01-15", 5_000),
            ("2025-12-31", 1),
        ] {
            let body = json!({"company_id": company, "distributed_on": on, "amount_cents": cents, "kind": "dividend"});
            let path = format!("/api/v1/funds/{fund}/distributions");
            let created = app.post(&path, &app.admin, &body, None).await;
            assert_eq!(created.status(), StatusCode::CREATED, "[{backend:?}]");
        }
        assert_eq!(
            read().await,
            json!({"count": 3, "total_cents": 17_346, "first_on": "2024-01-15", "last_on": "2025-12-31"}),
            "[{backend:?}]"
        );

        let other = app.fund("Other").await;
        let stranger = app.key(Role::Reader, &[other]).await;
        assert_eq!(
            app.get_as(&summary, &stranger).await.status(),
            StatusCode::FORBIDDEN,
            "[{backend:?}]"
        );
        let missing = app
            .get_as("/api/v1/funds/999999/distributions/summary", &app.admin)
            .await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "[{backend:?}]");
    }
}
