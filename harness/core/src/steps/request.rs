//! Request templates: rendered against a scope, sent, and the answer
//! observed and checked against a step's expectations.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{Map, Value};

use super::matcher::Matcher;
use super::step::{Capture, Expect};
use super::template::{Scope, Template};

#[derive(Debug, Clone)]
pub struct RequestTemplate {
    /// `None`: the project's primary endpoint.
    pub endpoint: Option<String>,
    pub method: Method,
    pub path: Template,
    pub headers: Vec<(String, Template)>,
    pub body: Option<BodyTemplate>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum BodyTemplate {
    Json(JsonTemplate),
    /// Text and its content type.
    Raw(Template, String),
}

#[derive(Debug, Clone)]
pub enum JsonTemplate {
    Value(Value),
    Text(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Every template in the value.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            JsonTemplate::Value(_) => Vec::new(),
            JsonTemplate::Text(t) => vec![t],
            JsonTemplate::Array(items) => items.iter().flat_map(JsonTemplate::templates).collect(),
            JsonTemplate::Object(fields) => {
                fields.iter().flat_map(|(_, v)| v.templates()).collect()
            }
        }
    }

    pub fn render(&self, scope: &mut Scope) -> Result<Value, String> {
        Ok(match self {
            JsonTemplate::Value(v) => v.clone(),
            JsonTemplate::Text(t) => t.render_value(scope)?,
            JsonTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(scope))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(fields) => {
                let mut map = Map::new();
                for (k, v) in fields {
                    map.insert(k.clone(), v.render(scope)?);
                }
                Value::Object(map)
            }
        })
    }
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub endpoint: String,
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<(Vec<u8>, String)>,
    pub timeout: Duration,
}

impl RequestTemplate {
    /// Every template of the request: path, headers, body.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = vec![&self.path];
        out.extend(self.headers.iter().map(|(_, t)| t));
        match &self.body {
            Some(BodyTemplate::Json(j)) => out.extend(j.templates()),
            Some(BodyTemplate::Raw(t, _)) => out.push(t),
            None => {}
        }
        out
    }

    /// Renders the request; `primary` is the endpoint of templates that
    /// name none.
    pub fn render(&self, scope: &mut Scope, primary: &str) -> Result<Rendered, String> {
        let path = self.path.render(scope)?;
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            headers.push((name.clone(), value.render(scope)?));
        }
        let body = match &self.body {
            Some(BodyTemplate::Json(j)) => Some((
                serde_json::to_vec(&j.render(scope)?).expect("JSON"),
                "application/json".to_string(),
            )),
            Some(BodyTemplate::Raw(t, content_type)) => {
                Some((t.render(scope)?.into_bytes(), content_type.clone()))
            }
            None => None,
        };
        Ok(Rendered {
            endpoint: self.endpoint.clone().unwrap_or_else(|| primary.to_string()),
            method: self.method.clone(),
            path,
            headers,
            body,
            timeout: self.timeout,
        })
    }
}

impl Rendered {
    /// `api POST /events`.
    pub fn describe(&self) -> String {
        format!("{} {} {}", self.endpoint, self.method, self.path)
    }

    pub fn builder(&self, client: &reqwest::Client, base: &str) -> reqwest::RequestBuilder {
        let mut b = client
            .request(self.method.clone(), format!("{base}{}", self.path))
            .timeout(self.timeout);
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        if let Some((bytes, content_type)) = &self.body {
            b = b.header("content-type", content_type).body(bytes.clone());
        }
        b
    }

    /// Sends the request to `base` and observes the answer.
    pub async fn send(&self, client: &reqwest::Client, base: &str) -> Observed {
        let started = Instant::now();
        let result = self.builder(client, base).send().await;
        match result {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let text = response.text().await.unwrap_or_default();
                Observed::answer(status, headers, text, started.elapsed())
            }
            Err(e) => Observed::no_answer(crate::target::error_chain(&e), started.elapsed()),
        }
    }
}

/// What a request or a probe produced.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// `None`: no answer (connection refused, timeout); see `error`.
    pub status: Option<u16>,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
    pub elapsed: Duration,
    /// A probe's value.
    pub value: Option<Value>,
    pub error: Option<String>,
}

impl Observed {
    pub fn answer(status: u16, headers: HeaderMap, text: String, elapsed: Duration) -> Observed {
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Observed {
            status: Some(status),
            headers,
            text,
            json,
            elapsed,
            value: None,
            error: None,
        }
    }

    pub fn no_answer(error: String, elapsed: Duration) -> Observed {
        Observed {
            error: Some(error),
            elapsed,
            ..Observed::default()
        }
    }

    /// A probe's reply: a number when it reads as one.
    pub fn probe(reply: Result<String, String>, elapsed: Duration) -> Observed {
        match reply {
            Ok(text) => {
                let value = match text.trim().parse::<i64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => match text.trim().parse::<f64>() {
                        Ok(f) if f.is_finite() => Value::from(f),
                        _ => Value::String(text.trim().to_string()),
                    },
                };
                Observed {
                    value: Some(value),
                    text,
                    elapsed,
                    ..Observed::default()
                }
            }
            Err(e) => Observed::no_answer(e, elapsed),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body in one line, at most 300 characters.
    pub fn snippet(&self) -> String {
        let one_line: String = self.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.is_empty() {
            "(empty body)".into()
        } else if one_line.chars().count() > 300 {
            format!("{}…", one_line.chars().take(300).collect::<String>())
        } else {
            one_line
        }
    }

    /// The value a capture takes from this observation.
    pub fn captured(&self, capture: &Capture) -> Option<Value> {
        match capture {
            Capture::Pointer(p) => self.json.pointer(p).cloned(),
            Capture::Header(h) => self.header(h).map(|v| Value::String(v.to_string())),
            Capture::Status => self.status.map(Value::from),
            Capture::Value => self.value.clone(),
        }
    }
}

impl Expect {
    /// Every template among the expectations' operands.
    pub fn templates(&self) -> Vec<&Template> {
        self.status
            .iter()
            .chain(self.json.iter().map(|(_, m)| m))
            .chain(self.headers.iter().map(|(_, m)| m))
            .chain(&self.body)
            .chain(&self.value)
            .flat_map(Matcher::templates)
            .collect()
    }

    /// `Ok` when every expectation holds; otherwise the first that does
    /// not, with what was seen. Without a status expectation, a request
    /// must not have failed with a 5xx or no answer.
    pub fn check(&self, seen: &Observed, scope: &mut Scope) -> Result<(), String> {
        if let Some(error) = &seen.error {
            return Err(format!("no answer: {error}"));
        }
        let is_request = seen.value.is_none();
        if is_request {
            let status = seen.status.unwrap_or(0);
            match &self.status {
                Some(m) => m
                    .check(Some(&Value::from(status)), scope)
                    .map_err(|e| format!("status: {e}: {}", seen.snippet()))?,
                None if status >= 500 => {
                    return Err(format!("answered {status}: {}", seen.snippet()))
                }
                None => {}
            }
            for (pointer, m) in &self.json {
                m.check(seen.json.pointer(pointer), scope)
                    .map_err(|e| format!("json {pointer}: {e}"))?;
            }
            for (name, m) in &self.headers {
                let value = seen.header(name).map(|v| Value::String(v.to_string()));
                m.check(value.as_ref(), scope)
                    .map_err(|e| format!("header {name}: {e}"))?;
            }
            if let Some(m) = &self.body {
                m.check(Some(&Value::String(seen.text.clone())), scope)
                    .map_err(|e| format!("body: {e}"))?;
            }
        }
        if let Some(m) = &self.value {
            m.check(seen.value.as_ref(), scope)
                .map_err(|e| format!("value: {e}"))?;
        }
        if let Some(limit) = self.max_duration {
            if seen.elapsed > limit {
                return Err(format!(
                    "took {} ms, more than max_duration {} ms",
                    seen.elapsed.as_millis(),
                    limit.as_millis()
                ));
            }
        }
        Ok(())
    }
}
