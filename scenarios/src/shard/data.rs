//! `shard.json`: what one load generator recorded, lossless, so that the
//! shards of a run add up to exactly what one generator would have seen.
//!
//! Every cell (transaction × phase) keeps its counts, its outcome maps and
//! its latency histogram, serialized with hdrhistogram's V2 format and
//! base64-encoded (not deflated: the header is checked before a byte is
//! decoded, so a damaged file cannot ask for gigabytes); the open model's send-lag histogram and
//! counters the same way. Besides the data: the phase clock (names and
//! planned lengths, whether requests before the schedule count as `setup`),
//! the seconds the run's rates divide by, the seeds, which shards of how
//! many the file holds, and what `load.json` says beside its breakdowns.
//!
//! The timeline (`load.json`'s `timeline`) the same way, under
//! `"timeline"`: the bucket width and every (transaction, bucket) cell with
//! its counts, errors by class and a 2-digit histogram. Files written
//! before the timeline existed have no such key: they read back without a
//! timeline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::{Counter, Histogram};
use serde::{Deserialize, Serialize};

use super::ShardSpec;
use crate::report::{
    breakdowns, new_histogram, new_series_histogram, timeline, v2_bytes, Cell, GooseSummary,
    LoadReport, PhaseClock, PhaseWindow, Recorded, Recorder, SeriesCell, Timeline,
    MAX_TIMELINE_BUCKETS, SETUP_PHASE,
};

/// The file name, next to `load.json` in a run's folder.
pub const SHARD_FILE: &str = "shard.json";

/// The format this version writes and reads.
pub const FORMAT: &str = "gauntlet-shard/1";

/// A shard file that cannot be used, or shards that do not belong together.
#[derive(Debug)]
pub enum ShardError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not a readable shard file (truncated, not JSON, a field missing or
    /// of the wrong type, a histogram that does not decode...).
    Invalid { origin: String, message: String },
    /// Shard files that are not parts of one run.
    Mismatch(String),
    /// Some shards of the run are not among the inputs.
    Missing { missing: Vec<u32>, count: u32 },
}

impl std::fmt::Display for ShardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShardError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ShardError::Invalid { origin, message } => {
                write!(f, "{origin}: not a usable {SHARD_FILE}: {message}")
            }
            ShardError::Mismatch(m) => write!(f, "these shards do not belong together: {m}"),
            ShardError::Missing { missing, count } => write!(
                f,
                "{} of {count} {}; merge every shard, or pass --partial to merge the {} that are here",
                listed(missing),
                if missing.len() == 1 { "is missing" } else { "are missing" },
                *count as usize - missing.len()
            ),
        }
    }
}

impl std::error::Error for ShardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ShardError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// `shard 1` or `shards 1, 3`.
pub fn listed(indices: &[u32]) -> String {
    let list = indices
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if indices.len() == 1 {
        format!("shard {list}")
    } else {
        format!("shards {list}")
    }
}

/// What `load.json` says about a run besides its breakdowns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    pub profile: String,
    pub mode: String,
    pub latency_mode: String,
    pub target: String,
    pub started_at: String,
    /// Measured, rounded to the millisecond (as `load.json` has it).
    pub duration_s: f64,
    pub users: u32,
    pub phases: Vec<PhaseWindow>,
    pub aborted: Option<String>,
    /// Only when the run kept goose's own metrics (`--goose-reports`).
    #[serde(default)]
    pub goose: Option<GooseSummary>,
    /// What this generator used (a merge of several has none: generators
    /// on different machines do not add up to one).
    #[serde(default)]
    pub generator: Option<crate::host::GeneratorStats>,
    pub error_examples: BTreeMap<String, String>,
}

impl RunInfo {
    pub fn of(report: &LoadReport) -> RunInfo {
        RunInfo {
            profile: report.profile.clone(),
            mode: report.mode.clone(),
            latency_mode: report.latency_mode.clone(),
            target: report.target.clone(),
            started_at: report.started_at.clone(),
            duration_s: report.duration_s,
            users: report.users,
            phases: report.phases.clone(),
            aborted: report.aborted.clone(),
            goose: report.goose.clone(),
            generator: report.generator.clone(),
            error_examples: report.error_examples.clone(),
        }
    }
}

/// One phase of the clock: its name and planned length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockPhase {
    pub name: String,
    pub seconds: f64,
}

/// The phase clock requests were sorted by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    /// Open mode: requests before the schedule's start count in the
    /// `setup` phase (index 0).
    pub setup: bool,
    pub phases: Vec<ClockPhase>,
}

impl Clock {
    pub(crate) fn of(clock: &PhaseClock) -> Clock {
        Clock {
            setup: clock.has_setup,
            phases: clock
                .names
                .iter()
                .skip(usize::from(clock.has_setup))
                .zip(&clock.windows)
                .map(|(name, (start, end))| ClockPhase {
                    name: name.clone(),
                    seconds: end.saturating_sub(*start).as_secs_f64(),
                })
                .collect(),
        }
    }

    /// Phase names by index, as cells refer to them.
    pub fn names(&self) -> Vec<String> {
        let setup = self.setup.then(|| SETUP_PHASE.to_string());
        setup
            .into_iter()
            .chain(self.phases.iter().map(|p| p.name.clone()))
            .collect()
    }

    /// `ramp_up 60s, plateau 300s` (with `setup, ` first in open mode).
    pub fn describe(&self) -> String {
        let setup = self.setup.then(|| SETUP_PHASE.to_string());
        setup
            .into_iter()
            .chain(
                self.phases
                    .iter()
                    .map(|p| format!("{} {}s", p.name, p.seconds)),
            )
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One load generator's data (or several merged), decoded.
#[derive(Debug, Clone)]
pub struct ShardData {
    pub info: RunInfo,
    /// The seed of the whole run (the same for every shard).
    pub run_seed: u64,
    /// The seed this shard's users drew from ([`ShardSpec::seed`]).
    pub seed: u64,
    /// How many shards the run has.
    pub count: u32,
    /// Which of them this data holds (one for a generator's own file).
    pub indices: Vec<u32>,
    pub clock: Clock,
    /// Seconds each phase's requests per second divide by (by phase
    /// index; in open mode the setup phase's is the pool's start-up time).
    pub phase_seconds: Vec<f64>,
    /// Seconds the run's requests per second divide by (measured).
    pub run_seconds: f64,
    /// Transactions left out of `all`.
    pub apart: Vec<String>,
    /// Open mode: arrivals the schedule planned.
    pub planned: Option<u64>,
    /// The timeline's bucket width in seconds; `None`: a file written
    /// before the timeline existed (no timeline).
    pub bucket_s: Option<f64>,
    pub(crate) recorded: Recorded<String>,
}

/// What a run knows besides its recorder and report, for [`ShardData::capture`].
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    pub run_seed: u64,
    pub seed: u64,
    pub shard: ShardSpec,
    pub phase_seconds: Vec<f64>,
    pub run_seconds: f64,
    pub planned: Option<u64>,
}

impl ShardData {
    /// A finished run's data: its recorder's cells and `report`'s header.
    pub(crate) fn capture(recorder: &Recorder, report: &LoadReport, c: Capture) -> ShardData {
        ShardData {
            info: RunInfo::of(report),
            run_seed: c.run_seed,
            seed: c.seed,
            count: c.shard.count,
            indices: vec![c.shard.index],
            clock: Clock::of(&recorder.clock),
            phase_seconds: c.phase_seconds,
            run_seconds: c.run_seconds,
            apart: recorder.apart(),
            planned: c.planned,
            bucket_s: Some(recorder.bucket().as_secs_f64()),
            recorded: recorder.export(),
        }
    }

    /// The `load.json` this data makes, through the breakdown code every
    /// run uses.
    pub fn report(&self) -> LoadReport {
        let apart: Vec<&str> = self.apart.iter().map(String::as_str).collect();
        let (all, transactions, open_model) = breakdowns(
            &self.recorded,
            &self.clock.names(),
            &apart,
            &self.phase_seconds,
            self.run_seconds,
            self.planned,
        );
        let timeline = match self.bucket_s {
            Some(bucket_s) => timeline(
                &self.recorded.series,
                &apart,
                bucket_s,
                self.clock.phases.iter().map(|p| p.seconds).sum(),
                &self.info.phases,
                self.run_seconds,
            ),
            None => Timeline::default(),
        };
        let info = self.info.clone();
        LoadReport {
            profile: info.profile,
            mode: info.mode,
            latency_mode: info.latency_mode,
            target: info.target,
            started_at: info.started_at,
            duration_s: info.duration_s,
            users: info.users,
            phases: info.phases,
            all,
            apart: self.apart.clone(),
            transactions,
            open_model,
            aborted: info.aborted,
            goose: info.goose,
            generator: info.generator,
            error_examples: info.error_examples,
            timeline,
        }
    }

    /// Whether this holds every shard of the run.
    pub fn is_complete(&self) -> bool {
        self.indices.len() == self.count as usize
    }

    /// The JSON text of the file.
    pub fn to_json(&self) -> String {
        let names = self.clock.names();
        let mut cells: Vec<CellFile> = self
            .recorded
            .cells
            .iter()
            .map(|((txn, phase), c)| CellFile {
                transaction: txn.clone(),
                phase: names.get(*phase).cloned().unwrap_or_default(),
                count: c.count,
                ok: c.ok,
                errors: c.errors.clone(),
                violations: c.violations.clone(),
                refusals: c.refusals.clone(),
                histogram: encode(&c.hist),
            })
            .collect();
        let index = |name: &str| names.iter().position(|n| n == name);
        cells.sort_by(|a, b| {
            (&a.transaction, index(&a.phase)).cmp(&(&b.transaction, index(&b.phase)))
        });
        let timeline = self.bucket_s.map(|bucket_s| {
            let mut cells: Vec<SeriesCellFile> = self
                .recorded
                .series
                .iter()
                .map(|((txn, bucket), c)| SeriesCellFile {
                    transaction: txn.clone(),
                    bucket: *bucket,
                    count: c.count,
                    ok: c.ok,
                    refusals: c.refusals,
                    errors: c.errors.clone(),
                    histogram: encode(&c.hist),
                })
                .collect();
            cells.sort_by(|a, b| (&a.transaction, a.bucket).cmp(&(&b.transaction, b.bucket)));
            TimelineFile { bucket_s, cells }
        });
        let file = ShardFile {
            format: FORMAT.to_string(),
            run: self.info.clone(),
            seed: Seeds {
                run: self.run_seed,
                shard: self.seed,
            },
            shards: Shards {
                count: self.count,
                indices: self.indices.clone(),
            },
            clock: self.clock.clone(),
            seconds: Seconds {
                run: self.run_seconds,
                phases: self.phase_seconds.clone(),
            },
            apart: self.apart.clone(),
            cells,
            open_model: OpenFile {
                planned: self.planned,
                sent: self.recorded.sent,
                late_over_10ms: self.recorded.late,
                skipped_at_start: self.recorded.skipped,
                send_lag: self.recorded.lag.as_ref().map(encode),
            },
            timeline,
        };
        serde_json::to_string_pretty(&file).expect("a shard file serialises") + "\n"
    }

    /// Reads a shard file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ShardData, ShardError> {
        let invalid = |message: String| ShardError::Invalid {
            origin: origin.to_string(),
            message,
        };
        // The format first, so another file says what it is not.
        let format = serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| invalid(json_problem(&e)))?;
        match format.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(invalid(format!(
                    "format `{other}`; this gauntlet reads `{FORMAT}`"
                )))
            }
            None => {
                return Err(invalid(format!(
                    "no `format` key (a {SHARD_FILE} starts with \"format\": \"{FORMAT}\")"
                )))
            }
        }
        let file: ShardFile = serde_json::from_str(text).map_err(|e| invalid(json_problem(&e)))?;
        let names = file.clock.names();
        if file.seconds.phases.len() != names.len() {
            return Err(invalid(format!(
                "seconds.phases has {} entries for {} phases ({})",
                file.seconds.phases.len(),
                names.len(),
                file.clock.describe()
            )));
        }
        let spec = ShardSpec::new(0, file.shards.count).map_err(&invalid)?;
        let mut indices = file.shards.indices.clone();
        indices.sort_unstable();
        indices.dedup();
        if indices.is_empty() || indices.len() != file.shards.indices.len() {
            return Err(invalid(
                "shards.indices must list each shard the file holds once".into(),
            ));
        }
        if let Some(i) = indices.iter().find(|i| **i >= spec.count) {
            return Err(invalid(format!(
                "shard index {i} is not below the count {}",
                spec.count
            )));
        }
        let mut recorded = Recorded::<String>::default();
        for (n, c) in file.cells.into_iter().enumerate() {
            let at = format!("cells[{n}] ({} in {})", c.transaction, c.phase);
            let phase = names.iter().position(|p| *p == c.phase).ok_or_else(|| {
                invalid(format!(
                    "{at}: phase `{}` is not on the clock ({})",
                    c.phase,
                    file.clock.describe()
                ))
            })?;
            let hist =
                decode(&c.histogram, new_histogram()).map_err(|m| invalid(format!("{at}: {m}")))?;
            let outcomes = c.ok + c.errors.values().sum::<u64>() + c.refusals.values().sum::<u64>();
            if hist.len() != c.count || outcomes != c.count {
                return Err(invalid(format!(
                    "{at}: count {} but {} latencies and {outcomes} outcomes",
                    c.count,
                    hist.len()
                )));
            }
            let key = (c.transaction, phase);
            if recorded.cells.contains_key(&key) {
                return Err(invalid(format!(
                    "{at}: a second cell for the same transaction and phase"
                )));
            }
            recorded.cells.insert(
                key,
                Cell {
                    count: c.count,
                    ok: c.ok,
                    errors: c.errors,
                    violations: c.violations,
                    refusals: c.refusals,
                    hist,
                },
            );
        }
        let open = file.open_model;
        recorded.lag = open
            .send_lag
            .as_deref()
            .map(|h| decode(h, new_histogram()))
            .transpose()
            .map_err(|m| invalid(format!("open_model.send_lag: {m}")))?;
        recorded.sent = open.sent;
        recorded.late = open.late_over_10ms;
        recorded.skipped = open.skipped_at_start;
        let bucket_s = match file.timeline {
            Some(t) => {
                if !(t.bucket_s.is_finite() && t.bucket_s >= 0.001 && t.bucket_s <= 1e9) {
                    return Err(invalid(format!(
                        "timeline.bucket_s is {}, not a width in seconds",
                        t.bucket_s
                    )));
                }
                for (n, c) in t.cells.into_iter().enumerate() {
                    let at = format!(
                        "timeline.cells[{n}] ({} in bucket {})",
                        c.transaction, c.bucket
                    );
                    if c.bucket >= MAX_TIMELINE_BUCKETS {
                        return Err(invalid(format!(
                            "{at}: a timeline has at most {MAX_TIMELINE_BUCKETS} buckets"
                        )));
                    }
                    let hist = decode(&c.histogram, new_series_histogram())
                        .map_err(|m| invalid(format!("{at}: {m}")))?;
                    let outcomes = c
                        .errors
                        .values()
                        .fold(c.ok.saturating_add(c.refusals), |a, n| a.saturating_add(*n));
                    if hist.len() != c.count || outcomes != c.count {
                        return Err(invalid(format!(
                            "{at}: count {} but {} latencies and {outcomes} outcomes",
                            c.count,
                            hist.len()
                        )));
                    }
                    let key = (c.transaction, c.bucket);
                    if recorded.series.contains_key(&key) {
                        return Err(invalid(format!(
                            "{at}: a second cell for the same transaction and bucket"
                        )));
                    }
                    recorded.series.insert(
                        key,
                        SeriesCell {
                            count: c.count,
                            ok: c.ok,
                            refusals: c.refusals,
                            errors: c.errors,
                            hist,
                        },
                    );
                }
                Some(t.bucket_s)
            }
            None => None,
        };
        Ok(ShardData {
            info: file.run,
            run_seed: file.seed.run,
            seed: file.seed.shard,
            count: file.shards.count,
            indices,
            clock: file.clock,
            phase_seconds: file.seconds.phases,
            run_seconds: file.seconds.run,
            apart: file.apart,
            planned: open.planned,
            bucket_s,
            recorded,
        })
    }

    /// Reads `path`: a shard file, or a folder holding [`SHARD_FILE`].
    pub fn read(path: &Path) -> Result<ShardData, ShardError> {
        let file = if path.is_dir() {
            path.join(SHARD_FILE)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|e| ShardError::Io {
            path: file.clone(),
            source: e,
        })?;
        ShardData::parse(&text, &file.display().to_string())
    }

    pub fn write(&self, path: &Path) -> Result<(), ShardError> {
        std::fs::write(path, self.to_json()).map_err(|e| ShardError::Io {
            path: path.to_path_buf(),
            source: e,
        })
    }
}

/// serde_json's message with where it stopped (a truncated file says so).
fn json_problem(e: &serde_json::Error) -> String {
    let what = if e.is_eof() {
        "the file ends early (truncated?)".to_string()
    } else {
        e.to_string()
    };
    if what.contains(" at line ") {
        what
    } else {
        format!("{what} at line {} column {}", e.line(), e.column())
    }
}

fn encode<T: Counter>(h: &Histogram<T>) -> String {
    base64::engine::general_purpose::STANDARD.encode(v2_bytes(h))
}

/// hdrhistogram's V2 format: cookie, payload length, normalizing offset,
/// significant digits, lowest and highest value, integer-to-double ratio
/// (40 bytes), then the counts.
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_HEADER: usize = 40;

/// A histogram from its base64 V2 form, with the bounds of `want` (empty:
/// those every recorder uses for that kind, so it adds to the others
/// exactly). The header is checked first: the payload length must be what
/// follows it, and the bounds gauntlet's.
fn decode<T: Counter>(text: &str, want: Histogram<T>) -> Result<Histogram<T>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    let header = bytes.get(..V2_HEADER).ok_or_else(|| {
        format!(
            "histogram is {} bytes, shorter than a V2 header",
            bytes.len()
        )
    })?;
    let word = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    let long = |at: usize| u64::from_be_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    if word(0) != V2_COOKIE {
        return Err(format!(
            "histogram is not in hdrhistogram's V2 format (cookie {:#x})",
            word(0)
        ));
    }
    let payload = word(4) as usize;
    if payload != bytes.len() - V2_HEADER {
        return Err(format!(
            "histogram says {payload} bytes of counts, {} follow (truncated or damaged)",
            bytes.len() - V2_HEADER
        ));
    }
    let (digits, low, high) = (word(12), long(16), long(24));
    if (low, high, digits) != (want.low(), want.high(), u32::from(want.sigfig())) {
        return Err(format!(
            "histogram bounds {low}..{high} µs with {digits} digits; gauntlet records {}..{} µs \
             with {} digits",
            want.low(),
            want.high(),
            want.sigfig()
        ));
    }
    let h: Histogram<T> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e}"))?;
    let mut same = want;
    same.add(&h)
        .map_err(|e| format!("histogram does not fit the recorder's bounds: {e:?}"))?;
    Ok(same)
}

// ------------------------------------------------------------ file form

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShardFile {
    format: String,
    run: RunInfo,
    seed: Seeds,
    shards: Shards,
    clock: Clock,
    seconds: Seconds,
    apart: Vec<String>,
    cells: Vec<CellFile>,
    open_model: OpenFile,
    /// Absent from files written before the timeline existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeline: Option<TimelineFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Seeds {
    run: u64,
    shard: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Shards {
    count: u32,
    indices: Vec<u32>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Seconds {
    run: f64,
    phases: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CellFile {
    transaction: String,
    phase: String,
    count: u64,
    ok: u64,
    errors: BTreeMap<String, u64>,
    violations: BTreeMap<String, u64>,
    refusals: BTreeMap<String, u64>,
    /// hdrhistogram V2, base64: latencies in µs.
    histogram: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenFile {
    planned: Option<u64>,
    sent: u64,
    late_over_10ms: u64,
    skipped_at_start: u64,
    /// hdrhistogram V2, base64: send lag in µs.
    send_lag: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimelineFile {
    bucket_s: f64,
    cells: Vec<SeriesCellFile>,
}

/// One transaction in one bucket of the timeline.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeriesCellFile {
    transaction: String,
    bucket: u32,
    count: u64,
    ok: u64,
    refusals: u64,
    /// By class.
    errors: BTreeMap<String, u64>,
    /// hdrhistogram V2, base64: latencies in µs, 2 significant digits.
    histogram: String,
}
