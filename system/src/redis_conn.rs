//! Redis: one multiplexed [`ConnectionManager`] per process, connected in the
//! background so a process starts (and reports Redis as down) while Redis is
//! not up yet, and reconnecting by itself after Redis restarts.
//!
//! Every call goes through [`RedisHandle::query`], which bounds it with a
//! timeout and keeps the `redis_*` metrics: an error marks the connection
//! down; the next success after that counts as a reconnect.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, FromRedisValue};
use tokio::sync::OnceCell;

use crate::config::{ConfigError, Secret};
use crate::retry::Backoff;
use crate::telemetry::{REDIS_CONNECTED, REDIS_ERRORS, REDIS_RECONNECTS};

/// Upper bound for one command, including waiting for a reconnect.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(1500);

/// Why a Redis call failed.
#[derive(Debug, thiserror::Error)]
pub enum RedisCallError {
    #[error("redis not connected yet")]
    NotConnected,
    #[error("redis call timed out after {0:?}")]
    Timeout(Duration),
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
}

#[derive(Clone)]
pub struct RedisHandle {
    inner: Arc<Inner>,
}

struct Inner {
    manager: OnceCell<ConnectionManager>,
    healthy: AtomicBool,
    timeout: Duration,
}

impl RedisHandle {
    /// Validates `url` now and connects in a background task that retries
    /// with backoff until Redis answers.
    pub fn connect_in_background(url: &Secret, timeout: Duration) -> Result<Self, ConfigError> {
        let client = Client::open(url.expose()).map_err(|e| ConfigError::Invalid {
            var: "REDIS_URL",
            value: url.redacted(),
            reason: format!("{e}; expected redis://HOST:PORT[/DB]"),
        })?;
        let handle = RedisHandle {
            inner: Arc::new(Inner {
                manager: OnceCell::new(),
                healthy: AtomicBool::new(false),
                timeout,
            }),
        };
        metrics::gauge!(REDIS_CONNECTED).set(0.0);
        let inner = handle.inner.clone();
        let shown = url.redacted();
        tokio::spawn(async move {
            let mut backoff = Backoff::default();
            loop {
                match ConnectionManager::new_with_config(client.clone(), manager_config()).await {
                    Ok(manager) => {
                        let _ = inner.manager.set(manager);
                        inner.healthy.store(true, Ordering::Relaxed);
                        metrics::gauge!(REDIS_CONNECTED).set(1.0);
                        tracing::info!(redis = %shown, "redis connected");
                        return;
                    }
                    Err(e) => {
                        metrics::counter!(REDIS_ERRORS).increment(1);
                        tracing::warn!(redis = %shown, error = %e, retry_in_ms = backoff.peek().as_millis() as u64, "redis not reachable yet; retrying");
                        backoff.wait().await;
                    }
                }
            }
        });
        Ok(handle)
    }

    /// Runs `cmd`, bounded by the handle's timeout, and records the outcome.
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, RedisCallError> {
        let result = match self.inner.manager.get() {
            None => Err(RedisCallError::NotConnected),
            Some(manager) => {
                let mut conn = manager.clone();
                match tokio::time::timeout(self.inner.timeout, cmd.query_async(&mut conn)).await {
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(e)) => Err(RedisCallError::Redis(e)),
                    Err(_) => Err(RedisCallError::Timeout(self.inner.timeout)),
                }
            }
        };
        self.record(result.as_ref().err());
        result
    }

    /// `PING`.
    pub async fn ping(&self) -> Result<(), RedisCallError> {
        let _: String = self.query(&redis::cmd("PING")).await?;
        Ok(())
    }

    fn record(&self, error: Option<&RedisCallError>) {
        match error {
            // Not connected yet is the start-up state, not a new failure.
            Some(RedisCallError::NotConnected) => {}
            Some(e) => {
                metrics::counter!(REDIS_ERRORS).increment(1);
                if self.inner.healthy.swap(false, Ordering::Relaxed) {
                    metrics::gauge!(REDIS_CONNECTED).set(0.0);
                    tracing::warn!(error = %e, "redis connection lost");
                }
            }
            None => {
                if !self.inner.healthy.swap(true, Ordering::Relaxed) {
                    metrics::counter!(REDIS_RECONNECTS).increment(1);
                    metrics::gauge!(REDIS_CONNECTED).set(1.0);
                    tracing::info!("redis connection restored");
                }
            }
        }
    }
}

/// Short reconnect attempts: the default backoff (factor 100 ms, 6 tries,
/// no cap) can leave the manager asleep for minutes after Redis is back.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(1))
        .set_response_timeout(Duration::from_secs(5))
        .set_number_of_retries(1)
        .set_factor(2)
        .set_max_delay(500)
}
