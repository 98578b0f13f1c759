//! The actions that work the system rather than break it: `exec` (a
//! command in a service's container), `publish` (events into a Redis
//! stream or list, rows into a postgres table) and `http` (a request in the
//! step format). Each either does what it says, checked, or fails with
//! what it saw; `publish` returns the ids of the events it put in.

use std::time::Instant;

use gauntlet_harness::config::{Config, DataKind};
use gauntlet_harness::invariants;
use gauntlet_harness::steps::template::as_text;
use gauntlet_harness::steps::{Scope, Template};
use serde_json::{Map, Value};

use crate::experiment::{FieldValue, HttpAction, PublishInto, PublishSpec};
use crate::probes::resolve_data;
use crate::scope::ExperimentScope;
use crate::ChaosContext;

/// What an action did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Done {
    /// For the journal.
    pub detail: String,
    /// The ids of the events a `publish` put in, in order.
    pub ids: Vec<String>,
}

/// Most bytes of commands one `docker exec` carries (Linux limits one
/// argument to 128 KiB and all of them to 2 MiB).
const BATCH_BYTES: usize = 512 * 1024;
/// Longest SQL statement sent at once (one `psql -c` argument).
const STATEMENT_BYTES: usize = 96 * 1024;

/// The endpoint of an `http` action that names none: the project's primary
/// one (its identity's, else `api`) if declared, else its only endpoint.
pub fn default_endpoint(config: &Config) -> Option<String> {
    config.default_endpoint()
}

/// Runs `exec in service: command`; its exit code must be `expect_exit`.
pub async fn exec(
    ctx: &ChaosContext,
    service: &str,
    command: &[Template],
    expect_exit: i64,
    scope: &ExperimentScope,
) -> Result<Done, String> {
    let mut s = scope.scope();
    let argv = command
        .iter()
        .map(|t| t.render(&mut s))
        .collect::<Result<Vec<_>, _>>()?;
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = ctx
        .stack()
        .exec(service, &argv)
        .await
        .map_err(|e| e.to_string())?;
    let output = last_lines(&format!("{}\n{}", out.stdout, out.stderr));
    if out.exit_code != expect_exit {
        return Err(scope.scrub(&format!(
            "`{}` in {service} exited with {} (expected {expect_exit}): {output}",
            argv.join(" "),
            out.exit_code
        )));
    }
    Ok(Done {
        detail: scope.scrub(&format!(
            "exited with {}{}",
            out.exit_code,
            if output.is_empty() {
                String::new()
            } else {
                format!(": {output}")
            }
        )),
        ids: Vec::new(),
    })
}

/// One event: its fields rendered (`{{index}}` is its number).
fn render_event(
    spec: &PublishSpec,
    scope: &mut Scope,
    index: u32,
) -> Result<Vec<(String, Value)>, String> {
    scope.index = index;
    spec.fields
        .iter()
        .map(|(name, value)| {
            let v = match value {
                FieldValue::Template(t) => t.render_value(scope)?,
                FieldValue::Literal(v) => v.clone(),
            };
            Ok((name.clone(), v))
        })
        .collect()
}

/// One event's fields and values, and its id.
pub type Event = (Vec<(String, Value)>, Option<String>);

/// Every event of a `publish`, rendered, with its id (the `id_field`).
pub fn render_events(spec: &PublishSpec, scope: &ExperimentScope) -> Result<Vec<Event>, String> {
    let mut s = scope.scope();
    (0..spec.count)
        .map(|i| {
            let fields = render_event(spec, &mut s, i)?;
            let id = spec
                .id_field
                .as_ref()
                .and_then(|f| fields.iter().find(|(n, _)| n == f).map(|(_, v)| as_text(v)));
            Ok((fields, id))
        })
        .collect()
}

/// The Redis command that puts one event in.
pub fn redis_command(into: &PublishInto, fields: &[(String, Value)]) -> Vec<String> {
    match into {
        PublishInto::Stream(key) => {
            let mut argv = vec!["XADD".to_string(), key.clone(), "*".into()];
            for (name, value) in fields {
                argv.push(name.clone());
                argv.push(as_text(value));
            }
            argv
        }
        PublishInto::List(key) => {
            let object: Map<String, Value> = fields.iter().cloned().collect();
            vec![
                "RPUSH".into(),
                key.clone(),
                Value::Object(object).to_string(),
            ]
        }
        PublishInto::Table(_) => Vec::new(),
    }
}

/// One command as a line `redis-cli` reads from its input: every argument
/// in double quotes, with `\"`, `\\` and `\xHH` escapes.
pub fn redis_line(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| {
            let mut quoted = String::from("\"");
            for b in arg.bytes() {
                match b {
                    b'"' => quoted.push_str("\\\""),
                    b'\\' => quoted.push_str("\\\\"),
                    0x20..=0x7e => quoted.push(b as char),
                    other => quoted.push_str(&format!("\\x{other:02x}")),
                }
            }
            quoted.push('"');
            quoted
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A SQL literal: numbers as they are, text quoted, booleans and null.
pub fn sql_literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

/// `"schema"."table"`.
fn sql_name(name: &str) -> String {
    name.split('.')
        .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

/// `INSERT INTO ... VALUES (...), (...)` statements, each under
/// [`STATEMENT_BYTES`].
pub fn insert_statements(table: &str, events: &[Vec<(String, Value)>]) -> Vec<String> {
    let Some(first) = events.first() else {
        return Vec::new();
    };
    let head = format!(
        "INSERT INTO {} ({}) VALUES ",
        sql_name(table),
        first
            .iter()
            .map(|(c, _)| sql_name(c))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut statements = Vec::new();
    let mut rows: Vec<String> = Vec::new();
    let mut size = head.len();
    for event in events {
        let row = format!(
            "({})",
            event
                .iter()
                .map(|(_, v)| sql_literal(v))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !rows.is_empty() && size + row.len() + 2 > STATEMENT_BYTES {
            statements.push(format!("{head}{}", rows.join(", ")));
            rows.clear();
            size = head.len();
        }
        size += row.len() + 2;
        rows.push(row);
    }
    statements.push(format!("{head}{}", rows.join(", ")));
    statements
}

/// Puts the events of `spec` in; `Ok` has their ids.
pub async fn publish(
    ctx: &ChaosContext,
    spec: &PublishSpec,
    scope: &ExperimentScope,
) -> Result<Done, String> {
    let sut = ctx.sut();
    let kind = if spec.into.is_redis() {
        DataKind::Redis
    } else {
        DataKind::Postgres
    };
    let data = resolve_data(&sut.config, kind, spec.data.as_deref(), None)?;
    let into = match &spec.into {
        PublishInto::Stream(k) => PublishInto::Stream(scope.render(k)?),
        PublishInto::List(k) => PublishInto::List(scope.render(k)?),
        PublishInto::Table(t) => PublishInto::Table(t.clone()),
    };
    let events = render_events(spec, scope)?;
    let ids: Vec<String> = events.iter().filter_map(|(_, id)| id.clone()).collect();
    let started = Instant::now();
    match &into {
        PublishInto::Table(table) => {
            let rows: Vec<Vec<(String, Value)>> = events.into_iter().map(|(f, _)| f).collect();
            for sql in insert_statements(table, &rows) {
                invariants::query(sut, &data, &sql)
                    .await
                    .map_err(|e| scope.scrub(&e.to_string()))?;
            }
        }
        into => {
            let lines: Vec<String> = events
                .iter()
                .map(|(fields, _)| redis_line(&redis_command(into, fields)))
                .collect();
            let mut batch: Vec<String> = Vec::new();
            let mut size = 0;
            let mut sent = 0;
            for line in lines {
                if !batch.is_empty() && size + line.len() > BATCH_BYTES {
                    sent += redis_batch(ctx, &data, into, &batch, sent, scope).await?;
                    batch.clear();
                    size = 0;
                }
                size += line.len() + 1;
                batch.push(line);
            }
            if !batch.is_empty() {
                redis_batch(ctx, &data, into, &batch, sent, scope).await?;
            }
        }
    }
    let where_ = match &into {
        PublishInto::Stream(k) => format!("stream {k}"),
        PublishInto::List(k) => format!("list {k}"),
        PublishInto::Table(t) => format!("table {t}"),
    };
    let sample = match ids.as_slice() {
        [] => String::new(),
        [one] => format!("; id {one}"),
        [first, .., last] => format!("; ids {first} … {last}"),
    };
    Ok(Done {
        detail: format!(
            "{} event{} into {where_} of {data} in {} ms{sample}",
            spec.count,
            if spec.count == 1 { "" } else { "s" },
            started.elapsed().as_millis()
        ),
        ids,
    })
}

/// Sends lines of Redis commands through one `redis-cli` in the data
/// service's container; every reply must be what the command answers on
/// success (an entry id, a list length). Returns how many were sent.
async fn redis_batch(
    ctx: &ChaosContext,
    data: &str,
    into: &PublishInto,
    lines: &[String],
    before: usize,
    scope: &ExperimentScope,
) -> Result<usize, String> {
    let sut = ctx.sut();
    let service = &sut.config.data[data];
    let password = service
        .password_secret
        .as_deref()
        .and_then(|s| sut.secret(s))
        .map(|p| format!("REDISCLI_AUTH={p}"));
    let mut argv: Vec<&str> = Vec::new();
    if let Some(env) = &password {
        argv.extend(["env", env.as_str()]);
    }
    argv.extend([
        "sh",
        "-c",
        "for line in \"$@\"; do printf '%s\\n' \"$line\"; done | redis-cli",
        "sh",
    ]);
    argv.extend(lines.iter().map(String::as_str));
    let out = ctx
        .stack()
        .exec(&service.service, &argv)
        .await
        .map_err(|e| e.to_string())?;
    let replies: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let bad = replies.iter().enumerate().find(|(_, r)| !reply_ok(into, r));
    if out.exit_code != 0 || replies.len() != lines.len() || bad.is_some() {
        let what = match bad {
            Some((i, reply)) => format!("event {} was answered `{}`", before + i, reply.trim()),
            None => format!(
                "{} replies to {} commands (exit {})",
                replies.len(),
                lines.len(),
                out.exit_code
            ),
        };
        return Err(scope.scrub(&format!(
            "redis-cli in {}: {what}: {}",
            service.service,
            last_lines(&format!("{}\n{}", out.stdout, out.stderr))
        )));
    }
    Ok(lines.len())
}

/// `XADD` answers an entry id, `RPUSH` the list's length.
fn reply_ok(into: &PublishInto, reply: &str) -> bool {
    let reply = reply.trim();
    match into {
        PublishInto::Stream(_) => reply.split_once('-').is_some_and(|(ms, seq)| {
            !ms.is_empty()
                && !seq.is_empty()
                && ms.bytes().all(|b| b.is_ascii_digit())
                && seq.bytes().all(|b| b.is_ascii_digit())
        }),
        PublishInto::List(_) => reply.parse::<u64>().is_ok(),
        PublishInto::Table(_) => true,
    }
}

/// Sends an `http` action's request; a failed `expect` fails the action.
pub async fn http(
    ctx: &ChaosContext,
    client: &reqwest::Client,
    action: &HttpAction,
    scope: &ExperimentScope,
) -> Result<Done, String> {
    let config = &ctx.sut().config;
    let endpoint = match &action.request.endpoint {
        Some(e) => e.clone(),
        None => default_endpoint(config).ok_or_else(|| {
            "the request names no endpoint and the project has no default".to_string()
        })?,
    };
    let base = ctx
        .endpoint(&endpoint)
        .await
        .map_err(|e| format!("endpoint `{endpoint}` unavailable: {e}"))?;
    let mut s = scope.scope();
    let rendered = action.request.render(&mut s, &endpoint)?;
    // The path as sent, when templates changed it.
    let sent = if rendered.path == action.request.path.source() {
        String::new()
    } else {
        format!("{} {}: ", rendered.method, rendered.path)
    };
    let started = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let seen = rendered.send(client, &base).await;
        let answer = match seen.status {
            Some(status) => format!("{status} in {} ms", seen.elapsed.as_millis()),
            None => format!("no answer in {} ms", seen.elapsed.as_millis()),
        };
        let after = if tries > 1 {
            format!(" (try {tries}, {:.1} s)", started.elapsed().as_secs_f64())
        } else {
            String::new()
        };
        match action.expect.check(&seen, &mut s) {
            Ok(()) => {
                return Ok(Done {
                    detail: scope.scrub(&format!("{sent}{answer}{after}")),
                    ids: Vec::new(),
                })
            }
            Err(e) => match action.eventually {
                Some((within, every)) if started.elapsed() + every < within => {
                    tokio::time::sleep(every).await;
                }
                _ => return Err(scope.scrub(&format!("{sent}{e}{after}"))),
            },
        }
    }
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redis_lines_quote_every_argument() {
        let line = redis_line(&[
            "XADD".into(),
            "ev ents".into(),
            "*".into(),
            "say \"hi\"\\".into(),
            "é\n".into(),
        ]);
        assert_eq!(
            line,
            r#""XADD" "ev ents" "*" "say \"hi\"\\" "\xc3\xa9\x0a""#
        );
    }

    #[test]
    fn list_events_are_json_objects_and_stream_events_field_value_pairs() {
        let fields = vec![
            ("id".to_string(), json!("u-1")),
            ("n".to_string(), json!(1)),
        ];
        assert_eq!(
            redis_command(&PublishInto::List("q".into()), &fields),
            vec!["RPUSH", "q", r#"{"id":"u-1","n":1}"#]
        );
        assert_eq!(
            redis_command(&PublishInto::Stream("s".into()), &fields),
            vec!["XADD", "s", "*", "id", "u-1", "n", "1"]
        );
    }

    #[test]
    fn inserts_quote_text_and_split_long_statements() {
        let rows = vec![
            vec![
                ("id".to_string(), json!("o'brien")),
                ("n".to_string(), json!(2)),
            ],
            vec![
                ("id".to_string(), json!("b")),
                ("n".to_string(), json!(true)),
            ],
        ];
        assert_eq!(
            insert_statements("public.events", &rows),
            vec![
                r#"INSERT INTO "public"."events" ("id", "n") VALUES ('o''brien', 2), ('b', TRUE)"#
            ]
        );
        let many: Vec<Vec<(String, Value)>> = (0..5000)
            .map(|i| vec![("id".to_string(), json!(format!("event-number-{i:06}")))])
            .collect();
        let statements = insert_statements("t", &many);
        assert!(statements.len() > 1);
        assert!(statements.iter().all(|s| s.len() <= STATEMENT_BYTES));
        let rows: usize = statements.iter().map(|s| s.matches("('").count()).sum();
        assert_eq!(rows, 5000);
    }

    #[test]
    fn replies_are_checked_per_kind() {
        let stream = PublishInto::Stream("s".into());
        assert!(reply_ok(&stream, "1712345678901-0"));
        assert!(!reply_ok(&stream, "ERR wrong number of arguments"));
        assert!(!reply_ok(&stream, "WRONGTYPE Operation against a key"));
        let list = PublishInto::List("l".into());
        assert!(reply_ok(&list, "12"));
        assert!(!reply_ok(&list, "(error) WRONGTYPE"));
    }
}
