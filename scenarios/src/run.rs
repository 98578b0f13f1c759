//! Runs one load profile against a target with goose, from goose's library
//! API (no process-argument parsing), and writes the reports.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::metrics::GooseMetrics;
use goose::prelude::*;

use gauntlet_harness::sut::Sut;

use crate::profile::{MixEntry, Mode, Profile};
use crate::report::{GooseSummary, LoadReport, PhaseClock, PhaseWindow, Recorder, SETUP_PHASE};
use crate::schedule::OpenSchedule;
use crate::shard::data::Capture;
use crate::shard::{ShardData, ShardSpec, SHARD_FILE};
use crate::slo::{evaluate, SloSet};
use crate::transactions::{self, RunContext};

/// What to run: a profile, and optionally the SLOs that may stop it early
/// (`abort_on_breach`).
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub profile: Profile,
    /// Used during the run only when `abort_on_breach` is set; the verdicts
    /// themselves come from [`crate::slo::evaluate`] on the report.
    pub slo: Option<SloSet>,
    /// Seeds the users' choices (products, pages, SKUs): the run's seed,
    /// or a shard's own ([`ShardSpec::seed`]).
    pub seed: u64,
    /// Keep goose's own per-request metrics and write its reports
    /// (`goose-report.{html,json,md}`). They cost a copy of every
    /// request's details sent to goose's aggregator, which capped the
    /// generator's rate; `load.json` has gauntlet's own histograms either way.
    pub goose_reports: bool,
    /// Called every few seconds while the attack runs.
    pub progress: Option<ProgressSink>,
    /// The seed of the whole run (the same for every shard).
    pub run_seed: u64,
    /// Which part of a sharded run this is ([`ShardSpec::WHOLE`]: all of it).
    pub shard: ShardSpec,
}

/// Where an attack stands, every [`PROGRESS_EVERY`] while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub elapsed: Duration,
    /// The planned length (the attack may run a little longer while the
    /// last requests finish).
    pub planned: Duration,
    pub phase: String,
    pub requests: u64,
    pub errors: u64,
    /// Requests per second since the previous report.
    pub rps: f64,
    /// Over every request so far (all transactions together).
    pub p95_ms: f64,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "load: {:>4}s/{}s {:<10} {:>9} requests {:>8.0} req/s  errors {:.2} %  p95 {:.0} ms",
            self.elapsed.as_secs(),
            self.planned.as_secs(),
            self.phase,
            self.requests,
            self.rps,
            if self.requests == 0 {
                0.0
            } else {
                self.errors as f64 * 100.0 / self.requests as f64
            },
            self.p95_ms
        )
    }
}

/// How often [`Progress`] is reported.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Receives the [`Progress`] reports (the CLI prints them).
#[derive(Clone)]
pub struct ProgressSink(pub Arc<dyn Fn(&Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

impl LoadPlan {
    pub fn new(profile: Profile) -> LoadPlan {
        LoadPlan {
            profile,
            slo: None,
            seed: 42,
            goose_reports: false,
            progress: None,
            run_seed: 42,
            shard: ShardSpec::WHOLE,
        }
    }

    pub fn with_slo(mut self, slo: SloSet) -> LoadPlan {
        self.slo = Some(slo);
        self
    }

    /// The run's seed (a shard's users draw from [`ShardSpec::seed`] of it).
    pub fn with_seed(mut self, seed: u64) -> LoadPlan {
        self.run_seed = seed;
        self.seed = self.shard.seed(seed);
        self
    }

    /// Shard `spec` of the run: its part of the profile's users and rates
    /// ([`Profile::for_shard`]) and its own seed. Once per plan.
    pub fn sharded(mut self, spec: ShardSpec) -> LoadPlan {
        debug_assert!(self.shard.is_whole(), "a plan is split once");
        self.profile = self.profile.for_shard(&spec);
        self.shard = spec;
        self.seed = spec.seed(self.run_seed);
        self
    }

    pub fn with_progress(mut self, sink: impl Fn(&Progress) + Send + Sync + 'static) -> LoadPlan {
        self.progress = Some(ProgressSink(Arc::new(sink)));
        self
    }

    pub fn with_goose_reports(mut self, on: bool) -> LoadPlan {
        self.goose_reports = on;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("refusing to send load to {url}: not a loopback address (pass --allow-remote to load a remote target)")]
    RemoteTarget { url: String },
    #[error("target `{url}`: {reason}")]
    BadTarget { url: String, reason: String },
    #[error("the mix has `webhook` or `webhook_replay` but the system under test has no secret `webhook_secret`")]
    MissingWebhookSecret,
    /// A profile's own transaction cannot be sent to this system (its
    /// endpoint or a secret it uses is missing).
    #[error("transaction `{name}` ({place}): {reason}")]
    Template {
        name: String,
        place: String,
        reason: String,
    },
    #[error("target identity: {0}")]
    Identity(String),
    #[error("goose: {0}")]
    Goose(String),
    #[error("the attack did not stop within {0:?} after its time bound")]
    Timeout(Duration),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Exit codes follow the kind of error: the target or the plan is wrong
/// (2), the environment failed (3), the run itself failed (1).
impl From<LoadError> for gauntlet_harness::Error {
    fn from(e: LoadError) -> Self {
        use gauntlet_harness::Error;
        match e {
            LoadError::RemoteTarget { url } => Error::RemoteTarget { url },
            LoadError::BadTarget { .. }
            | LoadError::MissingWebhookSecret
            | LoadError::Template { .. }
            | LoadError::Identity(_) => Error::Usage(e.to_string()),
            LoadError::Io { path, source } => Error::Io {
                context: path.display().to_string(),
                source,
            },
            LoadError::Goose(_) | LoadError::Timeout(_) => {
                Error::CheckFailed(format!("load run failed: {e}"))
            }
        }
    }
}

/// Whether `url` names a loopback host (127.0.0.0/8, ::1, localhost).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub(crate) fn check_url(base: &str, allow_remote: bool) -> Result<url::Url, LoadError> {
    let url = url::Url::parse(base).map_err(|e| LoadError::BadTarget {
        url: base.to_string(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(LoadError::BadTarget {
            url: base.to_string(),
            reason: "only http and https are supported".into(),
        });
    }
    if !allow_remote && !is_loopback(&url) {
        return Err(LoadError::RemoteTarget {
            url: base.to_string(),
        });
    }
    Ok(url)
}

/// One attack at a time in this process: goose's kill switch is global.
static ATTACK_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How latency was measured, as `load.json` says it.
pub const LATENCY_MODE_OPEN: &str = "open-model, measured from intended send time";
pub const LATENCY_MODE_CLOSED: &str = "closed-model, measured from actual send time \
     (coordinated omission not corrected in load.json); goose co-mitigation=average in goose's own reports";

/// Greatest common divisor of the mix weights, so goose's per-iteration
/// list of transactions stays short.
fn reduce_weights(weights: &[u32]) -> Vec<u32> {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let g = weights.iter().copied().fold(0, gcd).max(1);
    weights.iter().map(|w| w / g).collect()
}

/// Goose's test plan (`"users,secs;..."`) for a profile; open mode gets
/// `lead` seconds to start its pool first.
pub(crate) fn goose_test_plan(profile: &Profile, lead: Duration) -> String {
    let steps: Vec<String> = match profile.mode {
        Mode::Open => vec![
            format!("{},{}", profile.users, lead.as_secs()),
            format!("{},{}", profile.users, profile.total_duration().as_secs()),
        ],
        Mode::Closed if profile.phases.len() == 1 && profile.phases[0].name == "steady" => {
            // `users` + `duration`: everyone at once, then hold.
            let p = &profile.phases[0];
            vec![
                format!("{},0", p.users),
                format!("{},{}", p.users, p.duration.as_secs()),
            ]
        }
        Mode::Closed => profile
            .phases
            .iter()
            .map(|p| format!("{},{}", p.users, p.duration.as_secs()))
            .collect(),
    };
    let mut plan = steps.join(";");
    // Goose ends a plan only at a step of 0 users (its own `--run-time`
    // adds `0,0` the same way): stop everyone at once at the end.
    if !plan.ends_with(";0,0") && profile_ends_with_users(profile) {
        plan.push_str(";0,0");
    }
    plan
}

fn profile_ends_with_users(profile: &Profile) -> bool {
    profile.mode == Mode::Open || profile.phases.last().is_some_and(|p| p.users > 0)
}

/// Open mode: seconds to start the user pool before the schedule begins.
pub(crate) fn open_lead(users: u32) -> Duration {
    Duration::from_secs(u64::from(users).div_ceil(100).clamp(1, 30))
}

pub(crate) struct Attack {
    pub ctx: Arc<RunContext>,
    pub host: String,
    pub scenario: Scenario,
    pub test_plan: String,
    pub request_timeout: Duration,
    pub co_mitigation: GooseCoordinatedOmissionMitigation,
    /// Goose report files to write.
    pub reports: Vec<PathBuf>,
    /// The planned length of the attack; it is stopped at this + grace.
    pub planned: Duration,
    pub abort: Option<SloSet>,
    pub phase_seconds: Vec<f64>,
    pub progress: Option<ProgressSink>,
}

impl Attack {
    /// Whether goose keeps its own per-request metrics (the transactions
    /// then send through `user.request`).
    fn goose_metrics(&self) -> bool {
        self.ctx.goose_metrics
    }
}

pub(crate) struct AttackOutcome {
    pub metrics: GooseMetrics,
    pub started: Instant,
    pub ended: Instant,
    pub aborted: Option<String>,
}

/// Runs one goose attack (holding the process-wide attack lock).
pub(crate) async fn execute(a: Attack) -> Result<AttackOutcome, LoadError> {
    let _guard = ATTACK_LOCK.lock().await;
    goose::reset_killswitch();
    transactions::install(a.ctx.clone());
    let result = execute_locked(a).await;
    transactions::uninstall();
    goose::reset_killswitch();
    result
}

async fn execute_locked(a: Attack) -> Result<AttackOutcome, LoadError> {
    let goose_err = |e: GooseError| LoadError::Goose(goose_error_text(&e));
    let mut cfg = GooseConfiguration::default();
    cfg.host = Some(a.host.clone());
    cfg.quiet = 1;
    cfg.no_print_metrics = true;
    cfg.no_telnet = true;
    cfg.websocket = false;
    cfg.timeout = Some(format!("{}", a.request_timeout.as_secs_f64()));
    if a.goose_metrics() {
        cfg.co_mitigation = Some(a.co_mitigation.clone());
    } else {
        // Goose's aggregator gets nothing per request or transaction; the
        // transactions record into gauntlet's own histograms.
        cfg.no_metrics = true;
        cfg.no_transaction_metrics = true;
        cfg.no_scenario_metrics = true;
        cfg.co_mitigation = Some(GooseCoordinatedOmissionMitigation::Disabled);
    }
    cfg.report_file = a
        .reports
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let attack = GooseAttack::initialize_with_config(cfg)
        .map_err(goose_err)?
        // One reqwest client (and pool) for every user, built once: goose's
        // default builds one per user up front (a TLS configuration each:
        // 10,000 users took 1.2 GB and a core for a minute before the first
        // request). The users' own connections are in crate::http; reqwest
        // serves HTTPS, the templates and the bursts. (goose's cookie
        // feature is off, so no user had a cookie jar to lose.)
        .set_client_builder_without_cookies(GooseClientBuilder::new().without_cookies())
        .map_err(goose_err)?
        .register_scenario(a.scenario)
        .test_start(transaction!(mark_start_txn))
        .set_default(GooseDefault::TestPlan, a.test_plan.as_str())
        .map_err(goose_err)?;

    let aborted: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let monitor = a.abort.filter(|s| s.abort_on_breach).map(|slo| {
        let ctx = a.ctx.clone();
        let aborted = aborted.clone();
        let phase_seconds = a.phase_seconds.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(started) = *ctx.started.lock().unwrap_or_else(|p| p.into_inner()) else {
                    continue;
                };
                let secs = started.elapsed().as_secs_f64();
                let (all, txns, _) = ctx.recorder.snapshot(&phase_seconds, secs, None);
                let partial = LoadReport {
                    all,
                    transactions: txns,
                    ..LoadReport::default()
                };
                let breach = evaluate(&partial, &slo)
                    .into_iter()
                    .find(|v| v.phase.is_none() && v.samples >= 50 && !v.passed);
                if let Some(v) = breach {
                    let reason = format!(
                        "SLO breach: {} observed {:.2} {} (limit < {} {}) after {} requests",
                        v.slo, v.observed, v.unit, v.threshold, v.unit, v.samples
                    );
                    *aborted.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
                    goose::trigger_killswitch(&reason);
                    break;
                }
            }
        })
    });

    let reporter = a.progress.clone().map(|sink| {
        let ctx = a.ctx.clone();
        let phase_seconds = a.phase_seconds.clone();
        let planned = a.planned;
        tokio::spawn(async move {
            let mut last = (Duration::ZERO, 0u64);
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                let Some(started) = *ctx.started.lock().unwrap_or_else(|p| p.into_inner()) else {
                    continue;
                };
                let elapsed = started.elapsed();
                let (all, txns, _) =
                    ctx.recorder
                        .snapshot(&phase_seconds, elapsed.as_secs_f64(), None);
                let requests: u64 = txns.values().map(|b| b.run.count).sum();
                let errors: u64 = txns.values().map(|b| b.run.errors_total).sum();
                let since = ctx
                    .recorder
                    .epoch()
                    .map(|e| Instant::now().saturating_duration_since(e));
                let phase = ctx
                    .recorder
                    .clock
                    .names
                    .get(ctx.recorder.clock.index(since))
                    .cloned()
                    .unwrap_or_default();
                let window = elapsed.saturating_sub(last.0).as_secs_f64();
                let rps = if window > 0.0 {
                    requests.saturating_sub(last.1) as f64 / window
                } else {
                    0.0
                };
                last = (elapsed, requests);
                (sink.0)(&Progress {
                    elapsed,
                    planned,
                    phase,
                    requests,
                    errors,
                    rps,
                    p95_ms: all.run.latency_ms.p95,
                });
            }
        })
    });

    let bound = a.planned + Duration::from_secs(15) + a.request_timeout;
    let fallback_start = Instant::now();
    let run = attack.execute();
    tokio::pin!(run);
    let result = tokio::select! {
        r = &mut run => r,
        _ = tokio::time::sleep(bound) => {
            *aborted.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(format!("time bound: the attack ran past {bound:?}"));
            goose::trigger_killswitch("gauntlet: attack ran past its time bound");
            match tokio::time::timeout(Duration::from_secs(30), &mut run).await {
                Ok(r) => r,
                Err(_) => {
                    if let Some(m) = &monitor { m.abort(); }
                    if let Some(r) = &reporter { r.abort(); }
                    return Err(LoadError::Timeout(Duration::from_secs(30)));
                }
            }
        }
    };
    let ended = Instant::now();
    if let Some(m) = monitor {
        m.abort();
    }
    if let Some(r) = reporter {
        r.abort();
    }
    let metrics = result.map_err(goose_err)?;
    let started = a
        .ctx
        .started
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .unwrap_or(fallback_start);
    let aborted = aborted.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(AttackOutcome {
        metrics,
        started,
        ended,
        aborted,
    })
}

/// Goose's `Display` leaves out which option was refused and why.
fn goose_error_text(e: &GooseError) -> String {
    match e {
        GooseError::InvalidOption {
            option,
            value,
            detail,
        } => format!("invalid option {option} = {value:?}: {detail}"),
        other => format!("{other} ({other:?})"),
    }
}

async fn mark_start_txn(user: &mut GooseUser) -> TransactionResult {
    transactions::mark_start(user).await
}

pub(crate) fn goose_summary(metrics: &GooseMetrics, co: &str, reports: &[PathBuf]) -> GooseSummary {
    let (mut requests, mut failures) = (0u64, 0u64);
    for r in metrics.requests.values() {
        requests += (r.success_count + r.fail_count) as u64;
        failures += r.fail_count as u64;
    }
    let co_metrics = metrics.coordinated_omission_metrics.as_ref();
    GooseSummary {
        requests,
        failures,
        co_mitigation: co.to_string(),
        co_events: co_metrics.map(|m| m.co_events.len() as u64).unwrap_or(0),
        co_synthetic_requests: co_metrics.map(|m| m.synthetic_requests).unwrap_or(0),
        reports: reports
            .iter()
            .filter(|p| p.exists())
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect(),
    }
}

/// The profile's own transactions, each with its endpoint's URL (loopback
/// guard applied), checked once by rendering: a `{{secret.NAME}}` the
/// system under test has no value for is an error before any load.
fn template_runs(
    profile: &Profile,
    sut: &Sut,
    primary: &str,
    seed: u64,
) -> Result<Vec<transactions::TemplateRun>, LoadError> {
    let mut out = Vec::new();
    for (entry, _) in &profile.mix {
        let MixEntry::Template(name) = entry else {
            continue;
        };
        let t = &profile.templates[name];
        let fail = |reason: String| LoadError::Template {
            name: name.clone(),
            place: t.place.clone(),
            reason,
        };
        let endpoint = t
            .request
            .endpoint
            .clone()
            .unwrap_or_else(|| primary.to_string());
        let base = sut.endpoint(&endpoint).map_err(|e| fail(e.to_string()))?;
        check_url(base, sut.allow_remote).map_err(|e| fail(e.to_string()))?;
        let mut trial = gauntlet_harness::steps::Scope::new("check", seed, name, "check".into())
            .with_secrets(
                sut.secrets()
                    .names()
                    .filter_map(|n| Some((n, sut.secret(n)?))),
            );
        t.request.render(&mut trial, primary).map_err(fail)?;
        out.push(transactions::TemplateRun {
            name: transactions::intern(name),
            request: t.request.clone(),
            expect: t.expect.clone(),
            base: base.to_string(),
        });
    }
    Ok(out)
}

/// The endpoint the transactions load: the project's identity endpoint
/// (its API), else `api`.
pub fn load_endpoint(sut: &Sut) -> Result<String, LoadError> {
    let name = Sut::primary_endpoint(&sut.config);
    sut.endpoint(&name)
        .map(String::from)
        .map_err(|e| LoadError::BadTarget {
            url: name,
            reason: e.to_string(),
        })
}

/// Runs `plan` against the system under test (its identity was verified
/// when the value was built), writes `goose-report.{html,json,md}` and
/// `load.json` into `out_dir`, and returns what `load.json` holds.
///
/// The built-in transactions need the reference system's per-user setup
/// (an account, the catalog), run as goose's `on_start`; a mix of only the
/// profile's own transactions skips it (a foreign system has no such
/// endpoints): its users only get their template scope.
pub async fn run(plan: &LoadPlan, sut: &Sut, out_dir: &Path) -> Result<LoadReport, LoadError> {
    let profile = &plan.profile;
    let builtins = profile.has_builtins();
    let primary = Sut::primary_endpoint(&sut.config);
    let templates = template_runs(profile, sut, &primary, plan.seed)?;
    // Goose's host: the primary endpoint; a mix of only templates may
    // load a system without one (each template has its own URL anyway).
    let base_url = match (load_endpoint(sut), templates.first()) {
        (Ok(url), _) => url,
        (Err(_), Some(t)) if !builtins => t.base.clone(),
        (Err(e), _) => return Err(e),
    };
    check_url(&base_url, sut.allow_remote)?;
    let webhook_secret = sut.secret("webhook_secret").map(String::from);
    let signs_webhooks = profile
        .mix
        .iter()
        .any(|(e, _)| matches!(e, MixEntry::Builtin(k) if k.needs_webhook_secret()));
    if signs_webhooks && webhook_secret.as_deref().unwrap_or("").is_empty() {
        return Err(LoadError::MissingWebhookSecret);
    }
    std::fs::create_dir_all(out_dir).map_err(|e| LoadError::Io {
        path: out_dir.to_path_buf(),
        source: e,
    })?;

    let open = profile.mode == Mode::Open;
    let lead = if open {
        open_lead(profile.users)
    } else {
        Duration::ZERO
    };
    let phases: Vec<(String, Duration)> = profile
        .phases
        .iter()
        .map(|p| (p.name.clone(), p.duration))
        .collect();
    let clock = PhaseClock::new(&phases, open);
    let mut phase_seconds: Vec<f64> = Vec::new();
    if open {
        phase_seconds.push(lead.as_secs_f64());
    }
    phase_seconds.extend(phases.iter().map(|(_, d)| d.as_secs_f64()));

    let mut run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    if !plan.shard.is_whole() {
        // Users are `load-<run id>-<user>-...`: the shard in the id keeps
        // the shards' users apart.
        run_id.push_str(&format!("s{}", plan.shard.index));
    }
    // The contention bursts queue on one another by design: the global
    // SLOs judge the rest of the mix, the bursts their contracts and own SLOs.
    let apart: Vec<&'static str> = profile
        .mix
        .iter()
        .filter_map(|(e, _)| match e {
            MixEntry::Builtin(k) if k.has_contract() => Some(k.name()),
            _ => None,
        })
        .collect();
    let recorder = Recorder::new(clock).keeping_apart(apart);
    let mut ctx = RunContext::new(recorder, run_id, plan.seed);
    ctx.webhook_secret = webhook_secret;
    ctx.lead = lead;
    ctx.templates = templates;
    ctx.primary = primary;
    ctx.goose_metrics = plan.goose_reports;
    ctx.base_url = base_url.clone();
    ctx.request_timeout = profile.request_timeout;
    ctx.secrets = sut
        .secrets()
        .names()
        .filter_map(|n| Some((n.to_string(), sut.secret(n)?.to_string())))
        .collect();
    if open {
        let segs: Vec<(f64, Duration)> = profile
            .phases
            .iter()
            .map(|p| (p.rate.unwrap_or(1.0), p.duration))
            .collect();
        ctx.schedule = Some(OpenSchedule::new(&segs, profile.users));
    }
    let ctx = Arc::new(ctx);

    let setup = if builtins {
        transaction!(setup_txn)
    } else {
        transaction!(session_setup_txn)
    };
    let mut scenario = Scenario::new(if builtins { "marketplace" } else { "templates" })
        .register_transaction(setup.set_name("setup").set_on_start());
    let weights = reduce_weights(&profile.mix.iter().map(|(_, w)| *w).collect::<Vec<_>>());
    let mut template_index = 0;
    for ((entry, _), w) in profile.mix.iter().zip(weights) {
        let t = match entry {
            MixEntry::Builtin(kind) => transactions::transaction_for(*kind),
            MixEntry::Template(name) => {
                template_index += 1;
                transactions::template_transaction(template_index - 1, name)
            }
        };
        let t = t
            .set_weight(w as usize)
            .map_err(|e| LoadError::Goose(e.to_string()))?;
        scenario = scenario.register_transaction(t);
    }
    if let (Mode::Closed, Some(t)) = (profile.mode, profile.think_time) {
        scenario = scenario
            .set_wait_time(t.min, t.max)
            .map_err(|e| LoadError::Goose(e.to_string()))?;
    }

    let co = if open {
        GooseCoordinatedOmissionMitigation::Disabled
    } else {
        GooseCoordinatedOmissionMitigation::Average
    };
    let co_name = if open {
        "disabled (open model)"
    } else {
        "average"
    };
    let reports: Vec<PathBuf> = if plan.goose_reports {
        ["goose-report.html", "goose-report.json", "goose-report.md"]
            .iter()
            .map(|n| out_dir.join(n))
            .collect()
    } else {
        Vec::new()
    };
    let open_files = crate::host::raise_open_files();
    let usage_before = crate::host::usage();
    let started_at = chrono::Utc::now();
    let outcome = execute(Attack {
        ctx: ctx.clone(),
        host: base_url.clone(),
        scenario,
        test_plan: goose_test_plan(profile, lead),
        request_timeout: profile.request_timeout,
        co_mitigation: co,
        reports: reports.clone(),
        planned: lead + profile.total_duration(),
        abort: plan.slo.clone(),
        phase_seconds: phase_seconds.clone(),
        progress: plan.progress.clone(),
    })
    .await?;

    let usage_after = crate::host::usage();
    let duration = outcome.ended.saturating_duration_since(outcome.started);
    let planned = ctx.schedule.as_ref().map(|s| s.planned());
    let (all, transactions, open_model) =
        ctx.recorder
            .snapshot(&phase_seconds, duration.as_secs_f64(), planned);
    let requests: u64 = transactions.values().map(|b| b.run.count).sum();
    let generator = crate::host::GeneratorStats::between(
        open_files,
        usage_before,
        usage_after,
        duration.as_secs_f64(),
        requests,
    );
    let mut windows = Vec::new();
    let mut at = 0.0;
    if open {
        windows.push(PhaseWindow {
            name: SETUP_PHASE.to_string(),
            start_s: 0.0,
            end_s: lead.as_secs_f64(),
            users: profile.users,
            rate: None,
        });
        at = lead.as_secs_f64();
    }
    for p in &profile.phases {
        let end = at + p.duration.as_secs_f64();
        windows.push(PhaseWindow {
            name: p.name.clone(),
            start_s: at,
            end_s: end,
            users: p.users,
            rate: p.rate,
        });
        at = end;
    }
    // `phases` lists the profile's phases; the setup window is implied.
    let windows: Vec<PhaseWindow> = windows
        .into_iter()
        .filter(|w| w.name != SETUP_PHASE)
        .collect();
    let timeline = ctx.recorder.timeline(&windows, duration.as_secs_f64());
    let report = LoadReport {
        profile: profile.name.clone(),
        mode: profile.mode.name().to_string(),
        latency_mode: if open {
            LATENCY_MODE_OPEN
        } else {
            LATENCY_MODE_CLOSED
        }
        .to_string(),
        target: base_url.clone(),
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        duration_s: (duration.as_secs_f64() * 1000.0).round() / 1000.0,
        users: profile.users,
        phases: windows,
        all,
        apart: ctx.recorder.apart(),
        transactions,
        open_model,
        aborted: outcome.aborted,
        goose: plan
            .goose_reports
            .then(|| goose_summary(&outcome.metrics, co_name, &reports)),
        generator: Some(generator),
        error_examples: ctx
            .examples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
        timeline,
    };
    let path = out_dir.join("load.json");
    report
        .write(&path)
        .map_err(|e| LoadError::Io { path, source: e })?;
    // The raw data beside it, for `gauntlet load merge`.
    let data = ShardData::capture(
        &ctx.recorder,
        &report,
        Capture {
            run_seed: plan.run_seed,
            seed: plan.seed,
            shard: plan.shard,
            phase_seconds,
            run_seconds: duration.as_secs_f64(),
            planned,
        },
    );
    let path = out_dir.join(SHARD_FILE);
    data.write(&path).map_err(|e| LoadError::Io {
        path,
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(report)
}

async fn setup_txn(user: &mut GooseUser) -> TransactionResult {
    transactions::setup_user(user).await
}

async fn session_setup_txn(user: &mut GooseUser) -> TransactionResult {
    transactions::session_setup(user).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_unless_allowed() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://127.1.2.3",
            "http://[::1]:80/",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        for remote in [
            "http://10.0.0.1",
            "http://192.168.1.1:80",
            "https://example.com",
            "http://0.0.0.0:80",
        ] {
            assert!(
                matches!(
                    check_url(remote, false),
                    Err(LoadError::RemoteTarget { .. })
                ),
                "{remote}"
            );
            assert!(check_url(remote, true).is_ok());
        }
        assert!(matches!(
            check_url("ftp://127.0.0.1", false),
            Err(LoadError::BadTarget { .. })
        ));
        assert!(matches!(
            check_url("not a url", false),
            Err(LoadError::BadTarget { .. })
        ));
    }

    #[test]
    fn test_plans() {
        let parse = |t: &str| Profile::parse(t, "p.toml", "p").unwrap();
        let mix = "[mix]\nbrowse_list = 1\n";
        let smoke = parse(&format!("users = 10\nduration = \"30s\"\n{mix}"));
        assert_eq!(goose_test_plan(&smoke, Duration::ZERO), "10,0;10,30;0,0");
        let release = parse(&format!(
            "{mix}[[phase]]\nname=\"ramp_up\"\nusers=1000\nduration=\"2m\"\n\
             [[phase]]\nname=\"plateau\"\nusers=1000\nduration=\"5m\"\n\
             [[phase]]\nname=\"ramp_down\"\nusers=0\nduration=\"1m\"\n"
        ));
        assert_eq!(
            goose_test_plan(&release, Duration::ZERO),
            "1000,120;1000,300;0,60"
        );
        let open = parse(&format!(
            "mode=\"open\"\nusers=250\nrate=100\nduration=\"1m\"\n{mix}"
        ));
        assert_eq!(open_lead(250), Duration::from_secs(3));
        assert_eq!(goose_test_plan(&open, open_lead(250)), "250,3;250,60;0,0");
    }

    #[test]
    fn weights_reduce() {
        assert_eq!(
            reduce_weights(&[30, 45, 10, 5, 5, 5]),
            vec![6, 9, 2, 1, 1, 1]
        );
        assert_eq!(reduce_weights(&[7]), vec![1]);
        assert_eq!(reduce_weights(&[3, 5]), vec![3, 5]);
    }
}
