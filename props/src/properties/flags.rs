//! Feature-flag rollout through the admin API: `PUT /api/v1/admin/flags/{key}`
//! and `GET /api/v1/admin/flags/{key}/users/{user_id}`. Each case uses a
//! fresh flag key.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{check, ensure, fail, snippet, CaseResult, Env, Fail, Property};
use crate::model::flags;
use crate::PropertyInfo;

pub(crate) static PROPERTIES: &[Property] = &[
    Property {
        info: PropertyInfo {
            name: "flag_matches_model",
            family: "flags",
            description: "a user is in a flag exactly when it is enabled and SHA-256 bucket(key:user) < rollout",
            default_cases: 32,
        },
        run: |env, runner| check(env, runner, flag_case(), matches_model),
    },
    Property {
        info: PropertyInfo {
            name: "flag_rollout_monotone",
            family: "flags",
            description: "raising a flag's rollout never turns a user off (0 % nobody, 100 % everybody)",
            default_cases: 24,
        },
        run: |env, runner| check(env, runner, monotone_case(), rollout_monotone),
    },
];

fn users() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::btree_set(1i64..=1_000_000_000, 1..12).prop_map(|s| s.into_iter().collect())
}

#[derive(Debug, Clone)]
pub(crate) struct FlagCase {
    enabled: bool,
    rollout: u32,
    users: Vec<i64>,
}

fn flag_case() -> impl Strategy<Value = FlagCase> {
    (prop::bool::weighted(0.8), 0u32..=100, users()).prop_map(|(enabled, rollout, users)| {
        FlagCase {
            enabled,
            rollout,
            users,
        }
    })
}

#[derive(Debug, Clone)]
pub(crate) struct MonotoneCase {
    /// Ascending.
    rollouts: Vec<u32>,
    users: Vec<i64>,
}

fn monotone_case() -> impl Strategy<Value = MonotoneCase> {
    (prop::collection::btree_set(0u32..=100, 2..4), users()).prop_map(|(r, users)| MonotoneCase {
        rollouts: r.into_iter().collect(),
        users,
    })
}

fn set_flag(env: &Env, key: &str, enabled: bool, rollout: u32) -> Result<(), Fail> {
    env.expect(
        "PUT",
        &format!("/api/v1/admin/flags/{key}"),
        Some(&json!({"enabled": enabled, "rollout": rollout})),
        200,
    )?;
    Ok(())
}

fn is_on(env: &Env, key: &str, user: i64) -> Result<bool, Fail> {
    let answer = env.expect(
        "GET",
        &format!("/api/v1/admin/flags/{key}/users/{user}"),
        None,
        200,
    )?;
    match answer.get("on").and_then(Value::as_bool) {
        Some(on) => Ok(on),
        None => fail(format!(
            "flag evaluation has no boolean `on`: {}",
            snippet(&answer)
        )),
    }
}

/// A fresh key in the API's alphabet (a-z 0-9 _ . -).
fn fresh_key(env: &Env) -> String {
    env.unique("props-flag").to_lowercase()
}

fn matches_model(env: &Env, case: &FlagCase) -> CaseResult {
    let key = fresh_key(env);
    set_flag(env, &key, case.enabled, case.rollout)?;
    for &user in &case.users {
        let on = is_on(env, &key, user)?;
        let bucket = flags::bucket(&key, user);
        let expected = flags::is_on(&key, case.enabled, case.rollout, user);
        ensure!(
            on == expected,
            "user {user} (bucket {bucket}) is {} for flag enabled={} rollout={}; model says {}",
            if on { "on" } else { "off" },
            case.enabled,
            case.rollout,
            if expected { "on" } else { "off" }
        );
    }
    Ok(())
}

fn rollout_monotone(env: &Env, case: &MonotoneCase) -> CaseResult {
    let key = fresh_key(env);
    let mut previous: Option<(u32, BTreeSet<i64>)> = None;
    for &rollout in &case.rollouts {
        set_flag(env, &key, true, rollout)?;
        let mut on = BTreeSet::new();
        for &user in &case.users {
            if is_on(env, &key, user)? {
                on.insert(user);
            }
        }
        if rollout == 0 {
            ensure!(on.is_empty(), "rollout 0 % has users on: {on:?}");
        }
        if rollout == 100 {
            ensure!(
                on.len() == case.users.len(),
                "rollout 100 % leaves users off"
            );
        }
        if let Some((before, was_on)) = &previous {
            let dropped: Vec<&i64> = was_on.difference(&on).collect();
            ensure!(
                dropped.is_empty(),
                "raising rollout {before} → {rollout} turned users {dropped:?} off"
            );
        }
        previous = Some((rollout, on));
    }
    Ok(())
}
