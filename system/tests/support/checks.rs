//! The system's guarantees as checks that return `Err(symptom)` when they do
//! not hold. Each is asserted to pass on the correct system and asserted to
//! fail with the matching defect switch on (`defect_switches.rs`), which
//! proves the check can catch the defect it targets.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use reqwest::Method;
use serde_json::Value;

use super::{Sut, User};

pub type Check = Result<(), String>;

fn key() -> String {
    format!("key-{:016x}", rand::random::<u64>())
}

/// N concurrent checkouts for M < N remaining units: exactly M orders, the
/// rest 409 INV001, stock ends at 0.
pub async fn last_units_are_sold_exactly_once(sut: &Sut, buyers: usize, units: i64) -> Check {
    let producer = sut.producer().await;
    let product = sut.product(&producer, units).await;
    let mut shoppers = Vec::new();
    for _ in 0..buyers {
        shoppers.push(sut.register("consumer").await);
    }
    let replies = join_all(
        shoppers
            .iter()
            .map(|u| sut.checkout(u, &key(), &[(product, 1)])),
    )
    .await;
    let created = replies.iter().filter(|r| r.status == 201).count() as i64;
    let refused = replies
        .iter()
        .filter(|r| r.status == 409 && r.code() == "INV001")
        .count();
    let other: Vec<_> = replies
        .iter()
        .filter(|r| r.status != 201 && r.status != 409)
        .map(|r| (r.status, r.code().to_string()))
        .collect();
    let stock = sut.stock(product).await;
    if created != units || stock != 0 || refused != buyers - units as usize || !other.is_empty() {
        return Err(format!(
            "oversold: {buyers} buyers for {units} units gave {created} orders, {refused} INV001, stock {stock}, other replies {other:?}"
        ));
    }
    Ok(())
}

/// The same checkout (same key, same body) sent `copies` times at once:
/// one order, one stock decrement.
pub async fn double_submit_creates_one_order(sut: &Sut, copies: usize) -> Check {
    let producer = sut.producer().await;
    let product = sut.product(&producer, 100).await;
    let shopper = sut.register("consumer").await;
    let k = key();
    let replies = join_all((0..copies).map(|_| sut.checkout(&shopper, &k, &[(product, 2)]))).await;
    let bad: Vec<_> = replies
        .iter()
        .filter(|r| r.status != 201 && r.status != 200)
        .map(|r| (r.status, r.body.clone()))
        .collect();
    if !bad.is_empty() {
        return Err(format!("identical retries failed: {bad:?}"));
    }
    let ids: HashSet<i64> = replies
        .iter()
        .filter_map(|r| r.body.pointer("/data/id").and_then(Value::as_i64))
        .collect();
    let stock = sut.stock(product).await;
    if ids.len() != 1 || stock != 98 {
        return Err(format!(
            "double submit: {copies} identical checkouts created {} orders, stock 100 -> {stock}",
            ids.len()
        ));
    }
    let orders = sut
        .call(Method::GET, "/api/v1/orders", Some(&shopper.token), None)
        .await;
    let listed = orders.body["data"].as_array().map(Vec::len).unwrap_or(0);
    if listed != 1 {
        return Err(format!("double submit: the shopper has {listed} orders"));
    }
    Ok(())
}

/// One user's cart is invisible to another.
pub async fn carts_are_private(sut: &Sut) -> Check {
    let producer = sut.producer().await;
    let product = sut.product(&producer, 10).await;
    let alice = sut.register("consumer").await;
    let bob = sut.register("consumer").await;
    let add = serde_json::json!({"product_id": product, "quantity": 3});
    let r = sut
        .call(
            Method::POST,
            "/api/v1/cart/items",
            Some(&alice.token),
            Some(add),
        )
        .await;
    if r.status != 201 && r.status != 200 {
        return Err(format!("adding to cart answered {}: {}", r.status, r.body));
    }
    let cart = sut
        .call(Method::GET, "/api/v1/cart/items", Some(&bob.token), None)
        .await;
    let seen = cart
        .body
        .to_string()
        .contains(&format!("\"product_id\":{product}"));
    if seen {
        return Err(format!(
            "cart leak: user {} sees user {}'s cart item",
            bob.id, alice.id
        ));
    }
    Ok(())
}

/// Repeated failed logins for one e-mail are refused with 429 RATE001.
pub async fn login_is_rate_limited(sut: &Sut) -> Check {
    let user: User = sut.register("consumer").await;
    let body = serde_json::json!({"email": user.email, "password": "wrong-password"});
    for attempt in 1..=15 {
        let r = sut
            .call(Method::POST, "/api/v1/auth/login", None, Some(body.clone()))
            .await;
        if r.status == 429 {
            if r.code() != "RATE001" || !r.headers.contains_key("retry-after") {
                return Err(format!("429 without RATE001 / Retry-After: {}", r.body));
            }
            return Ok(());
        }
        if r.status != 401 {
            return Err(format!("login attempt {attempt} answered {}", r.status));
        }
    }
    Err(
        "rate limit never denies: 15 failed logins for one e-mail were all answered, none refused"
            .into(),
    )
}

/// With Postgres killed, deep health says 503 naming db; it recovers.
pub async fn health_sees_the_database(sut: &Sut) -> Check {
    sut.stack
        .kill("postgres", "SIGKILL")
        .await
        .map_err(|e| e.to_string())?;
    let mut seen = None;
    for _ in 0..60 {
        let r = sut.call(Method::GET, "/api/healthz", None, None).await;
        if r.status == 503 && r.body["db"] == "down" {
            seen = Some(());
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    sut.stack
        .start("postgres")
        .await
        .map_err(|e| e.to_string())?;
    sut.stack
        .wait_healthy("postgres", Duration::from_secs(60))
        .await
        .map_err(|e| e.to_string())?;
    seen.ok_or_else(|| "healthz kept answering 200 for 15 s while Postgres was killed".to_string())
}

/// Events of orders created while Redis is down all reach the sink once.
pub async fn events_survive_a_redis_outage(sut: &Sut, orders: usize, wait: Duration) -> Check {
    let producer = sut.producer().await;
    let product = sut.product(&producer, 10_000).await;
    let shopper = sut.register("consumer").await;
    sut.stack
        .stop("redis", Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())?;
    let mut order_ids = Vec::new();
    for _ in 0..orders {
        let r = sut.checkout(&shopper, &key(), &[(product, 1)]).await;
        if r.status != 201 {
            let _ = sut.stack.start("redis").await;
            return Err(format!(
                "checkout with Redis down answered {}: {}",
                r.status, r.body
            ));
        }
        order_ids.push(r.body.pointer("/data/id").and_then(Value::as_i64).unwrap());
    }
    sut.stack.start("redis").await.map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let deliveries = sut.sink_deliveries().await;
        let delivered: Vec<i64> = deliveries["deliveries"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .filter(|d| d.pointer("/payload/type") == Some(&Value::from("order.created")))
            .filter_map(|d| d.pointer("/payload/order_id").and_then(Value::as_i64))
            .collect();
        let missing: Vec<_> = order_ids
            .iter()
            .filter(|id| !delivered.contains(id))
            .collect();
        let duplicates = deliveries["duplicates"].as_u64().unwrap_or(0);
        if missing.is_empty() {
            return if duplicates == 0 {
                Ok(())
            } else {
                Err(format!("{duplicates} duplicate deliveries"))
            };
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "lost events: {} of {orders} orders created while Redis was down never reached the sink",
                missing.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub use gauntlet_harness::wire::shopify_signature;

async fn post_webhook(sut: &Sut, body: &str, signature: &str) -> super::Reply {
    let r = sut
        .http
        .post(format!("{}/api/v1/webhooks/shopify", sut.api))
        .header("content-type", "application/json")
        .header("x-shopify-hmac-sha256", signature)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    super::Reply {
        status,
        headers,
        body: r.json().await.unwrap_or(Value::Null),
    }
}

/// Bad signatures store nothing; good ones create the order once.
pub async fn webhook_signatures_are_enforced(sut: &Sut) -> Check {
    let external: u32 = rand::random();
    let body = format!(
        r#"{{"id":"ext-{external:08x}","line_items":[{{"sku":"SKU-0001","quantity":2}}]}}"#
    );
    let forged = post_webhook(
        sut,
        &body,
        &shopify_signature("not-the-secret", body.as_bytes()),
    )
    .await;
    let unsigned = post_webhook(sut, &body, "").await;
    let good = post_webhook(
        sut,
        &body,
        &shopify_signature(&sut.shopify_secret, body.as_bytes()),
    )
    .await;
    let again = post_webhook(
        sut,
        &body,
        &shopify_signature(&sut.shopify_secret, body.as_bytes()),
    )
    .await;
    if forged.status != 401 || forged.code() != "AUTH001" || unsigned.status != 401 {
        return Err(format!(
            "forged webhook accepted: bad signature answered {} {}, missing signature {}",
            forged.status, forged.body, unsigned.status
        ));
    }
    if good.status != 201 || good.body["status"] != "created" {
        return Err(format!(
            "forged webhook accepted: after a refused forgery the genuine delivery answered {} {} (expected 201 created)",
            good.status, good.body
        ));
    }
    if again.status != 200
        || again.body["status"] != "skipped"
        || again.body["order_id"] != good.body["order_id"]
    {
        return Err(format!(
            "redelivery not deduplicated: {} {}",
            again.status, again.body
        ));
    }
    Ok(())
}

/// With the sink failing, an order's event lands in the DLQ after five
/// attempts; requeued once the sink recovers, it is delivered once.
pub async fn failed_events_reach_the_dlq(sut: &Sut, wait: Duration) -> Check {
    let producer = sut.producer().await;
    let product = sut.product(&producer, 100).await;
    let shopper = sut.register("consumer").await;
    sut.sink_fail("always").await;
    let r = sut.checkout(&shopper, &key(), &[(product, 1)]).await;
    if r.status != 201 {
        return Err(format!("checkout answered {}", r.status));
    }
    let order = r.body.pointer("/data/id").and_then(Value::as_i64).unwrap();
    let deadline = tokio::time::Instant::now() + wait;
    let dlq_id = loop {
        let dlq = sut
            .admin(
                Method::GET,
                "/admin/streams/dlq?stream=notify.events&count=1000",
                None,
            )
            .await;
        let found = dlq.body["entries"].as_array().and_then(|entries| {
            entries
                .iter()
                .find(|e| e.pointer("/payload/order_id").and_then(Value::as_i64) == Some(order))
                .cloned()
        });
        if let Some(entry) = found {
            break entry["dlq_id"].as_str().unwrap_or_default().to_string();
        }
        if tokio::time::Instant::now() > deadline {
            sut.sink_fail("none").await;
            return Err(format!(
                "event dropped: order {order}'s event neither reached the sink (failing) nor the DLQ within {}s",
                wait.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    sut.sink_fail("none").await;
    let r = sut
        .admin(
            Method::POST,
            "/admin/streams/dlq/requeue",
            Some(serde_json::json!({"id": dlq_id})),
        )
        .await;
    if r.status != 200 {
        return Err(format!("requeue answered {} {}", r.status, r.body));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let deliveries = sut.sink_deliveries().await;
        let copies: Vec<u64> = deliveries["deliveries"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .filter(|d| d.pointer("/payload/order_id").and_then(Value::as_i64) == Some(order))
            .filter(|d| d.pointer("/payload/type") == Some(&Value::from("order.created")))
            .map(|d| d["count"].as_u64().unwrap_or(1))
            .collect();
        if copies == [1] {
            return Ok(());
        }
        if copies.len() > 1 || copies.iter().any(|c| *c > 1) {
            return Err(format!(
                "requeued event delivered more than once: {copies:?}"
            ));
        }
        if tokio::time::Instant::now() > deadline {
            return Err("requeued event never reached the sink".into());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
