//! The `notify` consumer group on `notify.events`: delivers each event to the
//! sink exactly once, or dead-letters it.
//!
//! One step: (1) create the group if missing (`XGROUP CREATE ... 0
//! MKSTREAM`; again after Redis lost its data, seen as `NOGROUP`); (2) every
//! few seconds claim entries idle longer than `STREAM_CLAIM_IDLE_MS` in any
//! consumer's pending list (`XAUTOCLAIM`, e.g. a dead worker's); (3) re-read
//! this consumer's own pending entries (`XREADGROUP ... 0`) and retry those
//! whose backoff is over; (4) block up to 1 s for new entries (`>`).
//!
//! Per entry (correct order): skip + ack if `idem:...:{event_id}` exists;
//! else POST the event document to the sink; on success set the key (24 h),
//! `XACK` and clear the failure count in one script. On failure `HINCRBY`
//! the entry's count in `stream:notify.events:group:notify:failures`; below
//! 5 the entry stays pending and is retried after `STREAM_RETRY_BASE_MS ×
//! 2^(n−1)` (capped at 30 s); at 5 it is moved to `notify.events.dlq` and
//! acked in one script.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::{deliver, sleep_or_stop, Shutdown, WorkerCtx};
use crate::redis_conn::{RedisCallError, RedisHandle};
use crate::retry::Backoff;
use crate::streams::{
    dlq_key, failures_key, idem_key, is_nogroup, parse_read_reply, DeadLetter, Entry,
    IDEM_TTL_SECS, MAX_FAILURES, NOTIFY_GROUP, NOTIFY_STREAM,
};
use crate::telemetry::STREAM_EVENTS;

mod housekeeping;
mod policy;

use policy::{event_of, idempotency_order, retry_delay, IdempotencyOrder};

/// Longest `BLOCK` of a read; the connection's timeout must exceed it.
const BLOCK: Duration = Duration::from_millis(1000);
/// Timeout of every command on the consumer's own connection.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);
const READ_COUNT: usize = 50;
const PENDING_PAGE: usize = 100;
const CLAIM_EVERY: Duration = Duration::from_secs(2);

/// Ack (after setting the idempotency key, if given) and forget failures.
/// KEYS: stream, failures, idem. ARGV: group, id, ttl ('' = no key).
const ACK_SCRIPT: &str = r#"
if ARGV[3] ~= '' then redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[3]) end
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
return n
"#;

/// Dead-letter: ack, add to the DLQ, forget failures; nothing if the entry
/// was acked meanwhile. KEYS: stream, failures, dlq. ARGV: group, id, then
/// the DLQ entry's field/value pairs.
const DLQ_SCRIPT: &str = r#"
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[3], '*', unpack(ARGV, 3))
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"#;

fn count(outcome: &'static str) {
    metrics::counter!(STREAM_EVENTS, "stream" => NOTIFY_STREAM, "group" => NOTIFY_GROUP, "outcome" => outcome)
        .increment(1);
}

pub struct Consumer {
    redis: RedisHandle,
    ctx: WorkerCtx,
    name: String,
    group_ready: bool,
    /// When each of our failed pending entries may be retried.
    retry_at: HashMap<String, Instant>,
    last_claim: Option<Instant>,
    last_housekeeping: Option<Instant>,
}

pub async fn run(ctx: WorkerCtx, mut shutdown: Shutdown) -> anyhow::Result<()> {
    let redis = RedisHandle::connect_in_background(&ctx.redis_url, COMMAND_TIMEOUT)?;
    let name = consumer_name(&ctx);
    tracing::info!(consumer = %name, stream = NOTIFY_STREAM, group = NOTIFY_GROUP, "stream consumer starting");
    let mut consumer = Consumer {
        redis,
        ctx,
        name,
        group_ready: false,
        retry_at: HashMap::new(),
        last_claim: None,
        last_housekeeping: None,
    };
    let mut backoff = Backoff::default();
    let mut failing = false;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        match consumer.step(&shutdown).await {
            Ok(()) => {
                if failing {
                    tracing::info!("stream consumer recovered");
                    failing = false;
                }
                backoff.reset();
            }
            Err(e) if is_nogroup(&e) => {
                tracing::warn!("consumer group missing (Redis lost its data?); recreating it");
                consumer.group_ready = false;
                consumer.retry_at.clear();
            }
            Err(RedisCallError::NotConnected) => {
                if sleep_or_stop(backoff.next_delay(), &mut shutdown).await {
                    return Ok(());
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "stream consumer failing; entries stay pending");
                    failing = true;
                }
                if sleep_or_stop(backoff.next_delay(), &mut shutdown).await {
                    return Ok(());
                }
            }
        }
    }
}

/// `{hostname}-{first 8 of the instance id}`: unique per process start. A
/// restarted worker's old pending entries are claimed after the idle time.
fn consumer_name(ctx: &WorkerCtx) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    let id = ctx.instance_id.simple().to_string();
    format!("{host}-{}", &id[..8])
}

impl Consumer {
    async fn step(&mut self, shutdown: &Shutdown) -> Result<(), RedisCallError> {
        if !self.group_ready {
            self.ensure_group().await?;
        }
        if self.last_claim.is_none_or(|t| t.elapsed() >= CLAIM_EVERY) {
            self.claim_idle().await?;
            self.last_claim = Some(Instant::now());
        }
        if self
            .last_housekeeping
            .is_none_or(|t| t.elapsed() >= housekeeping::EVERY)
        {
            housekeeping::run(&self.redis, &self.name).await;
            self.last_housekeeping = Some(Instant::now());
        }
        let next_due = self.process_own_pending(shutdown).await?;
        let block = next_due
            .map(|at| at.saturating_duration_since(Instant::now()))
            .map_or(BLOCK, |d| d.min(BLOCK))
            .max(Duration::from_millis(10));
        let mut read = redis::cmd("XREADGROUP");
        read.arg("GROUP")
            .arg(NOTIFY_GROUP)
            .arg(&self.name)
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(block.as_millis() as u64)
            .arg("STREAMS")
            .arg(NOTIFY_STREAM)
            .arg(">");
        let reply: redis::Value = self.redis.query(&read).await?;
        let entries = parse_read_reply(&reply).map_err(protocol_error)?;
        for entry in &entries {
            if *shutdown.borrow() {
                break;
            }
            self.handle(entry).await?;
        }
        Ok(())
    }

    async fn ensure_group(&mut self) -> Result<(), RedisCallError> {
        let mut create = redis::cmd("XGROUP");
        create
            .arg("CREATE")
            .arg(NOTIFY_STREAM)
            .arg(NOTIFY_GROUP)
            .arg("0")
            .arg("MKSTREAM");
        match self.redis.query::<()>(&create).await {
            Ok(()) => tracing::info!(
                stream = NOTIFY_STREAM,
                group = NOTIFY_GROUP,
                "consumer group created"
            ),
            Err(RedisCallError::Redis(e)) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
        self.group_ready = true;
        Ok(())
    }

    /// Takes over entries idle longer than the threshold in any consumer's
    /// pending list; they are then handled as our own pending entries.
    async fn claim_idle(&mut self) -> Result<(), RedisCallError> {
        let idle_ms = self.ctx.pipeline.stream_claim_idle.as_millis() as u64;
        let mut cursor = "0-0".to_owned();
        for _ in 0..10 {
            let mut claim = redis::cmd("XAUTOCLAIM");
            claim
                .arg(NOTIFY_STREAM)
                .arg(NOTIFY_GROUP)
                .arg(&self.name)
                .arg(idle_ms)
                .arg(&cursor)
                .arg("COUNT")
                .arg(100)
                .arg("JUSTID");
            let reply: redis::Value = self.redis.query(&claim).await?;
            let (next, ids) =
                crate::streams::parse_autoclaim_justid(&reply).map_err(protocol_error)?;
            if !ids.is_empty() {
                tracing::info!(claimed = ids.len(), idle_ms, "claimed idle pending entries");
                for id in &ids {
                    self.retry_at.remove(id);
                    count("claimed");
                }
            }
            if next == "0-0" {
                break;
            }
            cursor = next;
        }
        Ok(())
    }

    /// Handles our pending entries whose retry time has come; returns the
    /// earliest retry time still ahead.
    async fn process_own_pending(
        &mut self,
        shutdown: &Shutdown,
    ) -> Result<Option<Instant>, RedisCallError> {
        let mut start = "0".to_owned();
        let mut seen = HashSet::new();
        let mut next_due: Option<Instant> = None;
        loop {
            let mut read = redis::cmd("XREADGROUP");
            read.arg("GROUP")
                .arg(NOTIFY_GROUP)
                .arg(&self.name)
                .arg("COUNT")
                .arg(PENDING_PAGE)
                .arg("STREAMS")
                .arg(NOTIFY_STREAM)
                .arg(&start);
            let reply: redis::Value = self.redis.query(&read).await?;
            let entries = parse_read_reply(&reply).map_err(protocol_error)?;
            for entry in &entries {
                start.clone_from(&entry.id);
                seen.insert(entry.id.clone());
                if let Some(at) = self.retry_at.get(&entry.id).copied() {
                    if at > Instant::now() {
                        next_due = Some(next_due.map_or(at, |n| n.min(at)));
                        continue;
                    }
                }
                if *shutdown.borrow() {
                    return Ok(None);
                }
                self.handle(entry).await?;
            }
            if entries.len() < PENDING_PAGE {
                break;
            }
        }
        self.retry_at.retain(|id, _| seen.contains(id));
        Ok(next_due)
    }

    async fn handle(&mut self, entry: &Entry) -> Result<(), RedisCallError> {
        if entry.fields.is_none() {
            // Deleted from the stream while pending: nothing left to deliver.
            self.ack(&entry.id, None).await?;
            return Ok(());
        }
        let (event_id, data) = match event_of(entry) {
            Ok(event) => event,
            Err(reason) => {
                let payload = entry.field("data").unwrap_or_default().to_owned();
                tracing::warn!(id = %entry.id, reason, "malformed stream entry; dead-lettering it");
                return self.dead_letter(&entry.id, payload, reason).await;
            }
        };
        let idem = idem_key(NOTIFY_STREAM, NOTIFY_GROUP, &event_id);
        match idempotency_order(&self.ctx.defects) {
            IdempotencyOrder::AfterDelivery => {
                let mut exists = redis::cmd("EXISTS");
                exists.arg(&idem);
                if self.redis.query::<i64>(&exists).await? == 1 {
                    self.ack(&entry.id, None).await?;
                    count("skipped_duplicate");
                    return Ok(());
                }
                match deliver::post_json(&self.ctx.http, &self.ctx.pipeline.sink_url, data.clone())
                    .await
                {
                    Ok(()) => {
                        self.ack(&entry.id, Some(&idem)).await?;
                        count("delivered");
                    }
                    Err(reason) => self.failed(&entry.id, data, reason).await?,
                }
            }
            IdempotencyOrder::BeforeDelivery => {
                let mut set = redis::cmd("SET");
                set.arg(&idem)
                    .arg("1")
                    .arg("NX")
                    .arg("EX")
                    .arg(IDEM_TTL_SECS);
                let fresh: Option<String> = self.redis.query(&set).await?;
                if fresh.is_none() {
                    self.ack(&entry.id, None).await?;
                    count("skipped_duplicate");
                    return Ok(());
                }
                match deliver::post_json(&self.ctx.http, &self.ctx.pipeline.sink_url, data.clone())
                    .await
                {
                    Ok(()) => {
                        self.ack(&entry.id, None).await?;
                        count("delivered");
                    }
                    Err(reason) => self.failed(&entry.id, data, reason).await?,
                }
            }
        }
        Ok(())
    }

    async fn ack(&self, id: &str, idem: Option<&str>) -> Result<(), RedisCallError> {
        let mut eval = redis::cmd("EVAL");
        eval.arg(ACK_SCRIPT)
            .arg(3)
            .arg(NOTIFY_STREAM)
            .arg(failures_key(NOTIFY_STREAM, NOTIFY_GROUP))
            .arg(idem.unwrap_or(""))
            .arg(NOTIFY_GROUP)
            .arg(id)
            .arg(idem.map(|_| IDEM_TTL_SECS.to_string()).unwrap_or_default());
        self.redis.query::<i64>(&eval).await?;
        Ok(())
    }

    async fn failed(
        &mut self,
        id: &str,
        data: String,
        reason: String,
    ) -> Result<(), RedisCallError> {
        count("failed_attempt");
        let mut incr = redis::cmd("HINCRBY");
        incr.arg(failures_key(NOTIFY_STREAM, NOTIFY_GROUP))
            .arg(id)
            .arg(1);
        let failures: u64 = self.redis.query(&incr).await?;
        if failures >= MAX_FAILURES {
            return self.dead_letter(id, data, reason).await;
        }
        let delay = retry_delay(self.ctx.pipeline.stream_retry_base, failures);
        tracing::info!(id, failures, retry_in_ms = delay.as_millis() as u64, reason = %reason, "delivery failed; will retry");
        self.retry_at.insert(id.to_owned(), Instant::now() + delay);
        // Reset the entry's idle time: we are alive and retrying it, so
        // other consumers should not claim it.
        let mut touch = redis::cmd("XCLAIM");
        touch
            .arg(NOTIFY_STREAM)
            .arg(NOTIFY_GROUP)
            .arg(&self.name)
            .arg(0)
            .arg(id)
            .arg("JUSTID");
        let _ = self.redis.query::<redis::Value>(&touch).await;
        Ok(())
    }

    async fn dead_letter(
        &mut self,
        id: &str,
        payload: String,
        error: String,
    ) -> Result<(), RedisCallError> {
        let letter = DeadLetter {
            original_stream: NOTIFY_STREAM.to_owned(),
            group: NOTIFY_GROUP.to_owned(),
            id: id.to_owned(),
            payload,
            error,
            ts: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let mut eval = redis::cmd("EVAL");
        eval.arg(DLQ_SCRIPT)
            .arg(3)
            .arg(NOTIFY_STREAM)
            .arg(failures_key(NOTIFY_STREAM, NOTIFY_GROUP))
            .arg(dlq_key(NOTIFY_STREAM))
            .arg(NOTIFY_GROUP)
            .arg(id);
        for (field, value) in letter.fields() {
            eval.arg(field).arg(value);
        }
        let moved: i64 = self.redis.query(&eval).await?;
        self.retry_at.remove(id);
        if moved == 1 {
            count("dead_lettered");
            tracing::warn!(id, error = %letter.error, dlq = %dlq_key(NOTIFY_STREAM), "entry dead-lettered after failed deliveries");
        }
        Ok(())
    }
}

fn protocol_error(message: String) -> RedisCallError {
    RedisCallError::Redis(redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "unexpected reply",
        message,
    )))
}
