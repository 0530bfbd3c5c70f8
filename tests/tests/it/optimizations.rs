//! Optimization sessions (SPEC §10, issue #13): an analyst posts a config against a stored matrix,
//! polls, and reads weights and metrics that an independent check confirms.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use service::entity::api_key::Role;
use updog_tests::{TestApp, backends};

use crate::matrices::{config, create, invalidate, read, values_of};

/// A stored 2,000 × 2 matrix of `fund`; returns its key and values (row-major, columns `seed`,
/// `series_a`).
async fn matrix(app: &TestApp, fund: i64, seed: u64) -> (String, Vec<f32>) {
    let (status, created) = create(app, fund, &config(seed)).await;
    assert!(status.is_success(), "{created}");
    let key = created["matrix_key"].as_str().unwrap().to_owned();
    let (_, full) = read(app, &key, true).await;
    (key, values_of(&full))
}

async fn post(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/scenario-matrices/{key}/optimizations"),
        &app.admin,
        body,
        None,
    )
    .await
}

/// Polls a session until it leaves `pending` and `running`.
async fn finished(app: &TestApp, location: &str) -> Value {
    for _ in 0..300 {
        let got: Value = app.get_as(location, &app.admin).await.json().await.unwrap();
        if !["pending", "running"].contains(&got["status"].as_str().unwrap()) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{location} did not finish in 30 s");
}

/// Mean multiple and CVaR_α of the loss for weight `w` on column 0 (the rest on column 1), computed
/// directly from the scenarios: the independent check.
fn risk_return(values: &[f32], w: f64, alpha: f64) -> (f64, f64) {
    risk_return_of(values, [w, 1.0 - w], alpha)
}

fn risk_return_of(values: &[f32], w: [f64; 2], alpha: f64) -> (f64, f64) {
    let returns: Vec<f64> = values
        .chunks_exact(2)
        .map(|r| w[0] * f64::from(r[0]) + w[1] * f64::from(r[1]))
        .collect();
    let s = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / s;
    let mut losses: Vec<f64> = returns.iter().map(|r| 1.0 - r).collect();
    losses.sort_by(|a, b| b.total_cmp(a));
    // CVaR as the mean of the worst (1 − α)·S losses (S·(1 − α) is a whole number here).
    let tail = ((1.0 - alpha) * s).round() as usize;
    let cvar = losses[..tail].iter().sum::<f64>() / tail as f64;
    (mean, cvar)
}

#[tokio::test]
async fn an_analyst_posts_a_config_polls_and_reads_weights_an_independent_check_confirms() {
    for backend in backends() {
        let app = TestApp::spawn_with_workers(backend, 1).await;
        let fund = app.fund("Fund I").await;
        let (key, values) = matrix(&app, fund, 11).await;
        // The unconstrained optimum puts everything on the bucket with the higher mean; a CVaR limit
        // halfway between the two buckets' own CVaRs binds.
        let (mean_a, cvar_a) = risk_return(&values, 1.0, 0.9);
        let (mean_b, cvar_b) = risk_return(&values, 0.0, 0.9);
        let limit = (cvar_a + cvar_b) / 2.0;
        let body =
            json!({"objective": "maximize_return", "cvar_confidence": 0.9, "cvar_limit": limit});
        let response = post(&app, &key, &body).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        assert_eq!(response.headers()["retry-after"], "1");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let queued: Value = response.json().await.unwrap();
        assert_eq!(queued["status"], "pending");
        assert_eq!(queued["matrix_key"], key.as_str());
        assert_eq!(queued["config"]["weight_bounds"]["seed"], json!([0.0, 1.0]));

        let done = finished(&app, &location).await;
        assert_eq!(done["status"], "completed", "[{backend:?}] {done}");
        let w_seed = done["weights"]["seed"].as_f64().unwrap();
        let w_a = done["weights"]["series_a"].as_f64().unwrap();
        assert!((w_seed + w_a - 1.0).abs() < 1e-6, "{done}");
        assert!((-1e-9..=1.0 + 1e-9).contains(&w_seed));
        let metrics = &done["metrics"];
        let (mean, cvar) = risk_return_of(&values, [w_seed, w_a], 0.9);
        assert!((metrics["expected_moic"].as_f64().unwrap() - mean).abs() < 1e-9);
        assert!((metrics["cvar"].as_f64().unwrap() - cvar).abs() < 1e-9);
        assert!(cvar <= limit + 1e-6, "CVaR {cvar} within the limit {limit}");
        let e_star = metrics["pass1_optimum"].as_f64().unwrap();
        let epsilon = metrics["epsilon"].as_f64().unwrap();
        assert!(
            mean >= e_star - epsilon - 1e-9,
            "E {mean} ≥ E* {e_star} − ε {epsilon}"
        );
        assert!(metrics["max_violation"].as_f64().unwrap() <= 1e-6);
        assert!(metrics["pass1"]["iterations"].as_u64().unwrap() > 0);
        // The pass's rounds: on two buckets, CVaR is modelled by its cuts alone (at least the B + 1
        // it starts with), never by scenario rows.
        assert!(metrics["pass1"]["cuts"].as_u64().unwrap() >= 3, "{metrics}");
        assert_eq!(metrics["pass1"]["tail_scenarios"], 0, "{metrics}");
        // The user's plan (the matrix's 40 % seed, 60 % series A) beside the optimum (issue #27),
        // its figures recomputed here from the values.
        let plan = &metrics["plan"];
        assert_eq!(
            plan["weights"],
            json!({"seed": 0.4, "series_a": 0.6}),
            "{metrics}"
        );
        let (plan_mean, plan_cvar) = risk_return_of(&values, [0.4, 0.6], 0.9);
        assert!((plan["expected_moic"].as_f64().unwrap() - plan_mean).abs() < 1e-9);
        assert!((plan["cvar"].as_f64().unwrap() - plan_cvar).abs() < 1e-9);
        assert!(plan["expected_moic"].as_f64().unwrap() <= e_star + 1e-9 || plan_cvar > limit);
        // The matrix's metadata gives the plan's figures too, with its values.
        let meta: Value = app
            .get_as(
                &format!("/api/v1/scenario-matrices/{key}?include=matrix"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert!(
            (meta["plan"]["expected_moic"].as_f64().unwrap() - plan_mean).abs() < 1e-9,
            "{}",
            meta["plan"]
        );
        // An independent search over a fine grid finds nothing feasible and better.
        let best_on_grid = (0..=2000)
            .map(|i| f64::from(i) / 2000.0)
            .map(|w| risk_return(&values, w, 0.9))
            .filter(|(_, c)| *c <= limit)
            .map(|(m, _)| m)
            .fold(f64::MIN, f64::max);
        assert!(
            best_on_grid <= e_star + 1e-6,
            "grid {best_on_grid} vs E* {e_star}"
        );
        assert!(
            best_on_grid >= e_star - (mean_a - mean_b).abs() / 2000.0 - 1e-6,
            "grid {best_on_grid} vs E* {e_star}"
        );

        // The same matrix and config: the same weights.
        let again = post(&app, &key, &body).await;
        let again_location = again.headers()["location"].to_str().unwrap().to_owned();
        let twin = finished(&app, &again_location).await;
        let w_twin = twin["weights"]["seed"].as_f64().unwrap();
        assert!((w_twin - w_seed).abs() <= 1e-9, "{w_twin} vs {w_seed}");
    }
}

#[tokio::test]
async fn an_unreachable_limit_fails_with_a_sentence_naming_the_constraints() {
    for backend in backends() {
        let app = TestApp::spawn_with_workers(backend, 1).await;
        let fund = app.fund("Fund I").await;
        let (key, _) = matrix(&app, fund, 12).await;
        let body = json!({"objective": "maximize_return", "cvar_limit": -10.0});
        let response = post(&app, &key, &body).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let done = finished(&app, &location).await;
        assert_eq!(done["status"], "failed", "[{backend:?}] {done}");
        let why = done["error_message"].as_str().unwrap();
        assert!(why.contains("CVaR at 0.95 confidence at most -10"), "{why}");
        assert!(done["weights"].is_null());
    }
}

#[tokio::test]
async fn bad_configs_are_refused_naming_each_field_and_nothing_is_queued() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        let (key, _) = matrix(&app, fund, 13).await;
        let before = (
            app.db.count("optimization_sessions").await,
            app.db.count("job_outbox").await,
        );
        let cases = [
            (json!({"objective": "maximize_fun"}), "/objective"),
            (
                json!({"objective": "maximize_return", "weight_bounds": {"seed": [0.0, 1.5]}}),
                "/weight_bounds/seed",
            ),
            (
                json!({"objective": "maximize_return", "weight_bounds": {"seed": [0.6, 0.4]}}),
                "/weight_bounds/seed",
            ),
            (
                json!({"objective": "maximize_return", "weight_bounds": {"seed": [0.0, 0.3], "series_a": [0.0, 0.3]}}),
                "/weight_bounds",
            ),
            (
                json!({"objective": "maximize_return", "weight_bounds": {"series_b": [0.0, 1.0]}}),
                "/weight_bounds/series_b",
            ),
            (
                json!({"objective": "maximize_return", "cvar_confidence": 1.0}),
                "/cvar_confidence",
            ),
            (
                json!({"objective": "maximize_return", "cvar_confidence": 0}),
                "/cvar_confidence",
            ),
            (
                json!({"objective": "risk_adjusted", "risk_aversion": -0.5}),
                "/risk_aversion",
            ),
            (json!({"objective": "risk_adjusted"}), "/risk_aversion"),
            (
                json!({"objective": "maximize_return", "epsilon": 0}),
                "/epsilon",
            ),
        ];
        for (body, pointer) in cases {
            let response = post(&app, &key, &body).await;
            let status = response.status();
            let problem: Value = response.json().await.unwrap();
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "[{backend:?}] {body}: {problem}"
            );
            let named = problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["pointer"] == pointer);
            assert!(named, "[{backend:?}] {pointer} in {problem}");
        }
        // A matrix that is not complete.
        invalidate(&app, json!({"matrix_key": key})).await;
        let response = post(&app, &key, &json!({"objective": "minimize_risk"})).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["errors"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("not complete"),
            "{problem}"
        );
        assert_eq!(
            (
                app.db.count("optimization_sessions").await,
                app.db.count("job_outbox").await
            ),
            before,
            "[{backend:?}] nothing queued"
        );
    }
}

#[tokio::test]
async fn a_pending_session_is_cancelled_and_never_runs_and_another_funds_is_not_found() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, other) = (app.fund("Fund I").await, app.fund("Other").await);
        let (key, _) = matrix(&app, fund, 14).await;
        let response = post(&app, &key, &json!({"objective": "minimize_risk"})).await;
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let cancel = || {
            app.client
                .delete(app.url(&location))
                .bearer_auth(&app.admin)
                .send()
        };
        let cancelled = cancel().await.unwrap();
        assert_eq!(cancelled.status(), StatusCode::OK, "[{backend:?}]");
        let cancelled: Value = cancelled.json().await.unwrap();
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(
            cancel().await.unwrap().status(),
            StatusCode::OK,
            "idempotent"
        );
        // Its job runs and leaves it cancelled.
        app.run_jobs().await;
        let got: Value = app
            .get_as(&location, &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(got["status"], "cancelled");
        assert!(got["weights"].is_null());

        // A completed one cannot be cancelled.
        let response = post(&app, &key, &json!({"objective": "minimize_risk"})).await;
        let done_location = response.headers()["location"].to_str().unwrap().to_owned();
        app.run_jobs().await;
        let done: Value = app
            .get_as(&done_location, &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(done["status"], "completed", "{done}");
        let refused = app
            .send(
                reqwest::Method::DELETE,
                &done_location,
                &app.admin,
                None,
                None,
            )
            .await;
        assert_eq!(refused.status(), StatusCode::CONFLICT);
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "optimization_not_pending");

        // Another fund's key sees neither the matrix nor the session.
        let stranger = app.key(Role::Writer, &[other]).await;
        assert_eq!(
            app.get_as(&done_location, &stranger).await.status(),
            StatusCode::NOT_FOUND
        );
        let posted = app
            .post(
                &format!("/api/v1/scenario-matrices/{key}/optimizations"),
                &stranger,
                &json!({"objective": "minimize_risk"}),
                None,
            )
            .await;
        assert_eq!(posted.status(), StatusCode::NOT_FOUND);
        let reader = app.key(Role::Reader, &[fund]).await;
        let posted = app
            .post(
                &format!("/api/v1/scenario-matrices/{key}/optimizations"),
                &reader,
                &json!({"objective": "minimize_risk"}),
                None,
            )
            .await;
        assert_eq!(posted.status(), StatusCode::FORBIDDEN);
    }
}
