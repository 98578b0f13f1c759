//! Rules engines over HTTP (SYSTEM-SPEC sections 7 and 8): valuation,
//! work orders, the credit ledger, the feed, the rate-limit probe and flag
//! evaluation. Decisions come from the pure crate `gauntlet-rules`,
//! persistence from `crate::rules_store`; the handlers here only validate,
//! call, and shape the answer. The routes share the marketplace state (its
//! admin token, bearer-token lookup and rate limiter).
//!
//! | group | profile | auth |
//! |-------|---------|------|
//! | `POST /v1/repogen/evaluate`, `GET /api/v1/feed` | `standard` | none (the feed reads the bearer user when given) |
//! | work orders, billing, feed items, probe, flag evaluation | `admin` | `X-Admin-Token` |

mod billing;
mod feed;
mod flags;
mod probe;
mod valuation;
mod work_orders;

use axum::middleware::from_fn_with_state;
use axum::routing::{get, patch, post};
use axum::Router;
use serde_json::Value;

use super::market::{guard, validate, MarketState};
use crate::http::AppError;
use validate::{path_id, Checks};

/// The routes of this slice with their state and rate-limit layers.
pub fn routes(state: &MarketState) -> Router {
    let public = Router::new()
        .route("/v1/repogen/evaluate", post(valuation::evaluate))
        .route("/api/v1/feed", get(feed::page))
        .route_layer(from_fn_with_state(state.clone(), guard::standard));
    let wo = "/v1/repogen/work-orders";
    let acct = "/v1/billing/accounts/{id}";
    let admin = Router::new()
        .route(wo, post(work_orders::create))
        .route(&format!("{wo}/{{id}}"), get(work_orders::show))
        .route(
            &format!("{wo}/{{id}}/contract"),
            patch(work_orders::patch_contract),
        )
        .route(
            &format!("{wo}/{{id}}/evidence"),
            post(work_orders::add_evidence),
        )
        .route(
            &format!("{wo}/{{id}}/status"),
            post(work_orders::set_status),
        )
        .route(&format!("{wo}/{{id}}/export"), get(work_orders::export))
        .route("/v1/billing/accounts", post(billing::create_account))
        .route(acct, get(billing::show))
        .route(&format!("{acct}/reserve"), post(billing::reserve))
        .route(&format!("{acct}/consume"), post(billing::consume))
        .route(&format!("{acct}/release"), post(billing::release))
        .route(&format!("{acct}/grant"), post(billing::grant))
        .route(&format!("{acct}/ledger"), get(billing::ledger))
        .route("/api/v1/admin/feed/items", post(feed::insert))
        .route("/api/v1/admin/ratelimit/probe", post(probe::run))
        .route(
            "/api/v1/admin/flags/{key}/users/{user_id}",
            get(flags::evaluate),
        )
        .route_layer(from_fn_with_state(state.clone(), guard::admin));
    public.merge(admin).with_state(state.clone())
}

/// Refuses strings holding NUL anywhere in a JSON value (keys included):
/// Postgres cannot store them in `jsonb`.
fn no_nul_in_json(checks: &mut Checks, field: &str, value: &Value) {
    let has_nul = |s: &str| s.contains('\0');
    let bad = match value {
        Value::String(s) => has_nul(s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                no_nul_in_json(checks, &format!("{field}[{i}]"), item);
            }
            false
        }
        Value::Object(map) => {
            for (k, v) in map {
                if has_nul(k) {
                    checks.fail(field, "keys must not contain NUL (U+0000)");
                } else {
                    no_nul_in_json(checks, &format!("{field}.{k}"), v);
                }
            }
            false
        }
        _ => false,
    };
    if bad {
        checks.fail(field, "must not contain NUL (U+0000)");
    }
}

/// A positive id from the path, or the resource's not-found error.
fn id_or(text: &str, not_found: impl FnOnce() -> AppError) -> Result<i64, AppError> {
    path_id(text).ok_or_else(not_found)
}
