//! The smoke check: a quick end-to-end look at a running target through its
//! public interfaces only (HTTP API, web pages, PM2 CLI). It is what `up`
//! and `gate` use to decide a stack is really serving, and what `check`
//! runs against any deployment.

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::stack::Stack;
use crate::target::{error_chain, Target};
use crate::wire::html_escape;

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

    fn record(
        &mut self,
        name: &str,
        started: Instant,
        outcome: std::result::Result<String, String>,
    ) {
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
/// the whole picture. The target's identity must have been verified.
pub async fn run(api: &Target, web: Option<&str>, stack: Option<&Stack>) -> SmokeReport {
    let mut report = SmokeReport::default();

    let t = Instant::now();
    report.record("api health is deep and ok", t, healthz(api).await);

    let t = Instant::now();
    let first = first_product(api).await;
    report.record(
        "public product list",
        t,
        first
            .as_ref()
            .map(|p| format!("first product: {}", p.name))
            .map_err(Clone::clone),
    );

    if let Ok(product) = &first {
        let t = Instant::now();
        report.record(
            "product detail by id and slug",
            t,
            product_detail(api, product).await,
        );
    }
    let t = Instant::now();
    report.record(
        "unknown product is 404 INV002",
        t,
        missing_product(api).await,
    );

    if let Some(web) = web {
        let t = Instant::now();
        let name = first.as_ref().ok().map(|p| p.name.as_str());
        report.record(
            "web pages and redirects",
            t,
            web_pages(api, web, name).await,
        );
    }
    if let Some(stack) = stack {
        let t = Instant::now();
        report.record("pm2 processes online", t, pm2_online(stack).await);
    }
    report
}

async fn get_json(api: &Target, path: &str) -> std::result::Result<(u16, Value, bool), String> {
    let response = api
        .http()
        .get(api.url(path))
        .send()
        .await
        .map_err(|e| format!("GET {path}: {}", error_chain(&e)))?;
    let status = response.status().as_u16();
    let has_request_id = response.headers().contains_key("x-request-id");
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, body, has_request_id))
}

async fn healthz(api: &Target) -> Outcome {
    let (status, body) = api.healthz().await.map_err(|e| e.to_string())?;
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    if status == 200 && field("status") == "ok" && field("db") == "ok" && field("redis") == "ok" {
        Ok(format!(
            "200, db ok, redis ok, version {}",
            field("version")
        ))
    } else {
        Err(format!(
            "GET /api/healthz answered {status}: status {}, db {}, redis {}",
            field("status"),
            field("db"),
            field("redis")
        ))
    }
}

struct Product {
    id: i64,
    slug: String,
    name: String,
}

async fn first_product(api: &Target) -> std::result::Result<Product, String> {
    let path = "/api/v1/public/products";
    let (status, body, has_id) = get_json(api, path).await?;
    if status != 200 {
        return Err(format!("GET {path} answered {status}"));
    }
    if !has_id {
        return Err(format!("GET {path} has no X-Request-Id header"));
    }
    let data = body
        .get("data")
        .and_then(Value::as_array)
        .ok_or(format!("GET {path}: no `data` array"))?;
    let total = body.get("total").and_then(Value::as_i64).unwrap_or(-1);
    if data.is_empty() || total < data.len() as i64 {
        return Err(format!(
            "GET {path}: {} items, total {total}: expected seeded products",
            data.len()
        ));
    }
    if body.get("per_page").and_then(Value::as_i64) != Some(15) {
        return Err(format!(
            "GET {path}: per_page is {:?}, the default is 15",
            body.get("per_page")
        ));
    }
    let p = &data[0];
    Ok(Product {
        id: p
            .get("id")
            .and_then(Value::as_i64)
            .ok_or("product without id")?,
        slug: p
            .get("slug")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        name: p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
    })
}

async fn product_detail(api: &Target, product: &Product) -> Outcome {
    for key in [product.id.to_string(), product.slug.clone()] {
        let path = format!("/api/v1/public/products/{key}");
        let (status, body, _) = get_json(api, &path).await?;
        let id = body.pointer("/data/id").and_then(Value::as_i64);
        if status != 200 || id != Some(product.id) {
            return Err(format!(
                "GET {path} answered {status} with id {id:?}, expected 200 with id {}",
                product.id
            ));
        }
    }
    Ok(format!("product {} found by id and by slug", product.id))
}

async fn missing_product(api: &Target) -> Outcome {
    let path = "/api/v1/public/products/999999999";
    let (status, body, _) = get_json(api, path).await?;
    let code = body
        .pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("none");
    if status == 404 && code == "INV002" {
        Ok("404 INV002".into())
    } else {
        Err(format!(
            "GET {path} answered {status} with code {code}, expected 404 INV002"
        ))
    }
}

async fn web_pages(api: &Target, web: &str, product_name: Option<&str>) -> Outcome {
    let http = api.http();
    let get = |path: &str| {
        let url = format!("{web}{path}");
        async move {
            http.get(&url)
                .send()
                .await
                .map_err(|e| format!("GET {url}: {}", error_chain(&e)))
        }
    };
    let page = get("/products").await?;
    let status = page.status().as_u16();
    let html = page.text().await.unwrap_or_default();
    if status != 200 {
        return Err(format!("web GET /products answered {status}"));
    }
    if let Some(name) = product_name {
        if !html.contains(&html_escape(name)) {
            return Err(format!(
                "web GET /products does not show the product `{name}`"
            ));
        }
    }
    for (from, to) in [("/login", "/auth/login"), ("/register", "/auth/register")] {
        let r = get(from).await?;
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if r.status().as_u16() != 307 || location != to {
            return Err(format!(
                "web GET {from} answered {} to `{location}`, expected 307 to {to}",
                r.status().as_u16()
            ));
        }
        let page = get(to).await?;
        if page.status().as_u16() != 200 {
            return Err(format!("web GET {to} answered {}", page.status().as_u16()));
        }
    }
    Ok("/products lists products; /login and /register redirect (307); auth pages 200".into())
}

async fn pm2_online(stack: &Stack) -> Outcome {
    let list = crate::pm2::processes(stack)
        .await
        .map_err(|e| e.to_string())?;
    if list.is_empty() {
        return Err("PM2 manages no process".into());
    }
    let down: Vec<String> = list
        .iter()
        .filter(|p| p.status != "online")
        .map(|p| format!("{} is {}", p.name, p.status))
        .collect();
    if down.is_empty() {
        let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
        Ok(format!("online: {}", names.join(", ")))
    } else {
        Err(down.join("; "))
    }
}

/// Waits until every PM2 process is online (or the deadline passes).
pub async fn wait_pm2_online(stack: &Stack, timeout: std::time::Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let outcome = pm2_online(stack).await;
        match outcome {
            Ok(_) => return Ok(()),
            Err(reason) if Instant::now() >= deadline => {
                return Err(crate::error::Error::Unhealthy {
                    service: "pm2".into(),
                    reason,
                })
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(300)).await,
        }
    }
}
