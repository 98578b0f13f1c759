//! `GET /api/v1/flags`: every flag, on or off for the caller.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::guard::MaybeUser;
use super::MarketState;
use crate::http::AppError;
use crate::market::flags;

pub async fn for_caller(
    State(state): State<MarketState>,
    MaybeUser(user): MaybeUser,
) -> Result<Json<Value>, AppError> {
    let user_id = user.map(|u| u.id);
    let flags = flags::for_caller(&state.db, user_id).await?;
    Ok(Json(json!({ "data": flags, "user_id": user_id })))
}
