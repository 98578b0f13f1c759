//! Chaos experiments against a running stack, and the client-side write
//! ledger that proves nothing was lost.
//!
//! - [`experiment`]: the experiment files (`chaos/experiments/NAME.toml`):
//!   steady-state probes, the method's faults, rollbacks, thresholds
//! - [`probes`]: HTTP, PM2, SQL, Redis and journey probes
//! - [`faults`]: each fault injected, and proven to have taken effect
//! - [`runner`]: one experiment end to end, with its verdict
//! - [`journal`]: the timeline and the report (`chaos.json`)
//! - [`heal`]: removes every fault from a stack (interrupt, `gauntlet down`)
//! - [`ledger`]: background writers and the Jepsen-style reconciliation
//! - [`proxy`]: the fault proxy's API (Toxiproxy 2.x), as the faults use it
//! - [`drill`]: the backup and restore drill (`gauntlet drill restore`)

pub mod drill;
pub mod experiment;
pub mod faults;
pub mod heal;
pub mod journal;
pub mod ledger;
pub mod probes;
pub mod proxy;
pub mod runner;

use std::fmt;

use gauntlet_harness::stack::Stack;

pub use experiment::{load, load_dir, Action, Experiment, ExperimentError, Probe, ProbeKind, Step};
pub use heal::heal;
pub use journal::{
    EventKind, ExperimentReport, ProbeResult, Recovery, ThresholdResult, TimelineEvent, Verdict,
};
pub use runner::run_experiment;

/// Errors outside an experiment's verdict: the stack or the fault proxy
/// cannot be reached at all.
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error("{what}: {source}")]
    Stack {
        what: String,
        #[source]
        source: gauntlet_harness::Error,
    },
    #[error("fault proxy at {url}: {message}")]
    Proxy { url: String, message: String },
    #[error("healing left faults in place: {}", failures.join("; "))]
    Heal {
        /// What was done before and after the failures.
        done: Vec<String>,
        failures: Vec<String>,
    },
}

/// What an experiment needs to know about the stack it runs on.
///
/// URLs here are the ones seen when the context was built; probes ask the
/// stack again on every call, because a restarted container gets new host
/// ports.
#[derive(Clone)]
pub struct ChaosContext {
    pub stack: Stack,
    pub api_url: String,
    /// `X-Admin-Token` of the run (never logged).
    pub admin_token: Option<String>,
    /// The storefront webhook secret of the run (never logged).
    pub shopify_secret: Option<String>,
    pub sink_url: String,
    pub toxiproxy_url: String,
    pub seed: u64,
}

impl fmt::Debug for ChaosContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosContext")
            .field("run", &self.stack.run_id())
            .field("api_url", &self.api_url)
            .field("sink_url", &self.sink_url)
            .field("toxiproxy_url", &self.toxiproxy_url)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl ChaosContext {
    /// URLs and secrets asked from the running stack: the `api`, `sink` and
    /// `toxiproxy` endpoints, and `ADMIN_TOKEN` / `SHOPIFY_WEBHOOK_SECRET`
    /// from the PM2 service's environment.
    pub async fn from_stack(stack: Stack, seed: u64) -> Result<ChaosContext, ChaosError> {
        let fail = |what: &str| {
            let what = what.to_string();
            move |source| ChaosError::Stack { what, source }
        };
        let app = stack
            .compose()
            .pm2_service()
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "app".into());
        let secret = |name: &'static str| {
            let (stack, app) = (stack.clone(), app.clone());
            async move {
                stack
                    .env_var(&app, name)
                    .await
                    .map(|v| v.filter(|v| !v.is_empty()))
            }
        };
        Ok(ChaosContext {
            api_url: stack.endpoint_url("api").await.map_err(fail("api URL"))?,
            sink_url: stack.endpoint_url("sink").await.map_err(fail("sink URL"))?,
            // A stack without the fault proxy can still run container and
            // PM2 experiments; proxy faults are refused by the stack check.
            toxiproxy_url: match stack.compose().endpoint("toxiproxy") {
                Some(_) => stack
                    .endpoint_url("toxiproxy")
                    .await
                    .map_err(fail("fault proxy URL (endpoint `toxiproxy`)"))?,
                None => String::new(),
            },
            admin_token: secret("ADMIN_TOKEN")
                .await
                .map_err(fail("ADMIN_TOKEN of the app"))?,
            shopify_secret: secret("SHOPIFY_WEBHOOK_SECRET")
                .await
                .map_err(fail("SHOPIFY_WEBHOOK_SECRET of the app"))?,
            stack,
            seed,
        })
    }

    /// The named endpoint's URL now (asked from Docker, so right after a
    /// restart too).
    pub async fn endpoint(&self, name: &str) -> Result<String, String> {
        self.stack
            .endpoint_url(name)
            .await
            .map_err(|e| e.to_string())
    }

    /// The service PM2 runs in (the compose file's `dev.gauntlet.pm2`).
    pub fn pm2_service(&self) -> Option<String> {
        self.stack.compose().pm2_service().map(|s| s.name.clone())
    }

    /// The fault proxy's API, at its current URL.
    pub async fn proxy(&self) -> proxy::ProxyApi {
        let url = self
            .endpoint("toxiproxy")
            .await
            .unwrap_or_else(|_| self.toxiproxy_url.clone());
        proxy::ProxyApi::new(&url)
    }
}
