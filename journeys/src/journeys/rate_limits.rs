//! Brute force on one account is refused.

use crate::actions;
use crate::{Journey, Outcome, Req};

pub const NAME: &str = "rate_limits";
pub const ABOUT: &str = "repeated failed logins for one e-mail get 429 RATE001 with Retry-After";

pub async fn run(j: &mut Journey) -> Outcome {
    j.step("register");
    let user = actions::register(j, "consumer").await?;

    j.step("failed logins until refused");
    let body = serde_json::json!({"email": user.email, "password": "not-the-password"});
    for attempt in 1..=15 {
        let r = j.send(Req::post("/api/v1/auth/login").json(body.clone())).await?;
        match r.status {
            401 => continue,
            429 => {
                r.expect_error(429, "RATE001")?;
                j.ensure(r.header("retry-after").is_some(), || "429 without Retry-After".into())?;
                return j.ensure(attempt > 1, || "the first login attempt was already refused".into());
            }
            other => return Err(crate::Failure::new(format!("login attempt {attempt} answered {other}: {}", r.snippet()))),
        }
    }
    Err(crate::Failure::new("rate limit never denies: 15 failed logins for one e-mail were all answered 401"))
}
