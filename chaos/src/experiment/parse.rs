//! Experiment text to [`Experiment`]: the top level through serde (unknown
//! keys rejected there), probes and steps key by key so every message can
//! point at the key or value that is wrong.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::{Spanned, Value};

use super::fields::{opt_duration, Fields, Source, Table};

use super::{
    Action, Experiment, ExperimentError, Probe, ProbeKind, Step, Thresholds, ToxicSpec, WritersSpec,
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

pub(super) fn parse(text: &str, file: &Path, name: &str) -> Result<Experiment, ExperimentError> {
    let src = Source { file, text };
    let raw: RawExperiment = toml::from_str(text)
        .map_err(|e| src.at(e.span().unwrap_or(0..0), e.message().trim_end().to_string()))?;

    let title = raw.title.get_ref().trim().to_string();
    if title.is_empty() {
        return Err(src.at(
            raw.title.span(),
            "`title` is empty: say what the experiment does",
        ));
    }

    let steady_span = raw.steady_state.span();
    let steady_state = probes(&src, "steady_state", raw.steady_state.into_inner().probes)?;
    if steady_state.is_empty() {
        return Err(src.at(
            steady_span,
            "[steady_state] has no probes: the hypothesis needs at least one",
        ));
    }
    let expect_during_fault = match raw.expect_during_fault {
        Some(p) => probes(&src, "expect_during_fault", p.into_inner().probes)?,
        None => Vec::new(),
    };

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
        .map(|(i, t)| step(&src, &format!("method step {}", i + 1), t, false))
        .collect::<Result<Vec<_>, _>>()?;
    if method.iter().all(|s| matches!(s.action, Action::Sleep)) {
        return Err(src.at(raw.method[0].span(), "the method only sleeps: add a fault"));
    }
    let rollbacks = raw
        .rollbacks
        .iter()
        .enumerate()
        .map(|(i, t)| step(&src, &format!("rollback {}", i + 1), t, true))
        .collect::<Result<Vec<_>, _>>()?;

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
    })
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
    src: &Source,
    section: &str,
    tables: Vec<Spanned<Table>>,
) -> Result<Vec<Probe>, ExperimentError> {
    tables
        .iter()
        .enumerate()
        .map(|(i, t)| probe(src, &format!("{section} probe {}", i + 1), t))
        .collect()
}

fn probe(src: &Source, what: &str, table: &Spanned<Table>) -> Result<Probe, ExperimentError> {
    let mut f = Fields::new(src, what.to_string(), table);
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
            let endpoint = f.string("endpoint")?.unwrap_or_else(|| "api".into());
            let status_span = f.map.get("status").map(|(_, v)| v.span());
            let status = f.uint("status", 599)?.unwrap_or(200);
            if status < 100 {
                return Err(f.err(
                    status_span.unwrap_or(table.span()),
                    format!("`status` {status} is not an HTTP status"),
                ));
            }
            let mut json = Vec::new();
            if let Some(t) = f.table("json")? {
                flatten_json("", &t, &mut json);
            }
            let label = format!("GET {path} on {endpoint} = {status}");
            (
                ProbeKind::Http {
                    endpoint,
                    path,
                    status: status as u16,
                    json,
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
            let query = f.required_string("sql")?;
            let expect = f
                .scalar_text("expect")?
                .ok_or_else(|| f.err(table.span(), "missing `expect` (the first cell's value)"))?;
            let label = format!("sql {} = {expect}", shorten(&query, 40));
            (ProbeKind::Sql { query, expect }, label, EXEC_TIMEOUT)
        }
        "redis" => {
            let span = f
                .map
                .get("redis")
                .map(|(_, v)| v.span())
                .unwrap_or(table.span());
            let command: Vec<String> = match f.take("redis").map(|v| v.into_inner()) {
                Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
                Some(Value::Array(items)) => items
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s),
                        other => Err(f.err(
                            span.clone(),
                            format!(
                                "`redis` arguments must be strings, found {}",
                                other.type_str()
                            ),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                _ => {
                    return Err(f.err(
                        span,
                        "`redis` is a command: \"PING\" or [\"GET\", \"some key\"]",
                    ))
                }
            };
            if command.is_empty() {
                return Err(f.err(span, "`redis` command is empty"));
            }
            let expect = f
                .scalar_text("expect")?
                .ok_or_else(|| f.err(table.span(), "missing `expect` (the reply)"))?;
            let service = f.string("service")?.unwrap_or_else(|| "redis".into());
            let label = format!("redis {} = {expect}", command.join(" "));
            (
                ProbeKind::Redis {
                    service,
                    command,
                    expect,
                },
                label,
                EXEC_TIMEOUT,
            )
        }
        "journey" => {
            let span = f
                .map
                .get("journey")
                .map(|(_, v)| v.span())
                .unwrap_or(table.span());
            let journey = f.required_string("journey")?;
            if let Err(unknown) = gauntlet_journeys::select(std::slice::from_ref(&journey)) {
                let known: Vec<&str> = gauntlet_journeys::registry::ALL
                    .iter()
                    .map(|d| d.name)
                    .collect();
                return Err(f.err(
                    span,
                    format!(
                        "unknown journey `{}`; journeys: {}",
                        unknown.join(", "),
                        known.join(", ")
                    ),
                ));
            }
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
        "sql" => &["sql", "expect", "name", "timeout"],
        "redis" => &["redis", "expect", "service", "name", "timeout"],
        "journey" => &["journey", "name", "timeout"],
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
    src: &Source,
    what: &str,
    table: &Spanned<Table>,
    rollback: bool,
) -> Result<Step, ExperimentError> {
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
        _ => &[],
    }
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
    use crate::experiment::Signal;

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
        assert_eq!(e.steady_state[0].name, "GET /api/healthz on api = 200");
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
                "title = \"t\"\n[steady_state]\nprobes = [ { htp = \"/x\" } ]\n[[method]]\naction = \"pm2_kill\"".into(),
                "t.toml:3:12: steady_state probe 1: no probe type",
            ),
            (
                "title = \"t\"\n[steady_state]\nprobes = [ { journey = \"nope\" } ]\n[[method]]\naction = \"pm2_kill\"".into(),
                "unknown journey `nope`",
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
}
