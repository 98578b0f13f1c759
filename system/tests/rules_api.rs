//! The rules-engine HTTP API (issue 6 contract, section B) against a real
//! stack: valuation, work orders, the credit ledger (with 20 concurrent
//! identical reservations), the feed (a full walk with inserts meanwhile,
//! the cart exclusion), the rate-limit probe and flag evaluation: each
//! endpoint's happy path and its error codes. The second test turns on
//! `feed_cursor_by_time` (and `rate_limit_never_denies`) and shows the same
//! walk skipping or repeating items, and the probe never denying.

mod support;

// One file per engine, next to this one (a test crate's root resolves
// modules from `tests/`, hence the paths).
#[path = "rules_api/billing.rs"]
mod billing;
#[path = "rules_api/feed.rs"]
mod feed;
#[path = "rules_api/work_orders.rs"]
mod work_orders;

use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::{Reply, Sut};

use billing::{billing, twenty_identical_reservations_make_one};
use feed::{feed_errors_and_auth, feed_leaves_out_cart_listings_and_hidden_items, feed_walk};
use work_orders::{export_is_deterministic, work_orders};

/// Everything raised: one test sends hundreds of admin calls from one IP.
const LIMITS: &[(&str, &str)] = &[
    ("GAUNTLET_RATE_LIMIT_STANDARD", "1000000/60s"),
    ("GAUNTLET_RATE_LIMIT_ADMIN", "1000000/60s"),
    ("GAUNTLET_PASSWORD_HASH_MEMORY_KIB", "1024"),
    ("GAUNTLET_PASSWORD_HASH_ITERATIONS", "1"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rules_api_answers_as_the_contract_says() {
    let Some(sut) = support::start_with("rules-api", &[], LIMITS).await else {
        return;
    };
    valuation(&sut).await;
    work_orders(&sut).await;
    export_is_deterministic(&sut).await;
    billing(&sut).await;
    twenty_identical_reservations_make_one(&sut).await;
    feed_errors_and_auth(&sut).await;
    let walk = feed_walk(&sut, true).await;
    assert!(
        walk.duplicates.is_empty() && walk.missing.is_empty() && walk.unexpected.is_empty(),
        "the correct feed skipped or repeated items: {walk:?}"
    );
    feed_leaves_out_cart_listings_and_hidden_items(&sut).await;
    probe(&sut, false).await;
    flag_evaluation(&sut).await;
    admin_routes_need_the_token(&sut).await;
    append_only_tables_refuse_changes(&sut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feed_cursor_by_time_skips_or_repeats_items() {
    let defects = ["feed_cursor_by_time", "rate_limit_never_denies"];
    let Some(sut) = support::start_with("rules-defects", &defects, LIMITS).await else {
        return;
    };
    let walk = feed_walk(&sut, false).await;
    assert!(
        !walk.duplicates.is_empty() || !walk.missing.is_empty(),
        "paging by time went unnoticed: {walk:?}"
    );
    probe(&sut, true).await;
}

fn expect(r: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{what}: {}", r.body);
}

fn ok(r: &Reply, status: u16, what: &str) -> Value {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    r.body.clone()
}

async fn valuation(sut: &Sut) {
    let evaluate = |body: Value| sut.call(Method::POST, "/v1/repogen/evaluate", None, Some(body));
    let out = ok(
        &evaluate(json!({
            "bank_name": "SBI Main Branch", "property_address": "1 Mill Road",
            "area": {"value": 1000, "unit": "sqft"},
            "market_rate": {"value": 5000, "unit": "per_sqft"},
            "fmv_input": 60_000_000.0
        }))
        .await,
        200,
        "evaluate",
    );
    assert_eq!(out["bank_type"], "SBI", "{out}");
    assert_eq!(out["area_sqm"], 92.9, "{out}");
    assert_eq!(out["area_sqft"], 1000.0, "{out}");
    assert_eq!(out["market_rate_per_sqm"], 53819.5, "{out}");
    assert_eq!(out["fmv"], 60_000_000.0, "{out}");
    assert_eq!(out["realizable"], 57_000_000.0, "{out}");
    assert_eq!(out["distress"], 48_000_000.0, "{out}");
    assert_eq!(out["value_slab"], "GT_5CR", "{out}");
    assert_eq!(out["template"], "BOI_PSU_GENERIC", "{out}");
    assert_eq!(out["coop"], Value::Null, "{out}");
    assert_eq!(out["warnings"], json!([]), "{out}");

    let coop = ok(
        &evaluate(json!({"bank_type": "coop", "coop_market_value": 1000})).await,
        200,
        "coop",
    );
    assert_eq!(coop["bank_type"], "COOP", "{coop}");
    assert_eq!(coop["template"], "COOP_GENERIC", "{coop}");
    assert_eq!(coop["coop"]["adopted_value"], 800.0, "{coop}");
    assert_eq!(coop["coop"]["rounded_to_next_500"], 1000.0, "{coop}");
    let codes: Vec<&str> = coop["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"COOP_ADOPTED_INFERRED_FROM_MARKET"),
        "{coop}"
    );
    assert!(codes.contains(&"BANK_NAME_MISSING"), "{coop}");
    assert!(codes.windows(2).all(|w| w[0] < w[1]), "sorted: {codes:?}");

    for (body, field) in [
        (json!({"bank_type": "MOON"}), "bank_type"),
        (json!({"area": {"value": 10, "unit": "acre"}}), "area"),
        (json!({"land_value": -1}), "land_value"),
        (json!({"surprise": 1}), "surprise"),
    ] {
        let r = evaluate(body).await;
        expect(&r, 422, "VALIDATION_FAILED", field);
        let details = r.body["error"]["details"].as_object().unwrap();
        assert!(
            details.keys().any(|k| k.starts_with(field)),
            "{field}: {}",
            r.body
        );
    }
}

async fn probe(sut: &Sut, never_denies: bool) {
    let key = format!("probe-{:08x}", rand::random::<u32>());
    let body = json!({"key": key, "capacity": 3, "window_ms": 60_000, "requests": 5});
    let r = sut
        .admin(Method::POST, "/api/v1/admin/ratelimit/probe", Some(body))
        .await;
    let report = ok(&r, 200, "probe");
    let decisions = report["decisions"].as_array().unwrap();
    let allowed: Vec<bool> = decisions
        .iter()
        .map(|d| d["allowed"].as_bool().unwrap())
        .collect();
    let remaining: Vec<i64> = decisions
        .iter()
        .map(|d| d["remaining"].as_i64().unwrap())
        .collect();
    assert_eq!(remaining, [2, 1, 0, 0, 0], "{report}");
    if never_denies {
        assert_eq!(
            (report["allowed"].as_i64(), report["denied"].as_i64()),
            (Some(5), Some(0))
        );
        assert!(allowed.iter().all(|a| *a), "{report}");
    } else {
        assert_eq!(
            (report["allowed"].as_i64(), report["denied"].as_i64()),
            (Some(3), Some(2))
        );
        assert_eq!(allowed, [true, true, true, false, false], "{report}");
        assert!(
            decisions[3]["retry_after_ms"].as_i64().unwrap() > 0,
            "{report}"
        );
        for (body, field) in [
            (
                json!({"key": "k", "capacity": 0, "window_ms": 1000, "requests": 1}),
                "capacity",
            ),
            (
                json!({"key": "k", "capacity": 1, "window_ms": 3_600_001, "requests": 1}),
                "window_ms",
            ),
            (
                json!({"key": "k", "capacity": 1, "window_ms": 1000, "requests": 1001}),
                "requests",
            ),
            (
                json!({"key": "", "capacity": 1, "window_ms": 1000, "requests": 1}),
                "key",
            ),
        ] {
            let r = sut
                .admin(Method::POST, "/api/v1/admin/ratelimit/probe", Some(body))
                .await;
            expect(&r, 422, "VALIDATION_FAILED", field);
            assert!(
                r.body["error"]["details"].get(field).is_some(),
                "{}",
                r.body
            );
        }
    }
}

async fn flag_evaluation(sut: &Sut) {
    for user in [1_i64, 2, 77, 12345] {
        let r = sut
            .admin(
                Method::GET,
                &format!("/api/v1/admin/flags/discover_reels/users/{user}"),
                None,
            )
            .await;
        let body = ok(&r, 200, "flag");
        let digest = Sha256::digest(format!("discover_reels:{user}").as_bytes());
        let bucket = u64::from_be_bytes(digest[..8].try_into().unwrap()) % 100;
        assert_eq!(
            body,
            json!({"key": "discover_reels", "user_id": user, "enabled": true, "rollout": 50,
                   "on": bucket < 50})
        );
    }
    expect(
        &sut.admin(
            Method::GET,
            "/api/v1/admin/flags/no_such_flag/users/1",
            None,
        )
        .await,
        404,
        "NOT_FOUND",
        "unknown flag",
    );
    expect(
        &sut.admin(
            Method::GET,
            "/api/v1/admin/flags/discover_reels/users/ann",
            None,
        )
        .await,
        422,
        "VALIDATION_FAILED",
        "user id",
    );
}

async fn admin_routes_need_the_token(sut: &Sut) {
    let routes = [
        (Method::POST, "/v1/repogen/work-orders"),
        (Method::GET, "/v1/repogen/work-orders/1"),
        (Method::PATCH, "/v1/repogen/work-orders/1/contract"),
        (Method::POST, "/v1/repogen/work-orders/1/evidence"),
        (Method::POST, "/v1/repogen/work-orders/1/status"),
        (Method::GET, "/v1/repogen/work-orders/1/export"),
        (Method::POST, "/v1/billing/accounts"),
        (Method::GET, "/v1/billing/accounts/1"),
        (Method::POST, "/v1/billing/accounts/1/reserve"),
        (Method::POST, "/v1/billing/accounts/1/consume"),
        (Method::POST, "/v1/billing/accounts/1/release"),
        (Method::POST, "/v1/billing/accounts/1/grant"),
        (Method::GET, "/v1/billing/accounts/1/ledger"),
        (Method::POST, "/api/v1/admin/feed/items"),
        (Method::POST, "/api/v1/admin/ratelimit/probe"),
        (Method::GET, "/api/v1/admin/flags/discover_reels/users/1"),
    ];
    for (method, path) in routes {
        let body = (method != Method::GET).then(|| json!({}));
        for token in [None, Some("wrong-token")] {
            let headers: Vec<(&str, &str)> =
                token.map(|t| ("x-admin-token", t)).into_iter().collect();
            let r = sut
                .call_with(method.clone(), path, None, body.clone(), &headers)
                .await;
            expect(
                &r,
                401,
                "AUTH001",
                &format!("{method} {path} with {token:?}"),
            );
        }
    }
}

/// SQL as the role of `url_var` (`DATABASE_URL`: the app role), inside
/// the postgres container.
async fn sql_as(sut: &Sut, url_var: &str, sql: &str) -> (i64, String) {
    let url = sut
        .stack
        .env_var("app", url_var)
        .await
        .unwrap()
        .expect("database URL of the app")
        .replace("@postgres:", "@127.0.0.1:");
    let out = sut
        .stack
        .exec(
            "postgres",
            &["psql", &url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        )
        .await
        .unwrap();
    (out.exit_code, format!("{}{}", out.stdout, out.stderr))
}

/// The ledger and the snapshots are append-only (no grant for the app role,
/// a trigger against everyone else), and the ledger sums equal the balances
/// of every account.
async fn append_only_tables_refuse_changes(sut: &Sut) {
    for sql in [
        "UPDATE billing_ledger SET wallet_delta = wallet_delta",
        "DELETE FROM billing_ledger",
        "UPDATE work_order_snapshots SET output = output",
        "DELETE FROM work_order_snapshots",
    ] {
        let (code, output) = sql_as(sut, "DATABASE_URL", sql).await;
        assert!(
            code != 0 && output.contains("permission denied"),
            "{sql}: exit {code}: {output}"
        );
        let (code, output) = sql_as(sut, "DATABASE_OWNER_URL", sql).await;
        assert!(
            code != 0 && output.contains("append-only"),
            "owner: {sql}: exit {code}: {output}"
        );
    }
    let (code, output) = sql_as(
        sut,
        "DATABASE_URL",
        "SELECT count(*) FROM billing_accounts a
         LEFT JOIN (SELECT account_id, sum(wallet_delta) AS w, sum(reserved_delta) AS r
                    FROM billing_ledger GROUP BY account_id) l ON l.account_id = a.id
         WHERE a.wallet <> coalesce(l.w, 0) OR a.reserved <> coalesce(l.r, 0)",
    )
    .await;
    assert_eq!(
        (code, output.trim()),
        (0, "0"),
        "accounts whose ledger disagrees"
    );
}
