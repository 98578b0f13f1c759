//! Marketplace HTTP API (SYSTEM-SPEC sections 4 and 7): accounts, producer
//! products, carts, checkout, orders and stages, feature flags; with the
//! rate-limit profiles applied per route group. These routes carry their
//! own state and are merged into the api router.
//!
//! | group | profile | identity |
//! |-------|---------|----------|
//! | login, register | `auth` (in the handler) | client IP + e-mail |
//! | checkout | `expensive` | user, or client IP for guests |
//! | admin endpoints | `admin` | client IP |
//! | everything else here, public catalog included | `standard` | user, or client IP |
//!
//! The rules-engine routes (`super::rules`) share this state and are merged
//! here, with their own profiles.

mod admin;
mod auth;
mod cart;
mod checkout;
mod flags;
pub(super) mod guard;
mod orders;
mod products;
pub(super) mod validate;

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use axum::routing::{get, patch, post, put};
use axum::Router;
use sqlx::PgPool;

use super::ApiState;
use crate::client_ip::TrustedProxies;
use crate::config::{Config, Secret};
use crate::defects::Defects;
use crate::market::checkout::Ctx;
use crate::passwords::Passwords;
use crate::ratelimit::RateLimiter;
use crate::redis_conn::RedisHandle;
use crate::telemetry::{CHECKOUTS, CHECKOUT_CONFLICTS, CHECKOUT_REPLAYS};

#[derive(Clone)]
pub struct MarketState {
    pub db: PgPool,
    pub redis: RedisHandle,
    pub defects: Arc<Defects>,
    pub admin_token: Option<Secret>,
    pub passwords: Passwords,
    pub limiter: RateLimiter,
    pub proxies: Arc<TrustedProxies>,
}

impl MarketState {
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            db: &self.db,
            redis: &self.redis,
            defects: &self.defects,
        }
    }
}

/// The marketplace routes with their state.
pub fn routes(api: &ApiState, cfg: &Config) -> anyhow::Result<Router> {
    let passwords = Passwords::new(cfg.password_cost)?;
    let limiter = RateLimiter::new(
        api.redis.clone(),
        cfg.rate_limits.clone(),
        api.defects.clone(),
    );
    tracing::info!(
        password_memory_kib = cfg.password_cost.memory_kib,
        password_iterations = cfg.password_cost.iterations,
        rate_limits_disabled = cfg.rate_limits.disabled,
        auth = %cfg.rate_limits.auth,
        standard = %cfg.rate_limits.standard,
        expensive = %cfg.rate_limits.expensive,
        admin = %cfg.rate_limits.admin,
        "marketplace configured"
    );
    let state = MarketState {
        db: api.db.clone(),
        redis: api.redis.clone(),
        defects: api.defects.clone(),
        admin_token: cfg.admin_token.clone(),
        passwords,
        limiter,
        proxies: Arc::new(cfg.trusted_proxies.clone()),
    };
    for outcome in checkout::OUTCOMES {
        metrics::counter!(CHECKOUTS, "outcome" => *outcome).absolute(0);
    }
    metrics::counter!(CHECKOUT_REPLAYS).absolute(0);
    metrics::counter!(CHECKOUT_CONFLICTS).absolute(0);

    let auth = Router::new()
        .route("/api/v1/auth/register", post(auth::register))
        .route("/api/v1/auth/login", post(auth::login));
    let standard = Router::new()
        .route("/api/v1/auth/profile", get(auth::profile))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/products", post(products::create))
        .route(
            "/api/v1/products/{id}",
            patch(products::update).delete(products::remove),
        )
        .route("/api/v1/products/{id}/restock", post(products::restock))
        .route("/api/v1/producer/products", get(products::list_own))
        .route("/api/v1/producer/orders", get(orders::list_for_producer))
        .route(
            "/api/v1/cart/items",
            get(cart::list).post(cart::add).delete(cart::clear),
        )
        .route(
            "/api/v1/cart/items/{item_id}",
            patch(cart::set_quantity).delete(cart::remove),
        )
        .route("/api/v1/orders", get(orders::list))
        .route("/api/v1/orders/{id}", get(orders::show))
        .route("/api/v1/orders/{id}/stage", post(orders::stage))
        .route("/api/v1/flags", get(flags::for_caller))
        .route_layer(from_fn_with_state(state.clone(), guard::standard));
    let expensive = Router::new()
        .route("/api/v1/public/orders", post(checkout::create))
        .route_layer(from_fn_with_state(state.clone(), guard::expensive));
    let admin = Router::new()
        .route(
            "/api/v1/admin/producers/{id}/approve",
            patch(admin::approve_producer),
        )
        .route("/api/v1/admin/flags/{key}", put(admin::set_flag))
        .route_layer(from_fn_with_state(state.clone(), guard::admin));
    // The public catalog (handlers in `api::products`) under `standard` too.
    let catalog = Router::new()
        .route("/api/v1/public/products", get(super::products::list))
        .route(
            "/api/v1/public/products/{id_or_slug}",
            get(super::products::show),
        )
        .with_state(api.clone())
        .route_layer(from_fn_with_state(state.clone(), guard::standard));
    Ok(auth
        .merge(standard)
        .merge(expensive)
        .merge(admin)
        .with_state(state.clone())
        .merge(catalog)
        .merge(super::rules::routes(&state)))
}
