//! `POST /api/v1/webhooks/shopify`: a storefront order, signed with
//! `X-Shopify-Hmac-Sha256`.
//!
//! Order of checks: read the raw body (≤ 1 MiB) → verify the signature over
//! those exact bytes (401 `AUTH001`, nothing stored) → content type (415) →
//! parse JSON (400) → validate (422) → store. Storing is one transaction:
//! the order row (unique on source + external id: a repeat answers 200
//! `skipped` with the first order's id, also under concurrent duplicates),
//! its lines, the SKUs' reservations, an outbox event
//! `external_order.created` and one inventory sync job per SKU.
//!
//! Body (unknown fields are ignored: storefronts send many):
//! `{"id": 1001 | "1001", "line_items": [{"sku": "SKU-0001", "quantity": 2}, ...]}`.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::signature::{self, SignatureError};
use super::OpsState;
use crate::defects::{Defect, Defects};
use crate::http::{AppError, BODY_LIMIT_BYTES};
use crate::sync_queue;

pub const SOURCE: &str = "shopify";
pub const EVENT_TYPE: &str = "external_order.created";
const MAX_LINE_ITEMS: usize = 250;
const MAX_QUANTITY: i64 = 10_000;
const MAX_EXTERNAL_ID_CHARS: usize = 64;

/// A validated storefront order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorefrontOrder {
    pub external_id: String,
    /// `(sku, quantity)` in body order.
    pub lines: Vec<(String, i64)>,
}

impl StorefrontOrder {
    /// Quantity per SKU, in SKU order (the order rows are locked in).
    pub fn per_sku(&self) -> BTreeMap<&str, i64> {
        let mut per = BTreeMap::new();
        for (sku, qty) in &self.lines {
            *per.entry(sku.as_str()).or_insert(0) += qty;
        }
        per
    }
}

fn is_sku(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=64).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

fn is_external_id(s: &str) -> bool {
    (1..=MAX_EXTERNAL_ID_CHARS).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'))
}

/// Validates the parsed body; the error maps field paths to messages.
pub fn parse_order(body: &Value) -> Result<StorefrontOrder, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let Some(obj) = body.as_object() else {
        errors.insert("body".to_owned(), "must be a JSON object".to_owned());
        return Err(errors);
    };
    let external_id = match obj.get("id") {
        Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v >= 1) => Some(n.to_string()),
        Some(Value::String(s)) if is_external_id(s) => Some(s.clone()),
        _ => {
            errors.insert(
                "id".to_owned(),
                format!("required: a positive integer or 1 to {MAX_EXTERNAL_ID_CHARS} characters of A-Z a-z 0-9 . _ : -"),
            );
            None
        }
    };
    let mut lines = Vec::new();
    match obj.get("line_items") {
        Some(Value::Array(items)) if (1..=MAX_LINE_ITEMS).contains(&items.len()) => {
            for (i, item) in items.iter().enumerate() {
                let sku = item
                    .get("sku")
                    .and_then(Value::as_str)
                    .filter(|s| is_sku(s));
                if sku.is_none() {
                    errors.insert(
                        format!("line_items[{i}].sku"),
                        "required: 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit".to_owned(),
                    );
                }
                let qty = item
                    .get("quantity")
                    .and_then(Value::as_i64)
                    .filter(|q| (1..=MAX_QUANTITY).contains(q));
                if qty.is_none() {
                    errors.insert(
                        format!("line_items[{i}].quantity"),
                        format!("required: an integer from 1 to {MAX_QUANTITY}"),
                    );
                }
                if let (Some(sku), Some(qty)) = (sku, qty) {
                    lines.push((sku.to_owned(), qty));
                }
            }
        }
        _ => {
            errors.insert(
                "line_items".to_owned(),
                format!("required: an array of 1 to {MAX_LINE_ITEMS} items"),
            );
        }
    }
    match external_id {
        Some(external_id) if errors.is_empty() => Ok(StorefrontOrder { external_id, lines }),
        _ => Err(errors),
    }
}

/// The one place the `webhook_hmac_not_enforced` defect switch is read:
/// with it on, a bad signature is logged and the webhook is processed anyway
/// (what the seed system did).
fn enforce_signature(
    defects: &Defects,
    verdict: Result<(), SignatureError>,
) -> Result<(), AppError> {
    match verdict {
        Ok(()) => Ok(()),
        Err(e) if defects.is_on(Defect::WebhookHmacNotEnforced) => {
            tracing::warn!(reason = %e, "webhook signature invalid; accepted anyway (defect webhook_hmac_not_enforced)");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(reason = %e, "webhook refused: signature invalid");
            Err(AppError::Unauthorized)
        }
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

pub async fn shopify(
    State(state): State<OpsState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let body = body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(format!(
            "request body is larger than {BODY_LIMIT_BYTES} bytes"
        )),
        _ => AppError::BadRequest(r.body_text()),
    })?;
    let given = headers.get(signature::HEADER).map(|v| v.as_bytes());
    let verdict = signature::verify(state.shopify_secret.as_ref(), given, &body);
    enforce_signature(&state.defects, verdict)?;
    if !is_json(&headers) {
        return Err(AppError::UnsupportedMediaType(
            "expected request with `Content-Type: application/json`".to_owned(),
        ));
    }
    let doc: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("malformed JSON: {e}")))?;
    let order = parse_order(&doc).map_err(|details| AppError::Validation { details })?;
    let (order_id, created) = store(&state, &order, &doc).await?;
    tracing::info!(order_id, external_id = %order.external_id, created, "storefront order webhook");
    Ok(if created {
        (
            StatusCode::CREATED,
            Json(json!({"order_id": order_id, "status": "created"})),
        )
    } else {
        (
            StatusCode::OK,
            Json(json!({"order_id": order_id, "status": "skipped"})),
        )
    })
}

/// Stores the order once; `(order id, created now?)`.
async fn store(
    state: &OpsState,
    order: &StorefrontOrder,
    doc: &Value,
) -> Result<(i64, bool), AppError> {
    let mut tx = state.db.begin().await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO external_orders (source, external_id, payload) VALUES ($1, $2, $3)
         ON CONFLICT (source, external_id) DO NOTHING RETURNING id",
    )
    .bind(SOURCE)
    .bind(&order.external_id)
    .bind(doc)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(order_id) = inserted else {
        // A committed order with this id exists (a concurrent first copy
        // made us wait on the unique key, then committed).
        let existing: i64 = sqlx::query_scalar(
            "SELECT id FROM external_orders WHERE source = $1 AND external_id = $2",
        )
        .bind(SOURCE)
        .bind(&order.external_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.rollback().await?;
        return Ok((existing, false));
    };

    let per_sku = order.per_sku();
    let skus: Vec<&str> = per_sku.keys().copied().collect();
    let quantities: Vec<i64> = per_sku.values().copied().collect();
    // Lock the SKUs' rows in SKU order: concurrent orders cannot deadlock.
    let found: BTreeSet<String> =
        sqlx::query_scalar("SELECT sku FROM inventory WHERE sku = ANY($1) ORDER BY sku FOR UPDATE")
            .bind(&skus)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let unknown: BTreeMap<String, String> = order
        .lines
        .iter()
        .enumerate()
        .filter(|(_, (sku, _))| !found.contains(sku))
        .map(|(i, _)| (format!("line_items[{i}].sku"), "unknown SKU".to_owned()))
        .collect();
    if !unknown.is_empty() {
        tx.rollback().await?;
        return Err(AppError::Validation { details: unknown });
    }

    let (line_skus, line_qty): (Vec<&str>, Vec<i64>) =
        order.lines.iter().map(|(s, q)| (s.as_str(), *q)).unzip();
    sqlx::query(
        "INSERT INTO external_order_lines (external_order_id, line_no, sku, quantity)
         SELECT $1, ord::int, sku, qty::int
         FROM UNNEST($2::text[], $3::bigint[]) WITH ORDINALITY AS t(sku, qty, ord)",
    )
    .bind(order_id)
    .bind(&line_skus)
    .bind(&line_qty)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE inventory i SET reserved = i.reserved + t.qty, updated_at = now()
         FROM UNNEST($1::text[], $2::bigint[]) AS t(sku, qty) WHERE i.sku = t.sku",
    )
    .bind(&skus)
    .bind(&quantities)
    .execute(&mut *tx)
    .await?;

    let event_id = Uuid::new_v4();
    let event = json!({
        "event_id": event_id,
        "type": EVENT_TYPE,
        "order_id": order_id,
        "external_order_id": order.external_id,
        "source": SOURCE,
        "line_items": order.lines.iter().map(|(s, q)| json!({"sku": s, "quantity": q})).collect::<Vec<_>>(),
        "occurred_at": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    sqlx::query(
        "INSERT INTO outbox (event_id, event_type, aggregate_id, payload) VALUES ($1, $2, $3, $4)",
    )
    .bind(event_id)
    .bind(EVENT_TYPE)
    .bind(order_id)
    .bind(&event)
    .execute(&mut *tx)
    .await?;

    for sku in &skus {
        let key = sync_queue::inventory_dedupe_key(SOURCE, &order.external_id, sku);
        let payload = json!({
            "sku": sku,
            "source": SOURCE,
            "external_order_id": order.external_id,
            "order_id": order_id,
        });
        sync_queue::enqueue(&mut tx, &key, sync_queue::KIND_INVENTORY_SYNC, &payload).await?;
    }
    tx.commit().await?;
    Ok((order_id, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_bodies_parse_with_unknown_fields() {
        let body = json!({
            "id": 820982911946154508u64,
            "email": "jon@example.com",
            "line_items": [
                {"sku": "SKU-0001", "quantity": 2, "title": "Apples"},
                {"sku": "SKU-0002", "quantity": 1},
                {"sku": "SKU-0001", "quantity": 3},
            ],
            "total_price": "12.50",
        });
        let order = parse_order(&body).unwrap();
        assert_eq!(order.external_id, "820982911946154508");
        assert_eq!(order.lines.len(), 3);
        let per: Vec<_> = order.per_sku().into_iter().collect();
        assert_eq!(per, [("SKU-0001", 5), ("SKU-0002", 1)]);
        let order =
            parse_order(&json!({"id": "ext-7", "line_items": [{"sku": "A", "quantity": 1}]}))
                .unwrap();
        assert_eq!(order.external_id, "ext-7");
    }

    #[test]
    fn invalid_bodies_name_each_field() {
        let fields =
            |v: Value| -> Vec<String> { parse_order(&v).unwrap_err().into_keys().collect() };
        assert_eq!(fields(json!([1])), ["body"]);
        assert_eq!(fields(json!({})), ["id", "line_items"]);
        assert_eq!(
            fields(json!({"id": 0, "line_items": []})),
            ["id", "line_items"]
        );
        assert_eq!(
            fields(json!({"id": 1, "line_items": [{"sku": "", "quantity": 0}, {"sku": "ok"}]})),
            [
                "line_items[0].quantity",
                "line_items[0].sku",
                "line_items[1].quantity"
            ]
        );
        assert_eq!(
            fields(json!({"id": "has space", "line_items": [{"sku": "A", "quantity": 10001}]})),
            ["id", "line_items[0].quantity"]
        );
        assert_eq!(
            fields(json!({"id": -5, "line_items": [{"sku": "A", "quantity": 1}]})),
            ["id"]
        );
        assert_eq!(
            fields(json!({"id": 1.5, "line_items": [{"sku": "A", "quantity": 1}]})),
            ["id"]
        );
    }

    #[test]
    fn bad_signature_is_refused_unless_the_defect_is_on() {
        let correct = Defects::none();
        assert!(enforce_signature(&correct, Ok(())).is_ok());
        for e in [
            SignatureError::Missing,
            SignatureError::Mismatch,
            SignatureError::NotConfigured,
        ] {
            assert!(matches!(
                enforce_signature(&correct, Err(e)),
                Err(AppError::Unauthorized)
            ));
        }
        let defective = Defects::parse("webhook_hmac_not_enforced").unwrap();
        assert!(enforce_signature(&defective, Err(SignatureError::Mismatch)).is_ok());
    }

    #[test]
    fn content_type_must_be_json() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&h));
    }
}
