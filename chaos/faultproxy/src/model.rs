//! The JSON shapes of the Toxiproxy 2.x HTTP API, shared by the server and
//! the client so that the two cannot drift apart.
//!
//! Field names, defaults and nesting follow Toxiproxy's Go structs
//! (`Proxy`, `toxics.ToxicWrapper`): a toxic is
//! `{"attributes":{..},"name":..,"type":..,"stream":..,"toxicity":..}` and a
//! proxy is `{"name","listen","upstream","enabled","toxics":[..]}`.

use serde::{Deserialize, Deserializer, Serialize};

/// A proxy as the API reports it, with the toxics installed on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proxy {
    pub name: String,
    /// The address the proxy listens on. Once enabled, Toxiproxy reports the
    /// address actually bound (port 0 becomes the chosen port).
    pub listen: String,
    /// `host:port` of the upstream; the host is resolved at each connect.
    pub upstream: String,
    pub enabled: bool,
    /// Upstream toxics first, then downstream ones, each in creation order.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub toxics: Vec<Toxic>,
}

/// What a caller supplies to create a proxy (`POST /proxies`, `/populate`,
/// and each element of a `--config` file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyConfig {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

impl ProxyConfig {
    /// An enabled proxy from `listen` to `upstream`.
    pub fn new(
        name: impl Into<String>,
        listen: impl Into<String>,
        upstream: impl Into<String>,
    ) -> Self {
        ProxyConfig {
            name: name.into(),
            listen: listen.into(),
            upstream: upstream.into(),
            enabled: true,
        }
    }
}

fn default_enabled() -> bool {
    true
}

/// Which way the data a toxic acts on flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Client to upstream server.
    Upstream,
    /// Upstream server to client (Toxiproxy's default).
    #[default]
    Downstream,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A toxic: one fault applied to one direction of every connection of a
/// proxy, with a probability (`toxicity`) decided per connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toxic {
    pub name: String,
    /// `"type"` and `"attributes"` in the JSON.
    #[serde(flatten)]
    pub kind: ToxicKind,
    #[serde(default)]
    pub stream: Stream,
    #[serde(default = "default_toxicity")]
    pub toxicity: f32,
}

fn default_toxicity() -> f32 {
    1.0
}

impl Toxic {
    /// A toxic that always applies, named like Toxiproxy names toxics
    /// created without a name: `{type}_{stream}`.
    pub fn new(kind: ToxicKind, stream: Stream) -> Self {
        Toxic {
            name: format!("{}_{}", kind.type_name(), stream),
            kind,
            stream,
            toxicity: 1.0,
        }
    }

    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn with_toxicity(mut self, toxicity: f32) -> Self {
        self.toxicity = toxicity;
        self
    }
}

/// The toxic types and their attributes. Integers are `i64` because
/// Toxiproxy's attributes are Go `int64`s (negative values are accepted by
/// the API and behave like 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "attributes", rename_all = "snake_case")]
pub enum ToxicKind {
    /// Delays each chunk by `latency` ms, ± up to `jitter` ms.
    Latency {
        #[serde(default)]
        latency: i64,
        #[serde(default)]
        jitter: i64,
    },
    /// Limits throughput to `rate` KB/s (1 KB = 1000 bytes); 0 = unlimited.
    Bandwidth {
        #[serde(default)]
        rate: i64,
    },
    /// Delays passing on the close of the connection by `delay` ms.
    SlowClose {
        #[serde(default)]
        delay: i64,
    },
    /// Stops all data; closes the connection after `timeout` ms (0 = never).
    Timeout {
        #[serde(default)]
        timeout: i64,
    },
    /// Cuts data into pieces of about `average_size` ± `size_variation`
    /// bytes, `delay` µs apart.
    Slicer {
        #[serde(default)]
        average_size: i64,
        #[serde(default)]
        size_variation: i64,
        #[serde(default)]
        delay: i64,
    },
    /// Closes the connection once `bytes` bytes have passed.
    LimitData {
        #[serde(default)]
        bytes: i64,
    },
    /// Resets the connection (TCP RST) `timeout` ms after data arrives.
    ResetPeer {
        #[serde(default)]
        timeout: i64,
    },
}

impl ToxicKind {
    /// Every type name this proxy knows, as it appears in `"type"`.
    pub const TYPE_NAMES: [&'static str; 7] = [
        "latency",
        "bandwidth",
        "slow_close",
        "timeout",
        "slicer",
        "limit_data",
        "reset_peer",
    ];

    /// The value of `"type"` in the JSON.
    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::SlowClose { .. } => "slow_close",
            ToxicKind::Timeout { .. } => "timeout",
            ToxicKind::Slicer { .. } => "slicer",
            ToxicKind::LimitData { .. } => "limit_data",
            ToxicKind::ResetPeer { .. } => "reset_peer",
        }
    }
}

/// The body of an error answer: `{"error": "...", "status": 404}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub status: u16,
}

/// Toxiproxy (Go) encodes an empty slice as `null` in some answers
/// (`/populate` with no proxies); read that as an empty list.
pub(crate) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn toxic_json_matches_toxiproxy() {
        let toxic = Toxic::new(
            ToxicKind::Latency {
                latency: 200,
                jitter: 10,
            },
            Stream::Upstream,
        );
        let value = serde_json::to_value(&toxic).unwrap();
        assert_eq!(
            value,
            json!({"name": "latency_upstream", "type": "latency", "stream": "upstream",
                   "toxicity": 1.0, "attributes": {"latency": 200, "jitter": 10}})
        );
        let back: Toxic = serde_json::from_value(value).unwrap();
        assert_eq!(back, toxic);
    }

    #[test]
    fn go_encoded_toxic_is_read() {
        // As Toxiproxy writes it: float32 1 as `1`, attributes first.
        let text = r#"{"attributes":{"timeout":0},"name":"r","type":"reset_peer","stream":"downstream","toxicity":1}"#;
        let toxic: Toxic = serde_json::from_str(text).unwrap();
        assert_eq!(toxic.kind, ToxicKind::ResetPeer { timeout: 0 });
        assert_eq!(toxic.stream, Stream::Downstream);
    }

    #[test]
    fn null_toxics_read_as_empty() {
        let proxy: Proxy = serde_json::from_value(
            json!({"name": "p", "listen": "a:1", "upstream": "b:2", "enabled": true, "toxics": null}),
        )
        .unwrap();
        assert!(proxy.toxics.is_empty());
    }
}
