//! Fund forecasts (SPEC §6.7) over real HTTP on both backends: a forecast of a generated matrix
//! computed by the worker, deduplicated by its inputs, agreeing with `/returns` on a fund whose exits
//! are entered as distributions, and refused with the field named when it cannot be computed.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::calc::forecast::exact_times;
use updog_tests::{TestApp, backends, id_of};

use crate::matrices::{create as create_matrix, read as read_matrix};

/// A fund with 2 % fees, 20 % carry, first close 2020-01-01; a series A company bought for $300,000
/// and a seed company for $100,000, both on the first close.
pub(crate) async fn two_company_fund(app: &TestApp, name: &str) -> (i64, i64, i64) {
    let fund = app
        .created(
            "/api/v1/funds",
            &json!({"name": name, "size_cents": 100_000_000, "vintage_year": 2020,
                    "management_fee_bps": 200, "carry_bps": 2000}),
        )
        .await;
    let mut ids = Vec::new();
    for (company, stage, price) in [("Series A Co", "series_a", 300), ("Seed Co", "seed", 100)] {
        let id = app
            .created(
                &format!("/api/v1/funds/{fund}/companies"),
                &json!({"name": company, "stage": stage}),
            )
            .await;
        let investment = app.investment(fund, id).await;
        app.lot(
            fund,
            investment,
            &json!({"lot_type": "initial", "share_price_cents": price, "shares_acquired": "100000", "acquired_on": "2020-01-01"}),
        )
        .await;
        ids.push(id);
    }
    (fund, ids[0], ids[1])
}

pub(crate) fn matrix_config(scenarios: u32) -> Value {
    json!({
        "taxonomy_version": "v1",
        "num_scenarios": scenarios,
        "seed": 7,
        "buckets": [
            {"name": "series_a", "capital_allocation_pct": "60", "moic_median": "2", "moic_p90": "4"},
            {"name": "seed", "capital_allocation_pct": "40", "moic_median": "1.5", "moic_p90": "6"},
        ],
        "correlation_weights": {"macro": "0.3", "systematic": "0.3", "idiosyncratic": "0.4"},
    })
}

pub(crate) async fn post_forecast(app: &TestApp, fund: i64, body: &Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/funds/{fund}/forecasts"),
        &app.admin,
        body,
        None,
    )
    .await
}

async fn complete(app: &TestApp, location: &str) -> Value {
    app.run_jobs().await;
    let body: Value = app.get_as(location, &app.admin).await.json().await.unwrap();
    assert_eq!(body["status"], "complete", "{body}");
    body
}

#[tokio::test]
async fn a_forecast_runs_every_scenario_and_answers_the_same_inputs_with_itself() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, _, _) = two_company_fund(&app, "Fund").await;
        let (status, matrix) = create_matrix(&app, fund, &matrix_config(500)).await;
        assert_eq!(status, StatusCode::CREATED, "[{backend:?}] {matrix}");
        let key = matrix["matrix_key"].as_str().unwrap().to_owned();
        // The fund's matrices are listed, newest first, to choose from.
        create_matrix(&app, fund, &matrix_config(200)).await;
        let listed: Value = app
            .get_as(
                &format!("/api/v1/funds/{fund}/scenario-matrices?limit=1"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["data"][0]["num_scenarios"], 200, "{listed}");
        let cursor = listed["next_cursor"].as_str().unwrap().to_owned();
        let next: Value = app
            .get_as(
                &format!("/api/v1/funds/{fund}/scenario-matrices?limit=1&cursor={cursor}"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (
                next["data"][0]["matrix_key"].as_str(),
                next["next_cursor"].clone()
            ),
            (Some(key.as_str()), Value::Null)
        );
        let body = json!({"matrix_key": key, "as_of": "2024-12-31", "exit_after_years": {"seed": 3, "series_a": 2.5}});
        let created = post_forecast(&app, fund, &body).await;
        assert_eq!(created.status(), StatusCode::ACCEPTED);
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        let pending = app.get_as(&location, &app.admin).await;
        assert!(pending.headers().contains_key("retry-after"));
        let forecast = complete(&app, &location).await;
        let r = &forecast["results"];
        assert_eq!(r["scenarios"], 500);
        assert_eq!(forecast["progress"], json!({"done": 500, "total": 500}));
        let counts: u64 = r["histogram"]["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .sum();
        assert_eq!(counts, 500);
        assert_eq!(r["histogram"]["edges"].as_array().unwrap().len(), 41);
        let tvpi = &r["net_tvpi"];
        let p: Vec<f64> = ["p5", "p10", "p25", "p50", "p75", "p90", "p95"]
            .iter()
            .map(|k| tvpi[k].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "{tvpi}");
        // J-curve: 2020 through 2030, the year the term ends (the last exit is in 2027).
        let j = r["j_curve"].as_array().unwrap();
        assert_eq!(
            (j.len(), j[0]["date"].clone(), j[10]["date"].clone()),
            (11, json!("2020-12-31"), json!("2030-12-31"))
        );
        assert_eq!(r["produced_by"]["matrix_key"], key.as_str());
        assert_eq!(
            r["produced_by"]["exit_after_years"],
            json!({"seed": "3", "series_a": "2.5"})
        );
        assert_eq!(
            r["produced_by"]["bucket_of"],
            json!({"seed": "seed", "series_a": "series_a"})
        );

        // The same inputs and matrix: that forecast, 200; a name is not an input.
        let mut again = body.clone();
        again["name"] = json!("Another name");
        let same = post_forecast(&app, fund, &again).await;
        assert_eq!(same.status(), StatusCode::OK);
        assert_eq!(same.json::<Value>().await.unwrap()["id"], forecast["id"]);
        let page: Value = app
            .get_as(&format!("/api/v1/funds/{fund}/forecasts"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["data"].as_array().unwrap().len(), 1);

        let version = forecast["version"].to_string();
        let deleted = app
            .send(Method::DELETE, &location, &app.admin, Some(&version), None)
            .await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.db.count("fund_forecasts").await, 0);
    }
}

#[tokio::test]
async fn a_one_scenario_forecast_equals_returns_on_a_fund_with_its_exits_entered() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, _, _) = two_company_fund(&app, "Forecast").await;
        let (_, matrix) = create_matrix(&app, fund, &matrix_config(1)).await;
        let key = matrix["matrix_key"].as_str().unwrap().to_owned();
        let created = post_forecast(
            &app,
            fund,
            &json!({"matrix_key": key, "as_of": "2024-12-31", "exit_after_years": {"seed": 3, "series_a": 2}}),
        )
        .await;
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        let forecast = complete(&app, &location).await;
        let r = &forecast["results"];

        // The same scenario entered by hand: each company exits on its bucket's date for its capital
        // (its cost) times the stored cell.
        let (_, values) = read_matrix(&app, &key, true).await;
        let buckets: Vec<&str> = values["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        let row: Vec<f32> = values["matrix"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let cell = |bucket: &str| row[buckets.iter().position(|b| *b == bucket).unwrap()];
        let (twin, series_a, seed) = two_company_fund(&app, "Entered").await;
        for (company, on, amount) in [
            (
                series_a,
                "2026-12-31",
                exact_times(30_000_000, cell("series_a")),
            ),
            (seed, "2027-12-31", exact_times(10_000_000, cell("seed"))),
        ] {
            if amount > 0 {
                id_of(app.post(&format!("/api/v1/funds/{twin}/distributions"), &app.admin, &json!({"company_id": company, "distributed_on": on, "amount_cents": amount, "kind": "exit"}), None).await).await;
            }
        }
        let returns: Value = app
            .get_as(
                &format!("/api/v1/funds/{twin}/returns?as_of=2030-01-01"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(returns["lp_nav_cents"], 0, "[{backend:?}] {returns}");
        assert_eq!(r["net_tvpi"]["mean"], returns["tvpi"], "{r}\n{returns}");
        assert_eq!(r["net_irr"]["mean"], returns["net_irr"]);
        assert_eq!(r["gp_carry_cents"]["mean"], returns["carry_cents"]);
        assert_eq!(r["gross_tvpi"]["mean"], returns["gross"]["gross_moic"]);
    }
}

#[tokio::test]
async fn a_forecast_that_cannot_be_computed_is_refused_with_the_field_named() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, _, _) = two_company_fund(&app, "Fund").await;
        let (_, matrix) = create_matrix(&app, fund, &matrix_config(100)).await;
        let key = matrix["matrix_key"].as_str().unwrap().to_owned();
        let (other, _, _) = two_company_fund(&app, "Other").await;
        let cases = [
            (other, json!({"matrix_key": key}), "/matrix_key"),
            (fund, json!({"matrix_key": "0".repeat(64)}), "/matrix_key"),
            (
                fund,
                json!({"matrix_key": key, "exit_after_years": {"seed": 20}}),
                "/exit_after_years/seed",
            ),
            (
                fund,
                json!({"matrix_key": key, "exit_after_years": {"growth": 2}}),
                "/exit_after_years/growth",
            ),
            (
                fund,
                json!({"matrix_key": key, "bucket_of": {"seed": "angel"}}),
                "/bucket_of/seed",
            ),
            (
                fund,
                json!({"matrix_key": key, "deploy": {"amount_cents": 1_000_000, "weights": {"seed": "0.5", "series_a": "0.4"}}}),
                "/deploy/weights",
            ),
            (
                fund,
                json!({"matrix_key": key, "deploy": {"amount_cents": 1_000_000, "weights": {"late": "1"}}}),
                "/deploy/weights/late",
            ),
            (
                fund,
                json!({"matrix_key": key, "as_of": "2024-12-31", "deploy": {"amount_cents": 90_000_000, "weights": {"seed": 1}}}),
                "/deploy/amount_cents",
            ),
            (
                fund,
                json!({"matrix_key": key, "deploy": {"amount_cents": i64::MAX, "weights": {"seed": 1}}}),
                "/deploy/amount_cents",
            ),
            (
                fund,
                json!({"matrix_key": key, "as_of": "2999-01-01"}),
                "/as_of",
            ),
            (
                fund,
                json!({"matrix_key": key, "deploy": {"amount_cents": 1, "optimization_id": "0190a7c4-0000-7000-8000-000000000000"}}),
                "/deploy/optimization_id",
            ),
        ];
        for (f, body, pointer) in cases {
            let response = post_forecast(&app, f, &body).await;
            assert_eq!(
                response.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "[{backend:?}] {body}"
            );
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
        }
        // A stage holding active companies with no bucket of its name.
        app.created(
            &format!("/api/v1/funds/{fund}/companies"),
            &json!({"name": "Late Co", "stage": "growth"}),
        )
        .await;
        let response = post_forecast(&app, fund, &json!({"matrix_key": key})).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(
            problem["errors"][0]["pointer"], "/bucket_of/growth",
            "{problem}"
        );
        assert_eq!(app.db.count("fund_forecasts").await, 0, "nothing written");
        // Mapped, it is accepted.
        let mapped = post_forecast(
            &app,
            fund,
            &json!({"matrix_key": key, "bucket_of": {"growth": "series_a"}}),
        )
        .await;
        assert_eq!(mapped.status(), StatusCode::ACCEPTED);
    }
}

#[tokio::test]
async fn a_heavy_tail_without_a_cap_is_refused_and_with_one_is_forecast() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, _, _) = two_company_fund(&app, "Fund").await;
        // The held-out case of issue #24: median 1.1, p90 9.0 — alpha ln 5 / ln(9 / 1.1) = 0.765701, no finite mean.
        let heavy = |cap: Option<&str>| {
            let mut config = matrix_config(2_000);
            config["buckets"][1] = json!({"name": "seed", "capital_allocation_pct": "40", "moic_median": "1.1", "moic_p90": "9"});
            if let Some(cap) = cap {
                config["buckets"][1]["moic_cap"] = json!(cap);
            }
            config
        };
        let (status, uncapped) = create_matrix(&app, fund, &heavy(None)).await;
        assert_eq!(status, StatusCode::CREATED, "[{backend:?}] {uncapped}");
        let seed_tail = uncapped["tails"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "seed")
            .unwrap()
            .clone();
        assert_eq!(
            (
                seed_tail["alpha"].clone(),
                seed_tail["unbounded"].clone(),
                seed_tail["moic_cap"].clone()
            ),
            (json!("0.765701"), json!(true), Value::Null)
        );
        let key = uncapped["matrix_key"].as_str().unwrap().to_owned();
        let refused = post_forecast(&app, fund, &json!({"matrix_key": key})).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["errors"][0]["pointer"], "/matrix_key");
        assert!(
            problem["errors"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("\"seed\""),
            "{problem}"
        );
        let optimization = app
            .post(
                &format!("/api/v1/scenario-matrices/{key}/optimizations"),
                &app.admin,
                &json!({"objective": "maximize_return"}),
                None,
            )
            .await;
        assert_eq!(optimization.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.db.count("optimization_sessions").await, 0);

        // Capped at 50×: another key, every cell at most the cap, the capped share reported.
        let (status, capped) = create_matrix(&app, fund, &heavy(Some("50"))).await;
        assert_eq!(status, StatusCode::CREATED);
        let capped_key = capped["matrix_key"].as_str().unwrap().to_owned();
        assert_ne!(capped_key, key);
        let (_, values) = read_matrix(&app, &capped_key, true).await;
        let column = values["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .position(|b| b == "seed")
            .unwrap();
        let cells: Vec<f64> = values["matrix"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[column].as_f64().unwrap())
            .collect();
        let at_cap = cells.iter().filter(|c| **c == 50.0).count();
        assert!(cells.iter().all(|c| *c <= 50.0) && at_cap > 0, "{at_cap}");
        let tail = values["tails"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "seed")
            .unwrap()
            .clone();
        assert_eq!(
            tail["capped_share"],
            format!("{:.6}", at_cap as f64 / 2_000.0)
        );
        assert_eq!(
            (tail["unbounded"].clone(), tail["moic_cap"].clone()),
            (json!(false), json!("50.00000"))
        );
        let accepted = post_forecast(&app, fund, &json!({"matrix_key": capped_key})).await;
        assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    }
}

/// Issue #24's hand case over HTTP: a two-bucket, four-scenario matrix stored directly (its values
/// written by the test, not generated), three companies, 2 % fees on commitments for ten years, 20 %
/// carry. The figures are those `calc::forecast`'s unit test computes by hand.
#[tokio::test]
async fn a_matrix_written_by_hand_gives_the_figures_computed_by_hand() {
    use service::matrices::{MatrixConfig, canonical_config, matrix_key, store};
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app
            .created(
                "/api/v1/funds",
                &json!({"name": "Hand", "size_cents": 100_000_000, "vintage_year": 2020, "management_fee_bps": 200,
                        "post_period_fee_bps": 200, "post_period_fee_basis": "commitment", "carry_bps": 2000}),
            )
            .await;
        for (name, stage, price) in [
            ("A", "seed", 200),
            ("B", "seed", 100),
            ("C", "series_a", 300),
        ] {
            let id = app
                .created(
                    &format!("/api/v1/funds/{fund}/companies"),
                    &json!({"name": name, "stage": stage}),
                )
                .await;
            let investment = app.investment(fund, id).await;
            app.lot(fund, investment, &json!({"lot_type": "initial", "share_price_cents": price, "shares_acquired": "100000", "acquired_on": "2020-01-01"})).await;
        }
        let config = MatrixConfig::sample(fund, 4, 1);
        let key = matrix_key(&config).unwrap();
        // Columns in name order: seed, series_a.
        let values = [0.0f32, 1.0, 2.0, 2.0, 1.0, 4.0, 10.0, 0.5];
        store::insert(
            app.db.conn(),
            &key,
            &config,
            &canonical_config(&config),
            Some(store::Payload::encode(&values).unwrap()),
        )
        .await
        .unwrap()
        .expect("stored");
        let created = post_forecast(&app, fund, &json!({"matrix_key": key, "as_of": "2024-12-31", "exit_after_years": {"seed": 1, "series_a": 2}})).await;
        assert_eq!(created.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        let r = complete(&app, &location).await["results"].clone();
        assert_eq!(
            r["net_tvpi"],
            json!({"mean": "1.695000", "p5": "0.375000", "p10": "0.375000", "p25": "0.375000", "p50": "1.385000",
                   "p75": "1.685000", "p90": "3.335000", "p95": "3.335000"})
        );
        assert_eq!(r["gross_tvpi"]["mean"], "2.562500");
        assert_eq!(
            r["gp_carry_cents"],
            json!({"mean": 18_150_000, "p5": 0, "p10": 0, "p25": 0, "p50": 9_200_000, "p75": 15_200_000, "p90": 48_200_000, "p95": 48_200_000})
        );
        assert_eq!(
            r["probabilities"],
            json!({"net_tvpi_below_1": "0.250000", "net_tvpi_at_least_2": "0.250000", "net_tvpi_at_least_3": "0.250000", "carry_positive": "0.750000"})
        );
        let counts = r["histogram"]["counts"].as_array().unwrap();
        let filled: Vec<usize> = (0..40).filter(|i| counts[*i] == 1).collect();
        assert_eq!(filled, [0, 13, 17, 39]);
        assert_eq!(
            (
                r["histogram"]["edges"][1].clone(),
                r["histogram"]["edges"][40].clone()
            ),
            (json!("0.449000"), json!("3.335000"))
        );
        let j = r["j_curve"].as_array().unwrap();
        assert_eq!(
            j[5],
            json!({"date": "2025-12-31", "p10": "-0.720000", "p50": "-0.420000", "p90": "1.824000"})
        );
        assert_eq!(
            j[6],
            json!({"date": "2026-12-31", "p10": "-0.440000", "p50": "0.368000", "p90": "1.928000"})
        );

        // The matrix invalidated afterwards changes nothing in the complete forecast.
        let before = app
            .get_as(&location, &app.admin)
            .await
            .bytes()
            .await
            .unwrap();
        let invalidated = app
            .post(
                "/api/v1/cache/invalidate",
                &app.admin,
                &json!({"matrix_key": key}),
                None,
            )
            .await;
        assert!(invalidated.status().is_success());
        app.run_jobs().await;
        let after = app
            .get_as(&location, &app.admin)
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(before, after);
        // And a forecast of it now is refused: it is not complete.
        let refused = post_forecast(
            &app,
            fund,
            &json!({"matrix_key": key, "as_of": "2024-12-30"}),
        )
        .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            refused.json::<Value>().await.unwrap()["errors"][0]["pointer"],
            "/matrix_key"
        );
    }
}
