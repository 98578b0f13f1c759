//! The goose transactions, as plain async functions in goose's style
//! (`async fn checkout(user: &mut GooseUser) -> TransactionResult`).
//!
//! Each user has its own identity: [`setup_user`] (goose `on_start`)
//! registers a consumer account, logs in and fetches the public catalog
//! once; token, ids and the catalog view live in goose's session data
//! ([`UserState`]). Every request is timed by the transaction itself into
//! the run's HDR histograms: from the intended send time in open mode (see
//! [`crate::schedule`]), from the actual send time in closed mode, until the
//! answer's body has been read.
//!
//! Outcomes: 2xx is ok; `409 INV001` (stock ran out: fixtures have finite
//! stock, heavy load empties it) and `429` (rate limited) are business
//! refusals, counted apart and not as errors; anything else is an error,
//! named by status and error code (`"500 INTERNAL"`) or transport failure.
//!
//! Contention: [`hot_checkout`], [`checkout_replay`] and [`webhook_replay`]
//! each send a burst of [`BURST`] requests at once (one task each, on the
//! user's HTTP client; goose's own reports do not see them), sent by the
//! first [`CREW`] users only, [`LANES`] burst at a time in the whole run
//! (latency counted from the burst's actual send, in both modes), and
//! check a contract of the system on the answers together: the stock fell by at
//! least the orders placed, one key makes one order, one storefront id one
//! order. An answer that breaks it is an [`Outcome::Violation`] named by
//! the symptom (`"idempotency key replay created 8 orders"`): an error, and
//! any violation fails the run ([`crate::slo::evaluate`]). The first one of
//! each transaction is kept in full for `load.json`'s `error_examples`.
//!
//! A profile's own transactions (request templates, [`run_template`]) need
//! no account: their users only get a session with a [`Scope`] of their
//! own (seeded from the run's seed and the user's number). What the
//! template's `expect` accepts is ok, anything else an error (no
//! refusals); the error's name is the status and the expectation that
//! failed (`"200, expected status = 201"`), and the first full failure of
//! each transaction is kept as an example for `load.json`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gauntlet_harness::steps::{Expect, Observed, RequestTemplate, Scope};
use goose::goose::{goose_method_from_method, TransactionFunction};
use goose::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::report::{Outcome, Recorder};
use crate::schedule::OpenSchedule;

/// Everything the transactions of one attack share.
pub(crate) struct RunContext {
    pub recorder: Recorder,
    /// Open mode only.
    pub schedule: Option<OpenSchedule>,
    /// Open mode: time between the attack's start and the schedule's epoch
    /// (the user pool starts and registers meanwhile).
    pub lead: Duration,
    pub webhook_secret: Option<String>,
    /// Short id of the run, part of e-mails and webhook ids.
    pub run_id: String,
    pub seed: u64,
    /// Bench runs: the URL every user requests.
    pub bench_url: Option<String>,
    /// When the attack's first transaction (goose `test_start`) ran.
    pub started: Mutex<Option<Instant>>,
    /// The profile's own transactions, by their index in the scenario.
    pub templates: Vec<TemplateRun>,
    /// The endpoint of templates that name none.
    pub primary: String,
    /// The system's secrets, for `{{secret.NAME}}`.
    pub secrets: Vec<(String, String)>,
    /// Requests of template transactions so far: part of `{{unique}}`.
    pub sent: AtomicU64,
    /// The first failure of each template transaction, in full.
    pub examples: Mutex<BTreeMap<String, String>>,
    /// The contention bursts' lanes: at most [`LANES`] bursts in flight.
    pub lanes: Arc<tokio::sync::Semaphore>,
    /// Send through goose's `user.request` so goose's own per-request
    /// metrics and reports see every request (`--goose-reports`). Off by
    /// default: those metrics cost a copy of each request's details sent
    /// to goose's aggregator, and `load.json` has its own histograms.
    pub goose_metrics: bool,
    /// goose's host: the base URL the users' own connections go to.
    pub base_url: String,
    /// Each request's time limit on the users' own connections.
    pub request_timeout: Duration,
}

/// A profile's own transaction, ready to send.
pub(crate) struct TemplateRun {
    pub name: &'static str,
    pub request: RequestTemplate,
    pub expect: Expect,
    /// The base URL of its endpoint.
    pub base: String,
}

impl RunContext {
    pub fn new(recorder: Recorder, run_id: String, seed: u64) -> RunContext {
        RunContext {
            recorder,
            schedule: None,
            lead: Duration::ZERO,
            webhook_secret: None,
            run_id,
            seed,
            bench_url: None,
            started: Mutex::new(None),
            templates: Vec::new(),
            primary: String::new(),
            secrets: Vec::new(),
            sent: AtomicU64::new(0),
            examples: Mutex::new(BTreeMap::new()),
            lanes: Arc::new(tokio::sync::Semaphore::new(LANES)),
            goose_metrics: false,
            base_url: String::new(),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A name for the recorder, which keys its cells by `&'static str`: each
/// distinct name is leaked once per process.
pub(crate) fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    match names.get(name) {
        Some(n) => n,
        None => {
            let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
            names.insert(leaked);
            leaked
        }
    }
}

/// The context of the attack now running. Attacks run one at a time
/// (goose's kill switch is process-global), so one slot is enough.
static CURRENT: Mutex<Option<Arc<RunContext>>> = Mutex::new(None);

pub(crate) fn install(ctx: Arc<RunContext>) {
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(ctx);
}

pub(crate) fn uninstall() {
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

fn current() -> Result<Arc<RunContext>, Box<TransactionError>> {
    CURRENT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .ok_or_else(|| {
            Box::new(TransactionError::Custom(
                "no gauntlet load run is active".into(),
            ))
        })
}

/// A product as the user's catalog view knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRef {
    pub id: i64,
    /// Stock when fetched, lowered by this user's own orders and 409s.
    pub stock: i64,
}

/// Per-user state, kept in goose's session data.
#[derive(Clone)]
pub struct UserState {
    pub(crate) ctx: Arc<RunContext>,
    pub index: usize,
    pub email: String,
    pub password: String,
    pub user_id: Option<i64>,
    pub token: Option<String>,
    pub products: Vec<ProductRef>,
    /// Catalog pages of 15 (the API's default page size).
    pub catalog_pages: u64,
    /// Quantity per product in this user's cart, as far as it knows.
    pub cart: HashMap<i64, u32>,
    /// Open mode: this user's next slot in the schedule.
    pub next_slot: u64,
    pub orders_placed: u64,
    pub rng: StdRng,
    /// What this user's request templates render against (only when the
    /// mix has some): `{{index}}` is the user's number, `{{fake.*}}` draws
    /// from a generator seeded by the run's seed and the user's number.
    pub scope: Option<Arc<Mutex<Scope>>>,
    /// The user's own connection to the base URL ([`crate::http`]); none
    /// for HTTPS or when goose's metrics are kept (then goose's client).
    pub http: Option<crate::http::UserHttp>,
}

fn state(user: &mut GooseUser) -> Result<&mut UserState, Box<TransactionError>> {
    user.get_session_data_mut::<UserState>().ok_or_else(|| {
        Box::new(TransactionError::Custom(
            "user has no session (on_start did not run)".into(),
        ))
    })
}

/// Requests in one contention burst, all sent at once.
pub const BURST: usize = 8;

/// The users that send the contention bursts: users `0..CREW` (the others
/// skip those transactions), so a run has the same bursts whatever its
/// user count: one of each kind per crew member and round of the mix.
pub const CREW: usize = 5;

/// Bursts in flight at once, in the whole run: a crew member whose turn
/// comes waits for a free lane. A burst holds up to [`BURST`] of the
/// system's database connections while its requests queue on one another;
/// one lane keeps that from starving the rest of the mix.
pub const LANES: usize = 1;

/// How many products are "hot": [`hot_checkout`] bursts go to one of the
/// in-stock products with the least stock, so every burst buys the same
/// few, and they run out during the run.
pub const HOT_SET: usize = 3;

impl UserState {
    /// One of the [`HOT_SET`] in-stock products with the least stock, as
    /// this user knows them (the same few for every user: the catalog
    /// each fetched at the start, lowered by what it saw since).
    fn hot_product(&mut self) -> Option<i64> {
        let mut in_stock: Vec<&ProductRef> = self.products.iter().filter(|p| p.stock > 0).collect();
        in_stock.sort_by_key(|p| (p.stock, p.id));
        in_stock.truncate(HOT_SET);
        if in_stock.is_empty() {
            return None;
        }
        let pick = self.rng.random_range(0..in_stock.len());
        Some(in_stock[pick].id)
    }

    /// One of the five products with the most stock, as this user knows
    /// them: a burst of identical checkouts must not find it sold out.
    fn plentiful_product(&mut self) -> Option<i64> {
        let mut by_stock: Vec<&ProductRef> = self.products.iter().filter(|p| p.stock > 0).collect();
        by_stock.sort_by_key(|p| (std::cmp::Reverse(p.stock), p.id));
        by_stock.truncate(5);
        if by_stock.is_empty() {
            return self.product(false);
        }
        let pick = self.rng.random_range(0..by_stock.len());
        Some(by_stock[pick].id)
    }

    fn product(&mut self, in_stock: bool) -> Option<i64> {
        if self.products.is_empty() {
            return None;
        }
        if in_stock {
            let n = self.products.iter().filter(|p| p.stock > 0).count();
            if n > 0 {
                let pick = self.rng.random_range(0..n);
                return self
                    .products
                    .iter()
                    .filter(|p| p.stock > 0)
                    .nth(pick)
                    .map(|p| p.id);
            }
        }
        let i = self.rng.random_range(0..self.products.len());
        Some(self.products[i].id)
    }

    fn set_stock(&mut self, id: i64, f: impl Fn(i64) -> i64) {
        if let Some(p) = self.products.iter_mut().find(|p| p.id == id) {
            p.stock = f(p.stock);
        }
    }
}

/// One HTTP exchange of a transaction.
struct Req<'a> {
    txn: &'static str,
    method: GooseMethod,
    path: String,
    /// Request name in goose's metrics (path template).
    name: &'a str,
    body: Option<Vec<u8>>,
    headers: Vec<(&'static str, String)>,
}

impl<'a> Req<'a> {
    fn new(txn: &'static str, method: GooseMethod, path: impl Into<String>, name: &'a str) -> Self {
        Req {
            txn,
            method,
            path: path.into(),
            name,
            body: None,
            headers: Vec::new(),
        }
    }

    fn json(mut self, v: &Value) -> Self {
        self.body = Some(serde_json::to_vec(v).expect("JSON value"));
        self
    }

    fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }

    fn bearer(self, token: Option<&str>) -> Self {
        match token {
            Some(t) => self.header("authorization", format!("Bearer {t}")),
            None => self,
        }
    }
}

struct Answer {
    status: Option<u16>,
    json: Option<Value>,
    outcome: Outcome,
}

/// The outcome of an answer: 2xx ok; 409 INV001 and 429 refusals; other
/// statuses errors named `"STATUS CODE"`.
pub fn classify(status: u16, body: &[u8]) -> Outcome {
    if (200..300).contains(&status) {
        return Outcome::Ok;
    }
    let code = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/code")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let reason = match &code {
        Some(c) => format!("{status} {c}"),
        None => status.to_string(),
    };
    match (status, code.as_deref()) {
        (409, Some("INV001")) | (429, _) => Outcome::Refused(reason),
        _ => Outcome::Error(reason),
    }
}

/// The class of a failure without an HTTP answer, as `load.json` names it
/// (`"transport: connect refused"`): from the operating system's error
/// when one is in the chain, so a full accept queue (refused), a server
/// that drops connections (reset), the generator's own descriptor limit
/// (too many open files) and a slow server (timeout) tell apart.
pub(crate) fn transport_reason(e: &(dyn std::error::Error + 'static)) -> String {
    use crate::http::HttpError;
    let kind = io_error_kind(e).unwrap_or_else(|| {
        if let Some(e) = e.downcast_ref::<reqwest::Error>() {
            if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else if e.is_body() || e.is_decode() {
                "body"
            } else {
                "other"
            }
        } else {
            match e.downcast_ref::<HttpError>() {
                Some(HttpError::Timeout(_)) => "timeout",
                Some(HttpError::Connect { .. }) => "connect",
                Some(HttpError::Closed) => "closed early",
                _ => "other",
            }
        }
    });
    format!("transport: {kind}")
}

fn io_error_kind(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            // EMFILE / ENFILE: the generator ran out of file descriptors.
            if matches!(io.raw_os_error(), Some(24) | Some(23)) {
                return Some("too many open files");
            }
            // EADDRNOTAVAIL: no ephemeral port left for a new connection.
            if io.raw_os_error() == Some(99) {
                return Some("no local port");
            }
            return match io.kind() {
                K::ConnectionRefused => Some("connect refused"),
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Some("reset"),
                K::TimedOut => Some("timeout"),
                K::UnexpectedEof => Some("closed early"),
                _ => None,
            };
        }
        cause = c.source();
    }
    // hyper's own errors carry no io::Error; their text is stable.
    let chain = gauntlet_harness::target::error_chain(e);
    if chain.contains("connection closed before message completed") {
        Some("closed early")
    } else if chain.contains("timed out") {
        Some("timeout")
    } else {
        None
    }
}
/// Sends one request: straight on the user's HTTP client, or through
/// goose's `user.request` (then with goose's metric of it, for the caller
/// to adjust) when the run keeps goose's own reports.
async fn send(
    user: &mut GooseUser,
    ctx: &RunContext,
    method: GooseMethod,
    name: &str,
    rb: reqwest::RequestBuilder,
) -> Result<
    (
        Result<reqwest::Response, reqwest::Error>,
        Option<goose::metrics::GooseRequestMetric>,
    ),
    Box<TransactionError>,
> {
    if !ctx.goose_metrics {
        return Ok((rb.send().await, None));
    }
    let goose_req = GooseRequest::builder()
        .method(method)
        .name(name)
        .set_request_builder(rb)
        .build();
    let goose = user.request(goose_req).await?;
    Ok((goose.response, Some(goose.request)))
}

/// The origin-form path of `path` for the users' own connections to
/// `base`: a path as it is, or an absolute URL on the same origin (bench
/// URLs are absolute); none for another origin.
fn lean_path<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    if path.starts_with('/') {
        return Some(path);
    }
    let rest = path.strip_prefix(base.trim_end_matches('/'))?;
    match rest {
        "" => Some("/"),
        r if r.starts_with('/') => Some(r),
        _ => None,
    }
}

fn http_method(m: &GooseMethod) -> http::Method {
    match m {
        GooseMethod::Delete => http::Method::DELETE,
        GooseMethod::Get => http::Method::GET,
        GooseMethod::Head => http::Method::HEAD,
        GooseMethod::Patch => http::Method::PATCH,
        GooseMethod::Post => http::Method::POST,
        GooseMethod::Put => http::Method::PUT,
        GooseMethod::Custom => http::Method::GET,
    }
}

/// Sends `req`, reads the answer, records it. `intended`: open mode's
/// intended send time, from which latency is counted.
async fn exchange(
    user: &mut GooseUser,
    ctx: &RunContext,
    mut req: Req<'_>,
    intended: Option<Instant>,
) -> Result<Answer, Box<TransactionError>> {
    let lean_path = lean_path(&req.path, &ctx.base_url);
    let sent = Instant::now();
    let mut metric = None;
    let (status, body, transport) = match (state(user)?.http.as_mut(), lean_path) {
        // The user's own connection (see crate::http).
        (Some(http), Some(path)) => {
            let mut headers = req.headers.clone();
            if req.body.is_some() {
                headers.push(("content-type", "application/json".to_string()));
            }
            match http
                .send(http_method(&req.method), path, &headers, req.body.take())
                .await
            {
                Ok(answer) => (Some(answer.status), answer.body, None),
                Err(e) => (None, bytes::Bytes::new(), Some(transport_reason(&e))),
            }
        }
        _ => {
            let mut rb = user.get_request_builder(&req.method, &req.path)?;
            for (k, v) in &req.headers {
                rb = rb.header(*k, v);
            }
            if let Some(body) = req.body.clone() {
                rb = rb.header("content-type", "application/json").body(body);
            }
            let (response, goose_metric) = send(user, ctx, req.method, req.name, rb).await?;
            metric = goose_metric;
            match response {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match resp.bytes().await {
                        Ok(b) => (Some(status), b, None),
                        Err(e) => (
                            Some(status),
                            bytes::Bytes::new(),
                            Some(transport_reason(&e)),
                        ),
                    }
                }
                Err(e) => (None, bytes::Bytes::new(), Some(transport_reason(&e))),
            }
        }
    };
    let done = Instant::now();
    let from = intended.unwrap_or(sent);
    let outcome = match (status, transport) {
        (_, Some(reason)) => Outcome::Error(reason),
        (Some(s), None) => classify(s, &body),
        (None, None) => Outcome::Error("transport: other".into()),
    };
    ctx.recorder.record(
        user.weighted_users_index,
        req.txn,
        from,
        done.saturating_duration_since(from),
        outcome.clone(),
    );
    if let (Outcome::Refused(_), Some(metric)) = (&outcome, metric.as_mut()) {
        // Goose counts every non-2xx as a failure; a refusal is an expected
        // business answer, so its reports agree with load.json.
        user.set_success(metric)?;
    }
    let json = serde_json::from_slice(&body).ok();
    Ok(Answer {
        status,
        json,
        outcome,
    })
}

enum Slot {
    /// Closed mode: send now.
    Now,
    /// Open mode: the intended send time (already waited for).
    At(Instant),
    /// Open mode: this user's schedule is over.
    Over,
}

/// Open mode: waits for this user's next slot of the schedule.
async fn next_slot(user: &mut GooseUser) -> Result<Slot, Box<TransactionError>> {
    let index = user.weighted_users_index;
    let st = state(user)?;
    let ctx = st.ctx.clone();
    let Some(schedule) = &ctx.schedule else {
        return Ok(Slot::Now);
    };
    let epoch = ctx.recorder.epoch().unwrap_or_else(Instant::now);
    let k = st.next_slot;
    st.next_slot += 1;
    match schedule.user_slot(index as u32, k) {
        None => {
            // Goose stops the users at the end of the plan; idle until then.
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok(Slot::Over)
        }
        Some(offset) => {
            let at = epoch + offset;
            if at > Instant::now() {
                tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
            }
            ctx.recorder
                .record_send(index, Instant::now().saturating_duration_since(at));
            Ok(Slot::At(at))
        }
    }
}

/// `Some(intended send time or None)` to go on, `None` when the schedule is over.
async fn begin(user: &mut GooseUser) -> Result<Option<Option<Instant>>, Box<TransactionError>> {
    Ok(match next_slot(user).await? {
        Slot::Now => Some(None),
        Slot::At(at) => Some(Some(at)),
        Slot::Over => None,
    })
}

/// goose `test_start`: marks the start of the attack and the epoch of the
/// phases.
pub async fn mark_start(_user: &mut GooseUser) -> TransactionResult {
    let ctx = current()?;
    let now = Instant::now();
    *ctx.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(now);
    ctx.recorder.set_epoch(now + ctx.lead);
    Ok(())
}

/// goose `on_start`: a new consumer account (register, then log in), and
/// the public catalog once.
pub async fn setup_user(user: &mut GooseUser) -> TransactionResult {
    let ctx = current()?;
    init_session(user, &ctx);
    let account = ensure_account(user, &ctx).await;
    let catalog = load_catalog(user, &ctx).await;
    join_schedule(user, &ctx)?;
    account?;
    catalog
}

/// The user's session: identity, rng, empty catalog view.
fn init_session(user: &mut GooseUser, ctx: &Arc<RunContext>) {
    let index = user.weighted_users_index;
    let mut rng =
        StdRng::seed_from_u64(ctx.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let tag: u32 = rng.random();
    let email = format!("load-{}-{index}-{tag:08x}@load.example", ctx.run_id);
    let scope = (!ctx.templates.is_empty()).then(|| {
        let mut scope = Scope::new(
            &ctx.run_id,
            ctx.seed,
            &format!("load-user-{index}"),
            String::new(),
        )
        .with_secrets(ctx.secrets.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        scope.index = index as u32;
        Arc::new(Mutex::new(scope))
    });
    let password = format!("load-pass-{:016x}", rng.random::<u64>());
    user.set_session_data(UserState {
        ctx: ctx.clone(),
        index,
        email,
        password,
        user_id: None,
        token: None,
        products: Vec::new(),
        catalog_pages: 1,
        cart: HashMap::new(),
        next_slot: 0,
        orders_placed: 0,
        rng,
        scope,
        http: if ctx.goose_metrics {
            None
        } else {
            crate::http::UserHttp::for_base(&ctx.base_url, ctx.request_timeout)
        },
    });
}

/// Open mode: the user's first slot is the first one at or after now
/// (earlier ones are counted as skipped).
fn join_schedule(user: &mut GooseUser, ctx: &RunContext) -> TransactionResult {
    if let Some(schedule) = &ctx.schedule {
        let index = user.weighted_users_index;
        let epoch = ctx.recorder.epoch().unwrap_or_else(Instant::now);
        let since = Instant::now().saturating_duration_since(epoch);
        let k = schedule.first_slot_at_or_after(index as u32, since);
        ctx.recorder.record_skipped(index, k);
        state(user)?.next_slot = k;
    }
    Ok(())
}

/// Registers and logs in unless the user already has a token.
async fn ensure_account(user: &mut GooseUser, ctx: &RunContext) -> TransactionResult {
    let (email, password, has_token) = {
        let st = state(user)?;
        (st.email.clone(), st.password.clone(), st.token.is_some())
    };
    if has_token {
        return Ok(());
    }
    let body = json!({
        "name": format!("Load user {}", user.weighted_users_index),
        "email": email, "password": password, "password_confirmation": password,
        "role": "consumer",
    });
    let a = exchange(
        user,
        ctx,
        Req::new(
            "register",
            GooseMethod::Post,
            "/api/v1/auth/register",
            "register",
        )
        .json(&body),
        None,
    )
    .await?;
    let registered = a.outcome == Outcome::Ok
        || (a.status == Some(422)
            && a.json
                .as_ref()
                .and_then(|j| j.pointer("/error/details/email"))
                .is_some());
    if !registered {
        return Err(Box::new(TransactionError::Custom(format!(
            "register failed: {:?}",
            a.outcome
        ))));
    }
    if let Some(id) = a
        .json
        .as_ref()
        .and_then(|j| j.pointer("/user/id"))
        .and_then(Value::as_i64)
    {
        state(user)?.user_id = Some(id);
    }
    let body = json!({"email": email, "password": password});
    let a = exchange(
        user,
        ctx,
        Req::new("login", GooseMethod::Post, "/api/v1/auth/login", "login").json(&body),
        None,
    )
    .await?;
    let token = a
        .json
        .as_ref()
        .and_then(|j| j.pointer("/token"))
        .and_then(Value::as_str)
        .map(str::to_string);
    match token {
        Some(t) if a.outcome == Outcome::Ok => {
            let st = state(user)?;
            st.token = Some(t);
            if st.user_id.is_none() {
                st.user_id = a
                    .json
                    .as_ref()
                    .and_then(|j| j.pointer("/user/id"))
                    .and_then(Value::as_i64);
            }
            Ok(())
        }
        _ => Err(Box::new(TransactionError::Custom(format!(
            "login failed: {:?}",
            a.outcome
        )))),
    }
}

/// `GET /api/v1/public/products?per_page=100`: the products this user will
/// browse and buy, with their stock.
async fn load_catalog(user: &mut GooseUser, ctx: &RunContext) -> TransactionResult {
    let a = exchange(
        user,
        ctx,
        Req::new(
            "catalog",
            GooseMethod::Get,
            "/api/v1/public/products?per_page=100",
            "/api/v1/public/products?per_page=100",
        ),
        None,
    )
    .await?;
    let Some(j) = a.json.filter(|_| a.outcome == Outcome::Ok) else {
        return Err(Box::new(TransactionError::Custom(format!(
            "catalog failed: {:?}",
            a.outcome
        ))));
    };
    let products: Vec<ProductRef> = j
        .get("data")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|p| {
                    Some(ProductRef {
                        id: p.get("id")?.as_i64()?,
                        stock: p.get("stock").and_then(Value::as_i64).unwrap_or(0),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let total = j
        .get("total")
        .and_then(Value::as_u64)
        .unwrap_or(products.len() as u64);
    let st = state(user)?;
    st.products = products;
    st.catalog_pages = total.div_ceil(15).max(1);
    Ok(())
}

/// Authenticated transactions first make sure the user has an account (a
/// failed `on_start` is retried here).
async fn token_of(
    user: &mut GooseUser,
    ctx: &RunContext,
) -> Result<Option<String>, Box<TransactionError>> {
    if state(user)?.token.is_none() {
        let _ = ensure_account(user, ctx).await;
    }
    Ok(state(user)?.token.clone())
}

/// `GET /api/v1/public/products?page=N`: a random catalog page.
pub async fn browse_list(user: &mut GooseUser) -> TransactionResult {
    let Some(intended) = begin(user).await? else {
        return Ok(());
    };
    let (ctx, page, token) = {
        let st = state(user)?;
        let page = st.rng.random_range(1..=st.catalog_pages);
        (st.ctx.clone(), page, st.token.clone())
    };
    exchange(
        user,
        &ctx,
        Req::new(
            "browse_list",
            GooseMethod::Get,
            format!("/api/v1/public/products?page={page}"),
            "/api/v1/public/products?page={n}",
        )
        .bearer(token.as_deref()),
        intended,
    )
    .await?;
    Ok(())
}

/// `GET /api/v1/public/products/{id}`: one product of the catalog view.
pub async fn browse_detail(user: &mut GooseUser) -> TransactionResult {
    let Some(intended) = begin(user).await? else {
        return Ok(());
    };
    let (ctx, id, token) = {
        let st = state(user)?;
        (
            st.ctx.clone(),
            st.product(false).unwrap_or(1),
            st.token.clone(),
        )
    };
    exchange(
        user,
        &ctx,
        Req::new(
            "browse_detail",
            GooseMethod::Get,
            format!("/api/v1/public/products/{id}"),
            "/api/v1/public/products/{id}",
        )
        .bearer(token.as_deref()),
        intended,
    )
    .await?;
    Ok(())
}

/// `POST /api/v1/cart/items {product_id, quantity: 1}`. A cart line holds
/// at most 100; a line that is full is emptied first (`DELETE
/// /api/v1/cart/items`, recorded as `cart_clear`).
pub async fn cart_add(user: &mut GooseUser) -> TransactionResult {
    let Some(intended) = begin(user).await? else {
        return Ok(());
    };
    let ctx = state(user)?.ctx.clone();
    let token = token_of(user, &ctx).await?;
    let (id, full) = {
        let st = state(user)?;
        let id = st.product(true).unwrap_or(1);
        (id, st.cart.get(&id).copied().unwrap_or(0) >= 100)
    };
    if full {
        exchange(
            user,
            &ctx,
            Req::new(
                "cart_clear",
                GooseMethod::Delete,
                "/api/v1/cart/items",
                "/api/v1/cart/items (clear)",
            )
            .bearer(token.as_deref()),
            intended,
        )
        .await?;
        state(user)?.cart.clear();
        return Ok(());
    }
    let a = exchange(
        user,
        &ctx,
        Req::new(
            "cart_add",
            GooseMethod::Post,
            "/api/v1/cart/items",
            "/api/v1/cart/items",
        )
        .bearer(token.as_deref())
        .json(&json!({"product_id": id, "quantity": 1})),
        intended,
    )
    .await?;
    if a.outcome == Outcome::Ok {
        *state(user)?.cart.entry(id).or_default() += 1;
    }
    Ok(())
}

/// The checkout body of one product, as the journeys send it.
pub fn order_body(product_id: i64, quantity: i64) -> Value {
    json!({
        "items": [{"product_id": product_id, "quantity": quantity}],
        "shipping_method": "courier",
        "payment_method": "card",
        "shipping_address": "12 Orchard Lane, Springfield",
    })
}

/// `POST /api/v1/public/orders` with a new `Idempotency-Key` per request.
/// Out of stock (409 INV001) is an expected business answer.
pub async fn checkout(user: &mut GooseUser) -> TransactionResult {
    let Some(intended) = begin(user).await? else {
        return Ok(());
    };
    let ctx = state(user)?.ctx.clone();
    let token = token_of(user, &ctx).await?;
    let id = state(user)?.product(true).unwrap_or(1);
    let key = uuid::Uuid::new_v4().to_string();
    let a = exchange(
        user,
        &ctx,
        Req::new(
            "checkout",
            GooseMethod::Post,
            "/api/v1/public/orders",
            "/api/v1/public/orders",
        )
        .bearer(token.as_deref())
        .header("idempotency-key", key)
        .json(&order_body(id, 1)),
        intended,
    )
    .await?;
    let st = state(user)?;
    match &a.outcome {
        Outcome::Ok => {
            st.orders_placed += 1;
            st.set_stock(id, |s| s - 1);
        }
        Outcome::Refused(r) if r.starts_with("409") => st.set_stock(id, |_| 0),
        _ => {}
    }
    Ok(())
}

pub use gauntlet_harness::wire::shopify_signature;

/// The storefront order of a webhook: a new external id, one to three of
/// the seeded SKUs (`SKU-0001` ... `SKU-0050`).
pub fn webhook_body(external_id: &str, rng: &mut impl Rng) -> Value {
    let lines: Vec<Value> = (0..rng.random_range(1..=3))
        .map(|_| {
            json!({
                "sku": format!("SKU-{:04}", rng.random_range(1..=50)),
                "quantity": rng.random_range(1..=3),
            })
        })
        .collect();
    json!({"id": external_id, "line_items": lines, "source_name": "web"})
}

/// `POST /api/v1/webhooks/shopify`: a signed storefront order (new id each
/// time, so each is created: 201).
pub async fn webhook(user: &mut GooseUser) -> TransactionResult {
    let Some(intended) = begin(user).await? else {
        return Ok(());
    };
    let (ctx, body) = {
        let st = state(user)?;
        let id = format!("load-{}-{}", st.ctx.run_id, uuid::Uuid::new_v4().simple());
        let body = webhook_body(&id, &mut st.rng);
        (st.ctx.clone(), serde_json::to_vec(&body).expect("JSON"))
    };
    let secret = ctx.webhook_secret.clone().unwrap_or_default();
    let signature = shopify_signature(&secret, &body);
    let mut req = Req::new(
        "webhook",
        GooseMethod::Post,
        "/api/v1/webhooks/shopify",
        "/api/v1/webhooks/shopify",
    )
    .header("x-shopify-hmac-sha256", signature)
    .header("x-shopify-topic", "orders/create");
    req.body = Some(body);
    exchange(user, &ctx, req, intended).await?;
    Ok(())
}

/// One answer of a burst, not recorded yet: its transaction judges the
/// burst's contract first.
struct BurstAnswer {
    status: Option<u16>,
    json: Option<Value>,
    outcome: Outcome,
    /// When it was sent (after its lane: in open mode too, the wait for
    /// a lane is the generator's, not the system's).
    from: Instant,
    latency: Duration,
}

impl BurstAnswer {
    /// A 2xx whose body was read (an answer cut short is an error, not a
    /// contract's business).
    fn is_2xx(&self) -> bool {
        self.outcome == Outcome::Ok
    }
}

/// One request of a burst: its headers and its body.
type BurstRequest = (Vec<(&'static str, String)>, Vec<u8>);

/// Sends `requests` (to `method` `path`, each with its headers and body)
/// all at once, one task each on the user's HTTP client, and waits for
/// every answer (in the order of `requests`). Goose's own metrics do not
/// see them.
async fn burst(
    user: &GooseUser,
    method: GooseMethod,
    path: &str,
    requests: Vec<BurstRequest>,
) -> Result<Vec<BurstAnswer>, Box<TransactionError>> {
    let mut builders = Vec::with_capacity(requests.len());
    for (headers, body) in requests {
        let mut rb = user.get_request_builder(&method, path)?;
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        builders.push(rb.header("content-type", "application/json").body(body));
    }
    let n = builders.len();
    // Every task waits at the barrier, so the requests leave together.
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, rb) in builders.into_iter().enumerate() {
        let start = start.clone();
        tasks.spawn(async move {
            start.wait().await;
            let sent = Instant::now();
            let (status, body, transport) = match rb.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match resp.bytes().await {
                        Ok(b) => (Some(status), b.to_vec(), None),
                        Err(e) => (Some(status), Vec::new(), Some(transport_reason(&e))),
                    }
                }
                Err(e) => (None, Vec::new(), Some(transport_reason(&e))),
            };
            (i, sent, Instant::now(), status, body, transport)
        });
    }
    let mut answers: Vec<Option<BurstAnswer>> = (0..n).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let Ok((i, sent, done, status, body, transport)) = joined else {
            continue;
        };
        let outcome = match (status, transport) {
            (_, Some(reason)) => Outcome::Error(reason),
            (Some(s), None) => classify(s, &body),
            (None, None) => Outcome::Error("transport: other".into()),
        };
        answers[i] = Some(BurstAnswer {
            status,
            json: serde_json::from_slice(&body).ok(),
            outcome,
            from: sent,
            latency: done.saturating_duration_since(sent),
        });
    }
    let now = Instant::now();
    Ok(answers
        .into_iter()
        .map(|a| {
            // A task that panicked: no answer.
            a.unwrap_or_else(|| BurstAnswer {
                status: None,
                json: None,
                outcome: Outcome::Error("transport: other".into()),
                from: now,
                latency: Duration::ZERO,
            })
        })
        .collect())
}

/// A crew member's turn at a burst: its open-mode slot, then a free lane
/// (held until the permit drops). `None`: not one of the [`CREW`], or its
/// schedule is over.
async fn burst_turn(
    user: &mut GooseUser,
) -> Result<Option<(Arc<RunContext>, tokio::sync::OwnedSemaphorePermit)>, Box<TransactionError>> {
    if user.weighted_users_index >= CREW || begin(user).await?.is_none() {
        return Ok(None);
    }
    let ctx = state(user)?.ctx.clone();
    let lane = ctx.lanes.clone().acquire_owned().await.map_err(|_| {
        Box::new(TransactionError::Custom(
            "the burst lanes are closed".into(),
        ))
    })?;
    Ok(Some((ctx, lane)))
}

/// Records a burst's answers under `txn`; with a `violation` (its symptom,
/// and the whole story for `error_examples`), the answers `broke` picks
/// are recorded as [`Outcome::Violation`].
fn record_burst(
    user: &GooseUser,
    ctx: &RunContext,
    txn: &'static str,
    answers: Vec<BurstAnswer>,
    violation: Option<(String, String)>,
    broke: impl Fn(&BurstAnswer) -> bool,
) {
    if let Some((_, story)) = &violation {
        let mut examples = ctx.examples.lock().unwrap_or_else(|p| p.into_inner());
        examples
            .entry(txn.to_string())
            .or_insert_with(|| story.clone());
    }
    for a in answers {
        let outcome = match &violation {
            Some((symptom, _)) if broke(&a) => Outcome::Violation(symptom.clone()),
            _ => a.outcome.clone(),
        };
        ctx.recorder
            .record(user.weighted_users_index, txn, a.from, a.latency, outcome);
    }
}

/// `GET /api/v1/public/products/{id}` (recorded as `stock_read`): the
/// product's stock now, `None` when it could not be read.
async fn read_stock(
    user: &mut GooseUser,
    ctx: &RunContext,
    id: i64,
    token: Option<&str>,
) -> Result<Option<i64>, Box<TransactionError>> {
    let a = exchange(
        user,
        ctx,
        Req::new(
            "stock_read",
            GooseMethod::Get,
            format!("/api/v1/public/products/{id}"),
            "/api/v1/public/products/{id} (stock)",
        )
        .bearer(token),
        None,
    )
    .await?;
    Ok(a.json
        .filter(|_| a.outcome == Outcome::Ok)
        .and_then(|j| j.pointer("/data/stock").and_then(Value::as_i64)))
}

/// Contention on the last units: [`BURST`] checkouts at once, each with its
/// own `Idempotency-Key`, of one hot product (one of the [`HOT_SET`]
/// in-stock products with the least stock: every burst buys the same few,
/// and they run out), with the product's stock read just before and just
/// after. `409 INV001` once it is sold out is a business answer.
///
/// Contract: nothing but orders takes stock during a load run, so the
/// stock fell by at least the burst's own 201s (other users' orders only
/// make it fall more). Less is a lost update, stock read and written back
/// without a lock (`stock_check_without_lock`): the burst's 201s are
/// violations `"lost update: N checkouts succeeded but the stock fell by D"`.
pub async fn hot_checkout(user: &mut GooseUser) -> TransactionResult {
    const TXN: &str = "hot_checkout";
    let Some((ctx, _lane)) = burst_turn(user).await? else {
        return Ok(());
    };
    let token = token_of(user, &ctx).await?;
    // A hot product that is still in stock. What this user knows can be
    // stale (other users' bursts empty the hot products one after another):
    // at the first sold-out one, the whole catalog is fetched again.
    let mut picked = None;
    let mut refreshed = false;
    for _ in 0..HOT_SET {
        let Some(id) = state(user)?.hot_product() else {
            break;
        };
        match read_stock(user, &ctx, id, token.as_deref()).await? {
            Some(before) if before > 0 => {
                picked = Some((id, before));
                break;
            }
            Some(none_left) => {
                state(user)?.set_stock(id, |_| none_left);
                if !refreshed {
                    refreshed = true;
                    load_catalog(user, &ctx).await?;
                }
            }
            None => break,
        }
    }
    let Some((id, before)) = picked else {
        return Ok(());
    };
    let body = serde_json::to_vec(&order_body(id, 1)).expect("JSON");
    let requests = (0..BURST)
        .map(|_| {
            let mut headers = vec![("idempotency-key", uuid::Uuid::new_v4().to_string())];
            if let Some(t) = &token {
                headers.push(("authorization", format!("Bearer {t}")));
            }
            (headers, body.clone())
        })
        .collect();
    let answers = burst(user, GooseMethod::Post, "/api/v1/public/orders", requests).await?;
    let created = answers.iter().filter(|a| a.status == Some(201)).count() as i64;
    let after = read_stock(user, &ctx, id, token.as_deref()).await?;
    let violation = after.filter(|a| before - a < created).map(|after| {
        let fell = before - after;
        (
            format!("lost update: {created} checkouts succeeded but the stock fell by {fell}"),
            format!(
                "product {id}: stock {before}, then {BURST} concurrent checkouts of 1 \
                 (each its own Idempotency-Key) answered 201 {created} times, then stock \
                 {after}: {} units sold that the stock never lost",
                created - fell
            ),
        )
    });
    record_burst(user, &ctx, TXN, answers, violation, |a| {
        a.status == Some(201)
    });
    let st = state(user)?;
    st.orders_placed += created as u64;
    match after {
        Some(after) => st.set_stock(id, |_| after),
        None => st.set_stock(id, |s| s - created),
    }
    Ok(())
}

/// The order ids of a burst's 2xx answers to checkouts (`/data/id`), in
/// order of first appearance; `None` for a 2xx without one.
fn order_ids(answers: &[BurstAnswer], pointer: &str) -> Vec<Option<i64>> {
    let mut ids: Vec<Option<i64>> = Vec::new();
    for a in answers.iter().filter(|a| a.is_2xx()) {
        let id = a
            .json
            .as_ref()
            .and_then(|j| j.pointer(pointer))
            .and_then(Value::as_i64);
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// What broke the contract of a burst of identical checkouts (one
/// `Idempotency-Key`, one body), if anything: every 2xx names the same
/// order, exactly one is 201 when all are 2xx, at most one otherwise.
fn checkout_replay_symptom(answers: &[BurstAnswer]) -> Option<String> {
    let ids = order_ids(answers, "/data/id");
    let orders = ids.iter().flatten().count();
    let created = answers.iter().filter(|a| a.status == Some(201)).count();
    let all_2xx = answers.iter().all(BurstAnswer::is_2xx);
    if orders > 1 {
        Some(format!("idempotency key replay created {orders} orders"))
    } else if ids.contains(&None) {
        Some("idempotency key replay answered 2xx without an order id".to_string())
    } else if created > 1 {
        Some(format!(
            "idempotency key replay answered 201 Created {created} times"
        ))
    } else if all_2xx && created == 0 {
        Some("idempotency key replay: no answer was 201 Created".to_string())
    } else {
        None
    }
}

/// What broke the contract of a burst of identical signed webhooks (one
/// external order id), if anything: every 2xx names the same `order_id`,
/// 201 says `created` and 200 `skipped`, exactly one 201 when all are 2xx,
/// at most one otherwise.
fn webhook_replay_symptom(answers: &[BurstAnswer]) -> Option<String> {
    let ids = order_ids(answers, "/order_id");
    let orders = ids.iter().flatten().count();
    let created = answers.iter().filter(|a| a.status == Some(201)).count();
    let all_2xx = answers.iter().all(BurstAnswer::is_2xx);
    let mislabelled = answers.iter().filter(|a| a.is_2xx()).find_map(|a| {
        let said = a
            .json
            .as_ref()
            .and_then(|j| j.pointer("/status"))
            .and_then(Value::as_str);
        match (a.status, said) {
            (Some(201), Some("created")) | (Some(200), Some("skipped")) => None,
            (s, said) => Some(format!(
                "{} with status {}",
                s.unwrap_or(0),
                said.unwrap_or("(none)")
            )),
        }
    });
    if orders > 1 {
        Some(format!("webhook replay created {orders} orders"))
    } else if ids.contains(&None) {
        Some("webhook replay answered 2xx without an order_id".to_string())
    } else if created > 1 {
        Some(format!(
            "webhook replay answered 201 created {created} times"
        ))
    } else if all_2xx && created == 0 {
        Some("webhook replay: no answer was 201 created".to_string())
    } else {
        mislabelled.map(|m| format!("webhook replay answered {m}"))
    }
}

/// A retried checkout arriving [`BURST`] times at once: the same
/// `Idempotency-Key` and the same body (one unit of a product with plenty
/// of stock), all sent together.
///
/// Contract (SYSTEM-SPEC 4): every 2xx names the same order, the first 201
/// and the rest 200 (replays), so the key makes one order and one stock
/// decrement. Otherwise the burst's 2xx answers are violations named by
/// the symptom: `"idempotency key replay created N orders"`
/// (`checkout_ignores_idempotency_key`), `"... answered 201 N times"`, or
/// none of them 201 although all were 2xx.
pub async fn checkout_replay(user: &mut GooseUser) -> TransactionResult {
    const TXN: &str = "checkout_replay";
    let Some((ctx, _lane)) = burst_turn(user).await? else {
        return Ok(());
    };
    let token = token_of(user, &ctx).await?;
    let id = state(user)?.plentiful_product().unwrap_or(1);
    let key = uuid::Uuid::new_v4().to_string();
    let body = serde_json::to_vec(&order_body(id, 1)).expect("JSON");
    let mut headers = vec![("idempotency-key", key.clone())];
    if let Some(t) = &token {
        headers.push(("authorization", format!("Bearer {t}")));
    }
    let requests = (0..BURST)
        .map(|_| (headers.clone(), body.clone()))
        .collect();
    let answers = burst(user, GooseMethod::Post, "/api/v1/public/orders", requests).await?;
    let ids = order_ids(&answers, "/data/id");
    let symptom = checkout_replay_symptom(&answers);
    let violation = symptom.map(|symptom| {
        let seen: Vec<String> = answers
            .iter()
            .map(|a| {
                let id = a.json.as_ref().and_then(|j| j.pointer("/data/id"));
                match (a.status, id) {
                    (Some(s), Some(id)) => format!("{s} order {id}"),
                    (Some(s), None) => s.to_string(),
                    (None, _) => "no answer".to_string(),
                }
            })
            .collect();
        let story = format!(
            "{BURST} concurrent POST /api/v1/public/orders with Idempotency-Key {key} and \
             the same body (product {id}, quantity 1) answered: {}",
            seen.join(", ")
        );
        (symptom, story)
    });
    record_burst(user, &ctx, TXN, answers, violation, BurstAnswer::is_2xx);
    let made = ids.iter().flatten().count() as i64;
    let st = state(user)?;
    st.orders_placed += made as u64;
    st.set_stock(id, |s| s - made);
    Ok(())
}

/// A storefront retrying one order webhook [`BURST`] times at once: the
/// same signed body (a new external order id per burst), all sent
/// together.
///
/// Contract (SYSTEM-SPEC 5): exactly one 201 `created`, the rest 200
/// `skipped`, all with the same `order_id`. Otherwise the burst's 2xx
/// answers are violations named by the symptom (`"webhook replay created
/// N orders"`, `"... answered 201 created N times"`, ...).
pub async fn webhook_replay(user: &mut GooseUser) -> TransactionResult {
    const TXN: &str = "webhook_replay";
    let Some((ctx, _lane)) = burst_turn(user).await? else {
        return Ok(());
    };
    let (external_id, body) = {
        let st = state(user)?;
        let id = format!("load-{}-r{}", st.ctx.run_id, uuid::Uuid::new_v4().simple());
        let body = webhook_body(&id, &mut st.rng);
        (id, serde_json::to_vec(&body).expect("JSON"))
    };
    let secret = ctx.webhook_secret.clone().unwrap_or_default();
    let headers = vec![
        ("x-shopify-hmac-sha256", shopify_signature(&secret, &body)),
        ("x-shopify-topic", "orders/create".to_string()),
    ];
    let requests = (0..BURST)
        .map(|_| (headers.clone(), body.clone()))
        .collect();
    let answers = burst(
        user,
        GooseMethod::Post,
        "/api/v1/webhooks/shopify",
        requests,
    )
    .await?;
    let symptom = webhook_replay_symptom(&answers);
    let violation = symptom.map(|symptom| {
        let seen: Vec<String> = answers
            .iter()
            .map(|a| {
                let j = a.json.as_ref();
                let id = j.and_then(|j| j.pointer("/order_id"));
                let said = j.and_then(|j| j.pointer("/status")).and_then(Value::as_str);
                match (a.status, id, said) {
                    (Some(s), Some(id), Some(said)) => format!("{s} {said} order {id}"),
                    (Some(s), _, _) => s.to_string(),
                    (None, _, _) => "no answer".to_string(),
                }
            })
            .collect();
        let story = format!(
            "{BURST} concurrent signed POST /api/v1/webhooks/shopify of storefront order \
             {external_id} answered: {}",
            seen.join(", ")
        );
        (symptom, story)
    });
    record_burst(user, &ctx, TXN, answers, violation, BurstAnswer::is_2xx);
    Ok(())
}

/// `GET /api/v1/orders`: the user's own orders.
pub async fn orders_list(user: &mut GooseUser) -> TransactionResult {
    let Some(intended) = begin(user).await? else {
        return Ok(());
    };
    let ctx = state(user)?.ctx.clone();
    let token = token_of(user, &ctx).await?;
    exchange(
        user,
        &ctx,
        Req::new(
            "orders_list",
            GooseMethod::Get,
            "/api/v1/orders?per_page=15",
            "/api/v1/orders",
        )
        .bearer(token.as_deref()),
        intended,
    )
    .await?;
    Ok(())
}

/// Bench `on_start`: a session without an account, joined to the schedule
/// in open mode.
pub async fn bench_setup(user: &mut GooseUser) -> TransactionResult {
    let ctx = current()?;
    init_session(user, &ctx);
    join_schedule(user, &ctx)
}

/// goose `on_start` of a mix of only the profile's own transactions: a
/// session (the user's template scope), joined to the schedule in open
/// mode. No account and no catalog: a foreign system has neither.
pub async fn session_setup(user: &mut GooseUser) -> TransactionResult {
    bench_setup(user).await
}

/// The goose transaction of the profile's own transaction `index` of
/// [`RunContext::templates`].
pub(crate) fn template_transaction(index: usize, name: &str) -> Transaction {
    let f: TransactionFunction = Arc::new(move |user| Box::pin(run_template(user, index)));
    Transaction::new(f).set_name(name)
}

/// Renders one request template against the user's scope (`{{unique}}`:
/// run id, user, and the run's count of template requests, so no two
/// requests of a run share it), sends it to its endpoint, records its
/// latency under the transaction's name and judges the answer with its
/// `expect`.
pub async fn run_template(user: &mut GooseUser, index: usize) -> TransactionResult {
    let Some(intended) = begin(user).await? else {
        return Ok(());
    };
    let (ctx, scope) = {
        let st = state(user)?;
        (st.ctx.clone(), st.scope.clone())
    };
    let scope = scope.ok_or_else(|| {
        Box::new(TransactionError::Custom(
            "user has no template scope".into(),
        ))
    })?;
    let t = ctx.templates.get(index).ok_or_else(|| {
        Box::new(TransactionError::Custom(format!(
            "no template transaction {index}"
        )))
    })?;
    let n = ctx.sent.fetch_add(1, Ordering::Relaxed);
    let rendered = {
        let mut s = scope.lock().unwrap_or_else(|p| p.into_inner());
        s.unique = format!("{}-{}-{n}", ctx.run_id, user.weighted_users_index);
        t.request.render(&mut s, &ctx.primary)
    }
    .map_err(|e| Box::new(TransactionError::Custom(format!("{}: {e}", t.name))))?;
    let rb = rendered.builder(&user.client, &t.base);
    let method = goose_method_from_method(rendered.method.clone()).unwrap_or(GooseMethod::Get);
    let sent = Instant::now();
    let (response, mut metric) = send(user, &ctx, method, t.name, rb).await?;
    let no_answer = |e: &reqwest::Error| {
        (
            transport_reason(e),
            format!("no answer: {}", gauntlet_harness::target::error_chain(e)),
        )
    };
    let answer = match response {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            match resp.text().await {
                Ok(text) => Ok((status, headers, text)),
                Err(e) => Err(no_answer(&e)),
            }
        }
        Err(e) => Err(no_answer(&e)),
    };
    let done = Instant::now();
    let from = intended.unwrap_or(sent);
    let latency = done.saturating_duration_since(from);
    let failure = {
        let mut s = scope.lock().unwrap_or_else(|p| p.into_inner());
        let failure = match answer {
            Err((reason, message)) => Some((reason, message)),
            Ok((status, headers, text)) => {
                // `max_duration` judges the latency recorded below.
                let seen = Observed::answer(status, headers, text, latency);
                t.expect
                    .check(&seen, &mut s)
                    .err()
                    .map(|message| (expect_reason(&t.expect, status, &message), message))
            }
        };
        failure.map(|(reason, message)| {
            let mut examples = ctx.examples.lock().unwrap_or_else(|p| p.into_inner());
            examples
                .entry(t.name.to_string())
                .or_insert_with(|| s.scrub(&format!("{}: {message}", rendered.describe())));
            reason
        })
    };
    let outcome = match failure {
        None => Outcome::Ok,
        Some(reason) => Outcome::Error(reason),
    };
    ctx.recorder.record(
        user.weighted_users_index,
        t.name,
        from,
        latency,
        outcome.clone(),
    );
    // Goose judges by status alone; its reports follow `expect`.
    if let Some(metric) = metric.as_mut() {
        match &outcome {
            Outcome::Ok if !metric.success => {
                user.set_success(metric)?;
            }
            Outcome::Error(reason) if metric.success => {
                // Returns the failure as an error for the caller to pass on;
                // the transaction itself went as planned.
                let _ = user.set_failure(reason, metric, None, None);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The name of a failed expectation in `load.json`'s errors: the status and
/// what was expected, without the answer's body (so a few names count
/// many requests): `"500"` (no `expect`, a 5xx), `"200, expected status =
/// 201"`, `"200, expected json /id"`, `"200, over max_duration"`.
pub(crate) fn expect_reason(expect: &Expect, status: u16, message: &str) -> String {
    if message.starts_with("status:") {
        let wanted = expect
            .status
            .as_ref()
            .map(|m| m.describe())
            .unwrap_or_default();
        format!("{status}, expected status {wanted}")
    } else if message.starts_with("answered ") {
        status.to_string()
    } else if message.starts_with("took ") {
        format!("{status}, over max_duration")
    } else {
        let what = message.split(':').next().unwrap_or("expect");
        format!("{status}, expected {what}")
    }
}

/// Bench: `GET` the run's bench URL, as fast as the user can (closed) or
/// on the schedule (open).
pub async fn bench_get(user: &mut GooseUser) -> TransactionResult {
    let Some(intended) = begin(user).await? else {
        return Ok(());
    };
    let ctx = state(user)?.ctx.clone();
    let url = ctx.bench_url.clone().unwrap_or_default();
    exchange(
        user,
        &ctx,
        Req::new("bench", GooseMethod::Get, url, "bench"),
        intended,
    )
    .await?;
    Ok(())
}

/// The goose transaction of a mix entry.
pub(crate) fn transaction_for(kind: crate::profile::TransactionKind) -> Transaction {
    use crate::profile::TransactionKind as K;
    let t = match kind {
        K::BrowseList => transaction!(browse_list),
        K::BrowseDetail => transaction!(browse_detail),
        K::CartAdd => transaction!(cart_add),
        K::Checkout => transaction!(checkout),
        K::Webhook => transaction!(webhook),
        K::OrdersList => transaction!(orders_list),
        K::HotCheckout => transaction!(hot_checkout),
        K::CheckoutReplay => transaction!(checkout_replay),
        K::WebhookReplay => transaction!(webhook_replay),
    };
    t.set_name(kind.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        assert_eq!(classify(201, b"{}"), Outcome::Ok);
        assert_eq!(
            classify(409, br#"{"error":{"code":"INV001","message":"x"}}"#),
            Outcome::Refused("409 INV001".into())
        );
        assert_eq!(
            classify(429, br#"{"error":{"code":"RATE001","message":"x"}}"#),
            Outcome::Refused("429 RATE001".into())
        );
        assert_eq!(
            classify(409, br#"{"error":{"code":"ORD002","message":"x"}}"#),
            Outcome::Error("409 ORD002".into())
        );
        assert_eq!(classify(502, b"<html>"), Outcome::Error("502".into()));
    }

    #[test]
    fn failed_expectations_are_named_without_the_body() {
        let expect = Expect {
            status: Some(gauntlet_harness::steps::Matcher::equals(Value::from(201))),
            ..Expect::default()
        };
        let cases = [
            (
                "status: expected 201, got 200: {\"id\":1}",
                "200, expected status = 201",
            ),
            ("answered 503: upstream down", "503"),
            (
                "json /data/id: expected a value, got nothing (absent)",
                "200, expected json /data/id",
            ),
            (
                "header location: expected text matching /x/, got \"y\"",
                "200, expected header location",
            ),
            (
                "body: expected something containing \"ok\", got \"no\"",
                "200, expected body",
            ),
            (
                "took 900 ms, more than max_duration 500 ms",
                "200, over max_duration",
            ),
        ];
        for (message, reason) in cases {
            let status = if message.starts_with("answered") {
                503
            } else {
                200
            };
            assert_eq!(expect_reason(&expect, status, message), reason);
        }
    }

    fn answer(status: Option<u16>, body: Value) -> BurstAnswer {
        let bytes = serde_json::to_vec(&body).unwrap();
        BurstAnswer {
            status,
            json: Some(body),
            outcome: match status {
                Some(s) => classify(s, &bytes),
                None => Outcome::Error("transport: timeout".into()),
            },
            from: Instant::now(),
            latency: Duration::from_millis(5),
        }
    }

    #[test]
    fn checkout_replay_contract() {
        let order = |status, id: i64| answer(Some(status), json!({"data": {"id": id}}));
        let out_of_stock = || {
            answer(
                Some(409),
                json!({"error": {"code": "INV001", "message": "insufficient stock"}}),
            )
        };
        let good: Vec<BurstAnswer> = std::iter::once(order(201, 7))
            .chain((1..BURST).map(|_| order(200, 7)))
            .collect();
        assert_eq!(checkout_replay_symptom(&good), None);
        let sold_out: Vec<BurstAnswer> = (0..BURST).map(|_| out_of_stock()).collect();
        assert_eq!(checkout_replay_symptom(&sold_out), None);
        // An answer lost in transport: the rest may all be replays.
        let mut lost: Vec<BurstAnswer> = (1..BURST).map(|_| order(200, 7)).collect();
        lost.push(answer(None, Value::Null));
        assert_eq!(checkout_replay_symptom(&lost), None);
        // checkout_ignores_idempotency_key: every request an order.
        let ignored: Vec<BurstAnswer> = (0..BURST).map(|i| order(201, 10 + i as i64)).collect();
        assert_eq!(
            checkout_replay_symptom(&ignored).as_deref(),
            Some("idempotency key replay created 8 orders")
        );
        let twice = vec![order(201, 7), order(201, 7), order(200, 7)];
        assert_eq!(
            checkout_replay_symptom(&twice).as_deref(),
            Some("idempotency key replay answered 201 Created 2 times")
        );
        let no_201: Vec<BurstAnswer> = (0..BURST).map(|_| order(200, 7)).collect();
        assert_eq!(
            checkout_replay_symptom(&no_201).as_deref(),
            Some("idempotency key replay: no answer was 201 Created")
        );
        let no_id = vec![order(201, 7), answer(Some(200), json!({"data": {}}))];
        assert!(checkout_replay_symptom(&no_id)
            .unwrap()
            .contains("without an order id"));
    }

    #[test]
    fn webhook_replay_contract() {
        let said = |status, what: &str, id: i64| {
            answer(Some(status), json!({"order_id": id, "status": what}))
        };
        let good: Vec<BurstAnswer> = std::iter::once(said(201, "created", 3))
            .chain((1..BURST).map(|_| said(200, "skipped", 3)))
            .collect();
        assert_eq!(webhook_replay_symptom(&good), None);
        let twice: Vec<BurstAnswer> = (0..BURST)
            .map(|i| said(201, "created", 3 + (i % 2) as i64))
            .collect();
        assert_eq!(
            webhook_replay_symptom(&twice).as_deref(),
            Some("webhook replay created 2 orders")
        );
        let created_twice = vec![said(201, "created", 3), said(201, "created", 3)];
        assert_eq!(
            webhook_replay_symptom(&created_twice).as_deref(),
            Some("webhook replay answered 201 created 2 times")
        );
        let none_created = vec![said(200, "skipped", 3), said(200, "skipped", 3)];
        assert_eq!(
            webhook_replay_symptom(&none_created).as_deref(),
            Some("webhook replay: no answer was 201 created")
        );
        let mislabelled = vec![said(201, "created", 3), said(200, "created", 3)];
        assert_eq!(
            webhook_replay_symptom(&mislabelled).as_deref(),
            Some("webhook replay answered 200 with status created")
        );
        // A 5xx is an error of its own, not a broken contract.
        let failed = vec![
            said(201, "created", 3),
            answer(
                Some(503),
                json!({"error": {"code": "UNAVAILABLE", "message": "x"}}),
            ),
        ];
        assert_eq!(webhook_replay_symptom(&failed), None);
    }

    #[test]
    fn hot_products_are_the_least_stocked_in_stock_ones() {
        let ctx = Arc::new(RunContext::new(
            Recorder::new(crate::report::PhaseClock::new(&[], false)),
            "t".into(),
            1,
        ));
        let stocks = [(1, 0), (2, 50), (3, 4), (4, 9), (5, 2), (6, 300), (7, 120)];
        let mut st = UserState {
            ctx,
            index: 0,
            email: String::new(),
            password: String::new(),
            user_id: None,
            token: None,
            products: stocks
                .iter()
                .map(|&(id, stock)| ProductRef { id, stock })
                .collect(),
            catalog_pages: 1,
            cart: HashMap::new(),
            next_slot: 0,
            orders_placed: 0,
            rng: StdRng::seed_from_u64(3),
            scope: None,
            http: None,
        };
        let hot: BTreeSet<i64> = (0..200).filter_map(|_| st.hot_product()).collect();
        assert_eq!(
            hot,
            BTreeSet::from([3, 4, 5]),
            "sold-out product 1 is not hot"
        );
        let plenty: BTreeSet<i64> = (0..200).filter_map(|_| st.plentiful_product()).collect();
        assert_eq!(plenty, BTreeSet::from([2, 4, 6, 7, 3]));
        for p in st.products.iter_mut() {
            p.stock = 0;
        }
        assert_eq!(st.hot_product(), None);
    }

    #[test]
    fn webhook_bodies_are_valid_orders() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..50 {
            let b = webhook_body("load-x-1", &mut rng);
            let lines = b["line_items"].as_array().unwrap();
            assert!((1..=3).contains(&lines.len()));
            for l in lines {
                let sku = l["sku"].as_str().unwrap();
                let n: u32 = sku.strip_prefix("SKU-").unwrap().parse().unwrap();
                assert!((1..=50).contains(&n));
                assert!((1..=3).contains(&l["quantity"].as_i64().unwrap()));
            }
        }
    }
}
