//! Order operations and the event pipeline in the api process (SYSTEM-SPEC
//! sections 5 and 6): storefront webhooks, inventory, the admin views of
//! the Redis streams and of the sync queue, and the gauges `/metrics` shows
//! for them. These routes carry their own state, merged into the api router.

mod inventory;
mod signature;
mod streams_admin;
mod sync_admin;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use sqlx::PgPool;

use super::ApiState;
use crate::config::{Config, Secret};
use crate::defects::Defects;
use crate::http::AppError;
use crate::redis_conn::{RedisCallError, RedisHandle};
use crate::streams::{dlq_key, is_nogroup, NOTIFY_GROUP, NOTIFY_STREAM};
use crate::telemetry::{
    OUTBOX_LAG_SECONDS, OUTBOX_UNRELAYED, STREAM_DLQ_LENGTH, STREAM_LENGTH, STREAM_PENDING_COUNT,
    SYNC_JOBS,
};

/// How often the pipeline gauges are refreshed.
const GAUGE_EVERY: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct OpsState {
    pub db: PgPool,
    pub redis: RedisHandle,
    pub defects: Arc<Defects>,
    pub admin_token: Option<Secret>,
    pub shopify_secret: Option<Secret>,
}

/// The routes of this slice, with their state; starts the gauge sampler.
pub fn routes(api: &ApiState, cfg: &Config) -> Router {
    let state = OpsState {
        db: api.db.clone(),
        redis: api.redis.clone(),
        defects: api.defects.clone(),
        admin_token: cfg.admin_token.clone(),
        shopify_secret: cfg.pipeline.shopify_webhook_secret.clone(),
    };
    if state.shopify_secret.is_none() {
        tracing::warn!(
            "SHOPIFY_WEBHOOK_SECRET is not set: every storefront webhook will be refused with 401"
        );
    }
    tokio::spawn(sample_gauges(state.clone()));
    Router::new()
        .route("/api/v1/webhooks/shopify", post(webhooks::shopify))
        .route("/api/v1/inventory", get(inventory::show))
        .route("/admin/streams/pending", get(streams_admin::pending))
        .route("/admin/streams/dlq", get(streams_admin::dlq))
        .route("/admin/streams/dlq/requeue", post(streams_admin::requeue))
        .route("/admin/sync/jobs", get(sync_admin::jobs))
        .with_state(state)
}

/// 503 when Redis is unreachable; 500 for a command Redis refused.
pub(crate) fn redis_error(e: RedisCallError) -> AppError {
    match &e {
        RedisCallError::Redis(re)
            if !(re.is_io_error()
                || re.is_connection_dropped()
                || re.is_connection_refusal()
                || re.is_timeout()) =>
        {
            AppError::Internal(format!("redis command failed: {e}"))
        }
        _ => AppError::Unavailable("redis unavailable".to_owned()),
    }
}

/// Refreshes `outbox_lag_seconds`, `outbox_unrelayed_rows`,
/// `stream_pending_count`, `stream_length`, `stream_dlq_length` and
/// `sync_jobs` every [`GAUGE_EVERY`]. Failures leave the last values.
async fn sample_gauges(state: OpsState) {
    let mut tick = tokio::time::interval(GAUGE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let _ = tokio::time::timeout(GAUGE_EVERY, async {
            tokio::join!(sample_postgres(&state.db), sample_redis(&state.redis))
        })
        .await;
    }
}

async fn sample_postgres(db: &PgPool) {
    let lag: Result<(f64, i64), sqlx::Error> = sqlx::query_as(
        "SELECT COALESCE((SELECT EXTRACT(EPOCH FROM now() - created_at)::float8
                          FROM outbox WHERE relayed_at IS NULL ORDER BY id LIMIT 1), 0),
                (SELECT count(*) FROM outbox WHERE relayed_at IS NULL)",
    )
    .fetch_one(db)
    .await;
    match lag {
        Ok((lag, unrelayed)) => {
            metrics::gauge!(OUTBOX_LAG_SECONDS).set(lag.max(0.0));
            metrics::gauge!(OUTBOX_UNRELAYED).set(unrelayed as f64);
        }
        Err(e) => tracing::debug!(error = %e, "outbox gauges not refreshed"),
    }
    let jobs: Result<Vec<(String, i64)>, sqlx::Error> = sqlx::query_as(
        "SELECT s.status, (SELECT count(*) FROM sync_jobs j WHERE j.status = s.status)
         FROM unnest(ARRAY['pending', 'processing', 'error']) AS s(status)",
    )
    .fetch_all(db)
    .await;
    match jobs {
        Ok(rows) => {
            for (status, n) in rows {
                metrics::gauge!(SYNC_JOBS, "status" => status).set(n as f64);
            }
        }
        Err(e) => tracing::debug!(error = %e, "sync job gauges not refreshed"),
    }
}

async fn sample_redis(redis: &RedisHandle) {
    let labels = [("stream", NOTIFY_STREAM), ("group", NOTIFY_GROUP)];
    let mut xpending = redis::cmd("XPENDING");
    xpending.arg(NOTIFY_STREAM).arg(NOTIFY_GROUP);
    match redis.query::<redis::Value>(&xpending).await {
        Ok(redis::Value::Array(parts)) => {
            if let Some(redis::Value::Int(n)) = parts.first() {
                metrics::gauge!(STREAM_PENDING_COUNT, &labels).set(*n as f64);
            }
        }
        Ok(_) => {}
        Err(e) if is_nogroup(&e) => metrics::gauge!(STREAM_PENDING_COUNT, &labels).set(0.0),
        Err(_) => return,
    }
    let mut xlen = redis::cmd("XLEN");
    xlen.arg(NOTIFY_STREAM);
    if let Ok(n) = redis.query::<i64>(&xlen).await {
        metrics::gauge!(STREAM_LENGTH, "stream" => NOTIFY_STREAM).set(n as f64);
    }
    let mut xlen = redis::cmd("XLEN");
    xlen.arg(dlq_key(NOTIFY_STREAM));
    if let Ok(n) = redis.query::<i64>(&xlen).await {
        metrics::gauge!(STREAM_DLQ_LENGTH, "stream" => NOTIFY_STREAM).set(n as f64);
    }
}
