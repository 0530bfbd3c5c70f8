//! The answers of creating requests (SPEC §1, §4), chosen here and nowhere else: the status of each
//! outcome (created 201, existing 200, queued 202), the body and `Location` of each created type
//! ([`Written`], implemented beside each wire type), `Retry-After` while work is queued, and
//! `Idempotent-Replayed` on a replay. [`Replies`] is the service's [`Recorder`]: it writes the same
//! answer for the idempotency record, inside the create's transaction.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use serde::Serialize;
use service::idempotency::{Fresh, Outcome, Recorder, Reply, Resource};

use crate::error::Error;

pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";

/// How a created value is answered: its wire form (made `From` it) and where it lives.
pub trait Written: Sized {
    type Wire: Serialize + for<'a> From<&'a Self>;
    /// `Location`: the path that answers `GET` for it.
    fn location(&self) -> String;
}

/// The status of a fresh outcome.
fn status(fresh: Fresh) -> StatusCode {
    match fresh {
        Fresh::Created => StatusCode::CREATED,
        Fresh::Existing => StatusCode::OK,
        Fresh::Queued => StatusCode::ACCEPTED,
    }
}

/// The body of a wire value. A wire type that cannot be serialized is a bug, reported as such.
fn body<T: Written>(value: &T) -> service::Result<Vec<u8>> {
    serde_json::to_vec(&T::Wire::from(value))
        .map_err(|e| service::Error::Invariant(format!("response body: {e}")))
}

fn reply<T: Written>(fresh: Fresh, value: &T) -> service::Result<Reply> {
    Ok(Reply {
        status_code: status(fresh).as_u16() as i16,
        body: body(value)?,
        location: Some(value.location()),
    })
}

/// The API's [`Recorder`]: the reply a record keeps is the answer a fresh request got (for an API key,
/// without its secret: the row is all the service hands over).
pub struct Replies;

impl Recorder for Replies {
    fn reply(&self, fresh: Fresh, resource: Resource<'_>) -> service::Result<Reply> {
        match resource {
            Resource::Fund(m) => reply(fresh, m),
            Resource::Company(m) => reply(fresh, m),
            Resource::Investment(m) => reply(fresh, m),
            Resource::Lot(m) => reply(fresh, m),
            Resource::Distribution(m) => reply(fresh, m),
            Resource::Mark(m) => reply(fresh, m),
            Resource::Snapshot(m) => reply(fresh, m),
            Resource::Forecast(m) => reply(fresh, m),
            Resource::ApiKey(m) => reply(fresh, m),
            Resource::Matrix(m) => reply(fresh, m),
            Resource::Optimization(m) => reply(fresh, m),
        }
    }
}

/// The HTTP response to a create's outcome.
pub fn respond<T: Written>(outcome: Outcome<T>) -> Result<HttpResponse, Error> {
    let (status, body, location, replayed) = match outcome.into_fresh() {
        Ok((fresh, v)) => (status(fresh), body(&v)?, Some(v.location()), false),
        Err(r) => {
            // Statuses are recorded from `status` above; an impossible one is a 500.
            let status = u16::try_from(r.status_code)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .ok_or_else(|| {
                    service::Error::Invariant(format!("recorded status {}", r.status_code))
                })?;
            (status, r.body, r.location, true)
        }
    };
    let mut builder = HttpResponse::build(status);
    builder.content_type("application/json");
    if let Some(location) = location {
        builder.insert_header((header::LOCATION, location));
    }
    if replayed {
        builder.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    let mut response = builder.body(body);
    if status == StatusCode::ACCEPTED {
        poll_later(&mut response);
    }
    Ok(response)
}

/// `Retry-After: 1`: the resource's work is queued or running; poll it again in a second. Every
/// answer about unfinished work carries it (a 202, and a `GET` of a resource still being computed).
pub fn poll_later(response: &mut HttpResponse) {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
}
