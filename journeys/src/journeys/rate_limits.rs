//! Brute force on one account is refused, at exactly the capacity the
//! spec names: `auth` allows 10 requests per 60 s per IP + e-mail
//! (SYSTEM-SPEC section 7), registering included.

use crate::actions;
use crate::{Journey, Outcome, Req};

pub const NAME: &str = "rate_limits";
pub const ABOUT: &str = "auth requests for one e-mail: the 10th in a minute is answered, the 11th gets 429 RATE001 with Retry-After and X-RateLimit-Limit 10";

/// `auth` capacity per IP + e-mail per minute.
const CAPACITY: usize = 10;

pub async fn run(j: &mut Journey) -> Outcome {
    j.step("register (auth request 1)");
    let user = actions::register(j, "consumer").await?;

    j.step("failed logins up to the capacity are answered");
    let body = serde_json::json!({"email": user.email, "password": "not-the-password"});
    for request in 2..=CAPACITY {
        let r = j.send(Req::post("/api/v1/auth/login").json(body.clone())).await?;
        j.ensure(r.status == 401, || {
            format!(
                "auth request {request} of the {CAPACITY} a minute the spec allows answered {}: {}",
                r.status,
                r.snippet()
            )
        })?;
    }

    j.step("one more is refused");
    let r = j.send(Req::post("/api/v1/auth/login").json(body)).await?;
    j.ensure(r.status == 429, || {
        format!(
            "rate limit never denies: auth request {} for one e-mail within a minute answered {} (capacity {CAPACITY})",
            CAPACITY + 1,
            r.status
        )
    })?;
    r.expect_error(429, "RATE001")?;
    j.ensure(r.header("retry-after").is_some(), || "429 without Retry-After".into())?;
    j.ensure(r.header("x-ratelimit-limit") == Some("10"), || {
        format!("429 with X-RateLimit-Limit {:?}, the spec's capacity is {CAPACITY}", r.header("x-ratelimit-limit"))
    })
}
