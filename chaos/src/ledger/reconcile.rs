//! Reconciliation of the ledger with what the system holds, as a pure
//! function over what was found ([`Found`]), so every rule has a unit test
//! without a stack. Fetching what is found is [`super::observe`]'s job.
//!
//! Per write (kind + key), with `rows` the rows found for its key:
//!
//! | client saw | rows | counted as |
//! |------------|------|------------|
//! | ok         | 0    | **lost** (acknowledged, gone) |
//! | failed     | ≥ 1  | unexpected (refused, yet there) |
//! | unknown    | ≥ 1  | recovered (it did happen) |
//! | any        | > 1  | **duplicated** (one key, several rows) |
//!
//! Events: every order of this ledger that committed (found in Postgres,
//! whatever the client saw) or was acknowledged must have its `*.created`
//! event delivered to the sink exactly once, or sit in the DLQ
//! (SYSTEM-SPEC section 6). Neither = **missing**; delivered more than once
//! = **duplicated**.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::record::{WriteKind, WriteOutcome, WriteRecord};

/// How many lines of detail a reconciliation keeps.
pub const MAX_EXAMPLES: usize = 12;

/// The order an event is about: a marketplace order (`orders.id`, event
/// `order.created`) or a storefront order (`external_orders.id`, event
/// `external_order.created`). Both tables number from 1, so the kind is
/// part of the identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "table", content = "id", rename_all = "snake_case")]
pub enum OrderRef {
    Order(i64),
    ExternalOrder(i64),
}

impl OrderRef {
    /// The order a write of `kind` made, if that kind makes orders.
    pub fn of(kind: WriteKind, id: i64) -> Option<OrderRef> {
        match kind {
            WriteKind::Checkout => Some(OrderRef::Order(id)),
            WriteKind::Webhook => Some(OrderRef::ExternalOrder(id)),
            WriteKind::CreditReserve => None,
        }
    }

    /// The `type` of the event that announces this order's creation.
    pub fn created_event_type(self) -> &'static str {
        match self {
            OrderRef::Order(_) => "order.created",
            OrderRef::ExternalOrder(_) => "external_order.created",
        }
    }

    /// Reads an event document (`{"type", "order_id", ...}`): the order it
    /// announces the creation of, `None` for other events (stage changes,
    /// inventory sync pushes).
    pub fn from_created_event(doc: &serde_json::Value) -> Option<OrderRef> {
        let id = doc.get("order_id")?.as_i64()?;
        match doc.get("type")?.as_str()? {
            "order.created" => Some(OrderRef::Order(id)),
            "external_order.created" => Some(OrderRef::ExternalOrder(id)),
            _ => None,
        }
    }
}

impl std::fmt::Display for OrderRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderRef::Order(id) => write!(f, "order {id}"),
            OrderRef::ExternalOrder(id) => write!(f, "external order {id}"),
        }
    }
}

/// An outbox row of one of the ledger's orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub order: OrderRef,
    pub event_id: String,
    pub relayed: bool,
}

/// An event seen at the sink (with how many times it was received) or in
/// the DLQ (count 1 per entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEvent {
    pub event_id: String,
    /// From the payload; `None` if it announces no order's creation.
    pub order: Option<OrderRef>,
    pub count: u64,
}

/// What the system holds, for the ledger's keys.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Per kind, per key: the ids of the rows made for it (orders, external
    /// orders, reservations). A key with no row is absent or empty.
    pub rows: BTreeMap<WriteKind, BTreeMap<String, Vec<i64>>>,
    /// Credit reservations: `reserve` entries in `billing_ledger` per key.
    /// More than one is a double charge even with one reservation row.
    pub credit_ledger_entries: BTreeMap<String, u64>,
    /// Outbox rows of the orders found (none with the defect
    /// `outbox_skipped_when_redis_down`: that is the defect).
    pub outbox: Vec<OutboxRow>,
    /// Everything the sink recorded (`GET /deliveries`).
    pub delivered: Vec<SeenEvent>,
    /// Everything in the DLQ (`GET /admin/streams/dlq`).
    pub dead_lettered: Vec<SeenEvent>,
}

impl Found {
    pub fn rows_of(&self, kind: WriteKind, key: &str) -> &[i64] {
        self.rows
            .get(&kind)
            .and_then(|m| m.get(key))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindCounts {
    pub sent: u64,
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Acknowledged, but no row.
    pub lost: u64,
    /// More than one row (or ledger entry) for one key.
    pub duplicated: u64,
    /// Refused, but a row exists.
    pub unexpected: u64,
    /// Outcome unknown, and the row exists.
    pub recovered: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EventCounts {
    /// Orders whose creation event must arrive: every acknowledged order
    /// (checkouts and webhooks) and every other order of the ledger found in
    /// Postgres (recovered or unexpected writes committed too).
    pub expected: u64,
    /// Reached the sink.
    pub delivered: u64,
    /// Not at the sink, but in the DLQ.
    pub dead_lettered: u64,
    /// In neither, after settling.
    pub missing: u64,
    /// Received by the sink more than once (the sink counts repeats of one
    /// event id; two event ids announcing one order count too).
    pub duplicated: u64,
    /// Of `duplicated`: the same event id received again (a redelivery the
    /// sink deduplicates, e.g. the sink accepted and Redis died before the
    /// ack; system/README.md lists this window). The rest were announced
    /// under several event ids, which no consumer can deduplicate.
    pub redelivered: u64,
}

/// An acknowledged write that is gone (issue 8's RPO counts these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LostWrite {
    pub kind: WriteKind,
    pub key: String,
    pub sent_at: DateTime<Utc>,
    pub finished_ms: u64,
    /// The id the acknowledgement named.
    pub id: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Reconciliation {
    pub kinds: BTreeMap<WriteKind, KindCounts>,
    pub events: EventCounts,
    /// A few lost / duplicated / unexpected writes and missing events, with
    /// detail (at most [`MAX_EXAMPLES`]).
    pub examples: Vec<String>,
    /// Every lost write, oldest first.
    pub lost_writes: Vec<LostWrite>,
    /// How long [`super::reconcile`] waited for events, and whether they
    /// settled (all accounted for, or the pipeline idle and unchanged)
    /// before the `settle` bound. 0 / false from [`reconcile_rows`].
    pub settle_ms: u64,
    pub settled: bool,
}

impl Reconciliation {
    /// No acknowledged write lost, no duplicate, every event delivered once
    /// or dead-lettered. (Unexpected and recovered writes are reported, not
    /// failures: the client could not know.)
    /// No acknowledged write lost or duplicated, no event missing, and no
    /// event announced twice under different event ids. A redelivery under
    /// the same event id is reported but passes: delivery is at least once
    /// (a receiver that stored an event and died before answering gets it
    /// again) and the event id is the receiver's idempotency key, which the
    /// sink honours; the crash_loop experiment, which kills the sink
    /// mid-delivery, does this now and then.
    pub fn passed(&self) -> bool {
        self.kinds
            .values()
            .all(|k| k.lost == 0 && k.duplicated == 0)
            && self.events.missing == 0
            && self.events.duplicated == self.events.redelivered
    }

    pub fn total(&self) -> KindCounts {
        self.kinds
            .values()
            .fold(KindCounts::default(), |a, k| KindCounts {
                sent: a.sent + k.sent,
                ok: a.ok + k.ok,
                failed: a.failed + k.failed,
                unknown: a.unknown + k.unknown,
                lost: a.lost + k.lost,
                duplicated: a.duplicated + k.duplicated,
                unexpected: a.unexpected + k.unexpected,
                recovered: a.recovered + k.recovered,
            })
    }

    /// One line for a terminal or a closing note, e.g. `ledger PASS: 60
    /// writes (ok 58, failed 0, unknown 2), lost 0, duplicated 0,
    /// unexpected 0, recovered 2; events 40/40 delivered, 0 dead-lettered,
    /// 0 missing, 0 duplicated`.
    pub fn summary_line(&self) -> String {
        let t = self.total();
        let e = &self.events;
        format!(
            "ledger {}: {} writes (ok {}, failed {}, unknown {}), lost {}, duplicated {}, unexpected {}, recovered {}; \
             events {}/{} delivered, {} dead-lettered, {} missing, {} duplicated{}{}",
            if self.passed() { "PASS" } else { "FAIL" },
            t.sent, t.ok, t.failed, t.unknown, t.lost, t.duplicated, t.unexpected, t.recovered,
            e.delivered, e.expected, e.dead_lettered, e.missing, e.duplicated,
            if e.redelivered > 0 {
                format!(" ({} redelivered under the same event id)", e.redelivered)
            } else {
                String::new()
            },
            if self.settle_ms > 0 && !self.settled {
                format!(" (events had not settled after {:.1} s)", self.settle_ms as f64 / 1000.0)
            } else {
                String::new()
            }
        )
    }

    /// The span of `sent_at` of the lost writes (issue 8's RPO window).
    pub fn lost_window(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let first = self.lost_writes.iter().map(|w| w.sent_at).min()?;
        let last = self.lost_writes.iter().map(|w| w.sent_at).max()?;
        Some((first, last))
    }
}

fn ids(rows: &[i64]) -> String {
    rows.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

struct Examples(Vec<String>);

impl Examples {
    fn push(&mut self, line: impl FnOnce() -> String) {
        if self.0.len() < MAX_EXAMPLES {
            self.0.push(line());
        }
    }
}

pub fn reconcile_rows(records: &[WriteRecord], found: &Found) -> Reconciliation {
    let mut kinds: BTreeMap<WriteKind, KindCounts> = BTreeMap::new();
    let mut examples = Examples(Vec::new());
    let mut lost_writes = Vec::new();
    let mut expected: BTreeSet<OrderRef> = BTreeSet::new();

    for r in records {
        let k = kinds.entry(r.kind).or_default();
        k.sent += 1;
        let rows = found.rows_of(r.kind, &r.key);
        let present = !rows.is_empty();
        match &r.outcome {
            WriteOutcome::Ok { id } => {
                k.ok += 1;
                if !present {
                    k.lost += 1;
                    lost_writes.push(LostWrite {
                        kind: r.kind,
                        key: r.key.clone(),
                        sent_at: r.sent_at,
                        finished_ms: r.finished_ms,
                        id: *id,
                    });
                    examples.push(|| {
                        format!(
                            "lost {} {}: acknowledged{} at +{} ms, no row found",
                            r.kind,
                            r.key,
                            id.map(|i| format!(" (id {i})")).unwrap_or_default(),
                            r.finished_ms
                        )
                    });
                } else if let Some(id) = id.filter(|i| !rows.contains(i)) {
                    examples.push(|| {
                        format!(
                            "{} {}: acknowledged as id {id}, but the key's rows are {}",
                            r.kind,
                            r.key,
                            ids(rows)
                        )
                    });
                }
                if let Some(order) = id.and_then(|i| OrderRef::of(r.kind, i)) {
                    expected.insert(order);
                }
            }
            WriteOutcome::Failed { status, code } => {
                k.failed += 1;
                if present {
                    k.unexpected += 1;
                    examples.push(|| {
                        format!(
                            "unexpected {} {}: refused ({status}{}) but rows {} exist",
                            r.kind,
                            r.key,
                            code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(),
                            ids(rows)
                        )
                    });
                }
            }
            WriteOutcome::Unknown { .. } => {
                k.unknown += 1;
                if present {
                    k.recovered += 1;
                }
            }
        }
        let ledger_entries = match r.kind {
            WriteKind::CreditReserve => found
                .credit_ledger_entries
                .get(&r.key)
                .copied()
                .unwrap_or(0),
            _ => 0,
        };
        if rows.len() > 1 || ledger_entries > 1 {
            k.duplicated += 1;
            examples.push(|| {
                format!(
                    "duplicated {} {} ({}, {} attempt(s)): rows {}{}",
                    r.kind,
                    r.key,
                    r.outcome.label(),
                    r.attempts,
                    ids(rows),
                    if ledger_entries > 1 {
                        format!(", {ledger_entries} reserve entries in billing_ledger")
                    } else {
                        String::new()
                    }
                )
            });
        }
        expected.extend(rows.iter().filter_map(|i| OrderRef::of(r.kind, *i)));
    }

    let events = count_events(&expected, found, &mut examples);
    Reconciliation {
        kinds,
        events,
        examples: examples.0,
        lost_writes,
        settle_ms: 0,
        settled: false,
    }
}

/// Per order: how many times its creation event was received, and under
/// which event ids.
fn tally<'a>(
    seen: &'a [SeenEvent],
    order_of: &dyn Fn(&SeenEvent) -> Option<OrderRef>,
) -> BTreeMap<OrderRef, (u64, BTreeSet<&'a str>)> {
    let mut per: BTreeMap<OrderRef, (u64, BTreeSet<&'a str>)> = BTreeMap::new();
    for e in seen {
        if let Some(order) = order_of(e) {
            let entry = per.entry(order).or_default();
            entry.0 += e.count;
            entry.1.insert(e.event_id.as_str());
        }
    }
    per
}

fn count_events(
    expected: &BTreeSet<OrderRef>,
    found: &Found,
    examples: &mut Examples,
) -> EventCounts {
    // An event is tied to its order by the payload's type and order_id, or,
    // when the payload does not say, by its event id in the outbox.
    let by_event_id: BTreeMap<&str, OrderRef> = found
        .outbox
        .iter()
        .map(|o| (o.event_id.as_str(), o.order))
        .collect();
    let order_of = |e: &SeenEvent| {
        e.order
            .or_else(|| by_event_id.get(e.event_id.as_str()).copied())
    };
    let delivered = tally(&found.delivered, &order_of);
    let dead = tally(&found.dead_lettered, &order_of);

    let mut counts = EventCounts {
        expected: expected.len() as u64,
        ..EventCounts::default()
    };
    for order in expected {
        let sink = delivered.get(order);
        let dlq = dead.get(order);
        match (sink, dlq) {
            (Some((n, event_ids)), _) => {
                counts.delivered += 1;
                if *n > 1 {
                    counts.duplicated += 1;
                    if event_ids.len() == 1 {
                        counts.redelivered += 1;
                    }
                    examples.push(|| {
                        format!(
                            "event of {order} ({}) delivered {n} times (event ids {})",
                            order.created_event_type(),
                            event_ids.iter().copied().collect::<Vec<_>>().join(", ")
                        )
                    });
                }
                if dlq.is_some() {
                    examples
                        .push(|| format!("event of {order} is both at the sink and in the DLQ"));
                }
            }
            (None, Some(_)) => counts.dead_lettered += 1,
            (None, None) => {
                counts.missing += 1;
                examples.push(|| {
                    let outbox: Vec<&OutboxRow> =
                        found.outbox.iter().filter(|o| o.order == *order).collect();
                    let trail = if outbox.is_empty() {
                        "no outbox row".to_string()
                    } else {
                        outbox
                            .iter()
                            .map(|o| {
                                format!(
                                    "outbox event {} {}",
                                    o.event_id,
                                    if o.relayed { "relayed" } else { "not relayed" }
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    format!(
                        "missing event of {order} ({}): in neither the sink nor the DLQ; {trail}",
                        order.created_event_type()
                    )
                });
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests;
