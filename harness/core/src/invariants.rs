//! The system's data invariants, checked with SQL inside the database
//! container (`psql` over its local socket), so a load test or a chaos
//! experiment can prove afterwards that nothing was corrupted.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::stack::Stack;

/// SYSTEM-SPEC section 4, per product: stock + Σ quantity in non-cancelled
/// orders = initial stock + restocks. Lists every product that breaks it.
const STOCK_INVARIANT_SQL: &str = "\
SELECT p.id, p.stock, COALESCE(o.q, 0), p.initial_stock, COALESCE(a.d, 0)
FROM products p
LEFT JOIN (SELECT oi.product_id, SUM(oi.quantity) AS q
           FROM order_items oi JOIN orders o ON o.id = oi.order_id
           WHERE o.stage <> 'CANCELLED' GROUP BY oi.product_id) o ON o.product_id = p.id
LEFT JOIN (SELECT product_id, SUM(delta) AS d FROM stock_adjustments GROUP BY product_id) a ON a.product_id = p.id
WHERE p.stock + COALESCE(o.q, 0) <> COALESCE(p.initial_stock, p.stock) + COALESCE(a.d, 0)
ORDER BY p.id";

const PRODUCT_COUNT_SQL: &str = "SELECT count(*) FROM products";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StockViolation {
    pub product_id: i64,
    pub stock: i64,
    pub ordered: i64,
    pub initial_stock: i64,
    pub adjustments: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StockInvariant {
    pub products_checked: u64,
    pub violations: Vec<StockViolation>,
}

impl StockInvariant {
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Runs a query as the database superuser inside the `postgres` service;
/// rows come back with fields separated by `|`.
pub async fn query(stack: &Stack, sql: &str) -> Result<Vec<Vec<String>>> {
    let out = stack
        .exec(
            "postgres",
            &[
                "psql", "-X", "-q", "-At", "-U", "postgres", "-d", "gauntlet", "-c", sql,
            ],
        )
        .await?;
    if out.exit_code != 0 {
        return Err(Error::CheckFailed(format!(
            "SQL in postgres failed: {}",
            out.stderr.trim()
        )));
    }
    Ok(out
        .stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(String::from).collect())
        .collect())
}

pub async fn stock_invariant(stack: &Stack) -> Result<StockInvariant> {
    let count = query(stack, PRODUCT_COUNT_SQL).await?;
    let products_checked = count
        .first()
        .and_then(|r| r.first())
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let rows = query(stack, STOCK_INVARIANT_SQL).await?;
    let number = |s: &String| s.parse::<i64>().unwrap_or(i64::MIN);
    let violations = rows
        .iter()
        .filter(|r| r.len() == 5)
        .map(|r| StockViolation {
            product_id: number(&r[0]),
            stock: number(&r[1]),
            ordered: number(&r[2]),
            initial_stock: number(&r[3]),
            adjustments: number(&r[4]),
        })
        .collect();
    Ok(StockInvariant {
        products_checked,
        violations,
    })
}

/// SYSTEM-SPEC section 8.3, per credit account: wallet = Σ wallet_delta and
/// reserved = Σ reserved_delta of its ledger rows. Lists every account
/// that breaks it as `account wallet Σwallet reserved Σreserved`.
const LEDGER_INVARIANT_SQL: &str = "\
SELECT a.id, a.wallet, COALESCE(l.w, 0), a.reserved, COALESCE(l.r, 0)
FROM billing_accounts a
LEFT JOIN (SELECT account_id, SUM(wallet_delta) AS w, SUM(reserved_delta) AS r
           FROM billing_ledger GROUP BY account_id) l ON l.account_id = a.id
WHERE a.wallet <> COALESCE(l.w, 0) OR a.reserved <> COALESCE(l.r, 0)
ORDER BY a.id";

const ACCOUNT_COUNT_SQL: &str = "SELECT count(*) FROM billing_accounts";

#[derive(Debug, Clone, Serialize)]
pub struct LedgerInvariant {
    pub accounts_checked: u64,
    /// `account 7: wallet 500 but ledger sums to 400; reserved 0, ledger 0`.
    pub violations: Vec<String>,
}

impl LedgerInvariant {
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

pub async fn ledger_invariant(stack: &Stack) -> Result<LedgerInvariant> {
    let accounts_checked = query(stack, ACCOUNT_COUNT_SQL)
        .await?
        .first()
        .and_then(|r| r.first())
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let violations = query(stack, LEDGER_INVARIANT_SQL)
        .await?
        .iter()
        .filter(|r| r.len() == 5)
        .map(|r| {
            format!(
                "account {}: wallet {} but its ledger sums to {}; reserved {}, ledger {}",
                r[0], r[1], r[2], r[3], r[4]
            )
        })
        .collect();
    Ok(LedgerInvariant {
        accounts_checked,
        violations,
    })
}
