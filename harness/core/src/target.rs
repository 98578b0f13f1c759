//! The client side of a target: the system's HTTP API at some base URL.
//! Before any traffic, gauntlet proves the target is the expected app (the
//! project's `[identity]`) and, unless told otherwise, that it is on this
//! machine.

use std::time::Duration;

use crate::config::{Identity, Readiness};
use crate::error::{Error, Result};

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

    /// Fails with [`Error::WrongTarget`] unless `GET identity.path`
    /// answers JSON whose value at `identity.pointer` equals
    /// `identity.expect`, and with [`Error::Unreachable`] if nothing
    /// answers. Returns the whole identity document.
    pub async fn verify_identity(&self, identity: &Identity) -> Result<serde_json::Value> {
        let path = &identity.path;
        let wrong = |reason: String| Error::WrongTarget {
            url: self.base.clone(),
            reason,
        };
        let response = self.get(&self.url(path)).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(wrong(format!(
                "GET {path} answered {status}, expected 200 with the app's identity"
            )));
        }
        let body = response
            .text()
            .await
            .map_err(|e| wrong(format!("reading {path}: {e}")))?;
        let document: serde_json::Value = serde_json::from_str(&body).map_err(|_| {
            wrong(format!(
                "GET {path} did not return JSON (got: {})",
                snippet(&body)
            ))
        })?;
        let found = match document.pointer(&identity.pointer) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => {
                return Err(wrong(format!(
                    "GET {path}: no value at {} (got: {})",
                    identity.pointer,
                    snippet(&body)
                )))
            }
        };
        if found != identity.expect {
            return Err(wrong(format!(
                "GET {path}: {} is `{found}`, expected `{}`",
                identity.pointer, identity.expect
            )));
        }
        Ok(document)
    }

    /// `GET path` until it answers `readiness.status` or `timeout` passes
    /// (a refused connection or another status is retried).
    pub async fn wait_ready(&self, readiness: &Readiness, timeout: Duration) -> Result<()> {
        let deadline = std::time::Instant::now() + readiness.timeout.unwrap_or(timeout);
        loop {
            let Err(last) = self.probe_ready(readiness).await else {
                return Ok(());
            };
            if std::time::Instant::now() >= deadline {
                return Err(Error::Unhealthy {
                    service: self.base.clone(),
                    reason: format!(
                        "GET {} did not answer {} within {:?}: last {last}",
                        readiness.path,
                        readiness.status,
                        readiness.timeout.unwrap_or(timeout)
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// One readiness probe: `Ok` when `GET path` answers the expected
    /// status, else what it did instead (another status and the start of
    /// the body, or the transport error).
    pub async fn probe_ready(&self, readiness: &Readiness) -> std::result::Result<(), String> {
        match self.http.get(self.url(&readiness.path)).send().await {
            Ok(r) if r.status().as_u16() == readiness.status => Ok(()),
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                Err(format!("answered {status} ({})", snippet(&body)))
            }
            Err(e) => Err(error_chain(&e)),
        }
    }

    /// A GET whose transport failure means the target is unreachable.
    pub async fn get(&self, url: &str) -> Result<reqwest::Response> {
        self.http
            .get(url)
            .send()
            .await
            .map_err(|e| Error::Unreachable {
                url: self.base.clone(),
                reason: error_chain(&e),
            })
    }

    /// `GET path`: status code and JSON body (whatever the code).
    pub async fn get_json(&self, path: &str) -> Result<(u16, serde_json::Value)> {
        let response = self.get(&self.url(path)).await?;
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
