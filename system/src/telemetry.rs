//! Logs (JSON lines on stdout) and Prometheus metrics for every process.
//!
//! Metric names used across the processes are constants here so dashboards
//! and the harness have one list to read.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use tracing_subscriber::EnvFilter;

pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
pub const DB_POOL_CONNECTIONS: &str = "db_pool_connections";
pub const DB_POOL_IDLE: &str = "db_pool_idle_connections";
pub const DB_POOL_MAX: &str = "db_pool_max_connections";
pub const DB_ERRORS: &str = "db_errors_total";
pub const REDIS_ERRORS: &str = "redis_errors_total";
pub const REDIS_RECONNECTS: &str = "redis_reconnects_total";
pub const REDIS_CONNECTED: &str = "redis_connected";
// Marketplace (api): checkout outcomes, stage changes, rate limits.
/// Checkout requests by `outcome`: created, replayed, insufficient_stock,
/// not_found, idempotency_conflict, invalid.
pub const CHECKOUTS: &str = "checkout_requests_total";
/// Checkouts answered from an earlier order with the same idempotency key.
pub const CHECKOUT_REPLAYS: &str = "checkout_idempotent_replays_total";
/// Checkouts refused with 409 INV001.
pub const CHECKOUT_CONFLICTS: &str = "checkout_insufficient_stock_total";
/// Checkout / stage-change transactions retried after a serialization
/// failure or deadlock.
pub const TX_RETRIES: &str = "order_tx_retries_total";
/// Order stage changes by `to` stage.
pub const STAGE_CHANGES: &str = "order_stage_changes_total";
/// Requests refused with 429, by `profile`.
pub const RATE_LIMIT_DENIED: &str = "rate_limit_denied_total";
/// Requests allowed because Redis could not be asked, by `profile`.
pub const RATE_LIMIT_FAIL_OPEN: &str = "rate_limit_fail_open_total";
/// Defect `outbox_skipped_when_redis_down`: events sent straight to Redis,
/// by `result` (published, lost).
pub const EVENTS_DIRECT: &str = "events_published_directly_total";
// Event pipeline, webhooks and sync queue.
/// Age of the oldest unrelayed outbox row (0 when none); api (sampled every
/// 2 s from Postgres) and worker (at each relay poll).
pub const OUTBOX_LAG_SECONDS: &str = "outbox_lag_seconds";
/// Unrelayed outbox rows (api, sampled).
pub const OUTBOX_UNRELAYED: &str = "outbox_unrelayed_rows";
/// Outbox rows relayed to the stream (worker).
pub const OUTBOX_RELAYED: &str = "outbox_relayed_total";
/// Entries delivered but not acknowledged, by `stream`, `group` (api, sampled).
pub const STREAM_PENDING_COUNT: &str = "stream_pending_count";
/// Entries in a stream, by `stream` (api, sampled).
pub const STREAM_LENGTH: &str = "stream_length";
/// Entries in `{stream}.dlq`, labelled with the original `stream` (api, sampled).
pub const STREAM_DLQ_LENGTH: &str = "stream_dlq_length";
/// Consumer outcomes by `stream`, `group`, `outcome`: delivered,
/// skipped_duplicate, failed_attempt, dead_lettered, claimed (worker).
pub const STREAM_EVENTS: &str = "stream_events_total";
/// Sync jobs by `status` (pending, processing, error; api, sampled).
pub const SYNC_JOBS: &str = "sync_jobs";
/// Sync push outcomes by `outcome`: done, retry, error (worker).
pub const SYNC_PUSHES: &str = "sync_pushes_total";

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// JSON lines on stdout. `RUST_LOG` filters; default `info` with the chatty
/// driver crates at `warn`.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(std::io::stdout)
        .init();
}

/// Installs the process-wide Prometheus recorder and starts its upkeep task.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), LATENCY_BUCKETS)?
        .install_recorder()?;
    describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by method, route template and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by route template"
    );
    describe_gauge!(DB_POOL_CONNECTIONS, "Open Postgres connections in the pool");
    describe_gauge!(DB_POOL_IDLE, "Idle Postgres connections in the pool");
    describe_gauge!(
        DB_POOL_MAX,
        "Configured maximum Postgres connections in the pool"
    );
    describe_counter!(DB_ERRORS, "Postgres calls that failed");
    describe_counter!(REDIS_ERRORS, "Redis calls that failed or timed out");
    describe_counter!(
        REDIS_RECONNECTS,
        "Redis connection recoveries after a failure"
    );
    describe_gauge!(REDIS_CONNECTED, "1 while the last Redis call succeeded");
    // Export the error counters at 0 from the start, so "no errors" is a
    // value and not a missing series.
    for counter in [DB_ERRORS, REDIS_ERRORS, REDIS_RECONNECTS] {
        metrics::counter!(counter).absolute(0);
    }
}

/// What `/metrics` renders: the recorder plus the pools whose gauges it
/// refreshes at scrape time.
#[derive(Clone)]
pub struct MetricsEndpoint {
    pub handle: PrometheusHandle,
    pub pools: Vec<(&'static str, PgPool)>,
}

/// `GET /metrics`, with its own state, to merge into a process's router.
pub fn metrics_router(endpoint: MetricsEndpoint) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(endpoint)
}

async fn render(State(endpoint): State<MetricsEndpoint>) -> impl IntoResponse {
    for (name, pool) in &endpoint.pools {
        let labels = [("pool", *name)];
        metrics::gauge!(DB_POOL_CONNECTIONS, &labels).set(f64::from(pool.size()));
        metrics::gauge!(DB_POOL_IDLE, &labels).set(pool.num_idle() as f64);
        metrics::gauge!(DB_POOL_MAX, &labels).set(f64::from(pool.options().get_max_connections()));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        endpoint.handle.render(),
    )
}
