//! Prometheus metrics (SPEC §12 `GET /metrics`, issue #16): request counts and latency by route
//! pattern and status, recorded by the request middleware; database pool use, outbox jobs by type and
//! status, and the matrix cache's hits and misses per tier, read when scraped. One registry per
//! application (no global state), with the `prometheus` crate.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use service::Service;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    jobs: IntGaugeVec,
    cache: IntGaugeVec,
}

fn metric<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, m: T) -> T {
    // Names are fixed and distinct: registering cannot fail.
    registry
        .register(Box::new(m.clone()))
        .expect("distinct metric names");
    m
}

impl Metrics {
    /// Built once per application at start. The `expect`s below cannot fire: the names, prefix and
    /// label sets are constants that Prometheus accepts (a test scrapes every metric).
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("updog".into()), None).expect("a valid prefix");
        let requests = metric(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "http_requests_total",
                    "HTTP requests answered, by route pattern, method and status.",
                ),
                &["route", "method", "status"],
            )
            .expect("valid labels"),
        );
        let latency = metric(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "Time to answer, by route pattern and method.",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
                &["route", "method"],
            )
            .expect("valid labels"),
        );
        let pool = metric(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "db_pool_connections",
                    "Database pool connections: `open` and `idle`.",
                ),
                &["state"],
            )
            .expect("valid labels"),
        );
        let jobs = metric(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "outbox_jobs",
                    "Outbox jobs by type and status (pending jobs are the depth).",
                ),
                &["job_type", "status"],
            )
            .expect("valid labels"),
        );
        let cache = metric(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "matrix_cache_lookups",
                    "Scenario-matrix cache lookups of this process by tier and outcome.",
                ),
                &["tier", "outcome"],
            )
            .expect("valid labels"),
        );
        Self {
            registry,
            requests,
            latency,
            pool,
            jobs,
            cache,
        }
    }

    /// Records one answered request; `route` is the matched pattern (`unmatched` when none), so that
    /// the label set stays bounded.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    /// The text exposition, with the gauges read now.
    pub async fn render(&self, svc: &Service) -> Result<String, service::Error> {
        let (open, idle) = svc.db.pool_use();
        self.pool.with_label_values(&["open"]).set(i64::from(open));
        self.pool.with_label_values(&["idle"]).set(idle as i64);
        self.jobs.reset();
        for (job_type, status, count) in service::outbox::counts(&svc.db).await? {
            self.jobs
                .with_label_values(&[&job_type, &status])
                .set(count);
        }
        let s = svc.matrices.stats.snapshot();
        let tier = svc.matrices.first.name();
        for (tier, outcome, value) in [
            (tier, "hit", s.first_tier_hits),
            (tier, "miss", s.first_tier_misses),
            (tier, "error", s.first_tier_errors),
            (tier, "corrupt", s.first_tier_corrupt),
            ("database", "hit", s.database_hits),
            ("database", "miss", s.database_misses),
            ("database", "corrupt", s.database_corrupt),
            ("generator", "generated", s.generations),
        ] {
            self.cache
                .with_label_values(&[tier, outcome])
                .set(value as i64);
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(|e| service::Error::Invariant(format!("metrics text: {e}")))?;
        String::from_utf8(out).map_err(|e| service::Error::Invariant(format!("metrics text: {e}")))
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
