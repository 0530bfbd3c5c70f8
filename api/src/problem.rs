//! RFC 9457 problem details (`application/problem+json`), the one error envelope of the API.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Serialize;
use service::ConflictCode;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The machine-readable problem codes. Each is documented at `/problems/<code>` by its `type` URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemCode {
    NotFound,
    ValidationFailed,
    InvalidBody,
    InvalidCursor,
    InvalidHeader,
    Unauthorized,
    Forbidden,
    PreconditionRequired,
    VersionConflict,
    CostBasisMismatch,
    SharesNotHeld,
    LaterSaleShort,
    IdempotencyKeyReused,
    IdempotencyKeyExpired,
    /// A rule of the domain that the resource's state refuses, with its own code.
    Conflict(ConflictCode),
    MethodNotAllowed,
    MalformedJson,
    InvalidPath,
    InvalidQuery,
    UnsupportedMediaType,
    NotAcceptable,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    ServerBusy,
    Internal,
}

impl ProblemCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::ValidationFailed => "validation_failed",
            Self::InvalidBody => "invalid_body",
            Self::InvalidCursor => "invalid_cursor",
            Self::InvalidHeader => "invalid_header",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::PreconditionRequired => "precondition_required",
            Self::VersionConflict => "version_conflict",
            Self::CostBasisMismatch => "cost_basis_mismatch",
            Self::SharesNotHeld => "shares_not_held",
            Self::LaterSaleShort => "later_sale_short",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyKeyExpired => "idempotency_key_expired",
            Self::Conflict(code) => code.as_str(),
            Self::MethodNotAllowed => "method_not_allowed",
            Self::MalformedJson => "malformed_json",
            Self::InvalidPath => "invalid_path",
            Self::InvalidQuery => "invalid_query",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NotAcceptable => "not_acceptable",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::ServiceUnavailable => "service_unavailable",
            Self::ServerBusy => "server_busy",
            Self::Internal => "internal_error",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::ValidationFailed
            | Self::CostBasisMismatch
            | Self::SharesNotHeld
            | Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InvalidBody | Self::InvalidCursor | Self::InvalidHeader => {
                StatusCode::BAD_REQUEST
            }
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::VersionConflict => StatusCode::PRECONDITION_FAILED,
            Self::IdempotencyKeyExpired | Self::Conflict(_) | Self::LaterSaleShort => {
                StatusCode::CONFLICT
            }
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::MalformedJson | Self::InvalidPath | Self::InvalidQuery => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable | Self::ServerBusy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::ValidationFailed => "Validation failed",
            Self::InvalidBody => "Invalid request body",
            Self::InvalidCursor => "Invalid cursor",
            Self::InvalidHeader => "Invalid header",
            Self::Unauthorized => "Authentication required",
            Self::Forbidden => "Forbidden",
            Self::PreconditionRequired => "Precondition required",
            Self::VersionConflict => "Version conflict",
            Self::CostBasisMismatch => "Cost basis mismatch",
            Self::SharesNotHeld => "Shares not held",
            Self::LaterSaleShort => "A later sale would be short",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::IdempotencyKeyExpired => "Idempotency key expired",
            Self::Conflict(_) => "Conflict",
            Self::MethodNotAllowed => "Method not allowed",
            Self::MalformedJson => "Malformed JSON body",
            Self::InvalidPath => "Invalid path parameter",
            Self::InvalidQuery => "Invalid query parameter",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::NotAcceptable => "Not acceptable",
            Self::PayloadTooLarge => "Request body too large",
            Self::RateLimited => "Too many requests",
            Self::ServiceUnavailable => "Service unavailable",
            Self::ServerBusy => "Server busy",
            Self::Internal => "Internal error",
        }
    }
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblem {
    /// A JSON pointer (RFC 6901) into the request body; empty for the body as a whole.
    #[schema(example = "/size_cents")]
    pub pointer: String,
    /// What is wrong with it.
    #[schema(example = "must be greater than 0")]
    pub detail: String,
}

/// An RFC 9457 problem. The members after `code` appear only with the codes that name them.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/not_found",
    "title": "Not found",
    "status": 404,
    "detail": "There is no resource at /api/v1/nothing.",
    "code": "not_found"
}))]
pub struct Problem {
    /// A relative URI identifying the problem type: `/problems/<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short, human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// A human-readable explanation of this occurrence.
    pub detail: String,
    /// The machine-readable problem code.
    pub code: String,
    /// `validation_failed`, `invalid_body`: each invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
    /// `version_conflict`: the resource's current version (its `ETag` without quotes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// `cost_basis_mismatch`: share price × shares, rounded half-up to a cent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_cost_basis_cents: Option<i64>,
    /// `cost_basis_mismatch`: how far the stated cost basis may be from the expected one, cents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance_cents: Option<i64>,
    /// `shares_not_held`, `later_sale_short`: the shares the company held on the distribution's date
    /// (before it), a decimal string with 8 places.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub shares_held_on_date: Option<String>,
    /// `later_sale_short`: the distribution that would be left short.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution_id: Option<i64>,
    /// `invalid_header`: the header's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// `idempotency_key_expired`: the resource the key created (also sent as `Location`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// `service_unavailable` from `/readyz`: Redis's state (`up`, `down`, `not_configured`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
}

impl Problem {
    pub fn new(code: ProblemCode, detail: String) -> Self {
        Self {
            type_uri: format!("/problems/{}", code.as_str()),
            title: code.title().to_owned(),
            status: code.status().as_u16(),
            detail,
            code: code.as_str().to_owned(),
            errors: None,
            current_version: None,
            expected_cost_basis_cents: None,
            tolerance_cents: None,
            shares_held_on_date: None,
            distribution_id: None,
            header: None,
            location: None,
            redis: None,
        }
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .content_type(PROBLEM_JSON)
            .json(self)
    }
}
