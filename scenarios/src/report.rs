//! What a load run measured (`load.json`), and the recorder that our
//! transactions write into while the attack runs.
//!
//! Latencies come from HDR histograms (`hdrhistogram`, 3 significant
//! digits, microseconds) recorded by gauntlet's transactions themselves, not
//! from goose's metrics: in open mode from each request's intended send
//! time, in closed mode from the moment it was sent until its body was read.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// Counts and latency of one transaction (or all) in one phase (or the run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Requests that got an answer or failed in transport.
    pub count: u64,
    /// Answers the transaction expected (2xx).
    pub ok: u64,
    pub errors_total: u64,
    /// Errors by reason: `"500 INTERNAL"`, `"401 AUTH001"`, `"transport: timeout"`...
    /// (contract violations included, under their symptom).
    pub errors: BTreeMap<String, u64>,
    /// The same errors by class ([`error_class`]): `connect refused`,
    /// `reset`, `timeout`, `too many open files`, `http 4xx`, `http 5xx`,
    /// `contract`... so a run that failed tells where at a glance.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_classes: BTreeMap<String, u64>,
    /// The errors that broke a transaction's contract (the contention
    /// bursts: `"idempotency key replay created 8 orders"`), by symptom.
    /// Any of them fails the run.
    #[serde(default)]
    pub violations_total: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub violations: BTreeMap<String, u64>,
    /// Expected business answers, not errors: `"409 INV001"` (out of
    /// stock), `"429 RATE001"` (rate limited).
    pub refusals_total: u64,
    pub refusals: BTreeMap<String, u64>,
    /// `errors_total / count`, in percent (0 without requests).
    pub error_rate_pct: f64,
    /// Requests per second over the phase (or the run).
    pub rps: f64,
    /// Over every request counted (ok, refused and failed alike).
    pub latency_ms: LatencyMs,
}

/// One transaction (or `all`): the whole run and each phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    pub run: Summary,
    /// By phase name; phases without requests are left out.
    pub phases: BTreeMap<String, Summary>,
}

/// Where a phase lies on the run's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseWindow {
    pub name: String,
    /// Seconds from the start of the attack.
    pub start_s: f64,
    pub end_s: f64,
    /// Closed mode: user target at the end of the phase; open mode: the pool.
    pub users: u32,
    /// Open mode: requests per second.
    pub rate: Option<f64>,
}

/// How well the open-model schedule was kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenModelStats {
    /// Arrivals in the schedule.
    pub planned: u64,
    /// Requests sent on a slot of the schedule.
    pub sent: u64,
    /// Slots that fell before their user had registered (not sent).
    pub skipped_at_start: u64,
    /// Requests sent more than 10 ms after their intended time (their user
    /// was still waiting for an earlier answer): the queueing the latency
    /// figures include.
    pub late_over_10ms: u64,
    /// How late the sends were (actual − intended send time).
    pub send_lag_ms: LatencyMs,
}

/// What goose itself saw (its own reports have the details).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GooseSummary {
    pub requests: u64,
    pub failures: u64,
    /// Goose's coordinated-omission mitigation setting.
    pub co_mitigation: String,
    /// Closed mode: stalls goose detected, and the requests it backfilled
    /// into its own reports (not into `load.json`).
    pub co_events: u64,
    pub co_synthetic_requests: u64,
    /// Goose's own report files, relative to the output folder.
    pub reports: Vec<String>,
}

/// `load.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    pub profile: String,
    /// `"closed"` or `"open"`.
    pub mode: String,
    /// How latency was measured, e.g. `"open-model, measured from intended send time"`.
    pub latency_mode: String,
    pub target: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_s: f64,
    pub users: u32,
    pub phases: Vec<PhaseWindow>,
    /// Every request of the run, all transactions together, except those
    /// of the transactions kept `apart`: the global SLOs judge this.
    pub all: Breakdown,
    /// Transactions not counted in `all`: the contention bursts
    /// (`hot_checkout`, `checkout_replay`, `webhook_replay`), whose
    /// requests queue on one another by design. Their contracts and their
    /// own `[transaction.NAME]` SLOs judge them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apart: Vec<String>,
    /// By transaction name (`browse_list`, ..., the per-user setup
    /// requests `register`, `login`, `catalog` when built-in transactions
    /// run, and the profile's own transactions).
    pub transactions: BTreeMap<String, Breakdown>,
    pub open_model: Option<OpenModelStats>,
    /// Why the attack stopped early, if it did.
    pub aborted: Option<String>,
    /// Goose's own view: only when the run kept goose's per-request
    /// metrics (`--goose-reports`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goose: Option<GooseSummary>,
    /// What the generator itself used: its open-file limit, CPU and memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<crate::host::GeneratorStats>,
    /// A profile's own transactions: the first failed answer of each, in
    /// full (request, and what `expect` saw; secrets masked). The contention
    /// bursts: the first contract violation of each, in full.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_examples: BTreeMap<String, String>,
}

impl LoadReport {
    /// The per-transaction table the terminal shows: counts, errors,
    /// refusals, rate and latency percentiles, with an `all` row last.
    pub fn transaction_table(&self) -> String {
        let mut out = format!(
            "{:<16} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
            "TRANSACTION",
            "COUNT",
            "ERRORS",
            "REFUSED",
            "RPS",
            "P50 MS",
            "P95 MS",
            "P99 MS",
            "MAX MS"
        );
        let all = "all".to_string();
        for (name, b) in self.transactions.iter().chain([(&all, &self.all)]) {
            let s = &b.run;
            let l = &s.latency_ms;
            out.push_str(&format!(
                "{name:<16} {:>7} {:>7} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1}\n",
                s.count, s.errors_total, s.refusals_total, s.rps, l.p50, l.p95, l.p99, l.max
            ));
        }
        if !self.apart.is_empty() {
            out.push_str(&format!(
                "(all: without {}, contention bursts judged by their contracts and own SLOs)\n",
                self.apart.join(", ")
            ));
        }
        out.push_str(&self.error_class_line());
        out.push_str(&self.violation_lines());
        out
    }

    /// `errors by class: reset 120, http 5xx 3` over every transaction
    /// (empty without errors).
    pub fn error_class_line(&self) -> String {
        let mut classes: BTreeMap<&str, u64> = BTreeMap::new();
        for b in self.transactions.values() {
            for (class, n) in &b.run.error_classes {
                *classes.entry(class).or_default() += n;
            }
        }
        if classes.is_empty() {
            return String::new();
        }
        let mut by_count: Vec<(&str, u64)> = classes.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let parts: Vec<String> = by_count.iter().map(|(c, n)| format!("{c} {n}")).collect();
        format!("errors by class: {}\n", parts.join(", "))
    }

    /// The contract violations, by transaction and symptom, with the first
    /// one in full (empty when there are none).
    pub fn violation_lines(&self) -> String {
        let broken: Vec<(&String, &Summary)> = self
            .transactions
            .iter()
            .map(|(n, b)| (n, &b.run))
            .filter(|(_, s)| s.violations_total > 0)
            .collect();
        if broken.is_empty() {
            return String::new();
        }
        let mut out = String::from("\ncontract violations (each fails the run):\n");
        for (name, s) in broken {
            for (symptom, n) in &s.violations {
                out.push_str(&format!("  {name}: {symptom} ({n} answers)\n"));
            }
            if let Some(first) = self.error_examples.get(name) {
                out.push_str(&format!("    first: {first}\n"));
            }
        }
        out
    }

    pub fn load(path: &Path) -> std::io::Result<LoadReport> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }

    /// Phase names in run order, as they appear in the breakdowns.
    pub fn phase_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        if self.all.phases.contains_key(SETUP_PHASE) {
            names.push(SETUP_PHASE.to_string());
        }
        names.extend(self.phases.iter().map(|p| p.name.clone()));
        names
    }
}

/// Open mode: the pseudo-phase of requests made while the user pool starts
/// (registration, login, catalog), before the schedule begins.
pub const SETUP_PHASE: &str = "setup";

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Expected business answer (`"409 INV001"`, `"429 RATE001"`).
    Refused(String),
    /// Anything else: unexpected status or transport failure.
    Error(String),
    /// An answer that broke the transaction's contract (a contention
    /// burst's check), named by its symptom: an error that fails the run.
    Violation(String),
}

const HIST_MAX_US: u64 = 3_600_000_000;

/// Every latency histogram of a run: 1 µs to 1 h, 3 significant digits.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("valid histogram bounds")
}

/// What one transaction recorded in one phase.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cell {
    pub count: u64,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub violations: BTreeMap<String, u64>,
    pub refusals: BTreeMap<String, u64>,
    pub hist: Histogram<u64>,
}

impl Cell {
    pub fn new() -> Cell {
        Cell {
            count: 0,
            ok: 0,
            errors: BTreeMap::new(),
            violations: BTreeMap::new(),
            refusals: BTreeMap::new(),
            hist: new_histogram(),
        }
    }

    pub fn add(&mut self, other: &Cell) {
        self.count += other.count;
        self.ok += other.ok;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.violations {
            *self.violations.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.refusals {
            *self.refusals.entry(k.clone()).or_default() += v;
        }
        self.hist.add(&other.hist).expect("same histogram bounds");
    }

    fn summary(&self, seconds: f64) -> Summary {
        let errors_total: u64 = self.errors.values().sum();
        let refusals_total: u64 = self.refusals.values().sum();
        Summary {
            count: self.count,
            ok: self.ok,
            errors_total,
            errors: self.errors.clone(),
            error_classes: error_classes(&self.errors, &self.violations),
            violations_total: self.violations.values().sum(),
            violations: self.violations.clone(),
            refusals_total,
            refusals: self.refusals.clone(),
            error_rate_pct: if self.count == 0 {
                0.0
            } else {
                errors_total as f64 * 100.0 / self.count as f64
            },
            rps: if seconds > 0.0 {
                self.count as f64 / seconds
            } else {
                0.0
            },
            latency_ms: latency_of(&self.hist),
        }
    }
}

/// The class of an error reason: `"transport: reset"` → `reset`,
/// `"503 UNAVAILABLE"` → `http 5xx`, `"200, expected status = 201"` →
/// `http 2xx unexpected`; anything else (a broken contract) → `contract`.
pub fn error_class(reason: &str) -> String {
    if let Some(kind) = reason.strip_prefix("transport: ") {
        return kind.to_string();
    }
    let status = reason
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|d| d.parse::<u16>().ok())
        .filter(|s| (100..600).contains(s));
    match status {
        Some(s) if (200..300).contains(&s) => "http 2xx unexpected".to_string(),
        Some(s) => format!("http {}xx", s / 100),
        None => "contract".to_string(),
    }
}

fn error_classes(
    errors: &BTreeMap<String, u64>,
    violations: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    let mut classes = BTreeMap::new();
    for (reason, n) in errors {
        let class = if violations.contains_key(reason) {
            "contract".to_string()
        } else {
            error_class(reason)
        };
        *classes.entry(class).or_default() += n;
    }
    classes
}

pub(crate) fn latency_of(h: &Histogram<u64>) -> LatencyMs {
    if h.is_empty() {
        return LatencyMs::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    LatencyMs {
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
        mean: (h.mean()).round() / 1000.0,
    }
}

/// What a run recorded, raw: cells by (transaction, index of the phase in
/// [`PhaseClock::names`]) and the open model's send lag and counters. One
/// lock shard of a live [`Recorder`] (`K = &'static str`), all of them
/// merged, or a load generator's part of a sharded run read back from its
/// `shard.json` (`K = String`, see [`crate::shard`]).
#[derive(Clone, Debug)]
pub(crate) struct Recorded<K> {
    pub cells: HashMap<(K, usize), Cell>,
    pub lag: Option<Histogram<u64>>,
    pub sent: u64,
    pub late: u64,
    pub skipped: u64,
}

impl<K> Default for Recorded<K> {
    fn default() -> Self {
        Recorded {
            cells: HashMap::new(),
            lag: None,
            sent: 0,
            late: 0,
            skipped: 0,
        }
    }
}

impl<K: Clone + Eq + std::hash::Hash> Recorded<K> {
    /// Adds `other` in: counts and histograms add exactly.
    pub fn add(&mut self, other: &Recorded<K>) {
        for (k, c) in &other.cells {
            match self.cells.get_mut(k) {
                Some(have) => have.add(c),
                None => {
                    self.cells.insert(k.clone(), c.clone());
                }
            }
        }
        if let Some(h) = &other.lag {
            self.lag
                .get_or_insert_with(new_histogram)
                .add(h)
                .expect("same histogram bounds");
        }
        self.sent += other.sent;
        self.late += other.late;
        self.skipped += other.skipped;
    }
}

type Shard = Recorded<&'static str>;

/// The breakdowns of `all` and of each transaction, and the open-model
/// stats when `planned` is given (open mode).
pub(crate) type Snapshot = (
    Breakdown,
    BTreeMap<String, Breakdown>,
    Option<OpenModelStats>,
);

/// The breakdowns of what a run recorded: the one place counts become
/// summaries and histograms percentiles, for a live [`Recorder`] and for
/// merged shards alike. `names[i]` is the name of phase index `i`,
/// `phase_seconds[i]` its length and `run_seconds` the run's (for requests
/// per second); the transactions in `apart` are left out of `all`.
pub(crate) fn breakdowns<K: AsRef<str> + Eq + std::hash::Hash>(
    data: &Recorded<K>,
    names: &[String],
    apart: &[&str],
    phase_seconds: &[f64],
    run_seconds: f64,
    planned: Option<u64>,
) -> Snapshot {
    let secs = |i: usize| phase_seconds.get(i).copied().unwrap_or(0.0);
    let mut by_txn: BTreeMap<&str, (Cell, BTreeMap<usize, Cell>)> = BTreeMap::new();
    let mut all_run = Cell::new();
    let mut all_phases: BTreeMap<usize, Cell> = BTreeMap::new();
    for ((txn, phase), cell) in &data.cells {
        let txn = txn.as_ref();
        let entry = by_txn
            .entry(txn)
            .or_insert_with(|| (Cell::new(), BTreeMap::new()));
        entry.0.add(cell);
        entry.1.entry(*phase).or_insert_with(Cell::new).add(cell);
        if apart.contains(&txn) {
            continue;
        }
        all_run.add(cell);
        all_phases.entry(*phase).or_insert_with(Cell::new).add(cell);
    }
    let name = |i: usize| names.get(i).cloned().unwrap_or_default();
    let breakdown = |run: &Cell, phases: &BTreeMap<usize, Cell>| Breakdown {
        run: run.summary(run_seconds),
        phases: phases
            .iter()
            .map(|(i, c)| (name(*i), c.summary(secs(*i))))
            .collect(),
    };
    let all = breakdown(&all_run, &all_phases);
    let transactions = by_txn
        .iter()
        .map(|(t, (run, phases))| (t.to_string(), breakdown(run, phases)))
        .collect();
    let open = planned.map(|planned| OpenModelStats {
        planned,
        sent: data.sent,
        skipped_at_start: data.skipped,
        late_over_10ms: data.late,
        send_lag_ms: data.lag.as_ref().map(latency_of).unwrap_or_default(),
    });
    (all, transactions, open)
}

/// Phase boundaries on the run's clock.
#[derive(Debug, Clone)]
pub(crate) struct PhaseClock {
    /// Phase names; in open mode index 0 is [`SETUP_PHASE`].
    pub names: Vec<String>,
    /// `(start, end)` from the schedule epoch, for `names[first_real..]`.
    pub windows: Vec<(Duration, Duration)>,
    /// Open mode: requests before the schedule epoch belong to the setup phase.
    pub has_setup: bool,
}

impl PhaseClock {
    pub fn new(phases: &[(String, Duration)], has_setup: bool) -> PhaseClock {
        let mut names = Vec::new();
        if has_setup {
            names.push(SETUP_PHASE.to_string());
        }
        let mut windows = Vec::new();
        let mut at = Duration::ZERO;
        for (name, d) in phases {
            names.push(name.clone());
            windows.push((at, at + *d));
            at += *d;
        }
        PhaseClock {
            names,
            windows,
            has_setup,
        }
    }

    /// Index into `names` of the phase a request started at `since_epoch`
    /// belongs to (`None` = before the epoch). Requests after the last
    /// phase's end (in flight when the users were stopped) count in the
    /// last phase.
    pub fn index(&self, since_epoch: Option<Duration>) -> usize {
        let offset = usize::from(self.has_setup);
        let Some(t) = since_epoch else {
            return 0;
        };
        for (i, (_, end)) in self.windows.iter().enumerate() {
            if t < *end {
                return i + offset;
            }
        }
        self.names.len().saturating_sub(1)
    }
}

/// Shared by every user of one attack.
pub(crate) struct Recorder {
    shards: Vec<Mutex<Shard>>,
    /// Transactions left out of the `all` breakdown.
    apart: Vec<&'static str>,
    pub clock: PhaseClock,
    base: Instant,
    /// Nanoseconds from `base` to the schedule epoch (phase 0 start);
    /// `u64::MAX` until the attack starts.
    epoch_ns: AtomicU64,
}

const SHARDS: usize = 8;

impl Recorder {
    pub fn new(clock: PhaseClock) -> Recorder {
        Recorder {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            apart: Vec::new(),
            clock,
            base: Instant::now(),
            epoch_ns: AtomicU64::new(u64::MAX),
        }
    }

    /// Leaves `names` out of the `all` breakdown (they still have their own).
    pub fn keeping_apart(mut self, names: Vec<&'static str>) -> Recorder {
        self.apart = names;
        self
    }

    pub fn apart(&self) -> Vec<String> {
        self.apart.iter().map(|n| n.to_string()).collect()
    }

    /// Sets the epoch of the phases (only the first call counts).
    pub fn set_epoch(&self, at: Instant) {
        let ns = at.saturating_duration_since(self.base).as_nanos() as u64;
        let _ = self
            .epoch_ns
            .compare_exchange(u64::MAX, ns, Ordering::SeqCst, Ordering::SeqCst);
    }

    pub fn epoch(&self) -> Option<Instant> {
        match self.epoch_ns.load(Ordering::SeqCst) {
            u64::MAX => None,
            ns => Some(self.base + Duration::from_nanos(ns)),
        }
    }

    fn phase_of(&self, at: Instant) -> usize {
        let since = self
            .epoch()
            .and_then(|e| at.checked_duration_since(e))
            .or_else(|| self.epoch().is_none().then_some(Duration::ZERO));
        self.clock.index(since)
    }

    /// Records one request of `transaction`, started (or intended) at `at`.
    pub fn record(
        &self,
        user: usize,
        transaction: &'static str,
        at: Instant,
        latency: Duration,
        outcome: Outcome,
    ) {
        let phase = self.phase_of(at);
        let mut shard = self.shards[user % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let cell = shard
            .cells
            .entry((transaction, phase))
            .or_insert_with(Cell::new);
        cell.count += 1;
        match outcome {
            Outcome::Ok => cell.ok += 1,
            Outcome::Refused(r) => *cell.refusals.entry(r).or_default() += 1,
            Outcome::Error(r) => *cell.errors.entry(r).or_default() += 1,
            Outcome::Violation(r) => {
                *cell.violations.entry(r.clone()).or_default() += 1;
                *cell.errors.entry(r).or_default() += 1;
            }
        }
        let us = (latency.as_micros() as u64).max(1);
        cell.hist.saturating_record(us);
    }

    /// Open mode: a request sent `lag` after its intended time.
    pub fn record_send(&self, user: usize, lag: Duration) {
        let mut shard = self.shards[user % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        shard.sent += 1;
        if lag > Duration::from_millis(10) {
            shard.late += 1;
        }
        shard
            .lag
            .get_or_insert_with(new_histogram)
            .saturating_record((lag.as_micros() as u64).max(1));
    }

    /// Open mode: `n` slots skipped because the user was not ready yet.
    pub fn record_skipped(&self, user: usize, n: u64) {
        let mut shard = self.shards[user % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        shard.skipped += n;
    }

    fn merged(&self) -> Shard {
        let mut merged = Shard::default();
        for s in &self.shards {
            merged.add(&s.lock().unwrap_or_else(|p| p.into_inner()));
        }
        merged
    }

    /// Everything recorded so far, merged, with owned names (for
    /// `shard.json`).
    pub fn export(&self) -> Recorded<String> {
        let Shard {
            cells,
            lag,
            sent,
            late,
            skipped,
        } = self.merged();
        Recorded {
            cells: cells
                .into_iter()
                .map(|((t, p), c)| ((t.to_string(), p), c))
                .collect(),
            lag,
            sent,
            late,
            skipped,
        }
    }

    /// The breakdowns so far: `(all, by transaction, open-model stats)`.
    /// `phase_seconds[i]` is the length of `clock.names[i]`, `run_seconds`
    /// that of the run (for requests per second).
    pub fn snapshot(
        &self,
        phase_seconds: &[f64],
        run_seconds: f64,
        planned: Option<u64>,
    ) -> Snapshot {
        breakdowns(
            &self.merged(),
            &self.clock.names,
            &self.apart,
            phase_seconds,
            run_seconds,
            planned,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classed_by_where_they_happened() {
        for (reason, class) in [
            ("transport: connect refused", "connect refused"),
            ("transport: too many open files", "too many open files"),
            ("transport: reset", "reset"),
            ("transport: timeout", "timeout"),
            ("500 INTERNAL", "http 5xx"),
            ("503", "http 5xx"),
            ("401 AUTH001", "http 4xx"),
            ("200, expected status = 201", "http 2xx unexpected"),
            ("idempotency key replay created 8 orders", "contract"),
        ] {
            assert_eq!(error_class(reason), class, "{reason}");
        }
        let errors = BTreeMap::from([
            ("transport: reset".to_string(), 3),
            ("502".to_string(), 2),
            ("504 GATEWAY".to_string(), 1),
            ("3 orders for one key".to_string(), 1),
        ]);
        let violations = BTreeMap::from([("3 orders for one key".to_string(), 1)]);
        let classes = error_classes(&errors, &violations);
        assert_eq!(
            classes,
            BTreeMap::from([
                ("contract".to_string(), 1),
                ("http 5xx".to_string(), 3),
                ("reset".to_string(), 3),
            ])
        );
    }

    #[test]
    fn phase_clock_assigns_requests_to_phases() {
        let clock = PhaseClock::new(
            &[
                ("ramp_up".into(), Duration::from_secs(10)),
                ("plateau".into(), Duration::from_secs(20)),
            ],
            false,
        );
        assert_eq!(clock.index(Some(Duration::from_secs(0))), 0);
        assert_eq!(clock.index(Some(Duration::from_millis(9_999))), 0);
        assert_eq!(clock.index(Some(Duration::from_secs(10))), 1);
        assert_eq!(clock.index(Some(Duration::from_secs(45))), 1);
        let open = PhaseClock::new(&[("hold".into(), Duration::from_secs(5))], true);
        assert_eq!(open.names, ["setup", "hold"]);
        assert_eq!(open.index(None), 0);
        assert_eq!(open.index(Some(Duration::from_secs(1))), 1);
    }

    #[test]
    fn recorder_counts_outcomes_and_percentiles() {
        let clock = PhaseClock::new(
            &[
                ("a".into(), Duration::from_secs(10)),
                ("b".into(), Duration::from_secs(10)),
            ],
            false,
        );
        let r = Recorder::new(clock);
        let epoch = Instant::now();
        r.set_epoch(epoch);
        for i in 0..100u64 {
            r.record(
                i as usize,
                "checkout",
                epoch,
                Duration::from_millis(i + 1),
                Outcome::Ok,
            );
        }
        r.record(
            1,
            "checkout",
            epoch + Duration::from_secs(11),
            Duration::from_millis(5),
            Outcome::Refused("409 INV001".into()),
        );
        r.record(
            2,
            "checkout",
            epoch + Duration::from_secs(12),
            Duration::from_millis(5),
            Outcome::Error("500 INTERNAL".into()),
        );
        r.record(
            3,
            "webhook",
            epoch + Duration::from_secs(12),
            Duration::from_millis(7),
            Outcome::Ok,
        );
        let (all, txns, open) = r.snapshot(&[10.0, 10.0], 20.0, None);
        assert!(open.is_none());
        assert_eq!(all.run.count, 103);
        let c = &txns["checkout"];
        assert_eq!(c.run.count, 102);
        assert_eq!(c.run.errors_total, 1);
        assert_eq!(c.run.refusals["409 INV001"], 1);
        assert_eq!(c.phases["a"].count, 100);
        assert_eq!(c.phases["a"].errors_total, 0);
        assert!(
            (c.phases["a"].latency_ms.p50 - 50.0).abs() < 0.1,
            "{:?}",
            c.phases["a"].latency_ms
        );
        assert!((c.phases["a"].latency_ms.p99 - 99.0).abs() < 0.1);
        assert_eq!(c.phases["b"].count, 2);
        assert_eq!(c.phases["b"].error_rate_pct, 50.0);
        assert_eq!(all.phases["b"].count, 3);
        assert!((all.phases["a"].rps - 10.0).abs() < 1e-9);
    }

    #[test]
    fn violations_are_errors_and_contention_is_kept_apart() {
        let clock = PhaseClock::new(&[("a".into(), Duration::from_secs(10))], false);
        let r = Recorder::new(clock).keeping_apart(vec!["checkout_replay"]);
        let epoch = Instant::now();
        r.set_epoch(epoch);
        let ms = Duration::from_millis;
        r.record(0, "checkout", epoch, ms(10), Outcome::Ok);
        for i in 0..8 {
            let outcome = if i < 2 {
                Outcome::Violation("idempotency key replay created 2 orders".into())
            } else {
                Outcome::Ok
            };
            r.record(1, "checkout_replay", epoch, ms(900), outcome);
        }
        let (all, txns, _) = r.snapshot(&[10.0], 10.0, None);
        assert_eq!((all.run.count, all.run.errors_total), (1, 0));
        assert!(
            all.run.latency_ms.max < 100.0,
            "the burst is not in `all`: {:?}",
            all.run.latency_ms
        );
        let replay = &txns["checkout_replay"].run;
        assert_eq!(replay.count, 8);
        assert_eq!(replay.errors_total, 2, "a violation is an error");
        assert_eq!(replay.violations_total, 2);
        assert_eq!(
            replay.violations["idempotency key replay created 2 orders"],
            2
        );
        let report = LoadReport {
            all,
            transactions: txns,
            apart: r.apart(),
            error_examples: [(
                "checkout_replay".to_string(),
                "8 concurrent POST ... answered: 201 order 7, 201 order 8, ...".to_string(),
            )]
            .into(),
            ..LoadReport::default()
        };
        let table = report.transaction_table();
        assert!(
            table.contains(
                "contract violations (each fails the run):\n  \
                 checkout_replay: idempotency key replay created 2 orders (2 answers)\n    \
                 first: 8 concurrent POST"
            ),
            "{table}"
        );
        assert!(table.contains("(all: without checkout_replay,"), "{table}");
        assert_eq!(LoadReport::default().violation_lines(), "");
    }
}
