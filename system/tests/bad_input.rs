//! Bad and hostile input on every write endpoint, table-driven: malformed
//! JSON, wrong content type, missing fields, wrong types, unknown fields,
//! 2 MiB bodies, SQL metacharacters and unicode in every text field. Each
//! gets a 4xx with the documented error shape (never a 5xx), and the
//! rejected requests write nothing.

mod support;

use reqwest::Method;
use serde_json::{json, Map, Value};
use support::checks::shopify_signature;
use support::{Reply, Sut};

const HOSTILE_TEXT: &[&str] = &[
    "'; DROP TABLE products; --",
    "\" OR 1=1 --",
    "Ωμέγα 🍅 ünïcödé \u{202e}txt",
    "%00%27",
    "<script>alert(1)</script>",
];

struct Endpoint {
    name: &'static str,
    method: Method,
    path: String,
    token: Option<String>,
    admin: bool,
    headers: Vec<(&'static str, String)>,
    valid: Value,
    /// Mutations this endpoint accepts by design, each with the reason.
    accepts: &'static [(&'static str, &'static str)],
}

const STRICT: &[(&str, &str)] = &[];
const PARTIAL_UPDATE: &[(&str, &str)] = &[(
    "empty object (missing fields)",
    "PATCH with no fields is a no-op",
)];
const ALL_OPTIONAL: &[(&str, &str)] = &[(
    "empty object (missing fields)",
    "every valuation input is optional",
)];
const STOREFRONT: &[(&str, &str)] = &[
    (
        "unknown field",
        "Shopify sends many more fields than the system reads",
    ),
    (
        "wrong type for `id`",
        "Shopify order ids are integers or strings",
    ),
];

async fn send_raw(sut: &Sut, ep: &Endpoint, body: Vec<u8>, content_type: &str) -> Reply {
    if body.len() > 1 << 20 {
        return send_oversized(sut, ep, body, content_type).await;
    }
    let mut req = sut
        .http
        .request(ep.method.clone(), format!("{}{}", sut.api, ep.path));
    if let Some(t) = &ep.token {
        req = req.bearer_auth(t);
    }
    if ep.admin {
        req = req.header("x-admin-token", &sut.admin_token);
    }
    for (k, v) in &ep.headers {
        req = req.header(*k, v);
    }
    if ep.name == "shopify webhook" {
        req = req.header(
            "x-shopify-hmac-sha256",
            shopify_signature(&sut.shopify_secret, &body),
        );
    }
    let resp = req
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    Reply {
        status,
        headers,
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

/// An oversized body over a plain socket: the server may answer 413 and
/// close before reading it all, which HTTP clients report as a broken
/// request instead of showing the 413. Writing errors are ignored here and
/// the answer is read anyway, as curl does.
async fn send_oversized(sut: &Sut, ep: &Endpoint, body: Vec<u8>, content_type: &str) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = sut.api.trim_start_matches("http://").to_string();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n",
        ep.method, ep.path, body.len()
    );
    if let Some(t) = &ep.token {
        head.push_str(&format!("authorization: Bearer {t}\r\n"));
    }
    if ep.admin {
        head.push_str(&format!("x-admin-token: {}\r\n", sut.admin_token));
    }
    for (k, v) in &ep.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(&body).await;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut raw),
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let json = text
        .find("\r\n\r\n")
        .map(|i| &text[i + 4..])
        .and_then(|b| b.find('{').map(|j| &b[j..]))
        .unwrap_or("");
    let json = json.rfind('}').map(|k| &json[..=k]).unwrap_or("");
    Reply {
        status,
        headers: Default::default(),
        body: serde_json::from_str(json).unwrap_or(Value::Null),
    }
}

/// The mutations of one endpoint's valid body: (label, bytes, content type, must be rejected).
fn mutations(valid: &Value) -> Vec<(String, Vec<u8>, &'static str, bool)> {
    let json_ct = "application/json";
    let mut out = vec![
        (
            "malformed JSON".to_string(),
            b"{\"name\": ".to_vec(),
            json_ct,
            true,
        ),
        (
            "wrong content type".into(),
            valid.to_string().into_bytes(),
            "text/plain",
            true,
        ),
        (
            "JSON array instead of object".into(),
            b"[1,2,3]".to_vec(),
            json_ct,
            true,
        ),
        (
            "empty object (missing fields)".into(),
            b"{}".to_vec(),
            json_ct,
            true,
        ),
        (
            "2 MiB body".into(),
            format!("{{\"name\":\"{}\"}}", "x".repeat(2 << 20)).into_bytes(),
            json_ct,
            true,
        ),
    ];
    let Some(obj) = valid.as_object() else {
        return out;
    };
    let mut unknown = obj.clone();
    unknown.insert("zz_unknown_field".into(), json!(1));
    out.push((
        "unknown field".into(),
        Value::Object(unknown).to_string().into_bytes(),
        json_ct,
        true,
    ));
    for (field, value) in obj {
        let wrong = match value {
            Value::String(_) => json!(12345),
            Value::Number(_) => json!("not a number"),
            Value::Array(_) => json!({"not": "an array"}),
            Value::Object(_) => json!([1]),
            Value::Bool(_) => json!("yes"),
            Value::Null => continue,
        };
        let mut body: Map<String, Value> = obj.clone();
        body.insert(field.clone(), wrong);
        out.push((
            format!("wrong type for `{field}`"),
            Value::Object(body).to_string().into_bytes(),
            json_ct,
            true,
        ));
        if value.is_string() {
            for text in HOSTILE_TEXT {
                let mut body = obj.clone();
                body.insert(field.clone(), json!(text));
                out.push((
                    format!("hostile text in `{field}`: {text:?}"),
                    Value::Object(body).to_string().into_bytes(),
                    json_ct,
                    false,
                ));
            }
        }
    }
    out
}

async fn counts(
    sut: &Sut,
    producer: &support::User,
    shopper: &support::User,
) -> (usize, usize, usize) {
    let len = |r: Reply| {
        r.body["data"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(usize::MAX)
    };
    let products = len(sut
        .call(
            Method::GET,
            "/api/v1/producer/products",
            Some(&producer.token),
            None,
        )
        .await);
    let orders = len(sut
        .call(Method::GET, "/api/v1/orders", Some(&shopper.token), None)
        .await);
    let cart = len(sut
        .call(
            Method::GET,
            "/api/v1/cart/items",
            Some(&shopper.token),
            None,
        )
        .await);
    (products, orders, cart)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_write_endpoint_rejects_bad_input_cleanly_and_writes_nothing() {
    let Some(sut) = support::start_with("bad-input", &[], support::RAISED_LIMITS).await else {
        return;
    };
    let producer = sut.producer().await;
    let product = sut.product(&producer, 50).await;
    let shopper = sut.register("consumer").await;
    let cart = sut
        .call(
            Method::POST,
            "/api/v1/cart/items",
            Some(&shopper.token),
            Some(json!({"product_id": product, "quantity": 1})),
        )
        .await;
    let cart_item = cart
        .body
        .pointer("/data/id")
        .and_then(Value::as_i64)
        .expect("cart item id");
    let order = sut
        .checkout(&shopper, "bad-input-order", &[(product, 1)])
        .await;
    let order_id = order
        .body
        .pointer("/data/id")
        .and_then(Value::as_i64)
        .expect("order id");

    let work_order = sut
        .admin(
            Method::POST,
            "/v1/repogen/work-orders",
            Some(json!({"report_type": "VALUATION"})),
        )
        .await
        .body["id"]
        .as_i64()
        .expect("work order id");
    let account = sut
        .admin(
            Method::POST,
            "/v1/billing/accounts",
            Some(json!({"mode": "CREDIT"})),
        )
        .await
        .body["id"]
        .as_i64()
        .expect("billing account id");
    let wo = |tail: &str| format!("/v1/repogen/work-orders/{work_order}{tail}");
    let acct = |tail: &str| format!("/v1/billing/accounts/{account}{tail}");
    let admin = |name: &'static str, method: Method, path: String, valid: Value| Endpoint {
        name,
        method,
        path,
        token: None,
        admin: true,
        headers: vec![],
        valid,
        accepts: STRICT,
    };

    let p = Some(producer.token.clone());
    let s = Some(shopper.token.clone());
    let endpoints = vec![
        Endpoint {
            name: "register",
            method: Method::POST,
            path: "/api/v1/auth/register".into(),
            token: None,
            admin: false,
            headers: vec![],
            valid: json!({"name": "N", "email": "bad-input@example.test", "password": "long-enough-pw", "password_confirmation": "long-enough-pw", "role": "consumer"}),
            accepts: STRICT,
        },
        Endpoint {
            name: "login",
            method: Method::POST,
            path: "/api/v1/auth/login".into(),
            token: None,
            admin: false,
            headers: vec![],
            valid: json!({"email": shopper.email, "password": shopper.password}),
            accepts: STRICT,
        },
        Endpoint {
            name: "create product",
            method: Method::POST,
            path: "/api/v1/products".into(),
            token: p.clone(),
            admin: false,
            headers: vec![],
            valid: json!({"name": "Pears", "description": "ripe", "price": "1.20", "stock": 5}),
            accepts: STRICT,
        },
        Endpoint {
            name: "update product",
            method: Method::PATCH,
            path: format!("/api/v1/products/{product}"),
            token: p.clone(),
            admin: false,
            headers: vec![],
            valid: json!({"name": "Better Pears", "price": "1.30"}),
            accepts: PARTIAL_UPDATE,
        },
        Endpoint {
            name: "add to cart",
            method: Method::POST,
            path: "/api/v1/cart/items".into(),
            token: s.clone(),
            admin: false,
            headers: vec![],
            valid: json!({"product_id": product, "quantity": 2}),
            accepts: STRICT,
        },
        Endpoint {
            name: "cart quantity",
            method: Method::PATCH,
            path: format!("/api/v1/cart/items/{cart_item}"),
            token: s.clone(),
            admin: false,
            headers: vec![],
            valid: json!({"quantity": 3}),
            accepts: STRICT,
        },
        Endpoint {
            name: "checkout",
            method: Method::POST,
            path: "/api/v1/public/orders".into(),
            token: s.clone(),
            admin: false,
            headers: vec![("idempotency-key", "bad-input-checkout".to_string())],
            valid: Sut::order_body(&[(product, 1)]),
            accepts: STRICT,
        },
        Endpoint {
            name: "order stage",
            method: Method::POST,
            path: format!("/api/v1/orders/{order_id}/stage"),
            token: None,
            admin: true,
            headers: vec![],
            valid: json!({"stage": "PREPARING"}),
            accepts: STRICT,
        },
        Endpoint {
            name: "set flag",
            method: Method::PUT,
            path: "/api/v1/admin/flags/bad_input_flag".into(),
            token: None,
            admin: true,
            headers: vec![],
            valid: json!({"enabled": true, "rollout": 50}),
            accepts: STRICT,
        },
        Endpoint {
            name: "dlq requeue",
            method: Method::POST,
            path: "/admin/streams/dlq/requeue".into(),
            token: None,
            admin: true,
            headers: vec![],
            valid: json!({"id": "0-1"}),
            accepts: STRICT,
        },
        Endpoint {
            name: "shopify webhook",
            method: Method::POST,
            path: "/api/v1/webhooks/shopify".into(),
            token: None,
            admin: false,
            headers: vec![],
            valid: json!({"id": "bad-input-1", "line_items": [{"sku": "SKU-0002", "quantity": 1}]}),
            accepts: STOREFRONT,
        },
        Endpoint {
            name: "valuation",
            method: Method::POST,
            path: "/v1/repogen/evaluate".into(),
            token: None,
            admin: false,
            headers: vec![],
            valid: json!({"bank_type": "SBI", "bank_name": "State Bank", "property_address": "1 Mill Road",
                          "area": {"value": 1000, "unit": "sqft"}, "fmv_input": 1_000_000.0}),
            accepts: ALL_OPTIONAL,
        },
        admin(
            "create work order",
            Method::POST,
            "/v1/repogen/work-orders".into(),
            json!({"report_type": "VALUATION", "fields": {"bank_name": "B"}}),
        ),
        admin(
            "work order contract",
            Method::PATCH,
            wo("/contract"),
            json!({"fields": {"bank_name": "B"}}),
        ),
        admin(
            "work order evidence",
            Method::POST,
            wo("/evidence"),
            json!({"kind": "PHOTO", "caption": "front"}),
        ),
        admin(
            "work order status",
            Method::POST,
            wo("/status"),
            json!({"status": "DATA_PENDING"}),
        ),
        admin(
            "billing account",
            Method::POST,
            "/v1/billing/accounts".into(),
            json!({"mode": "CREDIT", "status": "active"}),
        ),
        admin(
            "reserve",
            Method::POST,
            acct("/reserve"),
            json!({"amount": 1, "idempotency_key": "k", "ref_type": "job", "ref_id": "1",
                   "operator_override": false}),
        ),
        admin(
            "consume",
            Method::POST,
            acct("/consume"),
            json!({"reservation_id": 1}),
        ),
        admin(
            "release",
            Method::POST,
            acct("/release"),
            json!({"ref_type": "job", "ref_id": "1"}),
        ),
        admin(
            "grant",
            Method::POST,
            acct("/grant"),
            json!({"amount": 5, "reason": "grant", "idempotency_key": "g"}),
        ),
        admin(
            "feed items",
            Method::POST,
            "/api/v1/admin/feed/items".into(),
            json!({"community": "bad-input", "items": [{"kind": "post", "seller_id": 1,
                   "created_at": "2025-01-01T00:00:00Z", "signal": 0.5, "fit": 0.5}]}),
        ),
        admin(
            "rate-limit probe",
            Method::POST,
            "/api/v1/admin/ratelimit/probe".into(),
            json!({"key": "bad-input", "capacity": 5, "window_ms": 1000, "requests": 1}),
        ),
    ];

    let before = counts(&sut, &producer, &shopper).await;
    let mut problems = Vec::new();
    let mut cases = 0;
    let mut accepted = std::collections::HashMap::<&str, usize>::new();
    for ep in &endpoints {
        for (label, body, content_type, must_reject) in mutations(&ep.valid) {
            cases += 1;
            let r = send_raw(&sut, ep, body, content_type).await;
            if (200..300).contains(&r.status) {
                *accepted.entry(ep.name).or_default() += 1;
            }
            let shaped = r
                .body
                .pointer("/error/code")
                .and_then(Value::as_str)
                .is_some_and(|c| !c.is_empty())
                && r.body
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .is_some();
            if r.status >= 500 {
                problems.push(format!("{} / {label}: {} {}", ep.name, r.status, r.body));
            } else if must_reject
                && !(400..500).contains(&r.status)
                && !ep.accepts.iter().any(|(m, _)| *m == label)
            {
                problems.push(format!("{} / {label}: accepted with {}", ep.name, r.status));
            } else if (400..500).contains(&r.status) && !shaped {
                problems.push(format!(
                    "{} / {label}: {} without the error shape: {}",
                    ep.name, r.status, r.body
                ));
            }
        }
    }
    assert!(
        cases > 100,
        "the table covers every field of every endpoint ({cases} cases)"
    );
    assert!(
        problems.is_empty(),
        "{} of {cases} cases misbehaved:\n{}",
        problems.len(),
        problems.join("\n")
    );

    // Only accepted requests (hostile but valid text) may have written.
    let after = counts(&sut, &producer, &shopper).await;
    let n = |name: &str| accepted.get(name).copied().unwrap_or(0);
    assert_eq!(
        after.0,
        before.0 + n("create product"),
        "products written by rejected requests"
    );
    assert_eq!(
        after.1,
        before.1 + n("checkout"),
        "orders written by rejected checkouts"
    );
    assert!(
        after.2 <= before.2 + n("add to cart"),
        "cart items written by rejected requests: {before:?} -> {after:?}"
    );
}
