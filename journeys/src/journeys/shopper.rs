//! A shopper's path through the marketplace, and the privacy of what they
//! leave behind.

use crate::actions::{self, checkout};
use crate::{Journey, Outcome, Req};

pub const NAME: &str = "shopper";
pub const ABOUT: &str =
    "register, log in, browse, cart, checkout, see the order; others see neither order nor cart";

pub async fn run(j: &mut Journey) -> Outcome {
    j.step("a producer lists a product");
    let producer = actions::approved_producer(j).await?;
    let product = actions::create_product(
        j,
        &producer,
        &format!("Heirloom Tomatoes {}", j.unique()),
        25,
    )
    .await?;

    j.step("register");
    let shopper = actions::register(j, "consumer").await?;

    j.step("log in");
    let login = serde_json::json!({"email": shopper.email, "password": shopper.password});
    let r = j.send(Req::post("/api/v1/auth/login").json(login)).await?;
    r.expect_status(200)?;
    let token = r.str_at("/token")?;
    let r = j
        .send(Req::get("/api/v1/auth/profile").bearer(&token))
        .await?;
    r.expect_status(200)?;

    j.step("list products");
    // Search by the run's nonce: a large fixture has hundreds of other
    // "Heirloom" products, and the list is paged by id.
    let r = j
        .send(Req::get(format!(
            "/api/v1/public/products?per_page=100&search={}",
            j.unique()
        )))
        .await?;
    r.expect_status(200)?;
    let listed = r
        .at("/data")
        .as_array()
        .is_some_and(|d| d.iter().any(|p| p["id"] == product));
    j.ensure(listed, || {
        format!("product {product} is not in the public list")
    })?;

    j.step("product detail");
    let before = actions::stock_of(j, product).await?;

    j.step("add to cart");
    let add = serde_json::json!({"product_id": product, "quantity": 2});
    let r = j
        .send(
            Req::post("/api/v1/cart/items")
                .bearer(&shopper.token)
                .json(add),
        )
        .await?;
    j.ensure(r.status == 201 || r.status == 200, || {
        format!("{} answered {}: {}", r.request, r.status, r.snippet())
    })?;
    let r = j
        .send(Req::get("/api/v1/cart/items").bearer(&shopper.token))
        .await?;
    r.expect_status(200)?;
    j.ensure(
        r.text.contains(&format!("\"product_id\":{product}")),
        || "the cart does not show the added product".into(),
    )?;

    j.step("another user cannot see the cart");
    let stranger = actions::register(j, "consumer").await?;
    let r = j
        .send(Req::get("/api/v1/cart/items").bearer(&stranger.token))
        .await?;
    r.expect_status(200)?;
    j.ensure(
        !r.text.contains(&format!("\"product_id\":{product}")),
        || {
            format!(
                "cart leak: another user sees user {}'s cart item (product {product})",
                shopper.id
            )
        },
    )?;

    j.step("checkout with an Idempotency-Key");
    let key = format!("shopper-{}", j.unique());
    let r = j.send(checkout(&shopper, &key, &[(product, 2)])).await?;
    r.expect_status(201)?;
    let order = r.i64_at("/data/id")?;
    // 2 × 3.20 (actions::create_product's price): the order's money is
    // part of the contract, not only its existence.
    let total = r.str_at("/data/total")?;
    j.ensure(total == "6.40", || {
        format!("order total {total} for 2 × 3.20, expected 6.40")
    })?;
    let after = actions::stock_of(j, product).await?;
    j.ensure(after == before - 2, || {
        format!("stock went from {before} to {after} for an order of 2")
    })?;

    j.step("remove a cart item, then empty the cart");
    // Each removal must really remove: the cart is read back every time.
    let r = j
        .send(Req::get("/api/v1/cart/items").bearer(&shopper.token))
        .await?;
    r.expect_status(200)?;
    let item = r.i64_at("/data/0/id")?;
    let r = j
        .send(Req::delete(format!("/api/v1/cart/items/{item}")).bearer(&shopper.token))
        .await?;
    r.expect_status(204)?;
    let r = j
        .send(Req::get("/api/v1/cart/items").bearer(&shopper.token))
        .await?;
    j.ensure(!r.text.contains(&format!("\"id\":{item},")), || {
        format!(
            "cart item {item} answered 204 to DELETE but is still in the cart: {}",
            r.snippet()
        )
    })?;
    let r = j
        .send(Req::delete(format!("/api/v1/cart/items/{item}")).bearer(&shopper.token))
        .await?;
    j.ensure(r.status == 404, || {
        format!(
            "removing cart item {item} twice answered {}, expected 404",
            r.status
        )
    })?;
    let add = serde_json::json!({"product_id": product, "quantity": 1});
    let r = j
        .send(
            Req::post("/api/v1/cart/items")
                .bearer(&shopper.token)
                .json(add),
        )
        .await?;
    j.ensure(r.status == 201 || r.status == 200, || {
        format!("{} answered {}: {}", r.request, r.status, r.snippet())
    })?;
    let r = j
        .send(Req::delete("/api/v1/cart/items").bearer(&shopper.token))
        .await?;
    r.expect_status(204)?;
    let r = j
        .send(Req::get("/api/v1/cart/items").bearer(&shopper.token))
        .await?;
    let left = r.at("/data").as_array().map_or(usize::MAX, Vec::len);
    j.ensure(left == 0, || {
        format!(
            "the cart answered 204 to DELETE but still holds {left} items: {}",
            r.snippet()
        )
    })?;

    j.step("see the order");
    let r = j
        .send(Req::get(format!("/api/v1/orders/{order}")).bearer(&shopper.token))
        .await?;
    r.expect_status(200)?;
    let r = j
        .send(Req::get("/api/v1/orders").bearer(&shopper.token))
        .await?;
    r.expect_status(200)?;
    j.ensure(r.text.contains(&format!("\"id\":{order}")), || {
        format!("order {order} is missing from the shopper's list")
    })?;

    j.step("another user gets 404 for the order");
    let r = j
        .send(Req::get(format!("/api/v1/orders/{order}")).bearer(&stranger.token))
        .await?;
    r.expect_error(404, "ORD001")?;

    Ok(())
}
