//! The target of the properties: anything that answers the rules API of the
//! issue-6 contract (section B). [`HttpTarget`] speaks HTTP to a running
//! system; tests substitute an in-process implementation of [`RulesApi`].

use std::sync::OnceLock;
use std::time::Duration;

use gauntlet_harness::target::error_chain;
use serde::Serialize;

/// One answer of the target: its status code and JSON body (`Null` when the
/// body was empty, a JSON string holding the text when it was not JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Reply {
    /// `error.code` of a contract error body, if there is one.
    pub fn error_code(&self) -> Option<&str> {
        self.body.get("error")?.get("code")?.as_str()
    }
}

/// The target could not be asked, or answered in a way no property can
/// judge. Reported as an error of the property, never as a counterexample.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("{method} {path}: target unreachable: {message}")]
    Transport {
        method: String,
        path: String,
        message: String,
    },
    #[error(
        "{method} {path}: server error {status} (the contract has no 5xx for this call): {body}"
    )]
    Server {
        method: String,
        path: String,
        status: u16,
        body: String,
    },
    #[error("{method} {path}: 401 unauthorized; give the target's admin token (X-Admin-Token)")]
    Unauthorized { method: String, path: String },
    #[error("{method} {path}: rate limited (429) by the target; raise its limits (RATE_LIMIT_STANDARD / RATE_LIMIT_ADMIN on the reference system) or give the target a rate-limit wait budget")]
    RateLimited { method: String, path: String },
    #[error("{method} {path}: unusable answer {status}: {message}")]
    Unexpected {
        method: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("bad target: {0}")]
    Setup(String),
}

/// A system exposing the rules API. `call` is blocking; `path` starts with
/// `/` and may carry a query string. Every status code is a [`Reply`];
/// `Err` only when no answer arrived.
pub trait RulesApi: Send + Sync {
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, CallError>;

    /// [`call`](RulesApi::call) with request headers (`Authorization`,
    /// `Idempotency-Key`), which the marketplace properties need. A target
    /// that cannot send headers refuses, and those properties report an
    /// error instead of a verdict.
    fn call_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, CallError> {
        if headers.is_empty() {
            self.call(method, path, body)
        } else {
            Err(CallError::Setup(format!(
                "{method} {path}: this target cannot send request headers"
            )))
        }
    }
}

impl<T: RulesApi + ?Sized> RulesApi for &T {
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, CallError> {
        (**self).call(method, path, body)
    }

    fn call_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, CallError> {
        (**self).call_with_headers(method, path, body, headers)
    }
}

/// The rules API of a running system over HTTP.
///
/// Blocking: it owns a current-thread tokio runtime and blocks on it, so it
/// must be called from a plain thread or from `spawn_blocking`, not from
/// inside an async task. Creating and dropping it is safe anywhere; the
/// runtime and the HTTP client are built on the first call, and if that
/// fails every call answers [`CallError::Setup`].
pub struct HttpTarget {
    base_url: String,
    admin_token: Option<String>,
    rate_limit_wait: Duration,
    io: OnceLock<Result<Io, String>>,
}

struct Io {
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Io {
    fn build() -> Result<Io, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {}", error_chain(&e)))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        Ok(Io { http, runtime })
    }
}

impl std::fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTarget")
            .field("base_url", &self.base_url)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<set>"))
            .field("rate_limit_wait", &self.rate_limit_wait)
            .finish()
    }
}

impl HttpTarget {
    /// A target at `base_url` (`http://127.0.0.1:8080`); `admin_token` is
    /// sent as `X-Admin-Token` on every request when set.
    pub fn new(base_url: impl Into<String>, admin_token: Option<String>) -> HttpTarget {
        HttpTarget {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            admin_token,
            rate_limit_wait: Duration::ZERO,
            io: OnceLock::new(),
        }
    }

    /// A client on the system under test: its primary endpoint (the API the
    /// properties drive) and its `admin_token` secret.
    pub fn for_sut(
        sut: &gauntlet_harness::sut::Sut,
    ) -> Result<HttpTarget, gauntlet_harness::Error> {
        let primary = gauntlet_harness::sut::Sut::primary_endpoint(&sut.config);
        Ok(HttpTarget::new(
            sut.endpoint(&primary)?,
            sut.secret("admin_token").map(String::from),
        ))
    }

    /// How long, in total per request, to wait out 429 answers (honouring
    /// `Retry-After`) before reporting [`CallError::RateLimited`]. Zero (the
    /// default) reports the first 429.
    pub fn with_rate_limit_wait(mut self, budget: Duration) -> Self {
        self.rate_limit_wait = budget;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn send(
        &self,
        http: &reqwest::Client,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, CallError> {
        let transport = |message: String| CallError::Transport {
            method: method.to_owned(),
            path: path.to_owned(),
            message,
        };
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| CallError::Setup(format!("method {method}: {e}")))?;
        let url = format!("{}{}", self.base_url, path);
        let mut waited = Duration::ZERO;
        loop {
            let mut request = http.request(m.clone(), &url);
            if let Some(token) = &self.admin_token {
                request = request.header("X-Admin-Token", token);
            }
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .map_err(|e| transport(error_chain(&e)))?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let text = response
                .text()
                .await
                .map_err(|e| transport(error_chain(&e)))?;
            if status == 429 {
                let pause = Duration::from_secs(retry_after.unwrap_or(1).max(1));
                if waited + pause <= self.rate_limit_wait {
                    tokio::time::sleep(pause).await;
                    waited += pause;
                    continue;
                }
                return Err(CallError::RateLimited {
                    method: method.to_owned(),
                    path: path.to_owned(),
                });
            }
            let body = if text.trim().is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
            };
            return Ok(Reply { status, body });
        }
    }
}

impl RulesApi for HttpTarget {
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, CallError> {
        self.call_with_headers(method, path, body, &[])
    }

    fn call_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, CallError> {
        match self.io.get_or_init(Io::build) {
            Ok(io) => io
                .runtime
                .block_on(self.send(&io.http, method, path, body, headers)),
            Err(e) => Err(CallError::Setup(e.clone())),
        }
    }
}

impl Drop for HttpTarget {
    fn drop(&mut self) {
        // A plain drop of a runtime panics inside an async context.
        if let Some(Ok(io)) = self.io.take() {
            io.runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_url() -> String {
        // Bind then drop: the port is closed when the request is made.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}/")
    }

    #[test]
    fn unreachable_target_is_a_transport_error() {
        let target = HttpTarget::new(refused_url(), None);
        let err = target.call("GET", "/v1/meta", None).unwrap_err();
        assert!(matches!(err, CallError::Transport { .. }), "{err}");
    }

    #[test]
    fn works_from_spawn_blocking_and_drops_inside_a_runtime() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let url = refused_url();
        rt.block_on(async move {
            let target = tokio::task::spawn_blocking(move || {
                let target = HttpTarget::new(url, Some("t".into()));
                assert!(target
                    .call("POST", "/x", Some(&serde_json::json!({})))
                    .is_err());
                target
            })
            .await
            .unwrap();
            drop(target);
        });
    }

    #[test]
    fn serves_status_and_json_and_sends_the_admin_token() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).to_lowercase();
            let body = r#"{"error":{"code":"REPO003","message":"no"}}"#;
            write!(
                stream,
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            request
        });
        let target = HttpTarget::new(format!("http://127.0.0.1:{port}"), Some("sekrit".into()));
        let reply = target
            .call("GET", "/v1/repogen/work-orders/9", None)
            .unwrap();
        assert_eq!(reply.status, 404);
        assert_eq!(reply.error_code(), Some("REPO003"));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("get /v1/repogen/work-orders/9 "),
            "{request}"
        );
        assert!(request.contains("x-admin-token: sekrit"), "{request}");
    }
}
