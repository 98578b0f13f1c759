//! Works the downstream sync queue (`sync_jobs`, see [`crate::sync_queue`]):
//! claims due rows, pushes each to the sink as `{"event_id": dedupe_key,
//! "type": "inventory.sync", sku, on_hand, reserved, buffer, ats, ...}`
//! (the SKU's stock at push time), and records the outcome. Every few
//! seconds rows stuck in `processing` longer than `SYNC_STUCK_AFTER_SECS`
//! are released.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};
use tokio::task::JoinSet;

use super::{deliver, sleep_or_stop, Shutdown, WorkerCtx};
use crate::retry::Backoff;
use crate::sync_queue::{self, AfterFailure, Claimed, KIND_INVENTORY_SYNC};
use crate::telemetry::SYNC_PUSHES;

const BATCH: i64 = 20;
const IDLE_POLL: Duration = Duration::from_millis(100);
const RELEASE_EVERY: Duration = Duration::from_secs(5);
/// How long a finished push keeps trying to record its outcome while
/// Postgres is away (afterwards the row is released as stuck and retried).
const RECORD_DEADLINE: Duration = Duration::from_secs(60);

pub async fn run(ctx: WorkerCtx, mut shutdown: Shutdown) -> anyhow::Result<()> {
    let mut backoff = Backoff::default();
    let mut failing = false;
    let mut last_release: Option<Instant> = None;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        if last_release.is_none_or(|t| t.elapsed() >= RELEASE_EVERY) {
            match sync_queue::release_stuck(&ctx.db, ctx.pipeline.sync_stuck_after).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(released = n, "sync jobs stuck in processing released"),
                Err(e) => tracing::debug!(error = %e, "releasing stuck sync jobs failed"),
            }
            last_release = Some(Instant::now());
        }
        match sync_queue::claim_due(&ctx.db, BATCH).await {
            Ok(jobs) => {
                if failing {
                    tracing::info!("sync queue reachable again");
                    failing = false;
                }
                backoff.reset();
                let claimed = jobs.len();
                let mut pushes = JoinSet::new();
                for job in jobs {
                    pushes.spawn(work(ctx.clone(), job));
                }
                while pushes.join_next().await.is_some() {}
                if (claimed as i64) < BATCH && sleep_or_stop(IDLE_POLL, &mut shutdown).await {
                    return Ok(());
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "sync queue unreachable; retrying");
                    failing = true;
                }
                if sleep_or_stop(backoff.next_delay(), &mut shutdown).await {
                    return Ok(());
                }
            }
        }
    }
}

/// Pushes one job and records the outcome.
async fn work(ctx: WorkerCtx, job: Claimed) {
    let outcome = match document(&ctx, &job).await {
        Ok(doc) => deliver::post_json(&ctx.http, &ctx.pipeline.sink_url, doc.to_string()).await,
        Err(e) => Err(e),
    };
    let mut backoff = Backoff::default();
    let started = Instant::now();
    loop {
        let recorded = match &outcome {
            Ok(()) => sync_queue::mark_done(&ctx.db, &job).await.inspect(|ok| {
                if *ok {
                    metrics::counter!(SYNC_PUSHES, "outcome" => "done").increment(1);
                }
            }),
            Err(reason) => sync_queue::mark_failed(&ctx.db, &job, reason).await.map(|next| {
                match next {
                    Some(AfterFailure::RetryIn(delay)) => {
                        metrics::counter!(SYNC_PUSHES, "outcome" => "retry").increment(1);
                        tracing::info!(job = job.id, attempt = job.attempts, retry_in_ms = delay.as_millis() as u64, reason = %reason, "sync push failed; will retry");
                    }
                    Some(AfterFailure::GiveUp) => {
                        metrics::counter!(SYNC_PUSHES, "outcome" => "error").increment(1);
                        tracing::warn!(job = job.id, attempts = job.attempts, reason = %reason, code = sync_queue::SYNC_FAILED, "sync push gave up");
                    }
                    None => {}
                }
                next.is_some()
            }),
        };
        match recorded {
            Ok(true) => return,
            Ok(false) => {
                tracing::warn!(
                    job = job.id,
                    "sync job was released while being pushed; outcome not recorded"
                );
                return;
            }
            Err(e) if started.elapsed() < RECORD_DEADLINE => {
                tracing::debug!(job = job.id, error = %e, "recording sync outcome failed; retrying");
                backoff.wait().await;
            }
            Err(e) => {
                tracing::warn!(job = job.id, error = %e, "could not record sync outcome; the row will be released as stuck");
                return;
            }
        }
    }
}

/// What is pushed: the job's payload plus the SKU's stock right now.
async fn document(ctx: &WorkerCtx, job: &Claimed) -> Result<Value, String> {
    if job.kind != KIND_INVENTORY_SYNC {
        return Err(format!("unknown job kind {}", job.kind));
    }
    let sku = job
        .payload
        .get("sku")
        .and_then(Value::as_str)
        .ok_or("job payload has no sku")?;
    let stock: Option<(i64, i64, i64)> =
        sqlx::query_as("SELECT on_hand, reserved, buffer FROM inventory WHERE sku = $1")
            .bind(sku)
            .fetch_optional(&ctx.db)
            .await
            .map_err(|e| format!("reading stock failed: {e}"))?;
    let (on_hand, reserved, buffer) = stock.ok_or_else(|| format!("unknown sku {sku}"))?;
    let mut doc = json!({
        "event_id": job.dedupe_key,
        "type": KIND_INVENTORY_SYNC,
        "sku": sku,
        "on_hand": on_hand,
        "reserved": reserved,
        "buffer": buffer,
        "ats": sync_queue::ats(on_hand, reserved, buffer),
        "attempt": job.attempts,
        "pushed_at": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    if let (Some(doc), Some(extra)) = (doc.as_object_mut(), job.payload.as_object()) {
        for (k, v) in extra {
            doc.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(doc)
}
