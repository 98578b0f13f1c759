//! Service level objectives (`scenarios/slo.toml`) and their evaluation
//! against a [`LoadReport`], for the whole run and for each phase.
//!
//! `[transaction.NAME]` judges one transaction by name: a built-in one or
//! a profile's own `[transactions.NAME]`. Which names a profile has is
//! known only with the profile, so [`SloFile::for_run`] checks them (an
//! unknown name is an error at its place in the SLO file).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::profile::{
    line_col, parse_duration, valid_name, Profile, ProfileError, Source, TransactionKind,
};
use crate::report::{LoadReport, Summary};

/// Errors in `slo.toml` have the same shape as profile errors:
/// `FILE:LINE:COL: message`.
pub type SloError = ProfileError;

/// Which figure a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    P50,
    P90,
    P95,
    P99,
    Max,
    ErrorRate,
}

impl Metric {
    pub const ALL: [Metric; 6] = [
        Metric::P50,
        Metric::P90,
        Metric::P95,
        Metric::P99,
        Metric::Max,
        Metric::ErrorRate,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::Max => "max",
            Metric::ErrorRate => "error_rate",
        }
    }

    /// As a verdict names it: `p95`, `error rate`.
    pub fn label(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error rate",
            other => other.key(),
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::ErrorRate => "%",
            _ => "ms",
        }
    }

    fn observe(self, s: &Summary) -> f64 {
        match self {
            Metric::P50 => s.latency_ms.p50,
            Metric::P90 => s.latency_ms.p90,
            Metric::P95 => s.latency_ms.p95,
            Metric::P99 => s.latency_ms.p99,
            Metric::Max => s.latency_ms.max,
            Metric::ErrorRate => s.error_rate_pct,
        }
    }
}

/// Limits of one scope (global or one transaction): the observed value must
/// be strictly below the limit. Latencies in ms, error rate in percent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits(pub BTreeMap<Metric, f64>);

impl Limits {
    pub fn get(&self, m: Metric) -> Option<f64> {
        self.0.get(&m).copied()
    }
}

/// The SLOs that apply to one run (defaults merged with the profile's
/// overrides).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SloSet {
    pub abort_on_breach: bool,
    pub global: Limits,
    /// By transaction name.
    pub transactions: BTreeMap<String, Limits>,
}

/// `slo.toml`: the defaults and the `[profile.<name>]` overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SloFile {
    pub defaults: SloSet,
    pub profiles: BTreeMap<String, SloOverride>,
    /// Every `[transaction.NAME]` (and `[profile.P.transaction.NAME]`, with
    /// `P`) and its place, checked against a profile by [`SloFile::for_run`].
    names: Vec<(Option<String>, String, ProfileError)>,
}

/// A change to the defaults: `Some(None)` removes a limit (`"off"`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SloOverride {
    pub abort_on_breach: Option<bool>,
    pub global: BTreeMap<Metric, Option<f64>>,
    pub transactions: BTreeMap<String, BTreeMap<Metric, Option<f64>>>,
}

/// One SLO judged over the whole run (`phase: None`) or one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// `"global p95"`, `"checkout p95"`, `"global error rate"`.
    pub slo: String,
    pub observed: f64,
    pub threshold: f64,
    /// `"ms"` or `"%"`.
    pub unit: String,
    pub passed: bool,
    pub phase: Option<String>,
    /// Requests the figure rests on.
    pub samples: u64,
    /// Error-rate verdicts: the errors by class (`http 5xx`, `reset`,
    /// `timeout`...), so a breach says where it came from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_classes: BTreeMap<String, u64>,
}

impl SloFile {
    pub fn load(path: &Path) -> Result<SloFile, SloError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
            file: file.clone(),
            line: 1,
            column: 1,
            message: format!("cannot read the SLO file: {e}"),
        })?;
        SloFile::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<SloFile, SloError> {
        let src = Source { file, text };
        let raw: RawFile = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        let global = limits(&src, raw.global.as_ref(), false)?;
        let mut names = Vec::new();
        let mut defaults = SloSet {
            abort_on_breach: raw.abort_on_breach.unwrap_or(false),
            global: Limits(
                global
                    .into_iter()
                    .filter_map(|(m, v)| v.map(|v| (m, v)))
                    .collect(),
            ),
            transactions: BTreeMap::new(),
        };
        for (name, l) in &raw.transaction {
            names.push((None, name.get_ref().clone(), check_transaction(&src, name)?));
            let l = limits(&src, Some(l), false)?;
            defaults.transactions.insert(
                name.get_ref().clone(),
                Limits(
                    l.into_iter()
                        .filter_map(|(m, v)| v.map(|v| (m, v)))
                        .collect(),
                ),
            );
        }
        let mut profiles = BTreeMap::new();
        for (name, o) in &raw.profile {
            let mut ov = SloOverride {
                abort_on_breach: o.abort_on_breach,
                global: limits(&src, o.global.as_ref(), true)?,
                transactions: BTreeMap::new(),
            };
            for (t, l) in &o.transaction {
                names.push((
                    Some(name.get_ref().clone()),
                    t.get_ref().clone(),
                    check_transaction(&src, t)?,
                ));
                ov.transactions
                    .insert(t.get_ref().clone(), limits(&src, Some(l), true)?);
            }
            profiles.insert(name.get_ref().clone(), ov);
        }
        Ok(SloFile {
            defaults,
            profiles,
            names,
        })
    }

    /// The SLOs of a run of `profile` ([`SloFile::for_profile`]), after
    /// checking that every transaction they name (at the top level and in
    /// `[profile.<its name>]`) is built in or one of the profile's own.
    pub fn for_run(&self, profile: &Profile) -> Result<SloSet, SloError> {
        let known = profile.transaction_names();
        let declared: Vec<&str> = profile.templates.keys().map(String::as_str).collect();
        for (scope, name, place) in &self.names {
            if scope.as_ref().is_some_and(|p| *p != profile.name) {
                continue;
            }
            if !known.contains(name) {
                let mut message = TransactionKind::unknown_message(name, &declared);
                if scope.is_none() {
                    message.push_str(&format!(
                        " (SLOs of transactions only some profiles have go in [profile.{}.transaction.{name}])",
                        profile.name
                    ));
                }
                return Err(ProfileError {
                    message,
                    ..place.clone()
                });
            }
        }
        Ok(self.for_profile(&profile.name))
    }

    /// The defaults with `[profile.<name>]` applied (the defaults alone when
    /// the file has no such table).
    pub fn for_profile(&self, name: &str) -> SloSet {
        let mut set = self.defaults.clone();
        let Some(ov) = self.profiles.get(name) else {
            return set;
        };
        if let Some(a) = ov.abort_on_breach {
            set.abort_on_breach = a;
        }
        apply(&mut set.global, &ov.global);
        for (t, changes) in &ov.transactions {
            let limits = set.transactions.entry(t.clone()).or_default();
            apply(limits, changes);
        }
        set.transactions.retain(|_, l| !l.0.is_empty());
        set
    }
}

fn apply(limits: &mut Limits, changes: &BTreeMap<Metric, Option<f64>>) {
    for (m, v) in changes {
        match v {
            Some(v) => {
                limits.0.insert(*m, *v);
            }
            None => {
                limits.0.remove(m);
            }
        }
    }
}

/// A transaction name's syntax; whether the profile has it is checked by
/// [`SloFile::for_run`]. Returns its place.
fn check_transaction(src: &Source, name: &Spanned<String>) -> Result<ProfileError, SloError> {
    if !valid_name(name.get_ref()) {
        return Err(src.at(
            name.span(),
            format!(
                "`{}` is not a transaction name (1-64 characters of a-z, 0-9, `_` and `-`)",
                name.get_ref()
            ),
        ));
    }
    let (line, column) = line_col(src.text, name.span().start);
    Ok(ProfileError {
        file: src.file.to_string(),
        line,
        column,
        message: String::new(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    abort_on_breach: Option<bool>,
    global: Option<RawLimits>,
    #[serde(default)]
    transaction: BTreeMap<Spanned<String>, RawLimits>,
    #[serde(default)]
    profile: BTreeMap<Spanned<String>, RawOverride>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    abort_on_breach: Option<bool>,
    global: Option<RawLimits>,
    #[serde(default)]
    transaction: BTreeMap<Spanned<String>, RawLimits>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    p50: Option<Spanned<String>>,
    p90: Option<Spanned<String>>,
    p95: Option<Spanned<String>>,
    p99: Option<Spanned<String>>,
    max: Option<Spanned<String>>,
    error_rate: Option<Spanned<String>>,
}

impl RawLimits {
    fn entries(&self) -> [(Metric, &Option<Spanned<String>>); 6] {
        [
            (Metric::P50, &self.p50),
            (Metric::P90, &self.p90),
            (Metric::P95, &self.p95),
            (Metric::P99, &self.p99),
            (Metric::Max, &self.max),
            (Metric::ErrorRate, &self.error_rate),
        ]
    }
}

fn limits(
    src: &Source,
    raw: Option<&RawLimits>,
    allow_off: bool,
) -> Result<BTreeMap<Metric, Option<f64>>, SloError> {
    let mut out = BTreeMap::new();
    let Some(raw) = raw else {
        return Ok(out);
    };
    for (metric, value) in raw.entries() {
        let Some(value) = value else { continue };
        let text = value.get_ref().trim();
        if text == "off" {
            if !allow_off {
                return Err(src.at(
                    value.span(),
                    format!(
                        "{} = \"off\" is only meaningful in a [profile.<name>] override",
                        metric.key()
                    ),
                ));
            }
            out.insert(metric, None);
            continue;
        }
        let v = match metric {
            Metric::ErrorRate => {
                parse_percent(text).map_err(|m| src.at(value.span(), format!("error_rate: {m}")))?
            }
            _ => {
                let d = parse_duration(text)
                    .map_err(|m| src.at(value.span(), format!("{}: {m}", metric.key())))?;
                if d.is_zero() {
                    return Err(src.at(
                        value.span(),
                        format!(
                            "{} must be longer than 0 (nothing is faster than 0)",
                            metric.key()
                        ),
                    ));
                }
                d.as_secs_f64() * 1000.0
            }
        };
        out.insert(metric, Some(v));
    }
    Ok(out)
}

/// `"1%"`, `"0.5%"` → percent.
fn parse_percent(text: &str) -> Result<f64, String> {
    let bad = || format!("`{text}` is not a percentage (examples: 1%, 0.5%)");
    let number = text.strip_suffix('%').ok_or_else(bad)?.trim();
    let v: f64 = number.parse().map_err(|_| bad())?;
    if !v.is_finite() || v <= 0.0 || v > 100.0 {
        return Err(format!("`{text}` must be above 0% and at most 100%"));
    }
    Ok(v)
}

/// Judges every SLO of `slos` over the whole run and each phase of
/// `report`. Phases without requests get no verdict; a whole-run SLO of a
/// transaction that ran no request fails (with 0 samples), unless the
/// transaction is not in the run at all.
///
/// Besides the SLOs, every transaction of the run that checks a contract
/// (the contention bursts, [`TransactionKind::has_contract`]) or recorded
/// a violation gets a whole-run verdict `"NAME contract"`: its violations,
/// which must be 0 (`< 1`). It is not an SLO and no file can turn it off:
/// a violation is a bug, not a slow day.
pub fn evaluate(report: &LoadReport, slos: &SloSet) -> Vec<Verdict> {
    let mut out = Vec::new();
    let mut scopes: Vec<Option<String>> = vec![None];
    scopes.extend(report.phase_names().into_iter().map(Some));
    for phase in &scopes {
        judge(&mut out, "global", &slos.global, &report.all, phase);
        for (txn, limits) in &slos.transactions {
            if let Some(b) = report.transactions.get(txn) {
                judge(&mut out, txn, limits, b, phase);
            }
        }
        if phase.is_none() {
            out.extend(contract_verdicts(report));
        }
    }
    out
}

/// The unit of a contract verdict: answers that broke the contract.
pub const VIOLATIONS_UNIT: &str = "violations";

fn contract_verdicts(report: &LoadReport) -> Vec<Verdict> {
    report
        .transactions
        .iter()
        .filter(|(name, b)| {
            b.run.violations_total > 0
                || TransactionKind::from_name(name).is_some_and(TransactionKind::has_contract)
        })
        .map(|(name, b)| Verdict {
            slo: format!("{name} contract"),
            observed: b.run.violations_total as f64,
            threshold: 1.0,
            unit: VIOLATIONS_UNIT.to_string(),
            passed: b.run.violations_total == 0,
            phase: None,
            samples: b.run.count,
            error_classes: BTreeMap::new(),
        })
        .collect()
}

fn judge(
    out: &mut Vec<Verdict>,
    scope: &str,
    limits: &Limits,
    b: &crate::report::Breakdown,
    phase: &Option<String>,
) {
    let summary = match phase {
        None => Some(&b.run),
        Some(p) => b.phases.get(p),
    };
    let Some(s) = summary else { return };
    if s.count == 0 && phase.is_some() {
        return;
    }
    for m in Metric::ALL {
        let Some(threshold) = limits.get(m) else {
            continue;
        };
        let observed = m.observe(s);
        out.push(Verdict {
            slo: format!("{scope} {}", m.label()),
            observed,
            threshold,
            unit: m.unit().to_string(),
            passed: s.count > 0 && observed < threshold,
            phase: phase.clone(),
            samples: s.count,
            error_classes: if m == Metric::ErrorRate {
                s.error_classes.clone()
            } else {
                BTreeMap::new()
            },
        });
    }
}

/// Whether every verdict passed.
pub fn all_passed(verdicts: &[Verdict]) -> bool {
    verdicts.iter().all(|v| v.passed)
}

/// A plain-text table of verdicts (whole run first, then by phase).
pub fn verdict_table(verdicts: &[Verdict]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<12} {:<26} {:>12} {:>12} {:>9}  result",
        "phase", "slo", "observed", "threshold", "samples"
    );
    for v in verdicts {
        let fmt = |x: f64| match v.unit.as_str() {
            "%" => format!("{x:.2} %"),
            "ms" => format!("{x:.1} ms"),
            _ => format!("{x:.0}"),
        };
        // A breached error rate names its classes, most first.
        let mut classes: Vec<(&String, &u64)> = v.error_classes.iter().collect();
        classes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let classes = if v.passed || classes.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
            format!("  ({})", parts.join(", "))
        };
        let _ = writeln!(
            s,
            "{:<12} {:<26} {:>12} {:>12} {:>9}  {}{classes}",
            v.phase.as_deref().unwrap_or("(run)"),
            v.slo,
            fmt(v.observed),
            format!("< {}", fmt(v.threshold)),
            v.samples,
            if v.passed { "pass" } else { "FAIL" }
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Breakdown, LatencyMs, PhaseWindow};

    fn parse(text: &str) -> Result<SloFile, SloError> {
        SloFile::parse(text, "slo.toml")
    }

    #[test]
    fn error_messages_name_file_line_and_column() {
        let cases = [
            (
                "[global]\np95 = \"500ms\"\np97 = \"1s\"\n",
                "slo.toml:3:1: unknown field `p97`, expected one of",
            ),
            (
                "[global]\np95 = \"fast\"\n",
                "slo.toml:2:7: p95: `fast` is not a duration",
            ),
            (
                "[global]\np95 = \"0ms\"\n",
                "slo.toml:2:7: p95 must be longer than 0",
            ),
            (
                "[global]\nerror_rate = \"1\"\n",
                "slo.toml:2:14: error_rate: `1` is not a percentage",
            ),
            (
                "[global]\nerror_rate = \"0%\"\n",
                "slo.toml:2:14: error_rate: `0%` must be above 0%",
            ),
            (
                "[global]\np95 = 500\n",
                "slo.toml:2:7: invalid type: integer `500`, expected a string",
            ),
            (
                "[transaction.Checkout]\np95 = \"200ms\"\n",
                "slo.toml:1:14: `Checkout` is not a transaction name",
            ),
            (
                "[global]\np95 = \"off\"\n",
                "slo.toml:2:7: p95 = \"off\" is only meaningful in a [profile.<name>] override",
            ),
            (
                "abort_on_breach = \"yes\"\n",
                "slo.toml:1:19: invalid type: string \"yes\", expected a boolean",
            ),
            (
                "[profile.ci]\nabort = true\n",
                "slo.toml:2:1: unknown field `abort`",
            ),
        ];
        for (text, expected) in cases {
            let shown = parse(text).expect_err(text).to_string();
            assert!(
                shown.starts_with(expected),
                "slo:\n{text}\nexpected: {expected}\n     got: {shown}"
            );
        }
    }

    /// Transaction names are checked against the profile that runs.
    #[test]
    fn transaction_names_are_checked_against_the_profile() {
        let builtin_only = crate::Profile::parse(
            "users = 1\nduration = \"1s\"\n[mix]\ncheckout = 1\n",
            "smoke.toml",
            "smoke",
        )
        .unwrap();
        let own = crate::Profile::parse_with_config(
            "users = 1\nduration = \"1s\"\n[mix]\npublish = 1\n[transactions.publish]\npath = \"/e\"\n",
            "events.toml",
            "events",
            &crate::profile::tests::project(),
        )
        .unwrap();
        let for_run = |text: &str, p: &Profile| {
            parse(text)
                .unwrap_or_else(|e| panic!("{e}"))
                .for_run(p)
                .map_err(|e| e.to_string())
        };
        // A template transaction's SLO, at the top level and in the
        // profile's override; built-in names are always accepted.
        let text = "[transaction.publish]\np95 = \"200ms\"\n[transaction.webhook]\np95 = \"1s\"\n\
                    [profile.events.transaction.publish]\nerror_rate = \"2%\"\n\
                    [profile.smoke.transaction.nonesuch]\np95 = \"1s\"\n";
        let set = for_run(text, &own).unwrap();
        assert_eq!(set.transactions["publish"].get(Metric::P95), Some(200.0));
        assert_eq!(
            set.transactions["publish"].get(Metric::ErrorRate),
            Some(2.0)
        );
        // The same file with a profile that has no `publish`.
        let e = for_run(text, &builtin_only).unwrap_err();
        assert!(
            e.starts_with("slo.toml:1:14: unknown transaction `publish`; known: browse_list"),
            "{e}"
        );
        assert!(
            e.contains("go in [profile.smoke.transaction.publish]"),
            "{e}"
        );
        // An override for another profile is not checked against this one.
        assert!(for_run("[profile.smoke.transaction.nonesuch]\np95 = \"1s\"\n", &own).is_ok());
        let e = for_run("[profile.events.transaction.publsh]\np95 = \"1s\"\n", &own).unwrap_err();
        assert!(
            e.starts_with("slo.toml:1:29: unknown transaction `publsh`")
                && e.contains("this profile's own: publish"),
            "{e}"
        );
        let e = for_run("[transaction.feed_read]\np95 = \"200ms\"\n", &builtin_only).unwrap_err();
        assert!(
            e.starts_with("slo.toml:1:14: transaction `feed_read` is not available yet"),
            "{e}"
        );
        let e = for_run("[transaction.chekout]\np95 = \"200ms\"\n", &builtin_only).unwrap_err();
        assert!(
            e.starts_with("slo.toml:1:14: unknown transaction `chekout`"),
            "{e}"
        );
    }

    #[test]
    fn shipped_file_has_the_spec_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("slo.toml");
        let file = SloFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let d = &file.defaults;
        assert!(!d.abort_on_breach);
        assert_eq!(d.global.get(Metric::P95), Some(500.0));
        assert_eq!(d.global.get(Metric::P99), Some(1000.0));
        assert_eq!(d.global.get(Metric::ErrorRate), Some(1.0));
        assert_eq!(d.transactions["checkout"].get(Metric::P95), Some(500.0));
        assert_eq!(d.transactions["webhook"].get(Metric::P95), Some(500.0));
        assert!(file.for_profile("soak").abort_on_breach);
        assert_eq!(file.for_profile("nonexistent"), file.defaults);
    }

    #[test]
    fn profile_overrides_merge() {
        let file = parse(
            "[global]\np95 = \"500ms\"\np99 = \"1s\"\nerror_rate = \"1%\"\n\
             [transaction.checkout]\np95 = \"500ms\"\n\
             [profile.stress]\nabort_on_breach = true\n\
             [profile.stress.global]\np95 = \"2s\"\np99 = \"off\"\n\
             [profile.stress.transaction.checkout]\np95 = \"off\"\n\
             [profile.stress.transaction.webhook]\np90 = \"750ms\"\n",
        )
        .unwrap();
        let s = file.for_profile("stress");
        assert!(s.abort_on_breach);
        assert_eq!(s.global.get(Metric::P95), Some(2000.0));
        assert_eq!(s.global.get(Metric::P99), None);
        assert_eq!(s.global.get(Metric::ErrorRate), Some(1.0));
        assert!(
            !s.transactions.contains_key("checkout"),
            "all its limits are off"
        );
        assert_eq!(s.transactions["webhook"].get(Metric::P90), Some(750.0));
        let ci = file.for_profile("ci");
        assert!(!ci.abort_on_breach);
        assert_eq!(ci.transactions["checkout"].get(Metric::P95), Some(500.0));
    }

    fn summary(count: u64, p95: f64, errors: u64) -> Summary {
        Summary {
            count,
            ok: count - errors,
            errors_total: errors,
            error_rate_pct: if count == 0 {
                0.0
            } else {
                errors as f64 * 100.0 / count as f64
            },
            latency_ms: LatencyMs {
                p50: p95 / 2.0,
                p90: p95 * 0.9,
                p95,
                p99: p95 * 1.5,
                max: p95 * 2.0,
                mean: p95 / 2.0,
            },
            ..Summary::default()
        }
    }

    fn report() -> LoadReport {
        let phases = ["ramp_up", "plateau", "ramp_down"];
        let mut r = LoadReport {
            phases: phases
                .iter()
                .enumerate()
                .map(|(i, n)| PhaseWindow {
                    name: n.to_string(),
                    start_s: i as f64 * 10.0,
                    end_s: (i + 1) as f64 * 10.0,
                    users: 100,
                    rate: None,
                })
                .collect(),
            ..LoadReport::default()
        };
        // A slow ramp-up (cold caches), a good plateau, nothing in ramp-down.
        r.all = Breakdown {
            run: summary(1000, 300.0, 5),
            phases: [
                ("ramp_up".to_string(), summary(200, 900.0, 5)),
                ("plateau".to_string(), summary(800, 200.0, 0)),
            ]
            .into(),
        };
        r.transactions.insert(
            "checkout".into(),
            Breakdown {
                run: summary(50, 450.0, 0),
                phases: [
                    ("ramp_up".to_string(), summary(10, 800.0, 0)),
                    ("plateau".to_string(), summary(40, 300.0, 0)),
                    ("ramp_down".to_string(), summary(0, 0.0, 0)),
                ]
                .into(),
            },
        );
        r.transactions.insert(
            "webhook".into(),
            Breakdown {
                run: summary(0, 0.0, 0),
                phases: BTreeMap::new(),
            },
        );
        r
    }

    #[test]
    fn evaluation_per_run_and_per_phase() {
        let slos = parse(
            "[global]\np95 = \"500ms\"\nerror_rate = \"1%\"\n\
             [transaction.checkout]\np95 = \"500ms\"\n\
             [transaction.webhook]\np95 = \"500ms\"\n\
             [transaction.orders_list]\np95 = \"500ms\"\n",
        )
        .unwrap()
        .for_profile("release");
        let verdicts = evaluate(&report(), &slos);
        let find = |slo: &str, phase: Option<&str>| {
            verdicts
                .iter()
                .find(|v| v.slo == slo && v.phase.as_deref() == phase)
                .unwrap_or_else(|| panic!("no verdict {slo} {phase:?}"))
        };
        // Whole run: p95 300 ms passes, error rate 0.5 % passes.
        assert!(find("global p95", None).passed);
        assert_eq!(find("global p95", None).observed, 300.0);
        assert!(find("global error rate", None).passed);
        // The ramp-up breach is visible as such.
        let ramp = find("global p95", Some("ramp_up"));
        assert!(!ramp.passed);
        assert_eq!(
            (ramp.observed, ramp.threshold, ramp.samples),
            (900.0, 500.0, 200)
        );
        assert!(!find("global error rate", Some("ramp_up")).passed, "2.5 %");
        assert!(find("global p95", Some("plateau")).passed);
        assert!(!find("checkout p95", Some("ramp_up")).passed);
        assert!(find("checkout p95", Some("plateau")).passed);
        assert!(find("checkout p95", None).passed);
        // No requests in ramp-down: no verdict there.
        assert!(!verdicts
            .iter()
            .any(|v| v.phase.as_deref() == Some("ramp_down")));
        // A transaction of the run that measured nothing fails on the run.
        let w = find("webhook p95", None);
        assert!(!w.passed);
        assert_eq!(w.samples, 0);
        // A transaction not in the run gets no verdict.
        assert!(!verdicts.iter().any(|v| v.slo.starts_with("orders_list")));
        assert!(!all_passed(&verdicts));
        let table = verdict_table(&verdicts);
        assert!(table.contains("ramp_up      global p95"), "{table}");
        assert!(table.contains("FAIL"));
        // No contention burst in the run: no contract verdict.
        assert!(!verdicts.iter().any(|v| v.slo.ends_with(" contract")));
    }

    #[test]
    fn contract_violations_fail_the_run_whatever_the_slos() {
        let slos = parse("[global]\nerror_rate = \"50%\"\n").unwrap().defaults;
        let mut r = report();
        let mut clean = summary(80, 100.0, 0);
        r.transactions.insert(
            "webhook_replay".into(),
            Breakdown {
                run: clean.clone(),
                phases: BTreeMap::new(),
            },
        );
        let verdicts = evaluate(&r, &slos);
        let v = verdicts
            .iter()
            .find(|v| v.slo == "webhook_replay contract")
            .expect("a contention burst always gets a contract verdict");
        assert!(v.passed && v.phase.is_none() && v.samples == 80, "{v:?}");
        assert!(all_passed(&verdicts));
        // 8 answers of one burst broke the contract: 10 % errors, under the
        // error-rate SLO, and still a failed run.
        clean.errors_total = 8;
        clean.error_rate_pct = 10.0;
        clean.violations_total = 8;
        clean.violations = [("idempotency key replay created 8 orders".to_string(), 8)].into();
        r.transactions.insert(
            "checkout_replay".into(),
            Breakdown {
                run: clean,
                phases: BTreeMap::new(),
            },
        );
        let verdicts = evaluate(&r, &slos);
        let v = verdicts
            .iter()
            .find(|v| v.slo == "checkout_replay contract")
            .unwrap();
        assert!(!v.passed);
        assert_eq!((v.observed, v.threshold), (8.0, 1.0));
        assert!(verdicts
            .iter()
            .any(|v| v.slo == "global error rate" && v.passed));
        assert!(!all_passed(&verdicts));
        let table = verdict_table(&verdicts);
        assert!(
            table.lines().any(|l| l.contains("checkout_replay contract")
                && l.contains("< 1")
                && l.ends_with("FAIL")),
            "{table}"
        );
        assert!(r
            .transaction_table()
            .contains("checkout_replay: idempotency key replay created 8 orders (8 answers)"));
    }

    #[test]
    fn a_breached_error_rate_names_its_classes() {
        let slos = parse("[global]\nerror_rate = \"1%\"\np95 = \"1s\"\n")
            .unwrap()
            .for_profile("x");
        let mut r = report();
        r.all.run = summary(100, 50.0, 40);
        r.all.run.error_classes =
            BTreeMap::from([("reset".to_string(), 10), ("http 5xx".to_string(), 30)]);
        let verdicts = evaluate(&r, &slos);
        let rate = verdicts
            .iter()
            .find(|v| v.slo == "global error rate" && v.phase.is_none())
            .unwrap();
        assert!(!rate.passed);
        assert_eq!(rate.error_classes, r.all.run.error_classes);
        let p95 = verdicts
            .iter()
            .find(|v| v.slo == "global p95" && v.phase.is_none())
            .unwrap();
        assert!(
            p95.error_classes.is_empty(),
            "only error rates carry classes"
        );
        let table = verdict_table(&verdicts);
        let row = table
            .lines()
            .find(|l| l.starts_with("(run)") && l.contains("global error rate"))
            .unwrap();
        assert!(row.ends_with("FAIL  (http 5xx 30, reset 10)"), "{row}");
        // A passing row says nothing more.
        let plateau = table
            .lines()
            .find(|l| l.starts_with("plateau") && l.contains("error rate"))
            .unwrap();
        assert!(plateau.ends_with("pass"), "{plateau}");
    }

    #[test]
    fn limits_are_strict() {
        let slos = parse("[global]\np95 = \"300ms\"\n").unwrap().defaults;
        let v = evaluate(&report(), &slos);
        assert!(!v[0].passed, "300 ms is not below 300 ms");
    }
}
