//! Exactly once on every creating route (SPEC §4): concurrent requests with one key make one row and
//! one answer, whatever other unique index their rows also collide on; every `Location` leads to the
//! resource; no table ever holds an API key's secret.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use updog_tests::{TestApp, backends};

/// One creating route: where to post, what, and the table its row lands in.
struct Route {
    path: String,
    body: Value,
    table: &'static str,
}

/// Every creating route of the API, on a fund with a company and an investment.
async fn creating_routes(app: &TestApp) -> Vec<Route> {
    let fund = app.fund("Fund I").await;
    let company = app.company(fund, "Acme").await;
    let investment = app.investment(fund, company).await;
    let (_, matrix) = crate::matrices::create(app, fund, &crate::matrices::config(77)).await;
    let matrix_key = matrix["matrix_key"].as_str().unwrap().to_owned();
    let route = |path: String, body: Value, table| Route { path, body, table };
    vec![
        route(
            "/api/v1/funds".into(),
            json!({"name": "Fund II", "size_cents": 5_000_000_000i64, "vintage_year": 2025}),
            "funds",
        ),
        // A company's name is unique in its fund: the losers of the race hit that index too.
        route(
            format!("/api/v1/funds/{fund}/companies"),
            json!({"name": "Beta", "stage": "seed"}),
            "portfolio_companies",
        ),
        route(
            format!("/api/v1/funds/{fund}/investments"),
            json!({"company_id": company, "round_name": "A", "invested_on": "2024-02-01"}),
            "investments",
        ),
        route(
            format!("/api/v1/funds/{fund}/investments/{investment}/lots"),
            json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "10", "acquired_on": "2024-02-01"}),
            "investment_lots",
        ),
        route(
            format!("/api/v1/funds/{fund}/distributions"),
            json!({"company_id": company, "distributed_on": "2024-06-01", "amount_cents": 500, "kind": "dividend"}),
            "distributions",
        ),
        // A snapshot's source hash is unique per fund state: the losers hit that index too.
        route(
            format!("/api/v1/funds/{fund}/snapshots"),
            json!({"name": "Q2"}),
            "forecast_snapshots",
        ),
        // A matrix is keyed by its config too: the losers of the race find it stored.
        route(
            format!("/api/v1/funds/{fund}/scenario-matrices"),
            json!({"taxonomy_version": "v1", "num_scenarios": 100, "seed": 1,
                   "buckets": [{"name": "seed", "capital_allocation_pct": "100", "moic_median": "1.5", "moic_p90": "5"}],
                   "correlation_weights": {"macro": "0.2", "systematic": "0.3", "idiosyncratic": "0.5"}}),
            "scenario_matrices",
        ),
        route(
            format!("/api/v1/scenario-matrices/{matrix_key}/optimizations"),
            json!({"objective": "minimize_risk", "min_expected_moic": 1.2}),
            "optimization_sessions",
        ),
        route(
            "/api/v1/api-keys".into(),
            json!({"name": "analyst", "role": "reader", "fund_ids": [fund]}),
            "api_keys",
        ),
    ]
}

#[tokio::test]
async fn twenty_concurrent_creates_with_one_key_make_one_row_on_every_creating_route() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        for route in creating_routes(&app).await {
            let before = app.db.count(route.table).await;
            let requests = (0..20).map(|_| {
                let (app, route) = (&app, &route);
                async move {
                    let response = app
                        .post(&route.path, &app.admin, &route.body, Some("one-key"))
                        .await;
                    let status = response.status();
                    let replayed = response.headers().contains_key("idempotent-replayed");
                    (status, replayed, response.text().await.unwrap())
                }
            });
            let results = join_all(requests).await;
            let what = format!("[{backend:?}] POST {}", route.path);
            for (status, _, body) in &results {
                assert!(status.is_success(), "{what}: {status} {body}");
            }
            let originals: Vec<_> = results.iter().filter(|(_, r, _)| !r).collect();
            assert_eq!(originals.len(), 1, "{what}: exactly one request executed");
            let replays: Vec<_> = results.iter().filter(|(_, r, _)| *r).collect();
            assert!(
                replays
                    .iter()
                    .all(|(s, _, b)| (*s, b) == (replays[0].0, &replays[0].2)),
                "{what}: every replay is the same recorded response"
            );
            if route.table != "api_keys" {
                // (A key's replay differs from its creation by the secret, which is never recorded.)
                assert_eq!(
                    replays[0].2, originals[0].2,
                    "{what}: replays equal the original"
                );
            }
            assert_eq!(
                app.db.count(route.table).await,
                before + 1,
                "{what}: one row"
            );
        }
    }
}

#[tokio::test]
async fn every_location_a_create_sends_answers_get_with_200() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        for route in creating_routes(&app).await {
            let response = app.post(&route.path, &app.admin, &route.body, None).await;
            assert!(
                response.status().is_success(),
                "[{backend:?}] {}",
                route.path
            );
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            let created: Value = response.json().await.unwrap();
            let got = app.get_as(&location, &app.admin).await;
            assert_eq!(
                got.status(),
                StatusCode::OK,
                "[{backend:?}] GET {location} (from POST {})",
                route.path
            );
            let got: Value = got.json().await.unwrap();
            assert_eq!(got["id"], created["id"], "[{backend:?}] {location}");
        }
    }
}

/// Every text a table holds, one string per row (binary columns read as text), to search for a value
/// that must not be stored anywhere.
async fn every_stored_text(app: &TestApp) -> Vec<String> {
    let postgres = matches!(app.db.db_backend(), sea_orm::DbBackend::Postgres);
    let tables_sql = if postgres {
        "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public'"
    } else {
        "SELECT name AS t FROM sqlite_master WHERE type = 'table'"
    };
    let mut texts = Vec::new();
    for row in app.db.query(tables_sql).await {
        let table: String = row.try_get("", "t").unwrap();
        texts.extend(row_texts(app, &table, postgres).await);
    }
    texts
}

/// The rows of `table` as text: every column cast to text, byte columns decoded as UTF-8.
async fn row_texts(app: &TestApp, table: &str, postgres: bool) -> Vec<String> {
    let columns_sql = if postgres {
        format!(
            "SELECT column_name AS c, data_type AS d FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = '{table}'"
        )
    } else {
        format!("SELECT name AS c, type AS d FROM pragma_table_info('{table}')")
    };
    let columns: Vec<(String, String)> = app
        .db
        .query(&columns_sql)
        .await
        .iter()
        .map(|r| (r.try_get("", "c").unwrap(), r.try_get("", "d").unwrap()))
        .collect();
    let parts: Vec<String> = columns
        .iter()
        .map(|(c, d)| match (postgres, d.as_str()) {
            (true, "bytea") => format!("coalesce(convert_from(\"{c}\", 'UTF8'), '')"),
            (true, _) => format!("coalesce(\"{c}\"::text, '')"),
            (false, _) => format!("coalesce(CAST(\"{c}\" AS TEXT), '')"),
        })
        .collect();
    let row = parts.join(" || ' ' || ");
    if postgres {
        let sql = format!("SELECT {row} AS x FROM \"{table}\"");
        app.db
            .query(&sql)
            .await
            .iter()
            .map(|r| r.try_get("", "x").unwrap())
            .collect()
    } else {
        // SQLite keeps UUIDs as raw 16-byte blobs: read the row's bytes, and decode them leniently.
        let sql = format!("SELECT CAST({row} AS BLOB) AS x FROM \"{table}\"");
        app.db
            .query(&sql)
            .await
            .iter()
            .map(|r| String::from_utf8_lossy(&r.try_get::<Vec<u8>>("", "x").unwrap()).into_owned())
            .collect()
    }
}

#[tokio::test]
async fn no_table_holds_an_api_keys_secret_after_its_creation_and_a_replay() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let body = json!({"name": "analyst", "role": "admin"});
        let created = app
            .post("/api/v1/api-keys", &app.admin, &body, Some("mint-1"))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED, "[{backend:?}]");
        let created: Value = created.json().await.unwrap();
        let secret = created["key"].as_str().unwrap().to_owned();
        let replay = app
            .post("/api/v1/api-keys", &app.admin, &body, Some("mint-1"))
            .await;
        assert_eq!(replay.status(), StatusCode::CREATED, "[{backend:?}]");
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        let replay: Value = replay.json().await.unwrap();
        assert_eq!(
            replay["key"],
            Value::Null,
            "[{backend:?}] a replay has no secret"
        );
        assert!(
            replay["detail"].as_str().unwrap().contains("only once"),
            "[{backend:?}] {replay}"
        );
        assert_eq!(replay["id"], created["id"]);
        // The secret works, and is nowhere at rest.
        assert_eq!(
            app.get_as("/api/v1/api-keys", &secret).await.status(),
            StatusCode::OK
        );
        let texts = every_stored_text(&app).await;
        assert!(
            texts.iter().any(|t| t.contains("analyst")),
            "[{backend:?}] the scan reads the tables"
        );
        assert!(
            !texts.iter().any(|t| t.contains(&secret)),
            "[{backend:?}] a table holds the secret"
        );
    }
}
