//! Experiment text to [`Experiment`]: the top level through serde (unknown
//! keys rejected there), probes and steps key by key so every message can
//! point at the key or value that is wrong.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::fields::{duration_value, opt_duration, Fields, Source, Table};
use super::steps::Compiler;

use super::{
    AccountingSpec, Action, AfterFault, Experiment, ExperimentError, FieldValue, IdSource,
    PendingSpec, Probe, ProbeKind, PublishInto, PublishSpec, Step, Thresholds, ToxicSpec,
    WritersSpec,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExperiment {
    title: Spanned<String>,
    description: Option<String>,
    steady_state: Spanned<RawProbes>,
    expect_during_fault: Option<Spanned<RawProbes>>,
    #[serde(default)]
    method: Vec<Spanned<Table>>,
    #[serde(default)]
    rollbacks: Vec<Spanned<Table>>,
    #[serde(default)]
    thresholds: RawThresholds,
    writers: Option<RawWriters>,
    after_fault: Option<Spanned<RawAfterFault>>,
    accounting: Option<Spanned<Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAfterFault {
    within: Spanned<Value>,
    every: Option<Spanned<Value>>,
    #[serde(default)]
    probes: Vec<Spanned<Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbes {
    #[serde(default)]
    probes: Vec<Spanned<Table>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    rto: Option<Spanned<Value>>,
    rto_from_start: Option<Spanned<Value>>,
    recovery_timeout: Option<Spanned<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWriters {
    checkouts_per_sec: Option<Spanned<f64>>,
    webhooks_per_sec: Option<Spanned<f64>>,
    credits_per_sec: Option<Spanned<f64>>,
    request_timeout: Option<Spanned<Value>>,
    settle: Option<Spanned<Value>>,
}

/// Probe timeouts when the file sets none.
const HTTP_TIMEOUT: Duration = Duration::from_secs(3);
const EXEC_TIMEOUT: Duration = Duration::from_secs(10);
const JOURNEY_TIMEOUT: Duration = Duration::from_secs(60);
/// Reconciliation waits this long for in-flight work unless told otherwise.
const DEFAULT_SETTLE: Duration = Duration::from_secs(20);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// PM2's `max_restarts` in the ecosystem file is 10: a few more kills than
/// that is enough to reach `errored`.
const DEFAULT_CRASH_KILLS: u32 = 15;
const DEFAULT_CRASH_INTERVAL: Duration = Duration::from_millis(200);
const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// `[after_fault]` probes are evaluated this often until they pass.
const DEFAULT_AFTER_FAULT_EVERY: Duration = Duration::from_millis(250);
/// Most events one `publish` puts in.
const MAX_PUBLISH: u64 = 100_000;

pub(super) fn parse(text: &str, file: &Path, name: &str) -> Result<Experiment, ExperimentError> {
    let src = Source { file, text };
    let raw: RawExperiment = toml::from_str(text)
        .map_err(|e| src.at(e.span().unwrap_or(0..0), e.message().trim_end().to_string()))?;
    let compiler = Compiler::new(&src);
    let c = &compiler;

    let title = raw.title.get_ref().trim().to_string();
    if title.is_empty() {
        return Err(src.at(
            raw.title.span(),
            "`title` is empty: say what the experiment does",
        ));
    }

    let steady_span = raw.steady_state.span();
    let steady_state = probes(c, "steady_state", raw.steady_state.into_inner().probes)?;
    if steady_state.is_empty() {
        return Err(src.at(
            steady_span,
            "[steady_state] has no probes: the hypothesis needs at least one",
        ));
    }
    let expect_during_fault = match raw.expect_during_fault {
        Some(p) => probes(c, "expect_during_fault", p.into_inner().probes)?,
        None => Vec::new(),
    };

    let after_fault = match raw.after_fault {
        None => None,
        Some(a) => {
            let span = a.span();
            let a = a.into_inner();
            let within = duration_value(&src, "after_fault.within", &a.within)?;
            let every = opt_duration(&src, "after_fault.every", a.every.as_ref())?
                .unwrap_or(DEFAULT_AFTER_FAULT_EVERY);
            let probes = probes(c, "after_fault", a.probes)?;
            if probes.is_empty() {
                return Err(src.at(
                    span,
                    "[after_fault] has no probes: give the checks that must pass after the fault",
                ));
            }
            Some(AfterFault {
                within,
                every,
                probes,
            })
        }
    };
    let accounting = raw
        .accounting
        .as_ref()
        .map(|t| accounting(c, t))
        .transpose()?;
    let id_field = accounting.as_ref().map(|a| a.id_field.as_str());

    if raw.method.is_empty() {
        return Err(src.at(
            0..0,
            "no [[method]] steps: an experiment needs at least one fault",
        ));
    }
    let method = raw
        .method
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let at = Place {
                what: format!("method step {}", i + 1),
                array: "method",
                index: i,
            };
            step(c, &at, t, false, id_field)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if method.iter().all(|s| matches!(s.action, Action::Sleep)) {
        return Err(src.at(raw.method[0].span(), "the method only sleeps: add a fault"));
    }
    let rollbacks = raw
        .rollbacks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let at = Place {
                what: format!("rollback {}", i + 1),
                array: "rollbacks",
                index: i,
            };
            step(c, &at, t, true, id_field)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let (Some(a), Some(t)) = (&accounting, &raw.accounting) {
        let publishes = method
            .iter()
            .chain(&rollbacks)
            .any(|s| matches!(s.action, Action::Publish(_)));
        if !publishes {
            return Err(src.at(
                t.span(),
                format!(
                    "[accounting] has nothing to account for: no `publish` action puts events \
                     (with an `{}` field) in",
                    a.id_field
                ),
            ));
        }
    }

    let thresholds = Thresholds {
        rto: opt_duration(&src, "thresholds.rto", raw.thresholds.rto.as_ref())?,
        rto_from_start: opt_duration(
            &src,
            "thresholds.rto_from_start",
            raw.thresholds.rto_from_start.as_ref(),
        )?,
        recovery_timeout: opt_duration(
            &src,
            "thresholds.recovery_timeout",
            raw.thresholds.recovery_timeout.as_ref(),
        )?,
    };
    let writers = raw.writers.map(|w| writers(&src, w)).transpose()?;

    Ok(Experiment {
        name: name.to_string(),
        path: None,
        title,
        description: raw.description.map(|d| d.trim().to_string()),
        steady_state,
        expect_during_fault,
        method,
        rollbacks,
        thresholds,
        writers,
        after_fault,
        accounting,
        secrets: compiler.secrets(),
    })
}

/// Where a step is: how messages name it, and its place in the file.
struct Place {
    what: String,
    array: &'static str,
    index: usize,
}

fn writers(src: &Source, w: RawWriters) -> Result<WritersSpec, ExperimentError> {
    let rate = |v: &Option<Spanned<f64>>, key: &str| -> Result<f64, ExperimentError> {
        match v {
            None => Ok(0.0),
            Some(v) => {
                let r = *v.get_ref();
                if !r.is_finite() || !(0.0..=1000.0).contains(&r) {
                    Err(src.at(
                        v.span(),
                        format!("writers.{key} must be between 0 and 1000 per second, not {r}"),
                    ))
                } else {
                    Ok(r)
                }
            }
        }
    };
    let spec = WritersSpec {
        checkouts_per_sec: rate(&w.checkouts_per_sec, "checkouts_per_sec")?,
        webhooks_per_sec: rate(&w.webhooks_per_sec, "webhooks_per_sec")?,
        credits_per_sec: rate(&w.credits_per_sec, "credits_per_sec")?,
        request_timeout: opt_duration(src, "writers.request_timeout", w.request_timeout.as_ref())?
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        settle: opt_duration(src, "writers.settle", w.settle.as_ref())?.unwrap_or(DEFAULT_SETTLE),
    };
    if spec.checkouts_per_sec + spec.webhooks_per_sec + spec.credits_per_sec == 0.0 {
        return Err(src.at(
            0..0,
            "[writers] sets no rate: give checkouts_per_sec, webhooks_per_sec or credits_per_sec, \
             or remove the table",
        ));
    }
    Ok(spec)
}

// ------------------------------------------------------------------ probes

fn probes(
    c: &Compiler,
    section: &str,
    tables: Vec<Spanned<Table>>,
) -> Result<Vec<Probe>, ExperimentError> {
    tables
        .iter()
        .enumerate()
        .map(|(i, t)| probe(c, &format!("{section} probe {}", i + 1), t))
        .collect()
}

fn probe(c: &Compiler, what: &str, table: &Spanned<Table>) -> Result<Probe, ExperimentError> {
    let mut f = Fields::new(c.src(), what.to_string(), table);
    let kinds: Vec<&str> = ProbeKind::KINDS
        .iter()
        .copied()
        .filter(|k| f.has(k))
        .collect();
    let kind = match kinds.as_slice() {
        [one] => *one,
        [] => {
            return Err(f.err(
                table.span(),
                format!(
                    "no probe type: give one of {} (e.g. {{ http = \"/api/healthz\" }})",
                    ProbeKind::KINDS.join(", ")
                ),
            ))
        }
        [a, b, ..] => {
            return Err(f.err(
                table.span(),
                format!("`{a}` and `{b}` in one probe: write two probes"),
            ))
        }
    };
    f.what = format!("{what} ({kind})");
    let label = f.string("name")?;
    let timeout = f.duration("timeout")?;
    f.check_keys(probe_keys(kind))?;
    let (probe_kind, default_label, default_timeout): (_, String, _) = match kind {
        "http" => {
            let path_span = f.map.get("http").map(|(_, v)| v.span());
            let path = f.required_string("http")?;
            if !path.starts_with('/') {
                return Err(f.err(
                    path_span.unwrap_or(table.span()),
                    format!("`http` is a path on the endpoint and starts with `/`, not `{path}`"),
                ));
            }
            // A template (`/events/{{unique}}-1`): its names are checked
            // now, and it is rendered when the probe runs.
            c.template(&f, &path, &path_span.clone().unwrap_or(table.span()))?;
            let endpoint = f.string("endpoint")?;
            let status_span = f.map.get("status").map(|(_, v)| v.span());
            let status = f.uint("status", 599)?.unwrap_or(200);
            if status < 100 {
                return Err(f.err(
                    status_span.unwrap_or(table.span()),
                    format!("`status` {status} is not an HTTP status"),
                ));
            }
            let mut json = Vec::new();
            let mut matchers = Vec::new();
            let json_span = f.span_of("json");
            if let Some(t) = f.table("json")? {
                // Keys that are JSON pointers take matchers; the others are
                // dotted paths with exact values.
                let (pointers, dotted): (toml::Table, toml::Table) =
                    t.into_iter().partition(|(k, _)| k.starts_with('/'));
                flatten_json("", &dotted, &mut json);
                for (pointer, m) in &pointers {
                    let what = format!("json `{pointer}`");
                    matchers.push((pointer.clone(), c.matcher(&f, m, &json_span, &what)?));
                }
            }
            let label = format!(
                "GET {path}{} = {status}{}",
                endpoint
                    .as_ref()
                    .map(|e| format!(" on {e}"))
                    .unwrap_or_default(),
                matchers
                    .iter()
                    .map(|(p, m)| format!(", {p} {}", m.describe()))
                    .collect::<String>()
            );
            (
                ProbeKind::Http {
                    endpoint,
                    path,
                    status: status as u16,
                    json,
                    matchers,
                    body_contains: f.string("body_contains")?,
                    admin: f.boolean("admin")?.unwrap_or(false),
                    slower_than: f.duration("slower_than")?,
                },
                label,
                HTTP_TIMEOUT,
            )
        }
        "pm2" => {
            let process = f.name("pm2")?;
            let status = f.string("status")?.unwrap_or_else(|| "online".into());
            let min_restarts = f.uint("min_restarts", 1_000_000)?;
            let max_restarts = f.uint("max_restarts", 1_000_000)?;
            if let (Some(lo), Some(hi)) = (min_restarts, max_restarts) {
                if lo > hi {
                    return Err(f.err(
                        table.span(),
                        format!("min_restarts {lo} is above max_restarts {hi}"),
                    ));
                }
            }
            let label = format!("pm2 {process} {status}");
            (
                ProbeKind::Pm2 {
                    process,
                    status,
                    min_restarts,
                    max_restarts,
                },
                label,
                EXEC_TIMEOUT,
            )
        }
        "sql" => {
            let span = f.span_of("sql");
            let text = f.required_string("sql")?;
            let query = c.template(&f, &text, &span)?;
            let data = data_name(&mut f)?;
            let expect_value = f.take("expect").ok_or_else(|| {
                f.err(
                    table.span(),
                    "missing `expect` (the first cell's value, or a matcher such as { ge = 1 })",
                )
            })?;
            let (expect, exact) = c.expectation(&f, &expect_value)?;
            let label = format!("sql {} {}", shorten(&text, 40), shown(&expect, exact));
            (
                ProbeKind::Sql {
                    data,
                    query,
                    expect,
                },
                label,
                EXEC_TIMEOUT,
            )
        }
        "redis" => {
            let value = f.take("redis").expect("the probe type's key");
            let command = c.command(&f, "redis", &value, false)?;
            let expect_value = f.take("expect").ok_or_else(|| {
                f.err(
                    table.span(),
                    "missing `expect` (the reply, or a matcher such as { ge = 1 })",
                )
            })?;
            let (expect, exact) = c.expectation(&f, &expect_value)?;
            let data = data_name(&mut f)?;
            let service = match f.has("service") {
                true => Some(f.name("service")?),
                false => None,
            };
            let label = format!("redis {} {}", sources(&command), shown(&expect, exact));
            (
                ProbeKind::Redis {
                    data,
                    service,
                    command,
                    expect,
                },
                label,
                EXEC_TIMEOUT,
            )
        }
        "exec" => {
            let value = f.take("exec").expect("the probe type's key");
            let command = c.command(&f, "exec", &value, true)?;
            let service = f.name("service")?;
            let expect = match f.take("expect") {
                None => None,
                Some(v) => Some(c.expectation(&f, &v)?),
            };
            let label = format!(
                "exec in {service}: {}{}",
                shorten(&sources(&command), 40),
                expect
                    .as_ref()
                    .map(|(e, exact)| format!(" {}", shown(e, *exact)))
                    .unwrap_or_default()
            );
            (
                ProbeKind::Exec {
                    service,
                    command,
                    expect: expect.map(|(e, _)| e),
                },
                label,
                EXEC_TIMEOUT,
            )
        }
        "journey" => {
            // Whether the project has this journey is checked against
            // its catalog (built-ins and files) in `check_config`.
            let journey = f.required_string("journey")?;
            let label = format!("journey {journey}");
            (ProbeKind::Journey { journey }, label, JOURNEY_TIMEOUT)
        }
        _ => unreachable!("probe kinds are listed in ProbeKind::KINDS"),
    };
    f.finish(probe_keys(kind))?;
    Ok(Probe {
        name: label.unwrap_or(default_label),
        kind: probe_kind,
        timeout: timeout.unwrap_or(default_timeout),
    })
}

/// The keys each probe type takes.
fn probe_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "http" => &[
            "http",
            "endpoint",
            "status",
            "json",
            "body_contains",
            "admin",
            "slower_than",
            "name",
            "timeout",
        ],
        "pm2" => &[
            "pm2",
            "status",
            "min_restarts",
            "max_restarts",
            "name",
            "timeout",
        ],
        "sql" => &["sql", "expect", "data", "name", "timeout"],
        "redis" => &["redis", "expect", "data", "service", "name", "timeout"],
        "journey" => &["journey", "name", "timeout"],
        "exec" => &["exec", "service", "expect", "name", "timeout"],
        _ => &[],
    }
}

/// `{ checks = { redis = "ok" } }` and `{ "checks.redis" = "ok" }` both
/// mean the path `checks.redis`.
fn flatten_json(prefix: &str, table: &toml::Table, out: &mut Vec<(String, serde_json::Value)>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Table(t) => flatten_json(&path, t, out),
            other => out.push((path, toml_to_json(other))),
        }
    }
}

fn toml_to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Integer(n) => serde_json::Value::from(*n),
        Value::Float(f) => serde_json::Value::from(*f),
        Value::Boolean(b) => serde_json::Value::Bool(*b),
        Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(toml_to_json).collect()),
        Value::Table(t) => serde_json::Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// `= PONG` for an exact value, the matcher otherwise (`>= 3`).
fn shown(expect: &super::Expectation, exact: bool) -> String {
    if exact {
        format!("= {}", expect.source)
    } else {
        expect.describe()
    }
}

/// The command as written.
fn sources(command: &[gauntlet_harness::steps::Template]) -> String {
    command
        .iter()
        .map(|t| t.source())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `data = "NAME"`: a `[data]` entry of the project, checked later.
fn data_name(f: &mut Fields) -> Result<Option<String>, ExperimentError> {
    match f.has("data") {
        true => f.name("data").map(Some),
        false => Ok(None),
    }
}

fn shorten(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    }
}

// ------------------------------------------------------------------- steps

fn step(
    c: &Compiler,
    at: &Place,
    table: &Spanned<Table>,
    rollback: bool,
    id_field: Option<&str>,
) -> Result<Step, ExperimentError> {
    let src = c.src();
    let what = at.what.as_str();
    let mut f = Fields::new(src, what.to_string(), table);
    let action_span = f
        .map
        .get("action")
        .map(|(_, v)| v.span())
        .unwrap_or(table.span());
    let kind = f.string("action")?.ok_or_else(|| {
        f.err(
            table.span(),
            format!("missing `action`; actions: {}", Action::KINDS.join(", ")),
        )
    })?;
    if !Action::KINDS.contains(&kind.as_str()) {
        return Err(f.err(
            action_span,
            format!(
                "unknown action `{kind}`; actions: {}",
                Action::KINDS.join(", ")
            ),
        ));
    }
    f.what = format!("{what} ({kind})");
    let mut allowed = vec!["action"];
    allowed.extend_from_slice(step_keys(&kind));
    allowed.push("duration");
    f.check_keys(&allowed)?;
    let duration_span = f.map.get("duration").map(|(_, v)| v.span());
    let duration = f.duration("duration")?;
    let action = match kind.as_str() {
        "kill_container" => Action::KillContainer {
            service: f.name("service")?,
            signal: f.signal("signal")?,
        },
        "stop_container" => Action::StopContainer {
            service: f.name("service")?,
            grace: f.duration("timeout")?.unwrap_or(DEFAULT_GRACE),
        },
        "start_container" => Action::StartContainer {
            service: f.name("service")?,
        },
        "restart_container" => Action::RestartContainer {
            service: f.name("service")?,
            grace: f.duration("timeout")?.unwrap_or(DEFAULT_GRACE),
        },
        "pause_container" => Action::PauseContainer {
            service: f.name("service")?,
        },
        "unpause_container" => Action::UnpauseContainer {
            service: f.name("service")?,
        },
        "kill_process" => Action::KillProcess {
            process: f.name("process")?,
            signal: f.signal("signal")?,
        },
        "pm2_kill" => Action::Pm2Kill,
        "pm2_resurrect" => Action::Pm2Resurrect,
        "pm2_restart" => Action::Pm2Restart {
            process: f.name("process")?,
        },
        "toxic" => Action::Toxic(toxic(&mut f, table)?),
        "remove_toxic" => Action::RemoveToxic {
            proxy: f.name("proxy")?,
            name: f.name("name")?,
        },
        "proxy_down" => Action::ProxyDown {
            proxy: f.name("proxy")?,
        },
        "proxy_up" => Action::ProxyUp {
            proxy: f.name("proxy")?,
        },
        "crash_loop" => {
            let process = f.name("process")?;
            let kills_span = f.map.get("kills").map(|(_, v)| v.span());
            let kills = f.uint("kills", 100)?.unwrap_or(DEFAULT_CRASH_KILLS as u64) as u32;
            if kills < 2 {
                return Err(f.err(
                    kills_span.unwrap_or(table.span()),
                    "`kills` must be at least 2 for a loop",
                ));
            }
            Action::CrashLoop {
                process,
                kills,
                interval: f.duration("interval")?.unwrap_or(DEFAULT_CRASH_INTERVAL),
            }
        }
        "sleep" => {
            if duration.is_none() {
                return Err(f.err(table.span(), "missing `duration` (how long to sleep)"));
            }
            Action::Sleep
        }
        "exec" => {
            let service = f.name("service")?;
            let value = f.take("command").ok_or_else(|| {
                f.err(
                    table.span(),
                    "missing `command` ([\"sh\", \"-c\", \"...\"])",
                )
            })?;
            let command = c.command(&f, "command", &value, true)?;
            let exit_span = f.span_of("expect_exit");
            let expect_exit = match f.take("expect_exit") {
                None => 0,
                Some(v) => match v.get_ref() {
                    Value::Integer(n) if (0..=255).contains(n) => *n,
                    _ => {
                        return Err(f.err(
                            exit_span,
                            "`expect_exit` is the exit code expected, 0 to 255",
                        ))
                    }
                },
            };
            Action::Exec {
                service,
                command,
                expect_exit,
                fault: f.boolean("fault")?.unwrap_or(false),
            }
        }
        "publish" => Action::Publish(publish(c, &mut f, table, id_field)?),
        "http" => {
            let name = f.string("name")?;
            let http = c.http_action(&f, at.array, at.index, name)?;
            // Every other key belongs to the request, checked by the step format.
            f.map.clear();
            Action::Http(Box::new(http))
        }
        _ => unreachable!("actions are listed in Action::KINDS"),
    };
    f.finish(&allowed)?;
    if rollback && duration.is_some() && !matches!(action, Action::Sleep) {
        return Err(src.at(
            duration_span.unwrap_or(table.span()),
            format!(
                "{what} ({kind}): rollbacks take no `duration` (add a `sleep` rollback to wait)"
            ),
        ));
    }
    Ok(Step {
        action,
        duration,
        line: src.line(&table.span()),
    })
}

/// The keys each action takes besides `action` and `duration`.
fn step_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "kill_container" => &["service", "signal"],
        "kill_process" => &["process", "signal"],
        "stop_container" | "restart_container" => &["service", "timeout"],
        "start_container" | "pause_container" | "unpause_container" => &["service"],
        "pm2_restart" => &["process"],
        "toxic" => &["proxy", "type", "name", "stream", "toxicity", "attributes"],
        "remove_toxic" => &["proxy", "name"],
        "proxy_down" | "proxy_up" => &["proxy"],
        "crash_loop" => &["process", "kills", "interval"],
        "exec" => &["service", "command", "expect_exit", "fault"],
        "publish" => &["data", "stream", "list", "table", "fields", "row", "count"],
        "http" => &[
            "name",
            "endpoint",
            "method",
            "path",
            "headers",
            "json",
            "body",
            "content_type",
            "timeout",
            "expect",
            "eventually",
        ],
        _ => &[],
    }
}

// ---------------------------------------------------------------- publish

fn publish(
    c: &Compiler,
    f: &mut Fields,
    table: &Spanned<Table>,
    id_field: Option<&str>,
) -> Result<PublishSpec, ExperimentError> {
    let data = data_name(f)?;
    let targets: Vec<&str> = ["stream", "list", "table"]
        .into_iter()
        .filter(|k| f.has(k))
        .collect();
    let into = match targets.as_slice() {
        ["stream"] => PublishInto::Stream(template_string(c, f, "stream")?),
        ["list"] => PublishInto::List(template_string(c, f, "list")?),
        [_] => PublishInto::Table(f.name("table")?),
        [] => {
            return Err(f.err(
                table.span(),
                "say where the events go: `stream = \"NAME\"` or `list = \"NAME\"` (Redis), \
                 or `table = \"NAME\"` (postgres)",
            ))
        }
        [a, b, ..] => {
            return Err(f.err(
                f.span_of(b),
                format!("`{a}` and `{b}` in one publish: write two"),
            ))
        }
    };
    let (key, other) = match into {
        PublishInto::Table(_) => ("row", "fields"),
        _ => ("fields", "row"),
    };
    if f.has(other) {
        return Err(f.err(
            f.span_of(other),
            format!(
                "a {} takes `{key}`, not `{other}`",
                if key == "row" {
                    "table"
                } else {
                    "stream or list"
                }
            ),
        ));
    }
    let span = f.span_of(key);
    let values = f.table(key)?.ok_or_else(|| {
        f.err(
            table.span(),
            format!("missing `{key}` (e.g. {key} = {{ id = \"{{{{unique}}}}-{{{{index}}}}\" }})"),
        )
    })?;
    if values.is_empty() {
        return Err(f.err(span, format!("`{key}` is empty")));
    }
    let mut fields = Vec::new();
    for (name, value) in &values {
        if key == "row" && !is_identifier(name) {
            return Err(f.err(
                span.clone(),
                format!("`{name}` is not a column name (letters, digits, _)"),
            ));
        }
        let v = match value {
            Value::String(s) => FieldValue::Template(c.template(f, s, &span)?),
            Value::Integer(_) | Value::Float(_) | Value::Boolean(_) => {
                FieldValue::Literal(toml_to_json(value))
            }
            other => {
                let found = other.type_str();
                return Err(f.err(
                    span.clone(),
                    format!("`{key}.{name}` must be a string (a template), a number or a bool, found {found}"),
                ));
            }
        };
        fields.push((name.clone(), v));
    }
    let recorded = id_field.unwrap_or("id");
    let has_id = values.contains_key(recorded);
    if id_field.is_some() && !has_id {
        return Err(f.err(
            span,
            format!(
                "no `{recorded}` in `{key}`: [accounting] finds each event by its `{recorded}` \
                 (accounting.id_field)"
            ),
        ));
    }
    let count_span = f.span_of("count");
    let count = f.uint("count", MAX_PUBLISH)?.unwrap_or(1);
    if count == 0 {
        return Err(f.err(count_span, "`count` must be at least 1"));
    }
    Ok(PublishSpec {
        data,
        into,
        fields,
        count: count as u32,
        id_field: has_id.then(|| recorded.to_string()),
    })
}

/// A required string that is a template (`events-{{unique}}`), checked
/// here and rendered when used.
fn template_string(c: &Compiler, f: &mut Fields, key: &str) -> Result<String, ExperimentError> {
    let span = f.span_of(key);
    let text = f.required_string(key)?;
    c.template(f, &text, &span)?;
    Ok(text)
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// -------------------------------------------------------------- accounting

fn accounting(c: &Compiler, table: &Spanned<Table>) -> Result<AccountingSpec, ExperimentError> {
    let src = c.src();
    let mut f = Fields::new(src, "accounting".to_string(), table);
    let allowed = [
        "id_field",
        "delivered",
        "dead_letter",
        "within",
        "pending",
        "exactly_once",
    ];
    f.check_keys(&allowed)?;
    let id_field = f.string("id_field")?.unwrap_or_else(|| "id".into());
    let delivered = f.take("delivered").ok_or_else(|| {
        f.err(
            table.span(),
            "missing `delivered` (where delivered ids are read)",
        )
    })?;
    let delivered = id_source(c, "accounting.delivered", &delivered)?;
    let dead_letter = f
        .take("dead_letter")
        .map(|v| id_source(c, "accounting.dead_letter", &v))
        .transpose()?;
    let within_span = f.span_of("within");
    let within = f.duration("within")?.ok_or_else(|| {
        f.err(
            within_span,
            "missing `within` (how long events may take, e.g. \"30s\")",
        )
    })?;
    let pending = match f.take("pending") {
        None => None,
        Some(v) => {
            let t = sub_table(src, "accounting.pending", &v)?;
            let mut p = Fields::new(src, "accounting.pending".into(), &t);
            let allowed = ["group", "stream", "data"];
            p.check_keys(&allowed)?;
            let spec = PendingSpec {
                group: template_string(c, &mut p, "group")?,
                stream: template_string(c, &mut p, "stream")?,
                data: data_name(&mut p)?,
            };
            p.finish(&allowed)?;
            Some(spec)
        }
    };
    let exactly_once = f.boolean("exactly_once")?.unwrap_or(false);
    f.finish(&allowed)?;
    Ok(AccountingSpec {
        id_field,
        delivered,
        dead_letter,
        within,
        pending,
        exactly_once,
    })
}

/// An inline table as a [`Table`] whose keys and values all carry the
/// span of the whole value (nested values have no spans of their own).
fn sub_table(
    src: &Source,
    what: &str,
    value: &Spanned<Value>,
) -> Result<Spanned<Table>, ExperimentError> {
    let span = value.span();
    match value.get_ref() {
        Value::Table(t) => Ok(Spanned::new(
            span.clone(),
            t.iter()
                .map(|(k, v)| {
                    // The key's place, found in the table's text.
                    let area = src.text.get(span.clone()).unwrap_or("");
                    let at = area
                        .find(k.as_str())
                        .map(|i| span.start + i)
                        .unwrap_or(span.start);
                    (
                        Spanned::new(at..at + k.len(), k.clone()),
                        Spanned::new(span.clone(), v.clone()),
                    )
                })
                .collect(),
        )),
        other => Err(src.at(
            span,
            format!("{what} must be a table, found {}", other.type_str()),
        )),
    }
}

/// `{ redis = "stream", key = "k", field = "id" }`, `{ redis = "set", key }`,
/// `{ redis = "list", key, field }`, `{ http = "/path", endpoint, pointer,
/// field }`, `{ sql = "SELECT id ..." }`.
fn id_source(
    c: &Compiler,
    what: &str,
    value: &Spanned<Value>,
) -> Result<IdSource, ExperimentError> {
    let src = c.src();
    let table = sub_table(src, what, value)?;
    let mut f = Fields::new(src, what.to_string(), &table);
    let kinds: Vec<&str> = ["redis", "http", "sql"]
        .into_iter()
        .filter(|k| f.has(k))
        .collect();
    let allowed: &[&str] = match kinds.as_slice() {
        ["redis"] => &["redis", "key", "field", "data"],
        ["http"] => &["http", "endpoint", "pointer", "field"],
        [_] => &["sql", "data"],
        [] => {
            return Err(f.err(
                table.span(),
                "say where the ids are: { redis = \"stream\" | \"set\" | \"list\", key = \"...\" }, \
                 { http = \"/path\", endpoint = \"...\", pointer = \"/ids\" } or { sql = \"SELECT id ...\" }",
            ))
        }
        [a, b, ..] => {
            return Err(f.err(
                table.span(),
                format!("`{a}` and `{b}` in one source: give one"),
            ))
        }
    };
    f.check_keys(allowed)?;
    let source = match kinds[0] {
        "redis" => {
            let kind_span = f.span_of("redis");
            let kind = f.required_string("redis")?;
            let key = template_string(c, &mut f, "key")?;
            let data = data_name(&mut f)?;
            match kind.as_str() {
                "stream" => IdSource::RedisStream {
                    data,
                    key,
                    field: f.string("field")?.unwrap_or_else(|| "id".into()),
                },
                "set" => {
                    if f.has("field") {
                        return Err(f.err(
                            f.span_of("field"),
                            "a set holds the ids themselves: no `field`",
                        ));
                    }
                    IdSource::RedisSet { data, key }
                }
                "list" => IdSource::RedisList {
                    data,
                    key,
                    field: f.string("field")?,
                },
                other => {
                    return Err(f.err(
                        kind_span,
                        format!("`redis` is the kind of key: stream, set or list, not `{other}`"),
                    ))
                }
            }
        }
        "http" => {
            let path_span = f.span_of("http");
            let path = template_string(c, &mut f, "http")?;
            if !path.starts_with('/') {
                return Err(f.err(
                    path_span,
                    format!("`http` is a path and starts with `/`, not `{path}`"),
                ));
            }
            let endpoint = f.required_string("endpoint")?;
            let pointer_span = f.span_of("pointer");
            let pointer = f.string("pointer")?.unwrap_or_default();
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(f.err(
                    pointer_span,
                    format!("`pointer` is a JSON pointer such as \"/ids\", not `{pointer}`"),
                ));
            }
            IdSource::Http {
                endpoint,
                path,
                pointer,
                field: f.string("field")?,
            }
        }
        _ => IdSource::Sql {
            query: template_string(c, &mut f, "sql")?,
            data: data_name(&mut f)?,
        },
    };
    f.finish(allowed)?;
    Ok(source)
}

fn toxic(f: &mut Fields, table: &Spanned<Table>) -> Result<ToxicSpec, ExperimentError> {
    use gauntlet_faultproxy::{Toxic, ToxicKind};
    let proxy = f.name("proxy")?;
    let span_of = |f: &Fields, key: &str| {
        f.map
            .get(key)
            .map(|(_, v)| v.span())
            .unwrap_or(table.span())
    };
    let type_span = span_of(f, "type");
    let kind = f.required_string("type")?;
    if !ToxicKind::TYPE_NAMES.contains(&kind.as_str()) {
        return Err(f.err(
            type_span,
            format!(
                "unknown toxic type `{kind}`; types: {}",
                ToxicKind::TYPE_NAMES.join(", ")
            ),
        ));
    }
    let stream_span = span_of(f, "stream");
    let stream = f.string("stream")?.unwrap_or_else(|| "downstream".into());
    if stream != "upstream" && stream != "downstream" {
        return Err(f.err(
            stream_span,
            format!("`stream` is upstream or downstream, not `{stream}`"),
        ));
    }
    let toxicity = match f.float("toxicity")? {
        None => 1.0,
        Some((t, span)) if !(0.0..=1.0).contains(&t) => {
            return Err(f.err(span, format!("`toxicity` is between 0 and 1, not {t}")))
        }
        Some((t, _)) => t,
    };
    let name = match f.map.contains_key("name") {
        true => f.name("name")?,
        false => format!("{kind}_{stream}"),
    };
    let attributes_span = span_of(f, "attributes");
    let attributes: serde_json::Map<String, serde_json::Value> = f
        .table("attributes")?
        .map(|t| {
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect()
        })
        .unwrap_or_default();
    let doc = serde_json::json!({
        "name": name,
        "type": kind,
        "stream": stream,
        "toxicity": toxicity,
        "attributes": attributes,
    });
    let toxic: Toxic = serde_json::from_value(doc)
        .map_err(|e| f.err(attributes_span.clone(), format!("attributes: {e}")))?;
    // The model ignores keys it does not know: a misspelt attribute would
    // silently be 0. What it knows is what it writes back.
    let known: Vec<String> = serde_json::to_value(&toxic.kind)
        .ok()
        .and_then(|v| v.get("attributes").and_then(|a| a.as_object()).cloned())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(unknown) = attributes.keys().find(|k| !known.contains(k)) {
        return Err(f.err(
            attributes_span,
            format!(
                "unknown attribute `{unknown}` for a {kind} toxic; attributes: {}",
                known.join(", ")
            ),
        ));
    }
    Ok(ToxicSpec { proxy, toxic })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::{IdSource, Signal};

    fn parse_ok(text: &str) -> Experiment {
        parse(text, Path::new("t.toml"), "t").unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("t.toml"), "t")
            .expect_err("should not parse")
            .to_string()
    }

    const BASE: &str = r#"title = "t"
[steady_state]
probes = [ { http = "/api/healthz", json = { db = "ok", checks = { redis = "ok" } } } ]
"#;

    #[test]
    fn a_full_experiment_parses() {
        let e = parse_ok(&format!(
            r#"{BASE}
[expect_during_fault]
probes = [ {{ pm2 = "worker", status = "errored", min_restarts = 5 }} ]
[[method]]
action = "kill_container"
service = "redis"
signal = "kill"
duration = "5s"
[[method]]
action = "toxic"
proxy = "redis"
type = "latency"
attributes = {{ latency = 500, jitter = 50 }}
[[rollbacks]]
action = "proxy_up"
proxy = "postgres"
[thresholds]
rto = "30s"
[writers]
checkouts_per_sec = 5
"#
        ));
        assert_eq!(e.steady_state[0].name, "GET /api/healthz = 200");
        let ProbeKind::Http { json, .. } = &e.steady_state[0].kind else {
            panic!()
        };
        assert_eq!(
            json,
            &vec![
                ("checks.redis".to_string(), serde_json::json!("ok")),
                ("db".to_string(), serde_json::json!("ok")),
            ]
        );
        assert_eq!(
            e.method[0].action,
            Action::KillContainer {
                service: "redis".into(),
                signal: Signal::kill()
            }
        );
        assert_eq!(e.method[0].duration, Some(Duration::from_secs(5)));
        assert_eq!(e.method[0].line, 7);
        let Action::Toxic(t) = &e.method[1].action else {
            panic!()
        };
        assert_eq!(
            (
                t.toxic.name.as_str(),
                t.toxic.stream.as_str(),
                t.toxic.toxicity
            ),
            ("latency_downstream", "downstream", 1.0)
        );
        assert_eq!(
            t.toxic.kind,
            gauntlet_faultproxy::ToxicKind::Latency {
                latency: 500,
                jitter: 50
            }
        );
        assert_eq!(e.thresholds.recovery_timeout(), Duration::from_secs(60));
        assert_eq!(e.writers.unwrap().settle, DEFAULT_SETTLE);
    }

    #[test]
    fn errors_point_at_the_problem() {
        let method = |body: &str| format!("{BASE}[[method]]\n{body}\n");
        let cases = [
            (
                method("action = \"kill_container\"\nsevice = \"redis\""),
                "t.toml:6:1: method step 1 (kill_container): unknown key `sevice`; allowed: action, service, signal, duration",
            ),
            (
                method("action = \"kill_container\""),
                "t.toml:4:1: method step 1 (kill_container): missing `service`",
            ),
            (
                method("action = \"kill_container\"\nservice = \"redis\"\ncolour = 1"),
                "t.toml:7:1: method step 1 (kill_container): unknown key `colour`; allowed: action, service, signal, duration",
            ),
            (
                method("action = \"explode\""),
                "t.toml:5:10: method step 1: unknown action `explode`",
            ),
            (
                method("action = \"sleep\"\nduration = \"5 s\""),
                "t.toml:6:12: method step 1 (sleep): `duration`: `5 s` is not a duration",
            ),
            (
                method("action = \"sleep\"\nduration = 5"),
                "a duration needs a unit: write \"5s\"",
            ),
            (
                method("action = \"kill_process\"\nprocess = \"api\"\nsignal = \"SIGFOO\""),
                "unknown signal `SIGFOO`",
            ),
            (
                method("action = \"toxic\"\nproxy = \"redis\"\ntype = \"lag\""),
                "unknown toxic type `lag`",
            ),
            (
                method("action = \"toxic\"\nproxy = \"redis\"\ntype = \"latency\"\nattributes = { latncy = 5 }"),
                "unknown attribute `latncy` for a latency toxic; attributes: jitter, latency",
            ),
            (
                method("action = \"sleep\"\nduration = \"1s\""),
                "the method only sleeps",
            ),
            (
                format!("{BASE}[thresholds]\nrto = \"soon\"\n[[method]]\naction = \"pm2_kill\""),
                "t.toml:5:7: thresholds.rto: `soon` is not a duration",
            ),
            (
                format!("{BASE}colour = 1\n"),
                "unknown field `colour`",
            ),
            (BASE.to_string(), "no [[method]] steps"),
            (
                "title = \"t\"\n[steady_state]\nprobes = [ { http = \"/events/{{nope}}\" } ]\n[[method]]\naction = \"pm2_kill\"".into(),
                "t.toml:3:30: steady_state probe 1 (http): unknown variable `nope`",
            ),
            (
                "title = \"t\"\n[steady_state]\nprobes = [ { htp = \"/x\" } ]\n[[method]]\naction = \"pm2_kill\"".into(),
                "t.toml:3:12: steady_state probe 1: no probe type",
            ),
        ];
        for (text, expected) in cases {
            let err = parse_err(&text);
            assert!(
                err.contains(expected),
                "for\n{text}\nexpected `{expected}` in\n{err}"
            );
        }
    }

    const STEP_BASE: &str = r#"title = "t"
[steady_state]
probes = [ { http = "/health", endpoint = "web" } ]
"#;

    #[test]
    fn the_step_format_keys_parse() {
        let e = parse_ok(&format!(
            r#"{STEP_BASE}[expect_during_fault]
probes = [
  {{ sql = "SELECT count(*) FROM t WHERE id LIKE '{{{{unique}}}}%'", data = "postgres", expect = {{ ge = 3 }} }},
  {{ redis = ["XLEN", "events"], expect = {{ ge = 1 }} }},
  {{ exec = ["sh", "-c", "echo up"], service = "app", expect = {{ matches = "^up$" }} }},
  {{ exec = "test -f /tmp/x", service = "app" }},
  {{ http = "/stats", endpoint = "web", json = {{ "/attempts" = {{ ge = 1 }}, state = "ok" }} }},
  {{ redis = "PING", expect = "PONG", service = "cache" }},
]
[[method]]
action = "publish"
data = "redis"
stream = "events"
fields = {{ id = "{{{{unique}}}}-{{{{index}}}}", kind = "chaos", n = 3 }}
count = 20
[[method]]
action = "publish"
list = "jobs"
fields = {{ id = "{{{{unique}}}}-{{{{index}}}}" }}
[[method]]
action = "publish"
table = "orders"
row = {{ id = "{{{{unique}}}}-{{{{index}}}}", amount = 5 }}
count = 2
[[method]]
action = "exec"
service = "app"
command = ["sh", "-c", "kill -STOP 1"]
expect_exit = 0
fault = true
duration = "1s"
[[method]]
name = "count one"
action = "http"
endpoint = "web"
method = "POST"
path = "/hits/{{{{unique}}}}"
headers = {{ x-token = "{{{{secret.token}}}}" }}
json = {{ id = "{{{{unique}}}}" }}
expect = {{ status = 200, json = {{ "/counted" = true, "/hits" = {{ ge = 1 }} }} }}
[after_fault]
within = "30s"
probes = [ {{ redis = ["LLEN", "jobs"], expect = {{ ge = 1 }}, data = "cache" }} ]
[accounting]
id_field = "id"
delivered = {{ redis = "stream", key = "sink:delivered", field = "id" }}
dead_letter = {{ redis = "stream", key = "events:dead", field = "id" }}
within = "30s"
pending = {{ group = "relay", stream = "events" }}
exactly_once = true
"#
        ));
        let kinds: Vec<&str> = e
            .expect_during_fault
            .iter()
            .map(|p| p.kind.kind())
            .collect();
        assert_eq!(kinds, ["sql", "redis", "exec", "exec", "http", "redis"]);
        assert_eq!(
            e.expect_during_fault[0].name,
            "sql SELECT count(*) FROM t WHERE id LIKE '{{… >= 3"
        );
        let ProbeKind::Sql { data, .. } = &e.expect_during_fault[0].kind else {
            panic!()
        };
        assert_eq!(data.as_deref(), Some("postgres"));
        assert_eq!(e.expect_during_fault[1].name, "redis XLEN events >= 1");
        let ProbeKind::Exec {
            command, expect, ..
        } = &e.expect_during_fault[3].kind
        else {
            panic!()
        };
        assert_eq!(
            command.iter().map(|t| t.source()).collect::<Vec<_>>(),
            ["sh", "-c", "test -f /tmp/x"]
        );
        assert!(expect.is_none());
        let ProbeKind::Http { json, matchers, .. } = &e.expect_during_fault[4].kind else {
            panic!()
        };
        assert_eq!(json, &vec![("state".to_string(), serde_json::json!("ok"))]);
        assert_eq!(matchers.len(), 1);
        assert_eq!(matchers[0].0, "/attempts");
        assert_eq!(matchers[0].1.describe(), ">= 1");
        assert_eq!(e.expect_during_fault[5].name, "redis PING = PONG");

        let Action::Publish(p) = &e.method[0].action else {
            panic!()
        };
        assert_eq!(p.into, super::super::PublishInto::Stream("events".into()));
        assert_eq!(
            (p.count, p.data.as_deref(), p.id_field.as_deref()),
            (20, Some("redis"), Some("id"))
        );
        assert_eq!(p.fields.len(), 3);
        assert_eq!(
            e.method[0].action.to_string(),
            "publish 20 events into stream events"
        );
        let Action::Publish(p) = &e.method[2].action else {
            panic!()
        };
        assert_eq!(p.into, super::super::PublishInto::Table("orders".into()));
        assert!(matches!(
            &e.method[3].action,
            Action::Exec { service, expect_exit: 0, fault: true, .. } if service == "app"
        ));
        assert!(!e.method[3].action.is_traffic());
        assert!(e.method[0].action.is_traffic());
        let Action::Http(h) = &e.method[4].action else {
            panic!()
        };
        assert_eq!(h.describe(), "`count one` (POST /hits/{{unique}} on web)");
        assert_eq!(h.expect.json.len(), 2);
        assert_eq!(e.secrets.iter().collect::<Vec<_>>(), ["token"]);

        let a = e.after_fault.as_ref().unwrap();
        assert_eq!(
            (a.within, a.every),
            (Duration::from_secs(30), DEFAULT_AFTER_FAULT_EVERY)
        );
        assert_eq!(a.probes[0].name, "redis LLEN jobs >= 1");
        let acc = e.accounting.as_ref().unwrap();
        assert_eq!(acc.delivered.describe(), "redis stream sink:delivered (id)");
        assert_eq!(
            acc.dead_letter.as_ref().unwrap().describe(),
            "redis stream events:dead (id)"
        );
        assert_eq!(acc.pending.as_ref().unwrap().group, "relay");
        assert!(acc.exactly_once);
        assert_eq!(acc.within, Duration::from_secs(30));
    }

    #[test]
    fn the_accounting_id_field_is_the_published_field_recorded() {
        let e = parse_ok(&format!(
            "{STEP_BASE}[[method]]\naction = \"publish\"\nstream = \"s\"\n\
             fields = {{ key = \"{{{{unique}}}}-{{{{index}}}}\", n = 1 }}\ncount = 2\n\
             [accounting]\nid_field = \"key\"\ndelivered = {{ redis = \"set\", key = \"done\" }}\n\
             within = \"5s\"\n"
        ));
        let Action::Publish(p) = &e.method[0].action else {
            panic!()
        };
        assert_eq!(p.id_field.as_deref(), Some("key"));
        assert_eq!(e.accounting.unwrap().id_field, "key");
        // Without [accounting], an `id` field is still recorded.
        let e = parse_ok(&format!(
            "{STEP_BASE}[[method]]\naction = \"publish\"\nlist = \"l\"\nfields = {{ id = \"x\" }}\n"
        ));
        let Action::Publish(p) = &e.method[0].action else {
            panic!()
        };
        assert_eq!((p.id_field.as_deref(), p.count), (Some("id"), 1));
    }

    #[test]
    fn accounting_sources_of_every_kind_parse() {
        let with = |delivered: &str| {
            parse_ok(&format!(
                "{STEP_BASE}[[method]]\naction = \"publish\"\nlist = \"q\"\nfields = {{ id = \"{{{{unique}}}}\" }}\n\
                 [accounting]\ndelivered = {delivered}\nwithin = \"5s\"\n"
            ))
            .accounting
            .unwrap()
            .delivered
        };
        assert_eq!(
            with(r#"{ redis = "set", key = "done", data = "cache" }"#),
            IdSource::RedisSet {
                data: Some("cache".into()),
                key: "done".into()
            }
        );
        assert_eq!(
            with(r#"{ redis = "list", key = "done", field = "id" }"#),
            IdSource::RedisList {
                data: None,
                key: "done".into(),
                field: Some("id".into())
            }
        );
        assert_eq!(
            with(
                r#"{ http = "/deliveries", endpoint = "sink", pointer = "/items", field = "event_id" }"#
            ),
            IdSource::Http {
                endpoint: "sink".into(),
                path: "/deliveries".into(),
                pointer: "/items".into(),
                field: Some("event_id".into())
            }
        );
        assert_eq!(
            with(r#"{ sql = "SELECT id FROM delivered" }"#),
            IdSource::Sql {
                data: None,
                query: "SELECT id FROM delivered".into()
            }
        );
        assert_eq!(
            with(r#"{ redis = "stream", key = "out" }"#),
            IdSource::RedisStream {
                data: None,
                key: "out".into(),
                field: "id".into()
            }
        );
    }

    #[test]
    fn step_format_errors_point_at_the_problem() {
        let method = |body: &str| format!("{STEP_BASE}[[method]]\n{body}\n");
        let publish = "action = \"publish\"\nlist = \"q\"\nfields = { id = \"{{unique}}\" }";
        let cases: Vec<(String, &str)> = vec![
            // Templates: unknown names, where they are.
            (
                method("action = \"publish\"\nstream = \"s\"\nfields = { id = \"{{unique}}-{{nope}}\" }"),
                "t.toml:7:29: method step 1 (publish): unknown variable `nope`",
            ),
            (
                method("action = \"publish\"\nstream = \"s\"\nfields = { id = \"{{unique\" }"),
                "t.toml:7:18: method step 1 (publish): `{{` without a closing `}}`",
            ),
            (
                method("action = \"exec\"\nservice = \"app\"\ncommand = [\"echo\", \"{{fake.colour}}\"]"),
                "t.toml:7:21: method step 1 (exec): unknown fake data `fake.colour`",
            ),
            (
                format!("{STEP_BASE}[after_fault]\nwithin = \"5s\"\nprobes = [ {{ redis = [\"GET\", \"{{{{who}}}}\"], expect = 1 }} ]\n[[method]]\naction = \"pm2_kill\""),
                "t.toml:6:31: after_fault probe 1 (redis): unknown variable `who`",
            ),
            (
                method("action = \"http\"\npath = \"/x/{{id}}\""),
                "t.toml:6:12: method step 1 (http): unknown variable `id`",
            ),
            // exec
            (
                method("action = \"exec\"\nservice = \"app\""),
                "t.toml:4:1: method step 1 (exec): missing `command`",
            ),
            (
                method("action = \"exec\"\nservice = \"app\"\ncommand = []"),
                "t.toml:7:11: method step 1 (exec): `command` command is empty",
            ),
            (
                method("action = \"exec\"\nservice = \"app\"\ncommand = [\"true\"]\nexpect_exit = \"zero\""),
                "t.toml:8:15: method step 1 (exec): `expect_exit` is the exit code expected, 0 to 255",
            ),
            (
                method("action = \"exec\"\nservice = \"app\"\ncommand = [\"true\"]\nfault = \"yes\""),
                "t.toml:8:9: method step 1 (exec): `fault` must be true or false",
            ),
            (
                method("action = \"exec\"\nservice = \"app\"\ncommand = [\"true\"]\nexpect = 0"),
                "t.toml:8:1: method step 1 (exec): unknown key `expect`; allowed: action, service, command, expect_exit, fault, duration",
            ),
            // publish
            (
                method("action = \"publish\"\nfields = { id = \"x\" }"),
                "t.toml:4:1: method step 1 (publish): say where the events go",
            ),
            (
                method("action = \"publish\"\nstream = \"s\"\nlist = \"l\"\nfields = { id = \"x\" }"),
                "t.toml:7:8: method step 1 (publish): `stream` and `list` in one publish: write two",
            ),
            (
                method("action = \"publish\"\ntable = \"t\"\nfields = { id = \"x\" }"),
                "t.toml:7:10: method step 1 (publish): a table takes `row`, not `fields`",
            ),
            (
                method("action = \"publish\"\nstream = \"s\""),
                "t.toml:4:1: method step 1 (publish): missing `fields`",
            ),
            (
                method("action = \"publish\"\nstream = \"s\"\nfields = {}"),
                "t.toml:7:10: method step 1 (publish): `fields` is empty",
            ),
            (
                method("action = \"publish\"\nstream = \"s\"\nfields = { id = [1] }"),
                "t.toml:7:10: method step 1 (publish): `fields.id` must be a string (a template), a number or a bool, found array",
            ),
            (
                method("action = \"publish\"\ntable = \"t\"\nrow = { \"bad col\" = \"x\" }"),
                "t.toml:7:7: method step 1 (publish): `bad col` is not a column name",
            ),
            (
                method(&format!("{publish}\ncount = 0")),
                "t.toml:8:9: method step 1 (publish): `count` must be at least 1",
            ),
            (
                method(&format!("{publish}\ncount = 1000000")),
                "t.toml:8:9: method step 1 (publish): `count` must be between 0 and 100000, not 1000000",
            ),
            (
                method(&format!("{publish}\nrate = 5")),
                "t.toml:8:1: method step 1 (publish): unknown key `rate`; allowed: action, data, stream, list, table, fields, row, count, duration",
            ),
            // http
            (
                method("action = \"http\"\npath = \"/x\"\nmethod = \"FETCH\""),
                "t.toml:7:10: method step 1 (http): method: `FETCH` is not an HTTP method",
            ),
            (
                method("action = \"http\"\npath = \"x\""),
                "t.toml:6:8: method step 1 (http): path: `x` must start with `/`",
            ),
            (
                method("action = \"http\"\npath = \"/x\"\nexpect = { status = 200, colour = 1 }"),
                "t.toml:7:10: method step 1 (http): expect: unknown key `colour`",
            ),
            (
                method("action = \"http\"\npath = \"/x\"\nexpect = { json = { \"/n\" = { around = 1 } } }"),
                "t.toml:7:10: method step 1 (http): unknown matcher `around`",
            ),
            (
                method("action = \"http\"\npath = \"/x\"\ncapture = { id = \"/id\" }"),
                "t.toml:7:1: method step 1 (http): unknown key `capture`; allowed: action, name, endpoint, method, path",
            ),
            (
                method("action = \"http\"\nmethod = \"GET\""),
                "t.toml:4:1: method step 1 (http): a request needs a `path`",
            ),
            (
                method("action = \"http\"\npath = \"/x\"\neventually = { within = \"soon\" }"),
                "t.toml:7:14: method step 1 (http): eventually.within: `soon` is not a duration",
            ),
            (
                method("action = \"http\"\npath = \"/x\"\ntimeout = \"fast\""),
                "t.toml:7:11: method step 1 (http): timeout: `fast` is not a duration",
            ),
            (
                method("action = \"http\"\npath = \"/x\"\nheaders = { x = 1 }"),
                "method step 1 (http): invalid type: integer `1`, expected a string",
            ),
            // probes with matchers
            (
                "title = \"t\"\n[steady_state]\nprobes = [ { redis = \"PING\", expect = { near = 1 } } ]\n[[method]]\naction = \"pm2_kill\"".to_string(),
                "t.toml:3:39: steady_state probe 1 (redis): `expect`: unknown matcher `near`",
            ),
            (
                "title = \"t\"\n[steady_state]\nprobes = [ { sql = \"SELECT 1\", expect = [1] } ]\n[[method]]\naction = \"pm2_kill\"".to_string(),
                "t.toml:3:41: steady_state probe 1 (sql): `expect` is the value expected",
            ),
            (
                "title = \"t\"\n[steady_state]\nprobes = [ { sql = \"SELECT 1\" } ]\n[[method]]\naction = \"pm2_kill\"".to_string(),
                "t.toml:3:12: steady_state probe 1 (sql): missing `expect`",
            ),
            (
                "title = \"t\"\n[steady_state]\nprobes = [ { exec = [\"true\"] } ]\n[[method]]\naction = \"pm2_kill\"".to_string(),
                "t.toml:3:12: steady_state probe 1 (exec): missing `service`",
            ),
            (
                "title = \"t\"\n[steady_state]\nprobes = [ { exec = 5, service = \"app\" } ]\n[[method]]\naction = \"pm2_kill\"".to_string(),
                "t.toml:3:21: steady_state probe 1 (exec): `exec` is a command",
            ),
            (
                "title = \"t\"\n[steady_state]\nprobes = [ { http = \"/\", json = { \"/n\" = { gt = true } } } ]\n[[method]]\naction = \"pm2_kill\"".to_string(),
                "t.toml:3:33: steady_state probe 1 (http): json `/n`: `gt` takes a number",
            ),
            (
                "title = \"t\"\n[steady_state]\nprobes = [ { redis = \"PING\", expect = \"PONG\", data = \"a b\" } ]\n[[method]]\naction = \"pm2_kill\"".to_string(),
                "t.toml:3:54: steady_state probe 1 (redis): `data` = \"a b\" is not a name",
            ),
            // after_fault
            (
                format!("{STEP_BASE}[after_fault]\nprobes = [ {{ pm2 = \"api\" }} ]\n[[method]]\naction = \"pm2_kill\""),
                "missing field `within`",
            ),
            (
                format!("{STEP_BASE}[after_fault]\nwithin = \"soon\"\nprobes = [ {{ pm2 = \"api\" }} ]\n[[method]]\naction = \"pm2_kill\""),
                "t.toml:5:10: after_fault.within: `soon` is not a duration",
            ),
            (
                format!("{STEP_BASE}[after_fault]\nwithin = \"5s\"\nevery = 1\nprobes = [ {{ pm2 = \"api\" }} ]\n[[method]]\naction = \"pm2_kill\""),
                "t.toml:6:9: after_fault.every: a duration needs a unit",
            ),
            (
                format!("{STEP_BASE}[after_fault]\nwithin = \"5s\"\n[[method]]\naction = \"pm2_kill\""),
                "t.toml:4:1: [after_fault] has no probes",
            ),
            (
                format!("{STEP_BASE}[after_fault]\nwithin = \"5s\"\ndeadline = \"5s\"\nprobes = [ {{ pm2 = \"api\" }} ]\n[[method]]\naction = \"pm2_kill\""),
                "t.toml:6:1: unknown field `deadline`, expected one of `within`, `every`, `probes`",
            ),
            (
                format!("{STEP_BASE}[after_fault]\nwithin = \"5s\"\nprobes = [ {{ pm2 = \"api\", colour = 1 }} ]\n[[method]]\naction = \"pm2_kill\""),
                "t.toml:6:27: after_fault probe 1 (pm2): unknown key `colour`",
            ),
            // accounting
            (
                method(&format!("{publish}\n[accounting]\nwithin = \"5s\"")),
                "t.toml:8:1: accounting: missing `delivered`",
            ),
            (
                method(&format!("{publish}\n[accounting]\ndelivered = {{ redis = \"set\", key = \"d\" }}")),
                "t.toml:8:1: accounting: missing `within`",
            ),
            (
                method(&format!("{publish}\n[accounting]\ndelivered = {{ redis = \"zset\", key = \"d\" }}\nwithin = \"5s\"")),
                "t.toml:9:13: accounting.delivered: `redis` is the kind of key: stream, set or list, not `zset`",
            ),
            (
                method(&format!("{publish}\n[accounting]\ndelivered = {{ redis = \"set\", key = \"d\", field = \"id\" }}\nwithin = \"5s\"")),
                "t.toml:9:13: accounting.delivered: a set holds the ids themselves: no `field`",
            ),
            (
                method(&format!("{publish}\n[accounting]\ndelivered = {{ kafka = \"t\" }}\nwithin = \"5s\"")),
                "t.toml:9:13: accounting.delivered: say where the ids are",
            ),
            (
                method(&format!("{publish}\n[accounting]\ndelivered = {{ redis = \"set\", key = \"d\", topic = \"x\" }}\nwithin = \"5s\"")),
                "t.toml:9:41: accounting.delivered: unknown key `topic`; allowed: redis, key, field, data",
            ),
            (
                method(&format!("{publish}\n[accounting]\ndelivered = {{ http = \"/d\", endpoint = \"sink\", pointer = \"ids\" }}\nwithin = \"5s\"")),
                "t.toml:9:13: accounting.delivered: `pointer` is a JSON pointer such as \"/ids\", not `ids`",
            ),
            (
                method(&format!("{publish}\n[accounting]\ndelivered = {{ redis = \"set\", key = \"d\" }}\nwithin = \"5s\"\npending = {{ group = \"g\" }}")),
                "t.toml:11:11: accounting.pending: missing `stream`",
            ),
            (
                method(&format!("{publish}\n[accounting]\ndelivered = {{ redis = \"set\", key = \"d\" }}\nwithin = \"5s\"\nexactly_once = \"yes\"")),
                "t.toml:11:16: accounting: `exactly_once` must be true or false",
            ),
            (
                method(&format!("{publish}\n[accounting]\ndelivered = {{ redis = \"set\", key = \"d\" }}\nwithin = \"5s\"\nlate = 1")),
                "t.toml:11:1: accounting: unknown key `late`",
            ),
            (
                method("action = \"publish\"\nlist = \"q\"\nfields = { key = \"{{unique}}\" }\n[accounting]\ndelivered = { redis = \"set\", key = \"d\" }\nwithin = \"5s\""),
                "t.toml:7:10: method step 1 (publish): no `id` in `fields`: [accounting] finds each event by its `id`",
            ),
            (
                method("action = \"kill_container\"\nservice = \"cache\"\n[accounting]\ndelivered = { redis = \"set\", key = \"d\" }\nwithin = \"5s\""),
                "t.toml:7:1: [accounting] has nothing to account for",
            ),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|(text, expected)| {
                let err = match parse(text, Path::new("t.toml"), "t") {
                    Ok(_) => "(it parsed)".to_string(),
                    Err(e) => e.to_string(),
                };
                (!err.contains(expected))
                    .then(|| format!("for\n{text}\nexpected `{expected}` in\n{err}\n"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
