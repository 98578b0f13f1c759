//! The outbox relay: unrelayed `outbox` rows → `XADD notify.events * event_id
//! <uuid> data <json>`, oldest first.
//!
//! Each batch is one transaction: the rows are locked with `FOR UPDATE SKIP
//! LOCKED` (several workers share the work without relaying a row twice),
//! XADDed one by one, and only the rows Redis acknowledged are marked
//! `relayed_at`. Redis down → the XADD fails, nothing is marked, the batch
//! is retried with backoff: events wait, they are never lost. If the commit
//! fails after Redis took an entry, the row is relayed again later; the
//! consumer's idempotency key (and the sink's dedupe) absorb the copy.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{sleep_or_stop, Shutdown, WorkerCtx};
use crate::retry::Backoff;
use crate::streams::NOTIFY_STREAM;
use crate::telemetry::{OUTBOX_LAG_SECONDS, OUTBOX_RELAYED};

/// Rows per transaction.
const BATCH: i64 = 200;
/// Pause when the outbox is empty.
const IDLE_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("postgres: {0}")]
    Db(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] crate::redis_conn::RedisCallError),
}

pub async fn run(ctx: WorkerCtx, mut shutdown: Shutdown) -> anyhow::Result<()> {
    let mut backoff = Backoff::default();
    let mut failing = false;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        match relay_batch(&ctx).await {
            Ok(relayed) => {
                if failing {
                    tracing::info!("outbox relay recovered");
                    failing = false;
                }
                backoff.reset();
                if relayed < BATCH as usize && sleep_or_stop(IDLE_POLL, &mut shutdown).await {
                    return Ok(());
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "outbox relay failing; events wait in the outbox");
                    failing = true;
                } else {
                    tracing::debug!(error = %e, "outbox relay still failing");
                }
                if sleep_or_stop(backoff.next_delay(), &mut shutdown).await {
                    return Ok(());
                }
            }
        }
    }
}

/// Relays one batch; returns how many rows were relayed. On a Redis error
/// the rows XADDed before it are still marked.
async fn relay_batch(ctx: &WorkerCtx) -> Result<usize, RelayError> {
    let mut tx = ctx.db.begin().await?;
    let rows: Vec<(i64, Uuid, Value, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, event_id, payload, created_at FROM outbox
         WHERE relayed_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let lag = rows
        .first()
        .map(|(_, _, _, created)| (Utc::now() - *created).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    metrics::gauge!(OUTBOX_LAG_SECONDS).set(lag);
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let mut relayed = Vec::with_capacity(rows.len());
    let mut failure = None;
    for (id, event_id, payload, _) in &rows {
        let mut xadd = redis::cmd("XADD");
        xadd.arg(NOTIFY_STREAM)
            .arg("*")
            .arg("event_id")
            .arg(event_id.to_string())
            .arg("data")
            .arg(payload.to_string());
        match ctx.redis.query::<String>(&xadd).await {
            Ok(_) => relayed.push(*id),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if !relayed.is_empty() {
        sqlx::query("UPDATE outbox SET relayed_at = now() WHERE id = ANY($1)")
            .bind(&relayed)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    metrics::counter!(OUTBOX_RELAYED).increment(relayed.len() as u64);
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(relayed.len()),
    }
}
