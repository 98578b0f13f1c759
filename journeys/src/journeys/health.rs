//! The target is the expected app, and healthy in depth.

use crate::{Journey, Outcome, Req};

pub const NAME: &str = "health";
pub const ABOUT: &str = "/api/healthz says ok for db and redis; /v1/meta names the expected app";

pub async fn run(j: &mut Journey) -> Outcome {
    j.step("identity");
    let r = j.send(Req::get("/v1/meta")).await?;
    r.expect_status(200)?;
    j.ensure(r.at("/app") == "gauntlet-reference-system", || format!("/v1/meta names {}", r.at("/app")))?;

    j.step("deep health");
    let r = j.send(Req::get("/api/healthz")).await?;
    r.expect_status(200)?;
    j.ensure(r.at("/status") == "ok" && r.at("/db") == "ok" && r.at("/redis") == "ok", || {
        format!("/api/healthz: {}", r.snippet())
    })?;
    j.ensure(r.header("x-request-id").is_some(), || "responses carry no X-Request-Id".into())?;

    j.step("metrics");
    let r = j.send(Req::get("/metrics")).await?;
    r.expect_status(200)?;
    j.ensure(r.text.contains("# TYPE"), || "/metrics is not Prometheus text".into())
}
