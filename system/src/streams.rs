//! Redis Streams conventions shared by the worker (relay, consumer) and the
//! api's admin endpoints: stream, group and key names, the dead-letter entry
//! and parsing of stream replies.
//!
//! Keys (SYSTEM-SPEC section 6):
//! - `notify.events`: the event stream; entries `event_id <uuid> data <json>`.
//! - `notify.events.dlq`: dead letters, fields `originalStream group id
//!   payload error ts` (`payload` is the original `data` field).
//! - `idem:notify.events:notify:{event_id}`: set (24 h) after a delivery.
//! - `stream:notify.events:group:notify:failures`: HASH entry id → failed
//!   deliveries of that entry; the field is removed when the entry is acked.

use std::collections::BTreeMap;

use redis::Value;
use serde_json::{json, Value as Json};

use crate::redis_conn::RedisCallError;

/// The event stream the outbox is relayed to.
pub const NOTIFY_STREAM: &str = "notify.events";
/// The consumer group delivering events to the sink.
pub const NOTIFY_GROUP: &str = "notify";
/// Failed deliveries after which an entry goes to the dead-letter stream.
pub const MAX_FAILURES: u64 = 5;
/// Lifetime of an idempotency key (24 h).
pub const IDEM_TTL_SECS: u64 = 86_400;

/// `idem:{stream}:{group}:{event_id}`.
pub fn idem_key(stream: &str, group: &str, event_id: &str) -> String {
    format!("idem:{stream}:{group}:{event_id}")
}

/// `stream:{stream}:group:{group}:failures` (a HASH keyed by entry id).
pub fn failures_key(stream: &str, group: &str) -> String {
    format!("stream:{stream}:group:{group}:failures")
}

/// `{stream}.dlq`.
pub fn dlq_key(stream: &str) -> String {
    format!("{stream}.dlq")
}

/// Stream and group names accepted by the admin endpoints: 1–200 of
/// `A-Z a-z 0-9 . _ : -`.
pub fn valid_name(name: &str) -> bool {
    (1..=200).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// True for Redis' `NOGROUP` error: the stream or the consumer group does
/// not exist (e.g. Redis restarted without its data).
pub fn is_nogroup(e: &RedisCallError) -> bool {
    matches!(e, RedisCallError::Redis(re) if re.code() == Some("NOGROUP"))
}

/// One stream entry. `fields` is `None` when the entry was deleted from the
/// stream while still pending (Redis then returns its id with no fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub fields: Option<BTreeMap<String, String>>,
}

impl Entry {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.as_ref()?.get(name).map(String::as_str)
    }
}

/// What goes to `{stream}.dlq` after [`MAX_FAILURES`] failed deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub original_stream: String,
    pub group: String,
    /// The entry id in the original stream.
    pub id: String,
    /// The original entry's `data` field (the event document).
    pub payload: String,
    pub error: String,
    /// RFC 3339 UTC time it was dead-lettered.
    pub ts: String,
}

impl DeadLetter {
    /// Field/value pairs for `XADD {stream}.dlq * ...`, in the spec's order.
    pub fn fields(&self) -> [(&'static str, &str); 6] {
        [
            ("originalStream", &self.original_stream),
            ("group", &self.group),
            ("id", &self.id),
            ("payload", &self.payload),
            ("error", &self.error),
            ("ts", &self.ts),
        ]
    }

    /// Reads a DLQ entry's fields back; missing fields read as empty.
    pub fn from_entry(entry: &Entry) -> Self {
        let get = |name| entry.field(name).unwrap_or_default().to_owned();
        DeadLetter {
            original_stream: get("originalStream"),
            group: get("group"),
            id: get("id"),
            payload: get("payload"),
            error: get("error"),
            ts: get("ts"),
        }
    }

    /// The JSON shape of the admin API; `payload` is parsed when it is JSON.
    pub fn to_json(&self, dlq_id: &str) -> Json {
        let payload = serde_json::from_str::<Json>(&self.payload)
            .unwrap_or_else(|_| Json::String(self.payload.clone()));
        json!({
            "dlq_id": dlq_id,
            "originalStream": self.original_stream,
            "group": self.group,
            "id": self.id,
            "payload": payload,
            "error": self.error,
            "ts": self.ts,
        })
    }

    /// The `event_id` to re-add with: the payload's `event_id`, if any.
    pub fn event_id(&self) -> Option<String> {
        match serde_json::from_str::<Json>(&self.payload)
            .ok()?
            .get("event_id")?
        {
            Json::String(s) if !s.is_empty() => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// Text of a bulk/simple string reply.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Parses `[id, [field, value, ...] | nil]`.
fn parse_entry(v: &Value) -> Result<Entry, String> {
    let Value::Array(parts) = v else {
        return Err(format!("stream entry is not an array: {v:?}"));
    };
    let id = parts
        .first()
        .and_then(text)
        .ok_or_else(|| format!("stream entry without id: {v:?}"))?;
    let fields = match parts.get(1) {
        None | Some(Value::Nil) => None,
        Some(Value::Array(kv)) => Some(
            kv.chunks(2)
                .filter_map(|pair| match pair {
                    [k, v] => Some((text(k)?, text(v)?)),
                    _ => None,
                })
                .collect(),
        ),
        Some(other) => return Err(format!("stream entry fields are not an array: {other:?}")),
    };
    Ok(Entry { id, fields })
}

/// Parses an `XRANGE` reply (a list of entries).
pub fn parse_entries(v: &Value) -> Result<Vec<Entry>, String> {
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) => items.iter().map(parse_entry).collect(),
        other => Err(format!("unexpected entries reply: {other:?}")),
    }
}

/// Parses an `XREADGROUP`/`XREAD` reply for one stream: nil (timeout) or
/// `[[stream, [entry, ...]]]`.
pub fn parse_read_reply(v: &Value) -> Result<Vec<Entry>, String> {
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::Array(streams) => {
            let mut out = Vec::new();
            for s in streams {
                match s {
                    Value::Array(pair) if pair.len() == 2 => out.extend(parse_entries(&pair[1])?),
                    other => return Err(format!("unexpected stream in read reply: {other:?}")),
                }
            }
            Ok(out)
        }
        // RESP3 answers a map; RESP2 (what we speak) an array.
        Value::Map(streams) => {
            let mut out = Vec::new();
            for (_, entries) in streams {
                out.extend(parse_entries(entries)?);
            }
            Ok(out)
        }
        other => Err(format!("unexpected read reply: {other:?}")),
    }
}

/// Parses an `XAUTOCLAIM ... JUSTID` reply: `[next_cursor, [id, ...], [deleted_id, ...]]`.
pub fn parse_autoclaim_justid(v: &Value) -> Result<(String, Vec<String>), String> {
    let Value::Array(parts) = v else {
        return Err(format!("unexpected XAUTOCLAIM reply: {v:?}"));
    };
    let cursor = parts
        .first()
        .and_then(text)
        .ok_or_else(|| format!("XAUTOCLAIM reply without cursor: {v:?}"))?;
    let ids = match parts.get(1) {
        Some(Value::Array(ids)) => ids.iter().filter_map(text).collect(),
        _ => Vec::new(),
    };
    Ok((cursor, ids))
}

/// Splits `"<ms>-<seq>"`.
pub fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// The `XTRIM MINID` threshold that only removes entries every group has
/// acknowledged and that are older than the retention: entries below the
/// smallest of each group's last-delivered id and first pending id, capped
/// at `now - retention`. `None` when nothing can be trimmed safely (no
/// group, or an id that does not parse).
pub fn safe_trim_min_id(
    groups: &[(String, Option<String>)],
    now_ms: u64,
    retention_ms: u64,
) -> Option<String> {
    if groups.is_empty() {
        return None;
    }
    let mut floor = (now_ms.saturating_sub(retention_ms), 0u64);
    for (last_delivered, first_pending) in groups {
        floor = floor.min(parse_id(last_delivered)?);
        if let Some(p) = first_pending {
            floor = floor.min(parse_id(p)?);
        }
    }
    (floor > (0, 0)).then(|| format!("{}-{}", floor.0, floor.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn key_names_follow_the_spec() {
        assert_eq!(
            idem_key(NOTIFY_STREAM, NOTIFY_GROUP, "e1"),
            "idem:notify.events:notify:e1"
        );
        assert_eq!(
            failures_key(NOTIFY_STREAM, NOTIFY_GROUP),
            "stream:notify.events:group:notify:failures"
        );
        assert_eq!(dlq_key(NOTIFY_STREAM), "notify.events.dlq");
        assert!(valid_name("notify.events"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name(&"x".repeat(201)));
    }

    #[test]
    fn dead_letter_has_the_spec_shape() {
        let dl = DeadLetter {
            original_stream: "notify.events".into(),
            group: "notify".into(),
            id: "1-0".into(),
            payload: r#"{"event_id":"e1","type":"order.created"}"#.into(),
            error: "sink answered 503".into(),
            ts: "2025-01-01T00:00:00.000Z".into(),
        };
        let names: Vec<&str> = dl.fields().iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            ["originalStream", "group", "id", "payload", "error", "ts"]
        );
        let doc = dl.to_json("9-0");
        assert_eq!(doc["payload"]["event_id"], "e1");
        assert_eq!(doc["originalStream"], "notify.events");
        assert_eq!(doc["dlq_id"], "9-0");
        assert_eq!(dl.event_id().as_deref(), Some("e1"));
        let entry = Entry {
            id: "9-0".into(),
            fields: Some(
                dl.fields()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        };
        assert_eq!(DeadLetter::from_entry(&entry), dl);
        let raw = DeadLetter {
            payload: "not json".into(),
            ..dl
        };
        assert_eq!(raw.to_json("9-0")["payload"], "not json");
        assert_eq!(raw.event_id(), None);
    }

    #[test]
    fn read_replies_parse_including_deleted_entries() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("notify.events"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![bulk("event_id"), bulk("e1"), bulk("data"), bulk("{}")]),
                ]),
                Value::Array(vec![bulk("2-0"), Value::Nil]),
            ]),
        ])]);
        let entries = parse_read_reply(&reply).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].field("event_id"), Some("e1"));
        assert_eq!(entries[0].field("data"), Some("{}"));
        assert_eq!(entries[1].id, "2-0");
        assert_eq!(entries[1].fields, None);
        assert!(parse_read_reply(&Value::Nil).unwrap().is_empty());
        assert!(parse_read_reply(&bulk("x")).is_err());
    }

    #[test]
    fn autoclaim_justid_parses() {
        let reply = Value::Array(vec![
            bulk("0-0"),
            Value::Array(vec![bulk("1-0"), bulk("3-1")]),
            Value::Array(vec![]),
        ]);
        let (cursor, ids) = parse_autoclaim_justid(&reply).unwrap();
        assert_eq!(cursor, "0-0");
        assert_eq!(ids, ["1-0", "3-1"]);
    }

    #[test]
    fn trimming_never_passes_a_group_or_the_retention() {
        let g = |last: &str, pending: Option<&str>| (last.to_owned(), pending.map(str::to_owned));
        assert_eq!(safe_trim_min_id(&[], 10_000, 1_000), None);
        // Retention is the floor when every group is ahead.
        assert_eq!(
            safe_trim_min_id(&[g("9500-0", None)], 10_000, 1_000).as_deref(),
            Some("9000-0")
        );
        // A pending entry holds trimming back.
        assert_eq!(
            safe_trim_min_id(&[g("9500-0", Some("4000-2"))], 10_000, 1_000).as_deref(),
            Some("4000-2")
        );
        // A group that has not read far holds trimming back.
        assert_eq!(
            safe_trim_min_id(&[g("9500-0", None), g("3000-0", None)], 10_000, 1_000).as_deref(),
            Some("3000-0")
        );
        assert_eq!(safe_trim_min_id(&[g("0-0", None)], 10_000, 1_000), None);
        assert_eq!(safe_trim_min_id(&[g("junk", None)], 10_000, 1_000), None);
    }
}
