//! Feature flags (SYSTEM-SPEC section 7) in Postgres. Whether a flag is on
//! for a user is `gauntlet_rules::flags::is_on`: enabled and
//! `bucket(key, user_id) < rollout`, where
//! `bucket = u64::from_be_bytes(first 8 bytes of SHA-256(key + ":" + user_id)) % 100`;
//! anonymous callers only get flags that are enabled at 100 %.

use std::collections::BTreeMap;

use gauntlet_rules::flags as rules;
use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Flag {
    pub key: String,
    pub enabled: bool,
    pub rollout: i32,
}

/// Whether `flag` is on for `user_id` (`None`: anonymous).
pub fn is_on(flag: &Flag, user_id: Option<i64>) -> bool {
    rules::is_on(flag.enabled, flag.rollout, &flag.key, user_id)
}

pub async fn all(pool: &PgPool) -> Result<Vec<Flag>, sqlx::Error> {
    sqlx::query_as("SELECT key, enabled, rollout FROM feature_flags ORDER BY key")
        .fetch_all(pool)
        .await
}

/// One flag by key.
pub async fn get(pool: &PgPool, key: &str) -> Result<Option<Flag>, sqlx::Error> {
    sqlx::query_as("SELECT key, enabled, rollout FROM feature_flags WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
}

/// Every flag, on or off for this caller.
pub async fn for_caller(
    pool: &PgPool,
    user_id: Option<i64>,
) -> Result<BTreeMap<String, bool>, sqlx::Error> {
    Ok(all(pool)
        .await?
        .into_iter()
        .map(|f| {
            let on = is_on(&f, user_id);
            (f.key, on)
        })
        .collect())
}

/// Creates or changes a flag.
pub async fn upsert(
    pool: &PgPool,
    key: &str,
    enabled: bool,
    rollout: i32,
) -> Result<Flag, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO feature_flags (key, enabled, rollout) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET enabled = EXCLUDED.enabled,
             rollout = EXCLUDED.rollout, updated_at = now()
         RETURNING key, enabled, rollout",
    )
    .bind(key)
    .bind(enabled)
    .bind(rollout)
    .fetch_one(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(enabled: bool, rollout: i32) -> Flag {
        Flag {
            key: "discover_reels".into(),
            enabled,
            rollout,
        }
    }

    #[test]
    fn rollout_splits_users_roughly_evenly() {
        let on = (0..10_000)
            .filter(|id| is_on(&flag(true, 30), Some(*id)))
            .count();
        assert!((2_700..3_300).contains(&on), "{on} of 10000 at 30 %");
        assert!((0..1000).all(|id| is_on(&flag(true, 100), Some(id))));
        assert!((0..1000).all(|id| !is_on(&flag(true, 0), Some(id))));
        assert!((0..1000).all(|id| !is_on(&flag(false, 100), Some(id))));
    }

    #[test]
    fn anonymous_callers_only_get_full_rollouts() {
        assert!(is_on(&flag(true, 100), None));
        assert!(!is_on(&flag(true, 99), None));
        assert!(!is_on(&flag(false, 100), None));
    }
}
