//! The client side of a target: the system's HTTP API at some base URL.
//! Before any traffic, gauntlet proves the target is the expected app
//! (`/v1/meta`) and, unless told otherwise, that it is on this machine.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The `app` that `/v1/meta` must name.
pub const EXPECTED_APP: &str = "gauntlet-reference-system";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub app: String,
    pub service: String,
    pub version: String,
    pub instance_id: String,
    pub started_at: String,
}

#[derive(Clone)]
pub struct Target {
    base: String,
    http: reqwest::Client,
}

impl Target {
    /// Validates the URL; refuses non-loopback hosts unless `allow_remote`.
    pub fn new(base: &str, allow_remote: bool) -> Result<Target> {
        let url = reqwest::Url::parse(base)
            .map_err(|e| Error::Usage(format!("target `{base}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Usage(format!(
                "target `{base}`: only http and https are supported"
            )));
        }
        if !allow_remote && !is_loopback(&url) {
            return Err(Error::RemoteTarget {
                url: base.to_string(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client");
        Ok(Target {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Fails with [`Error::WrongTarget`] unless `/v1/meta` names the expected
    /// app, and with [`Error::Unreachable`] if nothing answers.
    pub async fn verify_identity(&self) -> Result<Meta> {
        let url = self.url("/v1/meta");
        let wrong = |reason: String| Error::WrongTarget {
            url: self.base.clone(),
            reason,
        };
        let response = self.get(&url).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(wrong(format!(
                "GET /v1/meta answered {status}, expected 200 with the app's identity"
            )));
        }
        let body = response
            .text()
            .await
            .map_err(|e| wrong(format!("reading /v1/meta: {e}")))?;
        let meta: Meta = serde_json::from_str(&body).map_err(|_| {
            wrong(format!(
                "GET /v1/meta did not return an identity document (got: {})",
                snippet(&body)
            ))
        })?;
        if meta.app != EXPECTED_APP {
            return Err(wrong(format!(
                "/v1/meta names app `{}`, expected `{EXPECTED_APP}`",
                meta.app
            )));
        }
        Ok(meta)
    }

    /// A GET whose transport failure means the target is unreachable.
    async fn get(&self, url: &str) -> Result<reqwest::Response> {
        self.http
            .get(url)
            .send()
            .await
            .map_err(|e| Error::Unreachable {
                url: self.base.clone(),
                reason: error_chain(&e),
            })
    }

    /// `GET /api/healthz`: status code and JSON body (whatever the code).
    pub async fn healthz(&self) -> Result<(u16, serde_json::Value)> {
        let response = self.get(&self.url("/api/healthz")).await?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, body))
    }
}

/// True for `localhost`, 127.0.0.0/8 and `[::1]`.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// reqwest's top-level message is vague ("error sending request"); the
/// cause ("Connection refused") is what the user needs.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

fn snippet(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        "an empty body".into()
    } else {
        one_line.chars().take(80).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_without_allow_remote() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://127.1.2.3",
            "http://[::1]:80/",
        ] {
            assert!(Target::new(ok, false).is_ok(), "{ok}");
        }
        for remote in [
            "http://10.0.0.1",
            "http://192.168.1.1:80",
            "https://example.com",
            "http://0.0.0.0:80",
        ] {
            let err = Target::new(remote, false).err().expect(remote);
            assert!(matches!(err, Error::RemoteTarget { .. }), "{remote}: {err}");
            assert!(Target::new(remote, true).is_ok());
        }
        assert!(matches!(
            Target::new("not a url", false),
            Err(Error::Usage(_))
        ));
        assert!(matches!(
            Target::new("ftp://127.0.0.1", false),
            Err(Error::Usage(_))
        ));
    }
}
