//! The credit ledger over `/v1/billing/accounts` (SYSTEM-SPEC 8.3): random
//! reserve / consume / release / grant / retry sequences on a fresh account,
//! compared with the model after every step.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;
use serde_json::{json, Value};

use super::stateful::{check_sequence, Sut};
use super::{check, ensure, fail, id_segment, num, snippet, CaseResult, Env, Fail, Property};
use crate::model::ledger::{Account, EntryKind, Expect, Target};
use crate::PropertyInfo;

pub(crate) static PROPERTIES: &[Property] = &[
    Property {
        info: PropertyInfo {
            name: "ledger_matches_model",
            family: "ledger",
            description: "random reserve/consume/release/grant/retry sequences: after every step status and error codes, balances, reservation status and ledger entries equal the model's; ledger sums equal balances; available ≥ 0; retries change nothing",
            default_cases: 48,
        },
        run: |env, runner| check_sequence::<LedgerMachine, LedgerSut>(env, runner, 1..24),
    },
    Property {
        info: PropertyInfo {
            name: "ledger_reserve_needs_active_credit",
            family: "ledger",
            description: "a reservation is taken only on an active account in CREDIT mode: a POSTPAID or suspended account refuses it with 409, with or without operator override, and nothing is reserved",
            default_cases: 16,
        },
        run: |env, runner| check(env, runner, account_kind(), reserve_needs_active_credit),
    },
];

/// An account's mode and status as created, a reservation's amount and
/// whether it asks for the operator override.
fn account_kind() -> impl Strategy<Value = (&'static str, &'static str, i64, bool)> {
    (
        prop::sample::select(vec!["CREDIT", "POSTPAID"]),
        prop::sample::select(vec!["active", "suspended"]),
        1i64..=5,
        any::<bool>(),
    )
}

fn reserve_needs_active_credit(
    env: &Env,
    &(mode, status, amount, operator_override): &(&'static str, &'static str, i64, bool),
) -> CaseResult {
    let created = env.expect(
        "POST",
        ACCOUNTS,
        Some(&json!({"mode": mode, "status": status})),
        201,
    )?;
    let Some(id) = created.get("id").filter(|i| !i.is_null()) else {
        return fail(format!("created account has no id: {}", snippet(&created)));
    };
    let account = format!("{ACCOUNTS}/{}", id_segment(id));
    let body = json!({
        "amount": amount,
        "idempotency_key": env.unique("props-ledger-kind"),
        "ref_type": "case",
        "ref_id": "kind",
        "operator_override": operator_override,
    });
    let reply = env.call("POST", &format!("{account}/reserve"), Some(&body))?;
    let allowed = mode == "CREDIT" && status == "active";
    if allowed {
        // Enough credit only through the override (the wallet is empty).
        let expected = if operator_override { 201 } else { 409 };
        ensure!(
            reply.status == expected,
            "{mode} {status} account, reserve {amount} (override {operator_override}) answered {}, expected {expected}: {}",
            reply.status,
            snippet(&reply.body)
        );
        return Ok(());
    }
    ensure!(
        reply.status == 409,
        "a {mode} {status} account took a reservation of {amount} (override {operator_override}): {} {}",
        reply.status,
        snippet(&reply.body)
    );
    let after = env.expect("GET", &account, None, 200)?;
    let reserved = after.get("reserved").and_then(Value::as_i64);
    let wallet = after.get("wallet").and_then(Value::as_i64);
    ensure!(
        reserved == Some(0) && wallet == Some(0),
        "a refused reservation on a {mode} {status} account changed it: reserved {reserved:?}, wallet {wallet:?}"
    );
    Ok(())
}

const ACCOUNTS: &str = "/v1/billing/accounts";
const KEYS: u8 = 4;
const REFS: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    /// The reservation made with key `r{n}` (sent as its reservation_id).
    Key(u8),
    /// `{ref_type: "case", ref_id: "ref{n}"}`.
    Ref(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LedgerOp {
    Reserve {
        key: u8,
        ref_id: u8,
        amount: i64,
        operator_override: bool,
    },
    /// A reserve with amount ≤ 0 (422, nothing changes).
    ReserveInvalid {
        amount: i64,
    },
    Consume(Pick),
    Release(Pick),
    Grant {
        key: u8,
        amount: i64,
        reason: EntryKind,
    },
    /// Sends the previous reserve or grant again, byte for byte.
    Retry,
}

#[derive(Debug, Clone)]
pub(crate) struct LedgerState {
    account: Account,
    /// Initial grant (0: none).
    initial: i64,
    last_keyed: Option<LedgerOp>,
    last: Option<Expect>,
}

fn res_key(k: u8) -> String {
    format!("r{k}")
}

fn ref_name(r: u8) -> String {
    format!("ref{r}")
}

fn grant_key(k: u8) -> String {
    format!("g{k}")
}

fn target(pick: Pick) -> Target {
    match pick {
        Pick::Key(k) => Target::Key(res_key(k)),
        Pick::Ref(r) => Target::Ref(ref_name(r)),
    }
}

pub(crate) struct LedgerMachine;

impl LedgerMachine {
    fn expect(account: &mut Account, op: &LedgerOp) -> Expect {
        match op {
            LedgerOp::Reserve {
                key,
                ref_id,
                amount,
                operator_override,
            } => account.reserve(
                &res_key(*key),
                &ref_name(*ref_id),
                *amount,
                *operator_override,
            ),
            LedgerOp::ReserveInvalid { amount } => account.reserve("bad", "bad", *amount, false),
            LedgerOp::Consume(p) => account.consume(&target(*p)),
            LedgerOp::Release(p) => account.release(&target(*p)),
            LedgerOp::Grant {
                key,
                amount,
                reason,
            } => account.grant(&grant_key(*key), *amount, *reason),
            LedgerOp::Retry => unreachable!("resolved by the caller"),
        }
    }
}

impl ReferenceStateMachine for LedgerMachine {
    type State = LedgerState;
    type Transition = LedgerOp;

    fn init_state() -> BoxedStrategy<LedgerState> {
        prop_oneof![1 => Just(0i64), 3 => 1i64..=20]
            .prop_map(|initial| {
                let mut account = Account::default();
                if initial > 0 {
                    account.grant("init", initial, EntryKind::Grant);
                }
                LedgerState {
                    account,
                    initial,
                    last_keyed: None,
                    last: None,
                }
            })
            .boxed()
    }

    fn transitions(state: &LedgerState) -> BoxedStrategy<LedgerOp> {
        // Half the reservations ask for exactly available − 1, available or
        // available + 1 credits: CRED001 (or the override) lives there.
        let available = state.account.available();
        let boundary: Vec<i64> = [available - 1, available, available + 1]
            .into_iter()
            .filter(|a| *a >= 1)
            .collect();
        let amount = prop_oneof![1 => 1i64..=8, 1 => prop::sample::select(boundary)];
        let reserve = (0..KEYS, 0..REFS, amount, prop::bool::weighted(0.25)).prop_map(
            |(key, ref_id, amount, operator_override)| LedgerOp::Reserve {
                key,
                ref_id,
                amount,
                operator_override,
            },
        );
        let known: Vec<u8> = (0..KEYS)
            .filter(|k| state.account.has_key(&res_key(*k)))
            .collect();
        let pick = if known.is_empty() {
            (0..REFS).prop_map(Pick::Ref).boxed()
        } else {
            prop_oneof![
                2 => prop::sample::select(known).prop_map(Pick::Key),
                1 => (0..REFS).prop_map(Pick::Ref),
            ]
            .boxed()
        };
        let grant = (
            0..3u8,
            1i64..=10,
            prop::sample::select(vec![
                EntryKind::Grant,
                EntryKind::Topup,
                EntryKind::Adjustment,
            ]),
        )
            .prop_map(|(key, amount, reason)| LedgerOp::Grant {
                key,
                amount,
                reason,
            });
        let invalid = (-3i64..=0).prop_map(|amount| LedgerOp::ReserveInvalid { amount });
        let mut ops = vec![
            (4, reserve.boxed()),
            (3, pick.clone().prop_map(LedgerOp::Consume).boxed()),
            (3, pick.prop_map(LedgerOp::Release).boxed()),
            (2, grant.boxed()),
            (1, invalid.boxed()),
        ];
        if state.last_keyed.is_some() {
            ops.push((2, Just(LedgerOp::Retry).boxed()));
        }
        proptest::strategy::Union::new_weighted(ops).boxed()
    }

    fn preconditions(state: &LedgerState, op: &LedgerOp) -> bool {
        match op {
            LedgerOp::Retry => state.last_keyed.is_some(),
            LedgerOp::Consume(Pick::Key(k)) | LedgerOp::Release(Pick::Key(k)) => {
                state.account.has_key(&res_key(*k))
            }
            _ => true,
        }
    }

    fn apply(mut state: LedgerState, op: &LedgerOp) -> LedgerState {
        let effective = match op {
            LedgerOp::Retry => state.last_keyed.clone().expect("precondition"),
            other => other.clone(),
        };
        let expect = Self::expect(&mut state.account, &effective);
        if matches!(effective, LedgerOp::Reserve { .. } | LedgerOp::Grant { .. }) {
            state.last_keyed = Some(effective);
        }
        state.last = Some(expect);
        state
    }
}

/// One ledger entry as the API shows it.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    kind: String,
    wallet_delta: i64,
    reserved_delta: i64,
}

pub(crate) struct LedgerSut {
    account: String,
    /// Prefix of this case's idempotency keys (unique per case and process).
    prefix: String,
    reservation_ids: BTreeMap<u8, Value>,
    last_keyed: Option<LedgerOp>,
    entries: Vec<Entry>,
}

fn int(body: &Value, pointer: &str, what: &str) -> Result<i64, Fail> {
    let x = num(body, pointer, what)?;
    if x.fract() != 0.0 {
        return fail(format!("{what} is not a whole number: {x}"));
    }
    Ok(x as i64)
}

impl LedgerSut {
    fn path(&self, tail: &str) -> String {
        format!("{ACCOUNTS}/{}{tail}", self.account)
    }

    fn request(&self, op: &LedgerOp) -> Option<(String, Value)> {
        let p = &self.prefix;
        let pick_body = |pick: &Pick| -> Option<Value> {
            match pick {
                Pick::Key(k) => Some(json!({"reservation_id": self.reservation_ids.get(k)?})),
                Pick::Ref(r) => Some(json!({"ref_type": "case", "ref_id": ref_name(*r)})),
            }
        };
        Some(match op {
            LedgerOp::Reserve {
                key,
                ref_id,
                amount,
                operator_override,
            } => (
                self.path("/reserve"),
                json!({
                    "amount": amount,
                    "idempotency_key": format!("{p}-{}", res_key(*key)),
                    "ref_type": "case",
                    "ref_id": ref_name(*ref_id),
                    "operator_override": operator_override,
                }),
            ),
            LedgerOp::ReserveInvalid { amount } => (
                self.path("/reserve"),
                json!({
                    "amount": amount,
                    "idempotency_key": format!("{p}-bad"),
                    "ref_type": "case",
                    "ref_id": "bad",
                }),
            ),
            LedgerOp::Consume(pick) => (self.path("/consume"), pick_body(pick)?),
            LedgerOp::Release(pick) => (self.path("/release"), pick_body(pick)?),
            LedgerOp::Grant {
                key,
                amount,
                reason,
            } => (
                self.path("/grant"),
                json!({
                    "amount": amount,
                    "reason": reason.as_str(),
                    "idempotency_key": format!("{p}-{}", grant_key(*key)),
                }),
            ),
            LedgerOp::Retry => return self.request(self.last_keyed.as_ref()?),
        })
    }

    /// Balances and ledger of the account against the model.
    fn compare(&mut self, env: &Env, model: &LedgerState, appended: &[EntryKind]) -> CaseResult {
        let m = &model.account;
        let account = env.expect("GET", &self.path(""), None, 200)?;
        let wallet = int(&account, "/wallet", "account.wallet")?;
        let reserved = int(&account, "/reserved", "account.reserved")?;
        let available = int(&account, "/available", "account.available")?;
        ensure!(
            (wallet, reserved, available) == (m.wallet, m.reserved, m.available()),
            "balances (wallet, reserved, available) = {:?}, model {:?}",
            (wallet, reserved, available),
            (m.wallet, m.reserved, m.available())
        );
        ensure!(
            available >= 0 && reserved >= 0,
            "negative balance: available {available}, reserved {reserved}"
        );
        ensure!(
            available == wallet - reserved,
            "available {available} ≠ wallet {wallet} − reserved {reserved}"
        );

        let ledger = env.expect("GET", &self.path("/ledger"), None, 200)?;
        let wallet_sum = int(&ledger, "/wallet_sum", "ledger.wallet_sum")?;
        let reserved_sum = int(&ledger, "/reserved_sum", "ledger.reserved_sum")?;
        let Some(raw) = ledger.get("entries").and_then(Value::as_array) else {
            return fail(format!("ledger has no entries list: {}", snippet(&ledger)));
        };
        let mut entries = Vec::with_capacity(raw.len());
        for (i, e) in raw.iter().enumerate() {
            entries.push(Entry {
                kind: e
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("<missing>")
                    .to_owned(),
                wallet_delta: int(e, "/wallet_delta", &format!("entries[{i}].wallet_delta"))?,
                reserved_delta: int(
                    e,
                    "/reserved_delta",
                    &format!("entries[{i}].reserved_delta"),
                )?,
            });
        }
        let sum_w: i64 = entries.iter().map(|e| e.wallet_delta).sum();
        let sum_r: i64 = entries.iter().map(|e| e.reserved_delta).sum();
        ensure!(
            (sum_w, sum_r) == (wallet_sum, reserved_sum) && (wallet_sum, reserved_sum) == (wallet, reserved),
            "ledger deltas sum to ({sum_w}, {sum_r}), reported sums ({wallet_sum}, {reserved_sum}), balances ({wallet}, {reserved})"
        );
        ensure!(
            entries.len() >= self.entries.len()
                && entries[..self.entries.len()] == self.entries[..],
            "ledger is not append-only: earlier entries {:?} became {:?}",
            self.entries,
            entries
        );
        let new: Vec<&str> = entries[self.entries.len()..]
            .iter()
            .map(|e| e.kind.as_str())
            .collect();
        let expected: Vec<&str> = appended.iter().map(|k| k.as_str()).collect();
        ensure!(
            new == expected,
            "appended ledger entries {new:?}, model {expected:?}"
        );
        self.entries = entries;
        Ok(())
    }
}

impl Sut<LedgerMachine> for LedgerSut {
    fn init(env: &Env, state: &LedgerState) -> Result<Self, Fail> {
        let created = env.expect("POST", ACCOUNTS, Some(&json!({"mode": "CREDIT"})), 201)?;
        let Some(id) = created.get("id").filter(|i| !i.is_null()) else {
            return fail(format!("created account has no id: {}", snippet(&created)));
        };
        let mut sut = LedgerSut {
            account: id_segment(id),
            prefix: env.unique("props-ledger"),
            reservation_ids: BTreeMap::new(),
            last_keyed: None,
            entries: Vec::new(),
        };
        let mut appended = Vec::new();
        if state.initial > 0 {
            let body = json!({
                "amount": state.initial,
                "reason": "grant",
                "idempotency_key": format!("{}-init", sut.prefix),
            });
            env.expect("POST", &sut.path("/grant"), Some(&body), 201)?;
            appended.push(EntryKind::Grant);
        }
        sut.compare(env, state, &appended)?;
        Ok(sut)
    }

    fn step(&mut self, env: &Env, op: &LedgerOp, after: &LedgerState) -> CaseResult {
        let Some((path, body)) = self.request(op) else {
            return fail(format!(
                "no request for {op:?} (the reservation was never created)"
            ));
        };
        let reply = env.call("POST", &path, Some(&body))?;
        let expect = after.last.clone().expect("apply sets the expectation");
        ensure!(
            reply.status == expect.status
                && (expect.code.is_none() || reply.error_code() == expect.code),
            "answered {} {:?}, model expects {} {:?}: {}",
            reply.status,
            reply.error_code(),
            expect.status,
            expect.code,
            snippet(&reply.body)
        );
        let effective = match op {
            LedgerOp::Retry => self.last_keyed.clone().expect("precondition"),
            other => other.clone(),
        };
        if let Some(status) = expect.reservation {
            let got = reply
                .body
                .pointer("/reservation/status")
                .and_then(Value::as_str);
            ensure!(
                got == Some(status.as_str()),
                "reservation status {got:?}, model {}",
                status.as_str()
            );
            if let LedgerOp::Reserve { key, .. } = effective {
                match reply.body.pointer("/reservation/id") {
                    Some(id) if !id.is_null() => {
                        let known = self
                            .reservation_ids
                            .entry(key)
                            .or_insert_with(|| id.clone());
                        ensure!(
                            known == id,
                            "a retry of key r{key} returned reservation {id}, first answer was {known}"
                        );
                    }
                    _ => {
                        return fail(format!(
                            "reserve answer has no reservation id: {}",
                            snippet(&reply.body)
                        ))
                    }
                }
            }
        }
        if reply.status < 300 {
            if let Some(acc) = reply.body.get("account") {
                let m = &after.account;
                let got = (
                    int(acc, "/wallet", "account.wallet")?,
                    int(acc, "/reserved", "account.reserved")?,
                );
                ensure!(
                    got == (m.wallet, m.reserved),
                    "answer's account (wallet, reserved) = {got:?}, model {:?}",
                    (m.wallet, m.reserved)
                );
            }
        }
        if matches!(effective, LedgerOp::Reserve { .. } | LedgerOp::Grant { .. }) {
            self.last_keyed = Some(effective);
        }
        self.compare(env, after, &expect.appended)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// Generated sequences produce every answer the model knows (guards
    /// the generator's weights and preconditions).
    #[test]
    fn sequences_reach_every_answer() {
        let mut runner = TestRunner::deterministic();
        let strategy = LedgerMachine::sequential_strategy(1..24);
        let mut seen: BTreeMap<(u16, Option<&str>), u32> = BTreeMap::new();
        let mut overrides = 0;
        for _ in 0..500 {
            let (mut state, transitions, _) = strategy.new_tree(&mut runner).unwrap().current();
            for t in &transitions {
                state = LedgerMachine::apply(state, t);
                let e = state.last.clone().unwrap();
                overrides += u32::from(e.appended.contains(&EntryKind::Override));
                *seen.entry((e.status, e.code)).or_default() += 1;
            }
        }
        eprintln!("{seen:?}, overrides {overrides}");
        for answer in [
            (201, None),
            (200, None),
            (422, None),
            (409, Some("CRED001")),
            (409, Some("CRED002")),
            (409, Some("CRED003")),
            (404, Some("CRED006")),
        ] {
            assert!(
                seen.get(&answer).copied().unwrap_or(0) >= 20,
                "{answer:?}: {seen:?}"
            );
        }
        assert!(overrides >= 20, "{overrides} overrides");
    }
}
