//! The credit ledger: every endpoint, its codes, and concurrent replays.

use std::collections::HashSet;

use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use super::support::{Reply, Sut};
use super::{expect, ok};

fn acct(id: i64, tail: &str) -> String {
    format!("/v1/billing/accounts/{id}{tail}")
}

async fn new_account(sut: &Sut, body: Value) -> i64 {
    let r = sut
        .admin(Method::POST, "/v1/billing/accounts", Some(body))
        .await;
    ok(&r, 201, "create account")["id"].as_i64().unwrap()
}

async fn balances(sut: &Sut, id: i64) -> (i64, i64, i64) {
    let a = ok(
        &sut.admin(Method::GET, &acct(id, ""), None).await,
        200,
        "account",
    );
    let n = |k: &str| a[k].as_i64().unwrap();
    (n("wallet"), n("reserved"), n("available"))
}

pub async fn billing(sut: &Sut) {
    let r = sut
        .admin(
            Method::POST,
            "/v1/billing/accounts",
            Some(json!({"mode": "CREDIT"})),
        )
        .await;
    let account = ok(&r, 201, "create");
    assert_eq!(
        account,
        json!({"id": account["id"], "mode": "CREDIT", "status": "active",
               "wallet": 0, "reserved": 0, "available": 0})
    );
    let id = account["id"].as_i64().unwrap();
    expect(
        &sut.admin(Method::GET, &acct(i64::MAX, ""), None).await,
        404,
        "CRED005",
        "unknown account",
    );
    let post =
        async |tail: &str, body: Value| sut.admin(Method::POST, &acct(id, tail), Some(body)).await;
    let reserve = async |key: &str, amount: i64, over: bool| {
        post(
            "/reserve",
            json!({"amount": amount, "idempotency_key": key, "ref_type": "job",
                   "ref_id": key, "operator_override": over}),
        )
        .await
    };

    expect(&reserve("r0", 5, false).await, 409, "CRED001", "no credits");
    let grant = json!({"amount": 10, "reason": "grant", "idempotency_key": "g1"});
    let g = ok(&post("/grant", grant.clone()).await, 201, "grant");
    assert_eq!(g["account"]["wallet"], 10);
    let g = ok(&post("/grant", grant).await, 200, "grant replay");
    assert_eq!(
        g["account"]["wallet"], 10,
        "a replayed grant changes nothing"
    );
    expect(
        &post(
            "/grant",
            json!({"amount": 0, "reason": "topup", "idempotency_key": "g2"}),
        )
        .await,
        422,
        "VALIDATION_FAILED",
        "grant 0",
    );
    for amount in [0, -1] {
        expect(
            &reserve("bad", amount, false).await,
            422,
            "VALIDATION_FAILED",
            "amount",
        );
    }

    let first = ok(&reserve("r1", 4, false).await, 201, "reserve");
    let res_id = first["reservation"]["id"].as_i64().unwrap();
    assert_eq!(
        first["reservation"],
        json!({"id": res_id, "amount": 4, "status": "ACTIVE", "idempotency_key": "r1",
               "ref_type": "job", "ref_id": "r1"})
    );
    assert_eq!(first["account"]["reserved"], 4);
    let again = ok(&reserve("r1", 4, false).await, 200, "reserve replay");
    assert_eq!(again["reservation"]["id"], res_id);
    assert_eq!(balances(sut, id).await, (10, 4, 6));

    let by_id = json!({ "reservation_id": res_id });
    let consumed = ok(&post("/consume", by_id.clone()).await, 200, "consume");
    assert_eq!(consumed["reservation"]["status"], "CONSUMED");
    assert_eq!(balances(sut, id).await, (6, 0, 6));
    ok(&post("/consume", by_id.clone()).await, 200, "consume again");
    assert_eq!(
        balances(sut, id).await,
        (6, 0, 6),
        "a repeat changes nothing"
    );
    expect(
        &post("/release", by_id).await,
        409,
        "CRED002",
        "release consumed",
    );

    ok(&reserve("r2", 2, false).await, 201, "reserve r2");
    let by_ref = json!({"ref_type": "job", "ref_id": "r2"});
    let released = ok(&post("/release", by_ref.clone()).await, 200, "release");
    assert_eq!(released["reservation"]["status"], "RELEASED");
    assert_eq!(balances(sut, id).await, (6, 0, 6));
    ok(
        &post("/release", by_ref.clone()).await,
        200,
        "release again",
    );
    expect(
        &post("/consume", by_ref).await,
        409,
        "CRED003",
        "consume released",
    );
    expect(
        &post("/consume", json!({"reservation_id": i64::MAX})).await,
        404,
        "CRED006",
        "unknown reservation",
    );
    expect(
        &post("/consume", json!({"ref_type": "job", "ref_id": "nope"})).await,
        404,
        "CRED006",
        "unknown reference",
    );
    expect(
        &post("/consume", json!({})).await,
        422,
        "VALIDATION_FAILED",
        "no target",
    );

    // Operator override: the shortfall is granted, then reserved.
    let over = ok(&reserve("r3", 100, true).await, 201, "override");
    assert_eq!(over["account"]["wallet"], 100, "{over}");
    assert_eq!(over["account"]["reserved"], 100, "{over}");

    let ledger = ok(
        &sut.admin(Method::GET, &acct(id, "/ledger"), None).await,
        200,
        "ledger",
    );
    let (wallet, reserved, _) = balances(sut, id).await;
    assert_eq!(ledger["wallet_sum"], wallet, "{ledger}");
    assert_eq!(ledger["reserved_sum"], reserved, "{ledger}");
    let entries = ledger["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["grant", "reserve", "consume", "reserve", "release", "override", "reserve"],
        "{ledger}"
    );
    let override_entry = &entries[5];
    assert_eq!(override_entry["idempotency_key"], "r3:override", "{ledger}");
    assert_eq!(override_entry["wallet_delta"], 94, "{ledger}");
    assert!(entries
        .windows(2)
        .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()));
    expect(
        &sut.admin(Method::GET, &acct(i64::MAX, "/ledger"), None)
            .await,
        404,
        "CRED005",
        "ledger of unknown account",
    );

    for body in [
        json!({"mode": "CREDIT", "status": "suspended"}),
        json!({"mode": "POSTPAID"}),
    ] {
        let other = new_account(sut, body.clone()).await;
        sut.admin(
            Method::POST,
            &acct(other, "/grant"),
            Some(json!({"amount": 50, "reason": "topup", "idempotency_key": "t"})),
        )
        .await;
        let r = sut
            .admin(
                Method::POST,
                &acct(other, "/reserve"),
                Some(json!({"idempotency_key": "k", "ref_type": "job", "ref_id": "1"})),
            )
            .await;
        expect(&r, 409, "CRED004", &body.to_string());
    }
    expect(
        &sut.admin(
            Method::POST,
            "/v1/billing/accounts",
            Some(json!({"mode": "BARTER"})),
        )
        .await,
        422,
        "VALIDATION_FAILED",
        "mode",
    );
}

/// `copies` identical POSTs at once: exactly one 201, the rest 200.
async fn all_at_once(sut: &Sut, path: &str, body: Value, copies: usize) -> Vec<Reply> {
    let replies =
        join_all((0..copies).map(|_| sut.admin(Method::POST, path, Some(body.clone())))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert!(
        created <= 1 && statuses.iter().all(|s| *s == 200 || *s == 201),
        "{path}: {statuses:?}"
    );
    replies
}

/// 20 identical reservations at once: one reservation, one ledger entry,
/// no error. The same for grants and consumes.
pub async fn twenty_identical_reservations_make_one(sut: &Sut) {
    let id = new_account(sut, json!({"mode": "CREDIT"})).await;
    let grant = json!({"amount": 100, "reason": "grant", "idempotency_key": "seed"});
    let grants = all_at_once(sut, &acct(id, "/grant"), grant, 20).await;
    assert_eq!(grants.iter().filter(|r| r.status == 201).count(), 1);
    let body = json!({"amount": 3, "idempotency_key": "same", "ref_type": "job", "ref_id": "7"});
    let replies = all_at_once(sut, &acct(id, "/reserve"), body, 20).await;
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    let ids: HashSet<i64> = replies
        .iter()
        .map(|r| r.body["reservation"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "one reservation: {ids:?}");
    assert_eq!(balances(sut, id).await, (100, 3, 97));
    let consume = json!({"reservation_id": ids.iter().next().unwrap()});
    let consumes = all_at_once(sut, &acct(id, "/consume"), consume, 20).await;
    assert!(consumes.iter().all(|r| r.status == 200));
    assert_eq!(balances(sut, id).await, (97, 0, 97));
    let ledger = ok(
        &sut.admin(Method::GET, &acct(id, "/ledger"), None).await,
        200,
        "ledger",
    );
    let kinds: Vec<&str> = ledger["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["grant", "reserve", "consume"], "{ledger}");
}
