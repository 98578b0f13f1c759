//! Brute force on one account is refused, at exactly the capacity the
//! spec names: `auth` allows 10 requests per 60 s per IP + e-mail
//! (SYSTEM-SPEC section 7), registering included.
//!
//! A limiter whose Redis call exceeds its budget allows the request ("fail
//! open", counted in `rate_limit_fail_open_total`): on a loaded machine
//! that happens while every journey runs at once. An answer past the
//! capacity is then no evidence of a broken limiter, so the measurement
//! starts over with a fresh account (at most [`ATTEMPTS`] times).

use std::time::{Duration, Instant};

use crate::actions;
use crate::{Failure, Journey, Outcome, Req};

pub const NAME: &str = "rate_limits";
pub const ABOUT: &str = "auth requests for one e-mail: the 10th in a minute is answered, the 11th gets 429 RATE001 with Retry-After and X-RateLimit-Limit 10";

/// `auth` capacity per IP + e-mail per minute.
const CAPACITY: usize = 10;
/// The bucket refills one token every 60 s / 10: a request past the
/// capacity may be answered only once that much time has passed.
const REFILL: Duration = Duration::from_secs(6);
/// Requests past the capacity before giving up on a 429.
const EXTRA: usize = 10;

/// Measurements, each with a fresh account, when the limiter failed open.
const ATTEMPTS: usize = 3;
/// After a failed Redis call the limiter skips Redis (allows everything)
/// for 2 s: a new measurement waits that out.
const FAIL_OPEN_PAUSE: Duration = Duration::from_secs(2);

pub async fn run(j: &mut Journey) -> Outcome {
    for attempt in 1..=ATTEMPTS {
        j.step(if attempt == 1 {
            "register (auth request 1)"
        } else {
            "the limiter failed open meanwhile: a fresh account, register (auth request 1)"
        });
        match measure(j).await? {
            None => return Ok(()),
            Some(symptom) if attempt == ATTEMPTS => {
                return Err(Failure::new(format!(
                    "{symptom}; the limiter failed open (rate_limit_fail_open_total{{profile=\"auth\"}} rose) during each of {ATTEMPTS} measurements, so the capacity could not be judged"
                )))
            }
            Some(_) => tokio::time::sleep(FAIL_OPEN_PAUSE).await,
        }
    }
    Ok(())
}

/// `rate_limit_fail_open_total{profile="auth"}` from the api's `/metrics`
/// (0 before the first one).
async fn fail_open_count(j: &mut Journey) -> Result<f64, Failure> {
    let r = j.send(Req::get("/metrics")).await?;
    r.expect_status(200)?;
    Ok(r.text
        .lines()
        .filter(|l| l.starts_with("rate_limit_fail_open_total{") && l.contains("profile=\"auth\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// One measurement: `None` when it held; `Some(symptom)` when more was
/// answered than the capacity allows but the limiter failed open meanwhile
/// (the caller measures again). A breach without a fail-open is the
/// journey's failure.
async fn measure(j: &mut Journey) -> Result<Option<String>, Failure> {
    let fail_opens = fail_open_count(j).await?;
    // The bucket is created by the first request: from before it is sent,
    // `started.elapsed()` bounds the refill the server can have granted.
    let started = Instant::now();
    let user = actions::register(j, "consumer").await?;

    j.step("failed logins up to the capacity are answered");
    let body = serde_json::json!({"email": user.email, "password": "not-the-password"});
    for request in 2..=CAPACITY {
        let r = j
            .send(Req::post("/api/v1/auth/login").json(body.clone()))
            .await?;
        j.ensure(r.status == 401, || {
            format!(
                "auth request {request} of the {CAPACITY} a minute the spec allows answered {}: {}",
                r.status,
                r.snippet()
            )
        })?;
    }

    j.step("one more is refused");
    // Request 11 must be refused, unless a token refilled meanwhile (a
    // slow machine): then each extra answer must be covered by a refill,
    // k extra answers needing k × 6 s since the first request.
    let mut answered = 0;
    let refused = loop {
        let r = j
            .send(Req::post("/api/v1/auth/login").json(body.clone()))
            .await?;
        if r.status == 429 {
            break r;
        }
        answered += 1;
        let elapsed = started.elapsed();
        let refills = (elapsed.as_secs_f64() / REFILL.as_secs_f64()).floor() as usize;
        if answered <= refills && answered < EXTRA {
            continue;
        }
        let symptom = format!(
            "rate limit never denies: auth request {} for one e-mail answered {} after {:.1} s (capacity {CAPACITY}, at most {refills} refilled in that time)",
            CAPACITY + answered,
            r.status,
            elapsed.as_secs_f64()
        );
        if fail_open_count(j).await? > fail_opens {
            return Ok(Some(symptom));
        }
        return Err(Failure::new(symptom));
    };
    refused.expect_error(429, "RATE001")?;
    j.ensure(refused.header("retry-after").is_some(), || {
        "429 without Retry-After".into()
    })?;
    j.ensure(refused.header("x-ratelimit-limit") == Some("10"), || {
        format!(
            "429 with X-RateLimit-Limit {:?}, the spec's capacity is {CAPACITY}",
            refused.header("x-ratelimit-limit")
        )
    })?;
    Ok(None)
}
