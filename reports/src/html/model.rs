//! What `report.html` shows, as data: [`Report`] is built from the JSON
//! files of a run directory (`run.json`, `load.json` + `verdicts.json`,
//! `chaos.json`, `drill.json`, `journeys.json`, `props.json`) and nothing
//! else, so `gauntlet report DIR` re-renders old runs the same way the
//! command that made them did. It is snapshot-tested on its own; the page
//! ([`super::page`]) only draws it.
//!
//! The JSON is read field by field (`serde_json::Value`), tolerating
//! fields that older runs did not write yet: an old run renders with less,
//! never fails.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::HtmlError;

/// One command that wrote into a run directory: what ran, with which seed,
/// and the command line that replays it. `run.json` keeps them in
/// `"commands"` (oldest first), beside what `gauntlet up` recorded about the
/// stack (run id, images, URLs) when the folder is the run's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub schema: u32,
    /// `gate`, `journeys`, `load`, `load merge`, `props`, `chaos`, `drill restore`.
    pub command: String,
    pub run_id: Option<String>,
    pub seed: Option<u64>,
    #[serde(default)]
    pub defects: Vec<String>,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub experiments: Vec<String>,
    #[serde(default)]
    pub fixture: Option<String>,
    /// The system under test (`[system] name`).
    #[serde(default)]
    pub system: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_s: f64,
    pub exit_code: i32,
    /// The exact command line that reproduces this run (same seed, defects,
    /// profile, experiments, fixture); secrets never appear in it.
    pub replay: String,
    pub gauntlet_version: String,
}

impl RunInfo {
    pub const SCHEMA: u32 = 1;
    pub const FILE: &'static str = "run.json";
    /// The key of the list in `run.json`.
    pub const KEY: &'static str = "commands";

    /// The commands recorded in a `run.json` (an older file without them:
    /// none).
    pub fn all_in(run_json: &Value) -> Result<Vec<RunInfo>, serde_json::Error> {
        match run_json.get(Self::KEY) {
            Some(list) => serde_json::from_value(list.clone()),
            None => Ok(Vec::new()),
        }
    }
}

/// The whole page.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub title: String,
    /// The commands that wrote into the folder, oldest first; the last is
    /// the one the page is about.
    pub commands: Vec<RunInfo>,
    pub sections: Vec<Section>,
    /// Sub-directories with a report of their own (the shards of a
    /// sharded load run), linked from the index.
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub name: String,
    /// Relative link to the part's `report.html`.
    pub href: String,
    pub passed: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Section {
    Load(Load),
    Chaos(Chaos),
    Drill(Drill),
    Journeys(Journeys),
    Props(Props),
}

impl Section {
    /// The anchor and the index's name.
    pub fn id(&self) -> &'static str {
        match self {
            Section::Load(_) => "load",
            Section::Chaos(_) => "chaos",
            Section::Drill(_) => "drill",
            Section::Journeys(_) => "journeys",
            Section::Props(_) => "props",
        }
    }

    pub fn passed(&self) -> bool {
        match self {
            Section::Load(l) => l.passed,
            Section::Chaos(c) => c.experiments.iter().all(|e| e.passed),
            Section::Drill(d) => d.passed,
            Section::Journeys(j) => j.passed,
            Section::Props(p) => p.properties.iter().all(|p| p.status == "passed"),
        }
    }
}

// ---------------------------------------------------------------- load

#[derive(Debug, Clone, Serialize)]
pub struct Load {
    pub profile: String,
    pub mode: String,
    pub latency_mode: String,
    pub target: String,
    pub started_at: String,
    pub duration_s: f64,
    pub users: u64,
    pub aborted: Option<String>,
    pub phases: Vec<PhaseSpan>,
    /// Width of the time series' buckets; `None`: the run has no series
    /// (a `load.json` from before they were recorded).
    pub bucket_s: Option<f64>,
    /// `all` first, then each transaction.
    pub series: Vec<Series>,
    pub verdicts: Vec<VerdictRow>,
    pub transactions: Vec<TransactionRow>,
    /// Errors by class over the whole run.
    pub error_classes: BTreeMap<String, u64>,
    pub generator: Option<String>,
    /// Every SLO passed and the attack ran to its end.
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseSpan {
    pub name: String,
    pub start_s: f64,
    pub end_s: f64,
    pub users: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<SeriesPoint>,
    /// The latency SLOs that apply to this series, as lines.
    pub slos: Vec<SloLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeriesPoint {
    pub t_s: f64,
    pub count: u64,
    pub rps: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub error_classes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SloLine {
    /// `p95 < 300 ms`, or `p95 < 300 ms (steady)` for a phase's SLO.
    pub label: String,
    pub metric: String,
    pub ms: f64,
    /// Where on the time axis it applies: the run, or its phase.
    pub from_s: f64,
    pub to_s: f64,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerdictRow {
    pub slo: String,
    pub phase: Option<String>,
    pub observed: f64,
    pub threshold: f64,
    pub unit: String,
    pub passed: bool,
    pub samples: u64,
    /// `http 5xx 12, reset 3` for a breached error rate.
    pub classes: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TransactionRow {
    pub name: String,
    pub count: u64,
    pub errors: u64,
    pub refusals: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

// ---------------------------------------------------------------- chaos

#[derive(Debug, Clone, Serialize)]
pub struct Chaos {
    pub experiments: Vec<Experiment>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    pub name: String,
    pub title: String,
    pub passed: bool,
    pub reasons: Vec<String>,
    pub millis: u64,
    pub seed: Option<u64>,
    pub fault_start_ms: Option<u64>,
    pub fault_end_ms: Option<u64>,
    pub first_failed_probe_ms: Option<u64>,
    pub recovered_ms: Option<u64>,
    pub recovery_from_end_ms: Option<u64>,
    pub recovery_from_start_ms: Option<u64>,
    pub probes: Vec<ProbeStrip>,
    pub actions: Vec<Event>,
    pub timeline: Vec<Event>,
    pub thresholds: Vec<Check>,
    pub after_fault: Vec<Check>,
    pub ledger: Option<Ledger>,
    /// Stream accounting: published, delivered, dead-lettered, lost...
    pub accounting: Option<Vec<(String, String)>>,
}

/// One probe's results over the experiment, as a strip of pass/fail.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeStrip {
    pub probe: String,
    pub role: String,
    pub samples: Vec<ProbeSample>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeSample {
    /// When the probe finished, ms since the experiment started.
    pub at_ms: u64,
    pub millis: u64,
    pub ok: bool,
    pub observation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub at_ms: u64,
    /// How long it took (actions); 0 for an instant.
    pub millis: u64,
    pub kind: String,
    pub detail: String,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// The write ledger's reconciliation: counts per write kind, the events.
#[derive(Debug, Clone, Serialize)]
pub struct Ledger {
    pub columns: Vec<String>,
    pub kinds: Vec<(String, Vec<u64>)>,
    pub events: Vec<(String, String)>,
    pub examples: Vec<String>,
    /// No acknowledged write lost or duplicated, no event missing.
    pub nothing_lost: bool,
}

// ---------------------------------------------------------------- drill

#[derive(Debug, Clone, Serialize)]
pub struct Drill {
    pub passed: bool,
    pub fixture: String,
    pub writes_paused: bool,
    pub sabotage: Vec<String>,
    pub duration_ms: u64,
    pub steps: Vec<Event>,
    /// When the database was destroyed, ms since the drill started.
    pub disaster_ms: Option<u64>,
    pub rto_ms: Option<u64>,
    pub rto_limit_ms: Option<u64>,
    pub rpo: Option<Rpo>,
    pub backup: Vec<(String, String)>,
    pub restore: Vec<(String, String)>,
    pub checks: Vec<Check>,
    pub thresholds: Vec<Check>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rpo {
    pub acknowledged: u64,
    pub writes_lost: u64,
    pub lost_before_backup: u64,
    pub lost_window_ms: u64,
    /// From the snapshot to the disaster: the most a restore can lose.
    pub backup_to_disaster_ms: u64,
}

// ---------------------------------------------------------------- journeys

#[derive(Debug, Clone, Serialize)]
pub struct Journeys {
    pub seed: Option<u64>,
    pub target: String,
    pub millis: u64,
    pub budget_millis: u64,
    pub budget_exceeded: bool,
    pub passed: bool,
    pub journeys: Vec<Journey>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Journey {
    pub name: String,
    pub about: String,
    pub result: String,
    pub attempts: u64,
    pub millis: u64,
    pub first_failure: Option<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub result: String,
    /// Where the step starts in the journey's waterfall, ms.
    pub start_ms: u64,
    pub millis: u64,
    pub failure: Option<String>,
    /// `POST api /v1/orders → 201 (12 ms)`.
    pub requests: Vec<String>,
}

// ---------------------------------------------------------------- props

#[derive(Debug, Clone, Serialize)]
pub struct Props {
    pub seed: Option<u64>,
    pub properties: Vec<Property>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Property {
    pub name: String,
    pub family: String,
    pub cases: u64,
    pub regressions_rerun: u64,
    pub duration_ms: f64,
    /// `passed`, `failed` or `error`.
    pub status: String,
    pub message: Option<String>,
    pub minimal_case: Option<String>,
    pub shrink_steps: Option<u64>,
    pub replay: Option<String>,
}

// ---------------------------------------------------------------- building

/// The files a run directory may hold, in the order the page shows them.
pub const RESULT_FILES: [&str; 5] = [
    "journeys.json",
    "load.json",
    "chaos.json",
    "drill.json",
    "props.json",
];

/// Builds the report from the JSON files in `dir`.
pub fn build(dir: &Path) -> Result<Report, HtmlError> {
    let read = |name: &str| read_json(&dir.join(name));
    let commands = match read(RunInfo::FILE)? {
        Some(value) => RunInfo::all_in(&value).map_err(|source| HtmlError::Json {
            path: dir.join(RunInfo::FILE),
            source,
        })?,
        None => Vec::new(),
    };
    let run = commands.last();
    let mut sections = Vec::new();
    if let Some(v) = read("journeys.json")? {
        sections.push(Section::Journeys(journeys(&v)));
    }
    if let Some(v) = read("load.json")? {
        let verdicts = read("verdicts.json")?.unwrap_or(Value::Null);
        sections.push(Section::Load(load(&v, &verdicts)));
    }
    if let Some(v) = read("chaos.json")? {
        sections.push(Section::Chaos(chaos(&v)));
    }
    if let Some(v) = read("drill.json")? {
        sections.push(Section::Drill(drill(&v)));
    }
    if let Some(v) = read("props.json")? {
        let replay_base = commands
            .iter()
            .rev()
            .find(|c| c.command == "props")
            .map(|r| r.replay.as_str());
        sections.push(Section::Props(props(&v, replay_base)));
    }
    let parts = parts(dir)?;
    if sections.is_empty() && parts.is_empty() {
        return Err(HtmlError::NoResults {
            dir: dir.to_path_buf(),
        });
    }
    let title = match run {
        Some(r) => format!(
            "gauntlet {} · {}",
            r.command,
            r.run_id.as_deref().unwrap_or("run")
        ),
        None => format!(
            "gauntlet · {}",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into())
        ),
    };
    Ok(Report {
        title,
        commands,
        sections,
        parts,
    })
}

fn read_json(path: &Path) -> Result<Option<Value>, HtmlError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(HtmlError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| HtmlError::Json {
            path: path.to_path_buf(),
            source,
        })
}

/// Sub-directories holding a report of their own, by name.
fn parts(dir: &Path) -> Result<Vec<Part>, HtmlError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut parts = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() || !path.join(super::REPORT_FILE).is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let passed = read_json(&path.join(RunInfo::FILE))
            .ok()
            .flatten()
            .and_then(|v| RunInfo::all_in(&v).ok())
            .and_then(|commands| commands.last().map(|c| c.exit_code == 0));
        parts.push(Part {
            href: format!("{name}/{}", super::REPORT_FILE),
            name,
            passed,
        });
    }
    parts.sort_by_key(|p| natural_key(&p.name));
    Ok(parts)
}

/// `shard-10` after `shard-9`.
fn natural_key(name: &str) -> (String, u64) {
    let digits: String = name
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let stem = name[..name.len() - digits.len()].to_string();
    (stem, digits.parse().unwrap_or(0))
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn opt_text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(String::from)
}

fn uint(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn opt_uint(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

fn float(v: &Value, key: &str) -> f64 {
    opt_float(v, key).unwrap_or(0.0)
}

/// A number, rounded to a millionth: serde_json's fast float parsing (the
/// default) and its exact one (`float_roundtrip`, which another crate of a
/// build may switch on) can differ in the last bit, and the model must not.
fn opt_float(v: &Value, key: &str) -> Option<f64> {
    v.get(key)
        .and_then(Value::as_f64)
        .map(|x| (x * 1e6).round() / 1e6)
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn counts(v: Option<&Value>) -> BTreeMap<String, u64> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, n)| n.as_u64().map(|n| (k.clone(), n)))
                .collect()
        })
        .unwrap_or_default()
}

/// A scalar as the page shows it: numbers and strings plain, lists joined.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

pub(crate) fn class_list(classes: &BTreeMap<String, u64>) -> String {
    let mut sorted: Vec<_> = classes.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    sorted
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const LATENCY_METRICS: [&str; 5] = ["p50", "p90", "p95", "p99", "max"];

/// `"checkout p95"` → `("checkout", "p95")`; `"global error rate"` →
/// `("global", "error rate")`.
fn split_slo(slo: &str) -> Option<(&str, &str)> {
    for metric in LATENCY_METRICS.iter().chain(&["error rate", "contract"]) {
        if let Some(scope) = slo.strip_suffix(metric) {
            return Some((scope.trim_end(), metric));
        }
    }
    None
}

fn load(v: &Value, verdicts: &Value) -> Load {
    let phases: Vec<PhaseSpan> = list(v, "phases")
        .iter()
        .map(|p| PhaseSpan {
            name: text(p, "name"),
            start_s: float(p, "start_s"),
            end_s: float(p, "end_s"),
            users: uint(p, "users"),
        })
        .collect();
    let verdict_rows: Vec<VerdictRow> = verdicts
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|r| VerdictRow {
            slo: text(r, "slo"),
            phase: opt_text(r, "phase"),
            observed: float(r, "observed"),
            threshold: float(r, "threshold"),
            unit: text(r, "unit"),
            passed: flag(r, "passed"),
            samples: uint(r, "samples"),
            classes: class_list(&counts(r.get("error_classes"))),
        })
        .collect();
    let duration_s = float(v, "duration_s");
    let phase_window = |name: &str| {
        phases
            .iter()
            .find(|p| p.name == name)
            .map(|p| (p.start_s, p.end_s))
    };
    let slos_for = |series: &str| -> Vec<SloLine> {
        let mut lines: Vec<SloLine> = verdict_rows
            .iter()
            .filter(|r| r.unit == "ms")
            .filter_map(|r| {
                let (scope, metric) = split_slo(&r.slo)?;
                let scope = if scope == "global" { "all" } else { scope };
                (scope == series && LATENCY_METRICS.contains(&metric)).then_some(())?;
                let (from_s, to_s) = match &r.phase {
                    Some(p) => phase_window(p)?,
                    None => (0.0, duration_s),
                };
                Some(SloLine {
                    label: format!(
                        "{metric} < {} ms{}",
                        trim_number(r.threshold),
                        r.phase
                            .as_ref()
                            .map(|p| format!(" ({p})"))
                            .unwrap_or_default()
                    ),
                    metric: metric.to_string(),
                    ms: r.threshold,
                    from_s,
                    to_s,
                    passed: r.passed,
                })
            })
            .collect();
        // A phase's SLO equal to the run's (a one-phase profile) is one line.
        let mut seen: Vec<(String, u64)> = Vec::new();
        lines.retain(|l| {
            let key = (l.metric.clone(), l.ms.to_bits());
            let new = !seen.contains(&key);
            seen.push(key);
            new
        });
        lines
    };
    let timeline = v.get("timeline");
    let bucket_s = timeline.and_then(|t| opt_float(t, "bucket_s"));
    let mut series = Vec::new();
    if let Some(map) = timeline
        .and_then(|t| t.get("series"))
        .and_then(Value::as_object)
    {
        let mut names: Vec<&String> = map.keys().collect();
        names.sort_by_key(|n| (n.as_str() != "all", n.as_str()));
        for name in names {
            let points = map[name]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|p| SeriesPoint {
                    t_s: float(p, "t_s"),
                    count: uint(p, "count"),
                    rps: float(p, "rps"),
                    p50_ms: opt_float(p, "p50_ms"),
                    p95_ms: opt_float(p, "p95_ms"),
                    p99_ms: opt_float(p, "p99_ms"),
                    error_classes: counts(p.get("error_classes")),
                })
                .collect();
            series.push(Series {
                name: name.clone(),
                points,
                slos: slos_for(name),
            });
        }
    }
    let summary_row = |name: &str, b: &Value| {
        let run = b.get("run").unwrap_or(&Value::Null);
        let latency = run.get("latency_ms").unwrap_or(&Value::Null);
        TransactionRow {
            name: name.to_string(),
            count: uint(run, "count"),
            errors: uint(run, "errors_total"),
            refusals: uint(run, "refusals_total"),
            rps: float(run, "rps"),
            p50_ms: float(latency, "p50"),
            p95_ms: float(latency, "p95"),
            p99_ms: float(latency, "p99"),
            max_ms: float(latency, "max"),
        }
    };
    let mut transactions: Vec<TransactionRow> = v
        .get("transactions")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, b)| summary_row(k, b)).collect())
        .unwrap_or_default();
    if let Some(all) = v.get("all") {
        transactions.push(summary_row("all", all));
    }
    let mut error_classes = BTreeMap::new();
    if let Some(m) = v.get("transactions").and_then(Value::as_object) {
        for b in m.values() {
            for (class, n) in counts(b.get("run").and_then(|r| r.get("error_classes"))) {
                *error_classes.entry(class).or_insert(0) += n;
            }
        }
    }
    let generator = v.get("generator").filter(|g| g.is_object()).map(|g| {
        format!(
            "{:.1} CPU s ({:.1} ms per 1,000 requests, {:.0} % of one core), peak memory {:.0} MiB",
            float(g, "cpu_seconds"),
            float(g, "cpu_ms_per_1k_requests"),
            float(g, "cpu_percent"),
            float(g, "max_rss_mib"),
        )
    });
    let aborted = opt_text(v, "aborted");
    let passed = aborted.is_none() && verdict_rows.iter().all(|r| r.passed);
    Load {
        profile: text(v, "profile"),
        mode: text(v, "mode"),
        latency_mode: text(v, "latency_mode"),
        target: text(v, "target"),
        started_at: text(v, "started_at"),
        duration_s,
        users: uint(v, "users"),
        aborted,
        phases,
        bucket_s,
        series,
        verdicts: verdict_rows,
        transactions,
        error_classes,
        generator,
        passed,
    }
}

/// `300` not `300.0`; `2.5` stays.
pub(crate) fn trim_number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn chaos(v: &Value) -> Chaos {
    Chaos {
        experiments: list(v, "experiments").iter().map(experiment).collect(),
    }
}

fn experiment(e: &Value) -> Experiment {
    let verdict = e.get("verdict").unwrap_or(&Value::Null);
    let recovery = e.get("recovery").unwrap_or(&Value::Null);
    let mut probes: Vec<ProbeStrip> = Vec::new();
    for p in list(e, "probes") {
        let name = text(p, "probe");
        let role = text(p, "role");
        let sample = ProbeSample {
            at_ms: uint(p, "at_ms"),
            millis: uint(p, "millis"),
            ok: flag(p, "ok"),
            observation: text(p, "observation"),
        };
        match probes
            .iter_mut()
            .find(|s| s.probe == name && s.role == role)
        {
            Some(strip) => strip.samples.push(sample),
            None => probes.push(ProbeStrip {
                probe: name,
                role,
                samples: vec![sample],
            }),
        }
    }
    let actions = list(e, "actions")
        .iter()
        .map(|a| Event {
            at_ms: uint(a, "at_ms"),
            millis: uint(a, "millis"),
            kind: format!("{} {}", text(a, "stage"), text(a, "action")),
            detail: text(a, "detail"),
            ok: flag(a, "done") && flag(a, "proven"),
        })
        .collect();
    let timeline = list(e, "timeline")
        .iter()
        .map(|t| {
            let kind = text(t, "kind");
            Event {
                at_ms: uint(t, "at_ms"),
                millis: 0,
                ok: !["failed", "missed", "breached", "not_recovered", "invalid"]
                    .iter()
                    .any(|bad| kind.ends_with(bad)),
                kind,
                detail: text(t, "detail"),
            }
        })
        .collect();
    let thresholds = list(e, "threshold_results")
        .iter()
        .map(|t| Check {
            name: text(t, "name"),
            passed: flag(t, "passed"),
            detail: format!(
                "observed {} (limit {})",
                opt_uint(t, "observed_ms")
                    .map(seconds)
                    .unwrap_or_else(|| "never recovered".into()),
                seconds(uint(t, "limit_ms"))
            ),
        })
        .collect();
    let after_fault = list(e, "after_fault")
        .iter()
        .map(|a| Check {
            name: text(a, "probe"),
            passed: flag(a, "passed"),
            detail: format!(
                "{} (deadline {}, {} evaluations){}",
                opt_uint(a, "took_ms")
                    .map(|ms| format!("passed {} after the fault", seconds(ms)))
                    .unwrap_or_else(|| "never passed".into()),
                seconds(uint(a, "within_ms")),
                uint(a, "evaluations"),
                opt_text(a, "last_observation")
                    .map(|o| format!(": {o}"))
                    .unwrap_or_default()
            ),
        })
        .collect();
    let ledger = e
        .get("reconciliation")
        .filter(|r| r.is_object())
        .map(ledger);
    let accounting = e.get("accounting").and_then(Value::as_object).map(|m| {
        m.iter()
            .filter(|(_, v)| !v.is_object())
            .map(|(k, v)| (k.clone(), scalar(v)))
            .collect()
    });
    Experiment {
        name: text(e, "name"),
        title: text(e, "title"),
        passed: text(verdict, "result") == "passed",
        reasons: list(verdict, "reasons").iter().map(scalar).collect(),
        millis: uint(e, "millis"),
        seed: opt_uint(e, "seed"),
        fault_start_ms: opt_uint(recovery, "fault_start_ms"),
        fault_end_ms: opt_uint(recovery, "fault_end_ms"),
        first_failed_probe_ms: opt_uint(recovery, "first_failed_probe_ms"),
        recovered_ms: opt_uint(recovery, "recovered_ms"),
        recovery_from_end_ms: opt_uint(recovery, "from_fault_end_ms"),
        recovery_from_start_ms: opt_uint(recovery, "from_fault_start_ms"),
        probes,
        actions,
        timeline,
        thresholds,
        after_fault,
        ledger,
        accounting,
    }
}

fn ledger(r: &Value) -> Ledger {
    let kinds_map = r.get("kinds").and_then(Value::as_object);
    let mut columns: Vec<String> = Vec::new();
    if let Some(m) = kinds_map {
        for counts in m.values().filter_map(Value::as_object) {
            for key in counts.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
    }
    // The ledger's own order: what was sent, how it ended, what went wrong.
    const ORDER: [&str; 8] = [
        "sent",
        "ok",
        "failed",
        "unknown",
        "lost",
        "duplicated",
        "unexpected",
        "recovered",
    ];
    columns.sort_by_key(|c| ORDER.iter().position(|o| o == c).unwrap_or(ORDER.len()));
    let kinds: Vec<(String, Vec<u64>)> = kinds_map
        .map(|m| {
            m.iter()
                .map(|(kind, counts)| {
                    (
                        kind.clone(),
                        columns.iter().map(|c| uint(counts, c)).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let events_value = r.get("events").unwrap_or(&Value::Null);
    let events = events_value
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), scalar(v))).collect())
        .unwrap_or_default();
    let column = |name: &str| columns.iter().position(|c| c == name);
    let lost_or_duplicated = kinds.iter().any(|(_, values)| {
        [column("lost"), column("duplicated")]
            .into_iter()
            .flatten()
            .any(|i| values[i] > 0)
    });
    Ledger {
        nothing_lost: !lost_or_duplicated && uint(events_value, "missing") == 0,
        columns,
        kinds,
        events,
        examples: list(r, "examples").iter().map(scalar).collect(),
    }
}

pub(crate) fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn drill(v: &Value) -> Drill {
    let steps: Vec<Event> = list(v, "timeline")
        .iter()
        .map(|t| Event {
            at_ms: uint(t, "at_ms"),
            millis: 0,
            kind: text(t, "step"),
            detail: text(t, "detail"),
            ok: flag(t, "ok"),
        })
        .collect();
    let disaster_ms = steps.iter().find(|s| s.kind == "disaster").map(|s| s.at_ms);
    let check = |c: &Value| Check {
        name: text(c, "name"),
        passed: flag(c, "passed"),
        detail: text(c, "detail"),
    };
    let thresholds: Vec<Check> = list(v, "thresholds").iter().map(check).collect();
    let rto_limit_ms = thresholds
        .iter()
        .find(|t| t.name.starts_with("rto"))
        .and_then(|t| limit_in(&t.name));
    let rpo = v.get("rpo").filter(|r| r.is_object()).map(|r| Rpo {
        acknowledged: uint(r, "acknowledged"),
        writes_lost: uint(r, "writes_lost"),
        lost_before_backup: uint(r, "lost_before_backup"),
        lost_window_ms: uint(r, "lost_window_ms"),
        backup_to_disaster_ms: uint(r, "backup_to_disaster_ms"),
    });
    let backup = v
        .get("backup")
        .filter(|b| b.is_object())
        .map(|b| {
            let manifest = b.get("manifest").unwrap_or(&Value::Null);
            vec![
                ("file".to_string(), text(manifest, "file")),
                ("bytes".to_string(), text(manifest, "bytes")),
                ("sha256".to_string(), text(manifest, "sha256")),
                ("took".to_string(), seconds(uint(b, "duration_ms"))),
                ("tables".to_string(), text(b, "tables")),
                ("rows".to_string(), text(b, "rows")),
            ]
        })
        .unwrap_or_default();
    let restore = v
        .get("restore")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let shown = match (k.ends_with("_ms"), v.as_u64()) {
                        (true, Some(ms)) => seconds(ms),
                        _ => scalar(v),
                    };
                    (k.trim_end_matches("_ms").replace('_', " "), shown)
                })
                .collect()
        })
        .unwrap_or_default();
    let checks: Vec<Check> = list(v, "checks").iter().map(check).collect();
    Drill {
        passed: !checks.is_empty()
            && checks.iter().all(|c| c.passed)
            && thresholds.iter().all(|c| c.passed),
        fixture: text(v, "fixture"),
        writes_paused: flag(v, "writes_paused"),
        sabotage: list(v, "sabotage").iter().map(scalar).collect(),
        duration_ms: uint(v, "duration_ms"),
        steps,
        disaster_ms,
        rto_ms: opt_uint(v, "rto_ms"),
        rto_limit_ms,
        rpo,
        backup,
        restore,
        checks,
        thresholds,
    }
}

/// The limit a threshold's name states: `rto < 5m`, `rto < 300s`,
/// `took < 250 ms`, in ms.
fn limit_in(name: &str) -> Option<u64> {
    let (_, tail) = name.rsplit_once('<')?;
    let tail = tail.trim_start_matches('=').trim_start();
    let number: String = tail
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let value: f64 = number.parse().ok()?;
    let unit = tail[number.len()..].trim_start();
    let scale = if unit.starts_with("ms") {
        1.0
    } else if unit.starts_with('m') {
        60_000.0
    } else if unit.starts_with('s') {
        1000.0
    } else {
        return None;
    };
    Some((value * scale) as u64)
}

fn journeys(v: &Value) -> Journeys {
    let journeys: Vec<Journey> = list(v, "journeys")
        .iter()
        .map(|j| {
            let mut at = 0;
            let steps = list(j, "steps")
                .iter()
                .map(|s| {
                    let millis = uint(s, "millis");
                    // Steps run one after another; a file that records
                    // where each started says so.
                    let start_ms = opt_uint(s, "start_ms").unwrap_or(at);
                    at = start_ms + millis;
                    Step {
                        name: text(s, "name"),
                        result: text(s, "result"),
                        start_ms,
                        millis,
                        failure: opt_text(s, "failure"),
                        requests: list(s, "exchanges")
                            .iter()
                            .map(|x| {
                                format!(
                                    "{} {} {} → {} ({} ms)",
                                    text(x, "method"),
                                    text(x, "service"),
                                    text(x, "path"),
                                    opt_uint(x, "status")
                                        .map(|s| s.to_string())
                                        .unwrap_or_else(|| "no answer".into()),
                                    uint(x, "millis")
                                )
                            })
                            .collect(),
                    }
                })
                .collect();
            Journey {
                name: text(j, "name"),
                about: text(j, "about"),
                result: text(j, "result"),
                attempts: uint(j, "attempts"),
                millis: uint(j, "millis"),
                first_failure: opt_text(j, "first_failure"),
                steps,
            }
        })
        .collect();
    let budget_exceeded = flag(v, "budget_exceeded");
    Journeys {
        seed: opt_uint(v, "seed"),
        target: text(v, "target"),
        millis: uint(v, "millis"),
        budget_millis: uint(v, "budget_millis"),
        budget_exceeded,
        passed: !budget_exceeded && journeys.iter().all(|j| j.result == "passed"),
        journeys,
    }
}

fn props(v: &Value, run_replay: Option<&str>) -> Props {
    let seed = opt_uint(v, "seed");
    let properties = list(v, "results")
        .iter()
        .map(|r| {
            let outcome = r.get("outcome").unwrap_or(&Value::Null);
            let status = text(outcome, "status");
            let detail = outcome.get("detail").unwrap_or(&Value::Null);
            let (message, minimal_case, shrink_steps, replay) = match status.as_str() {
                "failed" => {
                    let token = text(detail, "replay_token");
                    (
                        opt_text(detail, "message"),
                        opt_text(detail, "minimal_case"),
                        opt_uint(detail, "shrink_steps"),
                        Some(props_replay(run_replay, seed, &text(r, "name"), &token)),
                    )
                }
                "error" => (detail.as_str().map(String::from), None, None, None),
                _ => (None, None, None, None),
            };
            Property {
                name: text(r, "name"),
                family: text(r, "family"),
                cases: uint(r, "cases"),
                regressions_rerun: uint(r, "regressions_rerun"),
                duration_ms: float(r, "duration_ms"),
                status,
                message,
                minimal_case,
                shrink_steps,
                replay,
            }
        })
        .collect();
    Props { seed, properties }
}

/// The command that replays one failing case: the run's own command line
/// (target flags and all) narrowed to the property and its token.
fn props_replay(run_replay: Option<&str>, seed: Option<u64>, name: &str, token: &str) -> String {
    match run_replay {
        Some(line) => format!(
            "{} --only {name} --replay {token}",
            strip_flags(line, &["--only", "--replay", "--cases"])
        ),
        // An older folder without run.json: the command the terminal printed.
        None => crate::props::replay_command("", seed.unwrap_or(0), name, token),
    }
}

/// `line` without the given flags and their values.
fn strip_flags(line: &str, flags: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut words = line.split(' ');
    while let Some(word) = words.next() {
        if flags.contains(&word) {
            words.next();
            continue;
        }
        if flags.iter().any(|f| word.starts_with(&format!("{f}="))) {
            continue;
        }
        out.push(word);
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slo_names_split_into_scope_and_metric() {
        assert_eq!(split_slo("global p95"), Some(("global", "p95")));
        assert_eq!(split_slo("checkout p99"), Some(("checkout", "p99")));
        assert_eq!(
            split_slo("global error rate"),
            Some(("global", "error rate"))
        );
        assert_eq!(
            split_slo("hot_checkout contract"),
            Some(("hot_checkout", "contract"))
        );
        assert_eq!(split_slo("nonsense"), None);
    }

    #[test]
    fn limits_are_read_from_threshold_names() {
        assert_eq!(limit_in("rto < 5m"), Some(300_000));
        assert_eq!(limit_in("rto < 90s"), Some(90_000));
        assert_eq!(limit_in("took <= 250 ms"), Some(250));
        assert_eq!(limit_in("rpo_writes <= 0"), None);
        assert_eq!(limit_in("no limit here"), None);
    }

    #[test]
    fn a_props_replay_narrows_the_run_command_to_one_case() {
        assert_eq!(
            props_replay(
                Some("gauntlet props --seed 42 --only a,b --defects x"),
                Some(42),
                "ledger",
                "ab12"
            ),
            "gauntlet props --seed 42 --defects x --only ledger --replay ab12"
        );
        assert_eq!(
            props_replay(None, Some(7), "ledger", "ab12"),
            "gauntlet props --seed 7 --only ledger --replay ab12"
        );
    }

    #[test]
    fn parts_sort_by_their_number() {
        let mut names = vec!["shard-10", "shard-2", "shard-1"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(names, vec!["shard-1", "shard-2", "shard-10"]);
    }
}
