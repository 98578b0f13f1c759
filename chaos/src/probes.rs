//! Probes: one look at the system through its public interfaces (HTTP, the
//! PM2 CLI, SQL and `redis-cli` on the project's data services, a command
//! in a container, a synthetic journey). A probe never changes what it
//! looks at, and every result says what was observed, pass or fail. SQL,
//! Redis and command probes run as the step format's
//! [`ProbeSpec`](gauntlet_harness::steps::ProbeSpec) and are judged by its
//! matchers.

use std::time::{Duration, Instant};

use gauntlet_harness::config::{Config, DataKind};
use gauntlet_harness::pm2::{self, Pm2Process};
use gauntlet_harness::steps::{Observed, ProbeSpec, Template};
use gauntlet_harness::target::error_chain;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::experiment::{Expectation, Probe, ProbeKind};
use crate::names::ADMIN_TOKEN;
use crate::scope::ExperimentScope;
use crate::ChaosContext;

/// What one evaluation of a probe saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    pub observation: String,
    pub millis: u64,
}

/// One polling round: probes of the same round share one `pm2 jlist`.
#[derive(Default)]
pub struct Round {
    pm2: OnceCell<Result<Vec<Pm2Process>, String>>,
}

impl Round {
    pub fn new() -> Round {
        Round::default()
    }

    /// The PM2 process list of this round (asked once).
    pub async fn pm2(&self, ctx: &ChaosContext) -> Result<Vec<Pm2Process>, String> {
        self.pm2
            .get_or_init(|| async {
                pm2::processes(ctx.stack())
                    .await
                    .map_err(|e| format!("pm2 jlist: {e}"))
            })
            .await
            .clone()
    }
}

/// A client for probes: no pooled connections, so every probe proves a
/// new client can connect (a kept-alive socket to a dead process would
/// otherwise fail, or pass, for the wrong reason).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .connect_timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client")
}

/// Evaluates `probe` within its timeout; its templates and matchers use
/// `scope`.
pub async fn evaluate(
    ctx: &ChaosContext,
    http: &reqwest::Client,
    probe: &Probe,
    round: &Round,
    scope: &ExperimentScope,
) -> Outcome {
    let started = Instant::now();
    let result = tokio::time::timeout(probe.timeout, check(ctx, http, probe, round, scope)).await;
    let millis = started.elapsed().as_millis() as u64;
    let (ok, observation) = match result {
        Ok(Ok(seen)) => (true, scope.scrub(&seen)),
        Ok(Err(seen)) => (false, scope.scrub(&seen)),
        Err(_) => (
            false,
            format!(
                "no result within {}",
                crate::experiment::human(probe.timeout)
            ),
        ),
    };
    Outcome {
        ok,
        observation,
        millis,
    }
}

type Seen = Result<String, String>;

async fn check(
    ctx: &ChaosContext,
    http: &reqwest::Client,
    probe: &Probe,
    round: &Round,
    scope: &ExperimentScope,
) -> Seen {
    match &probe.kind {
        ProbeKind::Http {
            endpoint,
            path,
            status,
            json,
            matchers,
            body_contains,
            admin,
            slower_than,
        } => {
            let endpoint = match endpoint {
                Some(e) => e.clone(),
                None => crate::workload::default_endpoint(&ctx.sut().config)
                    .ok_or("no endpoint named, and the project has no default one")?,
            };
            let base = ctx
                .endpoint(&endpoint)
                .await
                .map_err(|e| format!("endpoint `{endpoint}` unavailable: {e}"))?;
            let path = &gauntlet_harness::steps::Template::parse(path)
                .map_err(|e| e.message)?
                .render(&mut scope.scope())?;
            let mut request = http.get(format!("{base}{path}")).timeout(probe.timeout);
            if *admin {
                if let Some(token) = ctx.sut().secret(ADMIN_TOKEN) {
                    request = request.header("X-Admin-Token", token);
                }
            }
            let started = Instant::now();
            let response = request
                .send()
                .await
                .map_err(|e| format!("no answer: {}", error_chain(&e)))?;
            let code = response.status().as_u16();
            let body = response
                .text()
                .await
                .map_err(|e| format!("{code}, body unreadable: {}", error_chain(&e)))?;
            let elapsed = started.elapsed();
            let seen = check_http(
                code,
                &body,
                elapsed,
                *status,
                json,
                body_contains.as_deref(),
                *slower_than,
            )?;
            check_json_matchers(&body, matchers, scope).map(|fields| format!("{seen}{fields}"))
        }
        ProbeKind::Pm2 {
            process,
            status,
            min_restarts,
            max_restarts,
        } => {
            let list = round.pm2(ctx).await?;
            check_pm2(&list, process, status, *min_restarts, *max_restarts)
        }
        ProbeKind::Sql {
            data,
            query,
            expect,
        } => {
            let data = resolve_data(&ctx.sut().config, DataKind::Postgres, data.as_deref(), None)?;
            let spec = ProbeSpec::Sql {
                data,
                query: query.clone(),
            };
            run_spec(ctx, &spec, Some(expect), scope, "first cell").await
        }
        ProbeKind::Redis {
            data,
            service,
            command,
            expect,
        } => {
            let data = resolve_data(
                &ctx.sut().config,
                DataKind::Redis,
                data.as_deref(),
                service.as_deref(),
            )?;
            let spec = ProbeSpec::Redis {
                data,
                command: command.clone(),
            };
            run_spec(ctx, &spec, Some(expect), scope, "reply").await
        }
        ProbeKind::Exec {
            service,
            command,
            expect,
        } => {
            let spec = ProbeSpec::Exec {
                service: service.clone(),
                command: command.clone(),
            };
            run_spec(ctx, &spec, expect.as_ref(), scope, "output").await
        }
        ProbeKind::Journey { journey } => run_journey(ctx, journey, probe.timeout).await,
    }
}

async fn run_journey(ctx: &ChaosContext, name: &str, budget: Duration) -> Seen {
    let catalog = gauntlet_journeys::Catalog::load(&ctx.sut().config).map_err(|e| e.to_string())?;
    let defs = catalog
        .select(&[name.to_string()])
        .map_err(|unknown| format!("unknown journey {}", unknown.join(", ")))?;
    let config = gauntlet_journeys::RunConfig {
        run_id: format!("chaos{}", rand::random::<u32>()),
        seed: ctx.seed(),
        sut: ctx.sut_now().await?,
        budget,
        retries: 0,
    };
    let report = gauntlet_journeys::run(&defs, &config, &|_| {}).await;
    let Some(j) = report.journeys.first() else {
        return Err("the journey did not run".into());
    };
    match j.result {
        gauntlet_journeys::JourneyResult::Passed => Ok(format!("passed in {} ms", j.millis)),
        other => {
            let step = j
                .failed_step()
                .map(|s| {
                    format!(
                        " at step `{}`: {}",
                        s.name,
                        s.failure.clone().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            Err(format!("{other:?}{step}").to_lowercase())
        }
    }
}

/// Runs a probe of the step format and judges its value by `expect`.
async fn run_spec(
    ctx: &ChaosContext,
    spec: &ProbeSpec,
    expect: Option<&Expectation>,
    scope: &ExperimentScope,
    what: &str,
) -> Seen {
    let mut s = scope.scope();
    let started = Instant::now();
    let reply = spec.run(ctx.sut(), &mut s).await;
    let seen = Observed::probe(reply, started.elapsed());
    if let Some(e) = &seen.error {
        return Err(e.clone());
    }
    let text = shorten(first_line(&seen.text), 120);
    match expect {
        None => Ok(format!("{what} `{text}`")),
        Some(e) => match e.matcher.check(seen.value.as_ref(), &mut s) {
            Ok(()) => Ok(format!("{what} `{text}`")),
            Err(m) => Err(format!("{what} `{text}`: {m}")),
        },
    }
}

/// The matchers of an HTTP probe's JSON pointers on a body already
/// checked; `Ok` lists what each pointer holds.
pub fn check_json_matchers(
    body: &str,
    matchers: &[(String, Expectation)],
    scope: &ExperimentScope,
) -> Seen {
    if matchers.is_empty() {
        return Ok(String::new());
    }
    let doc: Value =
        serde_json::from_str(body).map_err(|_| format!("body is not JSON: {}", snippet(body)))?;
    let mut s = scope.scope();
    let mut seen = Vec::new();
    for (pointer, expect) in matchers {
        let found = doc.pointer(pointer);
        expect
            .matcher
            .check(found, &mut s)
            .map_err(|m| format!("{pointer}: {m}"))?;
        seen.push(format!(
            "{pointer}={}",
            found.map(show).unwrap_or_else(|| "absent".into())
        ));
    }
    Ok(format!(", {}", seen.join(", ")))
}

/// The `[data]` entry of `kind` a probe or action uses: the one named
/// `data`, else the one running in `service`, else the project's only one
/// (of several redis services, the one in the service `redis`; of several
/// postgres services, the first). `Err` says why there is none.
pub fn resolve_data(
    config: &Config,
    kind: DataKind,
    data: Option<&str>,
    service: Option<&str>,
) -> Result<String, String> {
    let source = config.describe_source();
    let kind_name = match kind {
        DataKind::Postgres => "postgres",
        DataKind::Redis => "redis",
    };
    let of_kind: Vec<(&String, &gauntlet_harness::config::DataService)> =
        config.data.iter().filter(|(_, d)| d.kind == kind).collect();
    let names = || {
        if of_kind.is_empty() {
            "none".to_string()
        } else {
            of_kind
                .iter()
                .map(|(n, d)| format!("{n} (in {})", d.service))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    match (data, service) {
        (Some(name), _) => match config.data.get(name) {
            Some(d) if d.kind == kind => Ok(name.to_string()),
            Some(_) => Err(format!(
                "the data service `{name}` in [data] of {source} is not {kind_name}"
            )),
            None => Err(format!(
                "[data] of {source} declares no data service `{name}` ({kind_name} data services: {})",
                names()
            )),
        },
        (None, Some(service)) => of_kind
            .iter()
            .find(|(_, d)| d.service == service)
            .map(|(n, _)| n.to_string())
            .ok_or_else(|| {
                format!(
                    "the service `{service}` is not declared in [data] of {source} as a \
                     {kind_name} data service ({kind_name} data services: {})",
                    names()
                )
            }),
        (None, None) => match of_kind.as_slice() {
            [] => Err(format!("[data] of {source} declares no {kind_name} data service")),
            [(only, _)] => Ok(only.to_string()),
            several => match kind {
                DataKind::Redis => several
                    .iter()
                    .find(|(_, d)| d.service == "redis")
                    .map(|(n, _)| n.to_string())
                    .ok_or_else(|| {
                        format!(
                            "[data] of {source} declares several {kind_name} data services \
                             ({}): name one with `data`",
                            names()
                        )
                    }),
                DataKind::Postgres => Ok(several[0].0.to_string()),
            },
        },
    }
}

/// The name of the redis data service (`[data]`) that runs in `service`:
/// Redis probes go through it (its password, if it has one).
pub fn redis_data<'c>(config: &'c Config, service: &str) -> Option<&'c str> {
    config
        .data
        .iter()
        .find(|(_, d)| d.kind == DataKind::Redis && d.service == service)
        .map(|(name, _)| name.as_str())
}

/// The HTTP checks on an answer already received.
pub fn check_http(
    code: u16,
    body: &str,
    elapsed: Duration,
    status: u16,
    json: &[(String, Value)],
    body_contains: Option<&str>,
    slower_than: Option<Duration>,
) -> Seen {
    let ms = elapsed.as_millis();
    if code != status {
        return Err(format!(
            "{code} in {ms} ms (expected {status}): {}",
            snippet(body)
        ));
    }
    let mut seen = Vec::new();
    if !json.is_empty() {
        let doc: Value = serde_json::from_str(body)
            .map_err(|_| format!("{code} in {ms} ms, body is not JSON: {}", snippet(body)))?;
        for (path, expected) in json {
            let found = lookup(&doc, path);
            match found {
                Some(v) if json_equal(v, expected) => seen.push(format!("{path}={}", show(v))),
                Some(v) => {
                    return Err(format!(
                        "{code} in {ms} ms, {path} is {} (expected {})",
                        show(v),
                        show(expected)
                    ))
                }
                None => return Err(format!("{code} in {ms} ms, no {path} in {}", snippet(body))),
            }
        }
    }
    if let Some(text) = body_contains {
        if !body.contains(text) {
            return Err(format!(
                "{code} in {ms} ms, body lacks `{text}`: {}",
                snippet(body)
            ));
        }
    }
    if let Some(min) = slower_than {
        if elapsed < min {
            return Err(format!(
                "{code} in {ms} ms, faster than the {} expected under the fault",
                crate::experiment::human(min)
            ));
        }
    }
    let tail = if seen.is_empty() {
        String::new()
    } else {
        format!(", {}", seen.join(", "))
    };
    Ok(format!("{code} in {ms} ms{tail}"))
}

/// The PM2 checks on a process list already read.
pub fn check_pm2(
    list: &[Pm2Process],
    process: &str,
    status: &str,
    min_restarts: Option<u64>,
    max_restarts: Option<u64>,
) -> Seen {
    let Some(p) = list.iter().find(|p| p.name == process) else {
        return Err(if list.is_empty() {
            "the PM2 daemon is down (no process list)".to_string()
        } else {
            let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
            format!(
                "no PM2 process `{process}` (processes: {})",
                names.join(", ")
            )
        });
    };
    let pid = p
        .pid
        .map(|pid| format!("pid {pid}"))
        .unwrap_or_else(|| "no pid".into());
    let seen = format!("{process} {}, {pid}, {} restarts", p.status, p.restarts);
    if p.status != status {
        return Err(format!("{seen} (expected {status})"));
    }
    if let Some(min) = min_restarts {
        if p.restarts < min {
            return Err(format!("{seen} (expected at least {min})"));
        }
    }
    if let Some(max) = max_restarts {
        if p.restarts > max {
            return Err(format!("{seen} (expected at most {max})"));
        }
    }
    Ok(seen)
}

/// `a.b.0.c`: object keys and array indexes.
pub fn lookup<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(doc, |v, key| match v {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Numbers compare by value (`5` equals `5.0`), everything else exactly.
fn json_equal(found: &Value, expected: &Value) -> bool {
    match (found, expected) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => found == expected,
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn snippet(body: &str) -> String {
    let one_line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.chars().count() {
        0 => "(empty body)".into(),
        n if n > 120 => format!("{}…", one_line.chars().take(120).collect::<String>()),
        _ => one_line,
    }
}

fn first_line(text: &str) -> &str {
    text.trim().lines().next().unwrap_or("")
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text.to_string()
    }
}

/// The command as written.
pub fn command_text(command: &[Template]) -> String {
    command
        .iter()
        .map(Template::source)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(name: &str, status: &str, pid: Option<i64>, restarts: u64) -> Pm2Process {
        Pm2Process {
            name: name.into(),
            status: status.into(),
            pid,
            restarts,
            unstable_restarts: 0,
            uptime_seconds: None,
            memory_bytes: None,
            cpu_percent: None,
        }
    }

    #[test]
    fn http_checks_status_fields_and_latency() {
        let ok = r#"{"status":"ok","db":"ok","checks":{"redis":"ok","n":5}}"#;
        let fields = vec![
            ("db".to_string(), json!("ok")),
            ("checks.redis".to_string(), json!("ok")),
            ("checks.n".to_string(), json!(5.0)),
        ];
        let fast = Duration::from_millis(12);
        assert_eq!(
            check_http(200, ok, fast, 200, &fields, None, None),
            Ok("200 in 12 ms, db=ok, checks.redis=ok, checks.n=5".into())
        );
        let down = r#"{"status":"degraded","db":"down"}"#;
        assert!(check_http(503, down, fast, 200, &fields, None, None)
            .unwrap_err()
            .starts_with("503 in 12 ms (expected 200)"));
        assert_eq!(
            check_http(200, down, fast, 200, &fields, None, None),
            Err("200 in 12 ms, db is down (expected ok)".into())
        );
        assert!(check_http(200, "<html>", fast, 200, &fields, None, None)
            .unwrap_err()
            .contains("not JSON"));
        assert!(check_http(
            200,
            ok,
            fast,
            200,
            &[],
            None,
            Some(Duration::from_millis(400))
        )
        .unwrap_err()
        .contains("faster than the 400ms"));
        assert!(check_http(
            200,
            ok,
            Duration::from_millis(510),
            200,
            &[],
            Some("redis"),
            Some(Duration::from_millis(400))
        )
        .is_ok());
    }

    #[test]
    fn pm2_checks_status_and_restart_bounds() {
        let list = vec![
            p("api", "online", Some(40), 1),
            p("worker", "errored", None, 10),
        ];
        assert_eq!(
            check_pm2(&list, "api", "online", None, Some(3)),
            Ok("api online, pid 40, 1 restarts".into())
        );
        assert!(check_pm2(&list, "worker", "errored", Some(5), None).is_ok());
        assert_eq!(
            check_pm2(&list, "worker", "online", None, None),
            Err("worker errored, no pid, 10 restarts (expected online)".into())
        );
        assert!(check_pm2(&list, "worker", "errored", Some(11), None)
            .unwrap_err()
            .contains("at least 11"));
        assert!(check_pm2(&list, "sink", "online", None, None)
            .unwrap_err()
            .contains("no PM2 process `sink`"));
        assert_eq!(
            check_pm2(&[], "api", "online", None, None),
            Err("the PM2 daemon is down (no process list)".into())
        );
    }

    #[test]
    fn lookup_follows_keys_and_indexes() {
        let doc = json!({"a": {"b": [ {"c": 1} ]}});
        assert_eq!(lookup(&doc, "a.b.0.c"), Some(&json!(1)));
        assert_eq!(lookup(&doc, "a.x"), None);
    }
}
