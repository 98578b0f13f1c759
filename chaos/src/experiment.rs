//! Experiment files: `chaos/experiments/NAME.toml`, one experiment each,
//! modelled on Chaos Toolkit's steady-state hypothesis, method and
//! rollbacks.
//!
//! ```toml
//! title = "Redis killed with SIGKILL, then started"
//!
//! [steady_state]            # must hold before the fault, and again for recovery
//! probes = [
//!   { http = "/api/healthz", status = 200, json = { db = "ok", redis = "ok" } },
//!   { pm2 = "api", status = "online" },
//! ]
//!
//! [expect_during_fault]     # optional: each must be seen passing while the fault is on
//! probes = [ { http = "/api/healthz", status = 503, json = { redis = "down" } } ]
//!
//! [[method]]                # faults, in order
//! action = "kill_container"
//! service = "redis"
//! signal = "SIGKILL"
//! duration = "5s"           # then its undo (start_container) runs and is proven
//!
//! [[rollbacks]]             # optional: run after the method, whatever happened
//! action = "start_container"
//! service = "redis"
//!
//! [thresholds]
//! rto = "30s"               # recovery time limit, from the end of the fault
//!
//! [writers]                 # optional background writes, reconciled afterwards
//! checkouts_per_sec = 5
//! ```
//!
//! Besides faults, the method takes `exec`, `publish` and `http` actions;
//! probes take matchers (`expect = { ge = 3 }`); `[after_fault]` checks
//! must pass within a deadline after the fault; `[accounting]` proves every
//! published event was delivered or dead-lettered (see
//! `chaos/experiments/README.md`). Templates (`{{unique}}`, `{{index}}`,
//! ...) are those of the step format (`docs/steps.md`).
//!
//! Parsing is strict: unknown keys, unknown probe types and actions, bad
//! durations, signals and toxics are errors that name `FILE:LINE:COL`.
//! What an experiment needs from the project file (PM2, endpoints, data
//! services, secrets) is checked before anything starts
//! ([`crate::runner::check_config`]); service, proxy and process names
//! against the stack when the experiment runs (see [`crate::runner`]).

mod fields;
mod parse;
mod steps;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_harness::steps::{Expect, Matcher, RequestTemplate, Template};
use serde::Serialize;

/// One experiment, as parsed from its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// The file stem: `redis_killed` for `redis_killed.toml`.
    pub name: String,
    pub path: Option<PathBuf>,
    pub title: String,
    pub description: Option<String>,
    /// Probes that must all pass before the fault and again for recovery.
    pub steady_state: Vec<Probe>,
    /// Probes each of which must be seen passing at least once while the
    /// fault is active (after it was proven, before it is removed).
    pub expect_during_fault: Vec<Probe>,
    /// The faults, in order.
    pub method: Vec<Step>,
    /// Run after the method whatever happened; each is proven.
    pub rollbacks: Vec<Step>,
    pub thresholds: Thresholds,
    pub writers: Option<WritersSpec>,
    /// Checks that must each pass within a deadline after the fault ends.
    pub after_fault: Option<AfterFault>,
    /// Every event the `publish` actions put in must come out.
    pub accounting: Option<AccountingSpec>,
    /// Secrets the file's templates name (`{{secret.NAME}}`): the project
    /// must declare each.
    pub secrets: BTreeSet<String>,
}

/// `[after_fault]`: probes polled from the end of the fault until each has
/// passed once, or `within` is over.
#[derive(Debug, Clone, PartialEq)]
pub struct AfterFault {
    pub within: Duration,
    /// Pause between two evaluations of a probe that has not passed yet.
    pub every: Duration,
    pub probes: Vec<Probe>,
}

/// `[accounting]`: the ids of the published events, looked for where they
/// are delivered and dead-lettered.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountingSpec {
    /// The field of each published event that holds its id.
    pub id_field: String,
    pub delivered: IdSource,
    pub dead_letter: Option<IdSource>,
    /// From the end of the fault.
    pub within: Duration,
    /// Reported when events are lost: how many the group read and never
    /// acknowledged.
    pub pending: Option<PendingSpec>,
    /// A duplicate delivery fails the verdict (otherwise it is reported).
    pub exactly_once: bool,
}

/// Where ids are read from.
#[derive(Debug, Clone, PartialEq)]
pub enum IdSource {
    /// `XRANGE key - +`: the `field` of each entry.
    RedisStream {
        data: Option<String>,
        key: String,
        field: String,
    },
    /// `SMEMBERS key`.
    RedisSet { data: Option<String>, key: String },
    /// `LRANGE key 0 -1`: each element, or its JSON's `field`.
    RedisList {
        data: Option<String>,
        key: String,
        field: Option<String>,
    },
    /// `GET path` on an endpoint: the array at `pointer`, each element an
    /// id or an object with `field`.
    Http {
        endpoint: String,
        path: String,
        pointer: String,
        field: Option<String>,
    },
    /// The first column of every row.
    Sql { data: Option<String>, query: String },
}

impl IdSource {
    /// `redis stream sink:delivered (id)`, for reports.
    pub fn describe(&self) -> String {
        match self {
            IdSource::RedisStream { key, field, .. } => format!("redis stream {key} ({field})"),
            IdSource::RedisSet { key, .. } => format!("redis set {key}"),
            IdSource::RedisList { key, field, .. } => match field {
                Some(f) => format!("redis list {key} ({f})"),
                None => format!("redis list {key}"),
            },
            IdSource::Http {
                endpoint,
                path,
                pointer,
                ..
            } => format!("GET {path} on {endpoint} ({pointer})"),
            IdSource::Sql { query, .. } => format!("sql {query}"),
        }
    }

    /// The redis data service it reads, if it reads one: `Some(None)` for
    /// "the project's only one".
    pub fn redis_data(&self) -> Option<Option<&str>> {
        match self {
            IdSource::RedisStream { data, .. }
            | IdSource::RedisSet { data, .. }
            | IdSource::RedisList { data, .. } => Some(data.as_deref()),
            _ => None,
        }
    }
}

/// `pending = { group = "relay", stream = "events" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingSpec {
    pub data: Option<String>,
    pub stream: String,
    pub group: String,
}

/// A matcher of the step format, compared by what the file wrote.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub matcher: Matcher,
    /// The matcher as written (or the exact value expected).
    pub source: String,
}

impl PartialEq for Expectation {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Expectation {
    /// The exact value (as text) of the older `expect = "PONG"` form.
    pub fn exactly(text: &str) -> Expectation {
        Expectation {
            matcher: Matcher::equals(serde_json::Value::String(text.to_string())),
            source: text.to_string(),
        }
    }

    /// `>= 1`, `= PONG`.
    pub fn describe(&self) -> String {
        self.matcher.describe()
    }
}

/// A check of the system's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// `name = "..."` from the file, or a description of the check.
    pub name: String,
    pub kind: ProbeKind,
    /// Longest a single evaluation may take before it counts as failed.
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProbeKind {
    /// `GET path` on a named endpoint (`api`, `web`, `sink`, ...); `None`:
    /// the project's default endpoint (its identity's or `api` if declared,
    /// else its only one).
    Http {
        endpoint: Option<String>,
        path: String,
        status: u16,
        /// Dotted JSON paths and the values expected there.
        json: Vec<(String, serde_json::Value)>,
        /// JSON pointers (`/a/0/b`) and the matchers their values must
        /// pass (`json = { "/attempts" = { ge = 1 } }`).
        matchers: Vec<(String, Expectation)>,
        body_contains: Option<String>,
        /// Send the run's admin token as `X-Admin-Token`.
        admin: bool,
        /// Passes only if the answer took at least this long (proves a
        /// latency fault reaches the client).
        slower_than: Option<Duration>,
    },
    /// A PM2 process (`pm2 jlist`).
    Pm2 {
        process: String,
        status: String,
        min_restarts: Option<u64>,
        max_restarts: Option<u64>,
    },
    /// A SQL query run with `psql` on a postgres data service (`[data]`:
    /// the one named, else the first); the first cell of the first row
    /// must pass `expect` (a value: equal to it; a table: a matcher).
    Sql {
        data: Option<String>,
        query: Template,
        expect: Expectation,
    },
    /// A `redis-cli` command on a redis data service (`[data]`: the one
    /// named `data`, the one running in `service`, else the only one); its
    /// reply must pass `expect`.
    Redis {
        data: Option<String>,
        service: Option<String>,
        command: Vec<Template>,
        expect: Expectation,
    },
    /// A command inside a service's container: it must exit 0, and its
    /// standard output (trimmed) pass `expect` if given.
    Exec {
        service: String,
        command: Vec<Template>,
        expect: Option<Expectation>,
    },
    /// A named synthetic journey (gauntlet-journeys) passes, without retry.
    Journey { journey: String },
}

/// One step of the method or the rollbacks.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub action: Action,
    /// How long the fault stays on before its undo runs (the step's undo,
    /// see [`Action::undo`]); for actions without an undo, a wait.
    pub duration: Option<Duration>,
    /// 1-based line of the step in its file.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `docker kill --signal` on the service's container.
    KillContainer {
        service: String,
        signal: Signal,
    },
    StopContainer {
        service: String,
        grace: Duration,
    },
    StartContainer {
        service: String,
    },
    RestartContainer {
        service: String,
        grace: Duration,
    },
    PauseContainer {
        service: String,
    },
    UnpauseContainer {
        service: String,
    },
    /// `kill -SIG <pid>` of a PM2-managed process (pid from `pm2 jlist`).
    KillProcess {
        process: String,
        signal: Signal,
    },
    /// `pm2 kill`: the daemon and every process it manages.
    Pm2Kill,
    /// `pm2 resurrect`: the process list restored from the saved dump.
    Pm2Resurrect,
    /// `pm2 restart <process>`.
    Pm2Restart {
        process: String,
    },
    /// A toxic on a fault-proxy link.
    Toxic(ToxicSpec),
    RemoveToxic {
        proxy: String,
        name: String,
    },
    /// The proxy disabled: the link is down, connections are refused.
    ProxyDown {
        proxy: String,
    },
    ProxyUp {
        proxy: String,
    },
    /// The process killed again and again as soon as PM2 brings it back,
    /// faster than its `min_uptime`, until PM2 gives up (`errored`) or
    /// `kills` is reached.
    CrashLoop {
        process: String,
        kills: u32,
        /// Pause between seeing the new incarnation and killing it.
        interval: Duration,
    },
    /// Wait for the step's duration (a pause between steps).
    Sleep,
    /// A command in a service's container; its exit code must be
    /// `expect_exit`. Not a fault unless `fault` is set.
    Exec {
        service: String,
        command: Vec<Template>,
        expect_exit: i64,
        /// Opens the fault window and starts the fault clock, like a fault.
        fault: bool,
    },
    /// Events put into a Redis stream or list, or rows into a table.
    Publish(PublishSpec),
    /// A request in the step format; a failed `expect` fails the action.
    Http(Box<HttpAction>),
}

/// What `publish` puts in, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishSpec {
    /// The `[data]` service (`None`: the project's only one of the kind).
    pub data: Option<String>,
    pub into: PublishInto,
    /// Field (or column) names and their values, rendered per event.
    pub fields: Vec<(String, FieldValue)>,
    pub count: u32,
    /// The field whose value is the event's id (recorded for
    /// `[accounting]`), if the event has one.
    pub id_field: Option<String>,
}

/// Where `publish` puts events.
#[derive(Debug, Clone, PartialEq)]
pub enum PublishInto {
    /// `XADD NAME * field value ...`.
    Stream(String),
    /// `RPUSH NAME {"field": value, ...}`.
    List(String),
    /// `INSERT INTO NAME (columns) VALUES (...)`.
    Table(String),
}

impl PublishInto {
    pub fn name(&self) -> &str {
        match self {
            PublishInto::Stream(n) | PublishInto::List(n) | PublishInto::Table(n) => n,
        }
    }

    /// Redis (stream, list) or postgres (table).
    pub fn is_redis(&self) -> bool {
        !matches!(self, PublishInto::Table(_))
    }
}

/// A field of a published event: a template, or a number or boolean.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Template(Template),
    Literal(serde_json::Value),
}

/// An `http` action, compiled by the step format.
#[derive(Debug, Clone)]
pub struct HttpAction {
    pub name: Option<String>,
    pub request: RequestTemplate,
    pub expect: Expect,
    /// `eventually = { within, every }`: resent until `expect` holds.
    pub eventually: Option<(Duration, Duration)>,
    /// The step as written, for comparisons.
    pub source: String,
}

impl PartialEq for HttpAction {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl HttpAction {
    /// `POST /hits on web`.
    pub fn describe(&self) -> String {
        let request = format!(
            "{} {}{}",
            self.request.method,
            self.request.path.source(),
            self.request
                .endpoint
                .as_ref()
                .map(|e| format!(" on {e}"))
                .unwrap_or_default()
        );
        match &self.name {
            Some(name) => format!("`{name}` ({request})"),
            None => request,
        }
    }
}

/// A toxic and the proxy it goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct ToxicSpec {
    pub proxy: String,
    /// Name (default `<type>_<stream>`), type and attributes, stream,
    /// toxicity: the fault proxy's own model.
    pub toxic: gauntlet_faultproxy::Toxic,
}

impl ToxicSpec {
    /// `latency=500, jitter=0`: the attributes as the API gets them.
    pub fn attributes(&self) -> String {
        serde_json::to_value(&self.toxic.kind)
            .ok()
            .and_then(|v| v.get("attributes").and_then(|a| a.as_object()).cloned())
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    }
}

/// A signal by its canonical name (`SIGKILL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal(String);

impl Signal {
    /// Signals an experiment may send.
    pub const KNOWN: [&'static str; 15] = [
        "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGABRT", "SIGKILL", "SIGUSR1", "SIGSEGV",
        "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGCONT", "SIGSTOP", "SIGTSTP",
    ];

    /// `SIGKILL`, `KILL` and `kill` are the same signal.
    pub fn parse(text: &str) -> Option<Signal> {
        let upper = text.trim().to_ascii_uppercase();
        let full = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        Signal::KNOWN
            .contains(&full.as_str())
            .then_some(Signal(full))
    }

    pub fn kill() -> Signal {
        Signal("SIGKILL".into())
    }

    /// `SIGKILL`, as Docker takes it.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// `KILL`, as `kill -s` takes it.
    pub fn short(&self) -> &str {
        &self.0[3..]
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Limits on recovery.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Thresholds {
    /// Longest time from the end of the fault to a confirmed steady state.
    #[serde(with = "opt_millis", rename = "rto_ms")]
    pub rto: Option<Duration>,
    /// Longest time from the start of the fault to a confirmed steady state.
    #[serde(with = "opt_millis", rename = "rto_from_start_ms")]
    pub rto_from_start: Option<Duration>,
    /// How long to poll for recovery; default twice `rto`, or 120 s.
    #[serde(with = "opt_millis", rename = "recovery_timeout_ms")]
    pub recovery_timeout: Option<Duration>,
}

impl Thresholds {
    /// Recovery is polled this long after the fault ends.
    pub fn recovery_timeout(&self) -> Duration {
        self.recovery_timeout
            .or(self.rto.map(|r| r * 2))
            .unwrap_or(Duration::from_secs(120))
    }
}

/// Background writers that keep a client-side ledger during the
/// experiment (see [`crate::ledger`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WritersSpec {
    pub checkouts_per_sec: f64,
    pub webhooks_per_sec: f64,
    pub credits_per_sec: f64,
    #[serde(with = "millis", rename = "request_timeout_ms")]
    pub request_timeout: Duration,
    /// How long reconciliation waits for in-flight work (outbox relay,
    /// deliveries) to settle.
    #[serde(with = "millis", rename = "settle_ms")]
    pub settle: Duration,
}

impl Action {
    /// The action's snake_case name, as written in files.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::KillContainer { .. } => "kill_container",
            Action::StopContainer { .. } => "stop_container",
            Action::StartContainer { .. } => "start_container",
            Action::RestartContainer { .. } => "restart_container",
            Action::PauseContainer { .. } => "pause_container",
            Action::UnpauseContainer { .. } => "unpause_container",
            Action::KillProcess { .. } => "kill_process",
            Action::Pm2Kill => "pm2_kill",
            Action::Pm2Resurrect => "pm2_resurrect",
            Action::Pm2Restart { .. } => "pm2_restart",
            Action::Toxic(_) => "toxic",
            Action::RemoveToxic { .. } => "remove_toxic",
            Action::ProxyDown { .. } => "proxy_down",
            Action::ProxyUp { .. } => "proxy_up",
            Action::CrashLoop { .. } => "crash_loop",
            Action::Sleep => "sleep",
            Action::Exec { .. } => "exec",
            Action::Publish(_) => "publish",
            Action::Http(_) => "http",
        }
    }

    /// Every action name a file may use.
    pub const KINDS: [&'static str; 19] = [
        "kill_container",
        "stop_container",
        "start_container",
        "restart_container",
        "pause_container",
        "unpause_container",
        "kill_process",
        "pm2_kill",
        "pm2_resurrect",
        "pm2_restart",
        "toxic",
        "remove_toxic",
        "proxy_down",
        "proxy_up",
        "crash_loop",
        "sleep",
        "exec",
        "publish",
        "http",
    ];

    /// Work done on the system rather than a fault: it neither opens the
    /// fault window nor starts the fault clock (an `exec` with
    /// `fault = true` does).
    pub fn is_traffic(&self) -> bool {
        matches!(
            self,
            Action::Publish(_) | Action::Http(_) | Action::Exec { fault: false, .. }
        )
    }

    /// The action that removes this fault, run when the step's duration is
    /// over. `None` for actions that are not faults to undo (start, a
    /// process kill PM2 repairs by itself, ...).
    pub fn undo(&self) -> Option<Action> {
        match self {
            Action::KillContainer { service, .. } | Action::StopContainer { service, .. } => {
                Some(Action::StartContainer {
                    service: service.clone(),
                })
            }
            Action::PauseContainer { service } => Some(Action::UnpauseContainer {
                service: service.clone(),
            }),
            Action::Pm2Kill => Some(Action::Pm2Resurrect),
            Action::Toxic(t) => Some(Action::RemoveToxic {
                proxy: t.proxy.clone(),
                name: t.toxic.name.clone(),
            }),
            Action::ProxyDown { proxy } => Some(Action::ProxyUp {
                proxy: proxy.clone(),
            }),
            Action::CrashLoop { process, .. } => Some(Action::Pm2Restart {
                process: process.clone(),
            }),
            _ => None,
        }
    }

    /// The compose service the action acts on, if any.
    pub fn service(&self) -> Option<&str> {
        match self {
            Action::KillContainer { service, .. }
            | Action::StopContainer { service, .. }
            | Action::StartContainer { service }
            | Action::RestartContainer { service, .. }
            | Action::PauseContainer { service }
            | Action::UnpauseContainer { service }
            | Action::Exec { service, .. } => Some(service),
            _ => None,
        }
    }

    /// The fault-proxy link the action acts on, if any.
    pub fn proxy(&self) -> Option<&str> {
        match self {
            Action::Toxic(t) => Some(&t.proxy),
            Action::RemoveToxic { proxy, .. }
            | Action::ProxyDown { proxy }
            | Action::ProxyUp { proxy } => Some(proxy),
            _ => None,
        }
    }

    /// True for actions that need PM2 in the stack.
    pub fn uses_pm2(&self) -> bool {
        matches!(
            self,
            Action::KillProcess { .. }
                | Action::Pm2Kill
                | Action::Pm2Resurrect
                | Action::Pm2Restart { .. }
                | Action::CrashLoop { .. }
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::KillContainer { service, signal } => {
                write!(f, "kill_container {service} ({signal})")
            }
            Action::StopContainer { service, .. }
            | Action::StartContainer { service }
            | Action::RestartContainer { service, .. }
            | Action::PauseContainer { service }
            | Action::UnpauseContainer { service } => write!(f, "{} {service}", self.kind()),
            Action::KillProcess { process, signal } => {
                write!(f, "kill_process {process} ({signal})")
            }
            Action::Pm2Kill | Action::Pm2Resurrect | Action::Sleep => f.write_str(self.kind()),
            Action::Pm2Restart { process } => write!(f, "pm2_restart {process}"),
            Action::Toxic(t) => write!(
                f,
                "toxic {} on {} ({} {}, toxicity {}, {})",
                t.toxic.name,
                t.proxy,
                t.toxic.kind.type_name(),
                t.toxic.stream,
                t.toxic.toxicity,
                t.attributes()
            ),
            Action::RemoveToxic { proxy, name } => write!(f, "remove_toxic {name} on {proxy}"),
            Action::ProxyDown { proxy } | Action::ProxyUp { proxy } => {
                write!(f, "{} {proxy}", self.kind())
            }
            Action::CrashLoop {
                process,
                kills,
                interval,
            } => write!(
                f,
                "crash_loop {process} (up to {kills} kills, {} ms apart)",
                interval.as_millis()
            ),
            Action::Exec {
                service, command, ..
            } => {
                let line = command
                    .iter()
                    .map(Template::source)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                let shown = if line.chars().count() > 80 {
                    format!("{}…", line.chars().take(80).collect::<String>())
                } else {
                    line
                };
                write!(f, "exec in {service}: {shown}")
            }
            Action::Publish(p) => write!(
                f,
                "publish {} event{} into {} {}",
                p.count,
                if p.count == 1 { "" } else { "s" },
                match p.into {
                    PublishInto::Stream(_) => "stream",
                    PublishInto::List(_) => "list",
                    PublishInto::Table(_) => "table",
                },
                p.into.name()
            ),
            Action::Http(h) => write!(f, "http {}", h.describe()),
        }
    }
}

impl Step {
    /// The step as the journal names it, e.g. `kill_container redis (SIGKILL) for 5s`.
    pub fn describe(&self) -> String {
        match self.duration {
            Some(d) => format!("{} for {}", self.action, human(d)),
            None => self.action.to_string(),
        }
    }
}

impl ProbeKind {
    /// The probe type as written in files.
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeKind::Http { .. } => "http",
            ProbeKind::Pm2 { .. } => "pm2",
            ProbeKind::Sql { .. } => "sql",
            ProbeKind::Redis { .. } => "redis",
            ProbeKind::Journey { .. } => "journey",
            ProbeKind::Exec { .. } => "exec",
        }
    }

    pub const KINDS: [&'static str; 6] = ["http", "pm2", "sql", "redis", "journey", "exec"];
}

/// A parse or load error. Displays as `FILE:LINE:COL: message`.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("{}:{line}:{column}: {message}", file.display())]
    Invalid {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: cannot read the experiment: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot list experiments: {source}", dir.display())]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no experiment files (*.toml) here", dir.display())]
    Empty { dir: PathBuf },
    #[error("no experiment named `{name}` in {} (experiments: {known})", dir.display())]
    Unknown {
        name: String,
        dir: PathBuf,
        known: String,
    },
}

impl ExperimentError {
    /// The file the error is about, if it is about one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            ExperimentError::Invalid { file, .. } | ExperimentError::Read { file, .. } => {
                Some(file)
            }
            _ => None,
        }
    }
}

/// Reads and parses one experiment file; its name is the file stem.
pub fn load(path: impl AsRef<Path>) -> Result<Experiment, ExperimentError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ExperimentError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut experiment = parse(&text, path, &name)?;
    experiment.path = Some(path.to_path_buf());
    Ok(experiment)
}

/// Every `*.toml` in `dir`, parsed, sorted by name. The first bad file
/// fails the whole load, so a broken experiment is never skipped silently.
pub fn load_dir(dir: impl AsRef<Path>) -> Result<Vec<Experiment>, ExperimentError> {
    let dir = dir.as_ref();
    let entries = std::fs::read_dir(dir).map_err(|source| ExperimentError::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ExperimentError::Dir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(ExperimentError::Empty {
            dir: dir.to_path_buf(),
        });
    }
    paths.sort();
    let mut experiments = paths.iter().map(load).collect::<Result<Vec<_>, _>>()?;
    experiments.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(experiments)
}

/// The experiments of `dir` named in `names` (all when empty), in the
/// order given; an unknown name is an error listing the known ones.
pub fn select(dir: impl AsRef<Path>, names: &[String]) -> Result<Vec<Experiment>, ExperimentError> {
    let dir = dir.as_ref();
    let all = load_dir(dir)?;
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|e| &e.name == name)
                .cloned()
                .ok_or_else(|| ExperimentError::Unknown {
                    name: name.clone(),
                    dir: dir.to_path_buf(),
                    known: all
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}

/// Parses experiment text; `file` is used in error messages, `name` is the
/// experiment's name.
pub fn parse(text: &str, file: &Path, name: &str) -> Result<Experiment, ExperimentError> {
    parse::parse(text, file, name)
}

/// The shipped experiments folder (`chaos/experiments`).
pub fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments")
}

/// `1.5s`, `250ms`, `2m`: for messages and timelines.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms / 60_000 * 60_000 == ms {
        format!("{}m", ms / 60_000)
    } else if ms / 1000 * 1000 == ms {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

pub(crate) mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

pub(crate) mod opt_millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_with_an_undo_name_it() {
        let redis = || "redis".to_string();
        let cases = [
            (
                Action::KillContainer {
                    service: redis(),
                    signal: Signal::kill(),
                },
                Some("start_container redis"),
            ),
            (
                Action::PauseContainer { service: redis() },
                Some("unpause_container redis"),
            ),
            (Action::Pm2Kill, Some("pm2_resurrect")),
            (Action::ProxyDown { proxy: redis() }, Some("proxy_up redis")),
            (
                Action::CrashLoop {
                    process: "sink".into(),
                    kills: 3,
                    interval: Duration::from_millis(200),
                },
                Some("pm2_restart sink"),
            ),
            (
                Action::KillProcess {
                    process: "api".into(),
                    signal: Signal::kill(),
                },
                None,
            ),
            (Action::StartContainer { service: redis() }, None),
        ];
        for (action, undo) in cases {
            assert_eq!(
                action.undo().map(|a| a.to_string()).as_deref(),
                undo,
                "{action}"
            );
        }
    }

    #[test]
    fn signals_and_durations_read_well() {
        assert_eq!(Signal::parse("kill").unwrap().name(), "SIGKILL");
        assert_eq!(Signal::parse("SIGTERM").unwrap().short(), "TERM");
        assert!(Signal::parse("SIGFOO").is_none());
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_secs(30)), "30s");
        assert_eq!(human(Duration::from_secs(120)), "2m");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        let t = Thresholds::default();
        assert_eq!(t.recovery_timeout(), Duration::from_secs(120));
    }
}
