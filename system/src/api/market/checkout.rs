//! `POST /api/v1/public/orders`: checkout with a required `Idempotency-Key`.
//!
//! Guests may check out (the path is public); a caller with a valid bearer
//! token gets the order attached to their account, and a bad token is 401
//! rather than a silent guest checkout. Keys are scoped per buyer (guests
//! share one scope).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::guard::MaybeUser;
use super::validate::{Checks, Lines};
use super::MarketState;
use crate::http::{AppError, JsonBody};
use crate::market::checkout::{self, CheckoutError, NewOrder, Outcome};
use crate::market::idempotency::{request_digest, valid_key};
use crate::market::stock::{merge_lines, Line, StockError};
use crate::telemetry::{CHECKOUTS, CHECKOUT_CONFLICTS, CHECKOUT_REPLAYS};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const MAX_LINES: usize = 100;
pub const MAX_LINE_QUANTITY: i64 = 1000;
/// Labels of `checkout_requests_total{outcome}`.
pub const OUTCOMES: &[&str] = &[
    "created",
    "replayed",
    "insufficient_stock",
    "not_found",
    "idempotency_conflict",
    "invalid",
    "error",
];

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    items: Vec<ItemRequest>,
    shipping_method: String,
    payment_method: String,
    shipping_address: Address,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    product_id: i64,
    quantity: i64,
}

/// A one-line text or an object of text fields (`{"line1": ..., "city": ...}`).
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Address {
    Text(String),
    Fields(BTreeMap<String, String>),
}

fn count(outcome: &'static str) {
    metrics::counter!(CHECKOUTS, "outcome" => outcome).increment(1);
}

/// The idempotency key header: required, 1–255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<String, AppError> {
    let field = "Idempotency-Key";
    let value = headers
        .get(IDEMPOTENCY_KEY)
        .ok_or_else(|| AppError::invalid(field, "header is required"))?;
    value
        .to_str()
        .ok()
        .filter(|k| valid_key(k))
        .map(str::to_owned)
        .ok_or_else(|| AppError::invalid(field, "must be 1 to 255 visible ASCII characters"))
}

impl CheckoutRequest {
    fn validate(self) -> Result<NewOrder, AppError> {
        let mut c = Checks::new();
        if self.items.is_empty() || self.items.len() > MAX_LINES {
            c.fail("items", format!("must hold 1 to {MAX_LINES} items"));
        }
        let mut lines = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            let product_id = c.id(&format!("items[{i}].product_id"), item.product_id);
            let quantity = c.int_range(
                &format!("items[{i}].quantity"),
                item.quantity,
                1,
                MAX_LINE_QUANTITY,
            );
            lines.push(Line {
                product_id,
                quantity,
            });
        }
        c.text("shipping_method", &self.shipping_method, 1, 50, Lines::One);
        c.text("payment_method", &self.payment_method, 1, 50, Lines::One);
        match &self.shipping_address {
            Address::Text(text) => c.text("shipping_address", text, 1, 500, Lines::Many),
            Address::Fields(fields) => {
                if fields.is_empty() || fields.len() > 20 {
                    c.fail("shipping_address", "must hold 1 to 20 fields");
                }
                for (key, value) in fields {
                    c.text(&format!("shipping_address.{key}"), key, 1, 50, Lines::One);
                    c.text(
                        &format!("shipping_address.{key}"),
                        value,
                        0,
                        500,
                        Lines::Many,
                    );
                }
            }
        }
        let merged = merge_lines(lines.iter().copied()).unwrap_or_default();
        if merged
            .iter()
            .any(|l| i64::from(l.quantity) > MAX_LINE_QUANTITY)
        {
            c.fail(
                "items",
                format!("at most {MAX_LINE_QUANTITY} of one product per order"),
            );
        }
        c.finish()?;
        let canonical = serde_json::to_value(&self)
            .map_err(|e| AppError::Internal(format!("serialising a checkout request: {e}")))?;
        Ok(NewOrder {
            lines: merged,
            shipping_method: self.shipping_method,
            payment_method: self.payment_method,
            shipping_address: serde_json::to_value(&self.shipping_address)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            digest: request_digest(&canonical),
        })
    }
}

pub async fn create(
    State(state): State<MarketState>,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CheckoutRequest>,
) -> Result<Response, AppError> {
    let validated = idempotency_key(&headers).and_then(|k| Ok((k, body.validate()?)));
    let (key, order) = validated.inspect_err(|_| count("invalid"))?;
    let buyer = user.map(|u| u.id);
    match checkout::place(state.ctx(), buyer, &key, &order).await {
        Ok(Outcome::Created(order)) => {
            count("created");
            tracing::info!(order_id = order.id, user_id = ?order.user_id, "order created");
            Ok((StatusCode::CREATED, Json(json!({ "data": order }))).into_response())
        }
        Ok(Outcome::Replayed(order)) => {
            count("replayed");
            metrics::counter!(CHECKOUT_REPLAYS).increment(1);
            Ok(Json(json!({ "data": order })).into_response())
        }
        Err(e) => Err(refusal(e)),
    }
}

fn refusal(e: CheckoutError) -> AppError {
    match e {
        CheckoutError::Stock(StockError::Insufficient(short)) => {
            count("insufficient_stock");
            metrics::counter!(CHECKOUT_CONFLICTS).increment(1);
            let details = short
                .iter()
                .map(|(id, wanted, left)| {
                    (
                        format!("product {id}"),
                        format!("requested {wanted}, available {left}"),
                    )
                })
                .collect();
            AppError::Coded {
                status: StatusCode::CONFLICT,
                code: "INV001",
                message: "insufficient stock".to_owned(),
                details: Some(details),
            }
        }
        CheckoutError::Stock(StockError::NotFound(ids)) => {
            count("not_found");
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            AppError::Coded {
                status: StatusCode::NOT_FOUND,
                code: "INV002",
                message: format!("product not found or not for sale: {}", ids.join(", ")),
                details: Some(BTreeMap::from([("product_ids".to_owned(), ids.join(","))])),
            }
        }
        CheckoutError::KeyReused => {
            count("idempotency_conflict");
            AppError::coded(
                StatusCode::UNPROCESSABLE_ENTITY,
                "IDEM001",
                "Idempotency-Key was already used with a different request body",
            )
        }
        CheckoutError::TotalOverflow => {
            count("invalid");
            AppError::invalid("items", "order total is too large")
        }
        CheckoutError::Retry => {
            count("error");
            AppError::Unavailable("checkout is busy; retry with the same Idempotency-Key".into())
        }
        CheckoutError::Db(e) => {
            count("error");
            AppError::Database(e)
        }
    }
}
