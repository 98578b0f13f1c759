//! API errors, with Toxiproxy's messages and statuses, answered as
//! `{"error": "...", "status": N}` so existing Toxiproxy clients can match
//! on them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::model::ErrorBody;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// `bad request body: <what the JSON decoder said>`.
    pub fn bad_request_body(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("bad request body: {detail}"),
        )
    }

    /// `missing required field: <field>`.
    pub fn missing_field(field: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("missing required field: {field}"),
        )
    }

    pub fn proxy_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "proxy not found")
    }

    pub fn proxy_already_exists() -> Self {
        Self::new(StatusCode::CONFLICT, "proxy already exists")
    }

    pub fn invalid_stream() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "stream was invalid, can be either upstream or downstream",
        )
    }

    pub fn invalid_toxic_type() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid toxic type")
    }

    pub fn toxic_already_exists() -> Self {
        Self::new(StatusCode::CONFLICT, "toxic already exists")
    }

    pub fn toxic_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "toxic not found")
    }

    /// Errors Toxiproxy has no status for (a listen failure) are 500s.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.message.clone(),
            status: self.status.as_u16(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}
