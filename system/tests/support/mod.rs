//! Acceptance-test support: a real stack per test (PostgreSQL, Redis, the
//! app under PM2, in containers, brought up by the harness library the same
//! way `gauntlet up` does), and a small client for the system's HTTP API.
//!
//! Tests that need Docker fail when `CI` is set and Docker is unavailable;
//! locally they are skipped with a message.

#![allow(dead_code)]

pub mod checks;

use std::path::PathBuf;
use std::time::Duration;

use gauntlet_harness::config::Overrides;
use gauntlet_harness::images::BuildHook;
use gauntlet_harness::launch::{self, LaunchOptions};
use gauntlet_harness::stack::{self, Stack};
use gauntlet_harness::workspace::Workspace;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub struct Sut {
    pub stack: Stack,
    pub api: String,
    pub web: String,
    pub sink: String,
    pub admin_token: String,
    pub shopify_secret: String,
    pub http: reqwest::Client,
    project: String,
    run_id: String,
}

/// Brings up a stack with these defect switches, or returns `None` when
/// Docker is unavailable outside CI.
pub async fn start(test: &str, defects: &[&str]) -> Option<Sut> {
    start_with(test, defects, &[]).await
}

/// Like [`start`], with extra compose variables (e.g. raised rate limits).
pub async fn start_with(test: &str, defects: &[&str], vars: &[(&str, &str)]) -> Option<Sut> {
    let docker = match gauntlet_harness::docker::connect().await {
        Ok(d) => d,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and Docker is unavailable: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED (no Docker, CI not set): {e}");
            return None;
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace =
        Workspace::locate(Some(&root.join("gauntlet.toml")), Overrides::default()).unwrap();
    let tag: u32 = rand::random();
    let project = format!(
        "st-{}-{tag:08x}",
        test.replace('_', "-").chars().take(18).collect::<String>()
    );
    let run_id = stack::new_run_id();
    let mut options = LaunchOptions::new(&workspace, run_id.clone(), 11);
    options.project = project.clone();
    options.defects = defects.iter().map(|d| d.to_string()).collect();
    options.build_hook = BuildHook::RunWith(vec![(
        "GAUNTLET_SYSTEM_BIN".into(),
        env!("CARGO_BIN_EXE_gauntlet-system").into(),
    )]);
    options.service_timeout = Duration::from_secs(120);
    options.extra_vars = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let launched = match launch::launch(&docker, &workspace, &options).await {
        Ok(l) => l,
        Err(e) => {
            let _ = stack::reap(&docker, &project, Some(&run_id)).await;
            panic!("stack for {test} did not come up: {e}");
        }
    };
    let stack = launched.stack;
    let env = |name: &'static str| {
        let stack = stack.clone();
        async move {
            stack
                .env_var("app", name)
                .await
                .unwrap()
                .unwrap_or_default()
        }
    };
    let sut = Sut {
        api: stack.endpoint_url("api").await.unwrap(),
        web: stack.endpoint_url("web").await.unwrap(),
        sink: stack.endpoint_url("sink").await.unwrap(),
        admin_token: env("ADMIN_TOKEN").await,
        shopify_secret: env("SHOPIFY_WEBHOOK_SECRET").await,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .build()
            .unwrap(),
        stack,
        project,
        run_id,
    };
    Some(sut)
}

impl Drop for Sut {
    fn drop(&mut self) {
        let (project, run_id) = (self.project.clone(), self.run_id.clone());
        // Drop may run inside a runtime: reap from a thread of our own.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                if let Ok(docker) = gauntlet_harness::docker::connect().await {
                    let _ = stack::reap(&docker, &project, Some(&run_id)).await;
                }
            })
        })
        .join()
        .ok();
    }
}

/// A response: status and JSON body (Null if not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub token: String,
}

impl Sut {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.api, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.json().await.unwrap_or(Value::Null);
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let token = self.admin_token.clone();
        self.call_with(method, path, None, body, &[("x-admin-token", &token)])
            .await
    }

    pub async fn register(&self, role: &str) -> User {
        let n: u64 = rand::random();
        let email = format!("user{n:x}@example.test");
        let password = format!("pw-{n:x}-Long-enough");
        let body = json!({"name": format!("User {n:x}"), "email": email, "password": password,
                          "password_confirmation": password, "role": role});
        let r = self
            .call(Method::POST, "/api/v1/auth/register", None, Some(body))
            .await;
        assert_eq!(r.status, 201, "register: {:?}", r.body);
        User {
            id: r
                .body
                .pointer("/user/id")
                .and_then(Value::as_i64)
                .expect("user id"),
            email,
            password,
            token: r.body["token"].as_str().expect("token").to_string(),
        }
    }

    /// An approved producer.
    pub async fn producer(&self) -> User {
        let p = self.register("producer").await;
        let r = self
            .admin(
                Method::PATCH,
                &format!("/api/v1/admin/producers/{}/approve", p.id),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "approve: {:?}", r.body);
        p
    }

    /// A new active product with this stock; returns its id.
    pub async fn product(&self, producer: &User, stock: i64) -> i64 {
        let n: u32 = rand::random();
        let body = json!({"name": format!("Test Apples {n:x}"), "description": "crisp", "price": "2.50", "stock": stock});
        let r = self
            .call(
                Method::POST,
                "/api/v1/products",
                Some(&producer.token),
                Some(body),
            )
            .await;
        assert_eq!(r.status, 201, "create product: {:?}", r.body);
        r.body
            .pointer("/data/id")
            .and_then(Value::as_i64)
            .expect("product id")
    }

    pub async fn stock(&self, product: i64) -> i64 {
        let r = self
            .call(
                Method::GET,
                &format!("/api/v1/public/products/{product}"),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
            .pointer("/data/stock")
            .and_then(Value::as_i64)
            .expect("stock")
    }

    pub fn order_body(items: &[(i64, i64)]) -> Value {
        json!({
            "items": items.iter().map(|(p, q)| json!({"product_id": p, "quantity": q})).collect::<Vec<_>>(),
            "shipping_method": "courier",
            "payment_method": "card",
            "shipping_address": "1 Test Street, Testville",
        })
    }

    /// A checkout; owns its inputs, so many can be in flight at once.
    pub fn checkout(
        &self,
        user: &User,
        key: &str,
        items: &[(i64, i64)],
    ) -> impl std::future::Future<Output = Reply> + '_ {
        let (token, key, body) = (user.token.clone(), key.to_string(), Self::order_body(items));
        async move {
            self.call_with(
                Method::POST,
                "/api/v1/public/orders",
                Some(&token),
                Some(body),
                &[("idempotency-key", &key)],
            )
            .await
        }
    }

    /// The api's `order_tx_retries_total{op="checkout"}`: checkout
    /// transactions retried after 40P01/40001 (0 until the first retry).
    pub async fn checkout_tx_retries(&self) -> u64 {
        let r = self
            .http
            .get(format!("{}/metrics", self.api))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET /metrics");
        let text = r.text().await.unwrap();
        text.lines()
            .filter(|l| l.starts_with("order_tx_retries_total{") && l.contains(r#"op="checkout""#))
            .map(|l| {
                l.rsplit(' ')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or_else(|| panic!("unparsable metric line: {l}")) as u64
            })
            .sum()
    }

    pub async fn sink_deliveries(&self) -> Value {
        let r = self
            .http
            .get(format!("{}/deliveries", self.sink))
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    pub async fn sink_fail(&self, mode: &str) {
        let r = self
            .http
            .post(format!("{}/admin/fail", self.sink))
            .header("x-admin-token", &self.admin_token)
            .json(&json!({"mode": mode, "ratio": 1.0}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "sink fail mode");
    }
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs}s: {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
/// Limits raised for tests that send many requests from one address, and
/// a cheaper password hash (many registrations on 2 cores).
pub const RAISED_LIMITS: &[(&str, &str)] = &[
    ("GAUNTLET_RATE_LIMIT_STANDARD", "1000000/60s"),
    ("GAUNTLET_RATE_LIMIT_EXPENSIVE", "1000000/60s"),
    ("GAUNTLET_RATE_LIMIT_ADMIN", "1000000/60s"),
    ("GAUNTLET_PASSWORD_HASH_MEMORY_KIB", "1024"),
    ("GAUNTLET_PASSWORD_HASH_ITERATIONS", "1"),
];
