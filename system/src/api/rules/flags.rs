//! `GET /api/v1/admin/flags/{key}/users/{user_id}` (admin): how one flag
//! evaluates for one user (SYSTEM-SPEC 7), with the numbers behind it.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::guard::Admin;
use super::MarketState;
use crate::http::AppError;
use crate::market::flags;

pub async fn evaluate(
    State(state): State<MarketState>,
    _admin: Admin,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, AppError> {
    let Path((key, user_id)) = path?;
    let user_id: i64 = user_id
        .parse()
        .map_err(|_| AppError::invalid("user_id", "must be an integer"))?;
    let flag = flags::get(&state.db, &key)
        .await?
        .ok_or_else(|| AppError::NotFound {
            code: "NOT_FOUND",
            message: format!("no flag {key:?}"),
        })?;
    let on = flags::is_on(&flag, Some(user_id));
    Ok(Json(json!({
        "key": flag.key,
        "user_id": user_id,
        "enabled": flag.enabled,
        "rollout": flag.rollout,
        "on": on,
    })))
}
