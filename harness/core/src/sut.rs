//! The system under test: one value, built once per command (from a run
//! gauntlet started, an existing run, or `--target` URLs plus the project
//! file) and handed to every suite. It carries the endpoints' URLs, the
//! secrets, the seed and defects, and the stack when there is one.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::config::{Config, SecretSpec};
use crate::error::{Error, Result};
use crate::stack::Stack;
use crate::target::Target;

/// A secret value. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The value, for the one place that sends it (a header, a signature).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Named secrets of a system under test.
#[derive(Clone, Default, Debug)]
pub struct Secrets(BTreeMap<String, Secret>);

impl Secrets {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(Secret::expose)
    }
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), Secret::new(value));
    }
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
    /// Every value, to scrub from text that leaves the process.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.values().map(Secret::expose)
    }
}

/// The system under test, as every suite sees it.
#[derive(Clone)]
pub struct Sut {
    pub config: Arc<Config>,
    /// The run's id (a fresh one for `--target`, for report folders).
    pub run_id: String,
    pub seed: u64,
    pub defects: Vec<String>,
    /// Load traffic and probes go only to loopback unless this is set.
    pub allow_remote: bool,
    endpoints: BTreeMap<String, String>,
    secrets: Secrets,
    stack: Option<Stack>,
}

impl fmt::Debug for Sut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sut")
            .field("system", &self.config.system.name)
            .field("run_id", &self.run_id)
            .field("seed", &self.seed)
            .field("endpoints", &self.endpoints)
            .field("secrets", &self.secrets.names().collect::<Vec<_>>())
            .field(
                "stack",
                &self.stack.as_ref().map(|s| s.run_id().to_string()),
            )
            .finish()
    }
}

impl Sut {
    /// A run gauntlet started or attached to: every endpoint's URL asked
    /// from Docker, secrets read from the services' environment (what the
    /// containers really got), the identity verified.
    pub async fn from_stack(
        config: Arc<Config>,
        stack: Stack,
        seed: u64,
        defects: Vec<String>,
    ) -> Result<Sut> {
        let mut endpoints = BTreeMap::new();
        for name in config.endpoints.keys() {
            endpoints.insert(name.clone(), stack.endpoint_url(name).await?);
        }
        let mut secrets = Secrets::default();
        for (name, spec) in &config.secrets {
            if let (Some(service), Some(env)) = (&spec.service, &spec.env) {
                if let Some(value) = stack.env_var(service, env).await? {
                    secrets.insert(name.clone(), value);
                }
            }
        }
        let sut = Sut {
            run_id: stack.run_id().to_string(),
            config,
            seed,
            defects,
            allow_remote: false,
            endpoints,
            secrets,
            stack: Some(stack),
        };
        sut.verify_identity().await?;
        Ok(sut)
    }

    /// A deployment gauntlet did not start: URLs given by the user
    /// (`--target` is the identity endpoint, or `api`), secrets from the
    /// user's environment (each secret's `variable`). Non-loopback URLs are
    /// refused unless `allow_remote`. Identity is verified.
    pub async fn from_targets(
        config: Arc<Config>,
        urls: BTreeMap<String, String>,
        allow_remote: bool,
        seed: u64,
        run_id: String,
    ) -> Result<Sut> {
        for url in urls.values() {
            Target::new(url, allow_remote)?;
        }
        let secrets = secrets_from_env(&config.secrets);
        let sut = Sut {
            config,
            run_id,
            seed,
            defects: Vec::new(),
            allow_remote,
            endpoints: urls
                .into_iter()
                .map(|(k, v)| (k, v.trim_end_matches('/').to_string()))
                .collect(),
            secrets,
            stack: None,
        };
        sut.verify_identity().await?;
        Ok(sut)
    }

    /// For tests and embedding: a value put together by hand, unverified.
    pub fn assemble(
        config: Arc<Config>,
        endpoints: BTreeMap<String, String>,
        secrets: Secrets,
        seed: u64,
    ) -> Sut {
        Sut {
            config,
            run_id: crate::stack::new_run_id(),
            seed,
            defects: Vec::new(),
            allow_remote: false,
            endpoints,
            secrets,
            stack: None,
        }
    }

    /// The name `--target` stands for: [`Config::default_endpoint`], else
    /// `api`.
    pub fn primary_endpoint(config: &Config) -> String {
        config.default_endpoint().unwrap_or_else(|| "api".into())
    }

    /// When the project declares an identity, proves the endpoint is that
    /// app; returns the identity document (`None` when none is declared).
    pub async fn verify_identity(&self) -> Result<Option<serde_json::Value>> {
        let Some(identity) = &self.config.identity else {
            return Ok(None);
        };
        let target = self.target(&identity.endpoint)?;
        target.verify_identity(identity).await.map(Some)
    }

    /// The base URL of a named endpoint, as known when this value was built.
    pub fn endpoint(&self, name: &str) -> Result<&str> {
        self.endpoints.get(name).map(String::as_str).ok_or_else(|| {
            Error::Usage(format!(
                "the system under test has no endpoint `{name}` (known: {}); declare it in [endpoints]{}",
                if self.endpoints.is_empty() {
                    "none".to_string()
                } else {
                    self.endpoints.keys().cloned().collect::<Vec<_>>().join(", ")
                },
                if self.stack.is_none() {
                    format!(" or pass --{name} URL")
                } else {
                    String::new()
                }
            ))
        })
    }

    pub fn has_endpoint(&self, name: &str) -> bool {
        self.endpoints.contains_key(name)
    }

    pub fn endpoints(&self) -> &BTreeMap<String, String> {
        &self.endpoints
    }

    /// The URL of an endpoint now: asked from Docker again when there is a
    /// stack (a restarted container may have a new host port).
    pub async fn endpoint_now(&self, name: &str) -> Result<String> {
        match &self.stack {
            Some(stack) => stack.endpoint_url(name).await,
            None => self.endpoint(name).map(String::from),
        }
    }

    /// The same system under test with every endpoint's URL asked from
    /// Docker again (after a container restart its host ports change).
    /// Without a stack, the same value. An endpoint that has no published
    /// port right now is left out, except the primary one: that is an error.
    pub async fn refreshed(&self) -> Result<Sut> {
        let Some(stack) = &self.stack else {
            return Ok(self.clone());
        };
        let primary = Sut::primary_endpoint(&self.config);
        let mut endpoints = BTreeMap::new();
        for name in self.endpoints.keys() {
            match stack.endpoint_url(name).await {
                Ok(url) => {
                    endpoints.insert(name.clone(), url);
                }
                Err(e) if *name == primary => return Err(e),
                Err(_) => {}
            }
        }
        Ok(Sut {
            endpoints,
            ..self.clone()
        })
    }

    /// An HTTP client on a named endpoint (loopback guard applied).
    pub fn target(&self, name: &str) -> Result<Target> {
        Target::new(self.endpoint(name)?, self.allow_remote)
    }

    pub fn secret(&self, name: &str) -> Option<&str> {
        self.secrets.get(name)
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// The stack, for suites that need containers (chaos, invariants).
    pub fn stack(&self) -> Result<&Stack> {
        self.stack.as_ref().ok_or_else(|| {
            Error::Usage(
                "this needs a stack gauntlet started (containers, SQL, PM2); --target has none"
                    .into(),
            )
        })
    }

    pub fn stack_opt(&self) -> Option<&Stack> {
        self.stack.as_ref()
    }
}

/// Secrets for a deployment gauntlet did not start: each from the user's
/// environment variable its spec names.
pub fn secrets_from_env(specs: &BTreeMap<String, SecretSpec>) -> Secrets {
    let mut secrets = Secrets::default();
    for (name, spec) in specs {
        if let Ok(value) = std::env::var(&spec.variable) {
            if !value.is_empty() {
                secrets.insert(name.clone(), value);
            }
        }
    }
    secrets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_or_display() {
        let mut s = Secrets::default();
        s.insert("admin_token", "hunter2-very-secret");
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert_eq!(Secret::new("x").to_string(), "***");
        assert_eq!(s.get("admin_token"), Some("hunter2-very-secret"));
    }
}
