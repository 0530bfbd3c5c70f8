//! Every bad input of the portfolio API gets its documented 4xx problem, and nothing is written.

use reqwest::StatusCode;
use serde_json::{Value, json};
use updog_tests::{TestApp, backends};

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for t in [
        "funds",
        "portfolio_companies",
        "investments",
        "investment_lots",
        "distributions",
        "idempotency_records",
    ] {
        out.push(app.db.count(t).await);
    }
    out
}

async fn problem(response: reqwest::Response, status: StatusCode, code: &str, what: &str) -> Value {
    assert_eq!(response.status(), status, "{what}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "{what}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{what}: {body}");
    assert_eq!(body["status"], status.as_u16(), "{what}");
    body
}

#[tokio::test]
async fn each_bad_input_is_a_4xx_problem_and_writes_nothing() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let company = app.company(fund, "Acme").await;
        let investment = app.investment(fund, company).await;
        let other_fund = app.fund("Other").await;
        let other_company = app.company(other_fund, "Elsewhere").await;
        let other_investment = app.investment(other_fund, other_company).await;
        let before = counts(&app).await;
        let lots = format!("/api/v1/funds/{fund}/investments/{investment}/lots");
        let lot = json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "1", "acquired_on": "2024-01-01"});
        let with = |field: &str, value: Value| {
            let mut body = lot.clone();
            body[field] = value;
            body
        };
        let raw = |path: &str, body: &str| {
            app.client
                .post(app.url(path))
                .bearer_auth(&app.admin)
                .header("content-type", "application/json")
                .body(body.to_owned())
                .send()
        };

        problem(
            raw(&lots, "{not json").await.unwrap(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "malformed JSON",
        )
        .await;
        // Bad lot bodies: the body, the answer's status and code, the field it names, and what it shows.
        let bad_lots = [
            (
                with("share_price_cents", json!("cheap")),
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "/share_price_cents",
                "wrong type",
            ),
            (
                with("share_price_cents", json!(-1)),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "/share_price_cents",
                "negative cents",
            ),
            (
                with("shares_acquired", json!("1.123456789")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "/shares_acquired",
                "nine decimals",
            ),
            (
                json!({"lot_type": "initial", "share_price_cents": i64::MAX, "shares_acquired": "2", "acquired_on": "2024-01-01"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "/share_price_cents",
                "a cost beyond i64",
            ),
            (
                json!({"lot_type": "initial", "share_price_cents": 9_007_199_254_740_990i64, "shares_acquired": "2", "acquired_on": "2024-01-01"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "/share_price_cents",
                "a cost beyond 2^53 - 1 from a price within it",
            ),
            (
                json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "1", "acquired_on": "2024-01-01\u{0}"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "/acquired_on",
                "a NUL character, which PostgreSQL's text cannot hold",
            ),
        ];
        for (body, status, code, pointer, what) in bad_lots {
            let answer = problem(
                app.post(&lots, &app.admin, &body, None).await,
                status,
                code,
                what,
            )
            .await;
            assert_eq!(answer["errors"][0]["pointer"], pointer, "{what}: {answer}");
        }
        let answer = problem(
            app.post(&lots, &app.admin, &with("surprise", json!(1)), None)
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "unknown field",
        )
        .await;
        assert!(answer["detail"].as_str().unwrap().contains("surprise"));
        problem(
            raw(&lots, r#"{"lot_type":"initial","share_price_cents":99999999999999999999,"shares_acquired":"1","acquired_on":"2024-01-01"}"#)
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "cents beyond i64",
        )
        .await;
        for bad_id in ["abc", "0", "-1"] {
            let path = format!("/api/v1/funds/{bad_id}/lots");
            problem(
                app.get_as(&path, &app.admin).await,
                StatusCode::BAD_REQUEST,
                "invalid_path",
                bad_id,
            )
            .await;
        }
        problem(
            app.get_as(&format!("/api/v1/funds/{fund}/lots?cursor=%%%"), &app.admin)
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            "undecodable cursor",
        )
        .await;
        problem(
            app.get_as(
                &format!("/api/v1/funds/{fund}/lots?cursor=bm90LWEtY3Vyc29y"),
                &app.admin,
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            "a cursor we never issued",
        )
        .await;
        for limit in ["0", "101", "ten"] {
            problem(
                app.get_as(
                    &format!("/api/v1/funds/{fund}/lots?limit={limit}"),
                    &app.admin,
                )
                .await,
                StatusCode::BAD_REQUEST,
                "invalid_query",
                limit,
            )
            .await;
        }
        problem(
            app.get_as(
                &format!("/api/v1/funds/{fund}/lots?investment_id=x"),
                &app.admin,
            )
            .await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "non-numeric filter",
        )
        .await;
        problem(
            app.post(
                &format!("/api/v1/funds/{fund}/investments/{other_investment}/lots"),
                &app.admin,
                &lot,
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
            "another fund's investment in a lot path",
        )
        .await;
        let body = problem(
            app.post(
                &format!("/api/v1/funds/{fund}/investments"),
                &app.admin,
                &json!({"company_id": other_company, "round_name": "A", "invested_on": "2024-01-01"}),
                None,
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "another fund's company in an investment body",
        )
        .await;
        assert_eq!(body["errors"][0]["pointer"], "/company_id");
        let patch = app
            .client
            .patch(app.url(&format!("/api/v1/funds/{fund}")))
            .bearer_auth(&app.admin)
            .header("If-Match", "abc")
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        problem(
            patch,
            StatusCode::BAD_REQUEST,
            "invalid_header",
            "If-Match not a quoted integer",
        )
        .await;
        let huge = format!(
            r#"{{"name":"{}","size_cents":1,"vintage_year":2024}}"#,
            "x".repeat(1024 * 1024 + 10)
        );
        problem(
            raw("/api/v1/funds", &huge).await.unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "body over 1 MiB",
        )
        .await;
        let not_json = app
            .client
            .post(app.url("/api/v1/funds"))
            .bearer_auth(&app.admin)
            .header("content-type", "text/plain")
            .body("name=x")
            .send()
            .await
            .unwrap();
        problem(
            not_json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "text body",
        )
        .await;
        let body = problem(
            app.post("/api/v1/funds", &app.admin, &json!({"name": "", "size_cents": 0, "vintage_year": 1800, "carry_bps": 10001, "base_currency": "usd"}), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "every invalid fund field at once",
        )
        .await;
        // Integers beyond what a JavaScript client reads exactly, ±(2^53 − 1): a 422 naming the field.
        let huge = problem(
            app.post(
                "/api/v1/funds",
                &app.admin,
                &json!({"name": "Huge", "size_cents": 1i64 << 62, "vintage_year": 2024}),
                None,
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "a 2^62-cent fund",
        )
        .await;
        assert_eq!(huge["errors"][0]["pointer"], "/size_cents");
        let beyond = problem(
            app.post(
                &lots,
                &app.admin,
                &with("cost_basis_cents", json!(u64::MAX)),
                None,
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "a u64 cost basis",
        )
        .await;
        assert_eq!(beyond["errors"][0]["pointer"], "/cost_basis_cents");
        let pointers: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pointer"].as_str().unwrap())
            .collect();
        assert_eq!(
            pointers,
            vec![
                "/name",
                "/size_cents",
                "/vintage_year",
                "/carry_bps",
                "/base_currency"
            ]
        );

        assert_eq!(
            counts(&app).await,
            before,
            "[{backend:?}] nothing was written"
        );
    }
}
