//! The feed: a full walk, the cart and hidden exclusions, bad parameters.

use std::collections::{BTreeSet, HashSet};

use chrono::{Duration as Age, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use super::support::Sut;
use super::{expect, ok};

fn community() -> String {
    format!("c-{:08x}", rand::random::<u32>())
}

fn ago(minutes: i64) -> String {
    (Utc::now() - Age::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn insert_items(sut: &Sut, community: &str, items: Vec<Value>) -> Vec<i64> {
    let body = json!({"community": community, "items": items});
    let r = sut
        .admin(Method::POST, "/api/v1/admin/feed/items", Some(body))
        .await;
    let ids: Vec<i64> = ok(&r, 201, "insert items")["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    ids
}

fn feed_path(community: &str, limit: u32, cursor: Option<&str>) -> String {
    let mut path = format!("/api/v1/feed?community={community}&limit={limit}&lane=for_you");
    if let Some(c) = cursor {
        path.push_str(&format!("&cursor={c}"));
    }
    path
}

#[derive(Debug, Default)]
pub struct Walk {
    pub pages: usize,
    pub duplicates: Vec<i64>,
    pub missing: BTreeSet<i64>,
    /// Items seen that are not among the expected ones (inserted mid-walk).
    pub unexpected: BTreeSet<i64>,
}

/// 30 posts where older ones score higher (time order is the reverse of
/// score order), walked 5 at a time; halfway through, 5 more posts are
/// inserted with the best scores, which must wait for the next walk.
pub async fn feed_walk(sut: &Sut, checks: bool) -> Walk {
    let community = community();
    let items: Vec<Value> = (0..30)
        .map(|i| {
            json!({"kind": "post", "seller_id": 1000 + i, "created_at": ago(10 * i),
                   "signal": f64::from(i as u32) / 30.0, "fit": 0.0})
        })
        .collect();
    let expected: BTreeSet<i64> = insert_items(sut, &community, items)
        .await
        .into_iter()
        .collect();
    let mut walk = Walk::default();
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut as_of: Option<Value> = None;
    loop {
        walk.pages += 1;
        assert!(walk.pages < 100, "the walk does not end: {walk:?}");
        let r = sut
            .call(
                Method::GET,
                &feed_path(&community, 5, cursor.as_deref()),
                None,
                None,
            )
            .await;
        let page = ok(&r, 200, "feed page");
        if checks {
            assert_eq!(page["lane"], "for_you");
            let this_as_of = page["as_of"].clone();
            assert!(this_as_of.as_str().unwrap().ends_with('Z'), "{page}");
            assert_eq!(
                *as_of.get_or_insert(this_as_of.clone()),
                this_as_of,
                "as_of is the walk's"
            );
            let scores: Vec<f64> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["score"].as_f64().unwrap())
                .collect();
            assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        }
        for item in page["items"].as_array().unwrap() {
            let id = item["id"].as_i64().unwrap();
            if !seen.insert(id) {
                walk.duplicates.push(id);
            }
            if !expected.contains(&id) {
                walk.unexpected.insert(id);
            }
        }
        if walk.pages == 2 {
            let newer: Vec<Value> = (0..5)
                .map(|i| {
                    json!({"kind": "post", "seller_id": 2000 + i, "created_at": ago(0),
                                "signal": 1.0, "fit": 1.0})
                })
                .collect();
            insert_items(sut, &community, newer).await;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    walk.missing = expected
        .difference(&seen.iter().copied().collect())
        .copied()
        .collect();
    walk
}

pub async fn feed_leaves_out_cart_listings_and_hidden_items(sut: &Sut) {
    let producer = sut.producer().await;
    let product = sut.product(&producer, 10).await;
    let shopper = sut.register("consumer").await;
    let r = sut
        .call(
            Method::POST,
            "/api/v1/cart/items",
            Some(&shopper.token),
            Some(json!({"product_id": product, "quantity": 1})),
        )
        .await;
    ok(&r, 201, "add to cart");
    let community = community();
    let item = |kind: &str, product_id: Option<i64>, hidden: bool| {
        json!({"kind": kind, "seller_id": rand::random::<u32>(), "created_at": ago(5), "signal": 0.5,
               "fit": 0.5, "hidden": hidden, "product_id": product_id})
    };
    let ids = insert_items(
        sut,
        &community,
        vec![
            item("listing", Some(product), false),
            item("listing", Some(product + 1_000_000), false),
            item("post", None, true),
            item("event", None, false),
        ],
    )
    .await;
    let seen = |token: Option<String>| {
        let community = community.clone();
        async move {
            let r = sut
                .call(
                    Method::GET,
                    &format!("/api/v1/feed?community={community}&limit=50&lane=shop"),
                    token.as_deref(),
                    None,
                )
                .await;
            ok(&r, 200, "feed")["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_i64().unwrap())
                .collect::<BTreeSet<i64>>()
        }
    };
    let anonymous = seen(None).await;
    assert_eq!(anonymous, BTreeSet::from([ids[0], ids[1], ids[3]]));
    let own = seen(Some(shopper.token.clone())).await;
    assert_eq!(
        own,
        BTreeSet::from([ids[1], ids[3]]),
        "the cart's listing shows"
    );
}

pub async fn feed_errors_and_auth(sut: &Sut) {
    let get = async |query: &str| {
        sut.call(Method::GET, &format!("/api/v1/feed?{query}"), None, None)
            .await
    };
    let empty = ok(&get("community=nobody-here").await, 200, "empty feed");
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["next_cursor"], Value::Null);
    assert_eq!(empty["lane"], "for_you");
    let personal = ok(&get("lane=personal").await, 200, "alias");
    assert_eq!(personal["lane"], "following");
    for (query, field) in [
        ("lane=sideways", "lane"),
        ("limit=0", "limit"),
        ("limit=51", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let r = get(query).await;
        expect(&r, 422, "VALIDATION_FAILED", query);
        assert!(
            r.body["error"]["details"].get(field).is_some(),
            "{}",
            r.body
        );
    }
    let r = sut
        .call(Method::GET, "/api/v1/feed", Some("gat_bogus"), None)
        .await;
    expect(&r, 401, "AUTH001", "bad bearer token");

    let insert = |item: Value| {
        sut.admin(
            Method::POST,
            "/api/v1/admin/feed/items",
            Some(json!({"items": [item]})),
        )
    };
    for (item, field) in [
        (
            json!({"kind": "post", "seller_id": 1, "created_at": "yesterday", "signal": 0.1, "fit": 0.1}),
            "items[0].created_at",
        ),
        (
            json!({"kind": "post", "seller_id": 1, "created_at": ago(1), "signal": 1.5, "fit": 0.1}),
            "items[0].signal",
        ),
        (
            json!({"kind": "reel", "seller_id": 1, "created_at": ago(1), "signal": 0.1, "fit": 0.1}),
            "items[0].kind",
        ),
    ] {
        let r = insert(item).await;
        expect(&r, 422, "VALIDATION_FAILED", field);
        assert!(
            r.body["error"]["details"].get(field).is_some(),
            "{}",
            r.body
        );
    }
}
