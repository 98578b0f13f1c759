//! Token bucket bounds (SYSTEM-SPEC 7): a bucket of `capacity` tokens that
//! refills `capacity` per `window_ms`, continuously. Over HTTP the harness
//! cannot see the limiter's clock, only its own, so the model gives bounds
//! rather than an exact trace.

/// The most requests a bucket that starts full can allow within
/// `elapsed_ms`: the capacity plus the whole tokens refilled. One extra
/// millisecond covers the limiter's clock being read in whole milliseconds
/// (two readings 0.01 ms apart can differ by 1).
pub fn max_allowed(capacity: u32, window_ms: u64, elapsed_ms: u64) -> u64 {
    let refill = u128::from(capacity) * u128::from(elapsed_ms + 1) / u128::from(window_ms);
    u64::from(capacity) + refill as u64
}

/// Whether no whole token can have been refilled within `elapsed_ms`, so a
/// burst on a fresh bucket must allow exactly `min(requests, capacity)`.
pub fn no_refill_possible(capacity: u32, window_ms: u64, elapsed_ms: u64) -> bool {
    u128::from(capacity) * u128::from(elapsed_ms + 1) < u128::from(window_ms)
}

/// The longest `retry_after_ms` a denial can name: one token's refill
/// time, plus 1 ms because the limiter computes `ceil((1 − tokens) / rate)`
/// in floating point (capacity 1, window 784 ms gives 784.0000000000001
/// and so 785).
pub fn max_retry_after_ms(capacity: u32, window_ms: u64) -> u64 {
    window_ms.div_ceil(u64::from(capacity)) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(max_allowed(10, 60_000, 0), 10);
        assert_eq!(max_allowed(10, 60_000, 5_999), 11);
        assert!(no_refill_possible(10, 60_000, 100));
        assert!(!no_refill_possible(10, 60_000, 5_999));
        assert_eq!(max_retry_after_ms(7, 1000), 144);
    }
}
