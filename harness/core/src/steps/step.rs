//! One step as a file writes it (`[[step]]` of a journey,
//! `[transactions.NAME]` of a load profile, an experiment's `http` action),
//! checked when the file is loaded: unknown keys, bad methods, durations
//! and matchers, and names no template may use are errors with their byte
//! offset in the file.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use toml::Spanned;

use super::matcher::{toml_to_json, Matcher};
use super::probe::ProbeSpec;
use super::request::{BodyTemplate, JsonTemplate, RequestTemplate};
use super::template::{Known, Template, TemplateError};
use crate::compose::parse_duration;
use crate::config::{Config, DataKind};

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A problem in a file, at a byte offset of its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub offset: usize,
    pub message: String,
}

impl Problem {
    pub fn at(offset: usize, message: impl Into<String>) -> Problem {
        Problem {
            offset,
            message: message.into(),
        }
    }
}

/// The keys of a step, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub name: Option<String>,
    pub endpoint: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub json: Option<Spanned<toml::Value>>,
    pub body: Option<Spanned<String>>,
    pub content_type: Option<String>,
    pub timeout: Option<Spanned<String>>,
    pub expect: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub capture: BTreeMap<String, Spanned<String>>,
    pub eventually: Option<Spanned<RawEventually>>,
    pub concurrent: Option<Spanned<u32>>,
    pub count: Option<Spanned<BTreeMap<String, u32>>>,
    pub probe: Option<Spanned<RawProbe>>,
    pub sleep: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEventually {
    pub within: String,
    pub every: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub sql: Option<String>,
    pub redis: Option<Vec<String>>,
    pub exec: Option<Vec<String>>,
    pub data: Option<String>,
    pub service: Option<String>,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    Request(RequestTemplate),
    Probe(ProbeSpec),
    Sleep(Duration),
}

/// Where a captured value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Capture {
    Pointer(String),
    Header(String),
    Status,
    /// A probe's value.
    Value,
}

/// What a step expects.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub status: Option<Matcher>,
    pub json: Vec<(String, Matcher)>,
    pub headers: Vec<(String, Matcher)>,
    pub body: Option<Matcher>,
    pub max_duration: Option<Duration>,
    /// A probe's value.
    pub value: Option<Matcher>,
}

/// Polling until the expectations hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eventually {
    pub within: Duration,
    pub every: Duration,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub action: Action,
    pub expect: Expect,
    pub capture: Vec<(String, Capture)>,
    pub eventually: Option<Eventually>,
    /// Copies sent at the same moment (1: a plain step).
    pub concurrent: u32,
    /// Exact number of copies per status.
    pub count: Option<BTreeMap<u16, u32>>,
    /// Byte offset of the step in its file.
    pub offset: usize,
}

/// What a file's steps may refer to, and the file's text (to place
/// errors inside bodies).
pub struct Context<'a> {
    pub text: &'a str,
    pub known: Known,
    pub config: &'a Config,
    /// Endpoint of steps that name none (the file's, else the project's
    /// [`Config::default_endpoint`]).
    pub default_endpoint: Option<String>,
}

/// Which keys a kind of file allows beyond the request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowed {
    /// Journeys: everything.
    Journey,
    /// Load transactions and experiment requests: a request and `expect`.
    RequestOnly,
}

impl<'a> Context<'a> {
    pub fn new(text: &'a str, config: &'a Config) -> Context<'a> {
        Context {
            text,
            known: Known::new(config.secrets.keys().cloned()),
            config,
            default_endpoint: config.default_endpoint(),
        }
    }

    /// Places a template error found in the value spanning `span`: at the
    /// `{{` it names, searched for in the file's text.
    fn place(&self, span: &Range<usize>, e: TemplateError, needle: Option<&str>) -> Problem {
        let area = self.text.get(span.clone()).unwrap_or("");
        let within = needle
            .and_then(|n| area.find(n))
            .unwrap_or_else(|| e.offset.min(area.len()));
        Problem::at(span.start + within, e.message)
    }

    fn template(&self, s: &Spanned<String>) -> Result<Template, Problem> {
        let span = s.span();
        let t = Template::parse(s.get_ref()).map_err(|e| self.place(&span, e, Some("{{")))?;
        self.check(&t, &span)?;
        Ok(t)
    }

    fn check(&self, t: &Template, span: &Range<usize>) -> Result<(), Problem> {
        t.check(&self.known).map_err(|e| {
            let name = t
                .names()
                .find(|(_, at)| *at == e.offset)
                .map(|(n, _)| n.to_string());
            let needle = name.map(|n| format!("{{{{{n}"));
            let spaced = self.text.get(span.clone()).and_then(|area| {
                let n = needle.as_deref()?;
                area.find(n).or_else(|| area.find(&n.replace("{{", "{{ ")))
            });
            match spaced {
                Some(at) => Problem::at(span.start + at, e.message),
                None => Problem::at(span.start, e.message),
            }
        })
    }

    fn matcher(
        &self,
        value: &toml::Value,
        span: &Range<usize>,
        status: bool,
    ) -> Result<Matcher, Problem> {
        let m = if status {
            Matcher::status_from_toml(value)
        } else {
            Matcher::from_toml(value)
        }
        .map_err(|e| self.place(span, e, None))?;
        m.check_names(&self.known)
            .map_err(|e| self.place(span, e, Some("{{")))?;
        Ok(m)
    }

    fn duration(&self, s: &Spanned<String>, key: &str) -> Result<Duration, Problem> {
        parse_duration(s.get_ref()).map_err(|e| Problem::at(s.span().start, format!("{key}: {e}")))
    }

    fn json(&self, value: &toml::Value, span: &Range<usize>) -> Result<JsonTemplate, Problem> {
        Ok(match value {
            toml::Value::String(s) => {
                let t = Template::parse(s).map_err(|e| self.place(span, e, Some(s)))?;
                self.check(&t, span)?;
                JsonTemplate::Text(t)
            }
            toml::Value::Array(items) => JsonTemplate::Array(
                items
                    .iter()
                    .map(|i| self.json(i, span))
                    .collect::<Result<_, _>>()?,
            ),
            toml::Value::Table(t) => JsonTemplate::Object(
                t.iter()
                    .map(|(k, v)| Ok((k.clone(), self.json(v, span)?)))
                    .collect::<Result<_, Problem>>()?,
            ),
            other => JsonTemplate::Value(toml_to_json(other)),
        })
    }

    /// Checks a step and adds its captures to the names later steps know.
    pub fn step(
        &mut self,
        raw: Spanned<RawStep>,
        number: usize,
        allowed: Allowed,
    ) -> Result<Step, Problem> {
        let offset = raw.span().start;
        let raw = raw.into_inner();
        let name = raw.name.clone().unwrap_or_else(|| format!("step {number}"));
        if allowed == Allowed::RequestOnly {
            for (present, key) in [
                (!raw.capture.is_empty(), "capture"),
                (raw.eventually.is_some(), "eventually"),
                (raw.concurrent.is_some(), "concurrent"),
                (raw.count.is_some(), "count"),
                (raw.probe.is_some(), "probe"),
                (raw.sleep.is_some(), "sleep"),
            ] {
                if present {
                    return Err(Problem::at(
                        offset,
                        format!("`{key}` is for journey steps; here only a request and `expect`"),
                    ));
                }
            }
        }
        let action = self.action(&raw, offset)?;
        let is_probe = matches!(action, Action::Probe(_));
        let expect = match &raw.expect {
            Some(e) => self.expect(e, is_probe)?,
            None => Expect::default(),
        };
        let concurrent = match &raw.concurrent {
            Some(n) if *n.get_ref() == 0 || *n.get_ref() > 1000 => {
                return Err(Problem::at(
                    n.span().start,
                    "concurrent: between 1 and 1000 copies",
                ))
            }
            Some(n) if !matches!(action, Action::Request(_)) => {
                return Err(Problem::at(
                    n.span().start,
                    "concurrent: only a request can be sent in copies",
                ))
            }
            Some(n) => *n.get_ref(),
            None => 1,
        };
        let count = match &raw.count {
            None => None,
            Some(_) if concurrent == 1 => {
                return Err(Problem::at(
                    offset,
                    "`count` needs `concurrent` (copies to count)",
                ))
            }
            Some(c) => {
                let mut counts = BTreeMap::new();
                for (status, n) in c.get_ref() {
                    let code: u16 = status
                        .parse()
                        .ok()
                        .filter(|s| (100..600).contains(s))
                        .ok_or_else(|| {
                            Problem::at(
                                c.span().start,
                                format!("count: `{status}` is not an HTTP status"),
                            )
                        })?;
                    counts.insert(code, *n);
                }
                let total: u32 = counts.values().sum();
                if total != concurrent {
                    return Err(Problem::at(
                        c.span().start,
                        format!(
                            "count: the counts add up to {total}, but {concurrent} copies are sent"
                        ),
                    ));
                }
                Some(counts)
            }
        };
        let eventually = match &raw.eventually {
            None => None,
            Some(e) => {
                let at = e.span().start;
                let inner = e.get_ref();
                let within = parse_duration(&inner.within)
                    .map_err(|m| Problem::at(at, format!("eventually.within: {m}")))?;
                let every = match &inner.every {
                    Some(t) => parse_duration(t)
                        .map_err(|m| Problem::at(at, format!("eventually.every: {m}")))?,
                    None => Duration::from_millis(250),
                };
                if within.is_zero() || every.is_zero() {
                    return Err(Problem::at(
                        at,
                        "eventually: `within` and `every` must be above zero",
                    ));
                }
                Some(Eventually { within, every })
            }
        };
        let mut capture = Vec::new();
        for (var, source) in &raw.capture {
            let text = source.get_ref().trim();
            let c = if let Some(h) = text.strip_prefix("header:") {
                Capture::Header(h.trim().to_ascii_lowercase())
            } else if text == "status" {
                Capture::Status
            } else if text == "value" {
                Capture::Value
            } else if text.starts_with('/') || text.is_empty() {
                Capture::Pointer(text.to_string())
            } else {
                return Err(Problem::at(
                    source.span().start,
                    format!("capture `{var}`: `{text}` is not a JSON pointer (/a/0/b), header:NAME, status or value"),
                ));
            };
            if (c == Capture::Value) != is_probe {
                return Err(Problem::at(
                    source.span().start,
                    format!("capture `{var}`: `value` is what a probe captures; a request captures a pointer, a header or its status"),
                ));
            }
            capture.push((var.clone(), c));
        }
        for (var, _) in &capture {
            self.known.vars.insert(var.clone());
        }
        Ok(Step {
            name,
            action,
            expect,
            capture,
            eventually,
            concurrent,
            count,
            offset,
        })
    }

    fn action(&self, raw: &RawStep, offset: usize) -> Result<Action, Problem> {
        let request_keys =
            raw.path.is_some() || raw.method.is_some() || raw.json.is_some() || raw.body.is_some();
        match (&raw.probe, &raw.sleep, request_keys) {
            (Some(p), None, false) => self.probe(p).map(Action::Probe),
            (None, Some(s), false) => Ok(Action::Sleep(self.duration(s, "sleep")?)),
            (None, None, true) => self.request(raw, offset).map(Action::Request),
            (None, None, false) => Err(Problem::at(
                offset,
                "a step needs a `path` (a request), a `probe` or a `sleep`",
            )),
            _ => Err(Problem::at(
                offset,
                "a step is one of: a request (`path`), a `probe`, a `sleep`",
            )),
        }
    }

    /// The request keys of a step (also a load transaction's).
    pub fn request(&self, raw: &RawStep, offset: usize) -> Result<RequestTemplate, Problem> {
        let endpoint =
            match &raw.endpoint {
                Some(e) => {
                    let name = e.get_ref();
                    if !self.config.endpoints.is_empty()
                        && !self.config.endpoints.contains_key(name)
                    {
                        return Err(Problem::at(
                            e.span().start,
                            format!(
                            "unknown endpoint `{name}`; [endpoints] of gauntlet.toml declares: {}",
                            self.config.endpoints.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                        ));
                    }
                    Some(name.clone())
                }
                None if self.default_endpoint.is_none() && self.config.endpoints.len() > 1 => {
                    return Err(Problem::at(
                        offset,
                        format!(
                        "name the `endpoint`: gauntlet.toml declares several ({}), none is `api` \
                         and [identity] names none",
                        self.config.endpoints.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                    ))
                }
                None => self.default_endpoint.clone(),
            };
        let method = match &raw.method {
            Some(m) => {
                let upper = m.get_ref().to_ascii_uppercase();
                if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
                    .contains(&upper.as_str())
                {
                    return Err(Problem::at(
                        m.span().start,
                        format!("method: `{}` is not an HTTP method", m.get_ref()),
                    ));
                }
                Method::from_bytes(upper.as_bytes()).expect("known method")
            }
            None => Method::GET,
        };
        let path = raw
            .path
            .as_ref()
            .ok_or_else(|| Problem::at(offset, "a request needs a `path`"))?;
        if !path.get_ref().starts_with('/') && !path.get_ref().starts_with("{{") {
            return Err(Problem::at(
                path.span().start,
                format!("path: `{}` must start with `/`", path.get_ref()),
            ));
        }
        let path = self.template(path)?;
        let mut headers = Vec::new();
        for (name, value) in &raw.headers {
            headers.push((name.clone(), self.template(value)?));
        }
        let body = match (&raw.json, &raw.body) {
            (Some(_), Some(b)) => {
                return Err(Problem::at(
                    b.span().start,
                    "a request has `json` or `body`, not both",
                ))
            }
            (Some(j), None) => Some(BodyTemplate::Json(self.json(j.get_ref(), &j.span())?)),
            (None, Some(b)) => Some(BodyTemplate::Raw(
                self.template(b)?,
                raw.content_type
                    .clone()
                    .unwrap_or_else(|| "text/plain".into()),
            )),
            (None, None) => None,
        };
        let timeout = match &raw.timeout {
            Some(t) => self.duration(t, "timeout")?,
            None => DEFAULT_TIMEOUT,
        };
        Ok(RequestTemplate {
            endpoint,
            method,
            path,
            headers,
            body,
            timeout,
        })
    }

    fn probe(&self, p: &Spanned<RawProbe>) -> Result<ProbeSpec, Problem> {
        let at = p.span().start;
        let raw = p.get_ref();
        let data = |kind: DataKind| -> Result<String, Problem> {
            let name = raw.data.clone().or_else(|| {
                let mut of_kind = self.config.data.iter().filter(|(_, d)| d.kind == kind);
                match (of_kind.next(), of_kind.next()) {
                    (Some((n, _)), None) => Some(n.clone()),
                    _ => None,
                }
            });
            let name = name.ok_or_else(|| {
                Problem::at(
                    at,
                    format!("probe: name the `data` service ({kind:?} in [data] of gauntlet.toml)"),
                )
            })?;
            match self.config.data.get(&name) {
                Some(d) if d.kind == kind => Ok(name),
                Some(_) => Err(Problem::at(
                    at,
                    format!("probe: data `{name}` is not {kind:?}"),
                )),
                None => Err(Problem::at(
                    at,
                    format!("probe: no data service `{name}` in [data] of gauntlet.toml"),
                )),
            }
        };
        let templates = |items: &[String]| -> Result<Vec<Template>, Problem> {
            items
                .iter()
                .map(|i| {
                    let t = Template::parse(i).map_err(|e| self.place(&p.span(), e, Some(i)))?;
                    self.check(&t, &p.span())?;
                    Ok(t)
                })
                .collect()
        };
        match (&raw.sql, &raw.redis, &raw.exec) {
            (Some(sql), None, None) => {
                let query = Template::parse(sql).map_err(|e| self.place(&p.span(), e, Some(sql)))?;
                self.check(&query, &p.span())?;
                Ok(ProbeSpec::Sql { data: data(DataKind::Postgres)?, query })
            }
            (None, Some(cmd), None) if !cmd.is_empty() => Ok(ProbeSpec::Redis {
                data: data(DataKind::Redis)?,
                command: templates(cmd)?,
            }),
            (None, None, Some(cmd)) if !cmd.is_empty() => Ok(ProbeSpec::Exec {
                service: raw
                    .service
                    .clone()
                    .ok_or_else(|| Problem::at(at, "probe: `exec` needs the `service` to run in"))?,
                command: templates(cmd)?,
            }),
            _ => Err(Problem::at(
                at,
                "a probe is one of `sql = \"...\"`, `redis = [\"CMD\", ...]`, `exec = [\"cmd\", ...]`",
            )),
        }
    }

    /// `expect = { status, json, headers, body, max_duration, value }`.
    pub fn expect(&self, e: &Spanned<toml::Value>, probe: bool) -> Result<Expect, Problem> {
        let span = e.span();
        let table = e
            .get_ref()
            .as_table()
            .ok_or_else(|| Problem::at(span.start, "expect: a table such as { status = 200 }"))?;
        let mut out = Expect::default();
        for (key, value) in table {
            let request_only = |k: &str| -> Result<(), Problem> {
                if probe {
                    Err(Problem::at(
                        span.start,
                        format!("expect.{k}: a probe has a `value`, not a {k}"),
                    ))
                } else {
                    Ok(())
                }
            };
            match key.as_str() {
                "status" => {
                    request_only("status")?;
                    out.status = Some(self.matcher(value, &span, true)?);
                }
                "json" => {
                    request_only("json")?;
                    let fields = value.as_table().ok_or_else(|| {
                        Problem::at(span.start, "expect.json: a table of JSON pointers, { \"/data/id\" = ... }")
                    })?;
                    for (pointer, m) in fields {
                        if !pointer.is_empty() && !pointer.starts_with('/') {
                            let at = self.text.get(span.clone()).and_then(|a| a.find(pointer.as_str())).unwrap_or(0);
                            return Err(Problem::at(
                                span.start + at,
                                format!("expect.json: `{pointer}` is not a JSON pointer (write \"/{pointer}\")"),
                            ));
                        }
                        out.json.push((pointer.clone(), self.matcher(m, &span, false)?));
                    }
                }
                "headers" => {
                    request_only("headers")?;
                    let fields = value
                        .as_table()
                        .ok_or_else(|| Problem::at(span.start, "expect.headers: a table of header names"))?;
                    for (name, m) in fields {
                        out.headers.push((name.to_ascii_lowercase(), self.matcher(m, &span, false)?));
                    }
                }
                "body" => {
                    request_only("body")?;
                    out.body = Some(self.matcher(value, &span, false)?);
                }
                "max_duration" => {
                    let text = value
                        .as_str()
                        .ok_or_else(|| Problem::at(span.start, "expect.max_duration: a duration such as \"500ms\""))?;
                    out.max_duration = Some(
                        parse_duration(text).map_err(|m| Problem::at(span.start, format!("expect.max_duration: {m}")))?,
                    );
                }
                "value" => {
                    if !probe {
                        return Err(Problem::at(span.start, "expect.value: only a probe has a value"));
                    }
                    out.value = Some(self.matcher(value, &span, false)?);
                }
                other => {
                    return Err(Problem::at(
                        span.start,
                        format!("expect: unknown key `{other}`; known: status, json, headers, body, max_duration, value"),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// `[vars]`: each may use the names before it.
    pub fn vars(
        &mut self,
        vars: &[(String, Spanned<String>)],
    ) -> Result<Vec<(String, Template)>, Problem> {
        let mut out = Vec::new();
        for (name, value) in vars {
            if name.contains('.') || super::template::BUILTINS.contains(&name.as_str()) {
                return Err(Problem::at(
                    value.span().start,
                    format!("vars: `{name}` is a reserved name"),
                ));
            }
            let t = self.template(value)?;
            self.known.vars.insert(name.clone());
            out.push((name.clone(), t));
        }
        Ok(out)
    }
}
