//! Requests as values, so a journey can send one or several at the same
//! moment (`Journey::send_all`), and responses with assertion helpers whose
//! failures say what was sent and what came back.

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

use crate::journey::Failure;

/// Which of the system's HTTP services a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Api,
    Web,
    Sink,
}

impl Service {
    /// The endpoint (`[endpoints]` of the project) this service is.
    pub fn endpoint(self) -> &'static str {
        self.name()
    }

    pub fn name(self) -> &'static str {
        match self {
            Service::Api => "api",
            Service::Web => "web",
            Service::Sink => "sink",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Req {
    pub(crate) service: Service,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) body: Option<Body>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) bearer: Option<String>,
    pub(crate) admin: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Json(Value),
    /// Sent as is, with this content type (hostile and malformed bodies).
    Raw(Vec<u8>, String),
}

impl Req {
    pub fn new(service: Service, method: Method, path: impl Into<String>) -> Req {
        Req {
            service,
            method,
            path: path.into(),
            body: None,
            headers: Vec::new(),
            bearer: None,
            admin: false,
        }
    }
    pub fn get(path: impl Into<String>) -> Req {
        Req::new(Service::Api, Method::GET, path)
    }
    pub fn post(path: impl Into<String>) -> Req {
        Req::new(Service::Api, Method::POST, path)
    }
    pub fn patch(path: impl Into<String>) -> Req {
        Req::new(Service::Api, Method::PATCH, path)
    }
    pub fn delete(path: impl Into<String>) -> Req {
        Req::new(Service::Api, Method::DELETE, path)
    }
    pub fn to(mut self, service: Service) -> Req {
        self.service = service;
        self
    }
    pub fn json(mut self, body: Value) -> Req {
        self.body = Some(Body::Json(body));
        self
    }
    pub fn raw(mut self, bytes: impl Into<Vec<u8>>, content_type: &str) -> Req {
        self.body = Some(Body::Raw(bytes.into(), content_type.to_string()));
        self
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Req {
        self.headers.push((name.to_string(), value.into()));
        self
    }
    pub fn bearer(mut self, token: &str) -> Req {
        self.bearer = Some(token.to_string());
        self
    }
    /// Adds `X-Admin-Token` with the run's admin token.
    pub fn admin(mut self) -> Req {
        self.admin = true;
        self
    }
    pub(crate) fn describe(&self) -> String {
        format!("{} {} {}", self.service.name(), self.method, self.path)
    }
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub request: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error.code` of an error body, or "".
    pub fn code(&self) -> &str {
        self.json
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn at(&self, pointer: &str) -> &Value {
        self.json.pointer(pointer).unwrap_or(&Value::Null)
    }

    pub fn i64_at(&self, pointer: &str) -> Result<i64, Failure> {
        self.at(pointer).as_i64().ok_or_else(|| {
            Failure::new(format!(
                "{}: no integer at {pointer} in {}",
                self.request,
                self.snippet()
            ))
        })
    }

    pub fn str_at(&self, pointer: &str) -> Result<String, Failure> {
        self.at(pointer).as_str().map(String::from).ok_or_else(|| {
            Failure::new(format!(
                "{}: no string at {pointer} in {}",
                self.request,
                self.snippet()
            ))
        })
    }

    pub fn expect_status(&self, expected: u16) -> Result<&Resp, Failure> {
        if self.status == expected {
            Ok(self)
        } else {
            Err(Failure::new(format!(
                "{} answered {}, expected {expected}: {}",
                self.request,
                self.status,
                self.snippet()
            )))
        }
    }

    /// Status and `error.code` both as expected, and the body has the
    /// documented error shape.
    pub fn expect_error(&self, status: u16, code: &str) -> Result<&Resp, Failure> {
        self.expect_status(status)?;
        let message = self.at("/error/message").as_str().unwrap_or("");
        if self.code() != code || message.is_empty() {
            return Err(Failure::new(format!(
                "{} answered {status} with code `{}`, expected `{code}` in the error shape {{error:{{code,message}}}}: {}",
                self.request,
                self.code(),
                self.snippet()
            )));
        }
        Ok(self)
    }

    pub fn snippet(&self) -> String {
        let one_line: String = self.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.chars().count() > 300 {
            format!("{}…", one_line.chars().take(300).collect::<String>())
        } else if one_line.is_empty() {
            "(empty body)".into()
        } else {
            one_line
        }
    }
}
