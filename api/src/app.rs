//! Builds the application. `main` and the integration tests both go through [`Application::build`],
//! so the tests exercise exactly what production runs.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use service::cache::Redis;
use service::{Database, Service};
use tracing::Instrument;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::error::Error;
use crate::openapi::{self, RouteTable};
use crate::problem::ProblemCode;
use crate::routes;
use crate::state::AppState;

/// Request bodies larger than this are refused with 413 (SPEC §2).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long shutdown waits for in-flight requests after SIGTERM/SIGINT.
const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct Application {
    address: SocketAddr,
    server: Server,
    /// The in-process outbox workers, drained on shutdown.
    workers: Workers,
    /// How long shutdown waits for running jobs.
    shutdown_grace: Duration,
    /// The admin key minted on the first start of an empty database, to be shown once, last.
    minted_admin_key: Option<String>,
}

/// The job handlers every worker runs; the matrix jobs share the service's first tier and statistics.
pub fn job_handlers(
    matrices: &std::sync::Arc<service::matrices::Matrices>,
) -> service::outbox::Handlers {
    use service::matrices::{Clearer, Generator};
    service::outbox::Handlers::default()
        .job(service::snapshots::Calculator)
        .job(Generator::new(matrices.stats.clone()))
        .job(Clearer::new(matrices.first.clone()))
        .job(service::optimizations::Optimizer::new(matrices.clone()))
        .job(service::forecasts::Forecaster::new(matrices.clone()))
}

/// The first tier of the matrix cache: Redis when configured, else the in-process LRU.
pub fn first_tier(redis: Option<&Redis>, config: &Config) -> service::matrices::FirstTier {
    match redis {
        Some(r) => {
            service::matrices::FirstTier::redis(r.clone(), config.cache_namespace.as_deref())
        }
        None => service::matrices::FirstTier::memory(config.matrix_cache_bytes),
    }
}

/// Outbox workers running in this process (`updog serve` and `updog worker`).
pub struct Workers {
    stop: tokio::sync::watch::Sender<bool>,
    running: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    /// Starts `count` workers on `db` running `handlers`; a job claimed longer than `lease` ago is
    /// returned to the queue by their reaper.
    pub fn spawn(
        db: &Database,
        count: usize,
        handlers: &service::outbox::Handlers,
        lease: Duration,
    ) -> Self {
        let (stop, _) = tokio::sync::watch::channel(false);
        let running = (0..count)
            .map(|_| {
                tokio::spawn(service::outbox::run_worker(
                    db.clone(),
                    handlers.clone(),
                    lease,
                    stop.subscribe(),
                ))
            })
            .collect();
        Self { stop, running }
    }

    /// Tells the workers to take no new job and waits up to `grace` for the jobs they are running
    /// (SPEC §14). A job still running after that is abandoned to its lease: the reaper returns it to
    /// the queue, and its handler is idempotent.
    pub async fn drain(self, grace: Duration) {
        let _ = self.stop.send(true);
        let count = self.running.len();
        match tokio::time::timeout(grace, futures::future::join_all(self.running)).await {
            Ok(_) => tracing::info!(workers = count, "workers stopped"),
            Err(_) => tracing::warn!(
                grace_secs = grace.as_secs(),
                "workers still running jobs at the end of the shutdown grace; their leases will expire"
            ),
        }
    }
}

impl Application {
    /// Connects to the database (migrating it if configured), binds the listener and prepares the
    /// server. Nothing is served until [`Application::run_until_stopped`].
    pub async fn build(config: &Config) -> Result<Self, Error> {
        let db = Database::connect(&config.database_url).await?;
        // An outage known within 100 ms, so that even its first request is answered 503 at once.
        db.watch();
        if config.migrate_on_start {
            db.migrate().await?;
        } else {
            db.verify_migrations().await?;
            let pending = db.pending_migrations().await?;
            if let Some(first) = pending.first() {
                return Err(Error::PendingMigrations {
                    count: pending.len(),
                    first: first.clone(),
                });
            }
        }
        let redis = config.redis_url.as_deref().map(Redis::new).transpose()?;
        let minted_admin_key = service::api_keys::bootstrap_admin(&db)
            .await?
            .map(|minted| minted.secret);
        spawn_idempotency_reaper(db.clone());
        let mut service = Service::new(
            db.clone(),
            config.idempotency_ttl_hours,
            first_tier(redis.as_ref(), config),
            std::sync::Arc::new(crate::replies::Replies),
        );
        service.heavy = service::heavy::HeavyGate::new(config.heavy_running, config.heavy_queued);
        let workers = Workers::spawn(
            &db,
            config.workers,
            &job_handlers(&service.matrices),
            Duration::from_secs(config.job_lease_secs),
        );

        let listener = TcpListener::bind(config.bind).map_err(|source| Error::Bind {
            addr: config.bind.to_string(),
            source,
        })?;
        let address = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.bind.to_string(),
            source,
        })?;

        let state = web::Data::new(AppState {
            service,
            redis,
            metrics: crate::observability::Metrics::new(),
            moic_bodies: crate::bodies::MoicBodies::default(),
            rate_limit: config
                .rate_limit_per_key
                .map(|n| std::sync::Arc::new(crate::rate_limit::KeyRateLimit::new(n))),
        });
        let spec = openapi::openapi();
        let route_table = web::Data::new(RouteTable::from_spec(&spec));

        let cors_origins = config.cors_origins.clone();
        let server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .app_data(state.clone())
                .app_data(route_table.clone())
                .app_data(crate::rejections::path_config())
                .app_data(crate::rejections::query_config())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .configure(routes::configure)
                .split_for_parts();
            // CORS inside the request context, so that its answers get a request id and the problem
            // envelope like any other.
            app.wrap(actix_web::middleware::Condition::new(
                !cors_origins.is_empty(),
                cors(&cors_origins),
            ))
            .wrap(from_fn(request_context))
            .route("/docs", web::get().to(docs_redirect))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec.clone()))
            .default_service(web::to(fallback))
        })
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        // Signals are handled in `run_until_stopped`, so that SIGINT is as graceful as SIGTERM.
        .disable_signals()
        .listen(listener)
        .map_err(|source| Error::Bind {
            addr: address.to_string(),
            source,
        })?
        .run();

        Ok(Self {
            address,
            server,
            workers,
            shutdown_grace: Duration::from_secs(config.shutdown_grace_secs),
            minted_admin_key,
        })
    }

    /// Prints the admin key minted on the first start of an empty database, once, like a notebook
    /// server's token: called after the start-up log lines, so that the key is the last thing on the
    /// screen, on its own, with the header line that uses it.
    pub fn announce_minted_admin_key(&mut self) {
        if let Some(secret) = self.minted_admin_key.take() {
            eprintln!(
                "\nupdog: no API keys existed, so an admin key was minted. It is shown only now:\n\n    \
                 {secret}\n\nSend it with every request:\n\n    Authorization: Bearer {secret}\n\n\
                 Mint more with `updog keys create`.\n"
            );
        }
    }

    /// The bound address (useful when binding port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGTERM/SIGINT, then stops accepting, lets in-flight requests finish (bounded by
    /// the shutdown timeout) and running jobs too (bounded by `UPDOG_SHUTDOWN_GRACE_S`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let stop = self.workers.stop.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested; finishing in-flight requests and jobs");
            let _ = stop.send(true);
            handle.stop(true).await;
        });
        let served = self.server.await;
        self.workers.drain(self.shutdown_grace).await;
        served
    }
}

/// Deletes expired idempotency records every few minutes (SPEC §4.7). Any process may run it; the
/// delete is idempotent.
fn spawn_idempotency_reaper(db: Database) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            tick.tick().await;
            match service::idempotency::reap_expired(&db, service::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "reaped expired idempotency records"),
                Err(e) => {
                    tracing::warn!(error = %crate::error::error_chain(&e), "idempotency reaper failed")
                }
            }
        }
    });
}

/// Resolves on the first SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Gives every request an id (the client's `X-Request-Id` if it is sane, else a new UUID v7), a
/// tracing span carrying it, one log line when it completes, and echoes the id in the response.
async fn request_context(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().clone();
    // HEAD is GET without the body (RFC 9110 §9.3.2): it is routed as GET, and the HTTP/1 writer, which
    // remembers that the request said HEAD, sends the headers (Content-Length included) and no body.
    if method == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %req.path(),
    );
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let db = state.as_ref().map(|state| state.service.db.clone());
    // While the database is known to be down, API requests are answered at once (SPEC §17); the
    // liveness, readiness and documentation routes still run.
    let fail_fast = req.path().starts_with("/api/")
        && method != actix_web::http::Method::OPTIONS
        && db.as_ref().is_some_and(|db| db.is_down());
    let response = if fail_fast {
        use actix_web::ResponseError;
        req.into_response(Error::DatabaseDown.error_response())
            .map_into_boxed_body()
    } else {
        next.call(req)
            .instrument(span.clone())
            .await?
            .map_into_boxed_body()
    };
    if let Some(db) = &db
        && response
            .response()
            .extensions()
            .get::<crate::error::DatabaseUnreachable>()
            .is_some()
    {
        db.report_unavailable();
    }
    let mut response = problem_for_framework_errors(response);
    // A CORS pre-flight is answered 204 No Content (SPEC §14); actix-cors answers 200 with no body.
    if method == actix_web::http::Method::OPTIONS
        && response.status() == actix_web::http::StatusCode::OK
        && response
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        *response.response_mut().status_mut() = actix_web::http::StatusCode::NO_CONTENT;
    }
    let status = response.status().as_u16();
    // Asked after routing: the router has recorded which resource matched, so this is an index walk;
    // asked before, it would match the path against every route a second time (4% of the server's CPU
    // under creation load).
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(state) = &state {
        state.metrics.observe(
            &route,
            method.as_str(),
            status,
            started.elapsed().as_secs_f64(),
        );
    }
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request completed"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    Ok(response)
}

/// CORS for browser front-ends on `origins` (SPEC §14): pre-flights allow the headers a client sends
/// (`Authorization`, `Content-Type`, `Idempotency-Key`, `If-Match`), responses expose the ones it reads;
/// another origin gets no CORS headers (its requests run as for any non-browser client).
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "PUT", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            HeaderName::from_static("idempotent-replayed"),
            REQUEST_ID.clone(),
        ])
        .max_age(600)
        .block_on_origin_mismatch(false);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// actix's own error responses (a payload over the limit, an unreadable body) are plain text; give them
/// the problem envelope like every other error.
fn problem_for_framework_errors<B: MessageBody>(
    response: ServiceResponse<B>,
) -> ServiceResponse<actix_web::body::EitherBody<B>> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes()
                .starts_with(crate::problem::PROBLEM_JSON.as_bytes())
        });
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response.map_into_left_body();
    }
    let detail = response
        .response()
        .error()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let error = match status.as_u16() {
        413 => Error::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        },
        404 => Error::NotFound {
            path: response.request().path().to_owned(),
        },
        415 => Error::BadRequest {
            code: ProblemCode::UnsupportedMediaType,
            detail: format!("{detail}."),
        },
        _ if status.is_client_error() => Error::BadRequest {
            code: ProblemCode::InvalidBody,
            detail: format!("The request could not be read: {detail}."),
        },
        _ => Error::Service(service::Error::Invariant(format!(
            "framework error {status}: {detail}"
        ))),
    };
    let (request, _) = response.into_parts();
    let new = actix_web::ResponseError::error_response(&error);
    ServiceResponse::new(request, new).map_into_right_body()
}

/// Unmatched requests: 405 with `Allow` when the path exists with other methods, else 404.
async fn fallback(req: HttpRequest, routes: web::Data<RouteTable>) -> Result<HttpResponse, Error> {
    let path = req.path().to_owned();
    Err(match routes.allowed(&path) {
        Some(allow) => Error::MethodNotAllowed {
            method: req.method().to_string(),
            path,
            allow,
        },
        None => Error::NotFound { path },
    })
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}
