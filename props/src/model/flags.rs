//! Feature-flag rollout (SYSTEM-SPEC 7): a user is in when the flag is
//! enabled and `bucket(key, user) < rollout`.

use sha2::{Digest, Sha256};

/// First 8 bytes of SHA-256(`"{key}:{user_id}"`), big-endian, mod 100.
pub fn bucket(key: &str, user_id: i64) -> u64 {
    let digest = Sha256::digest(format!("{key}:{user_id}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % 100
}

pub fn is_on(key: &str, enabled: bool, rollout: u32, user_id: i64) -> bool {
    enabled && bucket(key, user_id) < u64::from(rollout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_in_range() {
        let b = bucket("checkout_v2", 42);
        assert_eq!(b, bucket("checkout_v2", 42));
        assert!(b < 100);
        assert!(!is_on("k", true, 0, 1));
        assert!(is_on("k", true, 100, 1));
        assert!(!is_on("k", false, 100, 1));
    }
}
