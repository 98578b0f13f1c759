//! An in-process [`RulesApi`] over `gauntlet_rules`: a small in-memory
//! router that answers the issue-6 contract's routes (section B) the way the
//! system does, with deliberate rule mistakes switchable on. The rate-limit
//! probe runs the rules crate's token bucket on the wall clock (the system
//! runs the same arithmetic in Redis); flags are kept in a map.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use gauntlet_props::{CallError, Reply, RulesApi};
use gauntlet_rules::feed::{self, Cursor, Item, Kind, Lane};
use gauntlet_rules::ledger::{AccountStatus, BookError, EntryKind, Ledger, LedgerError, Mode};
use gauntlet_rules::token_bucket::{self, Bucket};
use gauntlet_rules::valuation::{self, ValuationInput};
use gauntlet_rules::workorder::{self, EvidenceKind, ReportType, Status, TransitionError};
use gauntlet_rules::Mistakes;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

pub struct InProcess {
    mistakes: Mistakes,
    defects: Defects,
    state: Mutex<State>,
}

/// The reference system's defect switches that touch these rules
/// (`SYSTEM_DEFECTS`), emulated here so the in-process tests can show the
/// properties catch them too. The system implements them in its HTTP and
/// Redis layers, not in the rules crate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Defects {
    /// The cursor keeps the created_at of the last item per stream; the next
    /// page takes items created strictly before it (still ordered by score).
    pub feed_cursor_by_time: bool,
    /// The limiter allows every request.
    pub rate_limit_never_denies: bool,
}

#[derive(Default)]
struct State {
    work_orders: Vec<WorkOrder>,
    accounts: Vec<(Mode, Ledger)>,
    feed: Vec<FeedItem>,
    buckets: HashMap<String, Bucket>,
    flags: HashMap<String, (bool, i32)>,
    evidence_ids: i64,
}

struct WorkOrder {
    report_type: ReportType,
    status: Status,
    fields: Map<String, Value>,
    evidence: Vec<(i64, EvidenceKind)>,
    snapshot_version: Option<u32>,
    /// The latest snapshot: (input, output).
    snapshot: Option<(Value, Value)>,
}

struct FeedItem {
    item: Item,
    community: String,
    hidden: bool,
}

type Answer = Result<(u16, Value), (u16, &'static str, String)>;

fn err(status: u16, code: &'static str, message: impl Into<String>) -> Answer {
    Err((status, code, message.into()))
}

fn invalid(message: impl Into<String>) -> Answer {
    err(422, "VALIDATION_FAILED", message)
}

fn parse<T: DeserializeOwned>(body: Option<&Value>) -> Result<T, (u16, &'static str, String)> {
    let body = body.cloned().unwrap_or(Value::Null);
    serde_json::from_value(body).map_err(|e| (422, "VALIDATION_FAILED", e.to_string()))
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl InProcess {
    pub fn new(mistakes: Mistakes) -> Self {
        Self::with_defects(mistakes, Defects::default())
    }

    pub fn with_defects(mistakes: Mistakes, defects: Defects) -> Self {
        InProcess {
            mistakes,
            defects,
            state: Mutex::new(State::default()),
        }
    }

    fn route(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let query: HashMap<&str, &str> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut st = self.state.lock().unwrap();
        let st = &mut *st;
        match (method, segs.as_slice()) {
            ("POST", ["v1", "repogen", "evaluate"]) => self.evaluate(body),
            ("POST", ["v1", "repogen", "work-orders"]) => self.create_order(st, body),
            (_, ["v1", "repogen", "work-orders", id, rest @ ..]) => {
                self.order_route(st, method, id, rest, body)
            }
            ("POST", ["v1", "billing", "accounts"]) => create_account(st, body, self.mistakes),
            (_, ["v1", "billing", "accounts", id, rest @ ..]) => {
                self.account_route(st, method, id, rest, body)
            }
            ("POST", ["api", "v1", "admin", "feed", "items"]) => add_items(st, body),
            ("GET", ["api", "v1", "feed"]) if self.defects.feed_cursor_by_time => {
                feed_page_by_time(st, &query)
            }
            ("GET", ["api", "v1", "feed"]) => feed_page(st, &query),
            ("POST", ["api", "v1", "admin", "ratelimit", "probe"]) => {
                probe(st, body, self.defects.rate_limit_never_denies)
            }
            ("PUT", ["api", "v1", "admin", "flags", key]) => set_flag(st, key, body),
            ("GET", ["api", "v1", "admin", "flags", key, "users", user]) => flag_for(st, key, user),
            _ => err(404, "NOT_FOUND", format!("no route {method} {path}")),
        }
    }

    fn evaluate(&self, body: Option<&Value>) -> Answer {
        let input: ValuationInput = parse(body)?;
        match valuation::evaluate_with(&input, &self.mistakes) {
            Ok(out) => Ok((200, serde_json::to_value(out).unwrap())),
            Err(e) => invalid(e.to_string()),
        }
    }

    fn order_json(&self, id: usize, wo: &WorkOrder) -> Value {
        let kinds: Vec<EvidenceKind> = wo.evidence.iter().map(|e| e.1).collect();
        let readiness =
            workorder::readiness_with(wo.report_type, &wo.fields, &kinds, &self.mistakes);
        json!({
            "id": id + 1,
            "report_type": wo.report_type,
            "status": wo.status,
            "fields": wo.fields,
            "evidence": wo.evidence.iter().map(|(id, k)| json!({"id": id, "kind": k})).collect::<Vec<_>>(),
            "readiness": readiness,
            "snapshot_version": wo.snapshot_version,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        })
    }

    fn create_order(&self, st: &mut State, body: Option<&Value>) -> Answer {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct New {
            report_type: ReportType,
            #[serde(default)]
            fields: Map<String, Value>,
        }
        let new: New = parse(body)?;
        let wo = WorkOrder {
            report_type: new.report_type,
            status: Status::Draft,
            fields: new
                .fields
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect(),
            evidence: Vec::new(),
            snapshot_version: None,
            snapshot: None,
        };
        st.work_orders.push(wo);
        let id = st.work_orders.len() - 1;
        Ok((201, self.order_json(id, &st.work_orders[id])))
    }

    fn order_route(
        &self,
        st: &mut State,
        method: &str,
        id: &str,
        rest: &[&str],
        body: Option<&Value>,
    ) -> Answer {
        let idx = id
            .parse::<usize>()
            .ok()
            .and_then(|i| i.checked_sub(1))
            .filter(|i| *i < st.work_orders.len());
        let Some(idx) = idx else {
            return err(404, "REPO003", format!("work order {id} not found"));
        };
        st.evidence_ids += 1;
        let evidence_id = st.evidence_ids;
        let wo = &mut st.work_orders[idx];
        match (method, rest) {
            ("GET", []) => {}
            ("PATCH", ["contract"]) => {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Patch {
                    fields: Map<String, Value>,
                }
                let patch: Patch = parse(body)?;
                if wo.status.is_terminal() {
                    return err(409, "REPO002", format!("work order is {}", wo.status));
                }
                for (k, v) in patch.fields {
                    if v.is_null() {
                        wo.fields.remove(&k);
                    } else {
                        wo.fields.insert(k, v);
                    }
                }
                wo.snapshot_version = Some(wo.snapshot_version.unwrap_or(0) + 1);
                let kinds: Vec<EvidenceKind> = wo.evidence.iter().map(|e| e.1).collect();
                let readiness =
                    workorder::readiness_with(wo.report_type, &wo.fields, &kinds, &self.mistakes);
                let valuation =
                    serde_json::from_value::<ValuationInput>(Value::Object(wo.fields.clone()))
                        .ok()
                        .and_then(|i| valuation::evaluate_with(&i, &self.mistakes).ok());
                wo.snapshot = Some((
                    json!({"fields": wo.fields, "evidence_kinds": sorted_kinds(&kinds)}),
                    json!({"readiness": readiness, "valuation": valuation}),
                ));
            }
            ("GET", ["export"]) => {
                let kinds: Vec<EvidenceKind> = wo.evidence.iter().map(|e| e.1).collect();
                let readiness =
                    workorder::readiness_with(wo.report_type, &wo.fields, &kinds, &self.mistakes);
                let snapshot = match (&wo.snapshot, wo.snapshot_version) {
                    (Some((input, output)), Some(version)) => {
                        json!({"version": version, "input": input, "output": output})
                    }
                    _ => Value::Null,
                };
                let mut bundle = json!({
                    "report_type": wo.report_type,
                    "status": wo.status,
                    "fields": wo.fields,
                    "evidence_kinds": sorted_kinds(&kinds),
                    "snapshot": snapshot,
                    "readiness": readiness,
                });
                let digest = hex::encode(Sha256::digest(
                    // A pure JSON normal form, not a rule under test.
                    gauntlet_props::model::workorder::canonical_json(&bundle).as_bytes(),
                ));
                bundle["bundle_sha256"] = Value::String(digest);
                return Ok((200, bundle));
            }
            ("POST", ["evidence"]) => {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct New {
                    kind: EvidenceKind,
                    #[allow(dead_code)]
                    caption: Option<String>,
                }
                let new: New = parse(body)?;
                if wo.status.is_terminal() {
                    return err(409, "REPO002", format!("work order is {}", wo.status));
                }
                wo.evidence.push((evidence_id, new.kind));
                return Ok((201, self.order_json(idx, wo)));
            }
            ("POST", ["status"]) => {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct To {
                    status: Status,
                }
                let to: To = parse(body)?;
                let kinds: Vec<EvidenceKind> = wo.evidence.iter().map(|e| e.1).collect();
                let readiness =
                    workorder::readiness_with(wo.report_type, &wo.fields, &kinds, &self.mistakes);
                match workorder::transition_with(
                    wo.status,
                    to.status,
                    wo.snapshot_version.is_some(),
                    &readiness,
                    &self.mistakes,
                ) {
                    Ok(_) => wo.status = to.status,
                    Err(e @ TransitionError::Invalid { .. }) => {
                        return err(409, "REPO002", e.to_string())
                    }
                    Err(e @ TransitionError::NotReady(_)) => {
                        return err(409, "REPO001", e.to_string())
                    }
                }
            }
            _ => return err(404, "NOT_FOUND", "no such work-order route"),
        }
        Ok((200, self.order_json(idx, wo)))
    }

    fn account_route(
        &self,
        st: &mut State,
        method: &str,
        id: &str,
        rest: &[&str],
        body: Option<&Value>,
    ) -> Answer {
        let idx = id
            .parse::<usize>()
            .ok()
            .and_then(|i| i.checked_sub(1))
            .filter(|i| *i < st.accounts.len());
        let Some(idx) = idx else {
            return err(404, "CRED005", format!("account {id} not found"));
        };
        let (mode, ledger) = &mut st.accounts[idx];
        let mode = *mode;
        let account = |l: &Ledger| account_json(idx, mode, l);
        match (method, rest) {
            ("GET", []) => Ok((200, account(ledger))),
            ("GET", ["ledger"]) => {
                let b = ledger.balances();
                Ok((
                    200,
                    json!({"entries": ledger.entries(), "wallet_sum": b.wallet, "reserved_sum": b.reserved}),
                ))
            }
            ("POST", ["reserve"]) => {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Reserve {
                    #[serde(default = "one")]
                    amount: i64,
                    idempotency_key: String,
                    ref_type: String,
                    ref_id: String,
                    #[serde(default)]
                    operator_override: bool,
                }
                fn one() -> i64 {
                    1
                }
                let r: Reserve = parse(body)?;
                let out = ledger
                    .reserve(
                        &r.idempotency_key,
                        r.amount,
                        &r.ref_type,
                        &r.ref_id,
                        r.operator_override,
                    )
                    .map_err(book_error)?;
                let status = if out.changed { 201 } else { 200 };
                Ok((
                    status,
                    json!({"reservation": out.value, "account": account(ledger)}),
                ))
            }
            ("POST", [op @ ("consume" | "release")]) => {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Pick {
                    reservation_id: Option<i64>,
                    ref_type: Option<String>,
                    ref_id: Option<String>,
                }
                let p: Pick = parse(body)?;
                let id = match (p.reservation_id, p.ref_type, p.ref_id) {
                    (Some(id), None, None) => id,
                    (None, Some(t), Some(r)) => match ledger.reservation_by_ref(&t, &r) {
                        Some(res) => res.id,
                        None => return err(404, "CRED006", "no reservation with that ref"),
                    },
                    _ => return invalid("give reservation_id or ref_type + ref_id"),
                };
                let out = if *op == "consume" {
                    ledger.consume(id)
                } else {
                    ledger.release(id)
                }
                .map_err(book_error)?;
                Ok((
                    200,
                    json!({"reservation": out.value, "account": account(ledger)}),
                ))
            }
            ("POST", ["grant"]) => {
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Grant {
                    amount: i64,
                    reason: EntryKind,
                    idempotency_key: String,
                }
                let g: Grant = parse(body)?;
                let out = ledger
                    .grant(&g.idempotency_key, g.amount, g.reason)
                    .map_err(book_error)?;
                let status = if out.changed { 201 } else { 200 };
                Ok((status, json!({"account": account(ledger)})))
            }
            _ => err(404, "NOT_FOUND", "no such account route"),
        }
    }
}

fn sorted_kinds(kinds: &[EvidenceKind]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = kinds.iter().map(|k| k.as_str()).collect();
    names.sort();
    names
}

fn account_json(idx: usize, mode: Mode, l: &Ledger) -> Value {
    let b = l.balances();
    json!({
        "id": idx + 1, "mode": mode, "status": l.status(),
        "wallet": b.wallet, "reserved": b.reserved, "available": b.available(),
    })
}

fn book_error(e: BookError) -> (u16, &'static str, String) {
    let text = e.to_string();
    match e {
        BookError::Rule(LedgerError::InvalidAmount) => (422, "VALIDATION_FAILED", text),
        BookError::Rule(rule) => (409, rule.code(), text),
        BookError::UnknownReservation(_) => (404, "CRED006", text),
        BookError::Constraint(_) => (409, "CONSTRAINT", text),
    }
}

fn create_account(st: &mut State, body: Option<&Value>, mistakes: Mistakes) -> Answer {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct New {
        mode: Mode,
        #[serde(default = "active")]
        status: AccountStatus,
    }
    fn active() -> AccountStatus {
        AccountStatus::Active
    }
    let new: New = parse(body)?;
    st.accounts.push((
        new.mode,
        Ledger::with_mistakes(new.mode, new.status, mistakes),
    ));
    let idx = st.accounts.len() - 1;
    Ok((201, account_json(idx, new.mode, &st.accounts[idx].1)))
}

fn add_items(st: &mut State, body: Option<&Value>) -> Answer {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct New {
        community: Option<String>,
        items: Vec<NewItem>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct NewItem {
        kind: Kind,
        seller_id: i64,
        created_at: String,
        signal: f64,
        fit: f64,
        #[serde(default)]
        hidden: bool,
        #[allow(dead_code)]
        product_id: Option<i64>,
    }
    let new: New = parse(body)?;
    let community = new.community.unwrap_or_else(|| "main".into());
    let mut ids = Vec::new();
    for it in new.items {
        let Ok(at) = DateTime::parse_from_rfc3339(&it.created_at) else {
            return invalid("created_at is not RFC 3339");
        };
        if !(0.0..=1.0).contains(&it.signal) || !(0.0..=1.0).contains(&it.fit) {
            return invalid("signal and fit are 0..=1");
        }
        let id = st.feed.len() as i64 + 1;
        st.feed.push(FeedItem {
            item: Item {
                id,
                kind: it.kind,
                seller_id: it.seller_id,
                created_at_ms: at.timestamp_millis(),
                signal: it.signal,
                fit: it.fit,
            },
            community: community.clone(),
            hidden: it.hidden,
        });
        ids.push(id);
    }
    Ok((201, json!({ "ids": ids })))
}

fn feed_page(st: &mut State, q: &HashMap<&str, &str>) -> Answer {
    let Some(lane) = Lane::parse(q.get("lane").copied().unwrap_or("for_you")) else {
        return invalid("unknown lane");
    };
    let limit = match q.get("limit").map(|l| l.parse::<u32>()) {
        None => 20,
        Some(Ok(l)) if (1..=50).contains(&l) => l,
        _ => return invalid("limit is 1..=50"),
    };
    let cursor = match q.get("cursor") {
        None => None,
        Some(c) => match Cursor::decode(c) {
            Ok(c) => Some(c),
            Err(e) => return invalid(e.to_string()),
        },
    };
    let community = q.get("community").copied().unwrap_or("main");
    let candidates: Vec<Item> = st
        .feed
        .iter()
        .filter(|f| f.community == community && !f.hidden)
        .map(|f| f.item.clone())
        .collect();
    let now = now_ms();
    let page = feed::page(&candidates, lane, limit, cursor.as_ref(), now);
    let as_of = cursor.as_ref().map_or(now, |c| c.as_of_ms);
    Ok((
        200,
        page_json(lane, as_of, &page.items, page.next.map(|c| c.encode())),
    ))
}

fn rfc(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn page_json(lane: Lane, as_of: i64, items: &[(Item, f64)], next: Option<String>) -> Value {
    json!({
        "lane": lane.as_str(),
        "as_of": rfc(as_of),
        "items": items.iter().map(|(i, s)| json!({
            "id": i.id, "kind": i.kind, "seller_id": i.seller_id, "score": s,
            "created_at": rfc(i.created_at_ms),
        })).collect::<Vec<_>>(),
        "next_cursor": next,
    })
}

/// The `feed_cursor_by_time` defect: blended and ordered by score as usual,
/// but the cursor is `as_of` plus, per kind, the created_at of the last
/// item shown, and the next page takes only older items of that kind.
fn feed_page_by_time(st: &mut State, q: &HashMap<&str, &str>) -> Answer {
    let lane = Lane::parse(q.get("lane").copied().unwrap_or("for_you")).ok_or((
        422,
        "VALIDATION_FAILED",
        "lane".to_owned(),
    ))?;
    let limit: u32 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    let community = q.get("community").copied().unwrap_or("main");
    let parsed: Option<Vec<Option<i64>>> = q
        .get("cursor")
        .map(|c| c.split('.').map(|p| p.parse().ok()).collect());
    let (as_of, before) = match parsed {
        Some(v) if v.len() == 4 => (v[0].unwrap_or(0), [v[1], v[2], v[3]]),
        Some(_) => return invalid("bad cursor"),
        None => (now_ms(), [None; 3]),
    };
    let kind_index = |k: Kind| Kind::ALL.iter().position(|x| *x == k).unwrap();
    let candidates: Vec<Item> = st
        .feed
        .iter()
        .filter(|f| f.community == community && !f.hidden)
        .filter(|f| before[kind_index(f.item.kind)].is_none_or(|t| f.item.created_at_ms < t))
        .map(|f| f.item.clone())
        .collect();
    let page = feed::page(&candidates, lane, limit, None, as_of);
    let mut last = before;
    for (item, _) in &page.items {
        last[kind_index(item.kind)] = Some(item.created_at_ms);
    }
    let next = page.next.as_ref().map(|_| {
        let part = |t: Option<i64>| t.map_or_else(|| "x".to_owned(), |t| t.to_string());
        format!(
            "{as_of}.{}.{}.{}",
            part(last[0]),
            part(last[1]),
            part(last[2])
        )
    });
    Ok((200, page_json(lane, as_of, &page.items, next)))
}

fn probe(st: &mut State, body: Option<&Value>, never_deny: bool) -> Answer {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Probe {
        key: String,
        capacity: u32,
        window_ms: u64,
        requests: u32,
    }
    let p: Probe = parse(body)?;
    if !(1..=10_000).contains(&p.capacity)
        || !(1..=3_600_000).contains(&p.window_ms)
        || !(1..=1000).contains(&p.requests)
    {
        return invalid("capacity 1..=10000, window_ms 1..=3600000, requests 1..=1000");
    }
    let mut decisions = Vec::new();
    let mut allowed = 0;
    for _ in 0..p.requests {
        let state = st.buckets.get(&p.key).copied();
        let (bucket, mut d) = token_bucket::take(state, p.capacity, p.window_ms, now_ms());
        st.buckets.insert(p.key.clone(), bucket);
        if never_deny {
            d.allowed = true;
            d.retry_after_ms = 0;
        }
        allowed += u32::from(d.allowed);
        decisions.push(json!({"allowed": d.allowed, "remaining": d.remaining, "retry_after_ms": d.retry_after_ms}));
    }
    Ok((
        200,
        json!({"allowed": allowed, "denied": p.requests - allowed, "decisions": decisions}),
    ))
}

fn set_flag(st: &mut State, key: &str, body: Option<&Value>) -> Answer {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Flag {
        enabled: bool,
        rollout: i32,
    }
    let f: Flag = parse(body)?;
    if !(0..=100).contains(&f.rollout) {
        return invalid("rollout is 0..=100");
    }
    st.flags.insert(key.to_owned(), (f.enabled, f.rollout));
    Ok((
        200,
        json!({"data": {"key": key, "enabled": f.enabled, "rollout": f.rollout}}),
    ))
}

fn flag_for(st: &mut State, key: &str, user: &str) -> Answer {
    let Some(&(enabled, rollout)) = st.flags.get(key) else {
        return err(404, "NOT_FOUND", "unknown flag");
    };
    let Ok(user_id) = user.parse::<i64>() else {
        return invalid("user_id is an integer");
    };
    let on = gauntlet_rules::flags::is_on(enabled, rollout, key, Some(user_id));
    Ok((
        200,
        json!({"key": key, "user_id": user_id, "enabled": enabled, "rollout": rollout, "on": on}),
    ))
}

impl RulesApi for InProcess {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply, CallError> {
        Ok(match self.route(method, path, body) {
            Ok((status, body)) => Reply { status, body },
            Err((status, code, message)) => Reply {
                status,
                body: json!({"error": {"code": code, "message": message}}),
            },
        })
    }
}

/// A target that never answers (every call is a transport error).
pub struct Unreachable;

impl RulesApi for Unreachable {
    fn call(&self, method: &str, path: &str, _body: Option<&Value>) -> Result<Reply, CallError> {
        Err(CallError::Transport {
            method: method.into(),
            path: path.into(),
            message: "connection refused".into(),
        })
    }
}

/// Every property the in-process adapter can answer: all but the
/// marketplace's order stages (checkout and products are not rules-crate
/// engines; they run against real stacks in harness/cli/tests/props.rs).
pub fn rules_engine_properties() -> Vec<String> {
    gauntlet_props::catalogue()
        .into_iter()
        .filter(|p| p.family != "order_stages")
        .map(|p| p.name.to_string())
        .collect()
}
