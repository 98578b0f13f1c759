//! Brute force on one account is refused, at exactly the capacity the
//! spec names: `auth` allows 10 requests per 60 s per IP + e-mail
//! (SYSTEM-SPEC section 7), registering included.

use std::time::{Duration, Instant};

use crate::actions;
use crate::{Journey, Outcome, Req};

pub const NAME: &str = "rate_limits";
pub const ABOUT: &str = "auth requests for one e-mail: the 10th in a minute is answered, the 11th gets 429 RATE001 with Retry-After and X-RateLimit-Limit 10";

/// `auth` capacity per IP + e-mail per minute.
const CAPACITY: usize = 10;
/// The bucket refills one token every 60 s / 10: a request past the
/// capacity may be answered only once that much time has passed.
const REFILL: Duration = Duration::from_secs(6);
/// Requests past the capacity before giving up on a 429.
const EXTRA: usize = 10;

pub async fn run(j: &mut Journey) -> Outcome {
    // The bucket is created by the first request: from before it is sent,
    // `started.elapsed()` bounds the refill the server can have granted.
    let started = Instant::now();
    j.step("register (auth request 1)");
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
        j.ensure(answered <= refills && answered < EXTRA, || {
            format!(
                "rate limit never denies: auth request {} for one e-mail answered {} after {:.1} s (capacity {CAPACITY}, at most {refills} refilled in that time)",
                CAPACITY + answered,
                r.status,
                elapsed.as_secs_f64()
            )
        })?;
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
    })
}
