//! An async client for the Toxiproxy 2.x API, for use inside tokio.
//!
//! Why not `toxiproxy_rust`: it is built on reqwest's *blocking* client,
//! which panics when called from within a tokio runtime (where the harness
//! runs), it has no `reset_peer`, and its errors are strings. This client
//! is async, typed ([`Toxic`] with [`ToxicKind`]), and its errors carry the
//! server's message and HTTP status. It works against this crate's server
//! and against the official Toxiproxy (whose `/version` may be plain text
//! and whose `/populate` may answer `"proxies": null`).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::{null_as_empty, ErrorBody, Proxy, ProxyConfig, Toxic, ToxicKind};

/// Every request gives up after this long: the proxy is local, and a
/// harness waiting forever on a hung fault proxy would report nothing.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ToxiproxyError {
    /// The server answered with an error status.
    #[error("toxiproxy {method} {url} answered {status}: {message}")]
    Api {
        method: Method,
        url: String,
        status: StatusCode,
        /// The server's `"error"` text (or the raw body if it was not JSON).
        message: String,
    },
    /// No answer: connection refused, timeout, ...
    #[error("toxiproxy {method} {url} failed: {source}")]
    Transport {
        method: Method,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// An answer that is not the JSON expected.
    #[error("toxiproxy {method} {url} answered with unexpected JSON ({source}): {body}")]
    Decode {
        method: Method,
        url: String,
        body: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

impl ToxiproxyError {
    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ToxiproxyError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    pub fn is_conflict(&self) -> bool {
        self.status() == Some(StatusCode::CONFLICT)
    }
}

pub type Result<T, E = ToxiproxyError> = std::result::Result<T, E>;

/// A Toxiproxy API endpoint, e.g. `http://127.0.0.1:8474`.
#[derive(Debug, Clone)]
pub struct ToxiproxyClient {
    base: String,
    http: reqwest::Client,
}

impl ToxiproxyClient {
    /// A client with a [`REQUEST_TIMEOUT`] per request.
    pub fn new(base_url: impl Into<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(ToxiproxyError::Build)?;
        Ok(Self::with_http(base_url, http))
    }

    /// A client using a given reqwest client (its timeouts apply).
    pub fn with_http(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        let base = base_url.into().trim_end_matches('/').to_string();
        ToxiproxyClient { base, http }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The server's version: `{"version": "..."}` in Toxiproxy ≥ 2.6, plain
    /// text before; both are accepted.
    pub async fn version(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct Version {
            version: String,
        }
        let text = self.send(Method::GET, "/version", None::<&()>).await?.1;
        Ok(match serde_json::from_str::<Version>(&text) {
            Ok(v) => v.version,
            Err(_) => text.trim().to_string(),
        })
    }

    pub async fn proxies(&self) -> Result<BTreeMap<String, Proxy>> {
        self.call(Method::GET, "/proxies", None::<&()>).await
    }

    pub async fn proxy(&self, name: &str) -> Result<Proxy> {
        self.call(Method::GET, &proxy_path(name), None::<&()>).await
    }

    /// Creates a proxy; fails with 409 if the name exists.
    pub async fn create(&self, config: &ProxyConfig) -> Result<Proxy> {
        self.call(Method::POST, "/proxies", Some(config)).await
    }

    /// Creates or replaces proxies (unchanged ones keep their toxics).
    pub async fn populate(&self, configs: &[ProxyConfig]) -> Result<Vec<Proxy>> {
        #[derive(Deserialize)]
        struct Populated {
            #[serde(default, deserialize_with = "null_as_empty")]
            proxies: Vec<Proxy>,
        }
        let answer: Populated = self.call(Method::POST, "/populate", Some(&configs)).await?;
        Ok(answer.proxies)
    }

    /// Enables (listens again on the same address) or disables (refuses new
    /// connections and drops live ones) a proxy.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<Proxy> {
        let body = serde_json::json!({ "enabled": enabled });
        self.call(Method::POST, &proxy_path(name), Some(&body))
            .await
    }

    pub async fn delete(&self, name: &str) -> Result<()> {
        self.send(Method::DELETE, &proxy_path(name), None::<&()>)
            .await?;
        Ok(())
    }

    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>> {
        let path = format!("{}/toxics", proxy_path(proxy));
        self.call(Method::GET, &path, None::<&()>).await
    }

    pub async fn toxic(&self, proxy: &str, name: &str) -> Result<Toxic> {
        self.call(Method::GET, &toxic_path(proxy, name), None::<&()>)
            .await
    }

    /// Adds a toxic; fails with 409 if one of that name exists.
    pub async fn add_toxic(&self, proxy: &str, toxic: &Toxic) -> Result<Toxic> {
        let path = format!("{}/toxics", proxy_path(proxy));
        self.call(Method::POST, &path, Some(toxic)).await
    }

    /// Replaces the attributes and toxicity of the toxic named
    /// `toxic.name` (its type and stream cannot change).
    pub async fn update_toxic(&self, proxy: &str, toxic: &Toxic) -> Result<Toxic> {
        let body = ToxicUpdate::of(toxic);
        self.call(Method::POST, &toxic_path(proxy, &toxic.name), Some(&body))
            .await
    }

    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<()> {
        self.send(Method::DELETE, &toxic_path(proxy, name), None::<&()>)
            .await?;
        Ok(())
    }

    /// Enables every proxy and removes every toxic.
    pub async fn reset(&self) -> Result<()> {
        self.send(Method::POST, "/reset", None::<&()>).await?;
        Ok(())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        let (url, text) = self.send(method.clone(), path, body).await?;
        serde_json::from_str(&text).map_err(|source| ToxiproxyError::Decode {
            method,
            url,
            body: text,
            source,
        })
    }

    /// Sends a request; an error status becomes [`ToxiproxyError::Api`].
    /// Returns the URL and the body text.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<(String, String)> {
        let url = format!("{}{}", self.base, path);
        let transport = |source| ToxiproxyError::Transport {
            method: method.clone(),
            url: url.clone(),
            source,
        };
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let text = response.text().await.map_err(transport)?;
        if !status.is_success() {
            // Toxiproxy sends its JSON error with a text/plain content type.
            let message = match serde_json::from_str::<ErrorBody>(&text) {
                Ok(body) => body.error,
                Err(_) => text.trim().to_string(),
            };
            return Err(ToxiproxyError::Api {
                method,
                url,
                status,
                message,
            });
        }
        Ok((url, text))
    }
}

/// The body of a toxic update: what Toxiproxy reads from it.
#[derive(Serialize)]
struct ToxicUpdate<'a> {
    toxicity: f32,
    /// `"type"` is ignored by the server; `"attributes"` is what counts.
    #[serde(flatten)]
    kind: &'a ToxicKind,
}

impl<'a> ToxicUpdate<'a> {
    fn of(toxic: &'a Toxic) -> Self {
        ToxicUpdate {
            toxicity: toxic.toxicity,
            kind: &toxic.kind,
        }
    }
}

/// Path segments are percent-encoded so any proxy or toxic name is safe.
fn proxy_path(name: &str) -> String {
    format!("/proxies/{}", encode_segment(name))
}

fn toxic_path(proxy: &str, toxic: &str) -> String {
    format!("{}/toxics/{}", proxy_path(proxy), encode_segment(toxic))
}

fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Stream;

    #[test]
    fn update_body_carries_attributes_and_toxicity() {
        let toxic =
            Toxic::new(ToxicKind::Bandwidth { rate: 5 }, Stream::Upstream).with_toxicity(0.5);
        let body = serde_json::to_value(ToxicUpdate::of(&toxic)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"toxicity": 0.5, "type": "bandwidth", "attributes": {"rate": 5}})
        );
    }

    #[test]
    fn names_are_encoded_in_paths() {
        assert_eq!(toxic_path("a b", "x/y"), "/proxies/a%20b/toxics/x%2Fy");
    }
}
