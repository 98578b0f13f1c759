use proptest::prelude::*;
use serde_json::json;

use super::*;

fn b(wallet: i64, reserved: i64) -> Balances {
    Balances { wallet, reserved }
}

fn credit() -> Ledger {
    Ledger::new(Mode::Credit, AccountStatus::Active)
}

#[test]
fn reserve_within_available() {
    assert_eq!(
        decide_reserve(b(10, 4), 6, false),
        Ok(vec![Delta {
            wallet: 0,
            reserved: 6,
            kind: EntryKind::Reserve
        }])
    );
    assert_eq!(b(10, 4).available(), 6);
}

#[test]
fn reserve_short_is_cred001() {
    let err = decide_reserve(b(10, 4), 7, false).unwrap_err();
    assert_eq!(
        err,
        LedgerError::InsufficientCredits {
            available: 6,
            requested: 7
        }
    );
    assert_eq!(err.code(), "CRED001");
    assert_eq!(
        err.to_string(),
        "insufficient credits: 6 available, 7 requested"
    );
}

#[test]
fn override_tops_up_exactly_the_shortfall() {
    assert_eq!(
        decide_reserve(b(10, 4), 9, true),
        Ok(vec![
            Delta {
                wallet: 3,
                reserved: 0,
                kind: EntryKind::Override
            },
            Delta {
                wallet: 0,
                reserved: 9,
                kind: EntryKind::Reserve
            },
        ])
    );
    // Override with enough credits changes nothing about the decision.
    assert_eq!(
        decide_reserve(b(10, 0), 5, true),
        decide_reserve(b(10, 0), 5, false)
    );
}

#[test]
fn invalid_amounts() {
    for amount in [0, -1, i64::MIN] {
        assert_eq!(
            decide_reserve(b(10, 0), amount, true),
            Err(LedgerError::InvalidAmount)
        );
        assert_eq!(
            decide_grant(amount, EntryKind::Grant),
            Err(LedgerError::InvalidAmount)
        );
    }
    assert_eq!(
        decide_reserve(b(i64::MAX, 1), i64::MAX, true),
        Err(LedgerError::InvalidAmount)
    );
    assert_eq!(
        decide_reserve(b(0, 0), i64::MAX, true).map(|d| d.len()),
        Ok(2)
    );
    assert_eq!(LedgerError::InvalidAmount.code(), "VALIDATION_FAILED");
}

#[test]
fn consume_and_release_rules() {
    use ResStatus::*;
    assert_eq!(
        decide_consume(Active, 5),
        Ok(Some(Delta {
            wallet: -5,
            reserved: -5,
            kind: EntryKind::Consume
        }))
    );
    assert_eq!(decide_consume(Consumed, 5), Ok(None));
    assert_eq!(
        decide_consume(Released, 5),
        Err(LedgerError::AlreadyReleased)
    );
    assert_eq!(LedgerError::AlreadyReleased.code(), "CRED003");
    assert_eq!(
        decide_release(Active, 5),
        Ok(Some(Delta {
            wallet: 0,
            reserved: -5,
            kind: EntryKind::Release
        }))
    );
    assert_eq!(decide_release(Released, 5), Ok(None));
    assert_eq!(
        decide_release(Consumed, 5),
        Err(LedgerError::AlreadyConsumed)
    );
    assert_eq!(LedgerError::AlreadyConsumed.code(), "CRED002");
    assert_eq!(LedgerError::AccountInactive.code(), "CRED004");
}

#[test]
fn grant_reasons() {
    for reason in [EntryKind::Grant, EntryKind::Topup, EntryKind::Adjustment] {
        assert_eq!(
            decide_grant(7, reason),
            Ok(Delta {
                wallet: 7,
                reserved: 0,
                kind: reason
            })
        );
    }
    for reason in [
        EntryKind::Reserve,
        EntryKind::Consume,
        EntryKind::Release,
        EntryKind::Override,
    ] {
        assert_eq!(decide_grant(7, reason), Err(LedgerError::InvalidAmount));
    }
}

#[test]
fn json_names() {
    let kinds: Vec<_> = EntryKind::ALL
        .iter()
        .map(|k| serde_json::to_value(k).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            json!("reserve"),
            json!("consume"),
            json!("release"),
            json!("grant"),
            json!("topup"),
            json!("adjustment"),
            json!("override")
        ]
    );
    assert_eq!(
        serde_json::to_value(ResStatus::Consumed).unwrap(),
        json!("CONSUMED")
    );
    assert_eq!(
        serde_json::to_value(Mode::Postpaid).unwrap(),
        json!("POSTPAID")
    );
    assert_eq!(
        serde_json::to_value(AccountStatus::Suspended).unwrap(),
        json!("suspended")
    );
}

#[test]
fn ledger_walkthrough() {
    let mut l = credit();
    assert_eq!(
        l.reserve("r1", 1, "report", "7", false),
        Err(BookError::Rule(LedgerError::InsufficientCredits {
            available: 0,
            requested: 1
        }))
    );
    let g = l.grant("g1", 10, EntryKind::Grant).unwrap();
    assert!(g.changed);
    assert_eq!(g.value, b(10, 0));
    let again = l.grant("g1", 99, EntryKind::Topup).unwrap();
    assert!(!again.changed, "known grant key");
    assert_eq!(l.balances(), b(10, 0));

    let r = l.reserve("r1", 4, "report", "7", false).unwrap();
    assert!(r.changed);
    assert_eq!(r.value.status, ResStatus::Active);
    assert_eq!(l.balances(), b(10, 4));
    let replay = l.reserve("r1", 9, "other", "8", true).unwrap();
    assert!(!replay.changed);
    assert_eq!(
        replay.value, r.value,
        "known key returns the existing reservation"
    );
    assert_eq!(l.balances(), b(10, 4));

    let c = l.consume(r.value.id).unwrap();
    assert!(c.changed);
    assert_eq!(c.value.status, ResStatus::Consumed);
    assert_eq!(l.balances(), b(6, 0));
    assert!(!l.consume(r.value.id).unwrap().changed, "repeat is a no-op");
    assert_eq!(
        l.release(r.value.id),
        Err(BookError::Rule(LedgerError::AlreadyConsumed))
    );

    let r2 = l.reserve("r2", 6, "report", "8", false).unwrap().value;
    assert_eq!(l.release(r2.id).unwrap().value.status, ResStatus::Released);
    assert_eq!(l.balances(), b(6, 0));
    assert!(!l.release(r2.id).unwrap().changed);
    assert_eq!(
        l.consume(r2.id),
        Err(BookError::Rule(LedgerError::AlreadyReleased))
    );
    assert_eq!(l.consume(99), Err(BookError::UnknownReservation(99)));
    assert_eq!(l.release(0), Err(BookError::UnknownReservation(0)));

    // Override: 6 available, 10 wanted → wallet topped up by 4.
    let r3 = l.reserve("r3", 10, "report", "9", true).unwrap().value;
    assert_eq!(l.balances(), b(10, 10));
    assert_eq!(l.reservation_by_ref("report", "9"), Some(&r3));
    assert_eq!(l.reservation_by_ref("report", "nope"), None);

    let rows: Vec<(EntryKind, i64, i64, &str)> = l
        .entries()
        .iter()
        .map(|e| {
            (
                e.kind,
                e.wallet_delta,
                e.reserved_delta,
                e.idempotency_key.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (EntryKind::Grant, 10, 0, "g1"),
            (EntryKind::Reserve, 0, 4, "r1"),
            (EntryKind::Consume, -4, -4, "r1:consume"),
            (EntryKind::Reserve, 0, 6, "r2"),
            (EntryKind::Release, 0, -6, "r2:release"),
            (EntryKind::Override, 4, 0, "r3:override"),
            (EntryKind::Reserve, 0, 10, "r3"),
        ]
    );
    assert!(l
        .entries()
        .iter()
        .enumerate()
        .all(|(i, e)| e.seq == i as i64 + 1));
    assert_eq!(l.entries()[6].reservation_id, Some(r3.id));
    assert_eq!(l.entries()[0].reservation_id, None);
}

#[test]
fn only_active_credit_accounts_reserve() {
    let mut postpaid = Ledger::new(Mode::Postpaid, AccountStatus::Active);
    postpaid.grant("g", 5, EntryKind::Grant).unwrap();
    assert_eq!(
        postpaid.reserve("k", 1, "t", "1", false),
        Err(BookError::Rule(LedgerError::AccountInactive))
    );
    let mut l = credit();
    l.grant("g", 5, EntryKind::Grant).unwrap();
    let r = l.reserve("k", 2, "t", "1", false).unwrap().value;
    l.set_status(AccountStatus::Suspended);
    assert_eq!(
        l.reserve("k2", 1, "t", "1", true),
        Err(BookError::Rule(LedgerError::AccountInactive))
    );
    assert!(
        !l.reserve("k", 2, "t", "1", false).unwrap().changed,
        "known key still answers"
    );
    assert!(
        l.release(r.id).unwrap().changed,
        "settling still works when suspended"
    );
    assert_eq!(
        l.reserve("k3", 0, "t", "1", false),
        Err(BookError::Rule(LedgerError::InvalidAmount))
    );
}

#[test]
fn grant_overflow_is_refused_without_change() {
    let mut l = credit();
    l.grant("a", i64::MAX, EntryKind::Grant).unwrap();
    assert!(matches!(
        l.grant("b", 1, EntryKind::Grant),
        Err(BookError::Constraint(None))
    ));
    assert_eq!(l.balances(), b(i64::MAX, 0));
    assert_eq!(l.entries().len(), 1);
}

#[test]
fn mistake_release_keeps_reserved() {
    let m = Mistakes::parse("release_keeps_reserved").unwrap();
    let mut l = Ledger::with_mistakes(Mode::Credit, AccountStatus::Active, m);
    l.grant("g", 5, EntryKind::Grant).unwrap();
    let r = l.reserve("k", 5, "t", "1", false).unwrap().value;
    l.release(r.id).unwrap();
    assert_eq!(l.balances(), b(5, 5), "the release gave nothing back");
    assert_eq!(l.balances().available(), 0);
    let mut right = credit();
    right.grant("g", 5, EntryKind::Grant).unwrap();
    let r = right.reserve("k", 5, "t", "1", false).unwrap().value;
    right.release(r.id).unwrap();
    assert_eq!(right.balances(), b(5, 0));
    assert_eq!(
        decide_release_with(ResStatus::Active, 5, &m)
            .unwrap()
            .unwrap()
            .reserved,
        0
    );
}

#[derive(Clone, Debug)]
enum Op {
    Reserve {
        key: u8,
        amount: i64,
        ref_id: u8,
        over: bool,
    },
    Consume(i64),
    Release(i64),
    Grant {
        key: u8,
        amount: i64,
        reason: EntryKind,
    },
    Suspend(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..8, -2i64..40, 0u8..4, any::<bool>())
            .prop_map(|(key, amount, ref_id, over)| Op::Reserve { key, amount, ref_id, over }),
        3 => (0i64..10).prop_map(Op::Consume),
        3 => (0i64..10).prop_map(Op::Release),
        2 => (0u8..6, -2i64..60, prop::sample::select(EntryKind::ALL.to_vec()))
            .prop_map(|(key, amount, reason)| Op::Grant { key, amount, reason }),
        1 => any::<bool>().prop_map(Op::Suspend),
    ]
}

/// Runs one operation, checks what must hold after it, and checks that
/// replaying it changes nothing.
fn run(l: &mut Ledger, op: &Op) -> Result<(), TestCaseError> {
    let before = l.balances();
    let entries_before = l.entries().len();
    let res = match op {
        Op::Reserve {
            key,
            amount,
            ref_id,
            over,
        } => l
            .reserve(&format!("k{key}"), *amount, "t", &ref_id.to_string(), *over)
            .map(|o| o.changed),
        Op::Consume(id) => l.consume(*id).map(|o| o.changed),
        Op::Release(id) => l.release(*id).map(|o| o.changed),
        Op::Grant {
            key,
            amount,
            reason,
        } => l
            .grant(&format!("g{key}"), *amount, *reason)
            .map(|o| o.changed),
        Op::Suspend(s) => {
            l.set_status(if *s {
                AccountStatus::Suspended
            } else {
                AccountStatus::Active
            });
            Ok(false)
        }
    };
    match &res {
        Ok(true) => prop_assert!(l.entries().len() > entries_before),
        Ok(false) | Err(_) => {
            prop_assert_eq!(l.balances(), before);
            prop_assert_eq!(l.entries().len(), entries_before);
        }
    }
    prop_assert!(
        !matches!(res, Err(BookError::Constraint(_))),
        "constraint hit: {:?}",
        res
    );
    // A retry of the same request never changes anything more.
    let after = l.balances();
    let entries_after = l.entries().len();
    let again = match op {
        Op::Reserve {
            key,
            amount,
            ref_id,
            over,
        } => l
            .reserve(&format!("k{key}"), *amount, "t", &ref_id.to_string(), *over)
            .map(|o| o.changed),
        Op::Consume(id) => l.consume(*id).map(|o| o.changed),
        Op::Release(id) => l.release(*id).map(|o| o.changed),
        Op::Grant {
            key,
            amount,
            reason,
        } => l
            .grant(&format!("g{key}"), *amount, *reason)
            .map(|o| o.changed),
        Op::Suspend(_) => Ok(false),
    };
    prop_assert!(
        !matches!(again, Ok(true)),
        "retry of {:?} changed something",
        op
    );
    if res.is_ok() {
        prop_assert!(again.is_ok(), "retry of a success failed: {:?}", again);
    }
    prop_assert_eq!(l.balances(), after);
    prop_assert_eq!(l.entries().len(), entries_after);
    check_invariants(l)
}

fn check_invariants(l: &Ledger) -> Result<(), TestCaseError> {
    let bal = l.balances();
    prop_assert!(
        bal.wallet >= 0 && bal.reserved >= 0 && bal.available() >= 0,
        "{:?}",
        bal
    );
    let wallet: i64 = l.entries().iter().map(|e| e.wallet_delta).sum();
    let reserved: i64 = l.entries().iter().map(|e| e.reserved_delta).sum();
    prop_assert_eq!((wallet, reserved), (bal.wallet, bal.reserved));
    let active: i64 = l
        .reservations()
        .iter()
        .filter(|r| r.status == ResStatus::Active)
        .map(|r| r.amount)
        .sum();
    prop_assert_eq!(
        active,
        bal.reserved,
        "reserved = sum of ACTIVE reservations"
    );
    prop_assert!(l
        .entries()
        .iter()
        .all(|e| e.wallet_delta != 0 || e.reserved_delta != 0));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn invariants_hold_over_random_sequences(ops in prop::collection::vec(op(), 0..60)) {
        let mut l = credit();
        for op in &ops {
            run(&mut l, op)?;
        }
        // Override entries are exactly the shortfalls: every reserve had
        // its credits when it was made.
        for e in l.entries() {
            match e.kind {
                EntryKind::Override => prop_assert!(e.wallet_delta > 0 && e.idempotency_key.ends_with(":override")),
                EntryKind::Reserve => prop_assert!(e.reserved_delta > 0 && e.wallet_delta == 0),
                EntryKind::Consume => prop_assert!(e.wallet_delta == e.reserved_delta && e.wallet_delta < 0),
                EntryKind::Release => prop_assert!(e.wallet_delta == 0 && e.reserved_delta < 0),
                _ => prop_assert!(e.wallet_delta > 0 && e.reserved_delta == 0),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn decisions_keep_balances_in_range(wallet in 0i64..1_000, reserved_share in 0i64..=100,
                                        amount in 1i64..2_000, over in any::<bool>()) {
        let bal = b(wallet, wallet * reserved_share / 100);
        match decide_reserve(bal, amount, over) {
            Ok(deltas) => {
                let w = bal.wallet + deltas.iter().map(|d| d.wallet).sum::<i64>();
                let r = bal.reserved + deltas.iter().map(|d| d.reserved).sum::<i64>();
                prop_assert!(w >= r && r >= 0);
                prop_assert_eq!(r - bal.reserved, amount);
                prop_assert_eq!(w - bal.wallet, (amount - bal.available()).max(0));
                prop_assert!(over || amount <= bal.available());
            }
            Err(LedgerError::InsufficientCredits { available, requested }) => {
                prop_assert!(!over);
                prop_assert_eq!((available, requested), (bal.available(), amount));
                prop_assert!(amount > available);
            }
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }
}
