//! The drill's Redis check: Redis's files (RDB and AOF) are copied at
//! backup time, restored into fresh Redis containers, and every stream's
//! length (the event stream, its DLQ) must match what Redis had when the
//! copy was taken.
//!
//! The copy is consistent: writes are paused (`CLIENT PAUSE WRITE`) while
//! the lengths are read, the RDB is saved and the files are copied, then
//! resumed. Two restores: the RDB alone (`appendonly no`), and the AOF the
//! way the stack runs Redis (`appendonly yes`, which ignores the RDB).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use gauntlet_harness::stack::Stack;

/// Streams the spec names (SYSTEM-SPEC section 6); always measured, so a
/// stream that is absent on one side and present on the other shows.
const KNOWN_STREAMS: [&str; 2] = ["notify.events", "notify.events.dlq"];

/// Every stream key with its length (read-only script: allowed while
/// writes are paused, one round trip).
const STREAM_LENGTHS_LUA: &str = "\
local out = {}
local cursor = '0'
repeat
  local page = redis.call('SCAN', cursor, 'TYPE', 'stream', 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    table.insert(out, key)
    table.insert(out, redis.call('XLEN', key))
  end
until cursor == '0'
for _, key in ipairs(ARGV) do
  if redis.call('EXISTS', key) == 0 then
    table.insert(out, key)
    table.insert(out, 0)
  end
end
return out";

/// Redis's files and its stream lengths, taken together.
pub struct RedisCopy {
    /// `/data` as a tar archive (dump.rdb, appendonlydir/).
    tar: Vec<u8>,
    pub lengths: BTreeMap<String, u64>,
    pub bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RedisRestore {
    /// `rdb` or `aof`.
    pub mode: String,
    pub expected: BTreeMap<String, u64>,
    pub found: BTreeMap<String, u64>,
    pub millis: u64,
    pub passed: bool,
    pub detail: String,
}

async fn redis_cli(stack: &Stack, container: &str, args: &[&str]) -> Result<String, String> {
    let mut argv = vec!["redis-cli"];
    argv.extend_from_slice(args);
    let out = stack
        .exec(container, &argv)
        .await
        .map_err(|e| format!("redis-cli {} in {container}: {e}", args.join(" ")))?;
    if out.exit_code != 0 || out.stdout.starts_with("ERR") || out.stdout.starts_with("LOADING") {
        return Err(format!(
            "redis-cli {} in {container}: {}{}",
            args.first().unwrap_or(&""),
            out.stdout.trim(),
            out.stderr.trim()
        ));
    }
    Ok(out.stdout)
}

async fn stream_lengths(stack: &Stack, container: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut args = vec!["EVAL_RO", STREAM_LENGTHS_LUA, "0"];
    args.extend(KNOWN_STREAMS);
    let text = redis_cli(stack, container, &args).await?;
    let lines: Vec<&str> = text.lines().collect();
    let mut lengths = BTreeMap::new();
    for pair in lines.chunks(2) {
        if let [key, length] = pair {
            let length = length
                .trim()
                .parse()
                .map_err(|_| format!("stream {key}: length `{length}` is not a number"))?;
            lengths.insert(key.to_string(), length);
        }
    }
    Ok(lengths)
}

/// Pauses writes, reads every stream's length, saves the RDB, copies
/// `/data` out of the redis `service`, and resumes writes (also when a
/// step fails; the pause expires by itself after 30 s in any case).
pub async fn copy(stack: &Stack, service: &str) -> Result<RedisCopy, String> {
    redis_cli(stack, service, &["CLIENT", "PAUSE", "30000", "WRITE"]).await?;
    let taken = async {
        let lengths = stream_lengths(stack, service).await?;
        redis_cli(stack, service, &["SAVE"]).await?;
        let tar = stack
            .copy_out(service, "/data")
            .await
            .map_err(|e| format!("copying /data out of {service}: {e}"))?;
        Ok::<_, String>((lengths, tar))
    }
    .await;
    let resumed = redis_cli(stack, service, &["CLIENT", "UNPAUSE"]).await;
    let (lengths, tar) = taken?;
    resumed?;
    Ok(RedisCopy {
        bytes: tar.len(),
        tar,
        lengths,
    })
}

/// Restores `copy` into a fresh Redis (scratch container in the run, from
/// the image of the redis `service`) in `mode` (`rdb` or `aof`) and
/// compares the stream lengths. The container is removed afterwards.
pub async fn restore(stack: &Stack, service: &str, copy: &RedisCopy, mode: &str) -> RedisRestore {
    let started = Instant::now();
    let name = format!("redis-restore-{mode}");
    let outcome = restore_into(stack, service, copy, mode, &name).await;
    let _ = stack.remove_scratch(&name).await;
    let millis = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(found) => {
            let mismatches: Vec<String> = copy
                .lengths
                .iter()
                .filter(|(k, v)| found.get(*k) != Some(*v))
                .map(|(k, v)| {
                    format!(
                        "{k}: {} restored, {v} at backup time",
                        found
                            .get(k)
                            .map(u64::to_string)
                            .unwrap_or_else(|| "absent".into())
                    )
                })
                .collect();
            let passed = mismatches.is_empty();
            let detail = if passed {
                let list: Vec<String> = found.iter().map(|(k, v)| format!("{k} {v}")).collect();
                format!("stream lengths match: {}", list.join(", "))
            } else {
                mismatches.join("; ")
            };
            RedisRestore {
                mode: mode.to_string(),
                expected: copy.lengths.clone(),
                found,
                millis,
                passed,
                detail,
            }
        }
        Err(detail) => RedisRestore {
            mode: mode.to_string(),
            expected: copy.lengths.clone(),
            found: BTreeMap::new(),
            millis,
            passed: false,
            detail,
        },
    }
}

async fn restore_into(
    stack: &Stack,
    service: &str,
    copy: &RedisCopy,
    mode: &str,
    name: &str,
) -> Result<BTreeMap<String, u64>, String> {
    let image = stack.image_of(service).map_err(|e| e.to_string())?;
    // The image's entrypoint is `redis-server /etc/redis/gauntlet.conf`;
    // these arguments override the file.
    let args: &[&str] = match mode {
        "rdb" => &["--appendonly", "no"],
        _ => &[],
    };
    let _ = stack.remove_scratch(name).await;
    stack
        .start_scratch(name, &image, args, Some(copy.tar.clone()))
        .await
        .map_err(|e| format!("starting a fresh redis: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match redis_cli(stack, name, &["PING"]).await {
            Ok(text) if text.trim() == "PONG" => break,
            other if Instant::now() >= deadline => {
                return Err(format!("the fresh redis never answered PING: {other:?}"))
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    stream_lengths(stack, name).await
}
