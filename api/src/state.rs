//! [`AppState`]: what every handler can reach, in a module of its own so that the route modules depend
//! on it and not on the application builder.

use service::Service;
use service::cache::Redis;

pub struct AppState {
    pub service: Service,
    pub redis: Option<Redis>,
    pub metrics: crate::observability::Metrics,
    /// `/moic` bodies, kept while the service's computed metrics are unchanged.
    pub moic_bodies: crate::bodies::MoicBodies,
    /// Requests per second per API key (`UPDOG_RATE_LIMIT_PER_KEY`); `None`: no limit.
    pub rate_limit: Option<std::sync::Arc<crate::rate_limit::KeyRateLimit>>,
}
