//! Finding what the system holds for a ledger, and settling: Postgres by SQL
//! on the project's postgres data service (inside its container), the
//! sink's `GET /deliveries`, and the DLQ and pending list through the admin
//! API. Events are asynchronous (outbox → relay → Redis stream → consumer →
//! sink, with retries), so the sink and the DLQ are polled until every
//! expected event is accounted for, or the pipeline is idle and nothing
//! changes any more, or `settle` has passed.
//!
//! Every key of a ledger starts with `{prefix}-` (ASCII letters, digits and
//! `-` only, so it is safe inside the SQL literals below), and the queries
//! select by that prefix: rows of other runs and of the fixtures are never
//! counted.

use std::time::{Duration, Instant};

use gauntlet_harness::invariants;
use gauntlet_harness::sut::Sut;
use serde_json::Value;

use super::reconcile::{reconcile_rows, Found, OrderRef, OutboxRow, Reconciliation, SeenEvent};
use super::record::{WriteKind, WriteLedger};
use super::LedgerError;
use crate::names::{ADMIN_TOKEN, API, SINK};

/// Between two looks at the sink and the DLQ.
const POLL: Duration = Duration::from_millis(500);
/// With events still missing, the pipeline must look idle and the counts
/// unchanged for this long before the missing ones are called lost (a
/// restarted worker reads what was relayed before it died within this).
const QUIET: Duration = Duration::from_secs(3);
/// SQL is retried this long (Postgres may just have been restarted).
const SQL_PATIENCE: Duration = Duration::from_secs(20);
/// The DLQ admin endpoint returns at most this many entries (oldest first).
const DLQ_PAGE: usize = 1000;

/// Checkouts. Two records tie an order to its key, and both are read:
/// `checkout_idempotency` (migration 0002: `(scope_user_id,
/// idempotency_key) → order_id`, written in the checkout's own transaction;
/// only successful checkouts keep a key), and the key the writers put in the
/// order's `shipping_address` (stored as sent, `orders.shipping_address`
/// jsonb). The second finds every order made for a key even when the server
/// never stored the header (defect `checkout_ignores_idempotency_key`: a
/// retried checkout then makes a second order, a duplicate). The union of
/// both, per key; `->>` on a string address is NULL, so fixture orders drop
/// out.
const CHECKOUT_SQL: &str = "\
SELECT k, string_agg(id::text, ',' ORDER BY id) FROM (
  SELECT shipping_address->>'ledger_key' AS k, id FROM orders
   WHERE starts_with(shipping_address->>'ledger_key', '{P}')
  UNION
  SELECT idempotency_key, order_id FROM checkout_idempotency
   WHERE starts_with(idempotency_key, '{P}') AND order_id IS NOT NULL
) t GROUP BY k";

/// Webhooks. `external_orders` (migration 0003) keeps the storefront's order
/// id in `external_id`, unique per `source`; the writers use the ledger key
/// as that id. (The unique constraint makes a duplicate row impossible; a
/// duplicate would show as a second event instead.)
const WEBHOOK_SQL: &str = "\
SELECT external_id, string_agg(id::text, ',' ORDER BY id) FROM external_orders
 WHERE source = 'shopify' AND starts_with(external_id, '{P}')
 GROUP BY external_id";

/// Credit reservations. `billing_reservations` (migration 0004) keeps the
/// request's `idempotency_key`, unique per account; every reservation also
/// appends one `billing_ledger` row of kind `reserve` carrying the same key.
/// Both are counted per key: two reservations, or two ledger entries for one
/// reservation, are a double charge.
const CREDIT_SQL: &str = "\
WITH r AS (
  SELECT idempotency_key AS k, string_agg(id::text, ',' ORDER BY id) AS ids
    FROM billing_reservations WHERE starts_with(idempotency_key, '{P}') GROUP BY 1
), l AS (
  SELECT idempotency_key AS k, count(*) AS n
    FROM billing_ledger WHERE kind = 'reserve' AND starts_with(idempotency_key, '{P}') GROUP BY 1
)
SELECT coalesce(r.k, l.k), coalesce(r.ids, ''), coalesce(l.n, 0) FROM r FULL JOIN l ON l.k = r.k";

/// The creation events of those orders. `outbox` (migration 0002) holds
/// `event_id`, `event_type` and `aggregate_id`: `orders.id` for
/// `order.created`, `external_orders.id` for `external_order.created` (the
/// webhook handler writes the same table); `relayed_at` is set once Redis
/// took the event. Used to match deliveries by event id and to say where a
/// missing event stopped (never written / not relayed / relayed).
const OUTBOX_SQL: &str = "\
SELECT o.event_type, o.aggregate_id, o.event_id, o.relayed_at IS NOT NULL FROM outbox o
 WHERE (o.event_type = 'order.created' AND o.aggregate_id IN (
          SELECT id FROM orders WHERE starts_with(shipping_address->>'ledger_key', '{P}')
          UNION
          SELECT order_id FROM checkout_idempotency
           WHERE starts_with(idempotency_key, '{P}') AND order_id IS NOT NULL))
    OR (o.event_type = 'external_order.created' AND o.aggregate_id IN (
          SELECT id FROM external_orders WHERE source = 'shopify' AND starts_with(external_id, '{P}')))";

/// Whether the relay still has work: outbox rows (anyone's) not yet in Redis.
const UNRELAYED_SQL: &str = "SELECT count(*) FROM outbox WHERE relayed_at IS NULL";

fn sql(template: &str, ledger: &WriteLedger) -> String {
    // `{prefix}-`: the prefix is letters and digits (WriteLedger::with_prefix).
    template.replace("{P}", &format!("{}-", ledger.key_prefix()))
}

async fn query(sut: &Sut, what: &str, sql: &str) -> Result<Vec<Vec<String>>, LedgerError> {
    let started = Instant::now();
    loop {
        match invariants::sql(sut, sql).await {
            Ok(rows) => return Ok(rows),
            Err(e) if started.elapsed() >= SQL_PATIENCE => {
                return Err(LedgerError::Reconcile {
                    what: format!("SQL for {what} in the postgres service"),
                    detail: format!("{e} (retried for {} s)", SQL_PATIENCE.as_secs()),
                })
            }
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

fn id_list(s: &str) -> Vec<i64> {
    s.split(',').filter_map(|p| p.trim().parse().ok()).collect()
}

/// The rows, ledger entries and outbox rows of the ledger's keys.
pub async fn find_rows(sut: &Sut, ledger: &WriteLedger) -> Result<Found, LedgerError> {
    let mut found = Found::default();
    for (kind, what, template) in [
        (WriteKind::Checkout, "checkouts", CHECKOUT_SQL),
        (WriteKind::Webhook, "webhooks", WEBHOOK_SQL),
    ] {
        let rows = query(sut, what, &sql(template, ledger)).await?;
        let map = found.rows.entry(kind).or_default();
        for r in rows.iter().filter(|r| r.len() >= 2) {
            map.insert(r[0].clone(), id_list(&r[1]));
        }
    }
    let rows = query(sut, "credit reservations", &sql(CREDIT_SQL, ledger)).await?;
    let map = found.rows.entry(WriteKind::CreditReserve).or_default();
    for r in rows.iter().filter(|r| r.len() >= 3) {
        map.insert(r[0].clone(), id_list(&r[1]));
        found
            .credit_ledger_entries
            .insert(r[0].clone(), r[2].parse().unwrap_or(0));
    }
    let rows = query(sut, "outbox rows", &sql(OUTBOX_SQL, ledger)).await?;
    found.outbox = rows
        .iter()
        .filter(|r| r.len() >= 4)
        .filter_map(|r| {
            let id: i64 = r[1].parse().ok()?;
            let order = match r[0].as_str() {
                "order.created" => OrderRef::Order(id),
                "external_order.created" => OrderRef::ExternalOrder(id),
                _ => return None,
            };
            Some(OutboxRow {
                order,
                event_id: r[2].clone(),
                relayed: r[3] == "t",
            })
        })
        .collect();
    Ok(found)
}

/// Where to look, resolved once per reconciliation.
struct Endpoints {
    api: String,
    sink: String,
    admin_token: String,
}

async fn endpoints(sut: &Sut) -> Result<Endpoints, LedgerError> {
    // Ask the stack first: a restarted container may have a new host port.
    let url = |name: &'static str| async move {
        match sut.endpoint_now(name).await {
            Ok(url) => Ok(url),
            Err(e) => sut
                .endpoint(name)
                .map(String::from)
                .map_err(|_| LedgerError::Stack {
                    what: format!("{name} URL"),
                    detail: e.to_string(),
                }),
        }
    };
    let api = url(API).await?;
    let sink = url(SINK).await?;
    let admin_token = sut
        .secret(ADMIN_TOKEN)
        .filter(|t| !t.is_empty())
        .ok_or(LedgerError::MissingSetting {
            what: "the admin token",
            writer: "reading the DLQ during reconciliation",
        })?
        .to_string();
    Ok(Endpoints {
        api: api.trim_end_matches('/').to_string(),
        sink: sink.trim_end_matches('/').to_string(),
        admin_token,
    })
}

/// One look at the event pipeline.
struct Look {
    delivered: Vec<SeenEvent>,
    dead_lettered: Vec<SeenEvent>,
    dlq_length: u64,
    pending: u64,
    unrelayed: u64,
}

async fn get_json(
    http: &reqwest::Client,
    url: &str,
    admin: Option<&str>,
) -> Result<(u16, Value), String> {
    let mut req = http.get(url);
    if let Some(t) = admin {
        req = req.header("x-admin-token", t);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", super::classify::describe_error(&e)))?;
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

fn event_id_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

async fn look(sut: &Sut, http: &reqwest::Client, at: &Endpoints) -> Result<Look, String> {
    let url = format!("{}/deliveries", at.sink);
    let (status, body) = get_json(http, &url, None).await?;
    if status != 200 {
        return Err(format!("GET {url} answered {status}"));
    }
    // {"deliveries":[{event_id, payload, received_at, count}], ...}
    let delivered = body["deliveries"]
        .as_array()
        .ok_or_else(|| format!("GET {url}: no `deliveries` array"))?
        .iter()
        .map(|d| SeenEvent {
            event_id: event_id_of(d.get("event_id")),
            order: OrderRef::from_created_event(&d["payload"]),
            count: d["count"].as_u64().unwrap_or(1),
        })
        .collect();

    let url = format!(
        "{}/admin/streams/dlq?stream=notify.events&count={DLQ_PAGE}",
        at.api
    );
    let (status, body) = get_json(http, &url, Some(&at.admin_token)).await?;
    if status != 200 {
        return Err(format!("GET {url} answered {status}: {body}"));
    }
    // {"stream","length","entries":[{dlq_id, originalStream, group, id, payload, error, ts}]}
    let entries = body["entries"].as_array().cloned().unwrap_or_default();
    let dead_lettered = entries
        .iter()
        .map(|e| SeenEvent {
            event_id: event_id_of(e["payload"].get("event_id")),
            order: OrderRef::from_created_event(&e["payload"]),
            count: 1,
        })
        .collect();
    let dlq_length = body["length"].as_u64().unwrap_or(entries.len() as u64);

    let url = format!(
        "{}/admin/streams/pending?stream=notify.events&group=notify&count=1",
        at.api
    );
    let (status, body) = get_json(http, &url, Some(&at.admin_token)).await?;
    let pending = match status {
        200 => body["pending"].as_u64().unwrap_or(0),
        // No stream or group yet: nothing was ever relayed.
        404 => 0,
        _ => return Err(format!("GET {url} answered {status}: {body}")),
    };

    let unrelayed = invariants::sql(sut, UNRELAYED_SQL)
        .await
        .map_err(|e| format!("SQL for unrelayed outbox rows: {e}"))?
        .first()
        .and_then(|r| r.first())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok(Look {
        delivered,
        dead_lettered,
        dlq_length,
        pending,
        unrelayed,
    })
}

/// Reconciles the ledger with Postgres, the sink and the DLQ; see the
/// module documentation. Call after [`super::Writers::stop`] (writes still
/// in flight are not in the ledger yet). `settle` bounds the wait for
/// events; when all are accounted for early it returns early.
pub async fn reconcile(
    sut: &Sut,
    ledger: &WriteLedger,
    settle: Duration,
) -> Result<Reconciliation, LedgerError> {
    let started = Instant::now();
    let records = ledger.records();
    let mut found = find_rows(sut, ledger).await?;
    let at = endpoints(sut).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| LedgerError::Config(format!("HTTP client: {e}")))?;

    let mut last_change = Instant::now();
    let mut previous = None;
    let mut last_error = None;
    let mut result: Option<(Reconciliation, Look)> = None;
    loop {
        match look(sut, &http, &at).await {
            Ok(l) => {
                found.delivered = l.delivered.clone();
                found.dead_lettered = l.dead_lettered.clone();
                let rec = reconcile_rows(&records, &found);
                let idle = l.pending == 0 && l.unrelayed == 0;
                let state = (rec.events, l.pending, l.unrelayed, l.dlq_length);
                if previous != Some(state) {
                    last_change = Instant::now();
                    previous = Some(state);
                }
                let done = idle && (rec.events.missing == 0 || last_change.elapsed() >= QUIET);
                result = Some((rec, l));
                if done {
                    break;
                }
            }
            Err(e) => last_error = Some(e),
        }
        if started.elapsed() >= settle {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let Some((mut rec, l)) = result else {
        return Err(LedgerError::Reconcile {
            what: "reading the sink and the DLQ".into(),
            detail: format!(
                "no answer within {:.1} s: {}",
                settle.as_secs_f64(),
                last_error.unwrap_or_default()
            ),
        });
    };
    rec.settle_ms = started.elapsed().as_millis() as u64;
    rec.settled = l.pending == 0
        && l.unrelayed == 0
        && (rec.events.missing == 0 || last_change.elapsed() >= QUIET);
    if l.dlq_length > l.dead_lettered.len() as u64 {
        rec.examples.push(format!(
            "the DLQ holds {} entries; only the oldest {} were read",
            l.dlq_length,
            l.dead_lettered.len()
        ));
    }
    if !rec.settled {
        rec.examples.push(format!(
            "events had not settled after {:.1} s: {} pending in the notify group, {} outbox rows unrelayed",
            rec.settle_ms as f64 / 1000.0,
            l.pending,
            l.unrelayed
        ));
    }
    Ok(rec)
}
