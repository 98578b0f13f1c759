//! Checkout (SYSTEM-SPEC section 4): one transaction that claims the
//! idempotency key, takes the stock, writes the order, its items, its first
//! stage-history row and the `order.created` outbox row.
//!
//! Serialization failures and deadlocks (not expected at READ COMMITTED
//! with ordered locking, but possible in principle) are retried a few times
//! before they surface.

use std::time::Duration;

use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use super::events::{self, Event};
use super::idempotency::{self, Claim, GUEST_SCOPE};
use super::orders::{self, Order};
use super::stock::{self, Line, StockError};
use crate::defects::{Defect, Defects};
use crate::redis_conn::RedisHandle;
use crate::telemetry::TX_RETRIES;

/// Retries after the first attempt for serialization failures / deadlocks.
pub const MAX_RETRIES: u32 = 3;

/// What the order subsystem needs from the process.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub db: &'a PgPool,
    pub redis: &'a RedisHandle,
    pub defects: &'a Defects,
}

/// A validated checkout request.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Merged and sorted by product id.
    pub lines: Vec<Line>,
    pub shipping_method: String,
    pub payment_method: String,
    pub shipping_address: Value,
    /// SHA-256 of the canonical request body.
    pub digest: Vec<u8>,
}

#[derive(Debug)]
pub enum Outcome {
    Created(Order),
    /// Same key, same body: the order made the first time.
    Replayed(Order),
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("{0:?}")]
    Stock(StockError),
    #[error("idempotency key reused with a different body")]
    KeyReused,
    #[error("order total overflows")]
    TotalOverflow,
    #[error("idempotency record without an order; retry")]
    Retry,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// True for Postgres serialization failures and deadlocks.
pub fn is_retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001" | "40P01")))
}

/// Short, jittered pause before a retry.
pub async fn retry_pause(attempt: u32) {
    let jitter = rand::random::<u64>() % 20;
    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter)).await;
}

/// Places the order for `buyer` (`None`: guest) under `key`.
pub async fn place(
    ctx: Ctx<'_>,
    buyer: Option<i64>,
    key: &str,
    order: &NewOrder,
) -> Result<Outcome, CheckoutError> {
    let mut attempt = 0;
    loop {
        let mut deferred = Vec::new();
        let result = place_once(ctx, buyer, key, order, &mut deferred).await;
        match result {
            Err(CheckoutError::Db(ref e)) if is_retryable(e) && attempt < MAX_RETRIES => {}
            Err(CheckoutError::Retry) if attempt < MAX_RETRIES => {}
            Ok(Outcome::Created(o)) => {
                events::after_commit(ctx.redis, deferred).await;
                return Ok(Outcome::Created(o));
            }
            other => return other,
        }
        attempt += 1;
        metrics::counter!(TX_RETRIES, "op" => "checkout").increment(1);
        retry_pause(attempt).await;
    }
}

async fn place_once(
    ctx: Ctx<'_>,
    buyer: Option<i64>,
    key: &str,
    order: &NewOrder,
    deferred: &mut Vec<Event>,
) -> Result<Outcome, CheckoutError> {
    let scope = buyer.unwrap_or(GUEST_SCOPE);
    let mut tx = ctx.db.begin().await?;
    if let Some(replay) = claim_key(ctx.defects, &mut tx, scope, key, &order.digest).await? {
        tx.rollback().await?;
        return Ok(replay);
    }
    let products = stock::take(&mut tx, ctx.defects, &order.lines)
        .await?
        .map_err(CheckoutError::Stock)?;
    let mut total: i64 = 0;
    for line in &order.lines {
        let price = products
            .iter()
            .find(|p| p.id == line.product_id)
            .map_or(0, |p| p.price_cents);
        total = price
            .checked_mul(i64::from(line.quantity))
            .and_then(|t| t.checked_add(total))
            .ok_or(CheckoutError::TotalOverflow)?;
    }
    let order_id: i64 = sqlx::query_scalar(
        "INSERT INTO orders (user_id, total_cents, shipping_method, payment_method, shipping_address)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(buyer)
    .bind(total)
    .bind(&order.shipping_method)
    .bind(&order.payment_method)
    .bind(&order.shipping_address)
    .fetch_one(&mut *tx)
    .await?;
    insert_items(&mut tx, order_id, &order.lines, &products).await?;
    let actor = buyer.map_or_else(|| "guest".to_owned(), |id| format!("user:{id}"));
    sqlx::query(
        "INSERT INTO order_stage_history (order_id, from_stage, to_stage, actor)
         VALUES ($1, NULL, 'PLACED', $2)",
    )
    .bind(order_id)
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    idempotency::attach_order(&mut tx, scope, key, order_id).await?;
    let created = orders::load(&mut tx, order_id)
        .await?
        .ok_or(CheckoutError::Retry)?;
    events::emit(
        ctx.defects,
        &mut tx,
        events::order_created(&created),
        deferred,
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome::Created(created))
}

/// Claims `key` for this transaction; `Some` when an earlier checkout used
/// it (a replay), or an error when it was used for another body.
async fn claim_key(
    defects: &Defects,
    conn: &mut PgConnection,
    scope: i64,
    key: &str,
    digest: &[u8],
) -> Result<Option<Outcome>, CheckoutError> {
    if defects.is_on(Defect::CheckoutIgnoresIdempotencyKey) {
        // Defect: the header is required but never looked at.
        return Ok(None);
    }
    match idempotency::claim(conn, scope, key, digest).await? {
        Claim::Claimed => Ok(None),
        Claim::Used { digest: seen, .. } if seen != digest => Err(CheckoutError::KeyReused),
        Claim::Used {
            order_id: Some(id), ..
        } => {
            let order = orders::load(conn, id).await?.ok_or(CheckoutError::Retry)?;
            Ok(Some(Outcome::Replayed(order)))
        }
        Claim::Used { order_id: None, .. } | Claim::Vanished => Err(CheckoutError::Retry),
    }
}

async fn insert_items(
    conn: &mut PgConnection,
    order_id: i64,
    lines: &[Line],
    products: &[stock::Stocked],
) -> Result<(), sqlx::Error> {
    let mut ids = Vec::new();
    let mut producers = Vec::new();
    let mut names = Vec::new();
    let mut prices = Vec::new();
    let mut quantities = Vec::new();
    for line in lines {
        let Some(p) = products.iter().find(|p| p.id == line.product_id) else {
            continue;
        };
        ids.push(p.id);
        producers.push(p.producer_id);
        names.push(p.name.as_str());
        prices.push(p.price_cents);
        quantities.push(line.quantity);
    }
    sqlx::query(
        "INSERT INTO order_items (order_id, product_id, producer_id, product_name, unit_price_cents, quantity)
         SELECT $1, p, pr, n, c, q
         FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::int[]) AS t(p, pr, n, c, q)",
    )
    .bind(order_id)
    .bind(ids)
    .bind(producers)
    .bind(names)
    .bind(prices)
    .bind(quantities)
    .execute(conn)
    .await?;
    Ok(())
}
