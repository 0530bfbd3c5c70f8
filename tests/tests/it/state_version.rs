//! The fund state version (issue #25): every kind of write to a fund's rows moves it in its own
//! transaction, whoever writes (the API or SQL typed by hand), reads and refused writes do not, and a
//! reader in another process sees a write at once; a recompute waits at the gate of heavy calculations,
//! an unchanged fund does not; a forecast of an unchanged fund takes its state by the version alone.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::Backend;
use updog_tests::{TestApp, backends};

async fn state_version(app: &TestApp, fund: i64) -> i64 {
    versions(app, fund).await.0
}

/// The fund's state and holdings versions.
async fn versions(app: &TestApp, fund: i64) -> (i64, i64) {
    let rows = app
        .db
        .query(&format!(
            "SELECT state_version, holdings_version FROM funds WHERE id = {fund}"
        ))
        .await;
    let get = |c: &str| rows[0].try_get::<i64>("", c).expect("a version");
    (get("state_version"), get("holdings_version"))
}

/// The resource's `ETag`, for an `If-Match` (none for resources that have no version).
async fn etag(app: &TestApp, path: &str) -> Option<String> {
    let response = app.get_as(path, &app.admin).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response
        .headers()
        .get("etag")
        .map(|v| v.to_str().expect("an ASCII ETag").to_owned())
}

/// Sends one write and asserts it succeeded and moved the fund's version, and its holdings version
/// exactly when `what` names an investment or a lot; returns its body.
async fn write_moves_the_version(
    app: &TestApp,
    fund: i64,
    what: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let (before, holdings_before) = versions(app, fund).await;
    let if_match = if method == Method::PATCH || method == Method::DELETE {
        etag(app, path).await
    } else {
        None
    };
    let response = app
        .send(method, path, &app.admin, if_match.as_deref(), body.as_ref())
        .await;
    let status = response.status();
    let text = response.text().await.expect("a body");
    assert!(status.is_success(), "{what}: {status} {text}");
    let (after, holdings_after) = versions(app, fund).await;
    assert!(
        after > before,
        "{what} moves the state version ({before} → {after})"
    );
    let of_holdings = what.contains("investment") || what.contains("lot");
    assert_eq!(
        holdings_after > holdings_before,
        of_holdings,
        "{what} moves the holdings version ({holdings_before} → {holdings_after}) only if it \
         writes investments or lots"
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn id(v: &Value) -> String {
    match &v["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn every_kind_of_write_to_a_funds_rows_moves_its_state_version_and_reads_do_not() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        let f = format!("/api/v1/funds/{fund}");
        assert_eq!(
            state_version(&app, fund).await,
            1,
            "[{backend:?}] a new fund"
        );
        let other = app.fund("Fund II").await;

        let w = |what: &'static str, method: Method, path: String, body: Option<Value>| {
            let app = &app;
            async move {
                write_moves_the_version(
                    app,
                    fund,
                    &format!("[{backend:?}] {what}"),
                    method,
                    &path,
                    body,
                )
                .await
            }
        };
        let company = w(
            "a new company",
            Method::POST,
            format!("{f}/companies"),
            Some(json!({"name": "Acme", "stage": "seed"})),
        )
        .await;
        let company = id(&company);
        let c = format!("{f}/companies/{company}");
        w(
            "a company's update",
            Method::PATCH,
            c.clone(),
            Some(json!({"name": "Acme Inc"})),
        )
        .await;
        let mark = w(
            "a new mark",
            Method::POST,
            format!("{c}/marks"),
            Some(json!({"marked_on": "2024-03-01", "share_price_cents": 300, "source": "round"})),
        )
        .await;
        w(
            "a mark's deletion",
            Method::DELETE,
            format!("{c}/marks/{}", id(&mark)),
            None,
        )
        .await;
        let investment = w(
            "a new investment",
            Method::POST,
            format!("{f}/investments"),
            Some(json!({"company_id": company.parse::<i64>().unwrap(), "round_name": "Seed", "invested_on": "2024-01-15"})),
        )
        .await;
        let i = format!("{f}/investments/{}", id(&investment));
        w(
            "an investment's update",
            Method::PATCH,
            i.clone(),
            Some(json!({"round_name": "Seed II"})),
        )
        .await;
        let lot = w(
            "a new lot",
            Method::POST,
            format!("{i}/lots"),
            Some(json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "10", "acquired_on": "2024-02-01"})),
        )
        .await;
        let distribution = w(
            "a new distribution",
            Method::POST,
            format!("{f}/distributions"),
            Some(json!({"company_id": company.parse::<i64>().unwrap(), "distributed_on": "2024-06-01", "amount_cents": 100, "kind": "dividend"})),
        )
        .await;
        w(
            "a distribution's deletion",
            Method::DELETE,
            format!("{f}/distributions/{}", id(&distribution)),
            None,
        )
        .await;
        w(
            "a reserve plan",
            Method::PUT,
            format!("{f}/reserve-plan"),
            Some(json!({"expected_version": 1, "updates": [{"company_id": company.parse::<i64>().unwrap(), "planned_reserves_cents": 1000}]})),
        )
        .await;
        w(
            "the fund's terms",
            Method::PATCH,
            f.clone(),
            Some(json!({"term_years": 12})),
        )
        .await;
        w(
            "a lot's deletion",
            Method::DELETE,
            format!("{f}/lots/{}", id(&lot)),
            None,
        )
        .await;

        // Reads and refused writes leave it where it is.
        let before = state_version(&app, fund).await;
        for path in [
            format!("{f}/moic"),
            format!("{f}/returns"),
            format!("{f}/reserves/rankings"),
            c.clone(),
        ] {
            let status = app.get_as(&path, &app.admin).await.status();
            assert_eq!(status, StatusCode::OK, "[{backend:?}] GET {path}");
        }
        let refused = app
            .post(&format!("{i}/lots"), &app.admin, &json!({"lot_type": "initial", "share_price_cents": -1, "shares_acquired": "10", "acquired_on": "2024-02-01"}), None)
            .await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "[{backend:?}]"
        );
        assert_eq!(
            state_version(&app, fund).await,
            before,
            "[{backend:?}] reads and a refused write"
        );

        w("an investment's deletion", Method::DELETE, i.clone(), None).await;
        w("a company's deletion", Method::DELETE, c.clone(), None).await;
        assert_eq!(
            state_version(&app, other).await,
            1,
            "[{backend:?}] another fund is untouched"
        );
    }
}

#[tokio::test]
async fn a_write_typed_in_sql_moves_the_version_once_per_transaction_on_postgresql() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        app.company(fund, "Acme").await;
        app.company(fund, "Beta").await;
        let before = state_version(&app, fund).await;
        app.db
            .exec(&format!(
                "UPDATE portfolio_companies SET name = name || ' Ltd' WHERE fund_id = {fund}"
            ))
            .await
            .expect("an update of two companies");
        let moved = state_version(&app, fund).await - before;
        match backend {
            // Deferred to the commit and raised once per fund and transaction.
            Backend::Postgres => assert_eq!(moved, 1),
            // A trigger per row.
            Backend::Sqlite => assert_eq!(moved, 2),
        }
        // A company, then two lots, in one transaction: the holdings move (once, on PostgreSQL)
        // although the state had moved already in that transaction.
        let company = app.company(fund, "Gamma").await;
        let investment = app.investment(fund, company).await;
        for day in ["2024-01-15", "2024-02-15"] {
            app.lot(fund, investment, &json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "10", "acquired_on": day})).await;
        }
        let (state, holdings) = versions(&app, fund).await;
        app.db
            .exec(&format!(
                "BEGIN; UPDATE portfolio_companies SET name = 'Gamma Ltd' WHERE id = {company}; \
                 UPDATE investment_lots SET cost_basis_cents = cost_basis_cents + 1 \
                 WHERE fund_id = {fund}; COMMIT;"
            ))
            .await
            .expect("a company and two lots");
        let (state_after, holdings_after) = versions(&app, fund).await;
        assert!(state_after > state, "[{backend:?}]");
        match backend {
            Backend::Postgres => assert_eq!(holdings_after - holdings, 1),
            Backend::Sqlite => assert_eq!(holdings_after - holdings, 2),
        }
    }
}

#[tokio::test]
async fn a_write_through_one_process_is_seen_at_once_by_the_reused_figures_of_another() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let p = app.portfolio().await;
        let other = app.another_process().await;
        let moic = |base: String| {
            let app = &app;
            async move {
                let response = app
                    .client
                    .get(format!(
                        "{base}/api/v1/funds/{}/moic?as_of=2025-01-01",
                        p.fund
                    ))
                    .bearer_auth(&app.admin)
                    .send()
                    .await
                    .expect("GET /moic");
                assert_eq!(response.status(), StatusCode::OK);
                response.json::<Value>().await.expect("JSON")["fund"]["invested_cents"]
                    .as_i64()
                    .expect("invested_cents")
            }
        };
        let here = format!("http://{}", app.address);
        // Both processes compute and keep the figures of this state.
        assert_eq!(moic(here.clone()).await, 300_000, "[{backend:?}]");
        assert_eq!(moic(other.clone()).await, 300_000, "[{backend:?}]");
        // A lot written through the other process.
        let investment = app.investment(p.fund, p.acme).await;
        let response = app
            .client
            .post(format!("{other}/api/v1/funds/{}/investments/{investment}/lots", p.fund))
            .bearer_auth(&app.admin)
            .json(&json!({"lot_type": "initial", "share_price_cents": 200, "shares_acquired": "500", "acquired_on": "2024-06-01"}))
            .send()
            .await
            .expect("POST a lot");
        assert_eq!(response.status(), StatusCode::CREATED, "[{backend:?}]");
        assert_eq!(
            moic(here).await,
            400_000,
            "[{backend:?}] this process sees it"
        );
        assert_eq!(moic(other).await, 400_000, "[{backend:?}] and the writer's");
    }
}

#[tokio::test]
async fn a_full_gate_refuses_a_recompute_at_once_but_still_answers_an_unchanged_fund() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let mut svc = service::Service::new(
            app.db.db.clone(),
            24,
            service::matrices::FirstTier::memory(1 << 20),
            std::sync::Arc::new(api::replies::Replies),
        );
        // One calculation at a time, none waiting.
        svc.heavy = service::heavy::HeavyGate::new(1, 0);
        let admin = service::auth::Principal {
            key_id: uuid::Uuid::now_v7(),
            role: service::entity::api_key::Role::Admin,
            funds: Vec::new(),
        };
        let p = app.portfolio().await;
        let moic = || service::metrics::fund_moic(&svc, &admin, p.fund, None);
        let computed = moic().await.expect("computed while the gate is free");

        let running = svc
            .heavy
            .enter("another calculation")
            .await
            .expect("the one permit");
        let reused = moic()
            .await
            .expect("an unchanged fund needs no calculation");
        assert!(std::sync::Arc::ptr_eq(&computed, &reused), "[{backend:?}]");
        app.lot(
            p.fund,
            app.investment(p.fund, p.acme).await,
            &json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "1", "acquired_on": "2024-03-01"}),
        )
        .await;
        let refused = moic().await;
        assert!(
            matches!(
                refused,
                Err(service::Error::Busy {
                    what: "the MOIC calculation",
                    retry_after_secs: 1
                })
            ),
            "[{backend:?}] {refused:?}"
        );
        drop(running);
        assert_eq!(
            moic()
                .await
                .expect("computed once the gate is free")
                .fund
                .invested_cents,
            300_100,
            "[{backend:?}]"
        );
    }
}

#[tokio::test]
async fn a_forecast_of_an_unchanged_fund_takes_its_state_by_version_without_reading_the_rows() {
    use crate::forecasts::{matrix_config, post_forecast, two_company_fund};
    use crate::matrices::create as create_matrix;
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, _, seed_co) = two_company_fund(&app, "Fund").await;
        let (_, matrix) = create_matrix(&app, fund, &matrix_config(20)).await;
        let body = json!({"matrix_key": matrix["matrix_key"], "as_of": "2024-12-31"});
        let first = post_forecast(&app, fund, &body).await;
        assert_eq!(first.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        let first: Value = first.json().await.expect("a forecast");
        if backend == Backend::Postgres {
            // A row changed behind the triggers' back (replication mode) leaves the version where it
            // was, and so the next forecast's inputs: the state read for this version is taken again,
            // the fund's rows are not read (or its source hash would differ, and a new forecast begin).
            app.db
                .exec(&format!(
                    "BEGIN; SET LOCAL session_replication_role = replica; \
                     UPDATE investment_lots SET shares_acquired = 2 * shares_acquired \
                     WHERE fund_id = {fund}; COMMIT;"
                ))
                .await
                .expect("an update the triggers do not see");
            let again = post_forecast(
                &app,
                fund,
                &json!({"matrix_key": body["matrix_key"], "as_of": "2024-12-31", "name": "Again"}),
            )
            .await;
            assert_eq!(again.status(), StatusCode::OK);
            assert_eq!(
                again.json::<Value>().await.expect("a forecast")["id"],
                first["id"]
            );
        }
        // A write through the API moves the version: the next forecast reads the rows again.
        write_moves_the_version(
            &app,
            fund,
            "a mark",
            Method::POST,
            &format!("/api/v1/funds/{fund}/companies/{seed_co}/marks"),
            Some(json!({"marked_on": "2024-06-30", "share_price_cents": 150, "source": "round"})),
        )
        .await;
        let after = post_forecast(&app, fund, &body).await;
        assert_eq!(after.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        let after: Value = after.json().await.expect("a forecast");
        assert_ne!(after["id"], first["id"]);
        assert_eq!(app.db.count("fund_forecasts").await, 2);
    }
}

#[tokio::test]
async fn a_write_that_leaves_the_holdings_alone_is_computed_with_the_lots_read_before() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let p = app.portfolio().await;
        let fund_figures = || async {
            let response = app
                .get_as(
                    &format!("/api/v1/funds/{}/moic?as_of=2025-01-01", p.fund),
                    &app.admin,
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            let fund = &response.json::<Value>().await.expect("JSON")["fund"];
            (
                fund["invested_cents"].as_i64().expect("invested"),
                fund["realized_cents"].as_i64().expect("realized"),
            )
        };
        assert_eq!(fund_figures().await, (300_000, 0), "[{backend:?}]");
        let hidden = backend == Backend::Postgres;
        if hidden {
            // The lots' cost doubled behind the triggers' back: neither version moves.
            app.db
                .exec(&format!(
                    "BEGIN; SET LOCAL session_replication_role = replica; \
                     UPDATE investment_lots SET cost_basis_cents = 2 * cost_basis_cents \
                     WHERE fund_id = {}; COMMIT;",
                    p.fund
                ))
                .await
                .expect("an update the triggers do not see");
        }
        // A distribution moves the state, not the holdings: it is counted, and the lots are those
        // read before (the doubled cost is not seen).
        write_moves_the_version(
            &app,
            p.fund,
            "a distribution",
            Method::POST,
            &format!("/api/v1/funds/{}/distributions", p.fund),
            Some(json!({"company_id": p.acme, "distributed_on": "2024-06-01", "amount_cents": 5000, "kind": "dividend"})),
        )
        .await;
        assert_eq!(fund_figures().await, (300_000, 5000), "[{backend:?}]");
        // A lot moves both: the lots are read again, the hidden change with them.
        let investment = app.investment(p.fund, p.acme).await;
        write_moves_the_version(
            &app,
            p.fund,
            "a lot",
            Method::POST,
            &format!("/api/v1/funds/{}/investments/{investment}/lots", p.fund),
            Some(json!({"lot_type": "initial", "share_price_cents": 200, "shares_acquired": "500", "acquired_on": "2024-06-01"})),
        )
        .await;
        let invested = if hidden { 700_000 } else { 400_000 };
        assert_eq!(fund_figures().await, (invested, 5000), "[{backend:?}]");
    }
}
