//! The rate limiter's token bucket (SYSTEM-SPEC 7), step for step what
//! `system/src/ratelimit/token_bucket.lua` does inside Redis: `capacity`
//! tokens, refilled continuously at `capacity` per `window_ms`, one token
//! per request. Pure, so the harness can predict the real limiter's answers
//! (`POST /api/v1/admin/ratelimit/probe`) and tests can check its bounds.
//!
//! Mirrored details: the bucket starts full; time running backwards refills
//! nothing and keeps the later timestamp; the stored token count goes
//! through Lua 5.1's `tostring`, which keeps 14 significant digits. The
//! key's expiry (`window_ms + 1000`) is not modelled: by then the bucket is
//! full anyway, which is what a missing key means.

use serde::{Deserialize, Serialize};

/// What the script stores (hash fields `tokens` and `ts`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    pub tokens: f64,
    pub ts_ms: i64,
}

/// What the script returns: `{allowed 0|1, whole tokens left, retry_after_ms}`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub remaining: u64,
    /// 0 when allowed; else the ms until one token has refilled.
    pub retry_after_ms: u64,
}

/// One request at `now_ms` against `state` (`None`: no key, a full bucket).
/// Returns the state to store and the decision. `window_ms` 0 is treated
/// as 1 (the API allows 1..=3_600_000); with `capacity` 0 nothing is ever
/// allowed and the retry hint is one window.
pub fn take(
    state: Option<Bucket>,
    capacity: u32,
    window_ms: u64,
    now_ms: i64,
) -> (Bucket, Decision) {
    let capacity = f64::from(capacity);
    let window_ms = window_ms.max(1);
    let rate = capacity / window_ms as f64;
    let (mut tokens, ts) = match state {
        Some(b) => (b.tokens, b.ts_ms),
        None => (capacity, now_ms),
    };
    if now_ms > ts {
        tokens = capacity.min(tokens + (now_ms - ts) as f64 * rate);
    }
    let (allowed, retry_after_ms) = if tokens >= 1.0 {
        tokens -= 1.0;
        (true, 0)
    } else if rate > 0.0 {
        (false, ((1.0 - tokens) / rate).ceil() as u64)
    } else {
        (false, window_ms)
    };
    let decision = Decision {
        allowed,
        remaining: tokens.floor().max(0.0) as u64,
        retry_after_ms,
    };
    let stored = Bucket {
        tokens: lua_tostring(tokens),
        ts_ms: now_ms.max(ts),
    };
    (stored, decision)
}

/// Lua 5.1's `tostring` of a number (`%.14g`) read back with `tonumber`.
fn lua_tostring(x: f64) -> f64 {
    format!("{x:.13e}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn starts_full_and_refuses_when_empty() {
        let mut state = None;
        for left in (0..3).rev() {
            let (b, d) = take(state, 3, 60_000, 1_000);
            assert_eq!(
                d,
                Decision {
                    allowed: true,
                    remaining: left,
                    retry_after_ms: 0
                }
            );
            state = Some(b);
        }
        let (b, d) = take(state, 3, 60_000, 1_000);
        assert_eq!(
            d,
            Decision {
                allowed: false,
                remaining: 0,
                retry_after_ms: 20_000
            }
        );
        assert_eq!(
            b,
            Bucket {
                tokens: 0.0,
                ts_ms: 1_000
            }
        );
    }

    #[test]
    fn refills_continuously() {
        // 60 per 60 s: one token per second.
        let empty = Some(Bucket {
            tokens: 0.0,
            ts_ms: 0,
        });
        let (_, d) = take(empty, 60, 60_000, 999);
        // As in the script's float arithmetic: (1 − 0.999) / 0.001 is
        // 1.0000000000000009, which rounds up to 2 ms.
        assert_eq!((d.allowed, d.retry_after_ms), (false, 2));
        let (_, d) = take(empty, 60, 60_000, 500);
        assert_eq!((d.allowed, d.retry_after_ms), (false, 500));
        let (b, d) = take(empty, 60, 60_000, 1_000);
        assert!(d.allowed);
        assert_eq!(
            b,
            Bucket {
                tokens: 0.0,
                ts_ms: 1_000
            }
        );
        let (b, d) = take(empty, 60, 60_000, 2_500);
        assert_eq!((d.allowed, d.remaining), (true, 1));
        assert_eq!(b.tokens, 1.5);
        // Never above capacity, however long the pause.
        let (b, d) = take(empty, 60, 60_000, 10_000_000);
        assert_eq!((d.remaining, b.tokens), (59, 59.0));
    }

    #[test]
    fn clock_going_backwards_refills_nothing() {
        let s = Some(Bucket {
            tokens: 0.5,
            ts_ms: 10_000,
        });
        let (b, d) = take(s, 10, 1_000, 5_000);
        assert!(!d.allowed);
        assert_eq!(
            b,
            Bucket {
                tokens: 0.5,
                ts_ms: 10_000
            }
        );
        assert_eq!(d.retry_after_ms, 50, "0.5 token at 0.01 per ms");
    }

    #[test]
    fn stored_tokens_keep_fourteen_digits() {
        assert_eq!(lua_tostring(0.999_999_999_999_999_9), 1.0);
        assert_eq!(lua_tostring(1.5), 1.5);
        assert_eq!(lua_tostring(1.0 / 3.0), 0.333_333_333_333_33);
        // 7 per 3 s: after 1 ms the bucket holds 0.00233..., kept to 14 digits.
        let (b, _) = take(
            Some(Bucket {
                tokens: 0.0,
                ts_ms: 0,
            }),
            7,
            3_000,
            1,
        );
        assert_eq!(b.tokens, 0.002_333_333_333_333_3);
    }

    #[test]
    fn degenerate_limits() {
        let (_, d) = take(None, 0, 1_000, 0);
        assert_eq!(
            d,
            Decision {
                allowed: false,
                remaining: 0,
                retry_after_ms: 1_000
            }
        );
        let (_, d) = take(None, 1, 0, 0);
        assert!(d.allowed);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// Over any run of requests, no more are allowed than the bucket
        /// holds plus what refilled in the elapsed time.
        #[test]
        fn never_allows_more_than_capacity_plus_refill(
            capacity in 1u32..200, window_ms in 1u64..120_000,
            gaps in prop::collection::vec(prop_oneof![Just(0i64), 0i64..50, 0i64..5_000], 1..300),
        ) {
            let start = 1_700_000_000_000i64;
            let rate = f64::from(capacity) / window_ms as f64;
            let mut state = None;
            let mut now = start;
            let mut allowed = 0u64;
            for gap in gaps {
                now += gap;
                let (b, d) = take(state, capacity, window_ms, now);
                state = Some(b);
                allowed += u64::from(d.allowed);
                let bound = f64::from(capacity) + rate * (now - start) as f64;
                prop_assert!(allowed as f64 <= bound + 1e-6, "{} allowed, bound {}", allowed, bound);
                prop_assert!(b.tokens >= 0.0 && b.tokens <= f64::from(capacity));
                prop_assert!(d.remaining <= u64::from(capacity));
                prop_assert_eq!(d.allowed, d.retry_after_ms == 0);
            }
        }

        /// A refused caller who waits `retry_after_ms` gets in (given 1 ms
        /// slack for the float division the script does).
        #[test]
        fn retry_after_is_enough(
            capacity in 1u32..200, window_ms in 1u64..120_000, tokens in 0.0f64..1.0,
        ) {
            let s = Some(Bucket { tokens: lua_tostring(tokens), ts_ms: 0 });
            let (_, d) = take(s, capacity, window_ms, 0);
            prop_assert!(!d.allowed);
            prop_assert!(d.retry_after_ms <= window_ms);
            let (_, later) = take(s, capacity, window_ms, d.retry_after_ms as i64 + 1);
            prop_assert!(later.allowed);
            if d.retry_after_ms > 1 {
                let (_, early) = take(s, capacity, window_ms, d.retry_after_ms as i64 - 2);
                prop_assert!(!early.allowed);
            }
        }
    }
}
