//! Cart: `GET/POST/DELETE /api/v1/cart/items`,
//! `PATCH/DELETE /api/v1/cart/items/{item_id}`. Quantity 1–100 per line.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::guard::{CurrentUser, PathParam};
use super::validate::{path_id, Checks};
use super::MarketState;
use crate::http::{AppError, JsonBody};
use crate::market::cart::{self, Added, MAX_QUANTITY};
use crate::money::format_cents;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    product_id: i64,
    quantity: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantityRequest {
    quantity: i64,
}

fn item_not_found() -> AppError {
    AppError::NotFound {
        code: "NOT_FOUND",
        message: "cart item not found".to_owned(),
    }
}

/// `{data: [item], total_quantity, subtotal}`.
pub async fn list(
    State(state): State<MarketState>,
    me: CurrentUser,
) -> Result<Json<Value>, AppError> {
    let items = cart::list(&state.db, &state.defects, me.user.id).await?;
    let quantity: i64 = items.iter().map(|i| i64::from(i.quantity)).sum();
    let subtotal: i64 = items
        .iter()
        .filter(|i| i.available)
        .map(|i| i.line_total_cents)
        .sum();
    Ok(Json(json!({
        "data": items,
        "total_quantity": quantity,
        "subtotal": format_cents(subtotal),
    })))
}

/// 201 for a new line, 200 when added to an existing one.
pub async fn add(
    State(state): State<MarketState>,
    me: CurrentUser,
    JsonBody(body): JsonBody<AddRequest>,
) -> Result<Response, AppError> {
    let mut c = Checks::new();
    let product_id = c.id("product_id", body.product_id);
    let quantity = c.int_range("quantity", body.quantity, 1, i64::from(MAX_QUANTITY));
    c.finish()?;
    match cart::add(&state.db, me.user.id, product_id, quantity).await? {
        Added::Created(item) => {
            Ok((StatusCode::CREATED, Json(json!({ "data": item }))).into_response())
        }
        Added::Merged(item) => Ok(Json(json!({ "data": item })).into_response()),
        Added::ProductNotFound => Err(AppError::NotFound {
            code: "INV002",
            message: "product not found".to_owned(),
        }),
        Added::TooMany { already } => Err(AppError::invalid(
            "quantity",
            format!("the cart holds {already} already; a line may hold at most {MAX_QUANTITY}"),
        )),
    }
}

pub async fn set_quantity(
    State(state): State<MarketState>,
    me: CurrentUser,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<QuantityRequest>,
) -> Result<Json<Value>, AppError> {
    let id = path_id(&id).ok_or_else(item_not_found)?;
    let mut c = Checks::new();
    let quantity = c.int_range("quantity", body.quantity, 1, i64::from(MAX_QUANTITY));
    c.finish()?;
    let item = cart::set_quantity(&state.db, me.user.id, id, quantity)
        .await?
        .ok_or_else(item_not_found)?;
    Ok(Json(json!({ "data": item })))
}

pub async fn remove(
    State(state): State<MarketState>,
    me: CurrentUser,
    PathParam(id): PathParam,
) -> Result<StatusCode, AppError> {
    let id = path_id(&id).ok_or_else(item_not_found)?;
    if cart::remove(&state.db, me.user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(item_not_found())
    }
}

pub async fn clear(
    State(state): State<MarketState>,
    me: CurrentUser,
) -> Result<StatusCode, AppError> {
    cart::clear(&state.db, me.user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
