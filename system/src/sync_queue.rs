//! The downstream sync work queue (table `sync_jobs`, SYSTEM-SPEC section 5):
//! enqueued by the api in the webhook's transaction, worked by the worker.
//!
//! Life of a row: `pending` → claimed (`processing`, `attempts + 1`, a claim
//! token) → pushed → `done`; or, on failure, back to `pending` with
//! `next_attempt_at = now + 100 ms × 3^(n−1)` for retry n = 1..=max_retries
//! (3), and after the last retry fails, `error` with code `SYNC001`. Rows
//! `processing` for longer than the stuck threshold go back to `pending`
//! (or to `error` when they have no retry left).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// The one kind of work so far: push a SKU's stock to downstream channels.
pub const KIND_INVENTORY_SYNC: &str = "inventory.sync";
/// Retries after the first attempt.
pub const MAX_RETRIES: i32 = 3;
/// Error code of a row that exhausted its retries.
pub const SYNC_FAILED: &str = "SYNC001";
const BASE_DELAY: Duration = Duration::from_millis(100);
/// Longest `last_error` kept.
const MAX_ERROR_CHARS: usize = 500;

pub const STATUSES: [&str; 4] = ["pending", "processing", "done", "error"];

/// The delay before retry `n` (1-based): 100 ms × 3^(n−1).
pub fn retry_delay(n: u32) -> Duration {
    BASE_DELAY * 3u32.saturating_pow(n.saturating_sub(1))
}

/// What happens to a row whose attempt number `attempts` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryIn(Duration),
    GiveUp,
}

pub fn after_failure(attempts: i32, max_retries: i32) -> AfterFailure {
    if attempts > max_retries {
        AfterFailure::GiveUp
    } else {
        AfterFailure::RetryIn(retry_delay(attempts.max(1) as u32))
    }
}

/// Available to sell: max(0, on_hand − reserved − buffer), without
/// overflow. Shared by `GET /api/v1/inventory` and the sync pushes.
pub fn ats(on_hand: i64, reserved: i64, buffer: i64) -> i64 {
    on_hand
        .saturating_sub(reserved)
        .saturating_sub(buffer)
        .max(0)
}

/// `inventory.sync:{source}:{external_order_id}:{sku}`: one push per SKU of
/// each storefront order, so a redelivered webhook enqueues nothing new.
pub fn inventory_dedupe_key(source: &str, external_id: &str, sku: &str) -> String {
    format!("{KIND_INVENTORY_SYNC}:{source}:{external_id}:{sku}")
}

/// Adds a row unless one with `dedupe_key` exists; true when added.
pub async fn enqueue(
    tx: &mut Transaction<'_, Postgres>,
    dedupe_key: &str,
    kind: &str,
    payload: &Json,
) -> Result<bool, sqlx::Error> {
    let added = sqlx::query(
        "INSERT INTO sync_jobs (dedupe_key, kind, payload, max_retries)
         VALUES ($1, $2, $3, $4) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(dedupe_key)
    .bind(kind)
    .bind(payload)
    .bind(MAX_RETRIES)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(added == 1)
}

/// A claimed row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub dedupe_key: String,
    pub kind: String,
    pub payload: Json,
    /// This attempt's number (1 for the first).
    pub attempts: i32,
    pub max_retries: i32,
    #[sqlx(skip)]
    pub claim_token: Uuid,
}

/// Claims up to `limit` due pending rows (oldest due first); other workers
/// skip them.
pub async fn claim_due(pool: &PgPool, limit: i64) -> Result<Vec<Claimed>, sqlx::Error> {
    let token = Uuid::new_v4();
    let mut rows: Vec<Claimed> = sqlx::query_as(
        "WITH due AS (
             SELECT id FROM sync_jobs
             WHERE status = 'pending' AND next_attempt_at <= now()
             ORDER BY next_attempt_at, id
             LIMIT $1
             FOR UPDATE SKIP LOCKED
         )
         UPDATE sync_jobs j
         SET status = 'processing', attempts = j.attempts + 1, locked_at = now(),
             claim_token = $2, updated_at = now()
         FROM due WHERE j.id = due.id
         RETURNING j.id, j.dedupe_key, j.kind, j.payload, j.attempts, j.max_retries",
    )
    .bind(limit)
    .bind(token)
    .fetch_all(pool)
    .await?;
    for row in &mut rows {
        row.claim_token = token;
    }
    Ok(rows)
}

/// Marks a claimed row done. False when the claim was lost (the row was
/// released as stuck meanwhile).
pub async fn mark_done(pool: &PgPool, job: &Claimed) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sync_jobs
         SET status = 'done', locked_at = NULL, claim_token = NULL, last_error = NULL,
             updated_at = now()
         WHERE id = $1 AND claim_token = $2",
    )
    .bind(job.id)
    .bind(job.claim_token)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Records a failed attempt: back to pending with backoff, or `error`
/// `SYNC001` when no retry is left. `None` when the claim was lost.
pub async fn mark_failed(
    pool: &PgPool,
    job: &Claimed,
    error: &str,
) -> Result<Option<AfterFailure>, sqlx::Error> {
    let next = after_failure(job.attempts, job.max_retries);
    let (status, code, delay_ms) = match next {
        AfterFailure::RetryIn(d) => ("pending", None, d.as_millis() as i64),
        AfterFailure::GiveUp => ("error", Some(SYNC_FAILED), 0),
    };
    let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
    let updated = sqlx::query(
        "UPDATE sync_jobs
         SET status = $3, error_code = $4,
             next_attempt_at = now() + $5::bigint * interval '1 millisecond',
             last_error = $6, locked_at = NULL, claim_token = NULL, updated_at = now()
         WHERE id = $1 AND claim_token = $2",
    )
    .bind(job.id)
    .bind(job.claim_token)
    .bind(status)
    .bind(code)
    .bind(delay_ms)
    .bind(error)
    .execute(pool)
    .await?
    .rows_affected();
    Ok((updated == 1).then_some(next))
}

/// Rows `processing` for longer than `stuck_after` go back to `pending`
/// (due now), or to `error` `SYNC001` when their last retry was the one
/// that got stuck. Returns how many rows moved.
pub async fn release_stuck(pool: &PgPool, stuck_after: Duration) -> Result<u64, sqlx::Error> {
    let moved = sqlx::query(
        "UPDATE sync_jobs
         SET status = CASE WHEN attempts > max_retries THEN 'error' ELSE 'pending' END,
             error_code = CASE WHEN attempts > max_retries THEN $2 END,
             next_attempt_at = now(), locked_at = NULL, claim_token = NULL,
             last_error = 'stuck in processing; released', updated_at = now()
         WHERE status = 'processing'
           AND locked_at < now() - $1::bigint * interval '1 millisecond'",
    )
    .bind(stuck_after.as_millis() as i64)
    .bind(SYNC_FAILED)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(moved)
}

/// A row as the admin endpoint shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct JobView {
    pub id: i64,
    pub dedupe_key: String,
    pub kind: String,
    pub payload: Json,
    pub status: String,
    pub attempts: i32,
    pub max_retries: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub locked_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub error_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The newest `limit` rows, optionally of one status.
pub async fn list(
    pool: &PgPool,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<JobView>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, dedupe_key, kind, payload, status, attempts, max_retries, next_attempt_at,
                locked_at, last_error, error_code, created_at, updated_at
         FROM sync_jobs WHERE ($1::text IS NULL OR status = $1)
         ORDER BY id DESC LIMIT $2",
    )
    .bind(status)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Rows per status (every status present, 0 when none).
pub async fn counts(pool: &PgPool) -> Result<BTreeMap<String, i64>, sqlx::Error> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM sync_jobs GROUP BY status")
            .fetch_all(pool)
            .await?;
    let mut counts: BTreeMap<String, i64> = STATUSES.iter().map(|s| (s.to_string(), 0)).collect();
    counts.extend(rows);
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_100ms_times_3_to_the_n_minus_1() {
        let delays: Vec<u128> = (1..=4).map(|n| retry_delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 300, 900, 2700]);
    }

    #[test]
    fn three_retries_then_sync001() {
        assert_eq!(
            after_failure(1, 3),
            AfterFailure::RetryIn(Duration::from_millis(100))
        );
        assert_eq!(
            after_failure(2, 3),
            AfterFailure::RetryIn(Duration::from_millis(300))
        );
        assert_eq!(
            after_failure(3, 3),
            AfterFailure::RetryIn(Duration::from_millis(900))
        );
        assert_eq!(after_failure(4, 3), AfterFailure::GiveUp);
        assert_eq!(after_failure(1, 0), AfterFailure::GiveUp);
    }

    #[test]
    fn ats_is_clamped_at_zero() {
        assert_eq!(ats(100, 20, 10), 70);
        assert_eq!(ats(5, 2, 3), 0);
        assert_eq!(ats(5, 3, 3), 0);
        assert_eq!(ats(5, 50, 0), 0);
        assert_eq!(ats(0, 0, 0), 0);
        assert_eq!(ats(i64::MAX, i64::MIN, 0), i64::MAX);
        assert_eq!(ats(i64::MIN, i64::MAX, i64::MAX), 0);
    }

    #[test]
    fn dedupe_keys_are_per_order_and_sku() {
        assert_eq!(
            inventory_dedupe_key("shopify", "1001", "SKU-0001"),
            "inventory.sync:shopify:1001:SKU-0001"
        );
    }
}
