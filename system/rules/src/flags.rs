//! Feature-flag rollout (SYSTEM-SPEC 7): a user is in a flag when it is
//! enabled and `bucket(key, user_id) < rollout`, where `bucket` is the first
//! 8 bytes of SHA-256(`key:user_id`) as a big-endian u64, modulo 100.
//! Hashing the key with the user gives each flag its own split, so the same
//! 10 % of users are not the guinea pigs of every experiment; raising the
//! rollout only ever adds users. Anonymous callers get only flags at 100 %.

use sha2::{Digest, Sha256};

/// The user's bucket, 0..100, for flag `key`.
pub fn bucket(key: &str, user_id: i64) -> u64 {
    let digest = Sha256::digest(format!("{key}:{user_id}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % 100
}

/// Whether flag `key` (`enabled`, `rollout` percent) is on for `user_id`
/// (`None`: anonymous). Rollouts below 0 act as 0, above 100 as 100.
pub fn is_on(enabled: bool, rollout: i32, key: &str, user_id: Option<i64>) -> bool {
    if !enabled {
        return false;
    }
    match user_id {
        None => rollout >= 100,
        Some(id) => (bucket(key, id) as i64) < i64::from(rollout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bucket_is_the_documented_hash() {
        let digest = Sha256::digest(b"discover_reels:1");
        let expected = u64::from_be_bytes(digest[..8].try_into().unwrap()) % 100;
        assert_eq!(bucket("discover_reels", 1), expected);
        assert!((0..1000).all(|id| bucket("k", id) < 100));
        // Pinned values, so a change of hash or format is caught.
        let pinned: Vec<u64> = (1..=5).map(|id| bucket("discover_reels", id)).collect();
        assert_eq!(pinned, pinned_buckets());
        assert_eq!(bucket("k", -1), {
            let d = Sha256::digest(b"k:-1");
            u64::from_be_bytes(d[..8].try_into().unwrap()) % 100
        });
    }

    /// Computed independently of `bucket` (same recipe, spelled out).
    fn pinned_buckets() -> Vec<u64> {
        (1..=5)
            .map(|id: i64| {
                let text = String::from("discover_reels:") + &id.to_string();
                let d = Sha256::digest(text.as_bytes());
                d[..8]
                    .iter()
                    .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
                    % 100
            })
            .collect()
    }

    #[test]
    fn rollout_splits_users_roughly_evenly() {
        let on = (0..10_000)
            .filter(|id| is_on(true, 30, "discover_reels", Some(*id)))
            .count();
        assert!((2_700..3_300).contains(&on), "{on} of 10000 at 30 %");
        assert!((0..1000).all(|id| is_on(true, 100, "k", Some(id))));
        assert!((0..1000).all(|id| !is_on(true, 0, "k", Some(id))));
        assert!((0..1000).all(|id| !is_on(false, 100, "k", Some(id))));
        assert!((0..1000).all(|id| !is_on(true, -5, "k", Some(id))));
        assert!((0..1000).all(|id| is_on(true, 150, "k", Some(id))));
    }

    #[test]
    fn anonymous_callers_only_get_full_rollouts() {
        assert!(is_on(true, 100, "k", None));
        assert!(!is_on(true, 99, "k", None));
        assert!(!is_on(false, 100, "k", None));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn rollout_is_monotone(key in "[a-z_]{1,12}", user in any::<i64>(),
                               a in -10i32..=110, b in -10i32..=110, anon in any::<bool>()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let user = (!anon).then_some(user);
            prop_assert!(!is_on(true, lo, &key, user) || is_on(true, hi, &key, user));
            prop_assert!(!is_on(false, hi, &key, user));
            if let Some(id) = user {
                prop_assert_eq!(is_on(true, hi, &key, user), (bucket(&key, id) as i32) < hi);
            }
        }
    }
}
