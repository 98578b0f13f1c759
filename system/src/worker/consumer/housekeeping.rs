//! Once a minute: trim `notify.events` of entries every group has
//! acknowledged and that are older than an hour (`XTRIM MINID`, never past a
//! pending entry or a group's read position), and forget consumers that have
//! been idle for an hour with nothing pending (each worker start adds one).
//! Failures are logged and retried next time.

use std::time::Duration;

use redis::streams::{StreamInfoConsumersReply, StreamInfoGroupsReply, StreamPendingReply};

use crate::redis_conn::{RedisCallError, RedisHandle};
use crate::streams::{safe_trim_min_id, NOTIFY_GROUP, NOTIFY_STREAM};

pub const EVERY: Duration = Duration::from_secs(60);
/// Acknowledged entries are kept this long (for inspection).
const RETENTION: Duration = Duration::from_secs(3600);
const DEAD_CONSUMER_IDLE: Duration = Duration::from_secs(3600);

pub async fn run(redis: &RedisHandle, me: &str) {
    if let Err(e) = trim(redis).await {
        tracing::debug!(error = %e, "stream trim skipped");
    }
    if let Err(e) = forget_dead_consumers(redis, me).await {
        tracing::debug!(error = %e, "consumer cleanup skipped");
    }
}

async fn trim(redis: &RedisHandle) -> Result<(), RedisCallError> {
    let mut info = redis::cmd("XINFO");
    info.arg("GROUPS").arg(NOTIFY_STREAM);
    let groups: StreamInfoGroupsReply = redis.query(&info).await?;
    let mut positions = Vec::new();
    for group in &groups.groups {
        let mut pending = redis::cmd("XPENDING");
        pending.arg(NOTIFY_STREAM).arg(&group.name);
        let first = match redis.query::<StreamPendingReply>(&pending).await? {
            StreamPendingReply::Empty => None,
            StreamPendingReply::Data(d) => Some(d.start_id),
        };
        positions.push((group.last_delivered_id.clone(), first));
    }
    let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let Some(min_id) = safe_trim_min_id(&positions, now_ms, RETENTION.as_millis() as u64) else {
        return Ok(());
    };
    let mut xtrim = redis::cmd("XTRIM");
    xtrim.arg(NOTIFY_STREAM).arg("MINID").arg("~").arg(&min_id);
    let removed: u64 = redis.query(&xtrim).await?;
    if removed > 0 {
        tracing::info!(removed, min_id, "trimmed acknowledged stream entries");
    }
    Ok(())
}

async fn forget_dead_consumers(redis: &RedisHandle, me: &str) -> Result<(), RedisCallError> {
    let mut info = redis::cmd("XINFO");
    info.arg("CONSUMERS").arg(NOTIFY_STREAM).arg(NOTIFY_GROUP);
    let consumers: StreamInfoConsumersReply = redis.query(&info).await?;
    for c in consumers.consumers {
        if c.name != me && c.pending == 0 && c.idle as u128 > DEAD_CONSUMER_IDLE.as_millis() {
            let mut del = redis::cmd("XGROUP");
            del.arg("DELCONSUMER")
                .arg(NOTIFY_STREAM)
                .arg(NOTIFY_GROUP)
                .arg(&c.name);
            redis.query::<i64>(&del).await?;
            tracing::info!(consumer = %c.name, "forgot idle consumer with nothing pending");
        }
    }
    Ok(())
}
