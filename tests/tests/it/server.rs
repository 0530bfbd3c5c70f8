//! The running server over real HTTP: liveness, readiness, documentation, the problem envelope for
//! unknown paths and methods, and request ids.

use reqwest::StatusCode;
use serde_json::Value;
use service::Backend;
use updog_tests::{TestApp, backends, redis_url};

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn healthz_answers_ok_and_echoes_the_callers_request_id() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let response = app
            .client
            .get(app.url("/healthz"))
            .header("X-Request-Id", "trace-abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-request-id"], "trace-abc-123");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            serde_json::json!({"status": "ok"})
        );

        // Without one, the server makes one up.
        let response = app.get("/healthz").await;
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "generated request id {id:?} is a UUID"
        );
    }
}

/// HEAD is GET without the body: same status and headers, `Content-Length` of the GET body, no bytes
/// after the headers (read off the raw connection, which an HTTP client would hide).
#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::spawn(Backend::Sqlite).await;
    let fund = app.fund("Head Fund").await;
    let path = format!("/api/v1/funds/{fund}");
    let get = app.get_as(&path, &app.admin).await;
    assert_eq!(get.status(), StatusCode::OK);
    let get_length = get.bytes().await.unwrap().len();

    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let request = format!(
        "HEAD {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        app.admin
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {get_length}")),
        "{head}"
    );
    assert_eq!(body, "", "no body after the headers");

    // A HEAD on an unknown path is the same 404 as a GET.
    let response = app
        .client
        .head(app.url("/api/v1/funds/1/reserve-plan/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn readyz_reports_the_database_up_and_the_state_of_redis() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let response = app.get("/readyz").await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["database"], "up");
        let expected_redis = if redis_url().is_some() {
            "up"
        } else {
            "not_configured"
        };
        assert_eq!(body["redis"], expected_redis);
    }
}

#[tokio::test]
async fn readyz_answers_503_problem_when_the_database_is_gone() {
    // Only PostgreSQL can lose its database under a running server.
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    let name = app.db.url.rsplit('/').next().unwrap().to_owned();
    let admin_url = app.db.url.trim_end_matches(&name).to_owned() + "postgres";
    let admin = service::Database::connect(&admin_url).await.unwrap();
    let drop = format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#);
    sea_orm::ConnectionTrait::execute_unprepared(admin.connection(), &drop)
        .await
        .unwrap();

    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(content_type(&response), "application/problem+json");
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "service_unavailable");
    assert_eq!(body["status"], 503);
    assert_eq!(body["type"], "/problems/service_unavailable");

    // Healthz does not depend on the database.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn requests_waiting_for_a_busy_database_and_a_full_pool_all_answer_200_not_503() {
    use std::time::Duration;
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        let company = app.company(fund, "Acme").await;
        let investment = app.investment(fund, company).await;
        app.lot(
            fund,
            investment,
            &serde_json::json!({"lot_type": "initial", "share_price_cents": 100,
                                "shares_acquired": "10", "acquired_on": "2024-01-15"}),
        )
        .await;
        let path = format!("/api/v1/funds/{fund}/lots");
        // Four times the PostgreSQL pool, arriving over 1.2 s.
        let reads = (0..64u64).map(|i| {
            let (app, path) = (&app, &path);
            async move {
                tokio::time::sleep(Duration::from_millis(i * 20)).await;
                app.get_as(path, &app.admin).await.status()
            }
        });
        let statuses = if backend == Backend::Postgres {
            // The lots held up for 2 s: every pooled connection waits on the lock, the other requests
            // wait for a connection, and the watch's own `SELECT 1` still answers at once.
            let txn = sea_orm::TransactionTrait::begin(app.db.conn())
                .await
                .expect("a transaction");
            sea_orm::ConnectionTrait::execute_unprepared(
                &txn,
                "LOCK TABLE investment_lots IN ACCESS EXCLUSIVE MODE",
            )
            .await
            .expect("the lock");
            let (statuses, ()) = tokio::join!(futures::future::join_all(reads), async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                txn.commit().await.expect("the lock released");
            });
            statuses
        } else {
            futures::future::join_all(reads).await
        };
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 64, "[{backend:?}] {statuses:?}");
    }
}

#[tokio::test]
async fn an_unknown_path_is_a_404_problem() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let response = app.get("/api/v1/nothing-here").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(content_type(&response), "application/problem+json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "/problems/not_found",
                "title": "Not found",
                "status": 404,
                "detail": "There is no resource at /api/v1/nothing-here.",
                "code": "not_found"
            })
        );
    }
}

#[tokio::test]
async fn a_known_path_with_the_wrong_method_is_a_405_problem_with_allow() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], "GET, HEAD");
        assert_eq!(content_type(&response), "application/problem+json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "method_not_allowed");
        assert_eq!(body["status"], 405);
    }
}

#[tokio::test]
async fn the_docs_load_from_the_server_itself_at_docs_and_docs_slash() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.get("/docs").await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(response.headers()["location"], "/docs/");

    let response = app.get("/docs/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(content_type(&response).starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "the Swagger UI page");

    // Its assets are vendored: served by us, not fetched from a CDN.
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let response = app.get(asset).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let body = response.text().await.unwrap();
        assert!(body.len() > 50, "{asset} has content");
        if asset.ends_with("initializer.js") {
            assert!(body.contains("/openapi.json"), "the UI loads our own spec");
        }
    }
}

#[tokio::test]
async fn openapi_json_is_the_generated_description() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let served: Value = response.json().await.unwrap();
    let generated = serde_json::to_value(api::openapi::openapi()).unwrap();
    assert_eq!(served, generated);
    assert_eq!(served["info"]["title"], "Updog API");
    assert!(served["paths"]["/healthz"]["get"].is_object());
    assert!(served["paths"]["/readyz"]["get"]["responses"]["503"].is_object());
}

#[tokio::test]
async fn the_server_refuses_to_start_on_an_unreachable_database_or_pending_migrations() {
    let mut config = api::Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some("postgres://nobody@127.0.0.1:1/none".to_owned()),
        "UPDOG_BIND" => Some("127.0.0.1:0".to_owned()),
        _ => None,
    })
    .unwrap();
    let err = api::Application::build(&config)
        .await
        .err()
        .expect("an unreachable database is an error");
    assert!(
        matches!(
            err,
            api::Error::Service(service::Error::DatabaseUnavailable(_))
        ),
        "{err:?}"
    );

    // An empty database with migrate-on-start off: refuse, naming the first pending migration.
    let db = updog_tests::TestDb::empty(Backend::Sqlite).await;
    config.database_url = db.url.clone();
    config.migrate_on_start = false;
    let err = api::Application::build(&config)
        .await
        .err()
        .expect("pending migrations are an error");
    let message = api::error::error_chain(&err);
    assert!(
        message.contains("m20261122_000001_create_funds"),
        "{message}"
    );
    assert!(message.contains("UPDOG_MIGRATE_ON_START"), "{message}");
}

#[tokio::test]
async fn a_browser_app_on_an_allowed_origin_can_create_a_lot_and_read_its_headers() {
    let app = TestApp::spawn(service::Backend::Sqlite).await;
    let fund = app.fund("Fund I").await;
    let company = app.company(fund, "Acme").await;
    let investment = app.investment(fund, company).await;
    let lots = app.url(&format!(
        "/api/v1/funds/{fund}/investments/{investment}/lots"
    ));
    let origin = "https://app.example.com";

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, &lots)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, idempotency-key, if-match",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), reqwest::StatusCode::NO_CONTENT);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], origin);
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in [
        "authorization",
        "content-type",
        "idempotency-key",
        "if-match",
    ] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }

    let created = app
        .client
        .post(&lots)
        .header("Origin", origin)
        .header("Idempotency-Key", "browser-1")
        .bearer_auth(&app.admin)
        .json(&serde_json::json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "5", "acquired_on": "2024-02-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let h = created.headers();
    assert_eq!(h["access-control-allow-origin"], origin);
    let exposed = h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in [
        "etag",
        "location",
        "retry-after",
        "idempotent-replayed",
        "x-request-id",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    assert!(h.contains_key("location"));

    // Another origin: no CORS headers, and never a 5xx.
    let evil = "https://evil.example";
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, &lots)
        .header("Origin", evil)
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        preflight.status().is_client_error(),
        "{}",
        preflight.status()
    );
    assert!(
        !preflight
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let read = app
        .client
        .get(app.url(&format!("/api/v1/funds/{fund}")))
        .header("Origin", evil)
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), reqwest::StatusCode::OK);
    assert!(!read.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn prometheus_scrapes_requests_pool_outbox_and_cache_figures_at_metrics() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund I").await;
        for _ in 0..3 {
            let r = app
                .get_as(&format!("/api/v1/funds/{fund}"), &app.admin)
                .await;
            assert_eq!(r.status(), reqwest::StatusCode::OK);
        }
        let missing = app.get_as("/api/v1/funds/999999", &app.admin).await;
        assert_eq!(missing.status(), reqwest::StatusCode::NOT_FOUND);
        app.post(
            &format!("/api/v1/funds/{fund}/snapshots"),
            &app.admin,
            &serde_json::json!({"name": "Q1"}),
            None,
        )
        .await;

        let scraped = app.get("/metrics").await;
        assert_eq!(scraped.status(), reqwest::StatusCode::OK);
        assert!(
            scraped.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let text = scraped.text().await.unwrap();
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("[{backend:?}] no line {prefix} in\n{text}"))
                .to_owned()
        };
        let value = |l: String| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
        assert_eq!(
            value(line(
                r#"updog_http_requests_total{method="GET",route="/api/v1/funds/{fund_id}",status="200"}"#
            )),
            3.0
        );
        assert_eq!(
            value(line(
                r#"updog_http_requests_total{method="GET",route="/api/v1/funds/{fund_id}",status="404"}"#
            )),
            1.0
        );
        assert!(
            value(line(
                r#"updog_http_request_duration_seconds_count{method="GET",route="/api/v1/funds/{fund_id}"}"#
            )) >= 4.0
        );
        assert!(value(line(r#"updog_db_pool_connections{state="open"}"#)) >= 1.0);
        assert_eq!(
            value(line(
                r#"updog_outbox_jobs{job_type="snapshot.calculate",status="pending"}"#
            )),
            1.0,
            "[{backend:?}]"
        );
        line(r#"updog_matrix_cache_lookups{outcome="hit",tier="database"}"#);
    }
}

#[tokio::test]
async fn a_key_over_its_rate_is_answered_429_with_retry_after_and_other_keys_are_not() {
    for backend in backends() {
        // One request per second per key, a burst of one: ten back-to-back requests cannot all pass,
        // however slow the machine (they would need ten seconds).
        let app = TestApp::spawn_with(backend, 0, redis_url(), |config| {
            config.rate_limit_per_key = std::num::NonZeroU32::new(1);
        })
        .await;
        let fund = app.fund("Rate I").await;
        let path = format!("/api/v1/funds/{fund}");
        let mut limited = None;
        let mut passed = 0;
        for _ in 0..10 {
            let response = app.get_as(&path, &app.admin).await;
            match response.status() {
                StatusCode::OK => passed += 1,
                StatusCode::TOO_MANY_REQUESTS => {
                    limited.get_or_insert(response);
                }
                other => panic!("[{backend:?}] {other}"),
            }
        }
        assert!(passed < 10, "[{backend:?}] every request passed");
        let limited = limited.expect("a 429");
        assert_eq!(content_type(&limited), "application/problem+json");
        assert_eq!(limited.headers()["retry-after"], "1");
        let body: Value = limited.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited", "{body}");
        assert_eq!(body["status"], 429);

        // Another key has its own allowance; and after the wait the first may send again.
        let other = app.key(service::entity::api_key::Role::Admin, &[]).await;
        assert_eq!(app.get_as(&path, &other).await.status(), StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        assert_eq!(app.get_as(&path, &app.admin).await.status(), StatusCode::OK);
    }
}
