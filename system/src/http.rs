//! HTTP plumbing shared by the `api`, `web` and `sink` processes: the error
//! type and its JSON shape, the request-id / access-log / metrics middleware,
//! a JSON body extractor whose rejections use the error shape, the admin
//! token check, and serving with graceful shutdown.

use std::any::Any;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use anyhow::Context;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::config::Secret;
use crate::telemetry::{DB_ERRORS, HTTP_DURATION, HTTP_REQUESTS};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_ADMIN_TOKEN: &str = "x-admin-token";
/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// Every error a handler can return; rendered as
/// `{"error":{"code","message"[,"details"]}}`.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("the request has invalid fields")]
    Validation { details: BTreeMap<String, String> },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("unauthorized")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// A spec error code (`INV001`, `ORD002`, `IDEM001`, ...) with its status.
    #[error("{message}")]
    Coded {
        status: StatusCode,
        code: &'static str,
        message: String,
        details: Option<BTreeMap<String, String>>,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// An error with a spec code and no details.
    pub fn coded(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Coded {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// A 422 with one field's message.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation {
            details: BTreeMap::from([(field.to_owned(), message.into())]),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::NotFound { code, .. } => (StatusCode::NOT_FOUND, code),
            AppError::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED"),
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            AppError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            AppError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
            }
            AppError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "AUTH001"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            AppError::Coded { status, code, .. } => (*status, code),
            AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            AppError::Database(e) if crate::db::is_unavailable(e) => {
                (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
            }
            AppError::Database(_) | AppError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL")
            }
        }
    }
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a BTreeMap<String, String>>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            AppError::Database(e) => {
                metrics::counter!(DB_ERRORS).increment(1);
                tracing::error!(error = %e, "database call failed");
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    "database unavailable".to_owned()
                } else {
                    "internal error".to_owned()
                }
            }
            AppError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let details = match &self {
            AppError::Validation { details } => Some(details),
            AppError::Coded { details, .. } => details.as_ref(),
            _ => None,
        };
        let body = ErrorEnvelope {
            error: ErrorBody {
                code,
                message,
                details,
            },
        };
        (status, Json(body)).into_response()
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        let text = rejection.body_text();
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(format!(
                "request body is larger than {BODY_LIMIT_BYTES} bytes"
            )),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType(
                "expected request with `Content-Type: application/json`".to_owned(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY => json_data_error(&rejection, text),
            _ => AppError::BadRequest(text),
        }
    }
}

/// A 422 naming the offending field (`items[0].quantity`) when the JSON
/// was well formed but did not fit the expected shape.
fn json_data_error(rejection: &JsonRejection, text: String) -> AppError {
    use std::error::Error as _;
    let mut source = rejection.source();
    while let Some(err) = source {
        if let Some(e) = err.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>() {
            let path = e.path().to_string();
            let field = if path == "." { "body".to_owned() } else { path };
            return AppError::invalid(&field, e.inner().to_string());
        }
        source = err.source();
    }
    AppError::invalid("body", text)
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        AppError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::BadRequest(rejection.body_text())
    }
}

/// `Json<T>` whose rejections (bad JSON, wrong content type, too large,
/// unknown or missing fields) answer in the error shape.
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(JsonBody(value))
    }
}

/// Admin endpoints: `X-Admin-Token` must equal the configured token; with no
/// token configured every call is refused.
pub fn check_admin(configured: Option<&Secret>, headers: &HeaderMap) -> Result<(), AppError> {
    let (Some(expected), Some(given)) = (configured, headers.get(X_ADMIN_TOKEN)) else {
        return Err(AppError::Unauthorized);
    };
    if constant_time_eq(expected.expose().as_bytes(), given.as_bytes()) {
        Ok(())
    } else {
        Err(AppError::Unauthorized)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The id of the current request, in request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Keeps a client-sent `X-Request-Id` when it is 1..=128 visible ASCII
/// characters; otherwise makes a new UUID.
pub fn request_id_from(headers: &HeaderMap) -> String {
    headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Request id, access log line and per-route metrics for every request.
async fn observe(mut req: Request, next: Next) -> Response {
    let id = request_id_from(req.headers());
    req.extensions_mut().insert(RequestId(id.clone()));
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = method_label(req.method());
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %id);
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route.clone())
        .record(elapsed.as_secs_f64());
    metrics::counter!(
        HTTP_REQUESTS,
        "method" => method,
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    span.in_scope(|| {
        tracing::info!(
            method,
            path,
            route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    AppError::Internal(format!("handler panicked: {detail}")).into_response()
}

/// Body limit, panic-to-500, request id, access log and metrics, applied to
/// every route and the fallback already on `router`.
pub fn with_common_layers(router: Router) -> Router {
    router
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(observe))
}

/// JSON 404 for unknown routes.
pub async fn not_found_json(method: Method, uri: axum::http::Uri) -> AppError {
    AppError::NotFound {
        code: "NOT_FOUND",
        message: format!("no route for {method} {}", uri.path()),
    }
}

/// JSON 405 for known paths called with the wrong method.
pub async fn method_not_allowed_json() -> AppError {
    AppError::MethodNotAllowed
}

/// Binds `addr` (read from the variable `var`), with an error that says
/// what to do when the port is taken.
pub async fn bind(process: &str, var: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("{process}: cannot listen on {addr}; is another process using the port? (set {var} to move it)")
    })
}

/// Serves on `listener` until SIGINT or SIGTERM, then drains.
pub async fn serve(process: &str, listener: TcpListener, router: Router) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, process, "listening");
    // Peer addresses (ConnectInfo) are the client IP for rate limits.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .with_context(|| format!("{process}: server on {addr} failed"))?;
    tracing::info!(process, "stopped");
    Ok(())
}

/// Resolves on SIGINT (PM2's stop signal) or SIGTERM (Docker's).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_is_kept_only_when_sane() {
        let mut headers = HeaderMap::new();
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(request_id_from(&headers), "abc-123");
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("has space"));
        assert_ne!(request_id_from(&headers), "has space");
        let long = "x".repeat(129);
        headers.insert(X_REQUEST_ID, HeaderValue::from_str(&long).unwrap());
        assert_eq!(request_id_from(&headers).len(), 36);
        assert_eq!(request_id_from(&HeaderMap::new()).len(), 36);
    }

    #[test]
    fn admin_check_refuses_without_configured_token() {
        let mut headers = HeaderMap::new();
        headers.insert(X_ADMIN_TOKEN, HeaderValue::from_static("t0ken"));
        assert!(check_admin(None, &headers).is_err());
        let token = Secret::new("t0ken");
        assert!(check_admin(Some(&token), &headers).is_ok());
        assert!(check_admin(Some(&Secret::new("t0ken2")), &headers).is_err());
        assert!(check_admin(Some(&token), &HeaderMap::new()).is_err());
    }

    #[test]
    fn errors_map_to_status_and_code() {
        let cases = [
            (AppError::invalid("page", "bad"), 422, "VALIDATION_FAILED"),
            (AppError::Unauthorized, 401, "AUTH001"),
            (
                AppError::Database(sqlx::Error::PoolTimedOut),
                503,
                "UNAVAILABLE",
            ),
            (
                AppError::Database(sqlx::Error::RowNotFound),
                500,
                "INTERNAL",
            ),
        ];
        for (err, status, code) in cases {
            let (s, c) = err.status_and_code();
            assert_eq!((s.as_u16(), c), (status, code));
        }
    }

    #[tokio::test]
    async fn json_errors_name_the_field_in_the_error_shape() {
        use tower::ServiceExt;

        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Item {
            product_id: i64,
            quantity: i64,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            items: Vec<Item>,
        }
        async fn handler(JsonBody(_): JsonBody<Body>) -> &'static str {
            "ok"
        }
        let app = with_common_layers(Router::new().route("/", axum::routing::post(handler)));
        let send = |body: &'static str, json: bool| {
            let app = app.clone();
            async move {
                let mut req = Request::post("/");
                if json {
                    req = req.header("content-type", "application/json");
                }
                let resp = app
                    .oneshot(req.body(axum::body::Body::from(body)).unwrap())
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
                    .await
                    .unwrap();
                let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                (status, value)
            }
        };
        let (status, v) = send(r#"{"items":[{"product_id":1,"quantity":"2"}]}"#, true).await;
        assert_eq!(status, 422);
        assert_eq!(v["error"]["code"], "VALIDATION_FAILED");
        let details = v["error"]["details"].as_object().unwrap();
        assert!(details.contains_key("items[0].quantity"), "{v}");
        let (status, v) = send(r#"{"items":[],"extra":1}"#, true).await;
        assert_eq!(status, 422);
        assert!(
            v["error"]["details"]["extra"]
                .as_str()
                .unwrap()
                .contains("unknown field"),
            "{v}"
        );
        let (status, v) = send(r#"{"items":"#, true).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (400, Some("BAD_REQUEST"))
        );
        let (status, v) = send(r#"{"items":[]}"#, false).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (415, Some("UNSUPPORTED_MEDIA_TYPE"))
        );
    }
}
