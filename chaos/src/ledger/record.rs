//! The ledger itself: one [`WriteRecord`] per write the background writers
//! sent, with what the client saw (acknowledged, refused, or unknown) and
//! when. Shared by every writer task and read by the reconciliation.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a write was. The order is the report's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    /// `POST /api/v1/public/orders` with an `Idempotency-Key`.
    Checkout,
    /// `POST /api/v1/webhooks/shopify`, signed, idempotent on the order id.
    Webhook,
    /// `POST /v1/billing/accounts/{id}/reserve` with an idempotency key.
    CreditReserve,
}

impl WriteKind {
    pub const ALL: [WriteKind; 3] = [
        WriteKind::Checkout,
        WriteKind::Webhook,
        WriteKind::CreditReserve,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WriteKind::Checkout => "checkout",
            WriteKind::Webhook => "webhook",
            WriteKind::CreditReserve => "credit_reserve",
        }
    }

    /// The part of a key naming the kind: letters only, so a key is safe in
    /// SQL literals, HTTP headers and webhook order ids.
    pub(crate) fn key_part(self) -> &'static str {
        match self {
            WriteKind::Checkout => "co",
            WriteKind::Webhook => "wh",
            WriteKind::CreditReserve => "cr",
        }
    }
}

impl std::fmt::Display for WriteKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the client knows about a write, Jepsen style.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum WriteOutcome {
    /// 2xx: the server acknowledged it; it must be there. `id` is the row
    /// the answer named (order, external order or reservation id).
    Ok { id: Option<i64> },
    /// A definite refusal (4xx): it must not be there.
    Failed { status: u16, code: Option<String> },
    /// Timeout, connection error or 5xx: it may or may not have happened.
    Unknown { reason: String },
}

impl WriteOutcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, WriteOutcome::Ok { .. })
    }

    pub fn label(&self) -> &'static str {
        match self {
            WriteOutcome::Ok { .. } => "ok",
            WriteOutcome::Failed { .. } => "failed",
            WriteOutcome::Unknown { .. } => "unknown",
        }
    }
}

/// One write: its idempotency key (or webhook order id), when it was sent
/// (ms since the ledger started, and wall clock for comparing with backup
/// times), when the client stopped waiting, and the outcome of the last
/// attempt. A write whose outcome was unknown is retried with the same key
/// and body (as a careful client does), so `attempts` may exceed 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteRecord {
    pub kind: WriteKind,
    pub key: String,
    pub started_ms: u64,
    pub finished_ms: u64,
    pub sent_at: DateTime<Utc>,
    pub attempts: u32,
    pub outcome: WriteOutcome,
}

/// Per kind: how many writes ended ok, failed, unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
}

impl OutcomeCounts {
    pub fn total(&self) -> u64 {
        self.ok + self.failed + self.unknown
    }

    pub(crate) fn add(&mut self, outcome: &WriteOutcome) {
        match outcome {
            WriteOutcome::Ok { .. } => self.ok += 1,
            WriteOutcome::Failed { .. } => self.failed += 1,
            WriteOutcome::Unknown { .. } => self.unknown += 1,
        }
    }
}

/// A write sent and not answered yet.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub kind: WriteKind,
    pub key: String,
    pub started_ms: u64,
    pub sent_at: DateTime<Utc>,
}

/// The client-side ledger of writes. Cheap to clone (one `Arc`), safe to
/// share between tasks. Every key it hands out starts with
/// [`WriteLedger::key_prefix`], unique per ledger, so the reconciliation
/// can find this ledger's rows (and only them) in a shared database.
#[derive(Clone)]
pub struct WriteLedger {
    inner: Arc<Inner>,
}

struct Inner {
    started: Instant,
    started_at: DateTime<Utc>,
    prefix: String,
    next: AtomicU64,
    tickets: AtomicU64,
    records: Mutex<Vec<WriteRecord>>,
    pending: Mutex<HashMap<u64, Pending>>,
}

impl Default for WriteLedger {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for WriteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteLedger")
            .field("prefix", &self.inner.prefix)
            .field("started_at", &self.inner.started_at)
            .field("records", &lock(&self.inner.records).len())
            .finish()
    }
}

/// A poisoned lock only means a writer task panicked mid-push; the data
/// (a list) is still whole, so keep going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl WriteLedger {
    pub fn new() -> Self {
        let tag: u32 = rand::random();
        Self::with_prefix(format!("lg{tag:08x}"))
    }

    /// A ledger whose keys start with `prefix` (ASCII letters and digits
    /// only, 1–24 characters; anything else is replaced by `x`).
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        let mut prefix: String = prefix
            .into()
            .chars()
            .take(24)
            .map(|c| if c.is_ascii_alphanumeric() { c } else { 'x' })
            .collect();
        if prefix.is_empty() {
            prefix.push('x');
        }
        WriteLedger {
            inner: Arc::new(Inner {
                started: Instant::now(),
                started_at: Utc::now(),
                prefix,
                next: AtomicU64::new(1),
                tickets: AtomicU64::new(1),
                records: Mutex::new(Vec::new()),
                pending: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn started(&self) -> Instant {
        self.inner.started
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.inner.started_at
    }

    /// Every key of this ledger starts with `{prefix}-`.
    pub fn key_prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Milliseconds since the ledger started.
    pub fn elapsed_ms(&self) -> u64 {
        self.inner.started.elapsed().as_millis() as u64
    }

    /// The wall-clock time of a ledger offset (`started_ms`, `finished_ms`),
    /// e.g. to compare when a write was acknowledged with a backup's start.
    pub fn at(&self, ms: u64) -> DateTime<Utc> {
        self.inner.started_at + chrono::Duration::milliseconds(ms as i64)
    }

    /// A new key for a write of `kind`: `{prefix}-{kind}-{n}`.
    pub fn next_key(&self, kind: WriteKind) -> String {
        let n = self.inner.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{}-{n}", self.inner.prefix, kind.key_part())
    }

    /// A key for something other than a write (set-up steps), with the
    /// same prefix so it is recognisably this run's.
    pub(crate) fn aux_key(&self, what: &str) -> String {
        format!("{}-{what}", self.inner.prefix)
    }

    /// Every finished write, in the order they finished.
    pub fn records(&self) -> Vec<WriteRecord> {
        lock(&self.inner.records).clone()
    }

    /// Outcome counts per kind (kinds with no write are absent).
    pub fn counts(&self) -> BTreeMap<WriteKind, OutcomeCounts> {
        let mut counts = BTreeMap::new();
        for r in lock(&self.inner.records).iter() {
            counts
                .entry(r.kind)
                .or_insert_with(OutcomeCounts::default)
                .add(&r.outcome);
        }
        counts
    }

    /// Writes sent and not answered yet.
    pub fn in_flight(&self) -> usize {
        lock(&self.inner.pending).len()
    }

    /// Adds a finished write (the writers do this; public so other clients,
    /// e.g. a drill's own writes, can share one ledger).
    pub fn record(&self, record: WriteRecord) {
        lock(&self.inner.records).push(record);
    }

    /// Notes a write as sent; returns its ticket for [`Self::finish`].
    pub(crate) fn begin(&self, kind: WriteKind, key: &str) -> (u64, Pending) {
        let pending = Pending {
            kind,
            key: key.to_string(),
            started_ms: self.elapsed_ms(),
            sent_at: Utc::now(),
        };
        let ticket = self.inner.tickets.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.pending).insert(ticket, pending.clone());
        (ticket, pending)
    }

    /// Forgets a write that was noted but never sent (the writers were
    /// paused in between).
    pub(crate) fn cancel(&self, ticket: u64) {
        lock(&self.inner.pending).remove(&ticket);
    }

    /// Records the write of `ticket` with its final outcome. Does nothing if
    /// it was already abandoned by [`Self::abandon_pending`].
    pub(crate) fn finish(&self, ticket: u64, attempts: u32, outcome: WriteOutcome) {
        let Some(p) = lock(&self.inner.pending).remove(&ticket) else {
            return;
        };
        self.record(WriteRecord {
            kind: p.kind,
            key: p.key,
            started_ms: p.started_ms,
            finished_ms: self.elapsed_ms(),
            sent_at: p.sent_at,
            attempts,
            outcome,
        });
    }

    /// Records every write still unanswered as unknown (`reason`); used when
    /// the writers stop and a request outlived its bound.
    pub(crate) fn abandon_pending(&self, reason: &str) -> usize {
        let drained: Vec<Pending> = lock(&self.inner.pending).drain().map(|(_, p)| p).collect();
        let n = drained.len();
        let finished_ms = self.elapsed_ms();
        for p in drained {
            self.record(WriteRecord {
                kind: p.kind,
                key: p.key,
                started_ms: p.started_ms,
                finished_ms,
                sent_at: p.sent_at,
                attempts: 1,
                outcome: WriteOutcome::Unknown {
                    reason: reason.to_string(),
                },
            });
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_prefixed_and_plain() {
        let ledger = WriteLedger::with_prefix("lg-ab'c");
        assert_eq!(ledger.key_prefix(), "lgxabxc");
        let a = ledger.next_key(WriteKind::Checkout);
        let b = ledger.next_key(WriteKind::Checkout);
        assert_ne!(a, b);
        assert!(a.starts_with("lgxabxc-co-"), "{a}");
        assert!(ledger
            .next_key(WriteKind::Webhook)
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_ne!(
            WriteLedger::new().key_prefix(),
            WriteLedger::new().key_prefix()
        );
    }

    #[test]
    fn finish_records_once_and_counts_per_kind() {
        let ledger = WriteLedger::new();
        let (t1, _) = ledger.begin(WriteKind::Checkout, "k1");
        let (t2, _) = ledger.begin(WriteKind::Webhook, "k2");
        let (_t3, _) = ledger.begin(WriteKind::Webhook, "k3");
        assert_eq!(ledger.in_flight(), 3);
        ledger.finish(t1, 1, WriteOutcome::Ok { id: Some(7) });
        ledger.finish(t1, 1, WriteOutcome::Ok { id: Some(7) });
        ledger.finish(
            t2,
            1,
            WriteOutcome::Failed {
                status: 422,
                code: Some("VALIDATION_FAILED".into()),
            },
        );
        assert_eq!(ledger.abandon_pending("stopped"), 1);
        assert_eq!(ledger.in_flight(), 0);
        let records = ledger.records();
        assert_eq!(records.len(), 3);
        assert_eq!(records[2].key, "k3");
        assert_eq!(records[2].outcome.label(), "unknown");
        let counts = ledger.counts();
        assert_eq!(counts[&WriteKind::Checkout].ok, 1);
        assert_eq!(
            counts[&WriteKind::Webhook],
            OutcomeCounts {
                ok: 0,
                failed: 1,
                unknown: 1
            }
        );
        assert!(!counts.contains_key(&WriteKind::CreditReserve));
    }

    #[test]
    fn serialises_kind_and_outcome_readably() {
        let r = WriteRecord {
            kind: WriteKind::CreditReserve,
            key: "k".into(),
            started_ms: 1,
            finished_ms: 2,
            sent_at: DateTime::from_timestamp(0, 0).unwrap(),
            attempts: 1,
            outcome: WriteOutcome::Failed {
                status: 409,
                code: Some("CRED001".into()),
            },
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["kind"], "credit_reserve");
        assert_eq!(v["outcome"]["result"], "failed");
        assert_eq!(v["outcome"]["status"], 409);
        assert_eq!(v["outcome"]["code"], "CRED001");
    }
}
