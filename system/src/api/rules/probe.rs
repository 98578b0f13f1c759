//! `POST /api/v1/admin/ratelimit/probe` (admin): runs sequential decisions
//! of a caller-sized token bucket through the real limiter (the same Lua
//! script in Redis, key `rl:probe:{key}`, defect `rate_limit_never_denies`
//! applying), so the bucket algorithm can be tested over HTTP.

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::guard::Admin;
use super::validate::{Checks, Lines};
use super::MarketState;
use crate::api::ops::redis_error;
use crate::http::{AppError, JsonBody};
use crate::ratelimit::RateSpec;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeBody {
    key: String,
    capacity: i64,
    window_ms: i64,
    requests: i64,
}

#[derive(Debug, Serialize)]
pub struct ProbeDecision {
    allowed: bool,
    remaining: u32,
    retry_after_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct ProbeReport {
    allowed: u32,
    denied: u32,
    decisions: Vec<ProbeDecision>,
}

pub async fn run(
    State(state): State<MarketState>,
    _admin: Admin,
    JsonBody(body): JsonBody<ProbeBody>,
) -> Result<Json<ProbeReport>, AppError> {
    let mut c = Checks::new();
    c.text("key", &body.key, 1, 200, Lines::One);
    let capacity = c.int_range("capacity", body.capacity, 1, 10_000);
    let window_ms = c.int_range("window_ms", body.window_ms, 1, 3_600_000);
    let requests = c.int_range("requests", body.requests, 1, 1000);
    c.finish()?;
    let spec = RateSpec {
        capacity: capacity as u32,
        window: Duration::from_millis(window_ms as u64),
    };
    let mut report = ProbeReport {
        allowed: 0,
        denied: 0,
        decisions: Vec::with_capacity(requests as usize),
    };
    for _ in 0..requests {
        let d = state
            .limiter
            .probe(&body.key, spec)
            .await
            .map_err(redis_error)?;
        if d.allowed {
            report.allowed += 1;
        } else {
            report.denied += 1;
        }
        report.decisions.push(ProbeDecision {
            allowed: d.allowed,
            remaining: d.remaining,
            retry_after_ms: d.retry_after.as_millis() as u64,
        });
    }
    Ok(Json(report))
}
