//! The `worker` process: background tasks against Redis and Postgres.
//!
//! Tasks, each an `async fn(WorkerCtx, Shutdown) -> anyhow::Result<()>`
//! running until shutdown:
//! - `heartbeat`: `SET worker:heartbeat {instance_id, ts} EX 10` every second;
//! - `outbox-relay` ([`relay`]): outbox rows → stream `notify.events`;
//! - `notify-consumer` ([`consumer`]): group `notify` → the sink, DLQ;
//! - `sync-queue` ([`sync`]): `sync_jobs` → the sink, with retries.
//!
//! Every task survives Redis and Postgres outages by itself (errors are
//! logged once per outage and retried with backoff), so a task returning is
//! a bug: it stops the worker and PM2 restarts it. The worker also serves
//! `/metrics`, `/health` and `/v1/meta` on `WORKER_METRICS_ADDR`.

mod consumer;
mod deliver;
mod relay;
mod sync;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::config::{Config, Secret};
use crate::defects::Defects;
use crate::identity::{meta_router, Identity, VERSION};
use crate::pipeline_config::PipelineConfig;
use crate::redis_conn::{RedisCallError, RedisHandle, DEFAULT_COMMAND_TIMEOUT};
use crate::telemetry::{self, metrics_router, MetricsEndpoint};
use crate::{db, http};

pub const HEARTBEAT_KEY: &str = "worker:heartbeat";
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
const HEARTBEAT_TTL_SECS: u64 = 10;
const POOL_SIZE: u32 = 5;
/// How long tasks get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What every worker task can use.
#[derive(Clone)]
pub struct WorkerCtx {
    /// Shared connection for short commands (never `BLOCK`).
    pub redis: RedisHandle,
    /// For tasks that open their own connection (blocking reads).
    pub redis_url: Secret,
    pub db: PgPool,
    pub http: reqwest::Client,
    pub instance_id: Uuid,
    pub defects: Defects,
    pub pipeline: Arc<PipelineConfig>,
}

/// Resolves when the worker is asked to stop.
pub type Shutdown = watch::Receiver<bool>;

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let identity = Arc::new(Identity::new("worker"));
    let metrics = telemetry::install_metrics()?;
    let redis_url = cfg.redis_url("worker")?.clone();
    let ctx = WorkerCtx {
        redis: RedisHandle::connect_in_background(&redis_url, DEFAULT_COMMAND_TIMEOUT)?,
        redis_url,
        db: db::app_pool(cfg.database_url("worker")?, "gauntlet-worker", POOL_SIZE)?,
        http: deliver::client()?,
        instance_id: identity.instance_id,
        defects: cfg.defects.clone(),
        pipeline: Arc::new(cfg.pipeline.clone()),
    };
    let listener = http::bind(
        "worker",
        "WORKER_METRICS_ADDR",
        cfg.pipeline.worker_metrics_addr,
    )
    .await?;
    tracing::info!(
        instance_id = %identity.instance_id,
        defects = %cfg.defects,
        sink_url = %crate::config::redact_url(cfg.pipeline.sink_url.as_str()),
        "starting worker"
    );
    let pool = ctx.db.clone();
    tokio::spawn(async move { db::wait_until_reachable(&pool, "worker").await });

    let (stop, shutdown) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(named("heartbeat", heartbeat(ctx.clone(), shutdown.clone())));
    tasks.spawn(named(
        "outbox-relay",
        relay::run(ctx.clone(), shutdown.clone()),
    ));
    tasks.spawn(named(
        "notify-consumer",
        consumer::run(ctx.clone(), shutdown.clone()),
    ));
    tasks.spawn(named(
        "sync-queue",
        sync::run(ctx.clone(), shutdown.clone()),
    ));
    let app = http::with_common_layers(
        Router::new()
            .route(
                "/health",
                get(|| async { Json(json!({"ok": true, "version": VERSION})) }),
            )
            .merge(meta_router(identity))
            .merge(metrics_router(MetricsEndpoint {
                handle: metrics,
                pools: vec![("app", ctx.db.clone())],
            }))
            .fallback(http::not_found_json),
    );
    tasks.spawn(named(
        "metrics-http",
        serve_metrics(listener, app, shutdown.clone()),
    ));

    tokio::select! {
        () = http::shutdown_signal() => {}
        Some(done) = tasks.join_next() => {
            let (name, result) = done?;
            result.map_err(|e| e.context(format!("worker task {name} failed")))?;
            anyhow::bail!("worker task {name} stopped unexpectedly");
        }
    }
    let _ = stop.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while let Some(done) = tasks.join_next().await {
            if let Ok((name, Err(e))) = done {
                tracing::error!(task = name, error = %format!("{e:#}"), "task failed while stopping");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("worker tasks did not stop within {DRAIN_TIMEOUT:?}; exiting anyway");
    }
    tracing::info!("worker stopped");
    Ok(())
}

async fn named<F>(name: &'static str, task: F) -> (&'static str, anyhow::Result<()>)
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    (name, task.await)
}

/// Serves the worker's metrics until the shutdown signal.
async fn serve_metrics(
    listener: tokio::net::TcpListener,
    app: Router,
    mut shutdown: Shutdown,
) -> anyhow::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "worker metrics listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await?;
    Ok(())
}

/// Sleeps for `delay`; returns true (at once) if shutdown was requested.
pub async fn sleep_or_stop(delay: Duration, shutdown: &mut Shutdown) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

/// Every second: `SET worker:heartbeat {instance_id, ts} EX 10`. Failures
/// are retried on the next tick; the Redis handle logs loss and recovery.
pub async fn heartbeat(ctx: WorkerCtx, mut shutdown: Shutdown) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return Ok(()),
        }
        let value = json!({
            "instance_id": ctx.instance_id,
            "ts": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        })
        .to_string();
        let mut cmd = redis::cmd("SET");
        cmd.arg(HEARTBEAT_KEY)
            .arg(value)
            .arg("EX")
            .arg(HEARTBEAT_TTL_SECS);
        match ctx.redis.query::<()>(&cmd).await {
            Ok(()) => {}
            Err(RedisCallError::NotConnected) => {
                tracing::debug!("heartbeat skipped: redis not connected yet")
            }
            Err(e) => tracing::debug!(error = %e, "heartbeat failed"),
        }
    }
}
