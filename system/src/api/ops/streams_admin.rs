//! Admin views of the Redis streams (`X-Admin-Token` required):
//!
//! - `GET /admin/streams/pending?stream=&group=&count=`: the group's pending
//!   summary and its oldest `count` entries (consumer, idle ms, delivery
//!   count, failed deliveries).
//! - `GET /admin/streams/dlq?stream=&count=`: the dead letters of `stream`
//!   (`{stream}.dlq`; a name already ending in `.dlq` is used as is).
//! - `POST /admin/streams/dlq/requeue {"id", "stream"?}`: re-adds the dead
//!   letter's payload to its original stream with a new id, deletes it from
//!   the DLQ and clears its failure count, atomically (one Lua script).
//!
//! Defaults: stream `notify.events`, group `notify`, count 100 (max 1000).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use redis::streams::{StreamPendingCountReply, StreamPendingReply};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{redis_error, OpsState};
use crate::http::{check_admin, AppError, JsonBody};
use crate::streams::{
    dlq_key, failures_key, is_nogroup, parse_entries, valid_name, DeadLetter, NOTIFY_GROUP,
    NOTIFY_STREAM,
};

const DEFAULT_COUNT: usize = 100;
const MAX_COUNT: usize = 1000;

/// Atomically: delete the DLQ entry (or stop if it is gone), re-add its
/// payload to the original stream, clear the failure count.
const REQUEUE_SCRIPT: &str = r#"
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return false end
local id
if ARGV[4] ~= '' then
  id = redis.call('XADD', KEYS[2], '*', 'event_id', ARGV[4], 'data', ARGV[3])
else
  id = redis.call('XADD', KEYS[2], '*', 'data', ARGV[3])
end
redis.call('HDEL', KEYS[3], ARGV[2])
return id
"#;

#[derive(Debug, Deserialize)]
pub struct StreamParams {
    stream: Option<String>,
    group: Option<String>,
    count: Option<String>,
}

fn name(value: Option<&str>, default: &str, field: &str) -> Result<String, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default.to_owned()),
        Some(v) if valid_name(v) => Ok(v.to_owned()),
        Some(_) => Err(AppError::invalid(
            field,
            "must be 1 to 200 characters of A-Z a-z 0-9 . _ : -",
        )),
    }
}

fn count(value: Option<&str>) -> Result<usize, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_COUNT),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_COUNT).contains(&n) => Ok(n),
            _ => Err(AppError::invalid(
                "count",
                format!("must be an integer from 1 to {MAX_COUNT}"),
            )),
        },
    }
}

/// The DLQ key for `stream` (`x` → `x.dlq`; `x.dlq` stays).
fn dlq_of(stream: &str) -> String {
    if stream.ends_with(".dlq") {
        stream.to_owned()
    } else {
        dlq_key(stream)
    }
}

pub async fn pending(
    State(state): State<OpsState>,
    headers: HeaderMap,
    params: Result<Query<StreamParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    check_admin(state.admin_token.as_ref(), &headers)?;
    let Query(params) = params?;
    let stream = name(params.stream.as_deref(), NOTIFY_STREAM, "stream")?;
    let group = name(params.group.as_deref(), NOTIFY_GROUP, "group")?;
    let count = count(params.count.as_deref())?;
    let mut summary_cmd = redis::cmd("XPENDING");
    summary_cmd.arg(&stream).arg(&group);
    let summary: StreamPendingReply = match state.redis.query(&summary_cmd).await {
        Ok(s) => s,
        Err(e) if is_nogroup(&e) => {
            return Err(AppError::NotFound {
                code: "NOT_FOUND",
                message: format!("no consumer group {group} on stream {stream}"),
            })
        }
        Err(e) => return Err(redis_error(e)),
    };
    let mut detail_cmd = redis::cmd("XPENDING");
    detail_cmd
        .arg(&stream)
        .arg(&group)
        .arg("-")
        .arg("+")
        .arg(count);
    let detail: StreamPendingCountReply =
        state.redis.query(&detail_cmd).await.map_err(redis_error)?;
    let failures: Vec<Option<u64>> = if detail.ids.is_empty() {
        Vec::new()
    } else {
        let mut hmget = redis::cmd("HMGET");
        hmget.arg(failures_key(&stream, &group));
        for p in &detail.ids {
            hmget.arg(&p.id);
        }
        state.redis.query(&hmget).await.map_err(redis_error)?
    };
    let entries: Vec<Value> = detail
        .ids
        .iter()
        .zip(failures.iter().chain(std::iter::repeat(&None)))
        .map(|(p, failures)| {
            json!({
                "id": p.id,
                "consumer": p.consumer,
                "idle_ms": p.last_delivered_ms,
                "delivery_count": p.times_delivered,
                "failures": failures.unwrap_or(0),
            })
        })
        .collect();
    let (pending, min_id, max_id, consumers) = match summary {
        StreamPendingReply::Empty => (0, None, None, Vec::new()),
        StreamPendingReply::Data(d) => (
            d.count,
            Some(d.start_id),
            Some(d.end_id),
            d.consumers
                .into_iter()
                .map(|c| json!({"name": c.name, "pending": c.pending}))
                .collect(),
        ),
    };
    Ok(Json(json!({
        "stream": stream,
        "group": group,
        "pending": pending,
        "min_id": min_id,
        "max_id": max_id,
        "consumers": consumers,
        "entries": entries,
    })))
}

pub async fn dlq(
    State(state): State<OpsState>,
    headers: HeaderMap,
    params: Result<Query<StreamParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    check_admin(state.admin_token.as_ref(), &headers)?;
    let Query(params) = params?;
    let stream = name(params.stream.as_deref(), NOTIFY_STREAM, "stream")?;
    let count = count(params.count.as_deref())?;
    let key = dlq_of(&stream);
    let mut xlen = redis::cmd("XLEN");
    xlen.arg(&key);
    let length: u64 = state.redis.query(&xlen).await.map_err(redis_error)?;
    let mut xrange = redis::cmd("XRANGE");
    xrange.arg(&key).arg("-").arg("+").arg("COUNT").arg(count);
    let raw: redis::Value = state.redis.query(&xrange).await.map_err(redis_error)?;
    let entries = parse_entries(&raw).map_err(AppError::Internal)?;
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| DeadLetter::from_entry(e).to_json(&e.id))
        .collect();
    Ok(Json(
        json!({"stream": key, "length": length, "entries": entries}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequeueRequest {
    id: String,
    #[serde(default)]
    stream: Option<String>,
}

pub async fn requeue(
    State(state): State<OpsState>,
    headers: HeaderMap,
    body: Result<JsonBody<RequeueRequest>, AppError>,
) -> Result<Json<Value>, AppError> {
    check_admin(state.admin_token.as_ref(), &headers)?;
    let JsonBody(request) = body?;
    let stream = name(request.stream.as_deref(), NOTIFY_STREAM, "stream")?;
    let dlq = dlq_of(&stream);
    let dlq_id = request.id.trim().to_owned();
    if crate::streams::parse_id(&dlq_id).is_none() {
        return Err(AppError::invalid(
            "id",
            "must be a stream entry id such as 1700000000000-0",
        ));
    }
    let mut xrange = redis::cmd("XRANGE");
    xrange.arg(&dlq).arg(&dlq_id).arg(&dlq_id);
    let raw: redis::Value = state.redis.query(&xrange).await.map_err(redis_error)?;
    let entry = parse_entries(&raw)
        .map_err(AppError::Internal)?
        .into_iter()
        .next()
        .ok_or_else(|| not_in_dlq(&dlq, &dlq_id))?;
    let letter = DeadLetter::from_entry(&entry);
    // A dead letter without a usable origin goes back to the DLQ's stream.
    let original = if valid_name(&letter.original_stream) {
        letter.original_stream.clone()
    } else {
        dlq.trim_end_matches(".dlq").to_owned()
    };
    let group = if valid_name(&letter.group) {
        letter.group.clone()
    } else {
        NOTIFY_GROUP.to_owned()
    };
    let mut eval = redis::cmd("EVAL");
    eval.arg(REQUEUE_SCRIPT)
        .arg(3)
        .arg(&dlq)
        .arg(&original)
        .arg(failures_key(&original, &group))
        .arg(&dlq_id)
        .arg(&letter.id)
        .arg(&letter.payload)
        .arg(letter.event_id().unwrap_or_default());
    let new_id: Option<String> = state.redis.query(&eval).await.map_err(redis_error)?;
    let new_id = new_id.ok_or_else(|| not_in_dlq(&dlq, &dlq_id))?;
    tracing::info!(dlq = %dlq, dlq_id = %dlq_id, original_id = %letter.id, new_id = %new_id, stream = %original, "dead letter requeued");
    Ok(Json(json!({
        "requeued": true,
        "dlq_id": dlq_id,
        "original_id": letter.id,
        "new_id": new_id,
        "stream": original,
    })))
}

fn not_in_dlq(dlq: &str, id: &str) -> AppError {
    AppError::NotFound {
        code: "NOT_FOUND",
        message: format!("no entry {id} in {dlq}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_default_and_validate() {
        assert_eq!(
            name(None, NOTIFY_STREAM, "stream").unwrap(),
            "notify.events"
        );
        assert_eq!(name(Some(" "), NOTIFY_GROUP, "group").unwrap(), "notify");
        assert!(name(Some("bad name"), NOTIFY_STREAM, "stream").is_err());
        assert_eq!(count(None).unwrap(), 100);
        assert_eq!(count(Some("5")).unwrap(), 5);
        assert!(count(Some("0")).is_err());
        assert!(count(Some("1001")).is_err());
        assert_eq!(dlq_of("notify.events"), "notify.events.dlq");
        assert_eq!(dlq_of("notify.events.dlq"), "notify.events.dlq");
    }
}
