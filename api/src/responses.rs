//! The error responses of the API, declared once as OpenAPI response components
//! (`#/components/responses/<Name>`) and referenced by every operation through four bundles, one per
//! kind of operation. Every error body is a [`Problem`](crate::problem::Problem).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Ref, Type};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, RefOr};
use utoipa::{IntoResponses, ToSchema};

use crate::problem::PROBLEM_JSON;

/// A shared error response: its component name, status and description, and the headers it carries.
struct Shared {
    name: &'static str,
    status: u16,
    description: &'static str,
    headers: &'static [(&'static str, &'static str)],
}

const BAD_REQUEST: Shared = Shared {
    name: "BadRequest",
    status: 400,
    description: "The request could not be read: malformed JSON (`malformed_json`), a body that does not \
                  match the schema (`invalid_body`, with `errors[]`), a bad path or query parameter \
                  (`invalid_path`, `invalid_query`), a malformed header (`invalid_header`) or cursor \
                  (`invalid_cursor`).",
    headers: &[],
};
const UNAUTHORIZED: Shared = Shared {
    name: "Unauthorized",
    status: 401,
    description: "No valid API key (`unauthorized`).",
    headers: &[("WWW-Authenticate", "`Bearer realm=\"updog\"`.")],
};
const FORBIDDEN: Shared = Shared {
    name: "Forbidden",
    status: 403,
    description: "The key may not do this (`forbidden`): the fund is outside its scope, it may only read, \
                  or the operation needs an admin key.",
    headers: &[],
};
const NOT_FOUND: Shared = Shared {
    name: "NotFound",
    status: 404,
    description: "No such resource, or not one the key may see (`not_found`).",
    headers: &[],
};
const CONFLICT: Shared = Shared {
    name: "Conflict",
    status: 409,
    description: "The request conflicts with the current state: `idempotency_key_expired` (its record \
                  expired; `location` and `Location` name the resource the key created), \
                  `company_name_taken`, `snapshot_in_progress`, `snapshot_not_complete`, \
                  `snapshot_has_no_allocations`, `mark_date_taken` (the company has a mark on that date), \
                  `forecast_in_progress` (the same forecast is being created by another request), \
                  `later_sale_short` (deleting this lot would leave the distribution `distribution_id` \
                  selling more than the `shares_held_on_date`).",
    headers: &[(
        "Location",
        "The existing resource, for `idempotency_key_expired`.",
    )],
};
const PRECONDITION_FAILED: Shared = Shared {
    name: "PreconditionFailed",
    status: 412,
    description: "The version given (`If-Match` or `expected_version`) is not the current one \
                  (`version_conflict`, with `current_version`).",
    headers: &[],
};
const PAYLOAD_TOO_LARGE: Shared = Shared {
    name: "PayloadTooLarge",
    status: 413,
    description: "The body is larger than 1 MiB (`payload_too_large`).",
    headers: &[],
};
const UNSUPPORTED_MEDIA_TYPE: Shared = Shared {
    name: "UnsupportedMediaType",
    status: 415,
    description: "The body is not JSON (`unsupported_media_type`).",
    headers: &[],
};
const NOT_ACCEPTABLE: Shared = Shared {
    name: "NotAcceptable",
    status: 406,
    description: "The `Accept` header admits none of the resource's formats (`not_acceptable`).",
    headers: &[],
};
const UNPROCESSABLE: Shared = Shared {
    name: "UnprocessableEntity",
    status: 422,
    description: "A business rule refused the request and nothing was written: `validation_failed` (with \
                  `errors[]`, one JSON pointer per field), `cost_basis_mismatch` (with \
                  `expected_cost_basis_cents`), `shares_not_held` (a distribution dated before the \
                  company's first lot, or selling more than the `shares_held_on_date`; `errors[]` names \
                  the field), or `idempotency_key_reused` (the key was used for another request).",
    headers: &[],
};
const PRECONDITION_REQUIRED: Shared = Shared {
    name: "PreconditionRequired",
    status: 428,
    description: "The write needs `If-Match` with the resource's `ETag` (`precondition_required`).",
    headers: &[],
};
const SERVICE_UNAVAILABLE: Shared = Shared {
    name: "ServiceUnavailable",
    status: 503,
    description: "The database is unavailable (`service_unavailable`), or the server is already running \
                  as many heavy calculations as it allows and as many wait (`server_busy`); retry after \
                  `Retry-After` seconds.",
    headers: &[("Retry-After", "Seconds to wait before retrying.")],
};

const TOO_MANY_REQUESTS: Shared = Shared {
    name: "TooManyRequests",
    status: 429,
    description: "The API key is over its requests per second (`rate_limited`, only when the server sets \
                  `UPDOG_RATE_LIMIT_PER_KEY`); retry after `Retry-After` seconds.",
    headers: &[("Retry-After", "Seconds to wait before retrying.")],
};

const ALL: [Shared; 13] = [
    BAD_REQUEST,
    UNAUTHORIZED,
    FORBIDDEN,
    NOT_FOUND,
    CONFLICT,
    PRECONDITION_FAILED,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    NOT_ACCEPTABLE,
    UNPROCESSABLE,
    PRECONDITION_REQUIRED,
    TOO_MANY_REQUESTS,
    SERVICE_UNAVAILABLE,
];

impl Shared {
    fn component(&self) -> Response {
        let mut response = ResponseBuilder::new()
            .description(self.description)
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            );
        for (name, description) in self.headers {
            response = response.header(
                *name,
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .description(Some(*description))
                    .build(),
            );
        }
        response.build()
    }
}

/// Adds every shared error response to `#/components/responses`.
pub struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for shared in ALL {
            components
                .responses
                .insert(shared.name.to_owned(), RefOr::T(shared.component()));
        }
    }
}

fn references(shared: &[Shared]) -> BTreeMap<String, RefOr<Response>> {
    shared
        .iter()
        .map(|s| {
            (
                s.status.to_string(),
                RefOr::Ref(Ref::from_response_name(s.name)),
            )
        })
        .collect()
}

/// Declares a bundle of shared error responses that an operation lists in its `responses(…)`.
macro_rules! error_bundle {
    ($(#[$meta:meta])* $name:ident = [$($shared:ident),+ $(,)?]) => {
        $(#[$meta])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                references(&[$($shared),+])
            }
        }
    };
}

error_bundle! {
    /// The errors of a read or a list.
    ReadErrors = [BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, TOO_MANY_REQUESTS, SERVICE_UNAVAILABLE]
}

error_bundle! {
    /// The errors of an idempotent create (`POST` with `Idempotency-Key`).
    CreateErrors = [
        BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE, UNPROCESSABLE, TOO_MANY_REQUESTS, SERVICE_UNAVAILABLE,
    ]
}

error_bundle! {
    /// The errors of a versioned update (`PATCH`/`PUT` with `If-Match` or `expected_version`).
    UpdateErrors = [
        BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, PRECONDITION_FAILED,
        PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, UNPROCESSABLE, PRECONDITION_REQUIRED,
        TOO_MANY_REQUESTS, SERVICE_UNAVAILABLE,
    ]
}

error_bundle! {
    /// The errors of a versioned delete.
    DeleteErrors = [
        BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, PRECONDITION_FAILED, PRECONDITION_REQUIRED,
        TOO_MANY_REQUESTS, SERVICE_UNAVAILABLE,
    ]
}

/// A header of type string, for the success responses below.
fn string_header(description: &'static str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

/// A JSON response with body `T`.
fn json_response<T: ToSchema>(description: &'static str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(T::name())))
            .build(),
    )
}

/// `200 OK` with a versioned resource (schema `T`) and its version as `ETag` (SPEC §5), to send back
/// in `If-Match`.
pub struct Versioned<T>(PhantomData<T>);

impl<T: ToSchema> IntoResponses for Versioned<T> {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let response = json_response::<T>("The resource, as it is now.")
            .header("ETag", string_header("Its version, quoted (`\"3\"`)."))
            .build();
        BTreeMap::from([("200".to_owned(), RefOr::T(response))])
    }
}

/// `201 Created`: the new resource (schema `T`), where it is served (`Location`), and
/// `Idempotent-Replayed: true` when the response is a recorded one replayed (SPEC §4).
pub struct Created<T>(PhantomData<T>);

impl<T: ToSchema> IntoResponses for Created<T> {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let response = json_response::<T>("Created.")
            .header(
                "Location",
                string_header("Where the new resource is served."),
            )
            .header(
                "Idempotent-Replayed",
                string_header("`true` on a replayed response."),
            )
            .build();
        BTreeMap::from([("201".to_owned(), RefOr::T(response))])
    }
}

error_bundle! {
    /// The errors of a cancellation (`DELETE` of a queued job's resource, refused once it has started).
    CancelErrors = [BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, TOO_MANY_REQUESTS, SERVICE_UNAVAILABLE]
}

error_bundle! {
    /// The errors of a delete that needs no `If-Match` (an immutable row: a lot, a distribution).
    RemoveErrors = [BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, TOO_MANY_REQUESTS, SERVICE_UNAVAILABLE]
}

error_bundle! {
    /// The errors of deleting an immutable row that other rows may depend on (a lot that a later sale
    /// needs: `later_sale_short`).
    RemoveHeldErrors = [BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, TOO_MANY_REQUESTS, SERVICE_UNAVAILABLE]
}

error_bundle! {
    /// The errors of a read that answers JSON or CSV by `Accept`.
    TableErrors = [BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, NOT_ACCEPTABLE, TOO_MANY_REQUESTS, SERVICE_UNAVAILABLE]
}
