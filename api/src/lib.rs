//! The Updog HTTP API: actix-web handlers over the `service` crate, documented with utoipa.
//!
//! Handlers are thin: they parse the request into a domain input, call one service function and map
//! the result. No SQL lives here.

pub mod app;
pub mod bodies;
pub mod config;
pub mod error;
pub mod extract;
pub mod negotiate;
pub mod observability;
pub mod openapi;
pub mod problem;
pub mod rate_limit;
pub mod rejections;
pub mod replies;
pub mod responses;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod wire;

pub use app::Application;
pub use config::Config;
pub use error::Error;
