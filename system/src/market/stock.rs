//! Taking and giving back stock for orders.
//!
//! Correct path: the order's product rows are locked with `FOR UPDATE` in
//! ascending id order (so two checkouts naming the same products in any
//! order cannot deadlock), checked, then decremented relative to the locked
//! value. The stock column's `CHECK (stock >= 0)` backs this up.

use std::collections::BTreeMap;

use sqlx::PgConnection;

use crate::defects::{Defect, Defects};

/// One order line after merging duplicates; lines are sorted by product id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub product_id: i64,
    pub quantity: i32,
}

/// Merges lines naming the same product and sorts them by product id.
/// `None` when a merged quantity overflows.
pub fn merge_lines(lines: impl IntoIterator<Item = Line>) -> Option<Vec<Line>> {
    let mut merged: BTreeMap<i64, i32> = BTreeMap::new();
    for line in lines {
        let q = merged.entry(line.product_id).or_insert(0);
        *q = q.checked_add(line.quantity)?;
    }
    Some(
        merged
            .into_iter()
            .map(|(product_id, quantity)| Line {
                product_id,
                quantity,
            })
            .collect(),
    )
}

/// What an order needs to know about a product.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Stocked {
    pub id: i64,
    pub producer_id: i64,
    pub name: String,
    pub price_cents: i64,
    pub stock: i32,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockError {
    /// Unknown, deleted or inactive products.
    NotFound(Vec<i64>),
    /// `(product id, requested, available)` for each short line.
    Insufficient(Vec<(i64, i32, i32)>),
}

/// Checks `lines` against the product rows read for them.
pub fn check(lines: &[Line], products: &[Stocked]) -> Result<(), StockError> {
    let find = |id| products.iter().find(|p| p.id == id && p.active);
    let missing: Vec<i64> = lines
        .iter()
        .filter(|l| find(l.product_id).is_none())
        .map(|l| l.product_id)
        .collect();
    if !missing.is_empty() {
        return Err(StockError::NotFound(missing));
    }
    let short: Vec<(i64, i32, i32)> = lines
        .iter()
        .filter_map(|l| {
            let p = find(l.product_id)?;
            (p.stock < l.quantity).then_some((l.product_id, l.quantity, p.stock))
        })
        .collect();
    if short.is_empty() {
        Ok(())
    } else {
        Err(StockError::Insufficient(short))
    }
}

/// Takes the stock for `lines` (sorted, merged) inside the caller's
/// transaction and returns the product rows as they were before.
pub async fn take(
    conn: &mut PgConnection,
    defects: &Defects,
    lines: &[Line],
) -> Result<Result<Vec<Stocked>, StockError>, sqlx::Error> {
    if defects.is_on(Defect::StockCheckWithoutLock) {
        return take_without_lock_defective(conn, lines).await;
    }
    take_locked(conn, lines).await
}

const READ: &str = "SELECT id, producer_id, name, price_cents, stock, active
     FROM products WHERE id = ANY($1) AND deleted_at IS NULL ORDER BY id";

fn ids(lines: &[Line]) -> Vec<i64> {
    lines.iter().map(|l| l.product_id).collect()
}

async fn take_locked(
    conn: &mut PgConnection,
    lines: &[Line],
) -> Result<Result<Vec<Stocked>, StockError>, sqlx::Error> {
    // Rows are locked in the order the query returns them: ascending id.
    let products: Vec<Stocked> = sqlx::query_as(&format!("{READ} FOR UPDATE"))
        .bind(ids(lines))
        .fetch_all(&mut *conn)
        .await?;
    if let Err(e) = check(lines, &products) {
        return Ok(Err(e));
    }
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    sqlx::query(
        "UPDATE products p SET stock = p.stock - q.qty, updated_at = now()
         FROM UNNEST($1::bigint[], $2::int[]) AS q(id, qty) WHERE p.id = q.id",
    )
    .bind(ids(lines))
    .bind(quantities)
    .execute(&mut *conn)
    .await?;
    Ok(Ok(products))
}

/// Defect `stock_check_without_lock`: read the stock without a lock, then
/// write back `read value - quantity`. Two checkouts that read the same
/// value both succeed and the second overwrites the first (lost update).
async fn take_without_lock_defective(
    conn: &mut PgConnection,
    lines: &[Line],
) -> Result<Result<Vec<Stocked>, StockError>, sqlx::Error> {
    let products: Vec<Stocked> = sqlx::query_as(READ)
        .bind(ids(lines))
        .fetch_all(&mut *conn)
        .await?;
    if let Err(e) = check(lines, &products) {
        return Ok(Err(e));
    }
    for line in lines {
        let read = products
            .iter()
            .find(|p| p.id == line.product_id)
            .map_or(0, |p| p.stock);
        sqlx::query("UPDATE products SET stock = $2, updated_at = now() WHERE id = $1")
            .bind(line.product_id)
            .bind(read - line.quantity)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Ok(products))
}

/// Gives an order's stock back (cancellation), locking the product rows in
/// ascending id order first.
pub async fn restore(conn: &mut PgConnection, order_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT p.id FROM products p
         WHERE p.id IN (SELECT product_id FROM order_items WHERE order_id = $1)
         ORDER BY p.id FOR UPDATE",
    )
    .bind(order_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE products p SET stock = p.stock + i.quantity, updated_at = now()
         FROM order_items i WHERE i.order_id = $1 AND p.id = i.product_id",
    )
    .bind(order_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(product_id: i64, quantity: i32) -> Line {
        Line {
            product_id,
            quantity,
        }
    }

    fn product(id: i64, stock: i32, active: bool) -> Stocked {
        Stocked {
            id,
            producer_id: 1,
            name: format!("p{id}"),
            price_cents: 250,
            stock,
            active,
        }
    }

    #[test]
    fn duplicates_merge_and_lines_sort_by_id() {
        let merged = merge_lines([line(9, 1), line(3, 2), line(9, 4)]).unwrap();
        assert_eq!(merged, [line(3, 2), line(9, 5)]);
        assert_eq!(merge_lines([line(1, i32::MAX), line(1, 1)]), None);
    }

    #[test]
    fn check_reports_missing_then_short_lines() {
        let products = [
            product(1, 5, true),
            product(2, 0, true),
            product(3, 9, false),
        ];
        assert_eq!(check(&[line(1, 5)], &products), Ok(()));
        assert_eq!(
            check(&[line(1, 6), line(2, 1)], &products),
            Err(StockError::Insufficient(vec![(1, 6, 5), (2, 1, 0)]))
        );
        assert_eq!(
            check(&[line(1, 6), line(3, 1), line(4, 1)], &products),
            Err(StockError::NotFound(vec![3, 4]))
        );
    }
}
