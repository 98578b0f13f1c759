//! Steps several journeys share: accounts, products, checkouts. Each takes
//! the journey so its requests are recorded in the current step.

use serde_json::{json, Value};

use crate::journey::{Failure, Journey};
use crate::request::Req;

pub use gauntlet_harness::wire::{html_escape, shopify_signature};

#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub token: String,
}

/// Registers a new consumer or producer with fake, unique details.
pub async fn register(j: &mut Journey, role: &str) -> Result<Account, Failure> {
    let person = j.person();
    let body = json!({
        "name": person.name, "email": person.email, "password": person.password,
        "password_confirmation": person.password, "role": role,
    });
    let r = j
        .send(Req::post("/api/v1/auth/register").json(body))
        .await?;
    r.expect_status(201)?;
    j.ensure(r.at("/token_type") == "Bearer", || {
        format!("register: token_type is {}", r.at("/token_type"))
    })?;
    Ok(Account {
        id: r.i64_at("/user/id")?,
        email: person.email,
        password: person.password,
        token: r.str_at("/token")?,
    })
}

/// A producer approved by the admin, ready to sell.
pub async fn approved_producer(j: &mut Journey) -> Result<Account, Failure> {
    let producer = register(j, "producer").await?;
    let r = j
        .send(Req::patch(format!("/api/v1/admin/producers/{}/approve", producer.id)).admin())
        .await?;
    r.expect_status(200)?;
    Ok(producer)
}

/// A new product of `producer`; returns its id.
pub async fn create_product(
    j: &mut Journey,
    producer: &Account,
    name: &str,
    stock: i64,
) -> Result<i64, Failure> {
    let body = json!({"name": name, "description": "Grown for the journeys", "price": "3.20", "stock": stock});
    let r = j
        .send(
            Req::post("/api/v1/products")
                .bearer(&producer.token)
                .json(body),
        )
        .await?;
    r.expect_status(201)?;
    r.i64_at("/data/id")
}

pub fn order_body(items: &[(i64, i64)]) -> Value {
    json!({
        "items": items.iter().map(|(p, q)| json!({"product_id": p, "quantity": q})).collect::<Vec<_>>(),
        "shipping_method": "courier",
        "payment_method": "card",
        "shipping_address": "12 Orchard Lane, Springfield",
    })
}

pub fn checkout(buyer: &Account, key: &str, items: &[(i64, i64)]) -> Req {
    Req::post("/api/v1/public/orders")
        .bearer(&buyer.token)
        .header("idempotency-key", key)
        .json(order_body(items))
}

/// A new credit account (operator API, CREDIT mode) granted `credits`,
/// the grant keyed `{key}-{nonce}`; its id.
pub async fn credit_account(j: &mut Journey, credits: i64, key: &str) -> Result<i64, Failure> {
    let r = j
        .send(
            Req::post("/v1/billing/accounts")
                .admin()
                .json(json!({"mode": "CREDIT"})),
        )
        .await?;
    r.expect_status(201)?;
    let account = r.i64_at("/id")?;
    let grant = json!({"amount": credits, "reason": "grant", "idempotency_key": format!("{key}-{}", j.unique())});
    let r = j
        .send(
            Req::post(format!("/v1/billing/accounts/{account}/grant"))
                .admin()
                .json(grant),
        )
        .await?;
    r.expect_status(201)?;
    Ok(account)
}

pub async fn stock_of(j: &mut Journey, product: i64) -> Result<i64, Failure> {
    let r = j
        .send(Req::get(format!("/api/v1/public/products/{product}")))
        .await?;
    r.expect_status(200)?;
    r.i64_at("/data/stock")
}

/// Polls `probe` every 250 ms until it yields `Some`, or fails with
/// `symptom` after `seconds`.
pub async fn within<T, F>(
    j: &mut Journey,
    seconds: u64,
    symptom: impl FnOnce() -> String,
    mut probe: F,
) -> Result<T, Failure>
where
    F: for<'a> FnMut(&'a mut Journey) -> futures::future::BoxFuture<'a, Result<Option<T>, Failure>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(v) = probe(j).await? {
            return Ok(v);
        }
        if std::time::Instant::now() > deadline {
            return Err(Failure::new(symptom()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
