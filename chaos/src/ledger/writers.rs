//! Open-loop background writers: one task per kind issues a write every
//! `1 / rate` seconds whether or not earlier ones were answered (a slow or
//! dead system does not slow the client down, as real clients do not wait
//! for each other), each write in a task of its own. Every write gets a
//! fresh key and is recorded in the [`WriteLedger`] with the outcome the
//! client saw. A write whose outcome is unknown is retried with the same
//! key and the same bytes, at most [`MAX_ATTEMPTS`] times in all, which is
//! what makes idempotency matter: a timed-out write that did commit must not
//! be made twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use gauntlet_harness::sut::Sut;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::MissedTickBehavior;

use super::classify::{classify_error, classify_response};
use super::record::{WriteKind, WriteLedger, WriteOutcome};
use super::setup::{self, WriterSetup};
use super::LedgerError;
use crate::names::{ADMIN_TOKEN, API, WEBHOOK_SECRET};

/// Attempts per write: the first and up to two retries of an unknown outcome.
pub const MAX_ATTEMPTS: u32 = 3;
/// Pause before retry n: n × this.
const RETRY_BACKOFF: Duration = Duration::from_millis(250);
/// Webhook orders take one of the SKUs migration 0003 seeds.
const SKUS: u32 = 50;

/// Rates in writes per second (0 disables a writer), the seed of the
/// bodies (quantities, SKUs), and the bound of one attempt.
#[derive(Debug, Clone, Serialize)]
pub struct WriterConfig {
    pub checkouts_per_sec: f64,
    pub webhooks_per_sec: f64,
    pub credits_per_sec: f64,
    pub seed: u64,
    pub request_timeout: Duration,
}

impl Default for WriterConfig {
    /// Two writes per second of each kind, seed 0, 2 s per attempt.
    fn default() -> Self {
        WriterConfig {
            checkouts_per_sec: 2.0,
            webhooks_per_sec: 2.0,
            credits_per_sec: 2.0,
            seed: 0,
            request_timeout: Duration::from_secs(2),
        }
    }
}

impl WriterConfig {
    fn rate(&self, kind: WriteKind) -> f64 {
        match kind {
            WriteKind::Checkout => self.checkouts_per_sec,
            WriteKind::Webhook => self.webhooks_per_sec,
            WriteKind::CreditReserve => self.credits_per_sec,
        }
    }
}

/// Everything a write task needs.
struct Ctx {
    http: reqwest::Client,
    /// Where the secrets come from.
    sut: Sut,
    setup: WriterSetup,
    ledger: WriteLedger,
    paused: AtomicBool,
    /// The api's base URL now (see [`Writers::set_api`]).
    api: RwLock<String>,
}

impl Ctx {
    fn api(&self) -> String {
        self.api
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .trim_end_matches('/')
            .to_string()
    }
}

/// One write, ready to send (again): the same bytes on every attempt.
struct Prepared {
    /// Path on the api; the base URL is read at each attempt.
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

/// The running writers. Dropping them without [`Writers::stop`] stops
/// issuing too, but then nobody waits for the writes in flight.
pub struct Writers {
    ctx: Arc<Ctx>,
    stop: watch::Sender<bool>,
    loops: Vec<JoinHandle<()>>,
    request_timeout: Duration,
}

impl Writers {
    /// Sets up (producer, product, buyer, billing account: whatever the
    /// enabled writers need; any failure is an error and nothing runs),
    /// then starts one open-loop writer per kind with a rate above 0. The
    /// writers send to the `api` endpoint of `sut`, with its secrets
    /// `admin_token` and `webhook_secret`.
    pub async fn start(
        sut: &Sut,
        cfg: WriterConfig,
        ledger: WriteLedger,
    ) -> Result<Writers, LedgerError> {
        for kind in WriteKind::ALL {
            let rate = cfg.rate(kind);
            if !rate.is_finite() || rate < 0.0 {
                return Err(LedgerError::Config(format!(
                    "the {kind} rate must be a number ≥ 0 (0 disables the writer), not {rate}"
                )));
            }
        }
        if cfg.request_timeout.is_zero() {
            return Err(LedgerError::Config(
                "request_timeout must be above 0".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| LedgerError::Config(format!("HTTP client: {e}")))?;
        let api = sut
            .endpoint(API)
            .map_err(|_| LedgerError::MissingSetting {
                what: "the `api` endpoint",
                writer: "all writers",
            })?
            .to_string();
        let setup = setup::prepare(&http, sut, &api, &cfg, &ledger).await?;
        let ctx = Arc::new(Ctx {
            http,
            api: RwLock::new(api),
            sut: sut.clone(),
            setup,
            ledger,
            paused: AtomicBool::new(false),
        });
        let (stop, stopped) = watch::channel(false);
        let loops = WriteKind::ALL
            .into_iter()
            .filter(|k| cfg.rate(*k) > 0.0)
            .map(|kind| {
                let rng = StdRng::seed_from_u64(
                    cfg.seed ^ (kind as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                tokio::spawn(writer_loop(
                    kind,
                    cfg.rate(kind),
                    rng,
                    ctx.clone(),
                    stopped.clone(),
                    cfg.request_timeout,
                ))
            })
            .collect();
        Ok(Writers {
            ctx,
            stop,
            loops,
            request_timeout: cfg.request_timeout,
        })
    }

    /// What the set-up made (product, buyer, billing account ids).
    pub fn setup(&self) -> &WriterSetup {
        &self.ctx.setup
    }

    pub fn ledger(&self) -> &WriteLedger {
        &self.ctx.ledger
    }

    /// Points later attempts at another api base URL. A restarted container
    /// gets new host ports; an experiment that restarts the api's should
    /// call this with `sut.endpoint_now("api")` once it is back.
    pub fn set_api(&self, api: impl Into<String>) {
        *self.ctx.api.write().unwrap_or_else(|e| e.into_inner()) = api.into();
    }

    /// No new writes until [`Writers::resume`]; writes in flight (and their
    /// retries) go on. See [`Writers::drain`] to wait for them.
    pub fn pause(&self) {
        self.ctx.paused.store(true, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.ctx.paused.store(false, Ordering::SeqCst);
    }

    pub fn is_paused(&self) -> bool {
        self.ctx.paused.load(Ordering::SeqCst)
    }

    /// Waits until no write is in flight, at most `timeout`; true if none is.
    /// After [`Writers::pause`], this is the moment from which nothing more
    /// is written (issue 8's "writes paused" mode: `rpo_writes == 0`).
    pub async fn drain(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.ctx.ledger.in_flight() == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops issuing, waits for the writes in flight (each attempt is bounded
    /// by the request timeout; no retry starts after the stop) and returns
    /// the ledger. A write still unanswered after that is recorded unknown.
    pub async fn stop(self) -> WriteLedger {
        let _ = self.stop.send(true);
        let bound = self.request_timeout + Duration::from_secs(2);
        for handle in self.loops {
            // Each loop waits for its own writes within the bound.
            let _ = tokio::time::timeout(bound + Duration::from_secs(1), handle).await;
        }
        self.ctx
            .ledger
            .abandon_pending("still unanswered when the writers stopped");
        self.ctx.ledger.clone()
    }
}

async fn writer_loop(
    kind: WriteKind,
    rate: f64,
    mut rng: StdRng,
    ctx: Arc<Ctx>,
    mut stopped: watch::Receiver<bool>,
    request_timeout: Duration,
) {
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut ticks = tokio::time::interval(period);
    // A loop delayed by a busy machine issues late, not in a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut writes = JoinSet::new();
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.wait_for(|s| *s) => break,
        }
        while writes.try_join_next().is_some() {}
        if ctx.paused.load(Ordering::SeqCst) {
            continue;
        }
        let key = ctx.ledger.next_key(kind);
        let Some(prepared) = prepare(&ctx, kind, &key, &mut rng) else {
            break;
        };
        // In flight before the pause is looked at again: a drain that saw
        // nothing in flight (after pausing) can never miss this write.
        let (ticket, _) = ctx.ledger.begin(kind, &key);
        if ctx.paused.load(Ordering::SeqCst) {
            ctx.ledger.cancel(ticket);
            continue;
        }
        writes.spawn(one_write(
            ctx.clone(),
            kind,
            ticket,
            prepared,
            stopped.clone(),
        ));
    }
    let bound = request_timeout + Duration::from_secs(2);
    let _ =
        tokio::time::timeout(bound, async { while writes.join_next().await.is_some() {} }).await;
    writes.abort_all();
}

/// The request of one write. `None` if the set-up lacks what it needs
/// (cannot happen after a successful [`setup::prepare`]).
fn prepare(ctx: &Ctx, kind: WriteKind, key: &str, rng: &mut StdRng) -> Option<Prepared> {
    Some(match kind {
        WriteKind::Checkout => {
            let body = json!({
                "items": [{"product_id": ctx.setup.product_id?, "quantity": rng.random_range(1..=3)}],
                "shipping_method": "courier",
                "payment_method": "card",
                // The key travels in the stored address too: it finds every
                // order made for a key even if the server ignored the
                // Idempotency-Key header (see reconcile).
                "shipping_address": {"line1": "1 Ledger Street", "city": "Chaosville", "ledger_key": key},
            });
            Prepared {
                path: "/api/v1/public/orders".into(),
                headers: vec![
                    (
                        "authorization",
                        format!("Bearer {}", ctx.setup.buyer_token.as_deref()?),
                    ),
                    ("idempotency-key", key.to_string()),
                ],
                body: body.to_string().into_bytes(),
            }
        }
        WriteKind::Webhook => {
            let sku = format!("SKU-{:04}", rng.random_range(1..=SKUS));
            let body = json!({"id": key, "line_items": [{"sku": sku, "quantity": rng.random_range(1..=3)}]})
                .to_string();
            let secret = ctx.sut.secret(WEBHOOK_SECRET)?;
            Prepared {
                path: "/api/v1/webhooks/shopify".into(),
                headers: vec![(
                    "x-shopify-hmac-sha256",
                    gauntlet_harness::wire::shopify_signature(secret, body.as_bytes()),
                )],
                body: body.into_bytes(),
            }
        }
        WriteKind::CreditReserve => {
            let body =
                json!({"amount": 1, "idempotency_key": key, "ref_type": "ledger", "ref_id": key});
            Prepared {
                path: format!("/v1/billing/accounts/{}/reserve", ctx.setup.account_id?),
                headers: vec![("x-admin-token", ctx.sut.secret(ADMIN_TOKEN)?.to_string())],
                body: body.to_string().into_bytes(),
            }
        }
    })
}

async fn attempt(ctx: &Ctx, kind: WriteKind, p: &Prepared) -> WriteOutcome {
    let mut req = ctx
        .http
        .post(format!("{}{}", ctx.api(), p.path))
        .header("content-type", "application/json")
        .body(p.body.clone());
    for (name, value) in &p.headers {
        req = req.header(*name, value);
    }
    match req.send().await {
        Err(e) => classify_error(&e),
        Ok(resp) => {
            let status = resp.status().as_u16();
            // The status decides; an unreadable body leaves only the id unknown.
            let body = resp.bytes().await.unwrap_or_default();
            classify_response(kind, status, &body)
        }
    }
}

async fn one_write(
    ctx: Arc<Ctx>,
    kind: WriteKind,
    ticket: u64,
    prepared: Prepared,
    mut stopped: watch::Receiver<bool>,
) {
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        let outcome = attempt(&ctx, kind, &prepared).await;
        let unknown = matches!(outcome, WriteOutcome::Unknown { .. });
        if !unknown || attempts >= MAX_ATTEMPTS || *stopped.borrow() {
            break outcome;
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_BACKOFF * attempts) => {}
            _ = stopped.wait_for(|s| *s) => break outcome,
        }
    };
    ctx.ledger.finish(ticket, attempts, outcome);
}

#[cfg(test)]
mod tests;
