//! The shared test harness: a fresh database per test, on SQLite always and on PostgreSQL when
//! `TEST_DATABASE_URL` names a server, and the real application served over real HTTP.
//!
//! PostgreSQL databases are copied from a template that holds the migrated schema (`CREATE DATABASE …
//! TEMPLATE …` takes milliseconds, migrating takes far longer). The template's name carries a digest of
//! the migration sources, so a changed migration gets a new template. Each test database is dropped when
//! its `TestDb` goes out of scope, even if the test failed.

use std::net::SocketAddr;
use std::time::Duration;

use api::config::{Config, LogFormat};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement,
};
use serde_json::{Value, json};
use service::entity::api_key::Role;
use service::{Backend, Database};

/// Digest of the migration sources, computed by `build.rs`.
const MIGRATIONS_DIGEST: &str = env!("UPDOG_MIGRATIONS_DIGEST");

/// The backends this run covers: SQLite always, PostgreSQL when `TEST_DATABASE_URL` is set.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if postgres_server_url().is_some() {
        out.push(Backend::Postgres);
    }
    out
}

fn postgres_server_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// `TEST_REDIS_URL`, when the run has a Redis server.
pub fn redis_url() -> Option<String> {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// `postgres://user@host:port` with any database path and query removed.
fn server_root(url: &str) -> String {
    let without_query = url.split('?').next().unwrap_or(url);
    let after_scheme = without_query.find("://").map(|i| i + 3).unwrap_or(0);
    match without_query[after_scheme..].find('/') {
        Some(slash) => without_query[..after_scheme + slash].to_owned(),
        None => without_query.to_owned(),
    }
}

/// One test's own database.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub db: Database,
    cleanup: Cleanup,
}

enum Cleanup {
    /// The temporary directory holding the SQLite file; removed on drop.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    /// The PostgreSQL server and database to drop.
    Postgres { server: String, name: String },
}

impl TestDb {
    /// A fresh database with every migration applied.
    pub async fn migrated(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let db = Self::empty(Backend::Sqlite).await;
                db.db
                    .migrate()
                    .await
                    .expect("migrate the SQLite test database");
                db
            }
            Backend::Postgres => {
                let server = server_root(&postgres_server_url().expect("TEST_DATABASE_URL"));
                let template = ensure_template(&server).await;
                Self::create_postgres(&server, Some(&template)).await
            }
        }
    }

    /// A fresh database with no tables at all.
    pub async fn empty(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("create a temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                let db = Database::connect(&url)
                    .await
                    .expect("open the SQLite test database");
                Self {
                    backend,
                    url,
                    db,
                    cleanup: Cleanup::Sqlite(dir),
                }
            }
            Backend::Postgres => {
                let server = server_root(&postgres_server_url().expect("TEST_DATABASE_URL"));
                Self::create_postgres(&server, None).await
            }
        }
    }

    async fn create_postgres(server: &str, template: Option<&str>) -> Self {
        let name = format!("updog_test_{}", uuid::Uuid::now_v7().simple());
        let admin = admin_connection(server).await;
        let sql = match template {
            Some(t) => format!(r#"CREATE DATABASE "{name}" TEMPLATE "{t}""#),
            None => format!(r#"CREATE DATABASE "{name}""#),
        };
        admin
            .execute_unprepared(&sql)
            .await
            .expect("create the test database");
        let _ = admin.close().await;
        let url = format!("{server}/{name}");
        let db = Database::connect(&url)
            .await
            .expect("connect to the test database");
        Self {
            backend: Backend::Postgres,
            url,
            db,
            cleanup: Cleanup::Postgres {
                server: server.to_owned(),
                name,
            },
        }
    }

    pub fn conn(&self) -> &DatabaseConnection {
        self.db.connection()
    }

    pub fn db_backend(&self) -> DbBackend {
        self.conn().get_database_backend()
    }

    /// Executes raw SQL, returning the database's error text on failure.
    pub async fn exec(&self, sql: &str) -> Result<u64, String> {
        self.conn()
            .execute_unprepared(sql)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| e.to_string())
    }

    /// Runs a query and returns its rows.
    pub async fn query(&self, sql: &str) -> Vec<QueryResult> {
        self.conn()
            .query_all_raw(Statement::from_string(self.db_backend(), sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("query failed: {sql}: {e}"))
    }

    /// `SELECT COUNT(*) FROM <table>`.
    pub async fn count(&self, table: &str) -> i64 {
        let rows = self
            .query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .await;
        rows[0].try_get::<i64>("", "n").expect("count")
    }

    /// A lowercase hex digest literal of the right shape for SHA-256 columns.
    pub fn sha(&self, seed: char) -> String {
        std::iter::repeat_n(seed, 64).collect()
    }

    /// A literal for a new UUID v7, in the form the ORM stores it: `uuid` on PostgreSQL, a 16-byte blob on
    /// SQLite (sqlx's encoding there), so that raw rows and entity rows can refer to each other.
    pub fn uuid(&self) -> String {
        self.uuid_literal(uuid::Uuid::now_v7())
    }

    pub fn uuid_literal(&self, id: uuid::Uuid) -> String {
        match self.backend {
            Backend::Postgres => format!("'{id}'"),
            Backend::Sqlite => format!("X'{}'", id.simple()),
        }
    }

    /// A binary literal (`bytea` on PostgreSQL, `blob` on SQLite).
    pub fn bytes_literal(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => r"'\x00'::bytea",
            Backend::Sqlite => "X'00'",
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { server, name } = &self.cleanup {
            let (server, name) = (server.clone(), name.clone());
            // Drop runs outside async context; use a private runtime on its own thread.
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let admin = admin_connection(&server).await;
                    let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                    let result = admin.execute_unprepared(&sql).await;
                    let _ = admin.close().await;
                    result.ok()
                })
            })
            .join();
            if !matches!(dropped, Ok(Some(_))) {
                eprintln!("warning: could not drop test database {}", self.url);
            }
        }
    }
}

async fn admin_connection(server: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(format!("{server}/postgres"));
    options
        .max_connections(1)
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5));
    sea_orm::Database::connect(options)
        .await
        .expect("connect to the PostgreSQL server of TEST_DATABASE_URL")
}

/// Creates the migrated template database once per migration digest. Safe across concurrent test
/// processes: creation happens under an advisory lock, into a scratch name that is renamed at the end.
async fn ensure_template(server: &str) -> String {
    let template = format!("updog_template_{MIGRATIONS_DIGEST}");
    let admin = admin_connection(server).await;
    let lock_key = 7_236_001_i64; // arbitrary, fixed: "updog test template"
    admin
        .execute_unprepared(&format!("SELECT pg_advisory_lock({lock_key})"))
        .await
        .expect("advisory lock");
    let exists = !admin
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT 1 FROM pg_database WHERE datname = '{template}'"),
        ))
        .await
        .expect("look up the template")
        .is_empty();
    if !exists {
        let scratch = format!("{template}_building");
        admin
            .execute_unprepared(&format!(
                r#"DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)"#
            ))
            .await
            .expect("drop a stale scratch template");
        admin
            .execute_unprepared(&format!(r#"CREATE DATABASE "{scratch}""#))
            .await
            .expect("create template");
        {
            let db = Database::connect(&format!("{server}/{scratch}"))
                .await
                .expect("connect to the template");
            db.migrate().await.expect("migrate the template");
            db.close().await.expect("close the template connection");
        }
        admin
            .execute_unprepared(&format!(
                r#"ALTER DATABASE "{scratch}" RENAME TO "{template}""#
            ))
            .await
            .expect("publish the template");
        // Templates of older migration digests are dead weight; remove them while we hold the lock.
        let stale = admin
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'updog\\_template\\_%' \
                     AND datname NOT LIKE '{template}%'"
                ),
            ))
            .await
            .unwrap_or_default();
        for row in stale {
            if let Ok(name) = row.try_get::<String>("", "datname") {
                let _ = admin
                    .execute_unprepared(&format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    ))
                    .await;
            }
        }
    }
    admin
        .execute_unprepared(&format!("SELECT pg_advisory_unlock({lock_key})"))
        .await
        .expect("advisory unlock");
    let _ = admin.close().await;
    template
}

/// The application served on a random local port, over its own test database.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub db: TestDb,
    /// An admin API key minted for the test.
    pub admin: String,
    /// What the application was built with (its Redis and cache namespace among it).
    pub config: Config,
}

/// Builds the real application (the same `Application::build` as `main`) and serves it in the
/// background; returns where.
async fn serve(config: &Config) -> SocketAddr {
    let app = api::Application::build(config)
        .await
        .expect("build the application");
    let address = app.address();
    tokio::spawn(app.run_until_stopped());
    address
}

impl TestApp {
    /// The application on a fresh migrated database, served in the background.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with_workers(backend, 0).await
    }

    /// The application with `workers` in-process outbox workers (tests without workers drive the outbox
    /// themselves, step by step).
    pub async fn spawn_with_workers(backend: Backend, workers: usize) -> Self {
        Self::spawn_configured(backend, workers, redis_url()).await
    }

    /// The application with `workers` workers and the Redis at `redis` (`None`: the in-process tier).
    pub async fn spawn_configured(backend: Backend, workers: usize, redis: Option<String>) -> Self {
        Self::spawn_with(backend, workers, redis, |_| {}).await
    }

    /// [`TestApp::spawn_configured`], with `adjust` applied to the configuration first.
    pub async fn spawn_with(
        backend: Backend,
        workers: usize,
        redis: Option<String>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let db = TestDb::migrated(backend).await;
        let admin = mint_key(&db, Role::Admin, &[]).await;
        let mut config = Config {
            database_url: db.url.clone(),
            redis_url: redis,
            bind: "127.0.0.1:0".parse().expect("loopback address"),
            workers,
            migrate_on_start: false,
            log_filter: "warn".to_owned(),
            log_format: LogFormat::Pretty,
            idempotency_ttl_hours: 24,
            shutdown_grace_secs: 1,
            matrix_cache_bytes: 64 * 1024 * 1024,
            job_lease_secs: 300,
            cors_origins: vec!["https://app.example.com".to_owned()],
            // Every test's database is its own deployment: its Redis entries are its own too.
            cache_namespace: Some(format!("test-{}", uuid::Uuid::now_v7().simple())),
            rate_limit_per_key: None,
            heavy_running: 2,
            heavy_queued: 16,
        };
        adjust(&mut config);
        let address = serve(&config).await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        Self {
            address,
            client,
            db,
            admin,
            config,
        }
    }

    /// Another server process of the same deployment (its own `Application`, connection pools,
    /// single-flight table and in-process tier) on the same database and Redis; returns its base URL.
    pub async fn another_process(&self) -> String {
        format!("http://{}", serve(&self.config).await)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// Mints a key of `role` for `funds` directly in the database (as `updog keys create` does).
    pub async fn key(&self, role: Role, funds: &[i64]) -> String {
        mint_key(&self.db, role, funds).await
    }

    /// `POST` a JSON body with a bearer key and an optional idempotency key.
    pub async fn post(
        &self,
        path: &str,
        key: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).bearer_auth(key).json(body);
        if let Some(k) = idempotency_key {
            request = request.header("Idempotency-Key", k);
        }
        request.send().await.expect("POST")
    }

    /// `GET` with a bearer key.
    /// Sends `method` to `path` with `key`, an `If-Match` version if given and a JSON body if given.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        if_match: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(version) = if_match {
            request = request.header("If-Match", version);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the request is sent")
    }

    pub async fn get_as(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("GET")
    }

    /// Posts `body` to `path` as admin, expects 201 and returns the new resource's id.
    pub async fn created(&self, path: &str, body: &Value) -> i64 {
        id_of(self.post(path, &self.admin, body, None).await).await
    }

    /// Creates a fund as admin and returns its id.
    pub async fn fund(&self, name: &str) -> i64 {
        let body = json!({"name": name, "size_cents": 10_000_000_000i64, "vintage_year": 2024, "reserve_ratio_bps": 4000});
        self.created("/api/v1/funds", &body).await
    }

    /// Creates a company in `fund` and returns its id.
    pub async fn company(&self, fund: i64, name: &str) -> i64 {
        let body = json!({"name": name, "stage": "seed"});
        self.created(&format!("/api/v1/funds/{fund}/companies"), &body)
            .await
    }

    /// Creates an investment in `company` of `fund` and returns its id.
    pub async fn investment(&self, fund: i64, company: i64) -> i64 {
        let body =
            json!({"company_id": company, "round_name": "Seed", "invested_on": "2024-01-15"});
        self.created(&format!("/api/v1/funds/{fund}/investments"), &body)
            .await
    }

    /// Records a lot of `investment` (the body as the API takes it); asserts it was created.
    pub async fn lot(&self, fund: i64, investment: i64, body: &Value) -> Value {
        let path = format!("/api/v1/funds/{fund}/investments/{investment}/lots");
        let response = self.post(&path, &self.admin, body, None).await;
        assert_eq!(response.status(), reqwest::StatusCode::CREATED, "a lot");
        response.json().await.expect("the lot's JSON")
    }

    /// The test fixture of a populated fund: two companies at series A with reserve assumptions (Acme
    /// marked at 300 cents a share, Beta unmarked), each with one investment and one initial lot of
    /// 1,000 shares (at 100 and 200 cents).
    pub async fn portfolio(&self) -> Portfolio {
        let fund = self.fund("Fund").await;
        let mut companies = Vec::new();
        for (name, price) in [("Acme", Some(300)), ("Beta", None)] {
            let body = json!({"name": name, "stage": "series_a", "current_share_price_cents": price, "marked_at": price.map(|_| "2024-01-01T00:00:00Z"),
                              "reserve_exit_moic_bps": 30000, "exit_moic_bps": 40000, "exit_probability": "0.5"});
            companies.push(
                self.created(&format!("/api/v1/funds/{fund}/companies"), &body)
                    .await,
            );
        }
        for (i, company) in companies.iter().enumerate() {
            let investment = self.investment(fund, *company).await;
            let lot = json!({"lot_type": "initial", "share_price_cents": 100 * (i as i64 + 1), "shares_acquired": "1000", "acquired_on": "2024-01-01"});
            self.lot(fund, investment, &lot).await;
        }
        Portfolio {
            fund,
            acme: companies[0],
            beta: companies[1],
        }
    }

    /// Runs every due job of the outbox, as a worker would, until none is left.
    pub async fn run_jobs(&self) {
        let handlers = job_handlers();
        while service::outbox::run_once(&self.db.db, &handlers, "test", service::now())
            .await
            .expect("a worker's round")
        {}
    }
}

/// The `id` of a 201 response's body (panics with the body otherwise).
pub async fn id_of(response: reqwest::Response) -> i64 {
    let status = response.status();
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(
        status,
        reqwest::StatusCode::CREATED,
        "expected 201, got {status}: {body}"
    );
    body["id"].as_i64().expect("numeric id")
}

async fn mint_key(db: &TestDb, role: Role, funds: &[i64]) -> String {
    let new = service::api_keys::NewKey {
        name: "test".into(),
        role,
        funds: funds.to_vec(),
    };
    service::api_keys::mint(&db.db, &new)
        .await
        .expect("mint a key")
        .secret
}

/// The tables whose rows belong to one fund (deleted with it).
pub const FUND_OWNED_TABLES: [&str; 9] = [
    "portfolio_companies",
    "investments",
    "investment_lots",
    "distributions",
    "forecast_snapshots",
    "reserve_allocations",
    "job_outbox",
    "scenario_matrices",
    "optimization_sessions",
];

/// Every table of the data model (SPEC §3).
pub const TABLES: [&str; 12] = [
    "funds",
    FUND_OWNED_TABLES[0],
    FUND_OWNED_TABLES[1],
    FUND_OWNED_TABLES[2],
    FUND_OWNED_TABLES[3],
    FUND_OWNED_TABLES[4],
    FUND_OWNED_TABLES[5],
    FUND_OWNED_TABLES[6],
    FUND_OWNED_TABLES[7],
    FUND_OWNED_TABLES[8],
    "idempotency_records",
    "api_keys",
];

/// The ids of [`TestApp::portfolio`].
pub struct Portfolio {
    pub fund: i64,
    pub acme: i64,
    pub beta: i64,
}

/// The job handlers of a worker process, with an in-process first tier of its own.
pub fn job_handlers() -> service::outbox::Handlers {
    api::app::job_handlers(&std::sync::Arc::new(service::matrices::Matrices::new(
        service::matrices::FirstTier::memory(16 * 1024 * 1024),
    )))
}
