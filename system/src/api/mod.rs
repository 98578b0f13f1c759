//! The `api` process: the JSON API.
//!
//! Start-up order: configure the pools (lazily), start connecting to Redis in
//! the background, start migrations + fixtures in the background, and serve
//! at once. `/api/healthz` reports the database as down until migrations and
//! fixtures are done, so "healthy" means "ready for traffic".

mod health;
mod market;
mod ops;
mod products;
mod rules;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use sqlx::PgPool;

use crate::config::Config;
use crate::db;
use crate::defects::Defects;
use crate::http;
use crate::identity::{meta_router, Identity};
use crate::redis_conn::{RedisHandle, DEFAULT_COMMAND_TIMEOUT};
use crate::telemetry::{self, metrics_router, MetricsEndpoint};

/// Postgres connections the api process may hold.
const POOL_SIZE: u32 = 20;

/// Shared by every api handler.
#[derive(Clone)]
pub struct ApiState {
    pub db: PgPool,
    pub redis: RedisHandle,
    pub defects: Arc<Defects>,
    /// Set once migrations and fixtures are in place.
    pub ready: Arc<AtomicBool>,
    pub git_sha: Arc<str>,
}

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let identity = Arc::new(Identity::new("api"));
    let metrics = telemetry::install_metrics()?;
    let owner = db::connect_options(
        cfg.database_owner_url("api")?,
        "DATABASE_OWNER_URL",
        "gauntlet-api-migrate",
    )?;
    let pool = db::app_pool(cfg.database_url("api")?, "gauntlet-api", POOL_SIZE)?;
    let redis_url = cfg.redis_url("api")?;
    let listener = http::bind("api", "API_ADDR", cfg.api_addr).await?;
    let redis = RedisHandle::connect_in_background(redis_url, DEFAULT_COMMAND_TIMEOUT)?;
    tracing::info!(
        instance_id = %identity.instance_id,
        defects = %cfg.defects,
        fixture_seed = cfg.fixture_seed,
        fixture_size = %cfg.fixture_size,
        "starting api"
    );
    let state = ApiState {
        db: pool.clone(),
        redis,
        defects: Arc::new(cfg.defects.clone()),
        ready: Arc::new(AtomicBool::new(false)),
        git_sha: cfg.git_sha.as_str().into(),
    };
    let ready = state.ready.clone();
    let (seed, size, cost) = (cfg.fixture_seed, cfg.fixture_size, cfg.password_cost);
    let mut bootstrap = tokio::spawn(async move {
        db::bootstrap(owner, seed, size, cost).await?;
        ready.store(true, std::sync::atomic::Ordering::Release);
        tracing::info!("api ready: schema migrated and fixtures loaded");
        Ok::<_, db::BootstrapError>(())
    });
    // Webhooks, inventory, stream and sync admin: routes with their own state.
    let ops_routes = ops::routes(&state, &cfg);
    // Marketplace (auth, products, cart, checkout, orders, flags; rate
    // limits), including the public catalog routes.
    let market_routes = market::routes(&state, &cfg)?;
    let app = router(state)
        .merge(ops_routes)
        .merge(market_routes)
        .merge(meta_router(identity))
        .merge(metrics_router(MetricsEndpoint {
            handle: metrics,
            pools: vec![("app", pool)],
        }));
    let app = http::with_common_layers(
        app.fallback(http::not_found_json)
            .method_not_allowed_fallback(http::method_not_allowed_json),
    );
    let server = http::serve("api", listener, app);
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        joined = &mut bootstrap => match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(anyhow::Error::new(e).context("api start-up failed")),
            Err(e) => return Err(anyhow::anyhow!("api start-up task failed: {e}")),
        },
    }
    server.await
}

fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/health", get(health::liveness))
        .route("/api/healthz", get(health::deep))
        .with_state(state)
}
