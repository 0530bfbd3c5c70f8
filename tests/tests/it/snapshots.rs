//! Forecast snapshots and the job outbox (SPEC §7, §8), over real HTTP and real workers.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use service::entity::api_key::Role;
use service::entity::job_outbox;
use service::outbox::{self, Handler, HandlerFuture, Handlers};
use service::{Backend, Database};
use updog_tests::{TestApp, backends};

use crate::fixtures;

/// A fund with two companies (one marked, with reserve assumptions), lots and a sale.
async fn portfolio(app: &TestApp) -> (i64, i64, i64) {
    let fund = app.fund("Fund").await;
    let mut companies = Vec::new();
    for (name, price) in [("Acme", Some(300)), ("Beta", None)] {
        let body = json!({"name": name, "stage": "series_a", "current_share_price_cents": price,
                          "reserve_exit_moic_bps": 30000, "exit_moic_bps": 40000, "exit_probability": "0.5"});
        companies.push(
            app.created(&format!("/api/v1/funds/{fund}/companies"), &body)
                .await,
        );
    }
    for (i, company) in companies.iter().enumerate() {
        let investment = app.investment(fund, *company).await;
        let lot = json!({"lot_type": "initial", "share_price_cents": 100 * (i as i64 + 1), "shares_acquired": "1000", "acquired_on": "2024-01-01"});
        let r = app
            .post(
                &format!("/api/v1/funds/{fund}/investments/{investment}/lots"),
                &app.admin,
                &lot,
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    (fund, companies[0], companies[1])
}

async fn create(app: &TestApp, fund: i64, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/funds/{fund}/snapshots"),
        &app.admin,
        &body,
        None,
    )
    .await
}

async fn poll_until_complete(app: &TestApp, location: &str) -> Value {
    for _ in 0..100 {
        let body: Value = app.get_as(location, &app.admin).await.json().await.unwrap();
        if body["status"] == "complete" || body["status"] == "error" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("snapshot {location} did not complete");
}

#[tokio::test]
async fn a_client_creates_a_snapshot_polls_it_to_completion_and_reads_its_metrics_and_allocations()
{
    for backend in backends() {
        let app = TestApp::spawn_with_workers(backend, 2).await;
        let (fund, acme, beta) = portfolio(&app).await;
        let response = create(&app, fund, json!({"name": "Q4 plan"})).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        assert_eq!(response.headers()["retry-after"], "1");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = response.json().await.unwrap();
        assert_eq!(created["status"], "pending");
        assert_eq!(created["source_hash"].as_str().unwrap().len(), 64);

        let done = poll_until_complete(&app, &location).await;
        assert_eq!(done["status"], "complete", "[{backend:?}] {done}");
        assert_eq!(done["progress"]["done"], done["progress"]["total"]);

        // The metrics are exactly the §6 functions on the same data, as of the snapshot's date.
        let state = service::fund_state::load_state(app.db.conn(), fund)
            .await
            .unwrap();
        let time: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(done["snapshot_time"].clone()).unwrap();
        let expected = service::snapshots::calculate(
            &service::snapshots::SnapshotInputs {
                engine_version: service::reserves::ENGINE_VERSION.into(),
                state,
                reserve_policy: None,
                manual_allocations: None,
            },
            time,
        );
        assert_eq!(
            done["calculated_metrics"],
            serde_json::to_value(&expected).unwrap(),
            "[{backend:?}]"
        );
        assert_eq!(
            done["calculated_metrics"]["metrics"]["fund"]["invested_cents"],
            300_000
        );

        let allocations: Value = app
            .get_as(&format!("{location}/allocations"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        let rows = allocations["data"].as_array().unwrap();
        assert_eq!(
            rows.len(),
            2,
            "[{backend:?}] one allocation per active company"
        );
        let companies: Vec<i64> = rows
            .iter()
            .map(|r| r["company_id"].as_i64().unwrap())
            .collect();
        // Equal scores: the larger investment (Beta, 200,000) ranks first.
        assert_eq!(companies, vec![beta, acme]);
        assert_eq!(rows[0]["priority"], 1);
        assert_eq!(rows[0]["source"], "engine");
        assert_eq!(rows[0]["allocation_score"], "1.500000");
        // Caps: 50% of invested.
        assert_eq!(rows[0]["planned_reserve_cents"], 100_000);
        assert_eq!(rows[1]["planned_reserve_cents"], 50_000);

        // Applying it copies the allocations into the reserve plan.
        let applied = app
            .post(
                &format!("{location}/apply"),
                &app.admin,
                &json!({"expected_version": 1}),
                None,
            )
            .await;
        assert_eq!(applied.status(), StatusCode::OK, "[{backend:?}]");
        let plan: Value = applied.json().await.unwrap();
        assert_eq!(plan["version"], 2);
        assert_eq!(plan["total_planned_cents"], 150_000);
    }
}

#[tokio::test]
async fn an_unchanged_fund_gives_the_same_snapshot_and_one_more_lot_a_new_one() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, acme, _) = portfolio(&app).await;
        let first: Value = create(&app, fund, json!({"name": "A"}))
            .await
            .json()
            .await
            .unwrap();
        let again = create(&app, fund, json!({"name": "another name, same state"})).await;
        assert_eq!(again.status(), StatusCode::OK, "[{backend:?}]");
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["id"], first["id"]);
        assert_eq!(again["source_hash"], first["source_hash"]);

        let investment = app.investment(fund, acme).await;
        let lot = json!({"lot_type": "follow_on", "share_price_cents": 500, "shares_acquired": "1", "acquired_on": "2025-01-01"});
        app.post(
            &format!("/api/v1/funds/{fund}/investments/{investment}/lots"),
            &app.admin,
            &lot,
            None,
        )
        .await;
        let changed = create(&app, fund, json!({"name": "A"})).await;
        assert_eq!(changed.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        let changed: Value = changed.json().await.unwrap();
        assert_ne!(changed["source_hash"], first["source_hash"]);
        assert_eq!(app.db.count("forecast_snapshots").await, 2);
        assert_eq!(
            app.db.count("job_outbox").await,
            2,
            "one calculation job per snapshot"
        );

        // Retrying with an idempotency key never makes a second snapshot either.
        let body = json!({"name": "keyed"});
        let path = format!("/api/v1/funds/{fund}/snapshots");
        let a = app.post(&path, &app.admin, &body, Some("snap-key")).await;
        let b = app.post(&path, &app.admin, &body, Some("snap-key")).await;
        assert_eq!(b.headers()["idempotent-replayed"], "true");
        assert_eq!(a.bytes().await.unwrap(), b.bytes().await.unwrap());
    }
}

/// Fails its first `fail` runs, then succeeds; counts runs.
struct Flaky {
    fail: u32,
    runs: AtomicU32,
}

impl Handler for Flaky {
    fn run<'a>(&'a self, _db: &'a Database, _job: &'a job_outbox::Model) -> HandlerFuture<'a> {
        Box::pin(async move {
            let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= self.fail {
                Err(format!("failure number {n}"))
            } else {
                Ok(())
            }
        })
    }
}

async fn job_row(db: &updog_tests::TestDb) -> job_outbox::Model {
    use sea_orm::EntityTrait;
    job_outbox::Entity::find()
        .one(db.conn())
        .await
        .unwrap()
        .expect("the job")
}

/// Takes a while, then notes that it finished.
struct Slow {
    started: tokio::sync::Notify,
    finished: AtomicU32,
}

impl Handler for Slow {
    fn run<'a>(&'a self, _db: &'a Database, _job: &'a job_outbox::Model) -> HandlerFuture<'a> {
        Box::pin(async move {
            self.started.notify_one();
            tokio::time::sleep(Duration::from_millis(600)).await;
            self.finished.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

/// Shutdown stops the workers taking jobs but lets a running job finish, within the grace (SPEC §14).
#[tokio::test]
async fn draining_the_workers_lets_a_running_job_finish() {
    for backend in backends() {
        let db = updog_tests::TestDb::migrated(backend).await;
        fixtures::fund(1).insert(&db).await.unwrap();
        fixtures::job(&db, 1)
            .with("job_type", "'test.slow'")
            .insert(&db)
            .await
            .unwrap();
        let slow = Arc::new(Slow {
            started: tokio::sync::Notify::new(),
            finished: AtomicU32::new(0),
        });
        let handlers = Handlers::default().with("test.slow", slow.clone());
        let workers =
            api::app::Workers::spawn(&db.db, 1, &handlers, service::outbox::DEFAULT_LEASE);
        tokio::time::timeout(Duration::from_secs(10), slow.started.notified())
            .await
            .expect("the worker started the job");
        workers.drain(Duration::from_secs(10)).await;
        assert_eq!(slow.finished.load(Ordering::SeqCst), 1, "[{backend:?}]");
        let job = job_row(&db).await;
        assert_eq!(
            job.status,
            job_outbox::JobStatus::Completed,
            "[{backend:?}]"
        );
    }
}

#[tokio::test]
async fn a_job_that_fails_twice_then_succeeds_is_retried_with_backoff() {
    for backend in backends() {
        let db = updog_tests::TestDb::migrated(backend).await;
        fixtures::fund(1).insert(&db).await.unwrap();
        fixtures::job(&db, 1)
            .with("job_type", "'test.flaky'")
            .insert(&db)
            .await
            .unwrap();
        let flaky = Arc::new(Flaky {
            fail: 2,
            runs: AtomicU32::new(0),
        });
        let handlers = Handlers::default().with("test.flaky", flaky.clone());
        let t0 = chrono::Utc::now() + chrono::Duration::seconds(1);

        assert!(outbox::run_once(&db.db, &handlers, "w", t0).await.unwrap());
        let job = job_row(&db).await;
        assert_eq!(
            (job.status, job.attempt_count),
            (job_outbox::JobStatus::Pending, 1),
            "[{backend:?}]"
        );
        assert_eq!(job.last_error.as_deref(), Some("failure number 1"));
        let wait = (job.next_run_at - t0).num_seconds();
        assert!(
            (1..=3).contains(&wait),
            "[{backend:?}] first backoff ≈ 2 s, got {wait}"
        );
        assert!(
            !outbox::run_once(&db.db, &handlers, "w", t0).await.unwrap(),
            "not due yet"
        );

        assert!(
            outbox::run_once(&db.db, &handlers, "w", t0 + chrono::Duration::seconds(5))
                .await
                .unwrap()
        );
        let job = job_row(&db).await;
        assert_eq!(job.attempt_count, 2);
        assert!(
            outbox::run_once(&db.db, &handlers, "w", t0 + chrono::Duration::seconds(60))
                .await
                .unwrap()
        );
        let job = job_row(&db).await;
        assert_eq!(
            (job.status, job.attempt_count),
            (job_outbox::JobStatus::Completed, 3),
            "[{backend:?}]"
        );
        assert!(job.completed_at.is_some() && job.locked_by.is_none());
        assert_eq!(flaky.runs.load(Ordering::SeqCst), 3);
    }
}

#[tokio::test]
async fn a_job_whose_worker_died_mid_way_completes_exactly_once_after_its_lease_expires() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, _, _) = portfolio(&app).await;
        let created: Value = create(&app, fund, json!({"name": "crash"}))
            .await
            .json()
            .await
            .unwrap();
        let now = chrono::Utc::now() + chrono::Duration::seconds(1);
        // A worker claims the job and dies without finishing.
        let claimed = outbox::claim(&app.db.db, "doomed", now)
            .await
            .unwrap()
            .expect("a due job");
        assert_eq!(claimed.status, job_outbox::JobStatus::Processing);
        assert!(
            outbox::claim(&app.db.db, "other", now)
                .await
                .unwrap()
                .is_none(),
            "a claimed job is not claimed twice"
        );
        // Before the lease runs out nothing is reaped; after, the job is back in the queue.
        assert_eq!(
            outbox::reap_expired_leases(
                &app.db.db,
                &updog_tests::job_handlers(),
                outbox::DEFAULT_LEASE,
                now
            )
            .await
            .unwrap(),
            0
        );
        let later = now + chrono::Duration::minutes(6);
        assert_eq!(
            outbox::reap_expired_leases(
                &app.db.db,
                &updog_tests::job_handlers(),
                outbox::DEFAULT_LEASE,
                later
            )
            .await
            .unwrap(),
            1
        );
        let handlers = updog_tests::job_handlers();
        assert!(
            outbox::run_once(&app.db.db, &handlers, "survivor", later)
                .await
                .unwrap()
        );
        // The dead worker's job ran again by hand: the handler is idempotent.
        service::snapshots::Calculator::handler()
            .run(&app.db.db, &claimed)
            .await
            .unwrap();

        let id = created["id"].as_str().unwrap();
        let done: Value = app
            .get_as(&format!("/api/v1/snapshots/{id}"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(done["status"], "complete", "[{backend:?}]");
        assert_eq!(
            app.db.count("reserve_allocations").await,
            2,
            "[{backend:?}] allocations written once"
        );
        // Recalculating from the captured inputs gives the same bytes.
        let inputs: service::snapshots::SnapshotInputs = {
            use sea_orm::EntityTrait;
            let row = service::entity::forecast_snapshot::Entity::find_by_id(
                uuid::Uuid::parse_str(id).unwrap(),
            )
            .one(app.db.conn())
            .await
            .unwrap()
            .unwrap();
            serde_json::from_value(row.inputs).unwrap()
        };
        let time = serde_json::from_value(done["snapshot_time"].clone()).unwrap();
        let again = serde_json::to_value(service::snapshots::calculate(&inputs, time)).unwrap();
        assert_eq!(done["calculated_metrics"], again);
    }
}

/// Records which jobs it ran.
struct Recorder {
    seen: Mutex<Vec<uuid::Uuid>>,
}

impl Handler for Recorder {
    fn run<'a>(&'a self, _db: &'a Database, job: &'a job_outbox::Model) -> HandlerFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.seen.lock().unwrap().push(job.id);
            Ok(())
        })
    }
}

/// A job whose worker dies on its last attempt is not retried forever: the reaper marks it `failed`,
/// and its snapshot ends in `error` with the reason (SPEC §8).
#[tokio::test]
async fn a_job_whose_last_attempt_dies_with_its_worker_fails_and_its_snapshot_errs() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, _, _) = portfolio(&app).await;
        let created: Value = create(&app, fund, json!({"name": "doomed"}))
            .await
            .json()
            .await
            .unwrap();
        app.db
            .exec("UPDATE job_outbox SET max_attempts = 1")
            .await
            .unwrap();
        let now = chrono::Utc::now() + chrono::Duration::seconds(1);
        outbox::claim(&app.db.db, "doomed", now)
            .await
            .unwrap()
            .expect("a due job");
        let handlers = updog_tests::job_handlers();
        let later = now + chrono::Duration::minutes(6);
        let reaped =
            outbox::reap_expired_leases(&app.db.db, &handlers, outbox::DEFAULT_LEASE, later)
                .await
                .unwrap();
        assert_eq!(reaped, 1, "[{backend:?}]");
        let job = job_row(&app.db).await;
        assert_eq!(job.status, job_outbox::JobStatus::Failed, "[{backend:?}]");
        assert_eq!(
            job.last_error.as_deref(),
            Some(outbox::LEASE_EXPIRED_ON_LAST_ATTEMPT)
        );
        assert!(
            !outbox::run_once(&app.db.db, &handlers, "survivor", later)
                .await
                .unwrap(),
            "[{backend:?}] a failed job is not run again"
        );
        let id = created["id"].as_str().unwrap();
        let snapshot: Value = app
            .get_as(&format!("/api/v1/snapshots/{id}"), &app.admin)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(snapshot["status"], "error", "[{backend:?}]");
        assert_eq!(
            snapshot["error_message"],
            outbox::LEASE_EXPIRED_ON_LAST_ATTEMPT
        );
    }
}

#[tokio::test]
async fn two_workers_on_separate_connections_never_run_one_job_twice() {
    // SKIP LOCKED claims are PostgreSQL's; SQLite has one connection and one writer.
    for backend in backends().into_iter().filter(|b| *b == Backend::Postgres) {
        let db = updog_tests::TestDb::migrated(backend).await;
        fixtures::fund(1).insert(&db).await.unwrap();
        for _ in 0..30 {
            fixtures::job(&db, 1)
                .with("job_type", "'test.record'")
                .insert(&db)
                .await
                .unwrap();
        }
        let recorder = Arc::new(Recorder {
            seen: Mutex::new(Vec::new()),
        });
        let handlers = Handlers::default().with("test.record", recorder.clone());
        let other = Database::connect(&db.url).await.unwrap();
        let at = chrono::Utc::now() + chrono::Duration::seconds(1);
        let drain = |db: Database, name: &'static str| {
            let handlers = handlers.clone();
            async move { while outbox::run_once(&db, &handlers, name, at).await.unwrap() {} }
        };
        tokio::join!(drain(db.db.clone(), "one"), drain(other, "two"));
        let mut seen = recorder.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 30, "every job ran");
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 30, "no job ran twice");
        let rows = db.query("SELECT COUNT(*) AS n FROM job_outbox WHERE status = 'completed' AND attempt_count = 1").await;
        assert_eq!(rows[0].try_get::<i64>("", "n").unwrap(), 30);
    }
}

#[tokio::test]
async fn snapshots_of_another_fund_are_not_found_and_bad_requests_write_nothing() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let (fund, acme, _) = portfolio(&app).await;
        let other = app.fund("Other").await;
        let foreign = app.company(other, "Foreign").await;
        let snapshot: Value = create(&app, fund, json!({"name": "mine"}))
            .await
            .json()
            .await
            .unwrap();
        let id = snapshot["id"].as_str().unwrap().to_owned();
        let outsider = app.key(Role::Writer, &[other]).await;
        for path in [
            format!("/api/v1/snapshots/{id}"),
            format!("/api/v1/snapshots/{id}/allocations"),
        ] {
            assert_eq!(
                app.get_as(&path, &outsider).await.status(),
                StatusCode::NOT_FOUND,
                "[{backend:?}] {path}"
            );
        }
        let before = app.db.count("forecast_snapshots").await;

        let bad = [
            json!({"name": "x", "allocations": [{"company_id": foreign, "planned_reserve_cents": 1}]}),
            json!({"name": "x", "allocations": [{"company_id": acme, "planned_reserve_cents": -1}]}),
            json!({"name": "x", "allocations": [{"company_id": acme, "planned_reserve_cents": 1}, {"company_id": acme, "planned_reserve_cents": 2}]}),
            json!({"name": "x", "allocations": [{"company_id": acme, "planned_reserve_cents": 9_000_000_000_000i64}]}),
            json!({"name": ""}),
        ];
        for body in bad {
            let r = create(&app, fund, body.clone()).await;
            assert_eq!(
                r.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "[{backend:?}] {body}"
            );
        }
        assert_eq!(
            app.db.count("forecast_snapshots").await,
            before,
            "[{backend:?}] nothing written"
        );

        // Applying a snapshot that is not complete is refused; stale and missing renames too.
        let apply = app
            .post(
                &format!("/api/v1/snapshots/{id}/apply"),
                &app.admin,
                &json!({"expected_version": 1}),
                None,
            )
            .await;
        assert_eq!(apply.status(), StatusCode::CONFLICT);
        let problem: Value = apply.json().await.unwrap();
        assert_eq!(problem["code"], "snapshot_not_complete");
        let rename = |target: String, version: &str| {
            app.client
                .patch(app.url(&format!("/api/v1/snapshots/{target}")))
                .bearer_auth(&app.admin)
                .header("If-Match", version)
                .json(&json!({"name": "renamed"}))
                .send()
        };
        assert_eq!(
            rename(uuid::Uuid::now_v7().to_string(), "\"1\"")
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            rename(id.clone(), "\"5\"").await.unwrap().status(),
            StatusCode::PRECONDITION_FAILED
        );
        let renamed = rename(id.clone(), "\"1\"").await.unwrap();
        assert_eq!(renamed.status(), StatusCode::OK);
        assert_eq!(renamed.json::<Value>().await.unwrap()["name"], "renamed");

        // A manual allocation within the budget is taken as given.
        let manual = create(&app, fund, json!({"name": "manual", "allocations": [{"company_id": acme, "planned_reserve_cents": 1234, "rationale": "board decision"}]})).await;
        assert_eq!(manual.status(), StatusCode::ACCEPTED, "[{backend:?}]");
        let manual: Value = manual.json().await.unwrap();
        let rows: Value = app
            .get_as(
                &format!(
                    "/api/v1/snapshots/{}/allocations",
                    manual["id"].as_str().unwrap()
                ),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(rows["data"][0]["source"], "manual");
        assert_eq!(rows["data"][0]["planned_reserve_cents"], 1234);

        let listed: Value = app
            .get_as(
                &format!("/api/v1/funds/{fund}/snapshots?status=pending&limit=1"),
                &app.admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["data"].as_array().unwrap().len(), 1);
        assert!(listed["next_cursor"].is_string());
    }
}
