//! Postgres: pools, migrations and fixture loading.
//!
//! - App pools (role `gauntlet_app`) are created lazily: a process starts and
//!   answers even while Postgres is down, and the pool reconnects on its own
//!   once Postgres is back (`test_before_acquire` drops dead connections).
//! - Migrations and fixtures run with the owner role, retrying with backoff
//!   while Postgres is unreachable, failing at once on any other error.
//! - Fixture orders are history: they are loaded with their stage and
//!   timestamps as they are, without outbox rows (nothing is relayed for
//!   them), stage history or idempotency keys, and their non-cancelled
//!   quantities are taken off the products' stock so the stock invariant
//!   holds from the start.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use gauntlet_fixtures::{generate, Fixture, FixtureSize, OrderSeed, UserSeed};
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
/// Fixture orders per batch: about 1.9 items each, so each batch is one
/// `orders` INSERT of 5,000 rows and one `order_items` INSERT of ~10,000.
const ORDER_BATCH: usize = INSERT_BATCH / 2;

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
    #[error("granting the app role its privileges (system/grants.sql): {0}")]
    Grants(#[source] sqlx::Error),
    #[error("loading fixtures: {0}")]
    Fixtures(#[source] sqlx::Error),
    #[error("generating fixtures: {0}")]
    Generate(String),
}

impl BootstrapError {
    fn is_transient(&self) -> bool {
        match self {
            BootstrapError::Connect(e)
            | BootstrapError::Grants(e)
            | BootstrapError::Fixtures(e) => is_unavailable(e),
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
        orders: u64,
        order_items: u64,
        /// Users, products and orders of the fixture not inserted: users and
        /// products whose e-mail or slug existed already, and orders all of
        /// whose products were such existing products.
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
        // Every start: a restore with --no-privileges dropped the grants.
        sqlx::raw_sql(include_str!("../grants.sql"))
            .execute(&pool)
            .await
            .map_err(BootstrapError::Grants)?;
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
/// counted as skipped; order lines on such products are left out (their
/// stock belongs to another load). Fixture users get the password
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
        // Taking the orders' quantities off the stock left a dead version of
        // nearly every product row: reclaim them now (cheap at 100k rows)
        // rather than when autovacuum gets to it. The rest only needs
        // statistics.
        for statement in [
            "VACUUM (ANALYZE) products",
            "ANALYZE users, orders, order_items",
        ] {
            sqlx::query(statement)
                .execute(pool)
                .await
                .map_err(BootstrapError::Fixtures)?;
        }
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
    let fixture: Arc<Fixture> = tokio::task::spawn_blocking(move || Arc::new(generate(seed, size)))
        .await
        .map_err(|e| BootstrapError::Generate(e.to_string()))?;
    let mut users = insert_users(tx, &fixture.producers, "producer", &password_hash)
        .await
        .map_err(db)?;
    users += insert_users(tx, &fixture.consumers, "consumer", &password_hash)
        .await
        .map_err(db)?;
    let producer_ids = user_ids(tx, &fixture.producers).await.map_err(db)?;
    let consumer_ids = user_ids(tx, &fixture.consumers).await.map_err(db)?;
    let product_ids = insert_products(tx, &fixture, &producer_ids)
        .await
        .map_err(db)?;
    let products = product_ids.iter().flatten().count() as u64;
    let ids = FixtureIds {
        producers: &producer_ids,
        consumers: &consumer_ids,
        products: &product_ids,
    };
    let suspended = suspend_for_bulk_load(tx, ORDER_TABLES).await.map_err(db)?;
    let orders = insert_orders(tx, seed, size, &fixture, &ids)
        .await
        .map_err(db)?;
    restore_after_bulk_load(tx, &suspended).await.map_err(db)?;
    sqlx::query("INSERT INTO fixture_loads (seed, size) VALUES ($1::numeric, $2)")
        .bind(seed.to_string())
        .bind(size.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    let expected = (fixture.producers.len()
        + fixture.consumers.len()
        + fixture.products.len()
        + size.order_count()) as u64;
    tracing::info!(
        users,
        products,
        orders = orders.orders,
        order_items = orders.items,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "fixture rows inserted"
    );
    Ok(FixtureOutcome::Loaded {
        users,
        products,
        orders: orders.orders,
        order_items: orders.items,
        skipped: expected - users - products - orders.orders,
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

/// Database ids of `users` (all inserted or existing by now), in order.
async fn user_ids(
    tx: &mut Transaction<'_, Postgres>,
    users: &[UserSeed],
) -> Result<Vec<i64>, sqlx::Error> {
    let emails: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT u.id FROM UNNEST($1::text[]) WITH ORDINALITY AS t(email, ord)
         JOIN users u ON u.email = t.email ORDER BY t.ord",
    )
    .bind(emails)
    .fetch_all(&mut **tx)
    .await?;
    if ids.len() != users.len() {
        return Err(sqlx::Error::Protocol(format!(
            "{} of {} fixture users not found after inserting them",
            users.len() - ids.len(),
            users.len()
        )));
    }
    Ok(ids)
}

/// Inserts the products; returns, in fixture order, the id of each product
/// this load inserted (`None`: its slug existed already).
async fn insert_products(
    tx: &mut Transaction<'_, Postgres>,
    fixture: &Fixture,
    producer_ids: &[i64],
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    let mut ids = Vec::with_capacity(fixture.products.len());
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
        let inserted: Vec<(i64, String)> = sqlx::query_as(
            "INSERT INTO products (producer_id, name, slug, description, price_cents, stock, active)
             SELECT p, n, s, d, c, q, true
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::int[])
                  AS t(p, n, s, d, c, q)
             ON CONFLICT (slug) DO NOTHING
             RETURNING id, slug",
        )
        .bind(producer)
        .bind(names)
        .bind(&slugs)
        .bind(descriptions)
        .bind(prices)
        .bind(stock)
        .fetch_all(&mut **tx)
        .await?;
        let by_slug: HashMap<&str, i64> =
            inserted.iter().map(|(id, s)| (s.as_str(), *id)).collect();
        ids.extend(slugs.iter().map(|s| by_slug.get(s).copied()));
    }
    Ok(ids)
}

/// Tables whose foreign keys and plain indexes are suspended while fixture
/// orders go in.
const ORDER_TABLES: &[&str] = &["orders", "order_items"];

/// Prepares `tables` for a bulk insert inside the load's transaction:
/// drops their foreign keys and their indexes that back no constraint, and
/// returns the statements that re-create them (indexes first), for
/// [`restore_after_bulk_load`].
///
/// Why: checked row by row, the foreign keys took about two thirds of the
/// time of inserting order items, and the indexes on random keys
/// (`order_items (product_id)`, `(producer_id, order_id)`, `orders
/// (user_id, id)`) most of the rest; added back afterwards, each foreign
/// key is checked in one pass and each index built from one sort. The
/// `large` orders load in about half the time. Primary keys and unique
/// constraints stay. Definitions are read from the catalog, so later
/// migrations are followed; a failed load rolls everything back.
///
/// Cost: until the load commits, `orders`, `order_items` and the tables
/// their keys reference (`users`, `products`) are locked `ACCESS
/// EXCLUSIVE`, so other sessions cannot even read them. Fine for the load
/// on a new database at start-up (the api reports ready only afterwards);
/// loading another seed into a database that serves traffic stalls
/// catalog, login and order requests for the length of the load.
async fn suspend_for_bulk_load(
    tx: &mut Transaction<'_, Postgres>,
    tables: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
         FROM pg_index i
         WHERE i.indrelid = ANY($1::text[]::regclass[])
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
         ORDER BY i.indrelid, i.indexrelid",
    )
    .bind(tables)
    .fetch_all(&mut **tx)
    .await?;
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
                format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
                       pg_get_constraintdef(oid))
         FROM pg_constraint
         WHERE contype = 'f' AND conrelid = ANY($1::text[]::regclass[])
         ORDER BY conrelid, conname",
    )
    .bind(tables)
    .fetch_all(&mut **tx)
    .await?;
    let mut restore = Vec::with_capacity(indexes.len() + keys.len());
    for (drop, create) in indexes.into_iter().chain(keys) {
        sqlx::query(&drop).execute(&mut **tx).await?;
        restore.push(create);
    }
    Ok(restore)
}

/// Re-creates (and so validates) what [`suspend_for_bulk_load`] dropped.
async fn restore_after_bulk_load(
    tx: &mut Transaction<'_, Postgres>,
    statements: &[String],
) -> Result<(), sqlx::Error> {
    // Index builds sort in memory up to this (the default is 64MB).
    sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
        .execute(&mut **tx)
        .await?;
    for create in statements {
        sqlx::query(create).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Database ids of a fixture's rows, in fixture order.
struct FixtureIds<'a> {
    producers: &'a [i64],
    consumers: &'a [i64],
    /// `None`: the product existed already and is not this load's.
    products: &'a [Option<i64>],
}

struct OrdersLoaded {
    orders: u64,
    items: u64,
}

/// Inserts the fixture's orders with their items, then takes the
/// quantities of the orders that are not cancelled off the products' stock.
/// Orders are generated batch by batch on a blocking thread, at most two
/// batches ahead of the inserts (never all in memory, and generating
/// overlaps with Postgres working). Ids come from `orders_id_seq`
/// in generation order, which is oldest first, so ids grow with
/// `created_at`; timestamps are `now()` (the transaction's start) minus the
/// generated ages. Lines on products this load did not insert are left out,
/// and an order left without lines is skipped.
async fn insert_orders(
    tx: &mut Transaction<'_, Postgres>,
    seed: u64,
    size: FixtureSize,
    fixture: &Arc<Fixture>,
    ids: &FixtureIds<'_>,
) -> Result<OrdersLoaded, sqlx::Error> {
    // One JSON shipping address per consumer, shared by their orders.
    let addresses: Vec<String> = fixture
        .consumers
        .iter()
        .zip(&fixture.addresses)
        .map(|(c, a)| {
            serde_json::json!({
                "name": c.name,
                "street": a.street,
                "city": a.city,
                "postcode": a.postcode,
                "country": a.country,
            })
            .to_string()
        })
        .collect();
    // Per product; at most its stock (the generator never oversells), so
    // an i32 like the stock.
    let mut sold = vec![0i32; fixture.products.len()];
    let mut loaded = OrdersLoaded {
        orders: 0,
        items: 0,
    };
    let (batches, mut generated) = tokio::sync::mpsc::channel::<Vec<OrderSeed>>(2);
    let source = Arc::clone(fixture);
    let generator = tokio::task::spawn_blocking(move || {
        let mut orders = gauntlet_fixtures::orders(seed, size, &source);
        loop {
            let batch: Vec<OrderSeed> = orders.by_ref().take(ORDER_BATCH).collect();
            // An error on the inserting side drops the receiver: stop.
            if batch.is_empty() || batches.blocking_send(batch).is_err() {
                return;
            }
        }
    });
    while let Some(batch) = generated.recv().await {
        let batch = OrderBatch::new(&batch, fixture, ids, &addresses, &mut sold);
        if batch.order_ids_needed == 0 {
            continue;
        }
        let mut order_ids: Vec<i64> =
            sqlx::query_scalar("SELECT nextval('orders_id_seq') FROM generate_series(1, $1)")
                .bind(batch.order_ids_needed as i64)
                .fetch_all(&mut **tx)
                .await?;
        order_ids.sort_unstable();
        let item_order_ids: Vec<i64> = batch.item_order.iter().map(|&k| order_ids[k]).collect();
        loaded.orders += sqlx::query(
            "INSERT INTO orders (id, user_id, stage, total_cents, shipping_method, payment_method,
                                 shipping_address, created_at, updated_at)
             SELECT i, u, s, t, sm, pm, a::jsonb,
                    now() - c * interval '1 second', now() - m * interval '1 second'
             FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[],
                         $6::text[], $7::text[], $8::int[], $9::int[])
                  AS x(i, u, s, t, sm, pm, a, c, m)",
        )
        .bind(&order_ids)
        .bind(&batch.user_ids)
        .bind(&batch.stages)
        .bind(&batch.totals)
        .bind(&batch.shipping)
        .bind(&batch.payment)
        .bind(&batch.addresses)
        .bind(&batch.placed_ago)
        .bind(&batch.updated_ago)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        loaded.items += sqlx::query(
            "INSERT INTO order_items (order_id, product_id, producer_id, product_name,
                                      unit_price_cents, quantity)
             SELECT o, p, pr, n, c, q
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[],
                         $6::int[]) AS x(o, p, pr, n, c, q)",
        )
        .bind(&item_order_ids)
        .bind(&batch.item_products)
        .bind(&batch.item_producers)
        .bind(&batch.item_names)
        .bind(&batch.item_prices)
        .bind(&batch.item_quantities)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    // The channel closed: the generator finished (or panicked, and then the
    // orders are incomplete).
    generator
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("generating fixture orders: {e}")))?;
    // The stock the orders took (what checkout would have decremented).
    // `CHECK (stock >= 0)` would fail the load if it were ever more.
    let taken: Vec<(i64, i32)> = sold
        .iter()
        .zip(ids.products)
        .filter_map(|(&q, id)| Some((id.as_ref().copied()?, q)))
        .filter(|&(_, q)| q > 0)
        .collect();
    for chunk in taken.chunks(INSERT_BATCH) {
        let (product_ids, quantities): (Vec<i64>, Vec<i32>) = chunk.iter().copied().unzip();
        sqlx::query(
            "UPDATE products p SET stock = p.stock - x.q
             FROM UNNEST($1::bigint[], $2::int[]) AS x(id, q) WHERE p.id = x.id",
        )
        .bind(product_ids)
        .bind(quantities)
        .execute(&mut **tx)
        .await?;
    }
    Ok(loaded)
}

/// One batch of orders as the column arrays of the two INSERTs. Orders
/// are numbered 0.. within the batch (`item_order` refers to them) until
/// their ids are known.
struct OrderBatch<'a> {
    order_ids_needed: usize,
    user_ids: Vec<i64>,
    stages: Vec<&'static str>,
    totals: Vec<i64>,
    shipping: Vec<&'static str>,
    payment: Vec<&'static str>,
    addresses: Vec<&'a str>,
    placed_ago: Vec<i32>,
    updated_ago: Vec<i32>,
    item_order: Vec<usize>,
    item_products: Vec<i64>,
    item_producers: Vec<i64>,
    item_names: Vec<&'a str>,
    item_prices: Vec<i64>,
    item_quantities: Vec<i32>,
}

impl<'a> OrderBatch<'a> {
    /// Adds the quantities of orders that are not cancelled to `sold`.
    fn new(
        orders: &[OrderSeed],
        fixture: &'a Fixture,
        ids: &FixtureIds<'_>,
        addresses: &'a [String],
        sold: &mut [i32],
    ) -> Self {
        let n = orders.len();
        let mut b = OrderBatch {
            order_ids_needed: 0,
            user_ids: Vec::with_capacity(n),
            stages: Vec::with_capacity(n),
            totals: Vec::with_capacity(n),
            shipping: Vec::with_capacity(n),
            payment: Vec::with_capacity(n),
            addresses: Vec::with_capacity(n),
            placed_ago: Vec::with_capacity(n),
            updated_ago: Vec::with_capacity(n),
            item_order: Vec::with_capacity(2 * n),
            item_products: Vec::with_capacity(2 * n),
            item_producers: Vec::with_capacity(2 * n),
            item_names: Vec::with_capacity(2 * n),
            item_prices: Vec::with_capacity(2 * n),
            item_quantities: Vec::with_capacity(2 * n),
        };
        for order in orders {
            let k = b.order_ids_needed;
            let mut total = 0;
            for item in &order.items {
                let Some(product_id) = ids.products[item.product_index] else {
                    continue;
                };
                let product = &fixture.products[item.product_index];
                total += product.price_cents * i64::from(item.quantity);
                if order.stage.holds_stock() {
                    sold[item.product_index] += item.quantity;
                }
                b.item_order.push(k);
                b.item_products.push(product_id);
                b.item_producers.push(ids.producers[product.producer_index]);
                b.item_names.push(&product.name);
                b.item_prices.push(product.price_cents);
                b.item_quantities.push(item.quantity);
            }
            if b.item_order.last() != Some(&k) {
                continue; // every product of the order belongs to another load
            }
            b.order_ids_needed += 1;
            b.user_ids.push(ids.consumers[order.consumer_index]);
            b.stages.push(order.stage.as_str());
            b.totals.push(total);
            b.shipping.push(order.shipping_method);
            b.payment.push(order.payment_method);
            b.addresses.push(&addresses[order.consumer_index]);
            // At most 180 days in seconds, well inside i32.
            b.placed_ago.push(order.placed_secs_ago as i32);
            b.updated_ago.push(order.updated_secs_ago as i32);
        }
        b
    }
}
