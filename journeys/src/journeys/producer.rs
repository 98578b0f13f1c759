//! A producer's path: approval, listing a product, editing it; and nobody
//! else may edit it.

use crate::actions;
use crate::{Journey, Outcome, Req, Service};

pub const NAME: &str = "producer";
pub const ABOUT: &str = "register, admin approves, create a product, it is listed and on the web, edit it; another producer's PATCH, restock and DELETE get 403 and change nothing";

pub async fn run(j: &mut Journey) -> Outcome {
    j.step("register as producer (pending)");
    let producer = actions::register(j, "producer").await?;
    let name = format!("Wildflower Honey {}", j.unique());
    let body = serde_json::json!({"name": name, "description": "raw", "price": "7.00", "stock": 5});
    let r = j.send(Req::post("/api/v1/products").bearer(&producer.token).json(body.clone())).await?;
    j.ensure(r.status == 403 || r.status == 422, || {
        format!("a pending producer created a product: {} answered {}", r.request, r.status)
    })?;

    j.step("admin approves");
    let r = j.send(Req::patch(format!("/api/v1/admin/producers/{}/approve", producer.id)).admin()).await?;
    r.expect_status(200)?;

    j.step("create product");
    let r = j.send(Req::post("/api/v1/products").bearer(&producer.token).json(body)).await?;
    r.expect_status(201)?;
    let product = r.i64_at("/data/id")?;
    j.ensure(r.at("/data/price") == "7.00", || format!("price came back as {}", r.at("/data/price")))?;

    j.step("it appears in the public list");
    // Every journey of the run names its products with the same nonce:
    // more than a default page of them.
    let r = j.send(Req::get(format!("/api/v1/public/products?per_page=100&search={}", j.unique()))).await?;
    r.expect_status(200)?;
    j.ensure(r.at("/data").as_array().is_some_and(|d| d.iter().any(|p| p["id"] == product)), || {
        format!("product {product} is not in the public list")
    })?;
    let r = j.send(Req::get("/api/v1/producer/products").bearer(&producer.token)).await?;
    r.expect_status(200)?;
    j.ensure(r.text.contains(&format!("\"id\":{product}")), || "the producer's own list misses the product".into())?;

    if j.has(Service::Web) {
        j.step("it appears on the web page");
        let r = j.send(Req::get(format!("/products/{product}")).to(Service::Web)).await?;
        r.expect_status(200)?;
        j.ensure(r.text.contains(&name), || format!("web /products/{product} does not show `{name}`"))?;
    }

    j.step("edit it");
    let edit = serde_json::json!({"price": "7.50", "stock": 9});
    let r = j.send(Req::patch(format!("/api/v1/products/{product}")).bearer(&producer.token).json(edit)).await?;
    r.expect_status(200)?;
    let r = j.send(Req::get(format!("/api/v1/public/products/{product}"))).await?;
    j.ensure(r.at("/data/price") == "7.50" && r.at("/data/stock") == 9, || {
        format!("the edit did not stick: {}", r.snippet())
    })?;

    j.step("another producer gets 403 and changes nothing");
    let rival = actions::approved_producer(j).await?;
    let before = product_state(j, product, &producer.token).await?;
    let hijack = serde_json::json!({"name": "Hijacked", "price": "0.01", "stock": 0, "active": false});
    let attempts = [
        ("PATCH", Req::patch(format!("/api/v1/products/{product}")).json(hijack)),
        ("restock", Req::post(format!("/api/v1/products/{product}/restock")).json(serde_json::json!({"quantity": 50}))),
        ("DELETE", Req::delete(format!("/api/v1/products/{product}"))),
    ];
    for (what, req) in attempts {
        let r = j.send(req.bearer(&rival.token)).await?;
        j.ensure(r.status == 403, || {
            format!("another producer's {what} of product {product} answered {}, expected 403: {}", r.status, r.snippet())
        })?;
        let after = product_state(j, product, &producer.token).await?;
        j.ensure(after == before, || {
            format!("another producer's refused {what} still changed product {product}: {before} became {after}")
        })?;
    }
    Ok(())
}

/// What a product shows (status, name, price, stock, active), read with the
/// owner's token (the public catalog's per-IP bucket is shared).
async fn product_state(j: &mut Journey, product: i64, token: &str) -> Result<String, crate::Failure> {
    let r = j.send(Req::get(format!("/api/v1/public/products/{product}")).bearer(token)).await?;
    Ok(format!(
        "{} name {} price {} stock {} active {}",
        r.status,
        r.at("/data/name"),
        r.at("/data/price"),
        r.at("/data/stock"),
        r.at("/data/active")
    ))
}
