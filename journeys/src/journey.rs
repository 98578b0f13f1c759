//! The context one journey runs in: where the system is, the run's
//! secrets, seeded fake data, and the step recorder.

use std::time::{Duration, Instant};

use fake::faker::name::en::{FirstName, LastName};
use fake::rand::rngs::ChaCha8Rng;
use fake::rand::{RngExt, SeedableRng};
use fake::Fake;

use gauntlet_harness::sut::Sut;

use crate::report::{Exchange, StepReport, StepResult};
use crate::request::{Body, Req, Resp, Service};

pub type Outcome = Result<(), Failure>;

/// An assertion that did not hold; the message names the symptom.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
        }
    }
}

pub struct Journey {
    pub name: String,
    sut: Sut,
    seed: u64,
    http: reqwest::Client,
    rng: ChaCha8Rng,
    /// Makes every e-mail, key and external id unique to this attempt, so
    /// journeys can run in parallel and again against the same stack.
    nonce: String,
    steps: Vec<StepReport>,
    current: Option<(String, Instant, Vec<Exchange>)>,
}

impl Journey {
    pub fn new(name: impl Into<String>, sut: Sut, seed: u64, nonce: String) -> Journey {
        let name = name.into();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        // One seed for the run; each journey draws from its own stream.
        let stream = name.bytes().fold(seed, |h, b| h.rotate_left(5) ^ b as u64);
        Journey {
            name,
            sut,
            seed,
            http,
            rng: ChaCha8Rng::seed_from_u64(stream),
            nonce,
            steps: Vec::new(),
            current: None,
        }
    }

    /// Closes the current step (passed) and opens the next.
    pub fn step(&mut self, name: &str) {
        self.close_step(None);
        self.current = Some((name.to_string(), Instant::now(), Vec::new()));
    }

    pub(crate) fn close_step(&mut self, failure: Option<String>) {
        if let Some((name, started, exchanges)) = self.current.take() {
            self.steps.push(StepReport {
                name,
                result: if failure.is_some() {
                    StepResult::Failed
                } else {
                    StepResult::Passed
                },
                millis: started.elapsed().as_millis() as u64,
                exchanges,
                failure,
            });
        }
    }

    pub(crate) fn into_steps(mut self, outcome: &Outcome) -> Vec<StepReport> {
        match outcome {
            Ok(()) => self.close_step(None),
            Err(f) => {
                if self.current.is_none() {
                    self.current =
                        Some(("(before the first step)".into(), Instant::now(), Vec::new()));
                }
                self.close_step(Some(f.message.clone()));
            }
        }
        self.steps
    }

    /// Fails the step with `message` unless `condition` holds.
    pub fn ensure(&self, condition: bool, message: impl FnOnce() -> String) -> Outcome {
        if condition {
            Ok(())
        } else {
            Err(Failure::new(message()))
        }
    }

    pub fn unique(&self) -> &str {
        &self.nonce
    }

    /// The run's seed (each journey draws from its own stream of it).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The journey's HTTP client (no redirects followed, 20 s timeout).
    pub fn http_client(&self) -> reqwest::Client {
        self.http.clone()
    }

    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// A fake person with an e-mail unique to this attempt.
    pub fn person(&mut self) -> Person {
        let n: u32 = self.rng.random();
        let first: String = FirstName().fake_with_rng(&mut self.rng);
        let last: String = LastName().fake_with_rng(&mut self.rng);
        let name = format!("{first} {last}");
        let local: String = name
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect();
        Person {
            email: format!("{local}.{n:08x}.{}@journeys.test", self.nonce),
            password: format!("Pw-{n:08x}-{}", self.nonce),
            name,
        }
    }

    pub fn has(&self, service: Service) -> bool {
        self.sut.has_endpoint(service.endpoint())
    }

    /// The system under test this journey runs against.
    pub fn sut(&self) -> &Sut {
        &self.sut
    }

    /// A secret the project declares (`[secrets]`), or a failure saying
    /// where it comes from.
    pub fn secret(&self, name: &str) -> Result<String, Failure> {
        self.sut.secret(name).map(String::from).ok_or_else(|| {
            let variable = self
                .sut
                .config
                .secrets
                .get(name)
                .map(|s| s.variable.clone())
                .unwrap_or_else(|| format!("GAUNTLET_{}", name.to_uppercase()));
            Failure::new(format!(
                "this journey needs the secret `{name}` (set {variable} with --target)"
            ))
        })
    }

    pub fn admin_token(&self) -> Result<String, Failure> {
        self.secret("admin_token")
    }

    pub fn shopify_secret(&self) -> Result<String, Failure> {
        self.secret("webhook_secret")
    }

    fn base(&self, service: Service) -> Result<&str, Failure> {
        let name = service.endpoint();
        self.sut
            .endpoint(name)
            .map_err(|_| Failure::new(format!("no {name} URL for this target (--{name} URL)")))
    }

    /// Sends one request and records it in the current step.
    pub async fn send(&mut self, req: Req) -> Result<Resp, Failure> {
        let mut all = self.send_all(vec![req]).await?;
        Ok(all.remove(0))
    }

    /// Sends requests at the same moment (as a double-clicking user or
    /// concurrent buyers would) and records them all.
    pub async fn send_all(&mut self, reqs: Vec<Req>) -> Result<Vec<Resp>, Failure> {
        let mut prepared = Vec::new();
        for req in &reqs {
            prepared.push(self.prepare(req)?);
        }
        let started = Instant::now();
        let results = futures::future::join_all(prepared.into_iter().map(|b| async move {
            let t = Instant::now();
            (b.send().await, t.elapsed())
        }))
        .await;
        let _ = started;
        let mut out = Vec::new();
        for (req, (result, took)) in reqs.iter().zip(results) {
            let mut exchange = Exchange {
                service: req.service.name().into(),
                method: req.method.to_string(),
                path: req.path.clone(),
                status: None,
                millis: took.as_millis() as u64,
            };
            match result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    exchange.status = Some(status);
                    let headers = response.headers().clone();
                    let text = response.text().await.unwrap_or_default();
                    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
                    self.record(exchange);
                    out.push(Resp {
                        request: req.describe(),
                        status,
                        headers,
                        text,
                        json,
                    });
                }
                Err(e) => {
                    self.record(exchange);
                    return Err(Failure::new(format!(
                        "{}: no response: {}",
                        req.describe(),
                        error_chain(&e)
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Records a request (or probe) in the current step.
    pub fn record_exchange(&mut self, exchange: Exchange) {
        self.record(exchange);
    }

    fn record(&mut self, exchange: Exchange) {
        if let Some((_, _, exchanges)) = self.current.as_mut() {
            exchanges.push(exchange);
        }
    }

    fn prepare(&self, req: &Req) -> Result<reqwest::RequestBuilder, Failure> {
        let url = format!("{}{}", self.base(req.service)?, req.path);
        let mut b = self.http.request(req.method.clone(), url);
        if let Some(token) = &req.bearer {
            b = b.bearer_auth(token);
        }
        if req.admin {
            b = b.header("x-admin-token", self.admin_token()?);
        }
        for (k, v) in &req.headers {
            b = b.header(k, v);
        }
        b = match &req.body {
            Some(Body::Json(v)) => b.json(v),
            Some(Body::Raw(bytes, content_type)) => {
                b.header("content-type", content_type).body(bytes.clone())
            }
            None => b,
        };
        Ok(b)
    }
}

#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub password: String,
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}
