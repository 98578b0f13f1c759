//! The fault proxy as faults, proofs and healing use it: a thin layer on
//! [`gauntlet_faultproxy::ToxiproxyClient`] (async, Toxiproxy 2.x API, also
//! works against the official Toxiproxy) whose errors are messages for the
//! journal, and whose lookups name the proxies that do exist.

use gauntlet_faultproxy::{ToxiproxyClient, ToxiproxyError};

use crate::experiment::ToxicSpec;

/// A proxy as listed: its name, whether it is enabled, its toxics' names.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyState {
    pub name: String,
    pub enabled: bool,
    pub toxics: Vec<String>,
}

impl From<gauntlet_faultproxy::Proxy> for ProxyState {
    fn from(p: gauntlet_faultproxy::Proxy) -> Self {
        ProxyState {
            name: p.name,
            enabled: p.enabled,
            toxics: p.toxics.into_iter().map(|t| t.name).collect(),
        }
    }
}

/// A client of one fault proxy.
#[derive(Debug, Clone)]
pub struct ProxyApi {
    client: ToxiproxyClient,
}

fn text(e: ToxiproxyError) -> String {
    e.to_string()
}

impl ProxyApi {
    pub fn new(base: &str) -> ProxyApi {
        let client = ToxiproxyClient::new(base)
            .unwrap_or_else(|_| ToxiproxyClient::with_http(base, reqwest::Client::new()));
        ProxyApi { client }
    }

    pub fn url(&self) -> &str {
        self.client.base_url()
    }

    pub fn client(&self) -> &ToxiproxyClient {
        &self.client
    }

    /// Every proxy, sorted by name.
    pub async fn proxies(&self) -> Result<Vec<ProxyState>, String> {
        Ok(self
            .client
            .proxies()
            .await
            .map_err(text)?
            .into_values()
            .map(ProxyState::from)
            .collect())
    }

    /// One proxy, or an error naming the proxies there are.
    pub async fn proxy(&self, name: &str) -> Result<ProxyState, String> {
        match self.client.proxy(name).await {
            Ok(p) => Ok(p.into()),
            Err(e) if e.is_not_found() => {
                let known: Vec<String> = self
                    .proxies()
                    .await
                    .map(|l| l.into_iter().map(|p| p.name).collect())
                    .unwrap_or_default();
                Err(format!(
                    "the fault proxy has no proxy `{name}` (proxies: {})",
                    known.join(", ")
                ))
            }
            Err(e) => Err(text(e)),
        }
    }

    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), String> {
        self.client
            .set_enabled(name, enabled)
            .await
            .map(drop)
            .map_err(text)
    }

    pub async fn add_toxic(&self, spec: &ToxicSpec) -> Result<(), String> {
        self.client
            .add_toxic(&spec.proxy, &spec.toxic)
            .await
            .map(drop)
            .map_err(text)
    }

    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), String> {
        self.client.remove_toxic(proxy, name).await.map_err(text)
    }

    /// Names of the toxics on a proxy.
    pub async fn toxics(&self, proxy: &str) -> Result<Vec<String>, String> {
        Ok(self
            .client
            .toxics(proxy)
            .await
            .map_err(text)?
            .into_iter()
            .map(|t| t.name)
            .collect())
    }

    /// Every proxy enabled, every toxic removed.
    pub async fn reset(&self) -> Result<(), String> {
        self.client.reset().await.map_err(text)
    }
}
