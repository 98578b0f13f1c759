//! What undoing something leaves behind: a cancelled order gives back
//! exactly its stock, once, and stays cancelled; a released credit
//! reservation gives back its credits, cannot be consumed afterwards, and
//! releasing it again changes nothing.

use serde_json::json;

use crate::actions::{self, checkout, Account};
use crate::{Failure, Journey, Outcome, Req, Resp};

pub const NAME: &str = "side_effects";
pub const ABOUT: &str = "a cancelled order gives back exactly its stock, once, and stays CANCELLED; a released credit reservation restores reserved and available, consuming it is 409 CRED003, and releasing again changes nothing";

pub async fn run(j: &mut Journey) -> Outcome {
    j.step("two orders take stock");
    let seller = actions::approved_producer(j).await?;
    let pears =
        actions::create_product(j, &seller, &format!("Perry Pears {}", j.unique()), 20).await?;
    let plums =
        actions::create_product(j, &seller, &format!("Victoria Plums {}", j.unique()), 10).await?;
    let shopper = actions::register(j, "consumer").await?;
    let r = j
        .send(checkout(
            &shopper,
            &format!("fx-a-{}", j.unique()),
            &[(pears, 3), (plums, 2)],
        ))
        .await?;
    r.expect_status(201)?;
    let first = r.i64_at("/data/id")?;
    let r = j
        .send(checkout(
            &shopper,
            &format!("fx-b-{}", j.unique()),
            &[(pears, 4)],
        ))
        .await?;
    r.expect_status(201)?;
    let second = r.i64_at("/data/id")?;
    stock_is(j, &seller, pears, 13, "after orders of 3 and 4 from 20").await?;
    stock_is(j, &seller, plums, 8, "after an order of 2 from 10").await?;

    j.step("cancelling an order from PLACED gives back exactly its stock");
    move_to(j, &seller, first, "CANCELLED").await?;
    stock_is(
        j,
        &seller,
        pears,
        16,
        &format!("after cancelling order {first} (3 of 20, another order holds 4)"),
    )
    .await?;
    stock_is(
        j,
        &seller,
        plums,
        10,
        &format!("after cancelling order {first} (2 of 10)"),
    )
    .await?;

    j.step("cancelling an order from PREPARING gives back exactly its stock");
    move_to(j, &seller, second, "PREPARING").await?;
    move_to(j, &seller, second, "CANCELLED").await?;
    stock_is(
        j,
        &seller,
        pears,
        20,
        &format!("after cancelling order {second} too (every order of 20 cancelled)"),
    )
    .await?;

    j.step("a cancelled order stays CANCELLED and gives stock back once");
    move_to(j, &seller, first, "CANCELLED").await?;
    for to in ["PREPARING", "PLACED", "SHIPPED"] {
        let r = j
            .send(
                Req::post(format!("/api/v1/orders/{first}/stage"))
                    .bearer(&seller.token)
                    .json(json!({"stage": to})),
            )
            .await?;
        j.ensure(r.status == 409 && r.code() == "ORD002", || {
            format!("a CANCELLED order moved on: CANCELLED -> {to} answered {}, expected 409 ORD002: {}", r.status, r.snippet())
        })?;
    }
    let r = j
        .send(Req::get(format!("/api/v1/orders/{first}")).bearer(&shopper.token))
        .await?;
    r.expect_status(200)?;
    j.ensure(r.at("/data/stage") == "CANCELLED", || {
        format!(
            "order {first} is {} after refused moves, expected CANCELLED",
            r.at("/data/stage")
        )
    })?;
    stock_is(
        j,
        &seller,
        pears,
        20,
        "after cancelling an order again (no second give-back)",
    )
    .await?;
    stock_is(
        j,
        &seller,
        plums,
        10,
        "after cancelling an order again (no second give-back)",
    )
    .await?;

    j.step("a released reservation gives its credits back");
    let account = actions::credit_account(j, 10, "fx-grant").await?;
    let acct = format!("/v1/billing/accounts/{account}");
    // Two reservations: the second stays active throughout, so giving
    // back the first one's credits twice shows (instead of hitting the
    // reserved >= 0 floor).
    let mut reservations = Vec::new();
    for (amount, balances) in [(4, (10, 4, 6)), (5, (10, 9, 1))] {
        let key = format!("fx-res{amount}-{}", j.unique());
        let body =
            json!({"amount": amount, "idempotency_key": key, "ref_type": "order", "ref_id": key});
        let r = j
            .send(
                Req::post(format!("{acct}/reserve"))
                    .admin()
                    .json(body.clone()),
            )
            .await?;
        r.expect_status(201)?;
        balances_are(
            &r,
            "/account",
            balances,
            &format!("after reserving {amount} more"),
        )?;
        reservations.push((r.i64_at("/reservation/id")?, body));
    }
    let (released, reserve_again) = reservations.swap_remove(0);
    let release = json!({"reservation_id": released});
    let r = j
        .send(
            Req::post(format!("{acct}/release"))
                .admin()
                .json(release.clone()),
        )
        .await?;
    r.expect_status(200)?;
    j.ensure(r.at("/reservation/status") == "RELEASED", || {
        format!(
            "release answered reservation status {}, expected RELEASED",
            r.at("/reservation/status")
        )
    })?;
    balances_are(
        &r,
        "/account",
        (10, 5, 5),
        "the release of 4 (5 still reserved) answered",
    )?;
    let r = j.send(Req::get(acct.clone()).admin()).await?;
    r.expect_status(200)?;
    balances_are(
        &r,
        "",
        (10, 5, 5),
        "after the release of 4 (5 still reserved)",
    )?;

    j.step("a released reservation cannot be consumed; releasing again changes nothing");
    let r = j
        .send(
            Req::post(format!("{acct}/consume"))
                .admin()
                .json(release.clone()),
        )
        .await?;
    j.ensure(r.status == 409 && r.code() == "CRED003", || {
        format!(
            "a released reservation was consumed: {} answered {}, expected 409 CRED003: {}",
            r.request,
            r.status,
            r.snippet()
        )
    })?;
    let r = j
        .send(Req::post(format!("{acct}/release")).admin().json(release))
        .await?;
    r.expect_status(200)?;
    balances_are(
        &r,
        "/account",
        (10, 5, 5),
        "the second release of the same reservation answered",
    )?;
    let r = j
        .send(
            Req::post(format!("{acct}/reserve"))
                .admin()
                .json(reserve_again),
        )
        .await?;
    j.ensure(r.status == 200 && r.at("/reservation/id") == released, || {
        format!("the released reservation's key, reserved again, answered {} (not a replay of reservation {released}): {}", r.status, r.snippet())
    })?;
    let r = j.send(Req::get(format!("{acct}/ledger")).admin()).await?;
    r.expect_status(200)?;
    let kinds: Vec<String> = r
        .at("/entries")
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| e["kind"].as_str().unwrap_or("?").to_lowercase())
                .collect()
        })
        .unwrap_or_default();
    j.ensure(kinds.len() == 4 && r.at("/wallet_sum") == 10 && r.at("/reserved_sum") == 5, || {
        format!(
            "credit account {account}'s ledger after grant, 2 reserves, 1 release and refused or repeated settles: entries {kinds:?}, wallet_sum {}, reserved_sum {} (expected 4 entries, 10, 5)",
            r.at("/wallet_sum"),
            r.at("/reserved_sum")
        )
    })?;
    let r = j.send(Req::get(acct).admin()).await?;
    r.expect_status(200)?;
    balances_are(
        &r,
        "",
        (10, 5, 5),
        "after consuming, releasing and reserving again a released reservation",
    )
}

async fn move_to(j: &mut Journey, seller: &Account, order: i64, stage: &str) -> Outcome {
    let r = j
        .send(
            Req::post(format!("/api/v1/orders/{order}/stage"))
                .bearer(&seller.token)
                .json(json!({"stage": stage})),
        )
        .await?;
    r.expect_status(200)?;
    j.ensure(r.at("/data/stage") == stage, || {
        format!(
            "order {order} moved to {stage} answered stage {}",
            r.at("/data/stage")
        )
    })
}

/// The product's stock as its producer reads it (a bearer token: the
/// public catalog's per-IP bucket is shared by every journey).
async fn stock_is(
    j: &mut Journey,
    seller: &Account,
    product: i64,
    expected: i64,
    when: &str,
) -> Outcome {
    let r = j
        .send(Req::get(format!("/api/v1/public/products/{product}")).bearer(&seller.token))
        .await?;
    r.expect_status(200)?;
    let stock = r.i64_at("/data/stock")?;
    j.ensure(stock == expected, || {
        format!("product {product}'s stock is {stock} {when}, expected {expected}")
    })
}

/// `(wallet, reserved, available)` of the account at `pointer`.
fn balances_are(
    r: &Resp,
    pointer: &str,
    (wallet, reserved, available): (i64, i64, i64),
    when: &str,
) -> Outcome {
    let got = |field: &str| r.at(&format!("{pointer}/{field}")).as_i64();
    if got("wallet") == Some(wallet)
        && got("reserved") == Some(reserved)
        && got("available") == Some(available)
    {
        return Ok(());
    }
    Err(Failure::new(format!(
        "credit balances {when}: wallet {:?}, reserved {:?}, available {:?}; expected wallet {wallet}, reserved {reserved}, available {available}",
        got("wallet"),
        got("reserved"),
        got("available")
    )))
}
