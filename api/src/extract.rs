//! Request plumbing shared by the handlers: authentication, JSON bodies with JSON-pointer errors,
//! `If-Match`, `Idempotency-Key`, and the handler side of creating requests.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use serde::Serialize;
use serde::de::DeserializeOwned;
use service::FieldError;
use service::Service;
use service::auth::Principal;
use service::idempotency::{Idempotency, IdempotencyKey, Outcome};
use service::in_fund::{self, InFund};
use service::pagination::Page;

use crate::error::Error;
use crate::replies::{Written, respond};
use crate::state::AppState;
use crate::wire::PageQuery;

pub use service::money::MAX_SAFE_INTEGER;

pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The authenticated caller (`Authorization: Bearer <api key>`) and the service it calls: what every
/// handler but the ops ones starts from. Extracting it answers 401 when the key is missing, malformed,
/// unknown or revoked.
pub struct Caller {
    state: web::Data<AppState>,
    pub principal: Principal,
}

impl Caller {
    pub fn service(&self) -> &Service {
        &self.state.service
    }

    /// A page of the fund's rows of `E` (newest first), answered as the wire page `W`: every list of a
    /// fund-owned resource.
    pub async fn page_in_fund<E, W>(
        &self,
        fund_id: i64,
        query: &PageQuery,
    ) -> Result<HttpResponse, Error>
    where
        E: InFund<Id = i64>,
        E::Model: Send + Sync,
        W: From<Page<E::Model>> + Serialize,
    {
        let page = in_fund::list::<E>(self.service(), &self.principal, fund_id, query.page()?);
        Ok(HttpResponse::Ok().json(W::from(page.await?)))
    }
}

/// Answers 429 when the key is over its rate (`UPDOG_RATE_LIMIT_PER_KEY`).
fn within_rate(state: &AppState, key: uuid::Uuid) -> Result<(), Error> {
    match &state.rate_limit {
        Some(limit) => limit
            .admit(key)
            .map_err(|retry_after| Error::RateLimited { retry_after }),
        None => Ok(()),
    }
}

impl FromRequest for Caller {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_owned());
        Box::pin(async move {
            let state = state
                .ok_or_else(|| service::Error::Invariant("application state missing".into()))?;
            let token = token.ok_or(service::Error::Unauthenticated)?;
            let principal =
                service::auth::authenticate(&state.service.db, &state.service.keys, &token).await?;
            within_rate(&state, principal.key_id)?;
            Ok(Caller { state, principal })
        })
    }
}

/// Parses a JSON body into `T`, answering 400 with a JSON pointer per problem (wrong type, missing or
/// unknown field) and 415 when the body is not JSON. Also returns the body as a JSON value, for the
/// idempotency fingerprint.
pub fn json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<(T, serde_json::Value), Error> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/json" && !mime.ends_with("+json") {
        return Err(Error::BadRequest {
            code: crate::problem::ProblemCode::UnsupportedMediaType,
            detail: "The request body must be JSON (Content-Type: application/json).".into(),
        });
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Error::BadRequest {
            code: crate::problem::ProblemCode::MalformedJson,
            detail: format!("The body is not valid JSON: {e}."),
        })?;
    integral_floats_as_integers(&mut value);
    let mut refused = integers_beyond_safe(&value, String::new());
    refused.extend(strings_with_nul(&value, String::new()));
    if !refused.is_empty() {
        return Err(Error::Service(service::Error::Validation(refused)));
    }
    let parsed = serde_path_to_error::deserialize::<_, T>(&value).map_err(|e| {
        let pointer = json_pointer(&e.path().to_string());
        Error::InvalidBody {
            errors: vec![FieldError::new(pointer, e.inner().to_string())],
        }
    })?;
    Ok((parsed, value))
}

/// JSON does not tell `1.0` from `1`, and neither does the schema's `integer`: an integral number
/// within ±(2^53 − 1) written with a fraction or an exponent is taken as that integer.
fn integral_floats_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() <= MAX_SAFE_INTEGER as f64
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(members) => members.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// Every string of `value` holding U+0000, located by its JSON pointer: JSON allows it, PostgreSQL's
/// text does not store it, so it is refused up front, naming the field, for every route alike.
fn strings_with_nul(value: &serde_json::Value, pointer: String) -> Vec<FieldError> {
    use serde_json::Value;
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match value {
        Value::String(s) if s.contains('\0') => vec![FieldError::new(
            pointer,
            "must not contain the NUL character (U+0000)",
        )],
        Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, v)| strings_with_nul(v, format!("{pointer}/{i}")))
            .collect(),
        Value::Object(members) => members
            .iter()
            .flat_map(|(k, v)| {
                if k.contains('\0') {
                    vec![FieldError::new(
                        pointer.clone(),
                        "member names must not contain the NUL character (U+0000)",
                    )]
                } else {
                    strings_with_nul(v, format!("{pointer}/{}", escape(k)))
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Every integer of `value` beyond ±(2^53 − 1), located by its JSON pointer: a JavaScript client could
/// not have meant it, and would not read it back exactly (SPEC §2).
fn integers_beyond_safe(value: &serde_json::Value, pointer: String) -> Vec<FieldError> {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            let beyond = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.unsigned_abs() > MAX_SAFE_INTEGER as u64,
                (None, Some(_)) => true,
                // Floats are left to the field's type: where an integer is expected they are a 400.
                (None, None) => false,
            };
            if beyond {
                vec![FieldError::new(
                    pointer,
                    format!(
                        "must be between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER} (2^53 - 1), the \
                         integers a JavaScript client reads exactly"
                    ),
                )]
            } else {
                Vec::new()
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, v)| integers_beyond_safe(v, format!("{pointer}/{i}")))
            .collect(),
        Value::Object(members) => members
            .iter()
            .flat_map(|(k, v)| {
                let key = k.replace('~', "~0").replace('/', "~1");
                integers_beyond_safe(v, format!("{pointer}/{key}"))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Converts serde_path_to_error's `a.b[0].c` into the JSON pointer `/a/b/0/c`.
fn json_pointer(path: &str) -> String {
    if path == "." || path.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    for part in path.split('.') {
        let mut rest = part;
        while let Some(open) = rest.find('[') {
            let (name, tail) = rest.split_at(open);
            if !name.is_empty() {
                out.push('/');
                out.push_str(&name.replace('~', "~0").replace('/', "~1"));
            }
            let close = tail.find(']').unwrap_or(tail.len());
            out.push('/');
            out.push_str(&tail[1..close]);
            rest = tail.get(close + 1..).unwrap_or("");
        }
        if !rest.is_empty() {
            out.push('/');
            out.push_str(&rest.replace('~', "~0").replace('/', "~1"));
        }
    }
    out
}

/// The `If-Match` version: required (428 when missing), a version number of 1 to 18 digits, quoted as
/// the `ETag` is (`"3"`, or weak: `W/"3"`) or bare (`3`); anything else is a 400. Exactly the pattern of
/// `IfMatchHeader`. A version that is not the resource's current one is a 412 from the write itself.
pub fn if_match(req: &HttpRequest) -> Result<i64, Error> {
    let raw = req
        .headers()
        .get(header::IF_MATCH)
        .ok_or(Error::PreconditionRequired)?;
    let text = raw.to_str().unwrap_or("").trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    let digits = match text.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"'),
        None => Some(text),
    };
    digits
        .filter(|t| (1..=18).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| Error::InvalidHeader {
            name: "If-Match",
            message: "must be the resource's ETag, a quoted version number such as \"3\"".into(),
        })
}

/// The request's `Idempotency-Key`, if any, bound to its scope, principal and body.
pub fn idempotency(
    req: &HttpRequest,
    scope: String,
    principal: &Principal,
    body: &serde_json::Value,
) -> Result<Option<Idempotency>, Error> {
    let Some(raw) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let text = raw.to_str().map_err(|_| Error::InvalidHeader {
        name: IDEMPOTENCY_KEY,
        message: "must contain only visible ASCII characters".into(),
    })?;
    let key = IdempotencyKey::parse(text).map_err(|message| Error::InvalidHeader {
        name: IDEMPOTENCY_KEY,
        message,
    })?;
    Ok(Some(Idempotency::new(
        scope,
        key,
        Some(principal.key_id),
        body,
    )?))
}

/// A creating request (SPEC §4): its caller, checked first, and its raw body. The one handler-side
/// create path: [`Creation::run`] reads the JSON body, binds the `Idempotency-Key` to the route's
/// scope, the principal and the canonical body, runs the service's create and answers its outcome
/// (`replies::respond`).
pub struct Creation {
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
}

impl FromRequest for Creation {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        // Read by the `Bytes` extractor, under the app's `PayloadConfig` limit (413 beyond it).
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let caller = caller.await?;
            let body = body.await?;
            Ok(Self { caller, req, body })
        })
    }
}

impl Creation {
    /// Parses the body as `B` and runs `create` with the service, the caller, the input and the
    /// request's idempotency (scoped by `scope`, e.g. `POST /api/v1/funds/3/companies`).
    pub async fn run<B, T, F>(self, scope: String, create: F) -> Result<HttpResponse, Error>
    where
        B: DeserializeOwned,
        T: Written,
        F: AsyncFnOnce(&Service, &Principal, B, Option<Idempotency>) -> service::Result<Outcome<T>>,
    {
        let (input, value) = json_body::<B>(&self.req, &self.body)?;
        let caller = &self.caller;
        let idem = idempotency(&self.req, scope, &caller.principal, &value)?;
        let outcome = create(caller.service(), &caller.principal, input, idem).await?;
        respond(outcome)
    }
}

/// A JSON response with `ETag: "<version>"`.
pub fn with_etag<T: Serialize>(dto: &T, version: i64) -> HttpResponse {
    let mut response = HttpResponse::Ok().json(dto);
    set_etag(&mut response, version);
    response
}

/// Sets `ETag` to the quoted `version`.
pub fn set_etag(response: &mut HttpResponse, version: i64) {
    if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_paths_become_json_pointers() {
        assert_eq!(json_pointer("size_cents"), "/size_cents");
        assert_eq!(
            json_pointer("updates[2].company_id"),
            "/updates/2/company_id"
        );
        assert_eq!(json_pointer("."), "");
    }

    mod fuzz {
        use actix_web::ResponseError;
        use proptest::prelude::*;
        use serde_json::Value;

        use super::super::*;
        use crate::routes::{
            lots::CreateLot, matrices::CreateScenarioMatrix, optimizations::CreateOptimization,
        };

        /// Decodes `body` as each of several request types: an answer or a 4xx, never a panic or a 5xx.
        fn decode_all(body: &[u8]) -> std::result::Result<(), String> {
            let req = actix_web::test::TestRequest::default()
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .to_http_request();
            let outcomes = [
                json_body::<CreateLot>(&req, body).map(|_| ()),
                json_body::<CreateScenarioMatrix>(&req, body).map(|_| ()),
                json_body::<CreateOptimization>(&req, body).map(|_| ()),
            ];
            for outcome in outcomes {
                if let Err(e) = outcome {
                    let status = e.status_code();
                    if !status.is_client_error() {
                        return Err(format!("{status} for {:?}", String::from_utf8_lossy(body)));
                    }
                }
            }
            Ok(())
        }

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                "\\PC{0,10}".prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 32, 6, |inner| {
                let names = prop_oneof![
                    Just("lot_type".to_owned()),
                    Just("share_price_cents".to_owned()),
                    Just("buckets".to_owned()),
                    Just("seed".to_owned()),
                    Just("objective".to_owned()),
                    Just("weight_bounds".to_owned()),
                    "\\PC{0,6}",
                ];
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                    prop::collection::vec((names, inner), 0..6)
                        .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1500))]

            #[test]
            fn any_bytes_are_decoded_or_refused_with_a_4xx(body in prop::collection::vec(any::<u8>(), 0..200)) {
                prop_assert_eq!(decode_all(&body), Ok(()));
            }

            #[test]
            fn any_json_is_decoded_or_refused_with_a_4xx(value in json()) {
                prop_assert_eq!(decode_all(value.to_string().as_bytes()), Ok(()));
            }
        }
    }
}
