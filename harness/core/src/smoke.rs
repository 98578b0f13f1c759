//! The smoke check: a quick end-to-end look at a running system through its
//! public interfaces only, as the project file declares them: identity,
//! every endpoint's readiness, the `[[checks]]` probes, the data services,
//! and PM2 when there is one. It is what `check` runs, against a run or any
//! deployment.

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::config::{DataKind, HttpCheck};
use crate::sut::Sut;
use crate::target::error_chain;

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub detail: String,
    pub millis: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SmokeReport {
    pub checks: Vec<CheckResult>,
}

impl SmokeReport {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    pub fn failures(&self) -> Vec<&CheckResult> {
        self.checks.iter().filter(|c| !c.passed).collect()
    }

    fn record(&mut self, name: &str, started: Instant, outcome: Outcome) {
        let (passed, detail) = match outcome {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.checks.push(CheckResult {
            name: name.into(),
            passed,
            detail,
            millis: started.elapsed().as_millis() as u64,
        });
    }
}

type Outcome = std::result::Result<String, String>;

/// Runs every check; never stops at the first failure, so the report shows
/// the whole picture.
pub async fn run(sut: &Sut) -> SmokeReport {
    let mut report = SmokeReport::default();
    let config = sut.config.clone();

    if config.identity.is_some() {
        let t = Instant::now();
        let outcome = match sut.verify_identity().await {
            Ok(_) => Ok("identity matches".into()),
            Err(e) => Err(e.to_string()),
        };
        report.record("identity", t, outcome);
    }
    for (name, endpoint) in &config.endpoints {
        let Some(readiness) = &endpoint.readiness else {
            continue;
        };
        if !sut.has_endpoint(name) {
            continue;
        }
        let t = Instant::now();
        let probe = HttpCheck {
            name: String::new(),
            endpoint: name.clone(),
            method: "GET".into(),
            path: readiness.path.clone(),
            status: readiness.status,
            contains: None,
            json: Default::default(),
            headers: Default::default(),
        };
        report.record(&format!("{name} ready"), t, http_check(sut, &probe).await);
    }
    for check in &config.checks {
        let t = Instant::now();
        let outcome = if sut.has_endpoint(&check.endpoint) {
            http_check(sut, check).await
        } else {
            Err(format!(
                "no URL for endpoint `{}` (pass --{} URL)",
                check.endpoint, check.endpoint
            ))
        };
        report.record(&check.name, t, outcome);
    }
    if let Some(stack) = sut.stack_opt() {
        for (name, data) in &config.data {
            let t = Instant::now();
            let outcome = match data.kind {
                DataKind::Postgres => crate::invariants::query(sut, name, "SELECT 1")
                    .await
                    .map(|_| "answers SELECT 1".to_string())
                    .map_err(|e| e.to_string()),
                DataKind::Redis => crate::invariants::redis(sut, name, &["PING"])
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|reply| {
                        if reply == "PONG" {
                            Ok("answers PING".to_string())
                        } else {
                            Err(format!("PING answered `{reply}`"))
                        }
                    }),
            };
            report.record(&format!("{name} ({}) answers", data.service), t, outcome);
        }
        if config.pm2.is_some() {
            let t = Instant::now();
            report.record(
                "pm2 processes online",
                t,
                crate::pm2::all_online(stack).await,
            );
        }
    }
    report
}

/// One declared probe: status, then headers, JSON values and text.
pub async fn http_check(sut: &Sut, check: &HttpCheck) -> Outcome {
    let target = sut.target(&check.endpoint).map_err(|e| e.to_string())?;
    let method = reqwest::Method::from_bytes(check.method.as_bytes())
        .map_err(|_| format!("`{}` is not an HTTP method", check.method))?;
    let what = format!("{} {} {}", check.endpoint, check.method, check.path);
    let response = target
        .http()
        .request(method, target.url(&check.path))
        .send()
        .await
        .map_err(|e| format!("{what}: {}", error_chain(&e)))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    if status != check.status {
        return Err(format!(
            "{what} answered {status}, expected {}",
            check.status
        ));
    }
    for (name, expected) in &check.headers {
        let value = headers.get(name).and_then(|v| v.to_str().ok());
        match value {
            None => return Err(format!("{what}: no `{name}` header")),
            Some(v) if !expected.is_empty() && v != expected => {
                return Err(format!(
                    "{what}: header `{name}` is `{v}`, expected `{expected}`"
                ))
            }
            _ => {}
        }
    }
    if !check.json.is_empty() {
        let json: Value =
            serde_json::from_str(&body).map_err(|_| format!("{what}: the body is not JSON"))?;
        for (pointer, expected) in &check.json {
            let found = match json.pointer(pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return Err(format!("{what}: no value at {pointer}")),
            };
            if &found != expected {
                return Err(format!(
                    "{what}: {pointer} is `{found}`, expected `{expected}`"
                ));
            }
        }
    }
    if let Some(text) = &check.contains {
        if !body.contains(text.as_str()) {
            return Err(format!("{what}: the body does not contain `{text}`"));
        }
    }
    Ok(format!("{status}"))
}
