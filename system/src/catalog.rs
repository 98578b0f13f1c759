//! Read access to active products, shared by the JSON API and the web pages.
//! All SQL is parameterised; search input never becomes SQL text.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::money::format_cents;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductRow {
    pub id: i64,
    pub producer_id: i64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub price_cents: i64,
    pub stock: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// The public JSON form of a product: price as a decimal string.
#[derive(Debug, Clone, Serialize)]
pub struct ProductJson {
    pub id: i64,
    pub producer_id: i64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub price: String,
    pub stock: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<ProductRow> for ProductJson {
    fn from(p: ProductRow) -> Self {
        ProductJson {
            id: p.id,
            producer_id: p.producer_id,
            name: p.name,
            slug: p.slug,
            description: p.description,
            price: format_cents(p.price_cents),
            stock: p.stock,
            active: p.active,
            created_at: p.created_at,
        }
    }
}

const COLUMNS: &str =
    "id, producer_id, name, slug, description, price_cents, stock, active, created_at";

/// Escapes `\`, `%` and `_` so user text matches literally inside `ILIKE`.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One page of active products, id order, optionally filtered by a
/// case-insensitive substring of the name; also the total match count.
pub async fn list_active(
    pool: &PgPool,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ProductRow>, i64), sqlx::Error> {
    let pattern = search.map(|s| format!("%{}%", escape_like(s)));
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM products WHERE active AND ($1::text IS NULL OR name ILIKE $1)",
    )
    .bind(&pattern)
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query_as::<_, ProductRow>(&format!(
        "SELECT {COLUMNS} FROM products
         WHERE active AND ($1::text IS NULL OR name ILIKE $1)
         ORDER BY id LIMIT $2 OFFSET $3"
    ))
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// An active product by id.
pub async fn find_active_by_id(pool: &PgPool, id: i64) -> Result<Option<ProductRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM products WHERE id = $1 AND active"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// An active product by slug.
pub async fn find_active_by_slug(
    pool: &PgPool,
    slug: &str,
) -> Result<Option<ProductRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM products WHERE slug = $1 AND active"
    ))
    .bind(slug)
    .fetch_optional(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(escape_like("tomato"), "tomato");
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    }
}
