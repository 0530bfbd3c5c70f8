//! What a portfolio can hold (SPEC §6.1a), over real HTTP on both backends: sales bounded by the
//! shares held on their date, nothing before the first lot, an exit that sells everything, and a lot
//! that a later sale needs cannot be deleted.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use updog_tests::{TestApp, backends, id_of};

/// Posts a distribution of `company` and returns the response.
async fn distribute(app: &TestApp, fund: i64, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/funds/{fund}/distributions"),
        &app.admin,
        &body,
        None,
    )
    .await
}

async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_company_cannot_sell_more_than_it_holds_nor_before_it_bought() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let acme = app.company(fund, "Acme").await;
        let investment = app.investment(fund, acme).await;
        let lot = app
            .lot(
                fund,
                investment,
                &json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "900000", "acquired_on": "2023-03-01"}),
            )
            .await;
        let sale = |on: &str, shares: &str| json!({"company_id": acme, "distributed_on": on, "amount_cents": 100_000, "kind": "partial_sale", "shares_sold": shares});

        let too_many = problem(
            distribute(&app, fund, sale("2024-01-01", "10000000")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(too_many["code"], "shares_not_held", "[{backend:?}]");
        assert_eq!(too_many["shares_held_on_date"], "900000.00000000");
        assert_eq!(too_many["errors"][0]["pointer"], "/shares_sold");

        let too_early = problem(
            distribute(&app, fund, sale("2020-01-01", "1")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(too_early["code"], "shares_not_held");
        assert_eq!(too_early["shares_held_on_date"], "0.00000000");
        assert_eq!(too_early["errors"][0]["pointer"], "/distributed_on");
        assert!(
            too_early["detail"].as_str().unwrap().contains("2023-03-01"),
            "{too_early}"
        );
        assert_eq!(app.db.count("distributions").await, 0, "nothing written");

        let first_sale = id_of(distribute(&app, fund, sale("2024-01-01", "400000")).await).await;

        // An exit sells every share held on its date: 500,000, and no other figure.
        let wrong_exit = json!({"company_id": acme, "distributed_on": "2025-01-01", "amount_cents": 5_000_000, "kind": "exit", "shares_sold": "1"});
        let refused = problem(
            distribute(&app, fund, wrong_exit).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(refused["shares_held_on_date"], "500000.00000000");
        let exit = distribute(
            &app,
            fund,
            json!({"company_id": acme, "distributed_on": "2025-01-01", "amount_cents": 5_000_000, "kind": "exit"}),
        )
        .await;
        assert_eq!(exit.status(), StatusCode::CREATED);
        let exit: Value = exit.json().await.unwrap();
        assert_eq!(exit["shares_sold"], "500000.00000000");
        let company: Value = app
            .get_as(
                &format!("/api/v1/funds/{fund}/companies/{acme}"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(company["status"], "exited");
        assert_eq!(company["version"], 2);

        let after_exit = problem(
            distribute(&app, fund, sale("2025-06-01", "1")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(after_exit["shares_held_on_date"], "0.00000000");

        // The lot is what the 2024 sale sold: deleting it is refused, naming that sale.
        let lot_path = format!("/api/v1/funds/{fund}/lots/{}", lot["id"].as_str().unwrap());
        let short = problem(
            app.send(Method::DELETE, &lot_path, &app.admin, None, None)
                .await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(short["code"], "later_sale_short");
        assert_eq!(short["distribution_id"], first_sale);
        assert_eq!(app.db.count("investment_lots").await, 1, "nothing deleted");

        // Deleting a distribution leaves more shares held, never fewer: always possible.
        let sale_path = format!("/api/v1/funds/{fund}/distributions/{first_sale}");
        let deleted = app
            .send(Method::DELETE, &sale_path, &app.admin, None, None)
            .await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn an_exit_values_every_share_held_on_its_date_as_sold() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let acme = app.company(fund, "Acme").await;
        let investment = app.investment(fund, acme).await;
        for (shares, on) in [("100", "2023-01-01"), ("300", "2023-06-01")] {
            app.lot(
                fund,
                investment,
                &json!({"lot_type": "initial", "share_price_cents": 1000, "shares_acquired": shares, "acquired_on": on}),
            )
            .await;
        }
        let exit = json!({"company_id": acme, "distributed_on": "2024-01-01", "amount_cents": 1_200_000, "kind": "exit"});
        assert_eq!(
            distribute(&app, fund, exit).await.status(),
            StatusCode::CREATED
        );
        // A lot entered later with an earlier date is sold by the exit too: nothing stays unrealized.
        app.lot(
            fund,
            investment,
            &json!({"lot_type": "follow_on", "share_price_cents": 1000, "shares_acquired": "100", "acquired_on": "2023-09-01"}),
        )
        .await;
        let moic: Value = app
            .get_as(
                &format!("/api/v1/funds/{fund}/moic?as_of=2024-06-30"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        // Invested 100 + 300 + 100 shares at $10 = $5,000; the exit's $12,000 realized: 2.4×.
        assert_eq!(moic["fund"]["invested_cents"], 500_000, "[{backend:?}]");
        assert_eq!(moic["fund"]["realized_cents"], 1_200_000);
        assert_eq!(moic["fund"]["unrealized_cents"], 0);
        assert_eq!(moic["fund"]["gross_moic"], "2.400000");
        assert_eq!(moic["companies"][0]["shares_held"], "0.00000000");
    }
}

async fn moic(app: &TestApp, fund: i64, as_of: &str) -> Value {
    let response = app
        .get_as(
            &format!("/api/v1/funds/{fund}/moic?as_of={as_of}"),
            &app.admin,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "as_of {as_of}");
    response.json().await.unwrap()
}

/// Marks by date (SPEC §6.4): each `as_of` uses the mark in effect on it, a write-off is worth 0 from
/// its date and not before, and dates are exactly `YYYY-MM-DD`.
#[tokio::test]
async fn every_date_is_valued_at_the_mark_in_effect_on_it() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let acme = app.company(fund, "Acme").await;
        let investment = app.investment(fund, acme).await;
        app.lot(
            fund,
            investment,
            &json!({"lot_type": "initial", "share_price_cents": 100, "shares_acquired": "1000", "acquired_on": "2021-01-01"}),
        )
        .await;
        let marks = format!("/api/v1/funds/{fund}/companies/{acme}/marks");
        for body in [
            json!({"marked_on": "2021-06-30", "share_price_cents": 200, "source": "round"}),
            json!({"marked_on": "2022-06-30", "share_price": "3.5", "source": "409a", "note": "Q2 409A"}),
        ] {
            let created = app.post(&marks, &app.admin, &body, None).await;
            assert_eq!(created.status(), StatusCode::CREATED, "[{backend:?}]");
        }
        let taken = app
            .post(
                &marks,
                &app.admin,
                &json!({"marked_on": "2022-06-30", "share_price_cents": 1, "source": "manual"}),
                None,
            )
            .await;
        assert_eq!(
            problem(taken, StatusCode::CONFLICT).await["code"],
            "mark_date_taken"
        );

        // Before the first mark: held at cost; then $2, then $3.50 a share, 1,000 shares.
        let before = moic(&app, fund, "2021-03-31").await;
        assert_eq!(before["companies"][0]["valuation_basis"], "cost");
        assert_eq!(before["fund"]["unrealized_cents"], 100_000);
        assert_eq!(
            moic(&app, fund, "2021-12-31").await["fund"]["unrealized_cents"],
            200_000
        );
        let later = moic(&app, fund, "2023-01-01").await;
        assert_eq!(later["fund"]["unrealized_cents"], 350_000);
        assert_eq!(later["fund"]["gross_moic"], "3.500000");
        let company = format!("/api/v1/funds/{fund}/companies/{acme}");
        let read: Value = app.get_as(&company, &app.admin).await.json().await.unwrap();
        assert_eq!(read["current_share_price_cents"], 350, "the latest mark");

        // Written off on 2023-06-30: worth 0 from that day, and its last price before it.
        let version = format!("\"{}\"", read["version"]);
        let patched = app
            .send(
                Method::PATCH,
                &company,
                &app.admin,
                Some(&version),
                Some(&json!({"status": "written_off", "marked_at": "2023-06-30T12:00:00Z"})),
            )
            .await;
        assert_eq!(patched.status(), StatusCode::OK);
        let patched: Value = patched.json().await.unwrap();
        assert_eq!(patched["current_share_price_cents"], 0);
        assert_eq!(
            moic(&app, fund, "2023-06-29").await["fund"]["unrealized_cents"],
            350_000
        );
        assert_eq!(
            moic(&app, fund, "2023-06-30").await["fund"]["unrealized_cents"],
            0
        );

        // Dates are exactly YYYY-MM-DD, and the answer says so and names the field.
        let loose = app
            .post(
                &marks,
                &app.admin,
                &json!({"marked_on": "2021-3-15", "share_price_cents": 1, "source": "manual"}),
                None,
            )
            .await;
        let loose = problem(loose, StatusCode::BAD_REQUEST).await;
        assert_eq!(loose["errors"][0]["pointer"], "/marked_on");
        assert!(loose["detail"].as_str().unwrap().contains("YYYY-MM-DD"));
        let bad_as_of = app
            .get_as(
                &format!("/api/v1/funds/{fund}/moic?as_of=03/15/2021"),
                &app.admin,
            )
            .await;
        let bad_as_of = problem(bad_as_of, StatusCode::BAD_REQUEST).await;
        let detail = bad_as_of["detail"].as_str().unwrap();
        assert!(
            detail.contains("as_of") && detail.contains("YYYY-MM-DD"),
            "{detail}"
        );
    }
}

/// Real lots (SPEC §6.1): a price in fractions of a cent, and fees inside the cost basis.
#[tokio::test]
async fn a_lot_takes_an_exact_price_and_its_transaction_costs() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let acme = app.company(fund, "Acme").await;
        let investment = app.investment(fund, acme).await;
        // A converted SAFE: 3,560,427 shares at $0.4213 = $1,500,007.8951, $1,500,007.90 half-up, plus $15,000 of fees.
        let lot = app
            .lot(
                fund,
                investment,
                &json!({"lot_type": "conversion", "share_price": "0.4213", "shares_acquired": "3560427", "transaction_costs_cents": 1_500_000, "acquired_on": "2021-03-15"}),
            )
            .await;
        assert_eq!(lot["share_price"], "0.42130000", "[{backend:?}]");
        assert_eq!(lot["share_price_cents"], 42);
        assert_eq!(lot["transaction_costs_cents"], 1_500_000);
        assert_eq!(lot["cost_basis_cents"], 150_000_790 + 1_500_000);
        let both = app
            .post(
                &format!("/api/v1/funds/{fund}/investments/{investment}/lots"),
                &app.admin,
                &json!({"lot_type": "initial", "share_price": "1", "share_price_cents": 100, "shares_acquired": "1", "acquired_on": "2021-03-15"}),
                None,
            )
            .await;
        let both = problem(both, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(both["errors"][0]["pointer"], "/share_price");
    }
}

/// A snapshot keeps what it captured (SPEC §7): a mark entered after it changes today's figures and a
/// new snapshot's, never the old snapshot's.
#[tokio::test]
async fn a_snapshot_taken_before_a_new_mark_is_unchanged_after_it() {
    for backend in backends() {
        let app = TestApp::spawn_with_workers(backend, 1).await;
        let p = app.portfolio().await;
        let snapshots = format!("/api/v1/funds/{}/snapshots", p.fund);
        let taken = app
            .post(&snapshots, &app.admin, &json!({"name": "before"}), None)
            .await;
        assert_eq!(taken.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        let location = taken.headers()["location"].to_str().unwrap().to_owned();
        let before = complete(&app, &location).await;
        let acme_before = &before["calculated_metrics"]["metrics"]["companies"][0];
        assert_eq!(
            acme_before["unrealized_cents"], 300_000,
            "1,000 shares at $3"
        );

        let mark = app
            .post(
                &format!("/api/v1/funds/{}/companies/{}/marks", p.fund, p.acme),
                &app.admin,
                &json!({"marked_on": "2025-01-01", "share_price": "9", "source": "secondary"}),
                None,
            )
            .await;
        assert_eq!(mark.status(), StatusCode::CREATED);
        let now = moic(&app, p.fund, "2025-06-30").await;
        assert_eq!(now["companies"][0]["unrealized_cents"], 900_000);

        let after: Value = app
            .get_as(&location, &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(after["calculated_metrics"], before["calculated_metrics"]);
        assert_eq!(after["source_hash"], before["source_hash"]);
        let again = app
            .post(&snapshots, &app.admin, &json!({"name": "after"}), None)
            .await;
        assert_eq!(
            again.status(),
            StatusCode::ACCEPTED,
            "a new mark is a new state"
        );
        let again: Value = again.json().await.unwrap();
        assert_ne!(again["source_hash"], before["source_hash"]);
    }
}

async fn complete(app: &TestApp, location: &str) -> Value {
    for _ in 0..100 {
        let body: Value = app.get_as(location, &app.admin).await.json().await.unwrap();
        if body["status"] == "complete" {
            return body;
        }
        assert_ne!(body["status"], "error", "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("snapshot {location} did not complete");
}

/// A small deterministic generator (a 64-bit LCG): the same sequence on every run and backend.
struct Draws(u64);

impl Draws {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Random histories of buys, sales (some of them exits) and lot deletions, over HTTP: each step is
/// refused (422 or 409, nothing written) or accepted, no company ever holds a negative number of shares
/// on any date, and the served figures equal a recomputation from scratch of the stored rows.
#[tokio::test]
async fn random_histories_never_hold_negative_shares_and_the_figures_are_recomputable() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let fund = app.fund("Fund").await;
        let acme = app.company(fund, "Acme").await;
        let investment = app.investment(fund, acme).await;
        let mut draws = Draws(0x5eed);
        let mut lots: Vec<String> = Vec::new();
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..40 {
            let day = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap()
                + chrono::Days::new(draws.below(900));
            let response = match draws.below(10) {
                0..=3 => {
                    app.post(
                        &format!("/api/v1/funds/{fund}/investments/{investment}/lots"),
                        &app.admin,
                        &json!({"lot_type": "initial", "share_price_cents": 100 + draws.below(900), "shares_acquired": (1 + draws.below(1000)).to_string(), "acquired_on": day.to_string()}),
                        None,
                    )
                    .await
                }
                4..=7 => {
                    let exit = draws.below(8) == 0;
                    let mut body = json!({"company_id": acme, "distributed_on": day.to_string(), "amount_cents": 1 + draws.below(500_000), "kind": if exit { "exit" } else { "partial_sale" }});
                    if !exit {
                        body["shares_sold"] = json!((1 + draws.below(1500)).to_string());
                    }
                    app.post(
                        &format!("/api/v1/funds/{fund}/distributions"),
                        &app.admin,
                        &body,
                        None,
                    )
                    .await
                }
                _ if !lots.is_empty() => {
                    let at = draws.below(lots.len() as u64) as usize;
                    let path = format!("/api/v1/funds/{fund}/lots/{}", lots[at]);
                    let response = app
                        .send(Method::DELETE, &path, &app.admin, None, None)
                        .await;
                    if response.status() == StatusCode::NO_CONTENT {
                        lots.remove(at);
                    }
                    response
                }
                _ => continue,
            };
            let status = response.status();
            if status.is_success() {
                accepted += 1;
                if status == StatusCode::CREATED {
                    let body: Value = response.json().await.unwrap();
                    if body.get("lot_type").is_some() {
                        lots.push(body["id"].as_str().unwrap().to_owned());
                    }
                }
            } else {
                assert!(
                    [StatusCode::UNPROCESSABLE_ENTITY, StatusCode::CONFLICT].contains(&status),
                    "[{backend:?}] {status}: {}",
                    response.text().await.unwrap()
                );
                refused += 1;
            }
            let state = service::fund_state::load_state(app.db.conn(), fund)
                .await
                .unwrap();
            for as_of in ["2021-06-30", "2022-06-30", "2023-12-31"] {
                let served = moic(&app, fund, as_of).await;
                let held = served["companies"][0]["shares_held"].as_str().unwrap();
                assert!(
                    !held.starts_with('-'),
                    "[{backend:?}] {held} held on {as_of}"
                );
                let fresh = service::metrics::compute(&state, as_of.parse().unwrap());
                assert_eq!(
                    served["fund"]["total_value_cents"], fresh.fund.total_value_cents,
                    "[{backend:?}] {as_of}"
                );
                assert_eq!(served["fund"]["invested_cents"], fresh.fund.invested_cents);
                assert_eq!(
                    served["companies"][0]["shares_held"],
                    fresh.companies[0].shares_held.to_string()
                );
            }
        }
        assert!(
            accepted > 10 && refused > 3,
            "both kinds of step were tried: {accepted}/{refused}"
        );
    }
}
