//! Configuration, read only from environment variables.
//!
//! Precedence: a variable that is set and non-empty wins; an unset or empty
//! variable takes the default listed below (or is "absent" when it has none).
//! Every variable is documented in `system/README.md`. Values are validated
//! at start-up so a typo fails the process at once with the variable's name.
//!
//! The environment is read through [`Env`] so tests can pass a map instead of
//! mutating the process environment.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use gauntlet_fixtures::FixtureSize;

use crate::defects::{Defects, UnknownDefect};

pub const DEFAULT_API_ADDR: &str = "0.0.0.0:8080";
pub const DEFAULT_WEB_ADDR: &str = "0.0.0.0:8081";
pub const DEFAULT_SINK_ADDR: &str = "0.0.0.0:8082";
pub const DEFAULT_FIXTURE_SEED: u64 = 42;
pub const DEFAULT_SINK_DATA_DIR: &str = "/var/lib/gauntlet/sink";

/// Where configuration values come from.
pub trait Env {
    /// The value of `key`, or `None` when it is unset.
    fn var(&self, key: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Env for HashMap<&str, &str> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).map(|v| (*v).to_owned())
    }
}

/// A value that must never reach a log line: `Debug` and `Display` hide it.
/// URLs show with their password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for the one place that needs it (a driver, a compare).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Safe to log: a URL with its password replaced, or `***`.
    pub fn redacted(&self) -> String {
        if self.0.contains("://") {
            redact_url(&self.0)
        } else {
            "***".to_owned()
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password in `scheme://user:password@host/...` and any
/// `password=` query parameter with `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.find(':') {
                Some(colon) => format!("{}:***{host}", &userinfo[..colon]),
                None => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

/// A configuration problem, naming the variable and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is not set; the `{process}` process needs it (for example {example})")]
    Missing {
        var: &'static str,
        process: &'static str,
        example: &'static str,
    },
    #[error("{var}={value:?} is not valid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error(transparent)]
    Defects(#[from] UnknownDefect),
}

/// Everything the processes read from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Option<Secret>,
    pub database_owner_url: Option<Secret>,
    pub redis_url: Option<Secret>,
    pub api_addr: SocketAddr,
    pub web_addr: SocketAddr,
    pub sink_addr: SocketAddr,
    pub defects: Defects,
    pub admin_token: Option<Secret>,
    pub fixture_seed: u64,
    pub fixture_size: FixtureSize,
    pub git_sha: String,
    pub sink_data_dir: PathBuf,
    /// Event pipeline, webhooks and sync queue (`src/pipeline_config.rs`).
    pub pipeline: crate::pipeline_config::PipelineConfig,
    /// Argon2id cost (`PASSWORD_HASH_MEMORY_KIB`, `PASSWORD_HASH_ITERATIONS`).
    pub password_cost: crate::passwords::HashCost,
    /// `RATE_LIMIT_*`.
    pub rate_limits: crate::ratelimit::RateLimits,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: crate::client_ip::TrustedProxies,
}

impl Config {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let get = |key: &str| env.var(key).filter(|v| !v.trim().is_empty());
        let addr = |var: &'static str, default: &str| -> Result<SocketAddr, ConfigError> {
            let value = get(var).unwrap_or_else(|| default.to_owned());
            value.trim().parse().map_err(|e| ConfigError::Invalid {
                var,
                value,
                reason: format!("{e}; expected host:port such as {default}"),
            })
        };
        let fixture_seed = match get("FIXTURE_SEED") {
            None => DEFAULT_FIXTURE_SEED,
            Some(value) => value.trim().parse().map_err(|e| ConfigError::Invalid {
                var: "FIXTURE_SEED",
                value,
                reason: format!("{e}; expected an unsigned 64-bit integer"),
            })?,
        };
        let fixture_size = match get("FIXTURE_SIZE") {
            None => FixtureSize::Small,
            Some(value) => value.parse().map_err(|e| ConfigError::Invalid {
                var: "FIXTURE_SIZE",
                reason: format!("{e}"),
                value,
            })?,
        };
        Ok(Config {
            database_url: get("DATABASE_URL").map(Secret::new),
            database_owner_url: get("DATABASE_OWNER_URL").map(Secret::new),
            redis_url: get("REDIS_URL").map(Secret::new),
            api_addr: addr("API_ADDR", DEFAULT_API_ADDR)?,
            web_addr: addr("WEB_ADDR", DEFAULT_WEB_ADDR)?,
            sink_addr: addr("SINK_ADDR", DEFAULT_SINK_ADDR)?,
            defects: Defects::parse(&get("SYSTEM_DEFECTS").unwrap_or_default())?,
            admin_token: get("ADMIN_TOKEN").map(Secret::new),
            fixture_seed,
            fixture_size,
            git_sha: get("GIT_SHA").unwrap_or_else(|| "unknown".to_owned()),
            sink_data_dir: get("SINK_DATA_DIR")
                .unwrap_or_else(|| DEFAULT_SINK_DATA_DIR.to_owned())
                .into(),
            pipeline: crate::pipeline_config::PipelineConfig::from_env(env)?,
            password_cost: crate::passwords::HashCost::from_env(env)?,
            rate_limits: crate::ratelimit::RateLimits::from_env(env)?,
            trusted_proxies: crate::client_ip::TrustedProxies::parse(
                &get("TRUSTED_PROXIES").unwrap_or_default(),
            )?,
        })
    }

    /// `DATABASE_URL` (the app role), required by `process`.
    pub fn database_url(&self, process: &'static str) -> Result<&Secret, ConfigError> {
        self.database_url.as_ref().ok_or(ConfigError::Missing {
            var: "DATABASE_URL",
            process,
            example: "postgres://gauntlet_app:PASSWORD@postgres:5432/gauntlet",
        })
    }

    /// `DATABASE_OWNER_URL` (the owner role), required by `process`.
    pub fn database_owner_url(&self, process: &'static str) -> Result<&Secret, ConfigError> {
        self.database_owner_url
            .as_ref()
            .ok_or(ConfigError::Missing {
                var: "DATABASE_OWNER_URL",
                process,
                example: "postgres://gauntlet_owner:PASSWORD@postgres:5432/gauntlet",
            })
    }

    /// `REDIS_URL`, required by `process`.
    pub fn redis_url(&self, process: &'static str) -> Result<&Secret, ConfigError> {
        self.redis_url.as_ref().ok_or(ConfigError::Missing {
            var: "REDIS_URL",
            process,
            example: "redis://redis:6379",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        Config::from_env(&vars.iter().copied().collect::<HashMap<_, _>>())
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        let cfg = config(&[("API_ADDR", ""), ("SYSTEM_DEFECTS", "")]).unwrap();
        assert_eq!(cfg.api_addr.to_string(), DEFAULT_API_ADDR);
        assert_eq!(cfg.web_addr.to_string(), DEFAULT_WEB_ADDR);
        assert_eq!(cfg.sink_addr.to_string(), DEFAULT_SINK_ADDR);
        assert_eq!(cfg.fixture_seed, 42);
        assert_eq!(cfg.fixture_size, FixtureSize::Small);
        assert_eq!(cfg.git_sha, "unknown");
        assert!(cfg.defects.is_empty());
        assert!(cfg.admin_token.is_none());
        assert!(cfg.database_url("api").is_err());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[("FIXTURE_SEED", "-1")]).unwrap_err().to_string();
        assert!(err.starts_with("FIXTURE_SEED=\"-1\" is not valid"), "{err}");
        let err = config(&[("FIXTURE_SIZE", "huge")]).unwrap_err().to_string();
        assert!(
            err.contains("FIXTURE_SIZE") && err.contains("small, medium, large"),
            "{err}"
        );
        let err = config(&[("WEB_ADDR", "8081")]).unwrap_err().to_string();
        assert!(err.contains("WEB_ADDR"), "{err}");
        let err = config(&[("SYSTEM_DEFECTS", "nope")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"nope\"") && err.contains("health_ignores_db"),
            "{err}"
        );
    }

    #[test]
    fn missing_required_url_says_which_process_needs_it() {
        let cfg = config(&[]).unwrap();
        let err = cfg.redis_url("worker").unwrap_err().to_string();
        assert_eq!(
            err,
            "REDIS_URL is not set; the `worker` process needs it (for example redis://redis:6379)"
        );
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://gauntlet_app:s3cr%40t@db:5432/gauntlet"),
            "postgres://gauntlet_app:***@db:5432/gauntlet"
        );
        assert_eq!(
            redact_url("redis://:pw@redis:6379/0"),
            "redis://:***@redis:6379/0"
        );
        assert_eq!(
            redact_url("postgres://u@db/x?sslmode=disable&password=hunter2"),
            "postgres://u@db/x?sslmode=disable&password=***"
        );
        assert_eq!(redact_url("redis://redis:6379"), "redis://redis:6379");
        let secret = Secret::new("postgres://a:b@c/d");
        assert_eq!(format!("{secret:?}"), "Secret(postgres://a:***@c/d)");
        assert_eq!(Secret::new("token").to_string(), "***");
    }
}
