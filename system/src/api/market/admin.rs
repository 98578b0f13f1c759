//! Admin endpoints (`X-Admin-Token`): approving producers, setting flags.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::guard::{Admin, PathParam};
use super::validate::{path_id, Checks};
use super::MarketState;
use crate::http::{AppError, JsonBody};
use crate::market::{flags, users};

/// `PATCH /api/v1/admin/producers/{id}/approve` → 200 `{data: user}`;
/// approving an active producer again changes nothing.
pub async fn approve_producer(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
) -> Result<Json<Value>, AppError> {
    let not_found = || AppError::NotFound {
        code: "NOT_FOUND",
        message: "producer not found".to_owned(),
    };
    let id = path_id(&id).ok_or_else(not_found)?;
    let user = users::approve_producer(&state.db, id)
        .await?
        .ok_or_else(not_found)?;
    tracing::info!(user_id = user.id, "producer approved");
    Ok(Json(json!({ "data": user })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagRequest {
    enabled: bool,
    rollout: i64,
}

/// `PUT /api/v1/admin/flags/{key}` `{enabled, rollout}` → 200 `{data: flag}`.
pub async fn set_flag(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(key): PathParam,
    JsonBody(body): JsonBody<FlagRequest>,
) -> Result<Json<Value>, AppError> {
    let mut c = Checks::new();
    let valid_key = (1..=100).contains(&key.len())
        && key.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if !valid_key {
        c.fail("key", "must be 1 to 100 of a-z 0-9 _ . -");
    }
    let rollout = c.int_range("rollout", body.rollout, 0, 100);
    c.finish()?;
    let flag = flags::upsert(&state.db, &key, body.enabled, rollout).await?;
    Ok(Json(json!({ "data": flag })))
}
