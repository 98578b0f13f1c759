//! Checkout idempotency keys.
//!
//! The key row is inserted in the checkout's own transaction with
//! `INSERT ... ON CONFLICT DO NOTHING`. A concurrent request with the same
//! key blocks on the unique index until the first transaction ends: if it
//! committed, the insert does nothing and the row (with the order id) is
//! read; if it rolled back (e.g. 409 out of stock), the insert succeeds and
//! this request runs the checkout itself. Keys are scoped per buyer (`0` for
//! guests) and compared with a SHA-256 of the canonical request body.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

/// `0` stands for guest checkouts in `checkout_idempotency.scope_user_id`.
pub const GUEST_SCOPE: i64 = 0;

/// Keys: 1–255 visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// JSON with object keys sorted and no whitespace: two bodies that parse to
/// the same request serialise identically, whatever their key order or
/// formatting.
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        scalar => scalar.to_string(),
    }
}

/// SHA-256 of the canonical JSON of the request.
pub fn request_digest(request: &Value) -> Vec<u8> {
    Sha256::digest(canonical_json(request).as_bytes()).to_vec()
}

/// What claiming a key found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This transaction owns the key now.
    Claimed,
    /// A committed checkout used it already.
    Used {
        digest: Vec<u8>,
        order_id: Option<i64>,
    },
    /// The row vanished between the insert and the read (not expected;
    /// the caller retries).
    Vanished,
}

pub async fn claim(
    conn: &mut PgConnection,
    scope: i64,
    key: &str,
    digest: &[u8],
) -> Result<Claim, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO checkout_idempotency (scope_user_id, idempotency_key, request_sha256)
         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(digest)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Claimed);
    }
    let row: Option<(Vec<u8>, Option<i64>)> = sqlx::query_as(
        "SELECT request_sha256, order_id FROM checkout_idempotency
         WHERE scope_user_id = $1 AND idempotency_key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some((digest, order_id)) => Claim::Used { digest, order_id },
        None => Claim::Vanished,
    })
}

/// Records the order created under a claimed key (same transaction).
pub async fn attach_order(
    conn: &mut PgConnection,
    scope: i64,
    key: &str,
    order_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE checkout_idempotency SET order_id = $3
         WHERE scope_user_id = $1 AND idempotency_key = $2",
    )
    .bind(scope)
    .bind(key)
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_json_ignores_key_order_and_spacing() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": "é\"'"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":"é\"'","y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"é\"'","y":[1,2]},"b":1}"#);
        assert_eq!(request_digest(&a), request_digest(&b));
    }

    #[test]
    fn different_bodies_hash_differently() {
        let base =
            json!({"items": [{"product_id": 1, "quantity": 2}], "shipping_method": "courier"});
        let other_qty =
            json!({"items": [{"product_id": 1, "quantity": 3}], "shipping_method": "courier"});
        let reordered =
            json!({"items": [{"quantity": 2, "product_id": 1}], "shipping_method": "courier"});
        assert_ne!(request_digest(&base), request_digest(&other_qty));
        assert_eq!(request_digest(&base), request_digest(&reordered));
        assert_eq!(request_digest(&base).len(), 32);
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(valid_key("order-123_abc"));
        assert!(valid_key(&"k".repeat(255)));
        assert!(!valid_key(""));
        assert!(!valid_key(&"k".repeat(256)));
        assert!(!valid_key("has space"));
        assert!(!valid_key("ключ"));
    }
}
