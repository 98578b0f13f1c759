//! Chaos experiments against a running stack, and the client-side write
//! ledger that proves nothing was lost.
//!
//! - [`experiment`]: the experiment files (`chaos/experiments/NAME.toml`):
//!   steady-state probes, the method's faults and traffic, rollbacks,
//!   thresholds, checks after the fault, stream accounting
//! - [`probes`]: HTTP, PM2, SQL, Redis, command and journey probes
//! - [`faults`]: each fault injected, and proven to have taken effect
//! - [`runner`]: one experiment end to end, with its verdict
//! - [`journal`]: the timeline and the report (`chaos.json`)
//! - [`heal`]: removes every fault from a stack (interrupt, `gauntlet down`)
//! - [`ledger`]: background writers and the Jepsen-style reconciliation
//! - [`proxy`]: the fault proxy's API (Toxiproxy 2.x), as the faults use it
//! - [`drill`]: the backup and restore drill (`gauntlet drill restore`)
//! - [`workload`]: the `exec`, `publish` and `http` actions
//! - [`accounting`]: every published event delivered or dead-lettered
//! - [`scope`]: the values an experiment's templates render against

pub mod accounting;
pub mod drill;
pub mod experiment;
pub mod faults;
pub mod heal;
pub mod journal;
pub mod ledger;
pub mod probes;
pub mod proxy;
pub mod runner;
pub mod scope;
pub mod workload;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use gauntlet_harness::stack::Stack;
use gauntlet_harness::sut::Sut;

pub use experiment::{load, load_dir, Action, Experiment, ExperimentError, Probe, ProbeKind, Step};
pub use heal::heal;
pub use journal::{
    AfterFaultResult, EventKind, ExperimentReport, ProbeResult, Recovery, ThresholdResult,
    TimelineEvent, Verdict,
};
pub use runner::{check_experiments, run_experiment};

/// The names chaos looks up in the project file (`gauntlet.toml`), each
/// needed only by what uses it.
pub mod names {
    /// Endpoint of the fault proxy's API (proxy faults, healing, the
    /// drill's fence).
    pub const TOXIPROXY: &str = "toxiproxy";
    /// Endpoint of the system's API (background writers, reconciliation,
    /// the drill).
    pub const API: &str = "api";
    /// Endpoint of the notification sink (reconciliation reads its
    /// deliveries).
    pub const SINK: &str = "sink";
    /// Secret sent as `X-Admin-Token` (admin probes, writer set-up, the DLQ).
    pub const ADMIN_TOKEN: &str = "admin_token";
    /// Secret keying the storefront webhooks' HMAC.
    pub const WEBHOOK_SECRET: &str = "webhook_secret";
}

/// Errors outside an experiment's verdict.
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error("healing left faults in place: {}", failures.join("; "))]
    Heal {
        /// What was done before and after the failures.
        done: Vec<String>,
        failures: Vec<String>,
    },
}

/// A bad experiment file or folder is a usage error (exit 2).
impl From<ExperimentError> for gauntlet_harness::Error {
    fn from(e: ExperimentError) -> Self {
        gauntlet_harness::Error::Usage(e.to_string())
    }
}

/// The system under test as chaos acts on it: a [`Sut`] with a stack
/// (containers, PM2, SQL), which [`ChaosContext::new`] makes sure of.
///
/// URLs in the [`Sut`] are the ones seen when it was built; probes and
/// faults ask the stack again ([`ChaosContext::endpoint`]), because a
/// restarted container gets new host ports.
#[derive(Clone, Debug)]
pub struct ChaosContext {
    sut: Sut,
    /// How many times each experiment ran on this context (each run's
    /// `{{unique}}` differs).
    occurrences: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl ChaosContext {
    /// Fails with a usage error when the system under test has no stack
    /// (a `--target` deployment: nothing to inject faults into).
    pub fn new(sut: Sut) -> gauntlet_harness::Result<ChaosContext> {
        sut.stack()?;
        Ok(ChaosContext {
            sut,
            occurrences: Arc::default(),
        })
    }

    /// 0 for the first run of `experiment` on this context, then 1, 2, ...
    pub fn next_occurrence(&self, experiment: &str) -> u64 {
        let mut map = self.occurrences.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(experiment.to_string()).or_insert(0);
        let this = *n;
        *n += 1;
        this
    }

    pub fn sut(&self) -> &Sut {
        &self.sut
    }

    pub fn stack(&self) -> &Stack {
        self.sut
            .stack_opt()
            .expect("ChaosContext::new made sure there is a stack")
    }

    pub fn seed(&self) -> u64 {
        self.sut.seed
    }

    /// The named endpoint's URL now (asked from Docker, so right after a
    /// restart too).
    pub async fn endpoint(&self, name: &str) -> Result<String, String> {
        self.sut.endpoint_now(name).await.map_err(|e| e.to_string())
    }

    /// The service PM2 runs in (`[pm2]` of the project file), if any.
    pub fn pm2_service(&self) -> Option<&str> {
        self.sut.config.pm2.as_ref().map(|p| p.service.as_str())
    }

    /// The fault proxy's API, at its current URL.
    pub async fn proxy(&self) -> proxy::ProxyApi {
        let url = match self.sut.endpoint_now(names::TOXIPROXY).await {
            Ok(url) => url,
            Err(_) => self
                .sut
                .endpoint(names::TOXIPROXY)
                .unwrap_or_default()
                .to_string(),
        };
        proxy::ProxyApi::new(&url)
    }

    /// The system under test with every endpoint's URL as Docker reports it
    /// now, for journeys (which read URLs from the [`Sut`] they are given).
    /// The primary endpoint must have one; any other whose service is down
    /// is left out (a journey that needs it says so).
    pub async fn sut_now(&self) -> Result<Sut, String> {
        self.sut.refreshed().await.map_err(|e| e.to_string())
    }
}
