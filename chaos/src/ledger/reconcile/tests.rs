use super::*;

fn rec(kind: WriteKind, key: &str, outcome: WriteOutcome) -> WriteRecord {
    WriteRecord {
        kind,
        key: key.into(),
        started_ms: 10,
        finished_ms: 20,
        sent_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        attempts: 1,
        outcome,
    }
}

fn ok(id: i64) -> WriteOutcome {
    WriteOutcome::Ok { id: Some(id) }
}

fn failed(status: u16) -> WriteOutcome {
    WriteOutcome::Failed {
        status,
        code: Some("X".into()),
    }
}

fn unknown() -> WriteOutcome {
    WriteOutcome::Unknown {
        reason: "timeout".into(),
    }
}

fn rows(found: &mut Found, kind: WriteKind, key: &str, ids: &[i64]) {
    found
        .rows
        .entry(kind)
        .or_default()
        .insert(key.into(), ids.to_vec());
}

fn delivered(found: &mut Found, order: OrderRef, event_id: &str, count: u64) {
    found.delivered.push(SeenEvent {
        event_id: event_id.into(),
        order: Some(order),
        count,
    });
}

#[test]
fn everything_there_once_passes() {
    let records = vec![
        rec(WriteKind::Checkout, "co-1", ok(1)),
        rec(WriteKind::Webhook, "wh-1", ok(1)),
        rec(WriteKind::CreditReserve, "cr-1", ok(5)),
    ];
    let mut found = Found::default();
    rows(&mut found, WriteKind::Checkout, "co-1", &[1]);
    rows(&mut found, WriteKind::Webhook, "wh-1", &[1]);
    rows(&mut found, WriteKind::CreditReserve, "cr-1", &[5]);
    found.credit_ledger_entries.insert("cr-1".into(), 1);
    delivered(&mut found, OrderRef::Order(1), "e1", 1);
    delivered(&mut found, OrderRef::ExternalOrder(1), "e2", 1);
    let r = reconcile_rows(&records, &found);
    assert!(r.passed(), "{r:?}");
    assert_eq!(
        r.events,
        EventCounts {
            expected: 2,
            delivered: 2,
            ..Default::default()
        }
    );
    assert_eq!(r.kinds[&WriteKind::CreditReserve].ok, 1);
    assert!(r.examples.is_empty(), "{:?}", r.examples);
    assert!(
        r.summary_line().starts_with("ledger PASS: 3 writes (ok 3"),
        "{}",
        r.summary_line()
    );
}

#[test]
fn acknowledged_without_a_row_is_lost() {
    let records = vec![
        rec(WriteKind::Checkout, "co-1", ok(1)),
        rec(WriteKind::Checkout, "co-2", ok(2)),
        rec(WriteKind::CreditReserve, "cr-1", ok(9)),
    ];
    let mut found = Found::default();
    rows(&mut found, WriteKind::Checkout, "co-1", &[1]);
    delivered(&mut found, OrderRef::Order(1), "e1", 1);
    delivered(&mut found, OrderRef::Order(2), "e2", 1);
    let r = reconcile_rows(&records, &found);
    assert!(!r.passed());
    assert_eq!(r.kinds[&WriteKind::Checkout].lost, 1);
    assert_eq!(r.kinds[&WriteKind::CreditReserve].lost, 1);
    assert_eq!(r.lost_writes.len(), 2);
    assert_eq!(r.lost_writes[0].key, "co-2");
    assert_eq!(r.lost_writes[0].id, Some(2));
    assert!(r.lost_window().is_some());
    // The lost order's event was delivered before the row went (a restore).
    assert_eq!(r.events.missing, 0);
    assert!(
        r.examples
            .iter()
            .any(|e| e.starts_with("lost checkout co-2")),
        "{:?}",
        r.examples
    );
    assert!(r.summary_line().starts_with("ledger FAIL"));
}

#[test]
fn several_rows_for_one_key_are_duplicated() {
    let records = vec![
        rec(WriteKind::Checkout, "co-1", ok(1)),
        rec(WriteKind::CreditReserve, "cr-1", ok(5)),
        rec(WriteKind::CreditReserve, "cr-2", unknown()),
    ];
    let mut found = Found::default();
    // The server ignored the idempotency key: the retry made a second order.
    rows(&mut found, WriteKind::Checkout, "co-1", &[1, 2]);
    // One reservation row, but charged twice in the ledger.
    rows(&mut found, WriteKind::CreditReserve, "cr-1", &[5]);
    found.credit_ledger_entries.insert("cr-1".into(), 2);
    rows(&mut found, WriteKind::CreditReserve, "cr-2", &[6]);
    found.credit_ledger_entries.insert("cr-2".into(), 1);
    delivered(&mut found, OrderRef::Order(1), "e1", 1);
    delivered(&mut found, OrderRef::Order(2), "e2", 1);
    let r = reconcile_rows(&records, &found);
    assert!(!r.passed());
    assert_eq!(r.kinds[&WriteKind::Checkout].duplicated, 1);
    assert_eq!(r.kinds[&WriteKind::Checkout].lost, 0);
    assert_eq!(r.kinds[&WriteKind::CreditReserve].duplicated, 1);
    assert_eq!(r.kinds[&WriteKind::CreditReserve].recovered, 1);
    // Both orders committed: both events are expected.
    assert_eq!(r.events.expected, 2);
    assert_eq!(r.events.delivered, 2);
    assert!(
        r.examples.iter().any(|e| e.contains("rows 1, 2")),
        "{:?}",
        r.examples
    );
    assert!(
        r.examples.iter().any(|e| e.contains("2 reserve entries")),
        "{:?}",
        r.examples
    );
}

#[test]
fn refused_but_present_is_unexpected_and_unknown_but_present_is_recovered() {
    let records = vec![
        rec(WriteKind::Webhook, "wh-1", failed(422)),
        rec(WriteKind::Webhook, "wh-2", unknown()),
        rec(WriteKind::Webhook, "wh-3", unknown()),
        rec(WriteKind::Webhook, "wh-4", failed(401)),
    ];
    let mut found = Found::default();
    rows(&mut found, WriteKind::Webhook, "wh-1", &[11]);
    rows(&mut found, WriteKind::Webhook, "wh-2", &[12]);
    delivered(&mut found, OrderRef::ExternalOrder(11), "e11", 1);
    delivered(&mut found, OrderRef::ExternalOrder(12), "e12", 1);
    let r = reconcile_rows(&records, &found);
    let k = r.kinds[&WriteKind::Webhook];
    assert_eq!(
        k,
        KindCounts {
            sent: 4,
            ok: 0,
            failed: 2,
            unknown: 2,
            lost: 0,
            duplicated: 0,
            unexpected: 1,
            recovered: 1,
        }
    );
    // Reported, not failures: the client could not know.
    assert!(r.passed(), "{r:?}");
    // Orders that committed need their events too.
    assert_eq!(r.events.expected, 2);
    assert_eq!(r.events.delivered, 2);
    assert!(
        r.examples
            .iter()
            .any(|e| e.starts_with("unexpected webhook wh-1")),
        "{:?}",
        r.examples
    );
}

#[test]
fn events_in_neither_sink_nor_dlq_are_missing() {
    let records = vec![
        rec(WriteKind::Checkout, "co-1", ok(1)),
        rec(WriteKind::Checkout, "co-2", ok(2)),
        rec(WriteKind::Checkout, "co-3", ok(3)),
        rec(WriteKind::Webhook, "wh-1", ok(7)),
    ];
    let mut found = Found::default();
    for (key, id) in [("co-1", 1), ("co-2", 2), ("co-3", 3)] {
        rows(&mut found, WriteKind::Checkout, key, &[id]);
    }
    rows(&mut found, WriteKind::Webhook, "wh-1", &[7]);
    delivered(&mut found, OrderRef::Order(1), "e1", 1);
    // Same number, other table: must not count for the checkout order 7.
    delivered(&mut found, OrderRef::Order(7), "e-other", 1);
    found.dead_lettered.push(SeenEvent {
        event_id: "e2".into(),
        order: Some(OrderRef::Order(2)),
        count: 1,
    });
    found.outbox.push(OutboxRow {
        order: OrderRef::ExternalOrder(7),
        event_id: "e7".into(),
        relayed: false,
    });
    // Stage changes and sync pushes of other orders are not creation events.
    found.delivered.push(SeenEvent {
        event_id: "inventory.sync:shopify:x:SKU-0001".into(),
        order: None,
        count: 3,
    });
    let r = reconcile_rows(&records, &found);
    assert_eq!(
        r.events,
        EventCounts {
            expected: 4,
            delivered: 1,
            dead_lettered: 1,
            missing: 2,
            duplicated: 0,
            redelivered: 0,
        }
    );
    assert!(!r.passed());
    let missing: Vec<&String> = r
        .examples
        .iter()
        .filter(|e| e.starts_with("missing event"))
        .collect();
    assert_eq!(missing.len(), 2, "{:?}", r.examples);
    assert!(missing
        .iter()
        .any(|e| e.contains("order 3 (order.created)") && e.contains("no outbox row")));
    assert!(missing
        .iter()
        .any(|e| e.contains("external order 7 (external_order.created)")
            && e.contains("e7 not relayed")));
}

#[test]
fn events_received_twice_are_duplicated() {
    let records = vec![
        rec(WriteKind::Checkout, "co-1", ok(1)),
        rec(WriteKind::Checkout, "co-2", ok(2)),
    ];
    let mut found = Found::default();
    rows(&mut found, WriteKind::Checkout, "co-1", &[1]);
    rows(&mut found, WriteKind::Checkout, "co-2", &[2]);
    // The sink counted a repeat of one event id...
    delivered(&mut found, OrderRef::Order(1), "e1", 2);
    // ...and two event ids announced the same order.
    delivered(&mut found, OrderRef::Order(2), "e2a", 1);
    delivered(&mut found, OrderRef::Order(2), "e2b", 1);
    let r = reconcile_rows(&records, &found);
    assert_eq!(r.events.duplicated, 2);
    assert_eq!(r.events.redelivered, 1);
    assert_eq!(r.events.delivered, 2);
    assert!(
        r.summary_line()
            .contains("2 duplicated (1 redelivered under the same event id)"),
        "{}",
        r.summary_line()
    );
    assert!(!r.passed());
    assert!(
        r.examples.iter().any(|e| e.contains("e2a, e2b")),
        "{:?}",
        r.examples
    );
}

#[test]
fn events_without_order_in_payload_match_by_outbox_event_id() {
    let records = vec![rec(WriteKind::Checkout, "co-1", ok(1))];
    let mut found = Found::default();
    rows(&mut found, WriteKind::Checkout, "co-1", &[1]);
    found.outbox.push(OutboxRow {
        order: OrderRef::Order(1),
        event_id: "e1".into(),
        relayed: true,
    });
    found.delivered.push(SeenEvent {
        event_id: "e1".into(),
        order: None,
        count: 1,
    });
    let r = reconcile_rows(&records, &found);
    assert_eq!(r.events.delivered, 1);
    assert!(r.passed());
}

#[test]
fn unknown_and_absent_counts_nothing_but_unknown() {
    let records = vec![
        rec(WriteKind::CreditReserve, "cr-1", unknown()),
        rec(WriteKind::Checkout, "co-1", failed(409)),
    ];
    let r = reconcile_rows(&records, &Found::default());
    assert!(r.passed());
    assert_eq!(r.kinds[&WriteKind::CreditReserve].unknown, 1);
    assert_eq!(r.kinds[&WriteKind::CreditReserve].recovered, 0);
    assert_eq!(r.events.expected, 0);
    assert_eq!(r.total().sent, 2);
}

#[test]
fn acknowledged_id_that_differs_from_the_row_is_reported() {
    let records = vec![rec(WriteKind::Checkout, "co-1", ok(5))];
    let mut found = Found::default();
    rows(&mut found, WriteKind::Checkout, "co-1", &[6]);
    delivered(&mut found, OrderRef::Order(5), "e5", 1);
    delivered(&mut found, OrderRef::Order(6), "e6", 1);
    let r = reconcile_rows(&records, &found);
    assert!(
        r.examples[0].contains("acknowledged as id 5"),
        "{:?}",
        r.examples
    );
    assert_eq!(r.events.expected, 2);
}

#[test]
fn examples_are_capped() {
    let records: Vec<WriteRecord> = (0..50)
        .map(|i| rec(WriteKind::Checkout, &format!("co-{i}"), ok(i)))
        .collect();
    let r = reconcile_rows(&records, &Found::default());
    assert_eq!(r.kinds[&WriteKind::Checkout].lost, 50);
    assert_eq!(r.lost_writes.len(), 50);
    assert_eq!(r.examples.len(), MAX_EXAMPLES);
}

#[test]
fn order_refs_read_from_event_documents() {
    use serde_json::json;
    assert_eq!(
        OrderRef::from_created_event(&json!({"type": "order.created", "order_id": 4})),
        Some(OrderRef::Order(4))
    );
    assert_eq!(
        OrderRef::from_created_event(&json!({"type": "external_order.created", "order_id": 4})),
        Some(OrderRef::ExternalOrder(4))
    );
    assert_eq!(
        OrderRef::from_created_event(&json!({"type": "order.stage_changed", "order_id": 4})),
        None
    );
    assert_eq!(
        OrderRef::from_created_event(&json!({"type": "inventory.sync"})),
        None
    );
}

#[test]
fn a_redelivery_under_the_same_event_id_is_reported_but_passes() {
    let records = vec![rec(WriteKind::Checkout, "co-1", ok(1))];
    let mut found = Found::default();
    rows(&mut found, WriteKind::Checkout, "co-1", &[1]);
    delivered(&mut found, OrderRef::Order(1), "e1", 2);
    let r = reconcile_rows(&records, &found);
    assert_eq!((r.events.duplicated, r.events.redelivered), (1, 1));
    assert!(r.passed(), "{}", r.summary_line());
    assert!(r.summary_line().contains("1 redelivered"));
}
