//! Net returns to the LPs (SPEC §6.6) over real HTTP on both backends: fund terms and their 422s, issue
//! #23's European case entered as real lots and distributions, the ledger, CSV, the snapshot's `net`,
//! and the invariants on random funds.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use updog_tests::{TestApp, backends, id_of};

/// `GET` as admin, expecting 200; the JSON body.
async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get_as(path, &app.admin).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.unwrap()
}

async fn create_fund(app: &TestApp, body: Value) -> i64 {
    app.created("/api/v1/funds", &body).await
}

/// A company with one lot of `shares` at `price_cents`, bought on `on`.
async fn holding(
    app: &TestApp,
    fund: i64,
    name: &str,
    price_cents: i64,
    shares: i64,
    on: &str,
) -> i64 {
    let company = app.company(fund, name).await;
    let investment = app.investment(fund, company).await;
    app.lot(
        fund,
        investment,
        &json!({"lot_type": "initial", "share_price_cents": price_cents, "shares_acquired": shares.to_string(), "acquired_on": on}),
    )
    .await;
    company
}

async fn distribute(app: &TestApp, fund: i64, body: Value) {
    id_of(
        app.post(
            &format!("/api/v1/funds/{fund}/distributions"),
            &app.admin,
            &body,
            None,
        )
        .await,
    )
    .await;
}

/// Issue #23's European case: h = 8 %, c = 100 %, k = 20 %, no fees; 60.00 called on 2021-01-01 and
/// 40.00 on 2022-01-01; 50.00, 70.00 and 60.00 distributed. Returns the fund.
async fn european_case(app: &TestApp) -> i64 {
    let fund = create_fund(
        app,
        json!({"name": "European", "size_cents": 10_000, "vintage_year": 2021, "carry_bps": 2000,
               "hurdle_bps": 800, "first_close_on": "2021-01-01"}),
    )
    .await;
    let a = holding(app, fund, "A", 60, 100, "2021-01-01").await;
    let b = holding(app, fund, "B", 40, 100, "2022-01-01").await;
    distribute(app, fund, json!({"company_id": a, "distributed_on": "2023-01-01", "amount_cents": 5_000, "kind": "dividend"})).await;
    distribute(app, fund, json!({"company_id": a, "distributed_on": "2024-01-01", "amount_cents": 7_000, "kind": "exit"})).await;
    distribute(app, fund, json!({"company_id": b, "distributed_on": "2024-12-31", "amount_cents": 6_000, "kind": "exit"})).await;
    fund
}

#[tokio::test]
async fn the_european_case_pays_the_lps_and_the_gp_to_the_cent() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = european_case(&app).await;
        let r = get_json(
            &app,
            &format!("/api/v1/funds/{fund}/returns?as_of=2024-12-31"),
        )
        .await;
        assert_eq!(r["paid_in_cents"], 10_000, "[{backend:?}] {r}");
        assert_eq!(r["fees_cents"], 0);
        assert_eq!(r["lp_distributed_cents"], 16_400);
        assert_eq!(
            r["gp_carry_paid_cents"], 1_600,
            "20 % of the profit of 80.00"
        );
        assert_eq!(
            (r["lp_nav_cents"].clone(), r["accrued_carry_cents"].clone()),
            (json!(0), json!(0))
        );
        assert_eq!(r["dpi"], "1.640000");
        assert_eq!(r["tvpi"], "1.640000");
        assert_eq!(r["rvpi"], "0.000000");
        assert_eq!(r["pic"], "1.000000");
        assert_eq!(r["net_irr"], "0.214961", "21.496 %");
        assert_eq!(r["gross"]["total_value_cents"], 18_000);
        assert_eq!(
            (
                r["gross_profit_cents"].clone(),
                r["carry_cents"].clone(),
                r["net_profit_cents"].clone()
            ),
            (json!(8_000), json!(1_600), json!(6_400))
        );

        let ledger = get_json(
            &app,
            &format!("/api/v1/funds/{fund}/returns/ledger?as_of=2024-12-31"),
        )
        .await;
        let lines = ledger["data"].as_array().unwrap();
        let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "investment",
                "investment",
                "distribution",
                "distribution",
                "distribution",
                "liquidation"
            ]
        );
        let dists: Vec<&Value> = lines
            .iter()
            .filter(|l| l["kind"] == "distribution")
            .collect();
        let lp: Vec<i64> = dists
            .iter()
            .map(|l| l["lp_cents"].as_i64().unwrap())
            .collect();
        let gp: Vec<i64> = dists
            .iter()
            .map(|l| l["gp_cents"].as_i64().unwrap())
            .collect();
        assert_eq!(lp, [5_000, 6_824, 4_576]);
        assert_eq!(gp, [0, 176, 1_424]);
        // The last distribution: 2.80 of catch-up and 11.44 of split for the GP.
        assert_eq!(
            (
                dists[2]["gp_tier3_cents"].as_i64(),
                dists[2]["gp_tier4_cents"].as_i64()
            ),
            (Some(280), Some(1_144))
        );
        assert_eq!(dists[0]["paid_in_cents"], 10_000);
        assert_eq!(dists[0]["returned_cents"], 5_000);
        assert_eq!(dists[2]["returned_cents"], 10_000);
        assert_eq!(dists[2]["hurdle_balance_cents"], 0, "the hurdle is met");
    }
}

#[tokio::test]
async fn fund_terms_are_created_changed_and_refused_with_the_field_named() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        // An old body keeps working, with SPEC §6.6's defaults.
        let plain = app.fund("Plain").await;
        let f = get_json(&app, &format!("/api/v1/funds/{plain}")).await;
        assert_eq!(f["first_close_on"], Value::Null, "[{backend:?}]");
        assert_eq!(
            (
                f["commitment_period_years"].clone(),
                f["term_years"].clone()
            ),
            (json!(5), json!(10))
        );
        assert_eq!(
            (f["hurdle_bps"].clone(), f["catch_up_bps"].clone()),
            (json!(0), json!(10_000))
        );
        assert_eq!(
            (f["waterfall"].clone(), f["post_period_fee_basis"].clone()),
            (json!("european"), json!("net_invested_capital"))
        );

        let base = json!({"name": "Terms", "size_cents": 1_000_000, "vintage_year": 2024, "carry_bps": 2000});
        let with = |field: &str, value: Value| {
            let mut body = base.clone();
            body[field] = value;
            body
        };
        let cases = [
            (
                with("commitment_period_years", json!(16)),
                "/commitment_period_years",
            ),
            (with("term_years", json!(0)), "/term_years"),
            (with("term_years", json!(31)), "/term_years"),
            (
                with("post_period_fee_bps", json!(10_001)),
                "/post_period_fee_bps",
            ),
            (with("hurdle_bps", json!(-1)), "/hurdle_bps"),
            (with("catch_up_bps", json!(10_001)), "/catch_up_bps"),
            (
                with("first_close_on", json!("1899-12-31")),
                "/first_close_on",
            ),
            (
                json!({"name": "T", "size_cents": 1, "vintage_year": 2024, "carry_bps": 2000, "hurdle_bps": 800, "catch_up_bps": 2000}),
                "/catch_up_bps",
            ),
            (
                json!({"name": "T", "size_cents": 1, "vintage_year": 2024, "hurdle_bps": 800, "waterfall": "american"}),
                "/hurdle_bps",
            ),
            (
                json!({"name": "T", "size_cents": 1, "vintage_year": 2024, "commitment_period_years": 12, "term_years": 10}),
                "/commitment_period_years",
            ),
        ];
        for (body, pointer) in cases {
            let response = app.post("/api/v1/funds", &app.admin, &body, None).await;
            assert_eq!(
                response.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body}"
            );
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
        }
        for body in [
            with("waterfall", json!("swiss")),
            with("first_close_on", json!("2021-1-1")),
        ] {
            let response = app.post("/api/v1/funds", &app.admin, &body, None).await;
            assert!(response.status().is_client_error(), "{body}");
        }
        assert_eq!(app.db.count("funds").await, 1, "nothing written");

        // A PATCH is checked against the terms it leaves: a hurdle on the fund refuses `american`.
        let fund = create_fund(&app, with("hurdle_bps", json!(800))).await;
        let path = format!("/api/v1/funds/{fund}");
        let refused = app
            .send(
                Method::PATCH,
                &path,
                &app.admin,
                Some("1"),
                Some(&json!({"waterfall": "american"})),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["errors"][0]["pointer"], "/hurdle_bps");
        let changed = app
            .send(Method::PATCH, &path, &app.admin, Some("1"), Some(&json!({"hurdle_bps": 0, "waterfall": "american", "first_close_on": "2024-03-15", "post_period_fee_bps": 150})))
            .await;
        assert_eq!(changed.status(), StatusCode::OK);
        let f: Value = changed.json().await.unwrap();
        assert_eq!(
            (
                f["waterfall"].clone(),
                f["first_close_on"].clone(),
                f["post_period_fee_bps"].clone(),
                f["version"].clone()
            ),
            (json!("american"), json!("2024-03-15"), json!(150), json!(2))
        );
        let cleared = app
            .send(
                Method::PATCH,
                &path,
                &app.admin,
                Some("2"),
                Some(&json!({"first_close_on": null, "post_period_fee_bps": null})),
            )
            .await;
        let f: Value = cleared.json().await.unwrap();
        assert_eq!(
            (
                f["first_close_on"].clone(),
                f["post_period_fee_bps"].clone()
            ),
            (Value::Null, Value::Null)
        );
        let stale = app
            .send(
                Method::PATCH,
                &path,
                &app.admin,
                Some("1"),
                Some(&json!({"term_years": 12})),
            )
            .await;
        assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    }
}

#[tokio::test]
async fn a_write_off_needs_its_date() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let undated = app
            .post(
                &format!("/api/v1/funds/{fund}/companies"),
                &app.admin,
                &json!({"name": "Gone", "stage": "seed", "status": "written_off"}),
                None,
            )
            .await;
        assert_eq!(
            undated.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "[{backend:?}]"
        );
        let problem: Value = undated.json().await.unwrap();
        assert_eq!(problem["errors"][0]["pointer"], "/marked_at");
        assert_eq!(app.db.count("portfolio_companies").await, 0);

        let company = app.company(fund, "Acme").await;
        let path = format!("/api/v1/funds/{fund}/companies/{company}");
        let refused = app
            .send(
                Method::PATCH,
                &path,
                &app.admin,
                Some("1"),
                Some(&json!({"status": "written_off"})),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.db.count("company_marks").await, 0, "nothing written");
        let dated = app
            .send(
                Method::PATCH,
                &path,
                &app.admin,
                Some("1"),
                Some(&json!({"status": "written_off", "marked_at": "2025-06-30T00:00:00Z"})),
            )
            .await;
        assert_eq!(dated.status(), StatusCode::OK);
        // Sending the status again needs no date: the write-off mark stands, and no other is added.
        let again = app
            .send(
                Method::PATCH,
                &path,
                &app.admin,
                Some("2"),
                Some(&json!({"status": "written_off", "sector": "Fintech"})),
            )
            .await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(app.db.count("company_marks").await, 1);
    }
}

#[tokio::test]
async fn before_the_first_close_everything_is_zero_and_without_lots_the_ratios_are_zero() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = create_fund(
            &app,
            json!({"name": "Fees only", "size_cents": 10_000_000_000i64, "vintage_year": 2021, "management_fee_bps": 200}),
        )
        .await;
        let before = get_json(
            &app,
            &format!("/api/v1/funds/{fund}/returns?as_of=2020-12-31"),
        )
        .await;
        assert_eq!(before["paid_in_cents"], 0, "[{backend:?}]");
        assert_eq!(
            (
                before["dpi"].clone(),
                before["tvpi"].clone(),
                before["net_irr"].clone(),
                before["pic"].clone()
            ),
            (Value::Null, Value::Null, Value::Null, json!("0.000000"))
        );

        // The first close defaults to 1 January of the vintage: four quarters of 0.5 % of 100M by the
        // first day of 2022 (that day's fee included), five calls.
        let after = get_json(
            &app,
            &format!("/api/v1/funds/{fund}/returns?as_of=2022-01-01"),
        )
        .await;
        assert_eq!(after["fees_cents"], 250_000_000i64);
        assert_eq!(
            (
                after["dpi"].clone(),
                after["rvpi"].clone(),
                after["tvpi"].clone()
            ),
            (json!("0.000000"), json!("0.000000"), json!("0.000000"))
        );
        assert_eq!(after["net_profit_cents"], -250_000_000i64);
        let ledger = get_json(
            &app,
            &format!("/api/v1/funds/{fund}/returns/ledger?as_of=2022-01-01"),
        )
        .await;
        let fees: Vec<&Value> = ledger["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["kind"] == "management_fee")
            .collect();
        assert_eq!(fees.len(), 5);
        assert_eq!(
            (
                fees[0]["fee_basis"].clone(),
                fees[0]["fee_rate_bps"].clone(),
                fees[0]["fee_basis_cents"].clone()
            ),
            (json!("commitment"), json!(200), json!(10_000_000_000i64))
        );
    }
}

#[tokio::test]
async fn returns_and_the_ledger_answer_csv_or_406_and_follow_every_write() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = european_case(&app).await;
        let csv = app
            .client
            .get(app.url(&format!("/api/v1/funds/{fund}/returns?as_of=2024-12-31")))
            .bearer_auth(&app.admin)
            .header("Accept", "text/csv")
            .send()
            .await
            .unwrap();
        assert_eq!(csv.status(), StatusCode::OK, "[{backend:?}]");
        let text = csv.text().await.unwrap();
        let mut lines = text.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("as_of,committed,paid_in,fees,lp_distributed,")
        );
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("2024-12-31,100.00,100.00,0.00,164.00,"),
            "{text}"
        );
        let ledger_csv = app
            .client
            .get(app.url(&format!(
                "/api/v1/funds/{fund}/returns/ledger?as_of=2024-12-31"
            )))
            .bearer_auth(&app.admin)
            .header("Accept", "text/csv")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            ledger_csv.lines().count(),
            7,
            "a header and six lines: {ledger_csv}"
        );
        assert!(
            ledger_csv
                .lines()
                .nth(5)
                .unwrap()
                .starts_with("2024-12-31,distribution,60.00,45.76,14.24,"),
            "{ledger_csv}"
        );
        let refused = app
            .client
            .get(app.url(&format!("/api/v1/funds/{fund}/returns")))
            .bearer_auth(&app.admin)
            .header("Accept", "application/xml")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::NOT_ACCEPTABLE);

        // A change of terms is a new answer: no carry, and the LPs get everything.
        let path = format!("/api/v1/funds/{fund}");
        let patched = app
            .send(
                Method::PATCH,
                &path,
                &app.admin,
                Some("1"),
                Some(&json!({"carry_bps": 0})),
            )
            .await;
        assert_eq!(patched.status(), StatusCode::OK);
        let r = get_json(
            &app,
            &format!("/api/v1/funds/{fund}/returns?as_of=2024-12-31"),
        )
        .await;
        assert_eq!(
            (
                r["lp_distributed_cents"].clone(),
                r["gp_carry_paid_cents"].clone()
            ),
            (json!(18_000), json!(0))
        );
    }
}

#[tokio::test]
async fn a_snapshot_carries_the_same_net_figures_as_returns() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = european_case(&app).await;
        let created = app
            .post(
                &format!("/api/v1/funds/{fund}/snapshots"),
                &app.admin,
                &json!({"name": "Q4"}),
                None,
            )
            .await;
        assert_eq!(created.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        let id = created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.run_jobs().await;
        let snapshot = get_json(&app, &format!("/api/v1/snapshots/{id}")).await;
        assert_eq!(snapshot["status"], "complete");
        let net = &snapshot["calculated_metrics"]["net"];
        let as_of = net["as_of"].as_str().unwrap();
        let returns = get_json(&app, &format!("/api/v1/funds/{fund}/returns?as_of={as_of}")).await;
        for field in [
            "paid_in_cents",
            "lp_distributed_cents",
            "gp_carry_paid_cents",
            "lp_nav_cents",
            "accrued_carry_cents",
            "clawback_cents",
            "net_profit_cents",
        ] {
            assert_eq!(net[field], returns[field], "{field}");
        }
        for ratio in ["dpi", "tvpi", "net_irr"] {
            let a: f64 = net[ratio].as_str().unwrap().parse().unwrap();
            let b: f64 = returns[ratio].as_str().unwrap().parse().unwrap();
            assert_eq!(a, b, "{ratio}");
        }
        assert_eq!(net["gp_carry_paid_cents"], 1_600);
    }
}

/// A small deterministic generator (the integration tests take no extra crates).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[tokio::test]
async fn on_random_funds_every_amount_is_divided_whole_and_the_bridge_is_exact() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let mut rng = Lcg(23);
        for n in 0..4 {
            let american = n % 2 == 1;
            let fund = create_fund(
                &app,
                json!({"name": format!("Random {n}"), "size_cents": 100_000_000, "vintage_year": 2020,
                       "management_fee_bps": 100 + rng.next(200), "carry_bps": 1000 + rng.next(2000),
                       "hurdle_bps": if american { 0 } else { rng.next(1000) },
                       "waterfall": if american { "american" } else { "european" }}),
            )
            .await;
            let mut companies = Vec::new();
            for c in 0..3 {
                let month = 1 + rng.next(12);
                let on = format!("2020-{month:02}-01");
                let price = 100 + rng.next(400) as i64;
                companies.push((
                    holding(&app, fund, &format!("C{c}"), price, 10_000, &on).await,
                    month,
                ));
            }
            for (i, (company, month)) in companies.iter().enumerate() {
                let amount = 100_000 + rng.next(5_000_000) as i64;
                let year = 2021 + i;
                let kind = if i == 0 { "dividend" } else { "exit" };
                let _ = month;
                distribute(&app, fund, json!({"company_id": company, "distributed_on": format!("{year}-06-30"), "amount_cents": amount, "kind": kind})).await;
            }
            let r = get_json(
                &app,
                &format!("/api/v1/funds/{fund}/returns?as_of=2024-12-31"),
            )
            .await;
            let ledger = get_json(
                &app,
                &format!("/api/v1/funds/{fund}/returns/ledger?as_of=2024-12-31"),
            )
            .await;
            let lines = ledger["data"].as_array().unwrap();
            let i = |v: &Value| v.as_i64().unwrap();
            for l in lines.iter().filter(|l| l["kind"] == "distribution") {
                assert_eq!(
                    i(&l["lp_cents"]) + i(&l["gp_cents"]),
                    i(&l["amount_cents"]),
                    "[{backend:?}] {l}"
                );
            }
            let nav = i(&r["gross"]["unrealized_cents"]);
            assert_eq!(
                i(&r["lp_nav_cents"]) + i(&r["accrued_carry_cents"]),
                nav + i(&r["clawback_cents"]),
                "{r}"
            );
            assert_eq!(
                i(&r["gross_profit_cents"]) - i(&r["fees_cents"]) - i(&r["carry_cents"]),
                i(&r["net_profit_cents"])
            );
            assert_eq!(
                i(&r["net_profit_cents"]),
                i(&r["lp_distributed_cents"]) + i(&r["lp_nav_cents"]) - i(&r["paid_in_cents"]),
                "net profit is what the LPs got over what they paid in: {r}"
            );
            let last = lines.last().unwrap();
            assert_eq!(last["kind"], "liquidation");
            assert_eq!(i(&last["paid_in_cents"]), i(&r["paid_in_cents"]));
        }
    }
}

#[tokio::test]
async fn a_complete_snapshot_keeps_its_bytes_when_the_terms_change() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = european_case(&app).await;
        let created = app
            .post(
                &format!("/api/v1/funds/{fund}/snapshots"),
                &app.admin,
                &json!({"name": "Q4"}),
                None,
            )
            .await;
        let id = created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.run_jobs().await;
        let path = format!("/api/v1/snapshots/{id}");
        let before = app.get_as(&path, &app.admin).await.bytes().await.unwrap();
        let patched = app
            .send(
                Method::PATCH,
                &format!("/api/v1/funds/{fund}"),
                &app.admin,
                Some("1"),
                Some(&json!({"carry_bps": 1000, "management_fee_bps": 250})),
            )
            .await;
        assert_eq!(patched.status(), StatusCode::OK, "[{backend:?}]");
        let after = app.get_as(&path, &app.admin).await.bytes().await.unwrap();
        assert_eq!(before, after, "the snapshot's document is what it was");
        let net: Value =
            serde_json::from_slice::<Value>(&after).unwrap()["calculated_metrics"]["net"].clone();
        assert_eq!(net["gp_carry_paid_cents"], 1_600, "20 % carry, as captured");
    }
}
