//! Producer-side product writes: create, change, restock, soft delete.
//! Stock changes other than orders are recorded in `stock_adjustments`, so
//! `stock + Σ ordered (not cancelled) = initial_stock + Σ adjustments`.

use rand::RngCore;
use sqlx::PgPool;

use crate::catalog::ProductRow;

/// Largest stock a product may hold (leaves room below `i32::MAX`).
pub const MAX_STOCK: i32 = 1_000_000_000;

const COLUMNS: &str =
    "id, producer_id, name, slug, description, price_cents, stock, active, created_at";

#[derive(Debug, Clone)]
pub struct NewProduct {
    pub name: String,
    pub slug: Option<String>,
    pub description: String,
    pub price_cents: i64,
    pub stock: i32,
    pub active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price_cents: Option<i64>,
    pub stock: Option<i32>,
    pub active: Option<bool>,
}

/// `lowercase-ascii-words` from a name (at most 60 characters), or
/// `product` when nothing ASCII is left.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "product".to_owned()
    } else {
        slug.to_owned()
    }
}

/// True for `^[a-z0-9]+(-[a-z0-9]+)*$` up to 100 characters.
pub fn valid_slug(slug: &str) -> bool {
    slug.len() <= 100
        && !slug.is_empty()
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 4];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Creates a product; `None` when the requested slug is taken.
pub async fn create(
    pool: &PgPool,
    producer_id: i64,
    new: &NewProduct,
) -> Result<Option<ProductRow>, sqlx::Error> {
    // A generated slug gets a random suffix; retry the rare collision.
    for _ in 0..5 {
        let slug = match &new.slug {
            Some(s) => s.clone(),
            None => format!("{}-{}", slugify(&new.name), random_suffix()),
        };
        let row: Option<ProductRow> = sqlx::query_as(&format!(
            "INSERT INTO products (producer_id, name, slug, description, price_cents, stock, active)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (slug) DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(producer_id)
        .bind(&new.name)
        .bind(&slug)
        .bind(&new.description)
        .bind(new.price_cents)
        .bind(new.stock)
        .bind(new.active)
        .fetch_optional(pool)
        .await?;
        if row.is_some() || new.slug.is_some() {
            return Ok(row);
        }
    }
    Ok(None)
}

/// The owner of a product that is not deleted.
pub async fn owner(pool: &PgPool, id: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT producer_id FROM products WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Applies `patch`; a stock change is recorded as a correction relative to
/// the locked current value. `None` when the product is gone.
pub async fn update(
    pool: &PgPool,
    id: i64,
    patch: &ProductPatch,
    actor: &str,
) -> Result<Option<ProductRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let current: Option<i32> = sqlx::query_scalar(
        "SELECT stock FROM products WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(current) = current else {
        return Ok(None);
    };
    if let Some(stock) = patch.stock.filter(|s| *s != current) {
        record_adjustment(&mut tx, id, stock - current, "correction", actor).await?;
    }
    let row: ProductRow = sqlx::query_as(&format!(
        "UPDATE products SET
             name = COALESCE($2, name),
             description = COALESCE($3, description),
             price_cents = COALESCE($4, price_cents),
             stock = COALESCE($5, stock),
             active = COALESCE($6, active),
             updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&patch.name)
    .bind(&patch.description)
    .bind(patch.price_cents)
    .bind(patch.stock)
    .bind(patch.active)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(row))
}

/// Outcome of a restock.
pub enum Restock {
    Done(ProductRow),
    Gone,
    /// The result would pass [`MAX_STOCK`].
    TooMuch,
}

pub async fn restock(
    pool: &PgPool,
    id: i64,
    quantity: i32,
    actor: &str,
) -> Result<Restock, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let current: Option<i32> = sqlx::query_scalar(
        "SELECT stock FROM products WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(current) = current else {
        return Ok(Restock::Gone);
    };
    if current > MAX_STOCK - quantity {
        return Ok(Restock::TooMuch);
    }
    record_adjustment(&mut tx, id, quantity, "restock", actor).await?;
    let row: ProductRow = sqlx::query_as(&format!(
        "UPDATE products SET stock = stock + $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(quantity)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Restock::Done(row))
}

async fn record_adjustment(
    conn: &mut sqlx::PgConnection,
    id: i64,
    delta: i32,
    reason: &str,
    actor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stock_adjustments (product_id, delta, reason, actor) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(delta)
    .bind(reason)
    .bind(actor)
    .execute(conn)
    .await?;
    Ok(())
}

/// Soft delete: inactive, marked deleted, removed from every cart. Orders
/// keep referring to it. False when it was already gone.
pub async fn delete(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE products SET active = false, deleted_at = now(), updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    sqlx::query("DELETE FROM cart_items WHERE product_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done)
}

/// A producer's products (active or not, not deleted), id order.
pub async fn list_own(
    pool: &PgPool,
    producer_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ProductRow>, i64), sqlx::Error> {
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM products WHERE producer_id = $1 AND deleted_at IS NULL",
    )
    .bind(producer_id)
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM products WHERE producer_id = $1 AND deleted_at IS NULL
         ORDER BY id LIMIT $2 OFFSET $3"
    ))
    .bind(producer_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slugify("Organic Tomatoes"), "organic-tomatoes");
        assert_eq!(slugify("  Fresh -- Eggs!! (12) "), "fresh-eggs-12");
        assert_eq!(
            slugify("Ελιές'; DROP TABLE products;--"),
            "drop-table-products"
        );
        assert_eq!(slugify("Ελιές"), "product");
        assert!(slugify(&"a".repeat(500)).len() <= 60);
        for name in ["Organic Tomatoes", "x", "Ελιές", "a-b c", "--"] {
            assert!(valid_slug(&slugify(name)), "{name}");
        }
        assert!(!valid_slug("Upper"));
        assert!(!valid_slug("a--b"));
        assert!(!valid_slug("-a"));
        assert!(!valid_slug(""));
    }
}
