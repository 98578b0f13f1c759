//! `GET /api/v1/inventory?sku=` → `{sku,on_hand,reserved,buffer,ats}`.
//!
//! `ats` (available to sell) = max(0, on_hand − reserved − buffer).
//! `reserved` grows with storefront orders (see `webhooks.rs`) and may pass
//! `on_hand`; `ats` never goes below 0.

use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::OpsState;
use crate::http::AppError;
use crate::sync_queue::ats;

#[derive(Debug, Deserialize)]
pub struct InventoryParams {
    sku: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Stock {
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub buffer: i64,
    pub ats: i64,
}

pub async fn show(
    State(state): State<OpsState>,
    params: Result<Query<InventoryParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Stock>, AppError> {
    let Query(params) = params?;
    let sku = params
        .sku
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppError::invalid("sku", "required"))?;
    if sku.len() > 64 {
        return Err(AppError::invalid("sku", "must be at most 64 characters"));
    }
    let row: Option<(i64, i64, i64)> =
        sqlx::query_as("SELECT on_hand, reserved, buffer FROM inventory WHERE sku = $1")
            .bind(&sku)
            .fetch_optional(&state.db)
            .await?;
    let (on_hand, reserved, buffer) = row.ok_or_else(|| AppError::NotFound {
        code: "INV002",
        message: "sku not found".to_owned(),
    })?;
    Ok(Json(Stock {
        sku,
        on_hand,
        reserved,
        buffer,
        ats: ats(on_hand, reserved, buffer),
    }))
}
