//! Postgres: pools, migrations and fixture loading.
//!
//! - App pools (role `gauntlet_app`) are created lazily: a process starts and
//!   answers even while Postgres is down, and the pool reconnects on its own
//!   once Postgres is back (`test_before_acquire` drops dead connections).
//! - Migrations and fixtures run with the owner role, retrying with backoff
//!   while Postgres is unreachable, failing at once on any other error.

use std::str::FromStr;
use std::time::Duration;

use gauntlet_fixtures::{generate, Fixture, FixtureSize};
use sqlx::migrate::MigrateError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::config::{ConfigError, Secret};
use crate::passwords::HashCost;
use crate::retry::Backoff;

/// How long a request waits for a pooled connection before failing.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Set on every app connection: no statement runs longer.
const STATEMENT_TIMEOUT: &str = "10s";
/// `pg_advisory_xact_lock` key serialising fixture loads ("gauntfix").
const FIXTURE_LOCK_KEY: i64 = 0x6761_756e_7466_6978;
/// Rows per multi-row INSERT when loading fixtures.
const INSERT_BATCH: usize = 10_000;

/// Parses a Postgres URL; the error names the variable, never the password.
pub fn connect_options(
    url: &Secret,
    var: &'static str,
    application_name: &str,
) -> Result<PgConnectOptions, ConfigError> {
    PgConnectOptions::from_str(url.expose())
        .map(|o| o.application_name(application_name))
        .map_err(|e| ConfigError::Invalid {
            var,
            value: url.redacted(),
            reason: format!("{e}; expected postgres://USER:PASSWORD@HOST:PORT/DB"),
        })
}

/// A lazily connecting app-role pool of at most `max` connections.
pub fn app_pool(url: &Secret, application_name: &str, max: u32) -> Result<PgPool, ConfigError> {
    let options = connect_options(url, "DATABASE_URL", application_name)?
        .options([("statement_timeout", STATEMENT_TIMEOUT)]);
    tracing::info!(database = %url, max_connections = max, "postgres pool configured");
    Ok(PgPoolOptions::new()
        .max_connections(max)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .idle_timeout(Duration::from_secs(60))
        .test_before_acquire(true)
        .connect_lazy_with(options))
}

/// True when a database error means "Postgres is not reachable or not ready"
/// (retry later, answer 503) rather than a bug.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P0x: shutting down / starting up;
            // 42P01: undefined table (migrations not applied yet).
            code.starts_with("08") || code.starts_with("57P0") || code == "42P01"
        }),
        _ => false,
    }
}

/// Logs (once per outage) and waits until `SELECT 1` succeeds on `pool`.
pub async fn wait_until_reachable(pool: &PgPool, who: &str) {
    let mut backoff = Backoff::default();
    loop {
        match sqlx::query("SELECT 1").execute(pool).await {
            Ok(_) => {
                tracing::info!(process = who, "postgres reachable");
                return;
            }
            Err(e) => {
                tracing::warn!(process = who, error = %e, retry_in_ms = backoff.peek().as_millis() as u64, "postgres not reachable yet; retrying");
                backoff.wait().await;
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("connecting with DATABASE_OWNER_URL: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("applying migrations: {0}")]
    Migrate(#[source] MigrateError),
    #[error("loading fixtures: {0}")]
    Fixtures(#[source] sqlx::Error),
    #[error("generating fixtures: {0}")]
    Generate(String),
}

impl BootstrapError {
    fn is_transient(&self) -> bool {
        match self {
            BootstrapError::Connect(e) | BootstrapError::Fixtures(e) => is_unavailable(e),
            BootstrapError::Migrate(MigrateError::Execute(e))
            | BootstrapError::Migrate(MigrateError::ExecuteMigration(e, _)) => is_unavailable(e),
            _ => false,
        }
    }
}

/// What [`load_fixtures`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixtureOutcome {
    AlreadyLoaded,
    Loaded {
        users: u64,
        products: u64,
        skipped: u64,
    },
}

/// Migrates and loads fixtures with the owner role, retrying while Postgres
/// is unreachable. Returns on success or on the first non-transient error.
pub async fn bootstrap(
    owner: PgConnectOptions,
    seed: u64,
    size: FixtureSize,
    cost: HashCost,
) -> Result<(), BootstrapError> {
    let mut backoff = Backoff::default();
    loop {
        match bootstrap_once(&owner, seed, size, cost).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, retry_in_ms = backoff.peek().as_millis() as u64, "postgres not ready for migrations; retrying");
                backoff.wait().await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn bootstrap_once(
    owner: &PgConnectOptions,
    seed: u64,
    size: FixtureSize,
    cost: HashCost,
) -> Result<(), BootstrapError> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(owner.clone())
        .await
        .map_err(BootstrapError::Connect)?;
    let result = async {
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(BootstrapError::Migrate)?;
        tracing::info!("migrations applied");
        let outcome = load_fixtures(&pool, seed, size, cost).await?;
        tracing::info!(seed, size = %size, outcome = ?outcome, "fixtures ready");
        Ok(())
    }
    .await;
    pool.close().await;
    result
}

/// Loads `generate(seed, size)` unless `fixture_loads` records it already.
/// One transaction under an advisory lock, so concurrent starts load once.
/// Rows whose e-mail or slug exist already (from another seed) are kept and
/// counted as skipped. Fixture users get the password
/// `gauntlet_fixtures::user_password(seed)`, hashed once per load with `cost`.
pub async fn load_fixtures(
    pool: &PgPool,
    seed: u64,
    size: FixtureSize,
    cost: HashCost,
) -> Result<FixtureOutcome, BootstrapError> {
    let mut tx = pool.begin().await.map_err(BootstrapError::Fixtures)?;
    let outcome = load_in_tx(&mut tx, seed, size, cost).await?;
    tx.commit().await.map_err(BootstrapError::Fixtures)?;
    if outcome != FixtureOutcome::AlreadyLoaded {
        sqlx::query("ANALYZE users, products")
            .execute(pool)
            .await
            .map_err(BootstrapError::Fixtures)?;
    }
    Ok(outcome)
}

async fn load_in_tx(
    tx: &mut Transaction<'_, Postgres>,
    seed: u64,
    size: FixtureSize,
    cost: HashCost,
) -> Result<FixtureOutcome, BootstrapError> {
    let db = BootstrapError::Fixtures;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(FIXTURE_LOCK_KEY)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    let loaded: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM fixture_loads WHERE seed = $1::numeric AND size = $2")
            .bind(seed.to_string())
            .bind(size.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    if loaded.is_some() {
        backfill_passwords(tx, seed, cost).await?;
        return Ok(FixtureOutcome::AlreadyLoaded);
    }
    let started = std::time::Instant::now();
    let password_hash = fixture_password_hash(seed, cost).await?;
    let fixture: Fixture = tokio::task::spawn_blocking(move || generate(seed, size))
        .await
        .map_err(|e| BootstrapError::Generate(e.to_string()))?;
    let mut users = insert_users(tx, &fixture.producers, "producer", &password_hash)
        .await
        .map_err(db)?;
    users += insert_users(tx, &fixture.consumers, "consumer", &password_hash)
        .await
        .map_err(db)?;
    let producer_ids = user_ids(tx, &fixture).await.map_err(db)?;
    let products = insert_products(tx, &fixture, &producer_ids)
        .await
        .map_err(db)?;
    sqlx::query("INSERT INTO fixture_loads (seed, size) VALUES ($1::numeric, $2)")
        .bind(seed.to_string())
        .bind(size.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    let expected =
        (fixture.producers.len() + fixture.consumers.len() + fixture.products.len()) as u64;
    tracing::info!(
        users,
        products,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "fixture rows inserted"
    );
    Ok(FixtureOutcome::Loaded {
        users,
        products,
        skipped: expected - users - products,
    })
}

async fn fixture_password_hash(seed: u64, cost: HashCost) -> Result<String, BootstrapError> {
    let password = gauntlet_fixtures::user_password(seed);
    tokio::task::spawn_blocking(move || crate::passwords::hash_blocking(cost, &password))
        .await
        .map_err(|e| BootstrapError::Generate(e.to_string()))?
        .map_err(|e| BootstrapError::Generate(e.to_string()))
}

/// Databases loaded before accounts had passwords: give the fixture
/// password to users without one (registered users always have one).
async fn backfill_passwords(
    tx: &mut Transaction<'_, Postgres>,
    seed: u64,
    cost: HashCost,
) -> Result<(), BootstrapError> {
    let missing: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE password_hash IS NULL)")
            .fetch_one(&mut **tx)
            .await
            .map_err(BootstrapError::Fixtures)?;
    if missing {
        let hash = fixture_password_hash(seed, cost).await?;
        let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE password_hash IS NULL")
            .bind(hash)
            .execute(&mut **tx)
            .await
            .map_err(BootstrapError::Fixtures)?
            .rows_affected();
        tracing::info!(users = n, "fixture passwords backfilled");
    }
    Ok(())
}

async fn insert_users(
    tx: &mut Transaction<'_, Postgres>,
    users: &[gauntlet_fixtures::UserSeed],
    role: &str,
    password_hash: &str,
) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    for chunk in users.chunks(INSERT_BATCH) {
        let names: Vec<&str> = chunk.iter().map(|u| u.name.as_str()).collect();
        let emails: Vec<&str> = chunk.iter().map(|u| u.email.as_str()).collect();
        inserted += sqlx::query(
            "INSERT INTO users (name, email, role, status, password_hash)
             SELECT n, e, $3::text, 'active', $4 FROM UNNEST($1::text[], $2::text[]) AS t(n, e)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(names)
        .bind(emails)
        .bind(role)
        .bind(password_hash)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    Ok(inserted)
}

/// Database ids of the fixture's producers, in fixture order.
async fn user_ids(
    tx: &mut Transaction<'_, Postgres>,
    fixture: &Fixture,
) -> Result<Vec<i64>, sqlx::Error> {
    let emails: Vec<&str> = fixture.producers.iter().map(|u| u.email.as_str()).collect();
    sqlx::query_scalar(
        "SELECT u.id FROM UNNEST($1::text[]) WITH ORDINALITY AS t(email, ord)
         JOIN users u ON u.email = t.email ORDER BY t.ord",
    )
    .bind(emails)
    .fetch_all(&mut **tx)
    .await
}

async fn insert_products(
    tx: &mut Transaction<'_, Postgres>,
    fixture: &Fixture,
    producer_ids: &[i64],
) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    for chunk in fixture.products.chunks(INSERT_BATCH) {
        let producer: Vec<i64> = chunk
            .iter()
            .map(|p| producer_ids[p.producer_index])
            .collect();
        let names: Vec<&str> = chunk.iter().map(|p| p.name.as_str()).collect();
        let slugs: Vec<&str> = chunk.iter().map(|p| p.slug.as_str()).collect();
        let descriptions: Vec<&str> = chunk.iter().map(|p| p.description.as_str()).collect();
        let prices: Vec<i64> = chunk.iter().map(|p| p.price_cents).collect();
        let stock: Vec<i32> = chunk.iter().map(|p| p.stock).collect();
        inserted += sqlx::query(
            "INSERT INTO products (producer_id, name, slug, description, price_cents, stock, active)
             SELECT p, n, s, d, c, q, true
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::int[])
                  AS t(p, n, s, d, c, q)
             ON CONFLICT (slug) DO NOTHING",
        )
        .bind(producer)
        .bind(names)
        .bind(slugs)
        .bind(descriptions)
        .bind(prices)
        .bind(stock)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    Ok(inserted)
}
