//! How actix's own path and query extractor failures become problems (SPEC §2: the same envelope as
//! every other refusal, naming the parameter and the expected form). Bodies are read by
//! [`crate::extract::json_body`].

use actix_web::web;

use crate::error::Error;
use crate::openapi::RouteTable;
use crate::problem::ProblemCode;

/// actix's own path and query extractor failures go through the problem envelope too (bodies are
/// read by [`crate::extract::json_body`]).
/// A path that is a literal route's (`…/distributions/summary`) reached with a method it does not
/// allow falls through to its `{param}` sibling (actix tries the next route); that is a 405 with the
/// literal route's `Allow`, not a parameter that does not parse.
pub(crate) fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, req| {
        let method = req.method().to_string();
        let allowed = req
            .app_data::<web::Data<RouteTable>>()
            .and_then(|routes| routes.allowed(req.path()))
            .filter(|allow| !allow.contains(&method));
        match allowed {
            Some(allow) => Error::MethodNotAllowed {
                method,
                path: req.path().to_owned(),
                allow,
            },
            None => Error::BadRequest {
                code: ProblemCode::InvalidPath,
                detail: format!("Invalid path parameter: {err}"),
            },
        }
        .into()
    })
}

pub(crate) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, req| {
        let message = match &err {
            actix_web::error::QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        Error::BadRequest {
            code: ProblemCode::InvalidQuery,
            detail: format!(
                "Invalid query string: {}",
                name_the_parameter(&message, req.query_string())
            ),
        }
        .into()
    })
}

/// The query deserializer's message names the value it refused but not its parameter: the parameter
/// whose value the message quotes is named in front of it (`as_of: "2021-3-15" is not a date …`).
fn name_the_parameter(message: &str, query: &str) -> String {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let named = pairs
        .into_iter()
        .find(|(_, value)| !value.is_empty() && message.contains(&format!("{value:?}")));
    match named {
        Some((name, _)) => format!("{name}: {message}"),
        None => message.to_owned(),
    }
}
