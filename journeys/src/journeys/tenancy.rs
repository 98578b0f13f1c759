//! Cross-tenant access: every resource reachable by an id (a cart line, an
//! order and its stage, the operator's work orders and credit accounts)
//! answers only its owner, and a refused request changes nothing. (A
//! product's owner check is the `producer` journey's; seeing another's cart
//! through `GET /api/v1/cart/items` is the `shopper` journey's.)

use serde_json::json;

use crate::actions::{self, checkout, Account};
use crate::{Failure, Journey, Outcome, Req, Resp};

pub const NAME: &str = "tenancy";
pub const ABOUT: &str = "another user's cart line, order and order stage, and the operator's work orders and credit accounts, reached by id: refused (404/403, 401 without X-Admin-Token) and left unchanged; order lists never show another's order";

pub async fn run(j: &mut Journey) -> Outcome {
    j.step("a producer sells; a shopper has a cart line and an order");
    let seller = actions::approved_producer(j).await?;
    let product =
        actions::create_product(j, &seller, &format!("Damson Jam {}", j.unique()), 30).await?;
    let shopper = actions::register(j, "consumer").await?;
    let add = json!({"product_id": product, "quantity": 3});
    let r = j
        .send(
            Req::post("/api/v1/cart/items")
                .bearer(&shopper.token)
                .json(add),
        )
        .await?;
    r.expect_status(201)?;
    let item = r.i64_at("/data/id")?;
    let r = j
        .send(checkout(
            &shopper,
            &format!("tenancy-{}", j.unique()),
            &[(product, 2)],
        ))
        .await?;
    r.expect_status(201)?;
    let order = r.i64_at("/data/id")?;
    let stranger = actions::register(j, "consumer").await?;
    let rival = actions::approved_producer(j).await?;

    j.step("a stranger cannot change or remove another's cart line by its id");
    let r = j
        .send(
            Req::patch(format!("/api/v1/cart/items/{item}"))
                .bearer(&stranger.token)
                .json(json!({"quantity": 99})),
        )
        .await?;
    refused(
        &r,
        &[404, 403],
        "a stranger's PATCH of another user's cart line",
    )?;
    let quantity = cart_line(j, &shopper, item).await?;
    j.ensure(quantity == Some(3), || {
        format!(
            "cart tampering: after a stranger's refused PATCH (quantity 99), user {}'s cart line {item} is {}, expected quantity 3",
            shopper.id,
            quantity.map_or("gone".into(), |q| format!("quantity {q}"))
        )
    })?;
    let r = j
        .send(Req::delete(format!("/api/v1/cart/items/{item}")).bearer(&stranger.token))
        .await?;
    refused(
        &r,
        &[404, 403],
        "a stranger's DELETE of another user's cart line",
    )?;
    let quantity = cart_line(j, &shopper, item).await?;
    j.ensure(quantity == Some(3), || {
        format!(
            "cart tampering: after a stranger's refused DELETE, user {}'s cart line {item} is {}, expected quantity 3",
            shopper.id,
            quantity.map_or("gone".into(), |q| format!("quantity {q}"))
        )
    })?;

    j.step("order lists never show another's order");
    let r = j
        .send(Req::get("/api/v1/orders?per_page=100").bearer(&stranger.token))
        .await?;
    r.expect_status(200)?;
    j.ensure(!lists(&r, order)?, || {
        format!(
            "order leak: GET /api/v1/orders as a stranger lists user {}'s order {order}",
            shopper.id
        )
    })?;
    let r = j
        .send(Req::get("/api/v1/producer/orders?per_page=100").bearer(&seller.token))
        .await?;
    r.expect_status(200)?;
    j.ensure(lists(&r, order)?, || {
        format!("the seller's GET /api/v1/producer/orders misses order {order} of its product")
    })?;
    let r = j
        .send(Req::get("/api/v1/producer/orders?per_page=100").bearer(&rival.token))
        .await?;
    r.expect_status(200)?;
    j.ensure(!lists(&r, order)?, || {
        format!("order leak: GET /api/v1/producer/orders lists order {order} to a producer who sells nothing in it")
    })?;

    j.step("only a producer of the order's items moves its stage");
    for (who, account) in [
        ("another producer", &rival),
        ("a stranger", &stranger),
        ("the buyer", &shopper),
    ] {
        let r = j
            .send(
                Req::post(format!("/api/v1/orders/{order}/stage"))
                    .bearer(&account.token)
                    .json(json!({"stage": "PREPARING"})),
            )
            .await?;
        refused(
            &r,
            &[403, 404],
            &format!("{who}'s stage change PLACED -> PREPARING of order {order}"),
        )?;
    }
    let stage = stage_of(j, &shopper, order).await?;
    j.ensure(stage == "PLACED", || {
        format!("order {order} is {stage} after refused stage changes by others, expected PLACED")
    })?;
    let r = j
        .send(
            Req::post(format!("/api/v1/orders/{order}/stage"))
                .bearer(&seller.token)
                .json(json!({"stage": "PREPARING"})),
        )
        .await?;
    r.expect_status(200)?;
    j.ensure(r.at("/data/stage") == "PREPARING", || {
        format!(
            "the seller's stage change answered stage {}, expected PREPARING",
            r.at("/data/stage")
        )
    })?;

    j.step("operator APIs refuse a user's bearer token and write nothing");
    operator_apis(j, &rival).await
}

/// The work-order and credit-account operator APIs with `user`'s bearer
/// token instead of `X-Admin-Token`: every call 401, nothing changed.
async fn operator_apis(j: &mut Journey, user: &Account) -> Outcome {
    let wo = "/v1/repogen/work-orders";
    let body = json!({"report_type": "VALUATION", "fields": {"bank": "Orchard Bank"}});
    let r = j.send(Req::post(wo).admin().json(body)).await?;
    r.expect_status(201)?;
    let work_order = r.i64_at("/id")?;
    let account = actions::credit_account(j, 10, "tenancy-grant").await?;
    let acct = format!("/v1/billing/accounts/{account}");

    let key = format!("tenancy-user-{}", j.unique());
    let attempts = vec![
        Req::post(wo).json(json!({"report_type": "DPR"})),
        Req::get(format!("{wo}/{work_order}")),
        Req::patch(format!("{wo}/{work_order}/contract"))
            .json(json!({"fields": {"bank": "Hijack Bank"}})),
        Req::post(format!("{wo}/{work_order}/status")).json(json!({"status": "CANCELLED"})),
        Req::post("/v1/billing/accounts").json(json!({"mode": "CREDIT"})),
        Req::get(acct.clone()),
        Req::post(format!("{acct}/grant"))
            .json(json!({"amount": 1000, "reason": "topup", "idempotency_key": key})),
        Req::post(format!("{acct}/reserve"))
            .json(json!({"amount": 4, "idempotency_key": key, "ref_type": "order", "ref_id": key})),
    ];
    let replies = j
        .send_all(
            attempts
                .into_iter()
                .map(|r| r.bearer(&user.token))
                .collect(),
        )
        .await?;
    for r in &replies {
        j.ensure(r.status == 401 && r.code() == "AUTH001", || {
            format!(
                "operator API open to users: {} with a user's bearer token and no X-Admin-Token answered {}, expected 401 AUTH001: {}",
                r.request,
                r.status,
                r.snippet()
            )
        })?;
    }

    let r = j
        .send(Req::get(format!("{wo}/{work_order}")).admin())
        .await?;
    r.expect_status(200)?;
    j.ensure(
        r.at("/status") == "DRAFT" && r.at("/fields/bank") == "Orchard Bank",
        || {
            format!(
                "work order {work_order} changed by refused user requests: {}",
                r.snippet()
            )
        },
    )?;
    let r = j.send(Req::get(acct.clone()).admin()).await?;
    r.expect_status(200)?;
    j.ensure(r.at("/wallet") == 10 && r.at("/reserved") == 0, || {
        format!("credit account {account} changed by refused user requests (wallet 10, reserved 0 expected): {}", r.snippet())
    })?;
    let r = j.send(Req::get(format!("{acct}/ledger")).admin()).await?;
    r.expect_status(200)?;
    let entries = r.at("/entries").as_array().map_or(0, Vec::len);
    j.ensure(entries == 1, || {
        format!("credit account {account}'s ledger has {entries} entries after one grant and refused user requests")
    })
}

/// Fails unless `r` is one of `statuses` (a refusal) in the error shape.
fn refused(r: &Resp, statuses: &[u16], what: &str) -> Outcome {
    if statuses.contains(&r.status) && !r.code().is_empty() {
        return Ok(());
    }
    let expected: Vec<String> = statuses.iter().map(u16::to_string).collect();
    Err(Failure::new(format!(
        "{what} was not refused: {} answered {}, expected {}: {}",
        r.request,
        r.status,
        expected.join(" or "),
        r.snippet()
    )))
}

/// The quantity of the owner's cart line `item`, or `None` when it is gone.
async fn cart_line(j: &mut Journey, owner: &Account, item: i64) -> Result<Option<i64>, Failure> {
    let r = j
        .send(Req::get("/api/v1/cart/items").bearer(&owner.token))
        .await?;
    r.expect_status(200)?;
    Ok(r.at("/data")
        .as_array()
        .and_then(|lines| lines.iter().find(|l| l["id"] == item))
        .and_then(|l| l["quantity"].as_i64()))
}

/// Whether a paged list (`{data: [...]}`) holds the order.
fn lists(r: &Resp, order: i64) -> Result<bool, Failure> {
    let data = r.at("/data").as_array().ok_or_else(|| {
        Failure::new(format!(
            "{}: no list at /data in {}",
            r.request,
            r.snippet()
        ))
    })?;
    Ok(data.iter().any(|o| o["id"] == order))
}

async fn stage_of(j: &mut Journey, buyer: &Account, order: i64) -> Result<String, Failure> {
    let r = j
        .send(Req::get(format!("/api/v1/orders/{order}")).bearer(&buyer.token))
        .await?;
    r.expect_status(200)?;
    r.str_at("/data/stage")
}
