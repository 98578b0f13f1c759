//! An order's event travels outbox -> stream -> notification sink; when the
//! sink fails, it must end in the dead-letter queue, and reach the sink once
//! after a requeue, leaving nothing in the DLQ or pending. (Sets the sink's
//! failure mode for a few seconds: do not run two of these against one
//! target at the same time.)

use serde_json::Value;

use crate::actions::{self, checkout, within};
use crate::{Failure, Journey, Outcome, Req, Service};

pub const NAME: &str = "notification";
/// Five failed attempts with the system's backoff take about 8 s.
const DLQ_WAIT_SECS: u64 = 20;

pub const ABOUT: &str = "an order's event reaches the sink exactly once; with the sink failing it lands in the DLQ, and requeue delivers it once, leaving it neither in the DLQ nor pending (a second requeue is 404)";

/// How many times the sink recorded `order`'s `order.created` event.
async fn deliveries_of(j: &mut Journey, order: i64) -> Result<u64, Failure> {
    let r = j.send(Req::get("/deliveries").to(Service::Sink)).await?;
    r.expect_status(200)?;
    Ok(r.at("/deliveries")
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|d| d.pointer("/payload/type") == Some(&Value::from("order.created")))
                .filter(|d| d.pointer("/payload/order_id").and_then(Value::as_i64) == Some(order))
                .map(|d| d["count"].as_u64().unwrap_or(1))
                .sum()
        })
        .unwrap_or(0))
}

async fn sink_mode(j: &mut Journey, mode: &str) -> Outcome {
    let r = j.send(Req::post("/admin/fail").to(Service::Sink).admin().json(serde_json::json!({"mode": mode}))).await?;
    r.expect_status(200).map(|_| ())
}

async fn wait_delivered_once(j: &mut Journey, order: i64, what: &str) -> Outcome {
    let what = what.to_string();
    let count = within(j, 20, || format!("{what}: order {order}'s event never reached the sink"), |j| {
        Box::pin(async move { Ok(Some(deliveries_of(j, order).await?).filter(|n| *n > 0)) })
    })
    .await?;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let settled = deliveries_of(j, order).await?;
    j.ensure(count == 1 && settled == 1, || format!("{what}: order {order}'s event was delivered {settled} times"))
}

pub async fn run(j: &mut Journey) -> Outcome {
    if !j.has(Service::Sink) {
        j.step("sink target");
        return Err(Failure::new("no sink URL for this target (--sink)"));
    }
    j.step("an order is placed");
    let producer = actions::approved_producer(j).await?;
    let product = actions::create_product(j, &producer, &format!("Quince {}", j.unique()), 100).await?;
    let shopper = actions::register(j, "consumer").await?;
    let r = j.send(checkout(&shopper, &format!("note-a-{}", j.unique()), &[(product, 1)])).await?;
    r.expect_status(201)?;
    let first = r.i64_at("/data/id")?;

    j.step("its event reaches the sink exactly once");
    wait_delivered_once(j, first, "delivery").await?;

    j.step("with the sink failing, the event lands in the DLQ");
    sink_mode(j, "always").await?;
    let dead_lettered = dead_letter(j, &shopper, product).await;
    sink_mode(j, "none").await?;
    let (second, dlq_id) = dead_lettered?;

    j.step("requeued after the sink recovers, it is delivered once");
    let r = j.send(Req::post("/admin/streams/dlq/requeue").admin().json(serde_json::json!({"id": dlq_id}))).await?;
    r.expect_status(200)?;
    let new_id = r.str_at("/new_id")?;
    wait_delivered_once(j, second, "requeue").await?;

    j.step("requeued, it leaves nothing behind");
    requeue_leaves_nothing(j, second, &dlq_id, &new_id).await
}

/// After a requeue and its delivery: the dead letter is gone from the DLQ,
/// the re-added entry is not left pending, and requeueing the same id again
/// is 404.
async fn requeue_leaves_nothing(j: &mut Journey, order: i64, dlq_id: &str, new_id: &str) -> Outcome {
    let r = j.send(Req::get("/admin/streams/dlq?stream=notify.events&count=1000").admin()).await?;
    r.expect_status(200)?;
    let left = r.at("/entries").as_array().is_some_and(|entries| {
        entries.iter().any(|e| {
            e["dlq_id"].as_str() == Some(dlq_id) || e.pointer("/payload/order_id").and_then(Value::as_i64) == Some(order)
        })
    });
    j.ensure(!left, || format!("requeue left order {order}'s dead letter {dlq_id} in the DLQ"))?;
    let new_id = new_id.to_string();
    within(j, 5, || format!("requeued entry {new_id} (order {order}) is still pending after its delivery: never acknowledged"), |j| {
        let new_id = new_id.clone();
        Box::pin(async move {
            let r = j.send(Req::get("/admin/streams/pending?stream=notify.events&group=notify&count=1000").admin()).await?;
            r.expect_status(200)?;
            let pending = r.at("/entries").as_array().is_none_or(|entries| entries.iter().any(|e| e["id"] == new_id.as_str()));
            Ok((!pending).then_some(()))
        })
    })
    .await?;
    let r = j.send(Req::post("/admin/streams/dlq/requeue").admin().json(serde_json::json!({"id": dlq_id}))).await?;
    j.ensure(r.status == 404, || {
        format!("dead letter {dlq_id} requeued a second time: answered {}, expected 404: {}", r.status, r.snippet())
    })
}

async fn dead_letter(j: &mut Journey, shopper: &actions::Account, product: i64) -> Result<(i64, String), Failure> {
    let r = j.send(checkout(shopper, &format!("note-b-{}", j.unique()), &[(product, 1)])).await?;
    r.expect_status(201)?;
    let order = r.i64_at("/data/id")?;
    let dlq_id = within(
        j,
        DLQ_WAIT_SECS,
        || format!("event dropped: order {order}'s event neither reached the failing sink nor the DLQ within {DLQ_WAIT_SECS} s"),
        |j| {
            Box::pin(async move {
                let r = j.send(Req::get("/admin/streams/dlq?stream=notify.events&count=1000").admin()).await?;
                r.expect_status(200)?;
                Ok(r.at("/entries").as_array().and_then(|entries| {
                    entries
                        .iter()
                        .find(|e| e.pointer("/payload/order_id").and_then(Value::as_i64) == Some(order))
                        .and_then(|e| e["dlq_id"].as_str().map(String::from))
                }))
            })
        },
    )
    .await?;
    let delivered = deliveries_of(j, order).await?;
    j.ensure(delivered == 0, || format!("order {order}'s event is both in the DLQ and at the sink"))?;
    Ok((order, dlq_id))
}
