//! Rate limits (SYSTEM-SPEC section 7): token buckets in Redis, one Lua
//! script per decision (`EVALSHA`, falling back to `EVAL` when Redis lost
//! its script cache).
//!
//! Redis down → the request is allowed ("fail open", reads and writes
//! alike) and counted in `rate_limit_fail_open_total{profile}`. A decision
//! may take at most [`CALL_TIMEOUT`]; after a failure the limiter skips
//! Redis for [`BREAKER_OPEN`], so an outage delays one request every two
//! seconds by at most that timeout instead of every request by the Redis
//! client's reconnect time.

mod spec;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use redis::Script;
use sha2::{Digest, Sha256};

pub use spec::{Profile, RateLimits, RateSpec};

use crate::defects::{Defect, Defects};
use crate::http::AppError;
use crate::redis_conn::{RedisCallError, RedisHandle};
use crate::telemetry::{RATE_LIMIT_DENIED, RATE_LIMIT_FAIL_OPEN};

const SCRIPT: &str = include_str!("token_bucket.lua");
/// Upper bound for one rate-limit decision (normally well under 5 ms).
const CALL_TIMEOUT: Duration = Duration::from_millis(300);
/// How long Redis is skipped after a failed rate-limit call.
const BREAKER_OPEN: Duration = Duration::from_secs(2);

/// The outcome for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// When the next token is due (only meaningful when refused).
    pub retry_after: Duration,
}

impl Decision {
    fn open(limit: u32) -> Self {
        Decision {
            allowed: true,
            limit,
            remaining: limit,
            retry_after: Duration::ZERO,
        }
    }

    /// Sets `X-RateLimit-Limit` and `X-RateLimit-Remaining`.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
    }

    /// The 429 answer: `RATE001`, `Retry-After` in whole seconds (≥ 1).
    pub fn refusal(&self) -> Response {
        let secs = self.retry_after.as_millis().div_ceil(1000).max(1) as u64;
        let mut response = AppError::coded(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE001",
            format!("rate limit exceeded; retry in {secs} s"),
        )
        .into_response();
        self.apply(response.headers_mut());
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
        response
    }
}

#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    redis: RedisHandle,
    limits: RateLimits,
    defects: Arc<Defects>,
    script: Script,
    started: Instant,
    /// Milliseconds since `started` until which Redis is skipped.
    breaker_until_ms: AtomicU64,
}

impl RateLimiter {
    pub fn new(redis: RedisHandle, limits: RateLimits, defects: Arc<Defects>) -> Self {
        for profile in Profile::ALL {
            metrics::counter!(RATE_LIMIT_DENIED, "profile" => profile.name()).absolute(0);
            metrics::counter!(RATE_LIMIT_FAIL_OPEN, "profile" => profile.name()).absolute(0);
        }
        RateLimiter {
            inner: Arc::new(Inner {
                redis,
                limits,
                defects,
                script: Script::new(SCRIPT),
                started: Instant::now(),
                breaker_until_ms: AtomicU64::new(0),
            }),
        }
    }

    pub fn limits(&self) -> &RateLimits {
        &self.inner.limits
    }

    /// Takes one token from `profile`'s bucket for `identity`.
    pub async fn check(&self, profile: Profile, identity: &str) -> Decision {
        let decision = self.with_defects(self.check_bucket(profile, identity).await);
        if !decision.allowed {
            metrics::counter!(RATE_LIMIT_DENIED, "profile" => profile.name()).increment(1);
        }
        decision
    }

    /// One decision of the bucket `rl:probe:{key}` sized by `spec`, through
    /// the same script and defect switch as [`check`](Self::check), for the
    /// admin probe (`POST /api/v1/admin/ratelimit/probe`). Unlike `check`
    /// it runs even when `RATE_LIMIT_DISABLED` is set and does not fail
    /// open: a Redis failure is the caller's error. Not counted in the
    /// rate-limit metrics.
    pub async fn probe(&self, key: &str, spec: RateSpec) -> Result<Decision, RedisCallError> {
        let bucket = format!("rl:probe:{key}");
        let reply = tokio::time::timeout(CALL_TIMEOUT, self.run_script(&bucket, spec))
            .await
            .unwrap_or(Err(RedisCallError::Timeout(CALL_TIMEOUT)))?;
        Ok(self.with_defects(decision_from(reply, spec)))
    }

    /// Defect `rate_limit_never_denies`, read here only.
    fn with_defects(&self, decision: Decision) -> Decision {
        if self.inner.defects.is_on(Defect::RateLimitNeverDenies) {
            never_denies_defective(decision)
        } else {
            decision
        }
    }

    async fn check_bucket(&self, profile: Profile, identity: &str) -> Decision {
        let spec = self.inner.limits.spec(profile);
        if self.inner.limits.disabled {
            return Decision::open(spec.capacity);
        }
        let now_ms = self.inner.started.elapsed().as_millis() as u64;
        if now_ms < self.inner.breaker_until_ms.load(Ordering::Relaxed) {
            metrics::counter!(RATE_LIMIT_FAIL_OPEN, "profile" => profile.name()).increment(1);
            return Decision::open(spec.capacity);
        }
        let key = bucket_key(profile, identity);
        let reply = tokio::time::timeout(CALL_TIMEOUT, self.run_script(&key, spec))
            .await
            .unwrap_or(Err(RedisCallError::Timeout(CALL_TIMEOUT)));
        match reply {
            Ok(reply) => decision_from(reply, spec),
            Err(e) => {
                let failed_at = self.inner.started.elapsed().as_millis() as u64;
                let until = failed_at + BREAKER_OPEN.as_millis() as u64;
                self.inner.breaker_until_ms.store(until, Ordering::Relaxed);
                metrics::counter!(RATE_LIMIT_FAIL_OPEN, "profile" => profile.name()).increment(1);
                tracing::warn!(profile = profile.name(), error = %e, "rate limit check failed; allowing the request (fail open)");
                Decision::open(spec.capacity)
            }
        }
    }

    async fn run_script(&self, key: &str, spec: RateSpec) -> Result<[i64; 3], RedisCallError> {
        let script = &self.inner.script;
        let args = |cmd: &mut redis::Cmd| {
            cmd.arg(1)
                .arg(key)
                .arg(spec.capacity)
                .arg(spec.window.as_millis() as u64);
        };
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha.arg(script.get_hash());
        args(&mut evalsha);
        let reply: Vec<i64> = match self.inner.redis.query(&evalsha).await {
            Err(RedisCallError::Redis(e)) if e.kind() == redis::ErrorKind::NoScriptError => {
                let mut eval = redis::cmd("EVAL");
                eval.arg(SCRIPT);
                args(&mut eval);
                self.inner.redis.query(&eval).await?
            }
            other => other?,
        };
        match reply[..] {
            [a, r, t] => Ok([a, r, t]),
            _ => Err(RedisCallError::Redis(redis::RedisError::from((
                redis::ErrorKind::TypeError,
                "rate-limit script returned an unexpected reply",
            )))),
        }
    }
}

/// The script's reply `{allowed 0|1, remaining, retry_after_ms}` as a decision.
fn decision_from([allowed, remaining, retry_ms]: [i64; 3], spec: RateSpec) -> Decision {
    Decision {
        allowed: allowed == 1,
        limit: spec.capacity,
        remaining: remaining.clamp(0, i64::from(spec.capacity)) as u32,
        retry_after: Duration::from_millis(retry_ms.max(0) as u64),
    }
}

/// Defect `rate_limit_never_denies`: the bucket still empties (the counter
/// stops at the limit), but the request goes through anyway.
fn never_denies_defective(decision: Decision) -> Decision {
    Decision {
        allowed: true,
        ..decision
    }
}

/// `rl:{profile}:{identity}`; identities holding an e-mail are hashed so
/// addresses do not sit in Redis key names.
fn bucket_key(profile: Profile, identity: &str) -> String {
    format!("rl:{}:{identity}", profile.name())
}

/// Identity for the `auth` profile: client IP + a hash of the e-mail.
pub fn auth_identity(client_ip: &str, email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    format!("{client_ip}|{}", hex::encode(&digest[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_is_429_rate001_with_headers() {
        let d = Decision {
            allowed: false,
            limit: 10,
            remaining: 0,
            retry_after: Duration::from_millis(5_200),
        };
        let r = d.refusal();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "6");
        assert_eq!(r.headers()["x-ratelimit-limit"], "10");
        assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
        let d = Decision {
            retry_after: Duration::ZERO,
            ..d
        };
        assert_eq!(d.refusal().headers()["retry-after"], "1");
    }

    #[test]
    fn defect_allows_but_keeps_the_counter() {
        let refused = Decision {
            allowed: false,
            limit: 10,
            remaining: 0,
            retry_after: Duration::from_secs(6),
        };
        let d = never_denies_defective(refused);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
    }

    #[test]
    fn auth_identity_hides_the_email_and_ignores_case() {
        let a = auth_identity("10.0.0.1", "Ann@Example.com");
        assert_eq!(a, auth_identity("10.0.0.1", "ann@example.com "));
        assert!(!a.contains("ann"));
        assert_ne!(a, auth_identity("10.0.0.2", "ann@example.com"));
        assert_eq!(
            bucket_key(Profile::Auth, &a),
            format!("rl:auth:{a}"),
            "key layout is documented"
        );
    }
}
