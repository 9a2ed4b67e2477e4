//! The DFC API's one error type: a deliberate status and a stable code per failure, a JSON body
//! that says what is wrong and where, and internal detail logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::dfc::ReadError;
use crate::domain::order::StatusChangeError;
use crate::store::{OrderError, Shortage, StoreError};

#[derive(Debug)]
pub enum ApiError {
    /// Missing or unknown bearer token.
    Unauthorized,
    /// A valid token that does not allow this request.
    Forbidden(String),
    NotFound(&'static str),
    /// No route of the API has this path.
    NoRoute(String),
    /// The path is a route, but not for this method.
    NoMethod(String, String),
    /// A payload that cannot be understood: where and why.
    InvalidPayload {
        path: String,
        message: String,
    },
    /// A payload understood but not acceptable (an offer we do not sell, a state we cannot create).
    Unprocessable {
        code: &'static str,
        path: Option<String>,
        message: String,
    },
    PayloadTooLarge {
        limit: usize,
    },
    InsufficientStock(Vec<(Shortage, String)>),
    Conflict {
        code: &'static str,
        message: String,
    },
    /// The database has no free connection: try again shortly.
    Busy,
    Internal,
}

impl From<ReadError> for ApiError {
    fn from(err: ReadError) -> Self {
        ApiError::InvalidPayload { path: err.path, message: err.message }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Busy => ApiError::Busy,
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::Internal
            }
        }
    }
}

impl From<StatusChangeError> for ApiError {
    fn from(err: StatusChangeError) -> Self {
        let code = match err {
            StatusChangeError::AlreadyComplete => "ORDER_COMPLETE",
            StatusChangeError::AlreadyCancelled => "ORDER_CANCELLED",
        };
        ApiError::Conflict { code, message: err.to_string() }
    }
}

impl ApiError {
    /// Maps a store refusal; `product_iri` names products the way the caller knows them.
    pub fn from_order_error(err: OrderError, product_iri: impl Fn(i64) -> String) -> ApiError {
        match err {
            OrderError::NotFound => ApiError::NotFound("order"),
            OrderError::UnknownProducts(ids) => ApiError::Unprocessable {
                code: "UNKNOWN_OFFER",
                path: None,
                message: format!(
                    "not offered by this enterprise: {}",
                    ids.iter().map(|id| product_iri(*id)).collect::<Vec<_>>().join(", ")
                ),
            },
            OrderError::IdempotencyKeyReused => ApiError::Unprocessable {
                code: "IDEMPOTENCY_KEY_REUSED",
                path: None,
                message: "this Idempotency-Key was already used with another request".into(),
            },
            OrderError::DuplicateProduct(id) => ApiError::Unprocessable {
                code: "DUPLICATE_LINE",
                path: None,
                message: format!("{} is ordered on more than one line; send one line per product", product_iri(id)),
            },
            OrderError::InsufficientStock(shortages) => ApiError::InsufficientStock(
                shortages
                    .into_iter()
                    .map(|s| {
                        let iri = product_iri(s.product_id);
                        (s, iri)
                    })
                    .collect(),
            ),
            OrderError::StatusChange(e) => e.into(),
            OrderError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"code": "UNAUTHORIZED", "message": "a valid bearer token is required"}),
            ),
            ApiError::Forbidden(message) => (StatusCode::FORBIDDEN, json!({"code": "FORBIDDEN", "message": message})),
            ApiError::NoRoute(path) => (
                StatusCode::NOT_FOUND,
                json!({
                    "code": "NOT_FOUND",
                    "message": format!("nothing is served at `{path}`; DFC resources live under /api/dfc/enterprises/{{enterprise}}/... or /api/dfc/Enterprises/{{enterprise}}/..."),
                }),
            ),
            ApiError::NoMethod(method, path) => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"code": "METHOD_NOT_ALLOWED", "message": format!("`{path}` does not take {method}")}),
            ),
            ApiError::NotFound(what) => {
                (StatusCode::NOT_FOUND, json!({"code": "NOT_FOUND", "message": format!("no such {what}")}))
            }
            ApiError::InvalidPayload { path, message } => {
                (StatusCode::BAD_REQUEST, json!({"code": "INVALID_PAYLOAD", "message": message, "path": path}))
            }
            ApiError::Unprocessable { code, path, message } => {
                let mut body = json!({"code": code, "message": message});
                if let Some(path) = path {
                    body["path"] = path.into();
                }
                (StatusCode::UNPROCESSABLE_ENTITY, body)
            }
            ApiError::PayloadTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"code": "PAYLOAD_TOO_LARGE", "message": format!("the body exceeds {limit} bytes")}),
            ),
            ApiError::InsufficientStock(shortages) => {
                let message = shortages
                    .iter()
                    .map(|(s, _)| format!("{}: {} requested, {} available", s.product_name, s.requested, s.available))
                    .collect::<Vec<_>>()
                    .join("; ");
                let items: Vec<_> = shortages
                    .iter()
                    .map(|(s, iri)| {
                        json!({
                            "product": iri,
                            "name": s.product_name,
                            "requested": s.requested,
                            "available": s.available,
                        })
                    })
                    .collect();
                (
                    StatusCode::CONFLICT,
                    json!({"code": "INSUFFICIENT_STOCK", "message": format!("not enough stock: {message}"), "shortages": items}),
                )
            }
            ApiError::Conflict { code, message } => (StatusCode::CONFLICT, json!({"code": code, "message": message})),
            ApiError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"code": "BUSY", "message": "the service is busy; retry shortly"}),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"code": "INTERNAL", "message": "internal error; it has been logged"}),
            ),
        };
        let mut response = (status, axum::Json(json!({ "error": body }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
