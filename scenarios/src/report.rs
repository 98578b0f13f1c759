//! What a load run measured (`load.json`), and the recorder that our
//! transactions write into while the attack runs.
//!
//! Latencies come from HDR histograms (`hdrhistogram`, 3 significant
//! digits, microseconds) recorded by gauntlet's transactions themselves, not
//! from goose's metrics: in open mode from each request's intended send
//! time, in closed mode from the moment it was sent until its body was read.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::{Counter, Histogram};
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
    /// The run over time, bucket by bucket, for charts: counts, errors by
    /// class, requests per second and latency percentiles of `all` and of
    /// each transaction ([`Timeline`]). Absent from files written before
    /// it existed.
    #[serde(default, skip_serializing_if = "Timeline::is_empty")]
    pub timeline: Timeline,
}

/// `load.json`'s `timeline`: the schedule cut into buckets of
/// `bucket_s` seconds, bucket `k` holding the requests that started (open
/// mode: were due) in `[k × bucket_s, (k + 1) × bucket_s)` from the start
/// of the first phase.
///
/// - The width: whole seconds, at least 1, so that the planned schedule
///   (the phases' durations added up) has at most [`TIMELINE_BUCKETS`]
///   buckets: `max(1 s, ceil(planned / 150))`. Shards of one run share it.
/// - Requests count where they count in the phases: started after the
///   last phase's end (in flight when the users were stopped), in the last
///   bucket; open mode's setup (the pool's registrations and logins before
///   the schedule starts) is left out of the timeline (it is the
///   breakdowns' `setup` phase), so each series adds up to its breakdown's
///   `run` less `phases.setup`.
/// - Every series is dense: one point per bucket from bucket 0 to the last
///   bucket of the run (where the run ended, or the schedule if the run
///   went past it), with zero counts and `null` percentiles where a bucket
///   had no request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Width of a bucket, in seconds.
    pub bucket_s: f64,
    /// `all` (every transaction except those kept `apart`, like
    /// [`LoadReport::all`]) and each transaction that sent a request during
    /// the schedule, by name: one point per bucket, in time order.
    pub series: BTreeMap<String, Vec<TimelinePoint>>,
}

impl Timeline {
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

/// One bucket of one series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Start of the bucket, in seconds on the clock of
    /// [`PhaseWindow::start_s`] (bucket 0 starts where the first phase does).
    pub t_s: f64,
    /// Requests that got an answer or failed in transport (`ok + errors +
    /// refusals`).
    pub count: u64,
    /// Answers the transaction expected.
    pub ok: u64,
    /// Errors, contract violations included.
    pub errors: u64,
    /// Expected business refusals (`409 INV001`, `429 RATE001`).
    pub refusals: u64,
    /// The errors by class ([`error_class`]; a contract violation is
    /// `contract`). Empty without errors.
    #[serde(default)]
    pub error_classes: BTreeMap<String, u64>,
    /// `count` divided by the bucket's length: `bucket_s`, except for the
    /// last bucket of a run that ended inside it (an aborted run, or a
    /// schedule that is not a whole number of buckets), which divides by
    /// the part of it the run lasted (to the millisecond).
    pub rps: f64,
    /// Latency percentiles over the bucket's requests, in milliseconds
    /// (2 significant digits: within 1 %); `null` without requests.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
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
    class_of(reason).into_owned()
}

/// [`error_class`] without an allocation (the recorder's hot path).
fn class_of(reason: &str) -> Cow<'_, str> {
    const HTTP: [&str; 5] = ["http 1xx", "http 2xx", "http 3xx", "http 4xx", "http 5xx"];
    if let Some(kind) = reason.strip_prefix("transport: ") {
        return Cow::Borrowed(kind);
    }
    let status = reason
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|d| d.parse::<u16>().ok())
        .filter(|s| (100..600).contains(s));
    Cow::Borrowed(match status {
        Some(s) if (200..300).contains(&s) => "http 2xx unexpected",
        Some(s) => HTTP[usize::from(s / 100) - 1],
        None => "contract",
    })
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

/// The most buckets the schedule is cut into for the timeline.
pub const TIMELINE_BUCKETS: u32 = 150;

/// No timeline has more buckets than this (a run stops at its planned
/// end, so it has [`TIMELINE_BUCKETS`]; a damaged `shard.json` cannot ask
/// for millions of points).
pub(crate) const MAX_TIMELINE_BUCKETS: u32 = 10_000;

/// The timeline's bucket width for a schedule of `planned`: whole
/// seconds, at least 1, at most [`TIMELINE_BUCKETS`] buckets.
pub fn timeline_bucket(planned: Duration) -> Duration {
    let per = 1_000_000_000u128 * u128::from(TIMELINE_BUCKETS);
    let secs = planned.as_nanos().div_ceil(per).max(1);
    Duration::from_secs(u64::try_from(secs).unwrap_or(u64::MAX))
}

/// The timeline's histograms: 1 µs to 1 h like the others, but 2
/// significant digits and `u32` counts, 3,328 counts of 4 bytes (13 KB,
/// against 184 KB for a breakdown's), since a run has one per
/// transaction and bucket.
pub(crate) fn new_series_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 2).expect("valid histogram bounds")
}

/// What one transaction recorded in one bucket of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SeriesCell {
    pub count: u64,
    pub ok: u64,
    pub refusals: u64,
    /// Errors by class ([`error_class`]; violations are `contract`).
    pub errors: BTreeMap<String, u64>,
    pub hist: Histogram<u32>,
}

impl SeriesCell {
    pub fn new() -> SeriesCell {
        SeriesCell {
            count: 0,
            ok: 0,
            refusals: 0,
            errors: BTreeMap::new(),
            hist: new_series_histogram(),
        }
    }

    fn record(&mut self, outcome: &Outcome, us: u64) {
        self.count += 1;
        let class = match outcome {
            Outcome::Ok => {
                self.ok += 1;
                None
            }
            Outcome::Refused(_) => {
                self.refusals += 1;
                None
            }
            Outcome::Error(r) => Some(class_of(r)),
            Outcome::Violation(_) => Some(Cow::Borrowed("contract")),
        };
        if let Some(class) = class {
            match self.errors.get_mut(class.as_ref()) {
                Some(n) => *n += 1,
                None => {
                    self.errors.insert(class.into_owned(), 1);
                }
            }
        }
        self.hist.saturating_record(us);
    }

    fn add_counts(&mut self, count: u64, ok: u64, refusals: u64, errors: &BTreeMap<String, u64>) {
        self.count += count;
        self.ok += ok;
        self.refusals += refusals;
        for (k, v) in errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }

    pub fn add(&mut self, other: &SeriesCell) {
        self.add_counts(other.count, other.ok, other.refusals, &other.errors);
        self.hist.add(&other.hist).expect("same histogram bounds");
    }

    fn point(&self, t_s: f64, seconds: f64) -> TimelinePoint {
        let h = &self.hist;
        let ms = |us: u64| (!h.is_empty()).then(|| us as f64 / 1000.0);
        TimelinePoint {
            t_s,
            count: self.count,
            ok: self.ok,
            errors: self.errors.values().sum(),
            refusals: self.refusals,
            error_classes: self.errors.clone(),
            rps: self.count as f64 / seconds,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// A histogram in hdrhistogram's V2 format (not deflated).
pub(crate) fn v2_bytes<T: Counter>(h: &Histogram<T>) -> Vec<u8> {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut bytes)
        .expect("a histogram serialises into memory");
    bytes
}

/// A bucket the recorder has moved on from: its counts, and its
/// histogram in the V2 format, which keeps only the counts up to the
/// highest latency recorded and runs of zeros as one number (a few hundred
/// bytes instead of 13 KB).
#[derive(Clone, Debug)]
struct SealedCell {
    count: u64,
    ok: u64,
    refusals: u64,
    errors: BTreeMap<String, u64>,
    v2: Vec<u8>,
}

impl SealedCell {
    fn seal(c: &SeriesCell) -> SealedCell {
        SealedCell {
            count: c.count,
            ok: c.ok,
            refusals: c.refusals,
            errors: c.errors.clone(),
            v2: v2_bytes(&c.hist),
        }
    }

    fn open(&self) -> SeriesCell {
        let h: Histogram<u32> = Deserializer::new()
            .deserialize(&mut self.v2.as_slice())
            .expect("a sealed histogram reads back");
        let mut cell = SeriesCell::new();
        cell.add_counts(self.count, self.ok, self.refusals, &self.errors);
        cell.hist.add(&h).expect("same histogram bounds");
        cell
    }
}

/// The timeline of what a run recorded: the one place series cells become
/// points, for a live [`Recorder`] and for merged shards alike. `bucket_s`
/// is the width, `planned_s` the schedule's length, `phases` the run's
/// phase windows (bucket 0 starts at the first one's `start_s`) and
/// `run_seconds` the measured length of the run on that clock; the
/// transactions in `apart` are left out of `all`.
pub(crate) fn timeline<K: AsRef<str>>(
    series: &HashMap<(K, u32), SeriesCell>,
    apart: &[&str],
    bucket_s: f64,
    planned_s: f64,
    phases: &[PhaseWindow],
    run_seconds: f64,
) -> Timeline {
    // Whole milliseconds, so that a bucket boundary is one.
    let ms = |s: f64| {
        if s.is_finite() && s > 0.0 {
            (s * 1000.0).round().min(1e15) as u64
        } else {
            0
        }
    };
    let width = ms(bucket_s).max(1);
    let start_s = phases.first().map_or(0.0, |p| p.start_s);
    let start_s = if start_s.is_finite() { start_s } else { 0.0 };
    let end = ms(run_seconds - start_s).min(ms(planned_s));
    let last = series.keys().map(|(_, b)| *b as u64 + 1).max().unwrap_or(0);
    let n = end
        .div_ceil(width)
        .max(last)
        .min(u64::from(MAX_TIMELINE_BUCKETS)) as usize;
    if n == 0 {
        return Timeline::default();
    }
    let seconds = |k: usize| {
        let from = k as u64 * width;
        let span = if end > from {
            (end - from).min(width)
        } else {
            width
        };
        span as f64 / 1000.0
    };
    let t = |k: usize| start_s + k as f64 * width as f64 / 1000.0;
    let mut by_txn: BTreeMap<&str, Vec<Option<&SeriesCell>>> = BTreeMap::new();
    let mut all: Vec<Option<SeriesCell>> = vec![None; n];
    for ((txn, b), cell) in series {
        let (txn, b) = (txn.as_ref(), *b as usize);
        if b >= n {
            continue;
        }
        by_txn.entry(txn).or_insert_with(|| vec![None; n])[b] = Some(cell);
        if !apart.contains(&txn) {
            all[b].get_or_insert_with(SeriesCell::new).add(cell);
        }
    }
    let empty = SeriesCell::new();
    let points = |cells: &mut dyn Iterator<Item = Option<&SeriesCell>>| -> Vec<TimelinePoint> {
        cells
            .enumerate()
            .map(|(k, c)| c.unwrap_or(&empty).point(t(k), seconds(k)))
            .collect()
    };
    let mut out = BTreeMap::new();
    out.insert(
        "all".to_string(),
        points(&mut all.iter().map(Option::as_ref)),
    );
    for (txn, cells) in by_txn {
        out.insert(txn.to_string(), points(&mut cells.into_iter()));
    }
    Timeline {
        bucket_s: width as f64 / 1000.0,
        series: out,
    }
}

/// What a run recorded, raw: cells by (transaction, index of the phase in
/// [`PhaseClock::names`]), the timeline's cells by (transaction, bucket)
/// and the open model's send lag and counters. A live [`Recorder`]'s lock
/// shards merged, or a load generator's part of a sharded run read back
/// from its `shard.json` (`K = String`, see [`crate::shard`]).
#[derive(Clone, Debug)]
pub(crate) struct Recorded<K> {
    pub cells: HashMap<(K, usize), Cell>,
    pub series: HashMap<(K, u32), SeriesCell>,
    pub lag: Option<Histogram<u64>>,
    pub sent: u64,
    pub late: u64,
    pub skipped: u64,
}

impl<K> Default for Recorded<K> {
    fn default() -> Self {
        Recorded {
            cells: HashMap::new(),
            series: HashMap::new(),
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
        self.add_phases(other);
        for (k, c) in &other.series {
            self.add_series(k, c);
        }
    }

    /// Adds `other` in but for the timeline.
    fn add_phases(&mut self, other: &Recorded<K>) {
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

    fn add_series(&mut self, k: &(K, u32), c: &SeriesCell) {
        match self.series.get_mut(k) {
            Some(have) => have.add(c),
            None => {
                self.series.insert(k.clone(), c.clone());
            }
        }
    }
}

/// One lock shard of a live [`Recorder`]: what its users recorded, the
/// timeline's buckets it has moved on from, sealed, and the latest bucket
/// it has seen.
#[derive(Default)]
struct Shard {
    rec: Recorded<&'static str>,
    sealed: HashMap<(&'static str, u32), SealedCell>,
    newest: u32,
}

impl Shard {
    /// A request of `txn` in bucket `b` of the timeline. Once a request of
    /// a later bucket comes, the buckets two behind it are sealed: a
    /// request recorded for a sealed bucket later (a slow answer) opens a
    /// new cell, sealed into the same one at the next bucket.
    fn record_series(&mut self, txn: &'static str, b: u32, outcome: &Outcome, us: u64) {
        self.rec
            .series
            .entry((txn, b))
            .or_insert_with(SeriesCell::new)
            .record(outcome, us);
        if b > self.newest {
            self.newest = b;
            self.seal_before(b - 1);
        }
    }

    fn seal_before(&mut self, bucket: u32) {
        let old: Vec<(&'static str, u32)> = self
            .rec
            .series
            .keys()
            .filter(|(_, b)| *b < bucket)
            .copied()
            .collect();
        for key in old {
            let Some(cell) = self.rec.series.remove(&key) else {
                continue;
            };
            match self.sealed.get_mut(&key) {
                Some(sealed) => {
                    let mut both = sealed.open();
                    both.add(&cell);
                    *sealed = SealedCell::seal(&both);
                }
                None => {
                    self.sealed.insert(key, SealedCell::seal(&cell));
                }
            }
        }
    }

    /// Adds this shard's timeline, live and sealed, into `into`.
    fn add_series_to(&self, into: &mut Recorded<&'static str>) {
        for (k, c) in &self.rec.series {
            into.add_series(k, c);
        }
        for (k, c) in &self.sealed {
            into.add_series(k, &c.open());
        }
    }
}

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

    /// The planned length of the schedule (the phases, without setup).
    pub fn planned(&self) -> Duration {
        self.windows.last().map_or(Duration::ZERO, |(_, end)| *end)
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
    /// The timeline's bucket width ([`timeline_bucket`] of the schedule).
    bucket: Duration,
    /// The schedule's last bucket: later requests count in it.
    last_bucket: u32,
}

const SHARDS: usize = 8;

impl Recorder {
    pub fn new(clock: PhaseClock) -> Recorder {
        let planned = clock.planned();
        let bucket = timeline_bucket(planned);
        let buckets = planned.as_nanos().div_ceil(bucket.as_nanos()).max(1);
        Recorder {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            apart: Vec::new(),
            clock,
            base: Instant::now(),
            epoch_ns: AtomicU64::new(u64::MAX),
            bucket,
            last_bucket: (buckets - 1).min(u128::from(MAX_TIMELINE_BUCKETS - 1)) as u32,
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

    /// The timeline's bucket width.
    pub fn bucket(&self) -> Duration {
        self.bucket
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

    /// How long after the epoch `at` is: `None` before it; a request
    /// before the epoch is set counts at the epoch.
    fn since_epoch(&self, at: Instant) -> Option<Duration> {
        match self.epoch() {
            Some(e) => at.checked_duration_since(e),
            None => Some(Duration::ZERO),
        }
    }

    /// The timeline bucket of a request `since` the epoch: bucket `k`
    /// starts at exactly `k × bucket`. Before the epoch (`None`), as in the
    /// phases: open mode's setup is left out of the timeline; without a
    /// setup phase (closed mode, where the epoch is set before any user
    /// starts) bucket 0.
    fn bucket_of(&self, since: Option<Duration>) -> Option<u32> {
        let k = match since {
            Some(since) => since.as_nanos() / self.bucket.as_nanos(),
            None if self.clock.has_setup => return None,
            None => 0,
        };
        Some(k.min(u128::from(self.last_bucket)) as u32)
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
        let since = self.since_epoch(at);
        let phase = self.clock.index(since);
        let bucket = self.bucket_of(since);
        let us = (latency.as_micros() as u64).max(1);
        let mut shard = self.shards[user % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(b) = bucket {
            shard.record_series(transaction, b, &outcome, us);
        }
        let cell = shard
            .rec
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
        cell.hist.saturating_record(us);
    }

    /// Open mode: a request sent `lag` after its intended time.
    pub fn record_send(&self, user: usize, lag: Duration) {
        let mut shard = self.shards[user % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let rec = &mut shard.rec;
        rec.sent += 1;
        if lag > Duration::from_millis(10) {
            rec.late += 1;
        }
        rec.lag
            .get_or_insert_with(new_histogram)
            .saturating_record((lag.as_micros() as u64).max(1));
    }

    /// Open mode: `n` slots skipped because the user was not ready yet.
    pub fn record_skipped(&self, user: usize, n: u64) {
        let mut shard = self.shards[user % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        shard.rec.skipped += n;
    }

    /// The lock shards merged: their breakdown cells and open-model data
    /// when `phases`, their timeline when `series` (the snapshots taken
    /// while the attack runs leave it out).
    fn merged(&self, phases: bool, series: bool) -> Recorded<&'static str> {
        let mut merged = Recorded::default();
        for s in &self.shards {
            let s = s.lock().unwrap_or_else(|p| p.into_inner());
            if phases {
                merged.add_phases(&s.rec);
            }
            if series {
                s.add_series_to(&mut merged);
            }
        }
        merged
    }

    /// Everything recorded so far, merged, with owned names (for
    /// `shard.json`).
    pub fn export(&self) -> Recorded<String> {
        let Recorded {
            cells,
            series,
            lag,
            sent,
            late,
            skipped,
        } = self.merged(true, true);
        Recorded {
            cells: cells
                .into_iter()
                .map(|((t, p), c)| ((t.to_string(), p), c))
                .collect(),
            series: series
                .into_iter()
                .map(|((t, b), c)| ((t.to_string(), b), c))
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
            &self.merged(true, false),
            &self.clock.names,
            &self.apart,
            phase_seconds,
            run_seconds,
            planned,
        )
    }

    /// The timeline so far, for a run whose phase windows are `phases`
    /// (as `load.json` lists them) and that has lasted `run_seconds` on
    /// their clock.
    pub fn timeline(&self, phases: &[PhaseWindow], run_seconds: f64) -> Timeline {
        timeline(
            &self.merged(false, true).series,
            &self.apart,
            self.bucket.as_secs_f64(),
            self.clock.planned().as_secs_f64(),
            phases,
            run_seconds,
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

    // ------------------------------------------------------- timeline

    fn window(start_s: f64, end_s: f64) -> PhaseWindow {
        PhaseWindow {
            name: "p".into(),
            start_s,
            end_s,
            users: 1,
            rate: None,
        }
    }

    /// A recorder of one phase of `secs`, its epoch set.
    fn timed(secs: u64) -> (Recorder, Instant) {
        let clock = PhaseClock::new(&[("p".into(), Duration::from_secs(secs))], false);
        let r = Recorder::new(clock);
        let epoch = Instant::now();
        r.set_epoch(epoch);
        (r, epoch)
    }

    /// Within the 1 % of 2 significant digits (the top of the value's
    /// histogram bucket).
    fn near(ms: Option<f64>, want: f64) -> bool {
        ms.is_some_and(|ms| ms >= want && ms <= want * 1.01)
    }

    fn counts(points: &[TimelinePoint]) -> Vec<u64> {
        points.iter().map(|p| p.count).collect()
    }

    #[test]
    fn the_bucket_width_keeps_a_schedule_within_150_buckets() {
        let s = Duration::from_secs;
        for (planned, width) in [
            (s(0), 1),
            (s(30), 1),
            (s(150), 1),
            (s(151), 2),
            (Duration::from_millis(150_001), 2),
            (s(300), 2),
            (s(540), 4),
            (s(1800), 12),
            (s(86_400), 576),
        ] {
            assert_eq!(timeline_bucket(planned), s(width), "{planned:?}");
            let buckets = planned.as_secs_f64() / width as f64;
            assert!(buckets <= 150.0, "{planned:?}: {buckets}");
        }
        let r = Recorder::new(PhaseClock::new(
            &[
                ("ramp_up".into(), s(180)),
                ("plateau".into(), s(300)),
                ("ramp_down".into(), s(60)),
            ],
            false,
        ));
        assert_eq!((r.bucket, r.last_bucket), (s(4), 134));
    }

    #[test]
    fn a_request_at_k_buckets_lands_in_bucket_k() {
        let (r, epoch) = timed(10);
        let ns = Duration::from_nanos;
        for at in [
            Duration::ZERO,
            Duration::from_secs(2) - ns(1),
            Duration::from_secs(2),
            Duration::from_secs(3),
            Duration::from_secs(3) + ns(1),
        ] {
            r.record(
                0,
                "browse_list",
                epoch + at,
                Duration::from_millis(3),
                Outcome::Ok,
            );
        }
        let t = r.timeline(&[window(0.0, 10.0)], 10.0);
        assert_eq!(t.bucket_s, 1.0);
        assert_eq!(
            counts(&t.series["browse_list"]),
            [1, 1, 1, 2, 0, 0, 0, 0, 0, 0]
        );
        let ts: Vec<f64> = t.series["all"].iter().map(|p| p.t_s).collect();
        assert_eq!(ts, (0..10).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn series_are_dense_with_null_percentiles_where_nothing_was_sent() {
        let (r, epoch) = timed(8);
        let ms = Duration::from_millis;
        r.record(0, "browse_list", epoch, ms(10), Outcome::Ok);
        r.record(1, "checkout", epoch + ms(5_500), ms(40), Outcome::Ok);
        // Ended 7.5 s in: 8 buckets, the last one half long.
        let t = r.timeline(&[window(0.0, 8.0)], 7.5);
        for name in ["all", "browse_list", "checkout"] {
            assert_eq!(t.series[name].len(), 8, "{name}");
        }
        assert_eq!(counts(&t.series["all"]), [1, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(counts(&t.series["checkout"]), [0, 0, 0, 0, 0, 1, 0, 0]);
        let empty = &t.series["browse_list"][5];
        assert_eq!(
            (
                empty.count,
                empty.p50_ms,
                empty.p99_ms,
                empty.max_ms,
                empty.rps
            ),
            (0, None, None, None, 0.0)
        );
        let c = &t.series["checkout"][5];
        assert_eq!((c.ok, c.errors, c.refusals, c.rps), (1, 0, 0, 1.0));
        assert!(near(c.p50_ms, 40.0), "{:?}", c.p50_ms);
        assert_eq!(c.max_ms, c.p99_ms);
        let json = serde_json::to_value(empty).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"t_s": 5.0, "count": 0, "ok": 0, "errors": 0, "refusals": 0,
                "error_classes": {}, "rps": 0.0,
                "p50_ms": null, "p95_ms": null, "p99_ms": null, "max_ms": null})
        );
        // The last bucket divides by the half second the run lasted in it.
        r.record(2, "checkout", epoch + ms(7_100), ms(4), Outcome::Ok);
        let t = r.timeline(&[window(0.0, 8.0)], 7.5);
        assert_eq!(t.series["checkout"][7].rps, 2.0);
        // A run that went on past its schedule ends with the schedule.
        let t = r.timeline(&[window(0.0, 8.0)], 9.3);
        assert_eq!(t.series["all"].len(), 8);
        assert_eq!(t.series["checkout"][7].rps, 1.0);
    }

    #[test]
    fn the_timeline_starts_where_the_first_phase_does() {
        // Open mode: the pool starts 3 s before the schedule; its
        // registrations are left out, bucket 0 starts at 3 s.
        let clock = PhaseClock::new(&[("hold".into(), Duration::from_secs(4))], true);
        let r = Recorder::new(clock);
        let epoch = Instant::now() + Duration::from_secs(3);
        r.set_epoch(epoch);
        let ms = Duration::from_millis;
        r.record(0, "register", epoch - ms(2_000), ms(50), Outcome::Ok);
        r.record(0, "browse_list", epoch + ms(1_200), ms(5), Outcome::Ok);
        // In flight when the users were stopped: the last bucket.
        r.record(0, "browse_list", epoch + ms(4_300), ms(5), Outcome::Ok);
        let (all, _, _) = r.snapshot(&[3.0, 4.0], 7.0, None);
        assert_eq!(all.phases["setup"].count, 1);
        let t = r.timeline(&[window(3.0, 7.0)], 7.2);
        assert!(!t.series.contains_key("register"), "{:?}", t.series.keys());
        let ts: Vec<f64> = t.series["all"].iter().map(|p| p.t_s).collect();
        assert_eq!(ts, [3.0, 4.0, 5.0, 6.0]);
        assert_eq!(counts(&t.series["browse_list"]), [0, 1, 0, 1]);
    }

    #[test]
    fn errors_are_classed_per_bucket_and_apart_transactions_left_out_of_all() {
        let clock = PhaseClock::new(&[("p".into(), Duration::from_secs(3))], false);
        let r = Recorder::new(clock).keeping_apart(vec!["checkout_replay"]);
        let epoch = Instant::now();
        r.set_epoch(epoch);
        let (ms, s) = (Duration::from_millis, Duration::from_secs);
        let at = |k: u64| epoch + s(k) + ms(100);
        r.record(0, "browse_list", at(0), ms(2), Outcome::Ok);
        r.record(
            1,
            "browse_list",
            at(0),
            ms(3),
            Outcome::Error("503 UNAVAILABLE".into()),
        );
        r.record(
            2,
            "browse_list",
            at(0),
            ms(4),
            Outcome::Error("500 INTERNAL".into()),
        );
        r.record(
            3,
            "browse_list",
            at(1),
            ms(9),
            Outcome::Error("transport: reset".into()),
        );
        r.record(
            4,
            "checkout",
            at(1),
            ms(5),
            Outcome::Refused("409 INV001".into()),
        );
        for user in 0..8 {
            let outcome = if user < 2 {
                Outcome::Violation("idempotency key replay created 2 orders".into())
            } else {
                Outcome::Ok
            };
            r.record(user, "checkout_replay", at(2), ms(900), outcome);
        }
        let t = r.timeline(&[window(0.0, 3.0)], 3.0);
        let classes = |name: &str, k: usize| t.series[name][k].error_classes.clone();
        assert_eq!(
            classes("browse_list", 0),
            BTreeMap::from([("http 5xx".into(), 2)])
        );
        assert_eq!(
            classes("browse_list", 1),
            BTreeMap::from([("reset".into(), 1)])
        );
        assert_eq!(
            classes("checkout_replay", 2),
            BTreeMap::from([("contract".into(), 2)])
        );
        let replay = &t.series["checkout_replay"][2];
        assert_eq!((replay.count, replay.ok, replay.errors), (8, 6, 2));
        let all = &t.series["all"];
        assert_eq!(counts(all), [3, 2, 0], "the burst is not in `all`");
        assert_eq!((all[0].ok, all[0].errors, all[0].refusals), (1, 2, 0));
        assert_eq!((all[1].errors, all[1].refusals), (1, 1));
        assert_eq!(all[1].error_classes, classes("browse_list", 1));
        assert_eq!(all[2].p50_ms, None);
        assert!(near(all[0].max_ms, 4.0), "{:?}", all[0].max_ms);
        // The same classes as the breakdowns.
        let (b, _, _) = r.snapshot(&[3.0], 3.0, None);
        let mut sum: BTreeMap<String, u64> = BTreeMap::new();
        for p in all {
            for (c, n) in &p.error_classes {
                *sum.entry(c.clone()).or_default() += n;
            }
        }
        assert_eq!(sum, b.run.error_classes);
    }

    #[test]
    fn sealed_buckets_add_up_with_late_answers() {
        let (r, epoch) = timed(20);
        let (ms, s) = (Duration::from_millis, Duration::from_secs);
        let mut want = vec![0u64; 20];
        // One user (one lock shard): bucket 0, then 5 (0 sealed), then a
        // slow answer for bucket 0 and 1, then 9 (sealed again), then 0.
        for (k, latency) in [(0, 1), (0, 2), (5, 3), (0, 4_000), (1, 5), (9, 6), (0, 7)] {
            r.record(0, "browse_list", epoch + s(k), ms(latency), Outcome::Ok);
            want[k as usize] += 1;
        }
        let t = r.timeline(&[window(0.0, 20.0)], 20.0);
        let b = &t.series["browse_list"];
        assert_eq!(counts(b), want);
        assert!(near(b[0].max_ms, 4_000.0), "{:?}", b[0].max_ms);
        assert!(near(b[0].p50_ms, 2.0), "{:?}", b[0].p50_ms);
        let shard = r.shards[0].lock().unwrap();
        assert!(shard.sealed.contains_key(&("browse_list", 0)));
        assert_eq!(
            shard.rec.series.len(),
            2,
            "buckets 8 and 9 only: {:?}",
            shard.rec.series.keys()
        );
    }

    #[test]
    fn a_timeline_cell_costs_13_kb_live_and_a_few_hundred_bytes_sealed() {
        assert_eq!(new_series_histogram().distinct_values(), 3_328);
        assert_eq!(
            std::mem::size_of::<u32>() * new_series_histogram().distinct_values(),
            13_312
        );
        assert_eq!(new_histogram().distinct_values(), 23_552, "184 KB each");
        // A busy bucket: 10,000 answers spread over 200 µs to 20 s.
        let mut c = SeriesCell::new();
        let mut x: u64 = 1;
        for _ in 0..10_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let us = 200 + (x >> 33) % 20_000_000 / (1 + (x >> 20) % 1000);
            c.record(&Outcome::Ok, us);
        }
        let sealed = SealedCell::seal(&c);
        assert!(sealed.v2.len() < 2_500, "{} bytes", sealed.v2.len());
        assert_eq!(sealed.open(), c);
    }

    /// The `stress` profile's shape: 10,000 users over 9 minutes (4 s
    /// buckets), 9 transactions, 170,000 requests (what its run sent),
    /// answers up to 15 s late. What the timeline holds at the end.
    #[test]
    fn a_10000_user_9_minute_run_keeps_its_timeline_small() {
        let s = Duration::from_secs;
        let clock = PhaseClock::new(
            &[
                ("ramp_up".into(), s(180)),
                ("plateau".into(), s(300)),
                ("ramp_down".into(), s(60)),
            ],
            false,
        );
        let r = Recorder::new(clock);
        let epoch = Instant::now();
        r.set_epoch(epoch);
        const TXNS: [&str; 9] = [
            "register",
            "login",
            "catalog",
            "browse_list",
            "browse_detail",
            "cart_add",
            "orders_list",
            "checkout",
            "webhook",
        ];
        let n: u64 = 170_000;
        let mut x: u64 = 7;
        for i in 0..n {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = epoch + Duration::from_micros(i * 540_000_000 / n);
            // 1 ms to 15 s, most of them fast.
            let latency =
                Duration::from_micros(1_000 + (x >> 40) % 15_000_000 / (1 + (x >> 8) % 200));
            let outcome = match (x >> 16) % 10 {
                0..=6 => Outcome::Ok,
                7 => Outcome::Error("503 UNAVAILABLE".into()),
                8 => Outcome::Error("401 AUTH001".into()),
                _ => Outcome::Refused("409 INV001".into()),
            };
            let user = ((x >> 24) % 10_000) as usize;
            r.record(user, TXNS[((x >> 32) % 9) as usize], at, latency, outcome);
        }
        let (mut live, mut sealed, mut sealed_bytes) = (0usize, 0usize, 0usize);
        for shard in &r.shards {
            let shard = shard.lock().unwrap();
            live += shard.rec.series.len();
            sealed += shard.sealed.len();
            sealed_bytes += shard.sealed.values().map(|c| c.v2.len()).sum::<usize>();
        }
        let live_bytes = live * 4 * new_series_histogram().distinct_values();
        eprintln!(
            "timeline: {live} live cells ({} KB), {sealed} sealed ({} KB, {} bytes each)",
            live_bytes / 1024,
            sealed_bytes / 1024,
            sealed_bytes / sealed.max(1)
        );
        assert_eq!(r.bucket, s(4));
        // Unsealed, every lock shard would hold all 135 × 9 cells: 8 ×
        // 1,215 × 13 KB = 126 MB.
        assert!(live <= 8 * 2 * 9, "{live}");
        assert!(
            live_bytes + sealed_bytes < 16 << 20,
            "{live_bytes} + {sealed_bytes}"
        );
        let t = r.timeline(&[window(0.0, 540.0)], 540.2);
        assert_eq!(t.series["all"].len(), 135);
        assert_eq!(t.series["all"].iter().map(|p| p.count).sum::<u64>(), n);
    }

    #[test]
    fn load_json_without_a_timeline_still_reads() {
        let report = LoadReport::default();
        let text = serde_json::to_string(&report).unwrap();
        assert!(!text.contains("timeline"), "{text}");
        let back: LoadReport = serde_json::from_str(&text).unwrap();
        assert!(back.timeline.is_empty());
        let mut with = report.clone();
        with.timeline = Timeline {
            bucket_s: 2.0,
            series: BTreeMap::from([("all".into(), vec![TimelinePoint::default()])]),
        };
        let text = serde_json::to_string(&with).unwrap();
        assert_eq!(serde_json::from_str::<LoadReport>(&text).unwrap(), with);
    }
}
