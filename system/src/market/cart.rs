//! Carts: one per user, one line per product, quantity 1–100. A cart is
//! visible to its owner only.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::defects::{Defect, Defects};
use crate::money::format_cents;

pub const MAX_QUANTITY: i32 = 100;

#[derive(Debug, Clone, Serialize)]
pub struct CartItem {
    pub id: i64,
    pub product_id: i64,
    pub name: String,
    pub unit_price: String,
    pub quantity: i32,
    pub line_total: String,
    #[serde(skip)]
    pub line_total_cents: i64,
    /// False when the product was deactivated after it was added.
    pub available: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    product_id: i64,
    name: String,
    price_cents: i64,
    quantity: i32,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for CartItem {
    fn from(r: Row) -> Self {
        CartItem {
            id: r.id,
            product_id: r.product_id,
            name: r.name,
            unit_price: format_cents(r.price_cents),
            quantity: r.quantity,
            line_total: format_cents(r.price_cents * i64::from(r.quantity)),
            line_total_cents: r.price_cents * i64::from(r.quantity),
            available: r.active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SELECT: &str = "SELECT c.id, c.product_id, p.name, p.price_cents, c.quantity, p.active,
            c.created_at, c.updated_at
     FROM cart_items c JOIN products p ON p.id = c.product_id";

/// The user's cart, oldest line first.
pub async fn list(
    pool: &PgPool,
    defects: &Defects,
    user_id: i64,
) -> Result<Vec<CartItem>, sqlx::Error> {
    if defects.is_on(Defect::CartVisibleToOthers) {
        return list_everyones_defective(pool).await;
    }
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} WHERE c.user_id = $1 ORDER BY c.id"))
        .bind(user_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(CartItem::from).collect())
}

/// Defect `cart_visible_to_others`: the owner filter is missing, so every
/// user sees the latest cart lines of all users.
async fn list_everyones_defective(pool: &PgPool) -> Result<Vec<CartItem>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY c.id DESC LIMIT 200"))
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(CartItem::from).collect())
}

pub enum Added {
    /// A new line.
    Created(CartItem),
    /// Added to an existing line for the same product.
    Merged(CartItem),
    ProductNotFound,
    /// The line would hold more than [`MAX_QUANTITY`].
    TooMany {
        already: i32,
    },
}

/// Adds `quantity` of a product; an existing line for it grows.
pub async fn add(
    pool: &PgPool,
    user_id: i64,
    product_id: i64,
    quantity: i32,
) -> Result<Added, sqlx::Error> {
    let available: Option<bool> =
        sqlx::query_scalar("SELECT active FROM products WHERE id = $1 AND deleted_at IS NULL")
            .bind(product_id)
            .fetch_optional(pool)
            .await?;
    if available != Some(true) {
        return Ok(Added::ProductNotFound);
    }
    let row: Option<(i64, bool)> = sqlx::query_as(
        "INSERT INTO cart_items AS c (user_id, product_id, quantity) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, product_id) DO UPDATE
             SET quantity = c.quantity + EXCLUDED.quantity, updated_at = now()
             WHERE c.quantity + EXCLUDED.quantity <= 100
         RETURNING c.id, (c.xmax = 0) AS inserted",
    )
    .bind(user_id)
    .bind(product_id)
    .bind(quantity)
    .fetch_optional(pool)
    .await?;
    let Some((id, inserted)) = row else {
        let already: i32 = sqlx::query_scalar(
            "SELECT quantity FROM cart_items WHERE user_id = $1 AND product_id = $2",
        )
        .bind(user_id)
        .bind(product_id)
        .fetch_optional(pool)
        .await?
        .unwrap_or(0);
        return Ok(Added::TooMany { already });
    };
    let item = one(pool, user_id, id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(if inserted {
        Added::Created(item)
    } else {
        Added::Merged(item)
    })
}

async fn one(pool: &PgPool, user_id: i64, id: i64) -> Result<Option<CartItem>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE c.id = $1 AND c.user_id = $2"))
        .bind(id)
        .bind(user_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(CartItem::from))
}

/// Sets a line's quantity; `None` when the user has no such line.
pub async fn set_quantity(
    pool: &PgPool,
    user_id: i64,
    id: i64,
    quantity: i32,
) -> Result<Option<CartItem>, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE cart_items SET quantity = $3, updated_at = now() WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user_id)
    .bind(quantity)
    .execute(pool)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    one(pool, user_id, id).await
}

/// Removes one line; false when the user has no such line.
pub async fn remove(pool: &PgPool, user_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM cart_items WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Empties the user's cart.
pub async fn clear(pool: &PgPool, user_id: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM cart_items WHERE user_id = $1")
        .bind(user_id)
        .execute(pool)
        .await?
        .rows_affected())
}
