//! The token bucket through the admin probe endpoint
//! (`POST /api/v1/admin/ratelimit/probe`), which runs a burst of decisions
//! through the real limiter. Each case uses a fresh bucket key. The
//! limiter's clock is not visible: elapsed time is measured around the
//! request, which can only overstate the limiter's own.

use std::time::Instant;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{check, ensure, fail, snippet, CaseResult, Env, Fail, Property};
use crate::model::token_bucket::{max_allowed, max_retry_after_ms, no_refill_possible};
use crate::PropertyInfo;

pub(crate) static PROPERTIES: &[Property] = &[
    Property {
        info: PropertyInfo {
            name: "rate_limit_bound",
            family: "rate_limit",
            description: "a burst never gets more than capacity + capacity × elapsed / window allowed, never fewer than min(requests, capacity) on a fresh bucket; counts and retry_after are consistent",
            default_cases: 48,
        },
        run: |env, runner| check(env, runner, probe(prop_oneof![1 => 20u64..=2_000, 2 => 2_000u64..=3_600_000]), bound),
    },
    Property {
        info: PropertyInfo {
            name: "rate_limit_fresh_burst_exact",
            family: "rate_limit",
            description: "a quick burst on a fresh bucket with a long window allows exactly min(requests, capacity)",
            default_cases: 48,
        },
        run: |env, runner| check(env, runner, probe(Just(3_600_000u64)), fresh_burst_exact),
    },
];

const PROBE: &str = "/api/v1/admin/ratelimit/probe";

#[derive(Debug, Clone)]
pub(crate) struct Probe {
    capacity: u32,
    window_ms: u64,
    requests: u32,
}

/// Half the probes send exactly capacity − 1, capacity or capacity + 1
/// requests (the boundary an off-by-one lives on), the rest any count up to
/// three times the largest capacity.
fn probe(window: impl Strategy<Value = u64>) -> impl Strategy<Value = Probe> {
    (1u32..=30, window, 1u32..=90, -1i32..=1, any::<bool>()).prop_map(
        |(capacity, window_ms, any_count, offset, at_boundary)| Probe {
            capacity,
            window_ms,
            // At least one request: capacity 1 − 1 sends 1.
            requests: if at_boundary {
                capacity.saturating_add_signed(offset).max(1)
            } else {
                any_count
            },
        },
    )
}

struct Burst {
    allowed: u64,
    /// (allowed, remaining, retry_after_ms) per decision.
    decisions: Vec<(bool, i64, i64)>,
    elapsed_ms: u64,
}

fn run_burst(env: &Env, p: &Probe) -> Result<Burst, Fail> {
    let body = json!({
        "key": env.unique("props-rl"),
        "capacity": p.capacity,
        "window_ms": p.window_ms,
        "requests": p.requests,
    });
    let started = Instant::now();
    let answer = env.expect("POST", PROBE, Some(&body), 200)?;
    let elapsed_ms = started.elapsed().as_millis() as u64 + 1;
    let count = |f: &str| answer.get(f).and_then(Value::as_u64);
    let (Some(allowed), Some(denied), Some(raw)) = (
        count("allowed"),
        count("denied"),
        answer.get("decisions").and_then(Value::as_array),
    ) else {
        return fail(format!(
            "probe answer lacks allowed/denied/decisions: {}",
            snippet(&answer)
        ));
    };
    let mut decisions = Vec::with_capacity(raw.len());
    for (i, d) in raw.iter().enumerate() {
        let (Some(a), Some(r), Some(t)) = (
            d.get("allowed").and_then(Value::as_bool),
            d.get("remaining").and_then(Value::as_i64),
            d.get("retry_after_ms").and_then(Value::as_i64),
        ) else {
            return fail(format!(
                "decisions[{i}] lacks allowed/remaining/retry_after_ms: {}",
                snippet(d)
            ));
        };
        decisions.push((a, r, t));
    }
    ensure!(
        decisions.len() == p.requests as usize && allowed + denied == u64::from(p.requests),
        "{} requests gave {} decisions, allowed {allowed} + denied {denied}",
        p.requests,
        decisions.len()
    );
    let counted = decisions.iter().filter(|d| d.0).count() as u64;
    ensure!(
        counted == allowed,
        "allowed = {allowed} but {counted} decisions allow"
    );
    Ok(Burst {
        allowed,
        decisions,
        elapsed_ms,
    })
}

fn bound(env: &Env, p: &Probe) -> CaseResult {
    let burst = run_burst(env, p)?;
    let requests = u64::from(p.requests);
    let upper = max_allowed(p.capacity, p.window_ms, burst.elapsed_ms).min(requests);
    let lower = u64::from(p.capacity).min(requests);
    ensure!(
        burst.allowed <= upper,
        "{} allowed within {} ms; at most {upper} possible (capacity {}, window {} ms)",
        burst.allowed,
        burst.elapsed_ms,
        p.capacity,
        p.window_ms
    );
    ensure!(
        burst.allowed >= lower,
        "a fresh bucket of capacity {} allowed only {} of {requests}",
        p.capacity,
        burst.allowed
    );
    let max_retry = max_retry_after_ms(p.capacity, p.window_ms) as i64;
    for (i, &(allowed, remaining, retry)) in burst.decisions.iter().enumerate() {
        if allowed {
            ensure!(
                retry == 0,
                "decision {i} allows but retry_after_ms = {retry}"
            );
            ensure!(
                (0..i64::from(p.capacity)).contains(&remaining),
                "decision {i} allows with remaining {remaining} (capacity {})",
                p.capacity
            );
        } else {
            ensure!(
                retry > 0 && retry <= max_retry,
                "decision {i} denies with retry_after_ms {retry}, expected 1..={max_retry}"
            );
        }
    }
    Ok(())
}

fn fresh_burst_exact(env: &Env, p: &Probe) -> CaseResult {
    let burst = run_burst(env, p)?;
    if !no_refill_possible(p.capacity, p.window_ms, burst.elapsed_ms) {
        // Too slow for an exact answer; `rate_limit_bound` covers it.
        return Ok(());
    }
    let expected = u64::from(p.capacity.min(p.requests));
    ensure!(
        burst.allowed == expected,
        "{} requests on a fresh bucket of capacity {} (window {} ms, {} ms elapsed) allowed {}, expected {expected}",
        p.requests,
        p.capacity,
        p.window_ms,
        burst.elapsed_ms,
        burst.allowed
    );
    let first_denied = burst.decisions.iter().position(|d| !d.0);
    if let Some(i) = first_denied {
        ensure!(
            burst.decisions[i..].iter().all(|d| !d.0),
            "decision {i} denies but a later one allows, with no refill possible"
        );
    }
    Ok(())
}
