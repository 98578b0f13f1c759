//! Orders as the API shows them, and the read queries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use crate::money::format_cents;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderItem {
    pub product_id: i64,
    pub producer_id: i64,
    pub product_name: String,
    pub unit_price: String,
    pub quantity: i32,
    pub line_total: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    pub id: i64,
    /// `null` for a guest checkout.
    pub user_id: Option<i64>,
    pub stage: String,
    pub total: String,
    pub shipping_method: String,
    pub payment_method: String,
    pub shipping_address: Value,
    pub items: Vec<OrderItem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: i64,
    user_id: Option<i64>,
    stage: String,
    total_cents: i64,
    shipping_method: String,
    payment_method: String,
    shipping_address: Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    order_id: i64,
    product_id: i64,
    producer_id: i64,
    product_name: String,
    unit_price_cents: i64,
    quantity: i32,
}

const ORDER_COLUMNS: &str = "o.id, o.user_id, o.stage, o.total_cents, o.shipping_method, \
     o.payment_method, o.shipping_address, o.created_at, o.updated_at";

fn assemble(rows: Vec<OrderRow>, items: Vec<ItemRow>) -> Vec<Order> {
    rows.into_iter()
        .map(|o| Order {
            items: items
                .iter()
                .filter(|i| i.order_id == o.id)
                .map(|i| OrderItem {
                    product_id: i.product_id,
                    producer_id: i.producer_id,
                    product_name: i.product_name.clone(),
                    unit_price: format_cents(i.unit_price_cents),
                    quantity: i.quantity,
                    line_total: format_cents(i.unit_price_cents * i64::from(i.quantity)),
                })
                .collect(),
            id: o.id,
            user_id: o.user_id,
            stage: o.stage,
            total: format_cents(o.total_cents),
            shipping_method: o.shipping_method,
            payment_method: o.payment_method,
            shipping_address: o.shipping_address,
            created_at: o.created_at,
            updated_at: o.updated_at,
        })
        .collect()
}

async fn items_of(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<ItemRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT order_id, product_id, producer_id, product_name, unit_price_cents, quantity
         FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, product_id",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// One order with its items (any owner; callers check access).
pub async fn load(conn: &mut PgConnection, id: i64) -> Result<Option<Order>, sqlx::Error> {
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o WHERE o.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let items = items_of(conn, &[id]).await?;
    Ok(assemble(vec![row], items).pop())
}

/// Which orders a listing shows.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    /// Orders the user placed.
    Buyer(i64),
    /// Orders with at least one item of the producer's.
    Producer(i64),
}

/// A page of orders, newest first, and the total count.
pub async fn list(
    pool: &PgPool,
    owner: Owner,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Order>, i64), sqlx::Error> {
    let (filter, id) = match owner {
        Owner::Buyer(id) => ("o.user_id = $1", id),
        Owner::Producer(id) => (
            "o.id IN (SELECT order_id FROM order_items WHERE producer_id = $1)",
            id,
        ),
    };
    let mut conn = pool.acquire().await?;
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM orders o WHERE {filter}"))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o WHERE {filter} ORDER BY o.id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let items = items_of(&mut conn, &ids).await?;
    Ok((assemble(rows, items), total))
}
