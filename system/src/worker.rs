//! The `worker` process: background tasks against Redis and Postgres.
//!
//! Each task is an `async fn(WorkerCtx, Shutdown) -> anyhow::Result<()>`
//! that runs until shutdown. A task that returns an error stops the worker
//! (PM2 restarts it). Today there is the heartbeat; the outbox relay and the
//! stream consumers join [`run`]'s task list the same way.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::config::Config;
use crate::defects::Defects;
use crate::identity::Identity;
use crate::redis_conn::{RedisCallError, RedisHandle, DEFAULT_COMMAND_TIMEOUT};
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
    pub redis: RedisHandle,
    pub db: PgPool,
    pub instance_id: Uuid,
    pub defects: Defects,
}

/// Resolves when the worker is asked to stop.
pub type Shutdown = watch::Receiver<bool>;

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let identity = Identity::new("worker");
    let ctx = WorkerCtx {
        redis: RedisHandle::connect_in_background(
            cfg.redis_url("worker")?,
            DEFAULT_COMMAND_TIMEOUT,
        )?,
        db: db::app_pool(cfg.database_url("worker")?, "gauntlet-worker", POOL_SIZE)?,
        instance_id: identity.instance_id,
        defects: cfg.defects.clone(),
    };
    tracing::info!(instance_id = %identity.instance_id, defects = %cfg.defects, "starting worker");
    let pool = ctx.db.clone();
    tokio::spawn(async move { db::wait_until_reachable(&pool, "worker").await });

    let (stop, shutdown) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(named("heartbeat", heartbeat(ctx.clone(), shutdown.clone())));

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
