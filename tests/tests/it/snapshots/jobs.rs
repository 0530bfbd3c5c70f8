//! The calculation job through the outbox (SPEC §8): retries with backoff, leases that run out, workers
//! that die, drain on shutdown, and two workers that never run one job twice.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use service::entity::job_outbox;
use service::outbox::{self, Handler, HandlerFuture, Handlers};
use service::{Backend, Database};
use updog_tests::{TestApp, backends};

use super::{create, portfolio};
use crate::fixtures;

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
            // Both documents are stored as their canonical form (RFC 8785): the metrics written by
            // `serde_json` straight from types whose fields are in alphabetical order.
            let metrics = row.calculated_metrics.expect("complete");
            let parsed: Value = serde_json::from_str(metrics.get()).unwrap();
            assert_eq!(
                metrics.get(),
                service::canonical::to_canonical_string(&parsed).unwrap(),
                "[{backend:?}] the stored metrics are canonical"
            );
            assert!(parsed["net"].is_object() && parsed["reserve_plan"].is_object());
            let parsed_inputs: Value = serde_json::from_str(row.inputs.get()).unwrap();
            assert_eq!(
                row.inputs.get(),
                service::canonical::to_canonical_string(&parsed_inputs).unwrap()
            );
            serde_json::from_str(row.inputs.get()).unwrap()
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

/// Everything logged while it is the thread's subscriber, as text.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The last attempt of a calculation fails, and so does the status write that gives its snapshot up
/// (the database refuses every update of it): the job is failed all the same, and the refused write is
/// logged with the database's own words, never dropped.
#[tokio::test]
async fn a_status_write_refused_while_giving_up_a_job_is_logged_with_its_cause() {
    const REFUSAL: &str = "snapshots are read-only in this test";
    for backend in backends() {
        let db = updog_tests::TestDb::migrated(backend).await;
        fixtures::fund(1).insert(&db).await.unwrap();
        let id = uuid::Uuid::now_v7();
        let snapshot = db.uuid_literal(id);
        fixtures::snapshot(&db, &snapshot, 1)
            .insert(&db)
            .await
            .unwrap();
        fixtures::job(&db, 1)
            .with("payload", &format!("'{{\"snapshot_id\": \"{id}\"}}'"))
            .with("max_attempts", "1")
            .insert(&db)
            .await
            .unwrap();
        let refuse = match backend {
            Backend::Postgres => format!(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$; \
                 CREATE TRIGGER refuse BEFORE UPDATE ON forecast_snapshots \
                 FOR EACH ROW EXECUTE FUNCTION refuse();"
            ),
            Backend::Sqlite => format!(
                "CREATE TRIGGER refuse BEFORE UPDATE ON forecast_snapshots \
                 BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END;"
            ),
        };
        db.exec(&refuse).await.unwrap();

        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let at = chrono::Utc::now() + chrono::Duration::seconds(1);
        let ran = {
            let _logging = tracing::subscriber::set_default(subscriber);
            outbox::run_once(&db.db, &updog_tests::job_handlers(), "w", at).await
        };
        assert!(ran.unwrap(), "[{backend:?}] the job ran");

        let job = job_row(&db).await;
        assert_eq!(job.status, job_outbox::JobStatus::Failed, "[{backend:?}]");
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        let gave_up = text
            .lines()
            .find(|l| l.contains("giving up the job failed"))
            .unwrap_or_else(|| {
                panic!("[{backend:?}] no log line of the failed give-up in:\n{text}")
            });
        assert!(gave_up.contains("ERROR"), "[{backend:?}] {gave_up}");
        assert!(gave_up.contains(REFUSAL), "[{backend:?}] {gave_up}");
        assert!(
            gave_up.contains("snapshot.calculate"),
            "[{backend:?}] {gave_up}"
        );
    }
}
