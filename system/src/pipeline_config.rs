//! Configuration of the event pipeline, storefront webhooks and the sync
//! queue: read by [`crate::config::Config::from_env`] with the same rules
//! (an empty variable counts as unset; a bad value names the variable).

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{ConfigError, Env, Secret};

pub const DEFAULT_SINK_URL: &str = "http://127.0.0.1:8082/deliver";
pub const DEFAULT_WORKER_METRICS_ADDR: &str = "0.0.0.0:8083";
pub const DEFAULT_SYNC_STUCK_AFTER_SECS: u64 = 600;
pub const DEFAULT_STREAM_CLAIM_IDLE_MS: u64 = 30_000;
pub const DEFAULT_STREAM_RETRY_BASE_MS: u64 = 500;

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// `SHOPIFY_WEBHOOK_SECRET`: HMAC key of storefront webhooks. Unset →
    /// every webhook is refused with 401.
    pub shopify_webhook_secret: Option<Secret>,
    /// `SINK_URL`: where the worker POSTs events and sync pushes.
    pub sink_url: reqwest::Url,
    /// `WORKER_METRICS_ADDR`: the worker's `/metrics` listener.
    pub worker_metrics_addr: SocketAddr,
    /// `SYNC_STUCK_AFTER_SECS`: a sync job in `processing` longer than this
    /// goes back to `pending`.
    pub sync_stuck_after: Duration,
    /// `STREAM_CLAIM_IDLE_MS`: pending entries idle this long in another
    /// consumer's list are claimed.
    pub stream_claim_idle: Duration,
    /// `STREAM_RETRY_BASE_MS`: first retry delay of a failed delivery
    /// (doubling per failure, capped at 30 s).
    pub stream_retry_base: Duration,
}

impl PipelineConfig {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let get = |key: &str| env.var(key).filter(|v| !v.trim().is_empty());
        let number = |var: &'static str, default: u64, min: u64| -> Result<u64, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(value) => match value.trim().parse::<u64>() {
                    Ok(n) if n >= min => Ok(n),
                    _ => Err(ConfigError::Invalid {
                        var,
                        value,
                        reason: format!("expected an integer >= {min}"),
                    }),
                },
            }
        };
        let sink_url = get("SINK_URL").unwrap_or_else(|| DEFAULT_SINK_URL.to_owned());
        let sink_url = match reqwest::Url::parse(sink_url.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => url,
            _ => {
                return Err(ConfigError::Invalid {
                    var: "SINK_URL",
                    value: crate::config::redact_url(&sink_url),
                    reason: format!("expected an http(s) URL such as {DEFAULT_SINK_URL}"),
                })
            }
        };
        let addr =
            get("WORKER_METRICS_ADDR").unwrap_or_else(|| DEFAULT_WORKER_METRICS_ADDR.to_owned());
        let worker_metrics_addr = addr.trim().parse().map_err(|e| ConfigError::Invalid {
            var: "WORKER_METRICS_ADDR",
            value: addr.clone(),
            reason: format!("{e}; expected host:port such as {DEFAULT_WORKER_METRICS_ADDR}"),
        })?;
        Ok(PipelineConfig {
            shopify_webhook_secret: get("SHOPIFY_WEBHOOK_SECRET").map(Secret::new),
            sink_url,
            worker_metrics_addr,
            sync_stuck_after: Duration::from_secs(number(
                "SYNC_STUCK_AFTER_SECS",
                DEFAULT_SYNC_STUCK_AFTER_SECS,
                1,
            )?),
            stream_claim_idle: Duration::from_millis(number(
                "STREAM_CLAIM_IDLE_MS",
                DEFAULT_STREAM_CLAIM_IDLE_MS,
                100,
            )?),
            stream_retry_base: Duration::from_millis(number(
                "STREAM_RETRY_BASE_MS",
                DEFAULT_STREAM_RETRY_BASE_MS,
                1,
            )?),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(vars: &[(&'static str, &'static str)]) -> Result<PipelineConfig, ConfigError> {
        PipelineConfig::from_env(&vars.iter().copied().collect::<HashMap<_, _>>())
    }

    #[test]
    fn defaults_and_validation() {
        let cfg = parse(&[("SHOPIFY_WEBHOOK_SECRET", "")]).unwrap();
        assert!(cfg.shopify_webhook_secret.is_none());
        assert_eq!(cfg.sink_url.as_str(), DEFAULT_SINK_URL);
        assert_eq!(cfg.sync_stuck_after, Duration::from_secs(600));
        assert_eq!(cfg.stream_claim_idle, Duration::from_secs(30));
        let cfg = parse(&[
            ("SYNC_STUCK_AFTER_SECS", "2"),
            ("SHOPIFY_WEBHOOK_SECRET", "s"),
        ])
        .unwrap();
        assert_eq!(cfg.sync_stuck_after, Duration::from_secs(2));
        assert_eq!(cfg.shopify_webhook_secret.unwrap().expose(), "s");
        for (var, value) in [
            ("SINK_URL", "ftp://x/deliver"),
            ("SINK_URL", "not a url"),
            ("SYNC_STUCK_AFTER_SECS", "0"),
            ("STREAM_CLAIM_IDLE_MS", "-5"),
            ("WORKER_METRICS_ADDR", "8083"),
        ] {
            let err = parse(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
        }
    }
}
