//! The consumer's decisions, free of I/O: retry backoff, where the
//! idempotency key is set (the `idempotency_before_delivery` defect switch),
//! and what makes a stream entry deliverable.

use std::time::Duration;

use serde_json::Value;

use crate::defects::{Defect, Defects};
use crate::streams::Entry;

/// Longest wait between two deliveries of a failing entry.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// The delay before retrying an entry that failed `failures` times.
pub fn retry_delay(base: Duration, failures: u64) -> Duration {
    let exp = failures.saturating_sub(1).min(20) as u32;
    base.saturating_mul(1u32 << exp).min(MAX_RETRY_DELAY)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdempotencyOrder {
    /// Correct: the key is set after the sink accepted the event.
    AfterDelivery,
    /// The seed system's bug: the key is set before delivering, so a failed
    /// delivery's retry finds the key and drops the event.
    BeforeDelivery,
}

/// The one place the `idempotency_before_delivery` defect switch is read.
pub fn idempotency_order(defects: &Defects) -> IdempotencyOrder {
    if defects.is_on(Defect::IdempotencyBeforeDelivery) {
        IdempotencyOrder::BeforeDelivery
    } else {
        IdempotencyOrder::AfterDelivery
    }
}

/// `(event_id, data)` of a well-formed entry: `data` is a JSON object and
/// the event id is the `event_id` field or, failing that, the document's.
pub fn event_of(entry: &Entry) -> Result<(String, String), String> {
    let data = entry.field("data").ok_or("entry has no data field")?;
    let doc: Value = serde_json::from_str(data).map_err(|e| format!("data is not JSON: {e}"))?;
    if !doc.is_object() {
        return Err("data is not a JSON object".to_owned());
    }
    let event_id = match entry.field("event_id").filter(|s| !s.is_empty()) {
        Some(id) => id.to_owned(),
        None => match doc.get("event_id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err("entry has no event_id".to_owned()),
        },
    };
    Ok((event_id, data.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn entry(fields: &[(&str, &str)]) -> Entry {
        Entry {
            id: "1-0".into(),
            fields: Some(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
        }
    }

    #[test]
    fn retry_delays_double_and_cap() {
        let base = Duration::from_millis(500);
        let delays: Vec<u128> = (1..=4).map(|n| retry_delay(base, n).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000]);
        assert_eq!(retry_delay(base, 40), MAX_RETRY_DELAY);
    }

    #[test]
    fn defect_switch_moves_the_key_before_delivery() {
        assert_eq!(
            idempotency_order(&Defects::none()),
            IdempotencyOrder::AfterDelivery
        );
        let on = Defects::parse("idempotency_before_delivery").unwrap();
        assert_eq!(idempotency_order(&on), IdempotencyOrder::BeforeDelivery);
    }

    #[test]
    fn entries_need_data_and_an_event_id() {
        let ok = entry(&[
            ("event_id", "e1"),
            ("data", r#"{"event_id":"e1","type":"t"}"#),
        ]);
        assert_eq!(event_of(&ok).unwrap().0, "e1");
        let from_doc = entry(&[("data", r#"{"event_id":"e2"}"#)]);
        assert_eq!(event_of(&from_doc).unwrap().0, "e2");
        assert!(event_of(&entry(&[("event_id", "e1")])).is_err());
        assert!(event_of(&entry(&[("event_id", "e1"), ("data", "nope")])).is_err());
        assert!(event_of(&entry(&[("event_id", "e1"), ("data", "[1]")])).is_err());
        assert!(event_of(&entry(&[("data", "{}")])).is_err());
    }
}
