//! The double-click: the same checkout sent twice at the same moment.

use crate::actions::{self, checkout};
use crate::{Journey, Outcome, Req};

pub const NAME: &str = "double_submit";
pub const ABOUT: &str = "the same checkout (same Idempotency-Key) sent twice at once: one order, one stock decrement; the key replayed by another shopper never returns the first one's order";

pub async fn run(j: &mut Journey) -> Outcome {
    j.step("set up a product and a shopper");
    let producer = actions::approved_producer(j).await?;
    let product = actions::create_product(j, &producer, &format!("Sourdough {}", j.unique()), 50).await?;
    let shopper = actions::register(j, "consumer").await?;

    j.step("send the same checkout twice at once");
    let key = format!("double-{}", j.unique());
    let replies = j.send_all(vec![checkout(&shopper, &key, &[(product, 3)]), checkout(&shopper, &key, &[(product, 3)])]).await?;
    for r in &replies {
        j.ensure(r.status == 201 || r.status == 200, || format!("{} answered {}: {}", r.request, r.status, r.snippet()))?;
    }
    let ids: Vec<i64> = replies.iter().filter_map(|r| r.at("/data/id").as_i64()).collect();
    j.ensure(ids.len() == 2 && ids[0] == ids[1], || {
        format!("the same Idempotency-Key created a second order: order ids {ids:?}")
    })?;

    j.step("stock decremented once");
    let stock = actions::stock_of(j, product).await?;
    j.ensure(stock == 47, || format!("stock decremented twice for one order of 3: 50 -> {stock}"))?;
    let r = j.send(Req::get("/api/v1/orders").bearer(&shopper.token)).await?;
    let orders = r.at("/data").as_array().map(Vec::len).unwrap_or(0);
    j.ensure(orders == 1, || format!("the shopper has {orders} orders after one double-clicked checkout"))?;

    j.step("same key with another body is refused");
    let r = j.send(checkout(&shopper, &key, &[(product, 1)])).await?;
    r.expect_error(422, "IDEM001")?;

    // Keys are scoped to their shopper: a replay from a second identity
    // must never answer with the first one's order.
    j.step("another shopper with the same key gets an order of their own");
    let other = actions::register(j, "consumer").await?;
    let r = j.send(checkout(&other, &key, &[(product, 3)])).await?;
    j.ensure(r.at("/data/id").as_i64() != Some(ids[0]), || {
        format!(
            "an Idempotency-Key replayed by another shopper answered {} with the first shopper's order {}",
            r.status, ids[0]
        )
    })?;
    r.expect_status(201)?;
    let r = j.send(Req::get(format!("/api/v1/orders/{}", ids[0])).bearer(&other.token)).await?;
    r.expect_error(404, "ORD001")?;
    let stock = actions::stock_of(j, product).await?;
    j.ensure(stock == 44, || format!("after a second shopper's order of 3, stock is {stock}, expected 44"))?;
    Ok(())
}
