//! What an experiment did and saw: the timeline of events, every probe
//! result and action, the recovery times, thresholds, the ledger's
//! reconciliation and the verdict. [`ExperimentReport`] is what `chaos.json`
//! holds per experiment; [`Journal`] collects it while the experiment runs
//! (from concurrent tasks) and passes each event on as it happens.

use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::accounting::AccountingReport;
use crate::experiment::{Thresholds, WritersSpec};
use crate::ledger::Reconciliation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Every steady-state probe passed before the fault.
    SteadyStateOk,
    /// The steady state did not hold before the fault: nothing is injected.
    SteadyStateFailed,
    /// The experiment cannot run on this stack (unknown service, proxy...).
    Invalid,
    WritersStarted,
    WritersFailed,
    FaultInjected,
    FaultProven,
    /// A fault could not be injected, or not proven to have taken effect.
    InjectionFailed,
    /// The first steady-state probe that failed after the fault started.
    FirstFailedProbe,
    /// An `expect_during_fault` probe was seen passing while the fault was on.
    DuringFaultOk,
    /// An `expect_during_fault` probe was never seen passing.
    DuringFaultMissed,
    /// A fault's undo ran (its duration was over).
    FaultRemoved,
    /// A `[[rollbacks]]` step ran.
    RollbackRun,
    /// An undo or rollback was proven to have taken effect.
    RollbackProven,
    RollbackFailed,
    /// Every fault step, undo and rollback is done: recovery is timed from here.
    FaultEnd,
    /// The first polling round after the fault in which every steady-state
    /// probe passed.
    FirstGoodProbe,
    /// The steady state held for the confirmation rounds.
    Recovered,
    NotRecovered,
    ThresholdPassed,
    ThresholdBreached,
    WritersStopped,
    WritersReconciled,
    ReconcileFailed,
    /// An `exec`, `publish` or `http` action did what it says.
    ActionDone,
    /// An `exec`, `publish` or `http` action failed.
    ActionFailed,
    /// An `[after_fault]` probe passed within its deadline.
    AfterFaultPassed,
    /// An `[after_fault]` probe did not pass within its deadline.
    AfterFaultMissed,
    /// Every published event was delivered or dead-lettered in time.
    AccountingPassed,
    /// Events were lost (or delivered twice, with `exactly_once`).
    AccountingFailed,
}

impl EventKind {
    /// The snake_case name, as in the JSON.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEvent {
    /// Milliseconds since the experiment started.
    pub at_ms: u64,
    pub kind: EventKind,
    pub detail: String,
}

/// One timeline line, as the terminal and the reports show it:
/// `+  3.185s  fault_injected        kill_container postgres`.
impl std::fmt::Display for TimelineEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "+{:>7.3}s  {:<20}  {}",
            self.at_ms as f64 / 1000.0,
            self.kind.name(),
            self.detail
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The steady-state check before anything is injected.
    Before,
    /// From the first injection to the end of the rollbacks.
    Fault,
    /// Polling for the steady state after the fault.
    Recovery,
    /// Polling `[after_fault]` probes.
    AfterFault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeRole {
    SteadyState,
    DuringFault,
    AfterFault,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    /// When the probe finished, ms since the experiment started.
    pub at_ms: u64,
    pub phase: Phase,
    pub role: ProbeRole,
    pub probe: String,
    pub ok: bool,
    pub observation: String,
    pub millis: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStage {
    /// A `[[method]]` step.
    Method,
    /// A step's undo, when its duration is over.
    Undo,
    /// A `[[rollbacks]]` step.
    Rollback,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRecord {
    /// When the action started, ms since the experiment started.
    pub at_ms: u64,
    pub stage: ActionStage,
    pub action: String,
    /// The call was made and accepted.
    pub done: bool,
    /// Its effect was observed.
    pub proven: bool,
    /// What was done and how it was proven, or what went wrong.
    pub detail: String,
    pub millis: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuringFaultResult {
    pub probe: String,
    pub seen: bool,
    pub first_seen_ms: Option<u64>,
    /// The last observation while the fault was on.
    pub last_observation: Option<String>,
}

/// One `[after_fault]` probe: whether it passed within the deadline, and
/// how long after the fault's end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AfterFaultResult {
    pub probe: String,
    pub passed: bool,
    /// From the end of the fault to the end of its first passing
    /// evaluation.
    pub took_ms: Option<u64>,
    pub within_ms: u64,
    pub evaluations: u32,
    /// The last observation (the passing one, or the last failure).
    pub last_observation: Option<String>,
}

/// Recovery times. Times are ms since the experiment started; durations
/// are `from_*`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Recovery {
    pub fault_start_ms: Option<u64>,
    pub fault_end_ms: Option<u64>,
    pub first_failed_probe_ms: Option<u64>,
    /// First round after the fault with every steady-state probe passing.
    pub first_good_probe_ms: Option<u64>,
    /// Start of the confirmed good streak (what the recovery time measures).
    pub recovered_ms: Option<u64>,
    /// Recovery time from the end of the fault.
    pub from_fault_end_ms: Option<u64>,
    /// Recovery time from the start of the fault.
    pub from_fault_start_ms: Option<u64>,
    /// How long recovery was polled for.
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdResult {
    /// `rto` or `rto_from_start`.
    pub name: String,
    pub limit_ms: u64,
    /// `None`: never recovered.
    pub observed_ms: Option<u64>,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Failed { reasons: Vec<String> },
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Passed)
    }

    pub fn reasons(&self) -> &[String] {
        match self {
            Verdict::Passed => &[],
            Verdict::Failed { reasons } => reasons,
        }
    }
}

/// One experiment's record in `chaos.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentReport {
    pub name: String,
    pub title: String,
    pub file: Option<String>,
    /// RFC 3339.
    pub started_at: String,
    pub millis: u64,
    pub seed: u64,
    pub verdict: Verdict,
    pub timeline: Vec<TimelineEvent>,
    pub actions: Vec<ActionRecord>,
    pub probes: Vec<ProbeResult>,
    pub during_fault: Vec<DuringFaultResult>,
    pub recovery: Recovery,
    pub thresholds: Thresholds,
    pub threshold_results: Vec<ThresholdResult>,
    pub writers: Option<WritersSpec>,
    pub reconciliation: Option<Reconciliation>,
    /// `{{unique}}` of this run (event ids derive from it).
    pub unique: String,
    pub after_fault: Vec<AfterFaultResult>,
    pub accounting: Option<AccountingReport>,
}

impl ExperimentReport {
    pub fn passed(&self) -> bool {
        self.verdict.passed()
    }

    /// The timeline as terminal lines: `  +12.345s  fault_injected  ...`.
    pub fn timeline_lines(&self) -> Vec<String> {
        self.timeline.iter().map(|e| format!("  {e}")).collect()
    }

    /// One line: name, verdict, recovery time, ledger.
    pub fn summary_line(&self) -> String {
        let recovery = match (
            self.recovery.from_fault_end_ms,
            self.recovery.from_fault_start_ms,
        ) {
            (Some(end), Some(start)) => format!(
                "recovered {:.1} s after the fault ended ({:.1} s after it started)",
                end as f64 / 1000.0,
                start as f64 / 1000.0
            ),
            _ if self.recovery.fault_start_ms.is_some() => "did not recover".to_string(),
            _ => "no fault injected".to_string(),
        };
        let mut ledger = self
            .reconciliation
            .as_ref()
            .map(|r| format!("; {}", r.summary_line()))
            .unwrap_or_default();
        if !self.after_fault.is_empty() {
            let passed = self.after_fault.iter().filter(|a| a.passed).count();
            ledger.push_str(&format!(
                "; after the fault {passed}/{} checks passed in time",
                self.after_fault.len()
            ));
        }
        if let Some(a) = &self.accounting {
            ledger.push_str(&format!("; {}", a.counts_line()));
        }
        let verdict = match &self.verdict {
            Verdict::Passed => "PASSED".to_string(),
            Verdict::Failed { reasons } => format!("FAILED ({})", reasons.join("; ")),
        };
        format!("{}: {verdict}; {recovery}{ledger}", self.name)
    }
}

/// Collects an experiment's record while it runs; shared by the tasks of
/// one experiment, each event passed to the caller's callback at once.
pub(crate) struct Journal<'a> {
    start: Instant,
    inner: Mutex<Inner<'a>>,
}

struct Inner<'a> {
    events: Vec<TimelineEvent>,
    probes: Vec<ProbeResult>,
    actions: Vec<ActionRecord>,
    on_event: &'a mut (dyn FnMut(&TimelineEvent) + Send),
}

impl<'a> Journal<'a> {
    pub fn new(start: Instant, on_event: &'a mut (dyn FnMut(&TimelineEvent) + Send)) -> Self {
        Journal {
            start,
            inner: Mutex::new(Inner {
                events: Vec::new(),
                probes: Vec::new(),
                actions: Vec::new(),
                on_event,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<'a>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Milliseconds since the experiment started.
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    pub fn ms_of(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_millis() as u64
    }

    pub fn event(&self, kind: EventKind, detail: impl Into<String>) -> u64 {
        self.event_at(self.now_ms(), kind, detail)
    }

    pub fn event_at(&self, at_ms: u64, kind: EventKind, detail: impl Into<String>) -> u64 {
        let event = TimelineEvent {
            at_ms,
            kind,
            detail: detail.into(),
        };
        tracing::info!(at_ms, kind = ?kind, detail = %event.detail, "chaos event");
        let mut inner = self.lock();
        (inner.on_event)(&event);
        inner.events.push(event);
        at_ms
    }

    pub fn probe(&self, result: ProbeResult) {
        self.lock().probes.push(result);
    }

    pub fn action(&self, record: ActionRecord) {
        self.lock().actions.push(record);
    }

    /// Events, probes and actions, in time order.
    pub fn finish(self) -> (Vec<TimelineEvent>, Vec<ProbeResult>, Vec<ActionRecord>) {
        let inner = self.inner.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut events = inner.events;
        events.sort_by_key(|e| e.at_ms);
        let mut probes = inner.probes;
        probes.sort_by_key(|p| p.at_ms);
        (events, probes, inner.actions)
    }
}
