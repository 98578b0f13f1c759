//! One experiment end to end:
//!
//! 1. the experiment is checked against the project file (PM2, endpoints,
//!    data services and secrets it uses) and the stack (services, proxies,
//!    PM2 processes it names);
//! 2. the steady state must hold, or nothing is injected;
//! 3. background writers start, if the experiment has `[writers]`;
//! 4. the method's faults are injected in order, each proven; a step with a
//!    `duration` is undone when it is over (and the undo proven); then the
//!    `[[rollbacks]]` run, whatever happened. Meanwhile the steady state
//!    (and any `expect_during_fault` probes) are polled every 100 ms;
//! 5. after the fault ends the steady state is polled every 100 ms until it
//!    holds for [`CONFIRM_ROUNDS`] rounds in a row, or the recovery timeout;
//!    at the same time each `[after_fault]` probe is polled until it passes
//!    or its deadline, and the `[accounting]` ids are read until every
//!    published event is delivered or dead-lettered, or its deadline;
//! 6. the writers stop and their ledger is reconciled with the system.
//!
//! `exec`, `publish` and `http` actions in the method are traffic, not
//! faults: they neither open the fault window nor start the fault clock
//! (an `exec` with `fault = true` does).
//!
//! The verdict passes only if every one of those steps did.

mod check;

pub use check::{check_config, check_experiments, check_stack};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::watch;

use crate::accounting::{self, AccountingReport};
use crate::experiment::{human, AccountingSpec, Action, AfterFault, Experiment, Probe, Step};
use crate::faults;
use crate::journal::{
    ActionRecord, ActionStage, AfterFaultResult, DuringFaultResult, EventKind, ExperimentReport,
    Journal, Phase, ProbeResult, ProbeRole, Recovery, ThresholdResult, TimelineEvent, Verdict,
};
use crate::ledger::{self, WriteLedger, WriterConfig, Writers};
use crate::probes::{self, Round};
use crate::scope::ExperimentScope;
use crate::workload;
use crate::ChaosContext;

/// Polling interval of the steady state during and after the fault.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Consecutive good rounds that confirm recovery (a single good round in a
/// flapping system is not a recovery).
pub const CONFIRM_ROUNDS: u32 = 3;
/// Writers run this long before the first fault, so the ledger holds
/// acknowledged writes from before it.
pub const WRITERS_WARMUP: Duration = Duration::from_secs(2);
/// How often `[accounting]` reads the delivered and dead-lettered ids.
pub const ACCOUNTING_POLL: Duration = Duration::from_millis(500);

/// Runs `exp` on the system of `ctx`; `on_event` sees each timeline event as
/// it happens. Never fails: everything that goes wrong is in the verdict.
pub async fn run_experiment(
    ctx: &ChaosContext,
    exp: &Experiment,
    on_event: &mut (dyn FnMut(&TimelineEvent) + Send),
) -> ExperimentReport {
    let started_at = chrono::Utc::now();
    let start = Instant::now();
    let scope = ExperimentScope::new(ctx, &exp.name);
    let run = Run {
        ctx,
        exp,
        scope,
        published: Mutex::new(Vec::new()),
        journal: Journal::new(start, on_event),
        http: probes::http_client(),
        reasons: Mutex::new(Vec::new()),
        first_failed: Mutex::new(None),
        window: Window::default(),
        during: Mutex::new(
            exp.expect_during_fault
                .iter()
                .map(|p| DuringFaultResult {
                    probe: p.name.clone(),
                    seen: false,
                    first_seen_ms: None,
                    last_observation: None,
                })
                .collect(),
        ),
    };
    let mut recovery = Recovery {
        timeout_ms: exp.thresholds.recovery_timeout().as_millis() as u64,
        ..Recovery::default()
    };
    let mut threshold_results = Vec::new();
    let mut reconciliation = None;
    let mut checks = AfterChecks::default();
    run.run(
        &mut recovery,
        &mut threshold_results,
        &mut reconciliation,
        &mut checks,
    )
    .await;
    let unique = run.scope.unique().to_string();

    let reasons = run.reasons.into_inner().unwrap_or_else(|e| e.into_inner());
    let during_fault = run.during.into_inner().unwrap_or_else(|e| e.into_inner());
    let (timeline, probes, actions) = run.journal.finish();
    ExperimentReport {
        name: exp.name.clone(),
        title: exp.title.clone(),
        file: exp.path.as_ref().map(|p| p.display().to_string()),
        started_at: started_at.to_rfc3339(),
        millis: start.elapsed().as_millis() as u64,
        seed: ctx.seed(),
        verdict: if reasons.is_empty() {
            Verdict::Passed
        } else {
            Verdict::Failed { reasons }
        },
        timeline,
        actions,
        probes,
        during_fault,
        recovery,
        thresholds: exp.thresholds.clone(),
        threshold_results,
        writers: exp.writers.clone(),
        reconciliation,
        unique,
        after_fault: checks.after_fault,
        accounting: checks.accounting,
    }
}

/// What the checks after the fault found.
#[derive(Default)]
struct AfterChecks {
    after_fault: Vec<AfterFaultResult>,
    accounting: Option<AccountingReport>,
}

/// Whether the fault is on, for `expect_during_fault` probes: a result
/// counts only if the fault was on when the probe started and still on,
/// unchanged, when it finished.
#[derive(Default)]
struct Window {
    active: AtomicBool,
    epoch: AtomicU64,
}

impl Window {
    fn open(&self) {
        if !self.active.swap(true, Ordering::SeqCst) {
            self.epoch.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn close(&self) {
        if self.active.swap(false, Ordering::SeqCst) {
            self.epoch.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// `Some(epoch)` while the fault is on.
    fn current(&self) -> Option<u64> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        self.active.load(Ordering::SeqCst).then_some(epoch)
    }
}

struct Run<'a, 'e> {
    ctx: &'a ChaosContext,
    exp: &'a Experiment,
    /// What the experiment's templates render against.
    scope: ExperimentScope,
    /// Ids of the events `publish` actions put in, in order.
    published: Mutex<Vec<String>>,
    journal: Journal<'e>,
    http: reqwest::Client,
    reasons: Mutex<Vec<String>>,
    first_failed: Mutex<Option<u64>>,
    window: Window,
    during: Mutex<Vec<DuringFaultResult>>,
}

/// What the fault phase leaves for recovery.
struct FaultTimes {
    start_ms: Option<u64>,
    end_ms: u64,
    end: Instant,
}

impl Run<'_, '_> {
    fn fail(&self, reason: impl Into<String>) {
        self.reasons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reason.into());
    }

    async fn run(
        &self,
        recovery: &mut Recovery,
        thresholds: &mut Vec<ThresholdResult>,
        reconciliation: &mut Option<ledger::Reconciliation>,
        checks: &mut AfterChecks,
    ) {
        let problems = check_stack(self.ctx, self.exp).await;
        if !problems.is_empty() {
            for p in &problems {
                self.journal.event(EventKind::Invalid, p);
                self.fail(format!("cannot run on this stack: {p}"));
            }
            return;
        }

        // 2. The hypothesis must hold before anything is done.
        let (all_ok, failures) = self.steady_round(Phase::Before).await;
        if !all_ok {
            self.journal
                .event(EventKind::SteadyStateFailed, failures.join("; "));
            self.fail(format!(
                "steady state did not hold before the fault: {}",
                failures.join("; ")
            ));
            return;
        }
        self.journal.event(
            EventKind::SteadyStateOk,
            format!("{} probes pass", self.exp.steady_state.len()),
        );

        // 3. Writers.
        let writers = match &self.exp.writers {
            None => None,
            Some(spec) => match self.start_writers(spec).await {
                Ok(w) => Some(w),
                Err(e) => {
                    self.journal.event(EventKind::WritersFailed, &e);
                    self.fail(format!("the writers could not start: {e}"));
                    return;
                }
            },
        };

        // 4. Faults, with the steady state watched meanwhile.
        let (done_tx, done_rx) = watch::channel(false);
        let (times, ()) = tokio::join!(
            async {
                let times = self.fault_phase().await;
                let _ = done_tx.send(true);
                times
            },
            self.monitor(done_rx)
        );
        recovery.fault_start_ms = times.start_ms;
        recovery.fault_end_ms = Some(times.end_ms);
        self.judge_during_fault(times.start_ms.is_some());

        // 5. Recovery, with the checks after the fault.
        let recovered = async {
            if times.start_ms.is_some() {
                self.recover(&times, recovery).await;
                *thresholds = self.thresholds(recovery);
            }
        };
        let after_fault = async {
            match &self.exp.after_fault {
                Some(a) => self.after_fault(a, &times).await,
                None => Vec::new(),
            }
        };
        let accounted = async {
            match &self.exp.accounting {
                Some(spec) => Some(self.account(spec, &times).await),
                None => None,
            }
        };
        let ((), after, accounting) = tokio::join!(recovered, after_fault, accounted);
        checks.after_fault = after;
        checks.accounting = accounting;
        recovery.first_failed_probe_ms =
            *self.first_failed.lock().unwrap_or_else(|e| e.into_inner());

        // 6. The ledger.
        if let (Some(writers), Some(spec)) = (writers, &self.exp.writers) {
            let ledger = writers.stop().await;
            self.journal.event(
                EventKind::WritersStopped,
                format!(
                    "reconciling (waiting up to {} for events to settle)",
                    human(spec.settle)
                ),
            );
            match ledger::reconcile(self.ctx.sut(), &ledger, spec.settle).await {
                Ok(r) => {
                    self.journal
                        .event(EventKind::WritersReconciled, r.summary_line());
                    if !r.passed() {
                        self.fail(r.summary_line());
                    }
                    *reconciliation = Some(r);
                }
                Err(e) => {
                    self.journal
                        .event(EventKind::ReconcileFailed, e.to_string());
                    self.fail(format!("the ledger could not be reconciled: {e}"));
                }
            }
        }
    }

    async fn start_writers(
        &self,
        spec: &crate::experiment::WritersSpec,
    ) -> Result<Writers, String> {
        let config = WriterConfig {
            checkouts_per_sec: spec.checkouts_per_sec,
            webhooks_per_sec: spec.webhooks_per_sec,
            credits_per_sec: spec.credits_per_sec,
            seed: self.ctx.seed(),
            request_timeout: spec.request_timeout,
        };
        // URLs as they are now: an earlier experiment may have restarted a
        // container, which moves its host ports.
        let sut = self.ctx.sut_now().await?;
        let writers = Writers::start(&sut, config, WriteLedger::new())
            .await
            .map_err(|e| e.to_string())?;
        self.journal.event(
            EventKind::WritersStarted,
            format!(
                "checkouts {}/s, webhooks {}/s, credits {}/s; {} before the fault",
                spec.checkouts_per_sec,
                spec.webhooks_per_sec,
                spec.credits_per_sec,
                human(WRITERS_WARMUP)
            ),
        );
        tokio::time::sleep(WRITERS_WARMUP).await;
        Ok(writers)
    }

    /// The method, undos and rollbacks. Returns when the fault is over.
    async fn fault_phase(&self) -> FaultTimes {
        let mut start_ms = None;
        // Undos of faults still on, in injection order.
        let mut outstanding: Vec<(usize, Action)> = Vec::new();
        let mut aborted = false;
        for (i, step) in self.exp.method.iter().enumerate() {
            if is_repair(&step.action) {
                self.before_removal().await;
            } else if is_fault(&step.action) {
                self.window.open();
            }
            let at = self.journal.now_ms();
            if is_fault(&step.action) {
                start_ms.get_or_insert(at);
            }
            match self.act(ActionStage::Method, step).await {
                Ok(()) => {
                    if let Some(undo) = step.action.undo() {
                        outstanding.push((i, undo));
                    }
                    if is_repair(&step.action) {
                        // An explicit repair step undoes the faults before it.
                        outstanding.retain(|(_, u)| !same_target(u, &step.action));
                    }
                }
                Err(applied) => {
                    // Applied but not proven: it may still be half on.
                    if applied {
                        if let Some(undo) = step.action.undo() {
                            outstanding.push((i, undo));
                        }
                    }
                    aborted = true;
                    break;
                }
            }
            if let Some(d) = step.duration {
                tokio::time::sleep(d).await;
                if let Some(pos) = outstanding.iter().position(|(j, _)| *j == i) {
                    let (_, undo) = outstanding.remove(pos);
                    self.before_removal().await;
                    let undo_step = Step {
                        action: undo,
                        duration: None,
                        line: step.line,
                    };
                    let _ = self.act(ActionStage::Undo, &undo_step).await;
                }
            }
        }
        if aborted {
            // Whatever was injected comes out again, newest first.
            self.before_removal().await;
            for (i, undo) in outstanding.drain(..).rev() {
                let undo_step = Step {
                    action: undo,
                    duration: None,
                    line: self.exp.method[i].line,
                };
                let _ = self.act(ActionStage::Undo, &undo_step).await;
            }
        }
        if !self.exp.rollbacks.is_empty() {
            self.before_removal().await;
        }
        for step in &self.exp.rollbacks {
            let _ = self.act(ActionStage::Rollback, step).await;
        }
        self.window.close();
        let end = Instant::now();
        let end_ms = self.journal.ms_of(end);
        let detail = match start_ms {
            Some(_) => "every fault removed; recovery is timed from here".to_string(),
            None if !aborted && !self.exp.method.iter().any(|s| is_fault(&s.action)) => {
                "the method is done (it has no fault)".to_string()
            }
            None => "no fault was injected".to_string(),
        };
        self.journal.event_at(end_ms, EventKind::FaultEnd, detail);
        FaultTimes {
            start_ms,
            end_ms,
            end,
        }
    }

    /// Applies and proves one step's action, recording both. `Err` when it
    /// could not be done or proven (already in the verdict), with whether
    /// it was applied.
    async fn act(&self, stage: ActionStage, step: &Step) -> Result<(), bool> {
        let started = Instant::now();
        let at_ms = self.journal.ms_of(started);
        let described = step.describe();
        let (done_kind, ok_kind, fail_kind, failure) = match stage {
            ActionStage::Method => (
                EventKind::FaultInjected,
                EventKind::FaultProven,
                EventKind::InjectionFailed,
                "could not inject",
            ),
            ActionStage::Undo => (
                EventKind::FaultRemoved,
                EventKind::RollbackProven,
                EventKind::RollbackFailed,
                "could not remove the fault",
            ),
            ActionStage::Rollback => (
                EventKind::RollbackRun,
                EventKind::RollbackProven,
                EventKind::RollbackFailed,
                "rollback failed",
            ),
        };
        let record = |done: bool, proven: bool, detail: String| ActionRecord {
            at_ms,
            stage,
            action: described.clone(),
            done,
            proven,
            detail,
            millis: started.elapsed().as_millis() as u64,
        };
        if let Some(result) = self.work(&step.action).await {
            return match result {
                Ok(done) => {
                    self.published
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend(done.ids);
                    self.journal.event_at(
                        at_ms,
                        EventKind::ActionDone,
                        format!("{described}: {}", done.detail),
                    );
                    self.journal.action(record(true, true, done.detail));
                    Ok(())
                }
                Err(e) => {
                    self.journal.event_at(
                        at_ms,
                        EventKind::ActionFailed,
                        format!("{described}: {e}"),
                    );
                    self.fail(format!("action failed: {described}: {e}"));
                    self.journal.action(record(false, false, e));
                    Err(false)
                }
            };
        }
        let applied = match faults::apply(self.ctx, &step.action).await {
            Ok(a) => a,
            Err(faults::NotApplied { message: e, partly }) => {
                self.journal.event(fail_kind, format!("{described}: {e}"));
                self.fail(format!("{failure}: {described}: {e}"));
                self.journal.action(record(partly, false, e));
                return Err(partly);
            }
        };
        if matches!(step.action, Action::Sleep) {
            self.journal.action(record(true, true, "slept".into()));
            return Ok(());
        }
        self.journal
            .event_at(at_ms, done_kind, format!("{described}: {}", applied.detail));
        match faults::prove(self.ctx, &step.action, &applied).await {
            Ok(seen) => {
                self.journal.event(ok_kind, seen.clone());
                self.journal
                    .action(record(true, true, format!("{}; {seen}", applied.detail)));
                Ok(())
            }
            Err(e) => {
                self.journal.event(fail_kind, format!("{described}: {e}"));
                self.fail(format!("{failure}: {described}: {e}"));
                self.journal
                    .action(record(true, false, format!("{}; {e}", applied.detail)));
                Err(true)
            }
        }
    }

    /// Runs an `exec`, `publish` or `http` action; `None` for the others
    /// (faults, done by [`faults`]).
    async fn work(&self, action: &Action) -> Option<Result<workload::Done, String>> {
        Some(match action {
            Action::Exec {
                service,
                command,
                expect_exit,
                ..
            } => workload::exec(self.ctx, service, command, *expect_exit, &self.scope).await,
            Action::Publish(spec) => workload::publish(self.ctx, spec, &self.scope).await,
            Action::Http(h) => workload::http(self.ctx, &self.http, h, &self.scope).await,
            _ => return None,
        })
    }

    /// Polls each `[after_fault]` probe from the end of the fault until it
    /// passes once, or `within` is over.
    async fn after_fault(&self, spec: &AfterFault, times: &FaultTimes) -> Vec<AfterFaultResult> {
        join_all(
            spec.probes
                .iter()
                .map(|probe| self.after_fault_probe(probe, spec, times)),
        )
        .await
    }

    async fn after_fault_probe(
        &self,
        probe: &Probe,
        spec: &AfterFault,
        times: &FaultTimes,
    ) -> AfterFaultResult {
        let deadline = times.end + spec.within;
        let mut result = AfterFaultResult {
            probe: probe.name.clone(),
            passed: false,
            took_ms: None,
            within_ms: spec.within.as_millis() as u64,
            evaluations: 0,
            last_observation: None,
        };
        loop {
            let began = Instant::now();
            let outcome =
                probes::evaluate(self.ctx, &self.http, probe, &Round::new(), &self.scope).await;
            let at_ms = self.journal.now_ms();
            result.evaluations += 1;
            result.last_observation = Some(outcome.observation.clone());
            self.journal.probe(ProbeResult {
                at_ms,
                phase: Phase::AfterFault,
                role: ProbeRole::AfterFault,
                probe: probe.name.clone(),
                ok: outcome.ok,
                observation: outcome.observation.clone(),
                millis: outcome.millis,
            });
            // Only a result seen in time counts.
            if outcome.ok && Instant::now() <= deadline {
                let took = at_ms.saturating_sub(times.end_ms);
                result.passed = true;
                result.took_ms = Some(took);
                self.journal.event_at(
                    at_ms,
                    EventKind::AfterFaultPassed,
                    format!(
                        "{}: passed {:.3} s after the fault ended: {}",
                        probe.name,
                        took as f64 / 1000.0,
                        outcome.observation
                    ),
                );
                return result;
            }
            if Instant::now() >= deadline {
                let detail = format!(
                    "{}: not passed within {} of the fault's end ({} tries): {}",
                    probe.name,
                    human(spec.within),
                    result.evaluations,
                    outcome.observation
                );
                self.journal.event(EventKind::AfterFaultMissed, &detail);
                self.fail(format!("after the fault: {detail}"));
                return result;
            }
            let pause = spec.every.saturating_sub(began.elapsed());
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    /// Reads the delivered and dead-lettered ids until every published
    /// event is in one of them, or the deadline; then the verdict.
    async fn account(&self, spec: &AccountingSpec, times: &FaultTimes) -> AccountingReport {
        let published = self
            .published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let deadline = times.end + spec.within;
        let (tally, settled_ms, error) = loop {
            let began = Instant::now();
            let read = async {
                let delivered = accounting::read_ids(
                    self.ctx,
                    &self.http,
                    &spec.delivered,
                    &spec.id_field,
                    &self.scope,
                )
                .await
                .map_err(|e| format!("delivered ({}): {e}", spec.delivered.describe()))?;
                let dead = match &spec.dead_letter {
                    Some(source) => accounting::read_ids(
                        self.ctx,
                        &self.http,
                        source,
                        &spec.id_field,
                        &self.scope,
                    )
                    .await
                    .map_err(|e| format!("dead letters ({}): {e}", source.describe()))?,
                    None => Vec::new(),
                };
                Ok::<_, String>(accounting::tally(&published, &delivered, &dead))
            }
            .await;
            let at_ms = self.journal.now_ms();
            let late = Instant::now() >= deadline;
            match read {
                Ok(t) if t.lost.is_empty() => {
                    break (t, Some(at_ms.saturating_sub(times.end_ms)), None)
                }
                Ok(t) if late => break (t, None, None),
                Err(e) if late => break (accounting::tally(&published, &[], &[]), None, Some(e)),
                _ => {}
            }
            tokio::time::sleep(ACCOUNTING_POLL.saturating_sub(began.elapsed())).await;
        };
        let mut report = AccountingReport::new(spec, &tally, settled_ms, error);
        if !report.passed && report.lost > 0 {
            if let Some(p) = &spec.pending {
                report.pending = Some(accounting::pending(self.ctx, p, &self.scope).await);
            }
        }
        let line = report.summary_line();
        if report.passed {
            self.journal.event(EventKind::AccountingPassed, &line);
        } else {
            self.journal.event(EventKind::AccountingFailed, &line);
            self.fail(line);
        }
        report
    }

    /// Just before a fault is removed: `expect_during_fault` probes not yet
    /// seen get one more look, so a short fault is observed at least once.
    async fn before_removal(&self) {
        if self.window.current().is_some() {
            let round = Round::new();
            let pending: Vec<(usize, &Probe)> = self.unseen_during();
            join_all(
                pending
                    .into_iter()
                    .map(|(i, p)| self.during_probe(i, p, &round)),
            )
            .await;
        }
        self.window.close();
    }

    fn unseen_during(&self) -> Vec<(usize, &Probe)> {
        let during = self.during.lock().unwrap_or_else(|e| e.into_inner());
        self.exp
            .expect_during_fault
            .iter()
            .enumerate()
            .filter(|(i, _)| !during[*i].seen)
            .collect()
    }

    async fn during_probe(&self, index: usize, probe: &Probe, round: &Round) {
        let Some(epoch) = self.window.current() else {
            return;
        };
        let outcome = probes::evaluate(self.ctx, &self.http, probe, round, &self.scope).await;
        let at_ms = self.journal.now_ms();
        // Only while the same fault was on from start to finish.
        let counts = self.window.current() == Some(epoch);
        self.journal.probe(ProbeResult {
            at_ms,
            phase: Phase::Fault,
            role: ProbeRole::DuringFault,
            probe: probe.name.clone(),
            ok: outcome.ok && counts,
            observation: outcome.observation.clone(),
            millis: outcome.millis,
        });
        if !counts {
            return;
        }
        let first = {
            let mut during = self.during.lock().unwrap_or_else(|e| e.into_inner());
            let d = &mut during[index];
            d.last_observation = Some(outcome.observation.clone());
            if outcome.ok && !d.seen {
                d.seen = true;
                d.first_seen_ms = Some(at_ms);
                true
            } else {
                false
            }
        };
        if first {
            self.journal.event_at(
                at_ms,
                EventKind::DuringFaultOk,
                format!("{}: {}", probe.name, outcome.observation),
            );
        }
    }

    fn judge_during_fault(&self, injected: bool) {
        if !injected {
            return;
        }
        let during = self
            .during
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for d in during.iter().filter(|d| !d.seen) {
            let last = d
                .last_observation
                .clone()
                .unwrap_or_else(|| "never evaluated while the fault was on".into());
            self.journal
                .event(EventKind::DuringFaultMissed, format!("{}: {last}", d.probe));
            self.fail(format!(
                "expected during the fault but never seen: {} (last: {last})",
                d.probe
            ));
        }
    }

    /// Polls the steady state (and unseen during-fault probes) until the
    /// fault phase is over.
    async fn monitor(&self, mut done: watch::Receiver<bool>) {
        loop {
            if *done.borrow() {
                return;
            }
            let began = Instant::now();
            let round = async {
                let r = Round::new();
                let unseen = self.unseen_during();
                futures::join!(
                    self.steady_round_with(Phase::Fault, &r),
                    join_all(unseen.into_iter().map(|(i, p)| self.during_probe(i, p, &r)))
                );
            };
            tokio::select! {
                _ = round => {}
                _ = done.wait_for(|d| *d) => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL.saturating_sub(began.elapsed())) => {}
                _ = done.wait_for(|d| *d) => return,
            }
        }
    }

    async fn steady_round(&self, phase: Phase) -> (bool, Vec<String>) {
        self.steady_round_with(phase, &Round::new()).await
    }

    /// Every steady-state probe once, concurrently; records the results and
    /// the first failure after the fault started.
    async fn steady_round_with(&self, phase: Phase, round: &Round) -> (bool, Vec<String>) {
        let outcomes = join_all(self.exp.steady_state.iter().map(|p| async move {
            let o = probes::evaluate(self.ctx, &self.http, p, round, &self.scope).await;
            (p, o, self.journal.now_ms())
        }))
        .await;
        let mut failures = Vec::new();
        for (probe, outcome, at_ms) in outcomes {
            self.journal.probe(ProbeResult {
                at_ms,
                phase,
                role: ProbeRole::SteadyState,
                probe: probe.name.clone(),
                ok: outcome.ok,
                observation: outcome.observation.clone(),
                millis: outcome.millis,
            });
            if !outcome.ok {
                let text = format!("{}: {}", probe.name, outcome.observation);
                if phase != Phase::Before {
                    let mut first = self.first_failed.lock().unwrap_or_else(|e| e.into_inner());
                    if first.is_none() {
                        *first = Some(at_ms);
                        drop(first);
                        self.journal
                            .event_at(at_ms, EventKind::FirstFailedProbe, text.clone());
                    }
                }
                failures.push(text);
            }
        }
        (failures.is_empty(), failures)
    }

    /// Polls until the steady state holds for [`CONFIRM_ROUNDS`] rounds.
    async fn recover(&self, times: &FaultTimes, recovery: &mut Recovery) {
        let timeout = self.exp.thresholds.recovery_timeout();
        let deadline = times.end + timeout;
        let mut streak: Option<(u64, u32)> = None;
        loop {
            let began = Instant::now();
            let (ok, failures) = self.steady_round(Phase::Recovery).await;
            let at_ms = self.journal.now_ms();
            if ok {
                if recovery.first_good_probe_ms.is_none() {
                    recovery.first_good_probe_ms = Some(at_ms);
                    self.journal.event_at(
                        at_ms,
                        EventKind::FirstGoodProbe,
                        format!(
                            "all {} steady-state probes pass",
                            self.exp.steady_state.len()
                        ),
                    );
                }
                let (since, n) = streak.unwrap_or((at_ms, 0));
                streak = Some((since, n + 1));
                if n + 1 >= CONFIRM_ROUNDS {
                    let from_end = since.saturating_sub(times.end_ms);
                    recovery.recovered_ms = Some(since);
                    recovery.from_fault_end_ms = Some(from_end);
                    recovery.from_fault_start_ms = times.start_ms.map(|s| since.saturating_sub(s));
                    self.journal.event_at(
                        since,
                        EventKind::Recovered,
                        format!(
                            "steady state back {:.3} s after the fault ended{} (held {} rounds)",
                            from_end as f64 / 1000.0,
                            recovery
                                .from_fault_start_ms
                                .map(|s| format!(", {:.3} s after it started", s as f64 / 1000.0))
                                .unwrap_or_default(),
                            CONFIRM_ROUNDS
                        ),
                    );
                    return;
                }
            } else {
                streak = None;
            }
            if Instant::now() >= deadline {
                let detail = format!(
                    "steady state not back within {} of the fault's end: {}",
                    human(timeout),
                    if failures.is_empty() {
                        "it held, but not for long enough".to_string()
                    } else {
                        failures.join("; ")
                    }
                );
                self.journal.event(EventKind::NotRecovered, &detail);
                self.fail(detail);
                return;
            }
            tokio::time::sleep(POLL_INTERVAL.saturating_sub(began.elapsed())).await;
        }
    }

    fn thresholds(&self, recovery: &Recovery) -> Vec<ThresholdResult> {
        let t = &self.exp.thresholds;
        let mut results = Vec::new();
        for (name, limit, observed) in [
            ("rto", t.rto, recovery.from_fault_end_ms),
            (
                "rto_from_start",
                t.rto_from_start,
                recovery.from_fault_start_ms,
            ),
        ] {
            let Some(limit) = limit else { continue };
            let limit_ms = limit.as_millis() as u64;
            let passed = observed.is_some_and(|o| o <= limit_ms);
            let seen = observed
                .map(|o| format!("{:.3} s", o as f64 / 1000.0))
                .unwrap_or_else(|| "no recovery".into());
            let detail = format!("{name} {seen} (limit {})", human(limit));
            if passed {
                self.journal.event(EventKind::ThresholdPassed, detail);
            } else {
                self.journal.event(EventKind::ThresholdBreached, &detail);
                self.fail(format!("threshold breached: {detail}"));
            }
            results.push(ThresholdResult {
                name: name.into(),
                limit_ms,
                observed_ms: observed,
                passed,
            });
        }
        results
    }
}

/// Actions that repair rather than break: while they run, the fault is
/// being removed.
fn is_repair(action: &Action) -> bool {
    matches!(
        action,
        Action::StartContainer { .. }
            | Action::UnpauseContainer { .. }
            | Action::Pm2Resurrect
            | Action::Pm2Restart { .. }
            | Action::RemoveToxic { .. }
            | Action::ProxyUp { .. }
    )
}

/// Actions that break something: they open the fault window and start the
/// fault clock (not sleeps, repairs or traffic).
fn is_fault(action: &Action) -> bool {
    !matches!(action, Action::Sleep) && !is_repair(action) && !action.is_traffic()
}

/// True if `repair` is the same action as the pending undo `undo`.
fn same_target(undo: &Action, repair: &Action) -> bool {
    undo == repair
}

/// Compile-time check: the CLI may spawn an experiment or race it against
/// Ctrl-C on a multi-threaded runtime.
#[allow(dead_code)]
fn run_experiment_is_send<'a>(
    ctx: &'a ChaosContext,
    exp: &'a Experiment,
    on_event: &'a mut (dyn FnMut(&TimelineEvent) + Send),
) -> impl std::future::Future<Output = ExperimentReport> + Send + 'a {
    run_experiment(ctx, exp, on_event)
}

/// Compile-time check, as above, for healing on interrupt.
#[allow(dead_code)]
fn heal_is_send(
    ctx: &ChaosContext,
) -> impl std::future::Future<Output = Result<Vec<String>, crate::ChaosError>> + Send + '_ {
    crate::heal(ctx)
}
