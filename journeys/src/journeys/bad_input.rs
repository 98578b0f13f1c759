//! Malformed and hostile bodies on write endpoints: 4xx with the documented
//! error shape, never 5xx, and nothing written.

use crate::actions::{self, checkout, order_body};
use crate::{Journey, Outcome, Req, Resp};

pub const NAME: &str = "bad_input";
pub const ABOUT: &str = "malformed, mistyped, unknown-field and hostile bodies get 4xx with the error shape, no 5xx, nothing written";

fn rejected(j: &Journey, r: &Resp) -> Outcome {
    j.ensure(r.status < 500, || format!("server error: {} answered {}: {}", r.request, r.status, r.snippet()))?;
    j.ensure((400..500).contains(&r.status), || format!("bad input accepted: {} answered {}", r.request, r.status))?;
    j.ensure(!r.code().is_empty() && r.at("/error/message").is_string(), || {
        format!("{} answered {} without the error shape: {}", r.request, r.status, r.snippet())
    })
}

pub async fn run(j: &mut Journey) -> Outcome {
    j.step("set up");
    let producer = actions::approved_producer(j).await?;
    let product = actions::create_product(j, &producer, &format!("Kale {}", j.unique()), 30).await?;
    let shopper = actions::register(j, "consumer").await?;

    j.step("registration rejects bad bodies");
    let person = j.person();
    let bad = [
        Req::post("/api/v1/auth/register").raw(b"{\"name\": ".to_vec(), "application/json"),
        Req::post("/api/v1/auth/register").raw(b"name=x".to_vec(), "application/x-www-form-urlencoded"),
        Req::post("/api/v1/auth/register").json(serde_json::json!({"name": 5, "email": [], "password": {}, "role": 1})),
        Req::post("/api/v1/auth/register").json(serde_json::json!({
            "name": person.name, "email": person.email, "password": person.password,
            "password_confirmation": person.password, "role": "consumer", "is_admin": true})),
        Req::post("/api/v1/auth/register").json(serde_json::json!({
            "name": "x", "email": "'; DROP TABLE users; --", "password": "p", "password_confirmation": "q", "role": "consumer"})),
    ];
    for req in bad {
        let r = j.send(req).await?;
        rejected(j, &r)?;
    }
    let login = serde_json::json!({"email": person.email, "password": person.password});
    let r = j.send(Req::post("/api/v1/auth/login").json(login)).await?;
    j.ensure(r.status == 401, || format!("a rejected registration created the account: login answered {}", r.status))?;

    j.step("checkout rejects bad bodies and writes nothing");
    let key = format!("bad-{}", j.unique());
    let mut unknown = order_body(&[(product, 1)]);
    unknown["coupon"] = serde_json::json!("FREE");
    let bad = [
        Req::post("/api/v1/public/orders").bearer(&shopper.token).json(order_body(&[(product, 1)])),
        checkout(&shopper, &key, &[(product, 0)]),
        checkout(&shopper, &key, &[(product, -3)]),
        checkout(&shopper, &key, &[(i64::MAX, 1)]),
        checkout(&shopper, &key, &[]),
        Req::post("/api/v1/public/orders").bearer(&shopper.token).header("idempotency-key", key.as_str()).json(unknown),
        Req::post("/api/v1/public/orders").bearer(&shopper.token).header("idempotency-key", key.as_str()).raw(b"[]".to_vec(), "application/json"),
    ];
    for req in bad {
        let r = j.send(req).await?;
        rejected(j, &r)?;
    }
    let stock = actions::stock_of(j, product).await?;
    j.ensure(stock == 30, || format!("rejected checkouts changed the stock: 30 -> {stock}"))?;
    let r = j.send(Req::get("/api/v1/orders").bearer(&shopper.token)).await?;
    let orders = r.at("/data").as_array().map(Vec::len).unwrap_or(usize::MAX);
    j.ensure(orders == 0, || format!("rejected checkouts wrote {orders} orders"))?;

    j.step("hostile text is stored faithfully or refused");
    let hostile = format!("Ωμέγα 🍅 '; DROP TABLE products; -- <b>{}</b>", j.unique());
    let r = j
        .send(Req::post("/api/v1/products").bearer(&producer.token).json(serde_json::json!({
            "name": hostile, "description": "\" OR 1=1 --", "price": "1.00", "stock": 1})))
        .await?;
    j.ensure(r.status < 500, || format!("server error on hostile text: {}", r.snippet()))?;
    if r.status == 201 {
        let id = r.i64_at("/data/id")?;
        let r = j.send(Req::get(format!("/api/v1/public/products/{id}"))).await?;
        j.ensure(r.at("/data/name") == hostile.as_str(), || format!("hostile text came back altered: {}", r.at("/data/name")))?;
    } else {
        rejected(j, &r)?;
    }
    Ok(())
}
