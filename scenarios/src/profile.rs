//! Load profiles: one TOML file per profile (`scenarios/profiles/*.toml`).
//!
//! A profile names the load model (`mode = "closed"`: a number of users
//! looping with think time; `mode = "open"`: a fixed arrival rate), its
//! phases, the transaction mix and the compose variables the stack needs
//! to take the load (`[system]`). Parsing is strict: unknown keys, zero or
//! negative users, unknown transactions, zero durations and bad modes are
//! errors that name `FILE:LINE:COL`.
//!
//! The mix names built-in transactions ([`TransactionKind`], written for
//! gauntlet's reference system) or the profile's own
//! `[transactions.NAME]`: each one request template in the step format of
//! `docs/steps.md` ([`TemplateTransaction`]), so a profile can load any
//! HTTP API. Those are checked against the project's configuration
//! (endpoints, secrets): [`Profile::load_with_config`].

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_harness::config::Config;
use gauntlet_harness::steps::{Context, Expect, RawStep, RequestTemplate};
use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

/// Longest run a profile may ask for (every attack is bounded in time).
pub const MAX_TOTAL_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Default per-request timeout when a profile does not set `request_timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A profile or SLO file that could not be used, with the place in the file.
/// Displays as `FILE:LINE:COL: message` (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ProfileError {}

/// The transactions a mix can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// `GET /api/v1/public/products?page=&per_page=`
    BrowseList,
    /// `GET /api/v1/public/products/{id}`
    BrowseDetail,
    /// `POST /api/v1/cart/items`
    CartAdd,
    /// `POST /api/v1/public/orders` with a unique `Idempotency-Key`
    Checkout,
    /// `POST /api/v1/webhooks/shopify`, signed storefront order
    Webhook,
    /// `GET /api/v1/orders`
    OrdersList,
    /// Contention: a burst of [`crate::transactions::BURST`] concurrent
    /// checkouts (each its own `Idempotency-Key`) of one of the few "hot"
    /// products every burst buys (the in-stock ones with the least stock),
    /// between two reads of its stock. Contract: the stock fell by at least
    /// the number of 201s (else a lost update).
    HotCheckout,
    /// Contention: [`crate::transactions::BURST`] concurrent identical
    /// checkouts (same `Idempotency-Key`, same body). Contract: every 2xx
    /// names the same order, one 201 and the rest 200.
    CheckoutReplay,
    /// Contention: [`crate::transactions::BURST`] concurrent identical
    /// signed webhooks (same external order id). Contract: exactly one 201
    /// `created`, the rest 200 `skipped`, all with the same `order_id`.
    WebhookReplay,
}

impl TransactionKind {
    pub const ALL: [TransactionKind; 9] = [
        TransactionKind::BrowseList,
        TransactionKind::BrowseDetail,
        TransactionKind::CartAdd,
        TransactionKind::Checkout,
        TransactionKind::Webhook,
        TransactionKind::OrdersList,
        TransactionKind::HotCheckout,
        TransactionKind::CheckoutReplay,
        TransactionKind::WebhookReplay,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TransactionKind::BrowseList => "browse_list",
            TransactionKind::BrowseDetail => "browse_detail",
            TransactionKind::CartAdd => "cart_add",
            TransactionKind::Checkout => "checkout",
            TransactionKind::Webhook => "webhook",
            TransactionKind::OrdersList => "orders_list",
            TransactionKind::HotCheckout => "hot_checkout",
            TransactionKind::CheckoutReplay => "checkout_replay",
            TransactionKind::WebhookReplay => "webhook_replay",
        }
    }

    /// Whether the transaction checks a contract of the system on its
    /// answers (the contention bursts): each broken one is a violation,
    /// and any violation fails the run (see [`crate::slo::evaluate`]).
    pub fn has_contract(self) -> bool {
        matches!(
            self,
            TransactionKind::HotCheckout
                | TransactionKind::CheckoutReplay
                | TransactionKind::WebhookReplay
        )
    }

    /// Whether the transaction sends signed storefront webhooks (it needs
    /// the system's webhook secret).
    pub fn needs_webhook_secret(self) -> bool {
        matches!(
            self,
            TransactionKind::Webhook | TransactionKind::WebhookReplay
        )
    }

    pub fn from_name(name: &str) -> Option<TransactionKind> {
        TransactionKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The message for a transaction name that is neither built in nor
    /// one of `declared` (a profile's `[transactions.NAME]`).
    pub(crate) fn unknown_message(name: &str, declared: &[&str]) -> String {
        let known: Vec<&str> = TransactionKind::ALL.iter().map(|k| k.name()).collect();
        let own = if declared.is_empty() {
            format!(
                " (built in); or declare [transactions.{name}] in the profile (a request template)"
            )
        } else {
            format!(" (built in); this profile's own: {}", declared.join(", "))
        };
        if name == "feed_read" {
            format!(
                "transaction `feed_read` is not available yet: it arrives with the feed \
                 endpoint (GET /api/v1/feed); known: {}{own}",
                known.join(", ")
            )
        } else {
            format!(
                "unknown transaction `{name}`; known: {}{own}",
                known.join(", ")
            )
        }
    }
}

/// One entry of a profile's mix: a built-in transaction or one of the
/// profile's `[transactions.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MixEntry {
    Builtin(TransactionKind),
    /// The name of a [`TemplateTransaction`] of the profile.
    Template(String),
}

impl MixEntry {
    /// The transaction's name (in `load.json`, SLOs and goose's reports).
    pub fn name(&self) -> &str {
        match self {
            MixEntry::Builtin(k) => k.name(),
            MixEntry::Template(n) => n,
        }
    }
}

impl fmt::Display for MixEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for MixEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl From<TransactionKind> for MixEntry {
    fn from(k: TransactionKind) -> MixEntry {
        MixEntry::Builtin(k)
    }
}

/// A profile's own transaction (`[transactions.NAME]`): one request
/// template in the step format (`docs/steps.md`), and what its answer must
/// be. A response `expect` accepts is a success; any other is an error
/// (without `expect`: a 5xx or no answer is an error).
#[derive(Debug, Clone)]
pub struct TemplateTransaction {
    pub name: String,
    pub request: RequestTemplate,
    pub expect: Expect,
    /// `FILE:LINE:COL` of its table.
    pub place: String,
}

/// Names the built-in transactions record their per-user setup and helper
/// requests under: a template may not take them while built-ins run.
pub const BUILTIN_RECORD_NAMES: [&str; 5] =
    ["register", "login", "catalog", "cart_clear", "stock_read"];

/// Names no transaction may take: `all` is the report's total row.
pub const RESERVED_TRANSACTION_NAMES: [&str; 1] = ["all"];

impl fmt::Display for TransactionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The load model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Goose's model: N users, each sends, waits for the answer, thinks,
    /// sends again. A slow server slows the senders down.
    Closed,
    /// Constant arrival rate (k6 `constant-arrival-rate` style): requests
    /// are sent on a fixed schedule whatever the server does, and latency is
    /// measured from the intended send time.
    Open,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Closed => "closed",
            Mode::Open => "open",
        }
    }
}

/// One step of the load shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub name: String,
    /// Closed mode: users at the end of the phase (goose moves linearly from
    /// the previous phase's target). Open mode: the fixed user pool.
    pub users: u32,
    pub duration: Duration,
    /// Open mode only: requests per second, all users together.
    pub rate: Option<f64>,
}

/// Closed mode: each user waits a random time in `[min, max]` between two
/// transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ThinkTime {
    pub min: Duration,
    pub max: Duration,
}

/// A parsed, validated profile.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: String,
    pub description: Option<String>,
    pub mode: Mode,
    /// Closed mode: the highest user count of any phase. Open mode: the
    /// user pool that carries the schedule.
    pub users: u32,
    pub phases: Vec<Phase>,
    /// Transactions with a weight above 0: the built-in ones in
    /// [`TransactionKind::ALL`] order, then the profile's own by name.
    pub mix: Vec<(MixEntry, u32)>,
    /// The profile's own transactions (`[transactions.NAME]`), by name;
    /// each is in the mix (possibly with weight 0).
    #[serde(skip)]
    pub templates: BTreeMap<String, TemplateTransaction>,
    pub think_time: Option<ThinkTime>,
    pub request_timeout: Duration,
    /// Compose variables the stack needs for this load (`[system]`), e.g.
    /// `GAUNTLET_RATE_LIMIT_STANDARD = "10000000/60s"`.
    pub system: BTreeMap<String, String>,
    /// The file it came from, when it came from one.
    pub source: Option<PathBuf>,
    /// A sharded profile (`shards = N`): more load than one generator
    /// should carry, meant to run as N shards (`gauntlet load --shards N
    /// --local`, `gauntlet load k8s --shards N`, or `--shard I/N` each).
    /// Run unsharded, it is an error. See [`crate::shard`].
    pub shards: Option<u32>,
}

impl Profile {
    /// Reads and validates a profile file. The profile's name defaults to
    /// the file stem. A profile with its own `[transactions.NAME]` needs
    /// the project's configuration: [`Profile::load_with_config`].
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        Profile::load_inner(path, None)
    }

    /// Reads and validates a profile file of a project: its own
    /// transactions' endpoints and `{{secret.NAME}}`s are checked against
    /// `config`.
    pub fn load_with_config(path: &Path, config: &Config) -> Result<Profile, ProfileError> {
        Profile::load_inner(path, Some(config))
    }

    /// `dir/<name>.toml`, checked against `config`.
    pub fn load_named_with_config(
        dir: &Path,
        name: &str,
        config: &Config,
    ) -> Result<Profile, ProfileError> {
        Profile::load_with_config(&dir.join(format!("{name}.toml")), config)
    }

    fn load_inner(path: &Path, config: Option<&Config>) -> Result<Profile, ProfileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
            file: file.clone(),
            line: 1,
            column: 1,
            message: format!("cannot read the profile: {e}"),
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "profile".to_string());
        let mut profile = Profile::parse_inner(&text, &file, &stem, config)?;
        profile.source = Some(path.to_path_buf());
        Ok(profile)
    }

    /// `dir/<name>.toml`.
    pub fn load_named(dir: &Path, name: &str) -> Result<Profile, ProfileError> {
        Profile::load(&dir.join(format!("{name}.toml")))
    }

    /// Parses profile text. `file` is only used in error messages;
    /// `default_name` is the name when the text has no `name` key.
    /// Template transactions (`[transactions.NAME]`) are an error here:
    /// they need [`Profile::parse_with_config`].
    pub fn parse(text: &str, file: &str, default_name: &str) -> Result<Profile, ProfileError> {
        Profile::parse_inner(text, file, default_name, None)
    }

    /// Parses profile text of a project (see [`Profile::load_with_config`]).
    pub fn parse_with_config(
        text: &str,
        file: &str,
        default_name: &str,
        config: &Config,
    ) -> Result<Profile, ProfileError> {
        Profile::parse_inner(text, file, default_name, Some(config))
    }

    fn parse_inner(
        text: &str,
        file: &str,
        default_name: &str,
        config: Option<&Config>,
    ) -> Result<Profile, ProfileError> {
        let src = Source { file, text };
        let raw: RawProfile = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        validate(raw, &src, default_name, config)
    }

    /// Sum of the phase durations.
    pub fn total_duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// Weight of `kind` in the mix (0 when absent).
    pub fn weight(&self, kind: TransactionKind) -> u32 {
        self.mix
            .iter()
            .find(|(k, _)| *k == MixEntry::Builtin(kind))
            .map(|(_, w)| *w)
            .unwrap_or(0)
    }

    /// Whether the mix runs any built-in transaction (they need the
    /// reference system's per-user setup: an account, the catalog).
    pub fn has_builtins(&self) -> bool {
        self.mix
            .iter()
            .any(|(e, _)| matches!(e, MixEntry::Builtin(_)))
    }

    /// Every transaction name the profile may record: the built-in ones
    /// and its own.
    pub fn transaction_names(&self) -> Vec<String> {
        TransactionKind::ALL
            .iter()
            .map(|k| k.name().to_string())
            .chain(self.templates.keys().cloned())
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Option<Spanned<String>>,
    description: Option<String>,
    mode: Option<Spanned<String>>,
    users: Option<Spanned<i64>>,
    rate: Option<Spanned<f64>>,
    duration: Option<Spanned<String>>,
    think_time: Option<Spanned<RawThink>>,
    request_timeout: Option<Spanned<String>>,
    mix: Option<Spanned<BTreeMap<Spanned<String>, Spanned<i64>>>>,
    #[serde(default, rename = "phase")]
    phases: Vec<Spanned<RawPhase>>,
    system: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    /// How many load generators the profile is meant for.
    shards: Option<Spanned<i64>>,
    /// The profile's own transactions: request templates.
    #[serde(default)]
    transactions: BTreeMap<Spanned<String>, Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhase {
    name: Option<Spanned<String>>,
    users: Option<Spanned<i64>>,
    duration: Option<Spanned<String>>,
    rate: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThink {
    min: Spanned<String>,
    max: Spanned<String>,
}

/// The text being parsed, to turn byte spans into `FILE:LINE:COL`.
pub(crate) struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn at(&self, span: Range<usize>, message: impl Into<String>) -> ProfileError {
        let (line, column) = line_col(self.text, span.start);
        ProfileError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    pub fn top(&self, message: impl Into<String>) -> ProfileError {
        self.at(0..0, message)
    }

    pub fn toml_error(&self, e: &toml::de::Error) -> ProfileError {
        let span = e.span().unwrap_or(0..0);
        self.at(span, e.message().trim_end().to_string())
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut safe = offset;
    while !text.is_char_boundary(safe) {
        safe -= 1;
    }
    let before = &text[..safe];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Durations as the compose file writes them (`500ms`, `10s`, `1m30s`,
/// `2h`): one parser for the compose file, profiles and the CLI.
pub use gauntlet_harness::compose::parse_duration;

fn spanned_duration(
    src: &Source,
    value: &Spanned<String>,
    what: &str,
) -> Result<Duration, ProfileError> {
    let d = parse_duration(value.get_ref())
        .map_err(|m| src.at(value.span(), format!("{what}: {m}")))?;
    if d.is_zero() {
        return Err(src.at(value.span(), format!("{what} must be longer than 0")));
    }
    Ok(d)
}

fn users_value(
    src: &Source,
    value: &Spanned<i64>,
    what: &str,
    min: i64,
) -> Result<u32, ProfileError> {
    let n = *value.get_ref();
    if n < min {
        let need = if min == 0 {
            "0 or more".to_string()
        } else {
            format!("at least {min}")
        };
        return Err(src.at(value.span(), format!("{what} must be {need}, not {n}")));
    }
    if n > 1_000_000 {
        return Err(src.at(
            value.span(),
            format!("{what} = {n} is more than this generator can run (1,000,000 at most)"),
        ));
    }
    Ok(n as u32)
}

fn rate_value(src: &Source, value: &Spanned<f64>) -> Result<f64, ProfileError> {
    let r = *value.get_ref();
    if !r.is_finite() || r <= 0.0 {
        return Err(src.at(
            value.span(),
            format!("rate must be a positive number of requests per second, not {r}"),
        ));
    }
    if r > 1_000_000.0 {
        return Err(src.at(
            value.span(),
            format!("rate = {r} is above 1,000,000 requests/s"),
        ));
    }
    Ok(r)
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn valid_variable(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Names reserved for report rows that are not phases of the profile.
pub const RESERVED_PHASE_NAMES: [&str; 1] = ["setup"];

fn validate(
    raw: RawProfile,
    src: &Source,
    default_name: &str,
    config: Option<&Config>,
) -> Result<Profile, ProfileError> {
    let name = match &raw.name {
        Some(n) => {
            if !valid_name(n.get_ref()) {
                return Err(src.at(
                    n.span(),
                    format!(
                        "profile name `{}` must be 1-64 characters of a-z, 0-9, `_` and `-`",
                        n.get_ref()
                    ),
                ));
            }
            n.get_ref().clone()
        }
        None => default_name.to_string(),
    };

    let mode = match &raw.mode {
        None => Mode::Closed,
        Some(m) => match m.get_ref().as_str() {
            "closed" => Mode::Closed,
            "open" => Mode::Open,
            other => {
                return Err(src.at(
                    m.span(),
                    format!("mode must be \"closed\" or \"open\", not \"{other}\""),
                ))
            }
        },
    };

    // Mix.
    let Some(mix_raw) = &raw.mix else {
        return Err(src.top(
            "missing [mix] table: name the transactions and their weights, \
             e.g. browse_list = 50",
        ));
    };
    let declared: Vec<&str> = raw
        .transactions
        .keys()
        .map(|k| k.get_ref().as_str())
        .collect();
    for key in raw.transactions.keys() {
        let name = key.get_ref();
        if TransactionKind::from_name(name).is_some() {
            return Err(src.at(
                key.span(),
                format!("`{name}` is a built-in transaction; give the profile's own transaction another name"),
            ));
        }
        if !valid_name(name) || RESERVED_TRANSACTION_NAMES.contains(&name.as_str()) {
            return Err(src.at(
                key.span(),
                format!(
                    "transaction name `{name}` must be 1-64 characters of a-z, 0-9, `_` and `-`, and not {}",
                    RESERVED_TRANSACTION_NAMES.join(", ")
                ),
            ));
        }
        if !mix_raw.get_ref().keys().any(|k| k.get_ref() == name) {
            return Err(src.at(
                key.span(),
                format!("transaction `{name}` is declared but not in [mix]; give it a weight there (0 keeps it off)"),
            ));
        }
    }
    let mut weights: BTreeMap<MixEntry, u32> = BTreeMap::new();
    for (key, weight) in mix_raw.get_ref() {
        let entry = match TransactionKind::from_name(key.get_ref()) {
            Some(kind) => MixEntry::Builtin(kind),
            None if declared.contains(&key.get_ref().as_str()) => {
                MixEntry::Template(key.get_ref().clone())
            }
            None => {
                return Err(src.at(
                    key.span(),
                    TransactionKind::unknown_message(key.get_ref(), &declared),
                ))
            }
        };
        let w = *weight.get_ref();
        if w < 0 {
            return Err(src.at(
                weight.span(),
                format!("weight of {entry} must be 0 or more, not {w}"),
            ));
        }
        if w > 1_000_000 {
            return Err(src.at(
                weight.span(),
                format!("weight of {entry} is too large ({w})"),
            ));
        }
        weights.insert(entry, w as u32);
    }
    // Built-in first (in `ALL` order: the enum's order), then the profile's
    // own by name: the map's order.
    let mix: Vec<(MixEntry, u32)> = weights.into_iter().filter(|(_, w)| *w > 0).collect();
    if mix.is_empty() {
        return Err(src.at(
            mix_raw.span(),
            "the mix has no transaction with a weight above 0",
        ));
    }
    let runs_builtins = mix.iter().any(|(e, _)| matches!(e, MixEntry::Builtin(_)));
    if runs_builtins {
        for key in raw.transactions.keys() {
            let name = key.get_ref().as_str();
            let weighted = mix.iter().any(|(e, _)| e.name() == name);
            if weighted && BUILTIN_RECORD_NAMES.contains(&name) {
                return Err(src.at(
                    key.span(),
                    format!(
                        "the built-in transactions of this mix record their setup requests as {}: \
                         name `{name}` differently",
                        BUILTIN_RECORD_NAMES.join(", ")
                    ),
                ));
            }
        }
    }

    // Think time.
    let think_time = match &raw.think_time {
        None => None,
        Some(t) => {
            if mode == Mode::Open {
                return Err(src.at(
                    t.span(),
                    "think_time has no meaning in open mode: the schedule paces the requests",
                ));
            }
            let min = parse_duration(t.get_ref().min.get_ref())
                .map_err(|m| src.at(t.get_ref().min.span(), format!("think_time.min: {m}")))?;
            let max = parse_duration(t.get_ref().max.get_ref())
                .map_err(|m| src.at(t.get_ref().max.span(), format!("think_time.max: {m}")))?;
            if min > max {
                return Err(src.at(
                    t.get_ref().min.span(),
                    "think_time.min is longer than think_time.max",
                ));
            }
            Some(ThinkTime { min, max })
        }
    };

    let request_timeout = match &raw.request_timeout {
        None => DEFAULT_REQUEST_TIMEOUT,
        Some(t) => {
            let d = spanned_duration(src, t, "request_timeout")?;
            if d < Duration::from_millis(1) {
                return Err(src.at(t.span(), "request_timeout must be at least 1ms"));
            }
            d
        }
    };

    // Top-level rate.
    let top_rate = match &raw.rate {
        None => None,
        Some(r) => {
            if mode == Mode::Closed {
                return Err(src.at(
                    r.span(),
                    "rate only applies to mode = \"open\" (closed mode is paced by users and think time)",
                ));
            }
            Some(rate_value(src, r)?)
        }
    };

    // Users and phases.
    let mut phases = Vec::new();
    let users;
    if raw.phases.is_empty() {
        let Some(u) = &raw.users else {
            return Err(src.top("no load shape: give `users` and `duration`, or [[phase]] entries"));
        };
        let Some(d) = &raw.duration else {
            return Err(src.at(
                u.span(),
                "`users` needs a `duration` (e.g. duration = \"30s\")",
            ));
        };
        users = users_value(src, u, "users", 1)?;
        let duration = spanned_duration(src, d, "duration")?;
        if duration.subsec_nanos() != 0 {
            return Err(src.at(
                d.span(),
                "duration must be whole seconds (goose schedules in seconds)",
            ));
        }
        let rate = match mode {
            Mode::Closed => None,
            Mode::Open => Some(top_rate.ok_or_else(|| {
                src.at(
                    u.span(),
                    "mode = \"open\" needs `rate` (requests per second, all users together)",
                )
            })?),
        };
        phases.push(Phase {
            name: "steady".to_string(),
            users,
            duration,
            rate,
        });
    } else {
        if let Some(d) = &raw.duration {
            return Err(src.at(
                d.span(),
                "`duration` is set per [[phase]] when phases are given",
            ));
        }
        match (mode, &raw.users) {
            (Mode::Closed, Some(u)) => {
                return Err(src.at(
                    u.span(),
                    "in closed mode with phases, each [[phase]] sets its own `users`",
                ))
            }
            (Mode::Open, None) => {
                return Err(src.at(
                    raw.phases[0].span(),
                    "mode = \"open\" needs a top-level `users`: the pool of users that carries the schedule",
                ))
            }
            _ => {}
        }
        let pool = match (&raw.users, mode) {
            (Some(u), Mode::Open) => users_value(src, u, "users", 1)?,
            _ => 0,
        };
        let mut seen: Vec<String> = Vec::new();
        for (i, p) in raw.phases.iter().enumerate() {
            let rp = p.get_ref();
            let name = match &rp.name {
                Some(n) => {
                    if !valid_name(n.get_ref()) {
                        return Err(src.at(
                            n.span(),
                            format!(
                                "phase name `{}` must be 1-64 characters of a-z, 0-9, `_` and `-`",
                                n.get_ref()
                            ),
                        ));
                    }
                    if RESERVED_PHASE_NAMES.contains(&n.get_ref().as_str()) {
                        return Err(src.at(
                            n.span(),
                            format!("phase name `{}` is reserved for the report", n.get_ref()),
                        ));
                    }
                    if seen.contains(n.get_ref()) {
                        return Err(src.at(
                            n.span(),
                            format!("phase `{}` is defined twice", n.get_ref()),
                        ));
                    }
                    n.get_ref().clone()
                }
                None => format!("phase{}", i + 1),
            };
            seen.push(name.clone());
            let Some(d) = &rp.duration else {
                return Err(src.at(p.span(), format!("phase `{name}` needs a `duration`")));
            };
            let duration = spanned_duration(src, d, &format!("phase `{name}` duration"))?;
            if duration.subsec_nanos() != 0 {
                return Err(src.at(
                    d.span(),
                    format!("phase `{name}` duration must be whole seconds (goose schedules in seconds)"),
                ));
            }
            let (phase_users, rate) = match mode {
                Mode::Closed => {
                    if let Some(r) = &rp.rate {
                        return Err(src.at(
                            r.span(),
                            "rate only applies to mode = \"open\" (closed mode is paced by users and think time)",
                        ));
                    }
                    let Some(u) = &rp.users else {
                        return Err(src.at(
                            p.span(),
                            format!("phase `{name}` needs `users` (its target)"),
                        ));
                    };
                    (
                        users_value(src, u, &format!("phase `{name}` users"), 0)?,
                        None,
                    )
                }
                Mode::Open => {
                    if let Some(u) = &rp.users {
                        return Err(src.at(
                            u.span(),
                            "in open mode the user pool is fixed: set `users` at the top level and `rate` per phase",
                        ));
                    }
                    let rate = match &rp.rate {
                        Some(r) => rate_value(src, r)?,
                        None => top_rate.ok_or_else(|| {
                            src.at(
                                p.span(),
                                format!("phase `{name}` has no `rate` and the profile sets none"),
                            )
                        })?,
                    };
                    (pool, Some(rate))
                }
            };
            phases.push(Phase {
                name,
                users: phase_users,
                duration,
                rate,
            });
        }
        users = match mode {
            Mode::Open => pool,
            Mode::Closed => phases.iter().map(|p| p.users).max().unwrap_or(0),
        };
        if users == 0 {
            return Err(src.at(raw.phases[0].span(), "no phase has any users"));
        }
    }

    let total: Duration = phases.iter().map(|p| p.duration).sum();
    if total > MAX_TOTAL_DURATION {
        return Err(src.top(format!(
            "the phases last {}s, longer than the {}s a run may take",
            total.as_secs(),
            MAX_TOTAL_DURATION.as_secs()
        )));
    }

    let mut system = BTreeMap::new();
    if let Some(vars) = &raw.system {
        for (k, v) in vars {
            if !valid_variable(k.get_ref()) {
                return Err(src.at(
                    k.span(),
                    format!(
                        "[system] key `{}` is not a compose variable name (A-Z, 0-9, `_`)",
                        k.get_ref()
                    ),
                ));
            }
            system.insert(k.get_ref().clone(), v.get_ref().clone());
        }
    }

    let shards = match &raw.shards {
        None => None,
        Some(n) => Some(shards_value(src, n, users)?),
    };

    let templates = template_transactions(&raw.transactions, src, config, request_timeout)?;

    Ok(Profile {
        name,
        description: raw.description,
        mode,
        users,
        phases,
        mix,
        templates,
        think_time,
        request_timeout,
        system,
        source: None,
        shards,
    })
}

/// `shards = N`: 2 to [`crate::shard::MAX_SHARDS`], and no more than the
/// users (every shard needs one).
fn shards_value(src: &Source, value: &Spanned<i64>, users: u32) -> Result<u32, ProfileError> {
    let n = *value.get_ref();
    let max = crate::shard::MAX_SHARDS;
    if n < 2 || n > i64::from(max) {
        return Err(src.at(
            value.span(),
            format!(
                "shards must be 2 to {max} (the load generators this profile is meant for), not {n}; \
                 leave it out for a profile one generator runs"
            ),
        ));
    }
    if n > i64::from(users) {
        return Err(src.at(
            value.span(),
            format!("shards = {n} is more than the profile's {users} users: every shard needs at least one"),
        ));
    }
    Ok(n as u32)
}

/// The keys of a step a load transaction may not have: it is one request,
/// sent again and again, with nothing carried from one to the next.
fn journey_only_key(raw: &RawStep) -> Option<(&'static str, Option<usize>)> {
    let first_capture = raw.capture.values().next().map(|v| v.span().start);
    [
        (raw.name.is_some(), "name", None),
        (!raw.capture.is_empty(), "capture", first_capture),
        (
            raw.eventually.is_some(),
            "eventually",
            raw.eventually.as_ref().map(|v| v.span().start),
        ),
        (
            raw.concurrent.is_some(),
            "concurrent",
            raw.concurrent.as_ref().map(|v| v.span().start),
        ),
        (
            raw.count.is_some(),
            "count",
            raw.count.as_ref().map(|v| v.span().start),
        ),
        (
            raw.probe.is_some(),
            "probe",
            raw.probe.as_ref().map(|v| v.span().start),
        ),
        (
            raw.sleep.is_some(),
            "sleep",
            raw.sleep.as_ref().map(|v| v.span().start),
        ),
    ]
    .into_iter()
    .find(|(present, _, _)| *present)
    .map(|(_, key, at)| (key, at))
}

/// Compiles `[transactions.NAME]` with the step format's checks (request
/// keys and `expect`), against the project's endpoints and secrets.
fn template_transactions(
    raw: &BTreeMap<Spanned<String>, Spanned<RawStep>>,
    src: &Source,
    config: Option<&Config>,
    request_timeout: Duration,
) -> Result<BTreeMap<String, TemplateTransaction>, ProfileError> {
    let mut out = BTreeMap::new();
    let Some((first, _)) = raw.iter().next() else {
        return Ok(out);
    };
    let Some(config) = config else {
        return Err(src.at(
            first.span(),
            "a profile's own transactions are checked against the project's endpoints and secrets: \
             load the profile with its project's configuration (Profile::load_with_config)",
        ));
    };
    let ctx = Context::new(src.text, config);
    let problem = |p: gauntlet_harness::steps::Problem| src.at(p.offset..p.offset, p.message);
    for (key, step) in raw {
        let name = key.get_ref();
        let at = key.span().start;
        let step = step.get_ref();
        if let Some((k, place)) = journey_only_key(step) {
            let place = place.unwrap_or(at);
            let message = if k == "name" {
                format!("transaction `{name}`: `name` is not a key here; the table's name (`{name}`) is the transaction's")
            } else {
                format!(
                    "transaction `{name}`: `{k}` is for journey steps; a load transaction is one request and its `expect`"
                )
            };
            return Err(src.at(place..place, message));
        }
        let mut request = ctx.request(step, at).map_err(problem)?;
        if step.timeout.is_none() {
            request.timeout = request_timeout;
        }
        let expect = match &step.expect {
            Some(e) => ctx.expect(e, false).map_err(problem)?,
            None => Expect::default(),
        };
        let (line, column) = line_col(src.text, at);
        out.insert(
            name.clone(),
            TemplateTransaction {
                name: name.clone(),
                request,
                expect,
                place: format!("{}:{line}:{column}", src.file),
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const MIX: &str = "[mix]\nbrowse_list = 5\ncheckout = 1\n";

    fn parse(text: &str) -> Result<Profile, ProfileError> {
        Profile::parse(text, "p.toml", "p")
    }

    #[test]
    fn error_messages_name_file_line_and_column() {
        // (profile text, expected Display of the error)
        let cases: Vec<(String, &str)> = vec![
            (
                format!("users = 10\nduration = \"30s\"\nspeed = 3\n{MIX}"),
                "p.toml:3:1: unknown field `speed`, expected one of",
            ),
            (
                format!("users = 0\nduration = \"30s\"\n{MIX}"),
                "p.toml:1:9: users must be at least 1, not 0",
            ),
            (
                format!("users = -5\nduration = \"30s\"\n{MIX}"),
                "p.toml:1:9: users must be at least 1, not -5",
            ),
            (
                format!("users = 10\nduration = \"0s\"\n{MIX}"),
                "p.toml:2:12: duration must be longer than 0",
            ),
            (
                format!("users = 10\nduration = \"30 sec\"\n{MIX}"),
                "p.toml:2:12: duration: `30 sec` is not a duration (examples: 500ms, 10s, 1m30s)",
            ),
            (
                "users = 10\nduration = \"30s\"\n[mix]\nbrowse_list = 5\nbrowse_feed = 2\n".to_string(),
                "p.toml:5:1: unknown transaction `browse_feed`; known: browse_list, browse_detail, cart_add, checkout, webhook, orders_list",
            ),
            (
                "users = 10\nduration = \"30s\"\n[mix]\nfeed_read = 2\n".to_string(),
                "p.toml:4:1: transaction `feed_read` is not available yet: it arrives with the feed endpoint",
            ),
            (
                "users = 10\nduration = \"30s\"\n[mix]\ncheckout = -1\n".to_string(),
                "p.toml:4:12: weight of checkout must be 0 or more, not -1",
            ),
            (
                "users = 10\nduration = \"30s\"\n[mix]\ncheckout = 0\n".to_string(),
                "p.toml:3:1: the mix has no transaction with a weight above 0",
            ),
            (
                format!("mode = \"half-open\"\nusers = 10\nduration = \"30s\"\n{MIX}"),
                "p.toml:1:8: mode must be \"closed\" or \"open\", not \"half-open\"",
            ),
            (
                format!("mode = \"open\"\nusers = 10\nduration = \"30s\"\n{MIX}"),
                "p.toml:2:9: mode = \"open\" needs `rate`",
            ),
            (
                format!("mode = \"open\"\nusers = 10\nrate = 0\nduration = \"30s\"\n{MIX}"),
                "p.toml:3:8: rate must be a positive number of requests per second, not 0",
            ),
            (
                format!("users = 10\nrate = 50\nduration = \"30s\"\n{MIX}"),
                "p.toml:2:8: rate only applies to mode = \"open\"",
            ),
            (
                format!("users = 10\n{MIX}"),
                "p.toml:1:9: `users` needs a `duration`",
            ),
            (
                "users = 10\nduration = \"30s\"\n".to_string(),
                "p.toml:1:1: missing [mix] table",
            ),
            (
                format!("{MIX}[[phase]]\nname = \"ramp_up\"\nusers = 100\nduration = \"0m\"\n"),
                "p.toml:7:12: phase `ramp_up` duration must be longer than 0",
            ),
            (
                format!("{MIX}[[phase]]\nname = \"ramp_up\"\nusers = -1\nduration = \"1m\"\n"),
                "p.toml:6:9: phase `ramp_up` users must be 0 or more, not -1",
            ),
            (
                format!("{MIX}[[phase]]\nname = \"ramp_up\"\nusers = 10\nduration = \"1500ms\"\n"),
                "p.toml:7:12: phase `ramp_up` duration must be whole seconds",
            ),
            (
                format!("{MIX}[[phase]]\nname = \"a\"\nusers = 10\nduration = \"1m\"\nramp = true\n"),
                "p.toml:8:1: unknown field `ramp`, expected one of `name`, `users`, `duration`, `rate`",
            ),
            (
                format!("{MIX}[[phase]]\nname = \"a\"\nusers = 10\nduration = \"1m\"\n[[phase]]\nname = \"a\"\nusers = 0\nduration = \"1m\"\n"),
                "p.toml:9:8: phase `a` is defined twice",
            ),
            (
                format!("{MIX}[[phase]]\nname = \"setup\"\nusers = 10\nduration = \"1m\"\n"),
                "p.toml:5:8: phase name `setup` is reserved for the report",
            ),
            (
                format!("mode = \"open\"\nusers = 10\nrate = 5\n{MIX}[[phase]]\nname = \"a\"\nusers = 10\nduration = \"1m\"\n"),
                "p.toml:9:9: in open mode the user pool is fixed",
            ),
            (
                format!("mode = \"open\"\nusers = 10\nrate = 5\nduration = \"1m\"\nthink_time = {{ min = \"1s\", max = \"2s\" }}\n{MIX}"),
                "p.toml:5:14: think_time has no meaning in open mode",
            ),
            (
                format!("users = 10\nduration = \"1m\"\nthink_time = {{ min = \"3s\", max = \"2s\" }}\n{MIX}"),
                "p.toml:3:22: think_time.min is longer than think_time.max",
            ),
            (
                format!("users = 10\nduration = \"1m\"\n{MIX}[system]\nrate_limit = \"1/60s\"\n"),
                "p.toml:7:1: [system] key `rate_limit` is not a compose variable name",
            ),
            (
                format!("users = 10\nduration = \"1m\"\n{MIX}[system]\nGAUNTLET_X = 5\n"),
                "p.toml:7:14: invalid type: integer `5`, expected a string",
            ),
            (
                format!("users = \"ten\"\nduration = \"1m\"\n{MIX}"),
                "p.toml:1:9: invalid type: string \"ten\", expected i64",
            ),
            (
                format!("users = 10\nduration = \"25h\"\n{MIX}"),
                "p.toml:1:1: the phases last 90000s, longer than the 86400s a run may take",
            ),
            (
                "users = 10\nduration = \"1m\"\n[mix\n".to_string(),
                "p.toml:3:5: ",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text).expect_err(&text);
            let shown = err.to_string();
            assert!(
                shown.starts_with(expected),
                "profile:\n{text}\nexpected: {expected}\n     got: {shown}"
            );
        }
    }

    #[test]
    fn closed_profile_with_phases() {
        let p = parse(
            "name = \"release\"\nmode = \"closed\"\nthink_time = { min = \"500ms\", max = \"2s\" }\n\
             [mix]\nbrowse_list = 40\nbrowse_detail = 30\ncheckout = 0\nwebhook = 5\n\
             [[phase]]\nname = \"ramp_up\"\nusers = 1000\nduration = \"2m\"\n\
             [[phase]]\nname = \"plateau\"\nusers = 1000\nduration = \"5m\"\n\
             [[phase]]\nname = \"ramp_down\"\nusers = 0\nduration = \"1m\"\n\
             [system]\nGAUNTLET_RATE_LIMIT_STANDARD = \"10000000/60s\"\n",
        )
        .unwrap();
        assert_eq!(p.name, "release");
        assert_eq!(p.mode, Mode::Closed);
        assert_eq!(p.users, 1000);
        assert_eq!(p.total_duration(), Duration::from_secs(480));
        let names: Vec<&str> = p.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["ramp_up", "plateau", "ramp_down"]);
        assert_eq!(
            p.mix,
            vec![
                (TransactionKind::BrowseList.into(), 40),
                (TransactionKind::BrowseDetail.into(), 30),
                (TransactionKind::Webhook.into(), 5)
            ]
        );
        assert!(p.has_builtins() && p.templates.is_empty());
        assert_eq!(
            p.think_time,
            Some(ThinkTime {
                min: Duration::from_millis(500),
                max: Duration::from_secs(2)
            })
        );
        assert_eq!(p.system["GAUNTLET_RATE_LIMIT_STANDARD"], "10000000/60s");
        assert_eq!(p.request_timeout, DEFAULT_REQUEST_TIMEOUT);
    }

    #[test]
    fn open_profile_rates_per_phase() {
        let p = parse(
            "mode = \"open\"\nusers = 50\nrate = 100\n[mix]\nbrowse_list = 1\n\
             [[phase]]\nname = \"warm\"\nduration = \"10s\"\nrate = 20\n\
             [[phase]]\nname = \"hold\"\nduration = \"1m\"\n",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Open);
        assert_eq!(p.users, 50);
        assert_eq!(p.phases[0].rate, Some(20.0));
        assert_eq!(p.phases[1].rate, Some(100.0));
        assert!(p.phases.iter().all(|ph| ph.users == 50));
    }

    #[test]
    fn single_phase_shorthand() {
        let p = parse(&format!("users = 10\nduration = \"30s\"\n{MIX}")).unwrap();
        assert_eq!(p.name, "p");
        assert_eq!(p.phases.len(), 1);
        assert_eq!(p.phases[0].name, "steady");
        assert_eq!(p.phases[0].users, 10);
        assert_eq!(p.phases[0].duration, Duration::from_secs(30));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1.5s").is_err());
    }

    #[test]
    fn line_col_counts_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        // "bé = " is 6 bytes, 5 characters.
        assert_eq!(line_col(text, 6 + 6), (2, 6));
    }

    #[test]
    fn shipped_profiles_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        for name in ["smoke", "ci", "release", "stress", "stress-open", "soak"] {
            let p = Profile::load_named(&dir, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.name, name);
            assert!(p.weight(TransactionKind::Checkout) > 0, "{name}");
            assert!(p.weight(TransactionKind::Webhook) > 0, "{name}");
            assert!(
                p.system.contains_key("GAUNTLET_RATE_LIMIT_STANDARD"),
                "{name} raises the rate limits"
            );
        }
        let smoke = Profile::load_named(&dir, "smoke").unwrap();
        assert_eq!(
            (smoke.users, smoke.total_duration()),
            (10, Duration::from_secs(30))
        );
        let ci = Profile::load_named(&dir, "ci").unwrap();
        assert_eq!(
            (ci.users, ci.total_duration()),
            (100, Duration::from_secs(60))
        );
        // The gates carry deliberate contention (issue 15), so the
        // invariants and the bursts' contracts bite on every run.
        for p in [&smoke, &ci] {
            for kind in TransactionKind::ALL
                .into_iter()
                .filter(|k| k.has_contract())
            {
                assert!(p.weight(kind) > 0, "{} runs {kind}", p.name);
            }
        }
        let release = Profile::load_named(&dir, "release").unwrap();
        assert_eq!(release.users, 1000);
        assert_eq!(release.phases.len(), 3);
        let stress = Profile::load_named(&dir, "stress").unwrap();
        assert_eq!(stress.users, 10_000);
        let open = Profile::load_named(&dir, "stress-open").unwrap();
        assert_eq!((open.mode, open.users), (Mode::Open, 10_000));
        let soak = Profile::load_named(&dir, "soak").unwrap();
        assert!(soak.total_duration() >= Duration::from_secs(30 * 60));
        assert!(soak.users <= 50);
        assert!(
            [&smoke, &ci, &release, &stress, &soak]
                .iter()
                .all(|p| p.shards.is_none()),
            "one generator runs them"
        );
    }

    #[test]
    fn tier_profiles_share_the_gate_mix_and_the_biggest_is_sharded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let ci = Profile::load_named(&dir, "ci").unwrap();
        let stress = Profile::load_named(&dir, "stress").unwrap();
        for (name, users, shards) in [
            ("tier-100", 100, None),
            ("tier-1k", 1_000, None),
            ("tier-10k", 10_000, None),
            ("tier-100k", 100_000, Some(10)),
        ] {
            let p = Profile::load_named(&dir, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((p.name.as_str(), p.users, p.shards), (name, users, shards));
            assert_eq!(p.mode, Mode::Closed, "{name}");
            assert!(p.think_time.is_some(), "{name} thinks");
            assert_eq!(p.mix, ci.mix, "{name}: the gate's mix");
            assert_eq!(p.system, stress.system, "{name}: [system] as stress");
            let names: Vec<&str> = p.phases.iter().map(|ph| ph.name.as_str()).collect();
            assert_eq!(names, ["ramp_up", "plateau", "ramp_down"], "{name}");
            assert!(
                p.phases[0].duration <= Duration::from_secs(120),
                "{name}: a short ramp"
            );
        }
    }

    #[test]
    fn shards_key_is_checked() {
        let ok = parse(&format!(
            "users = 10\nduration = \"30s\"\nshards = 4\n{MIX}"
        ))
        .unwrap();
        assert_eq!(ok.shards, Some(4));
        assert_eq!(
            parse(&format!("users = 10\nduration = \"30s\"\n{MIX}"))
                .unwrap()
                .shards,
            None
        );
        let cases = [
            ("shards = 1", "p.toml:3:10: shards must be 2 to 1000"),
            ("shards = 0", "p.toml:3:10: shards must be 2 to 1000 (the load generators this profile is meant for), not 0"),
            ("shards = 5000", "p.toml:3:10: shards must be 2 to 1000"),
            ("shards = 11", "p.toml:3:10: shards = 11 is more than the profile's 10 users"),
            ("shards = \"4\"", "p.toml:3:10: invalid type: string \"4\", expected i64"),
        ];
        for (line, expected) in cases {
            let text = format!("users = 10\nduration = \"30s\"\n{line}\n{MIX}");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{line}: {e}");
        }
    }

    /// A project with endpoints `api` and `ingest` and a secret `token`.
    pub(crate) fn project() -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gauntlet.toml");
        std::fs::write(
            &path,
            "[endpoints.api]\nservice = \"app\"\nport = 8080\n\
             [endpoints.ingest]\nservice = \"ingest\"\nport = 9000\n\
             [secrets.token]\nvariable = \"GT_TEST_TOKEN\"\n",
        )
        .unwrap();
        Config::load(Some(&path), Default::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    const TEMPLATES: &str = r#"users = 5
duration = "10s"

[mix]
publish = 8
stats = 2
spare = 0

[transactions.publish]
method = "POST"
endpoint = "ingest"
path = "/events"
headers = { x-token = "{{secret.token}}" }
json = { id = "{{unique}}", user = "{{index}}", by = "{{fake.name}}" }
expect = { status = 202, json = { "/accepted" = true } }

[transactions.stats]
path = "/stats?seed={{seed}}"
timeout = "2s"

[transactions.spare]
path = "/spare"
"#;

    fn parse_in(text: &str) -> Result<Profile, ProfileError> {
        Profile::parse_with_config(text, "p.toml", "p", &project())
    }

    #[test]
    fn template_transactions_parse() {
        let p = parse_in(TEMPLATES).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            p.mix,
            vec![
                (MixEntry::Template("publish".into()), 8),
                (MixEntry::Template("stats".into()), 2)
            ]
        );
        assert!(!p.has_builtins());
        assert_eq!(
            p.templates.keys().collect::<Vec<_>>(),
            ["publish", "spare", "stats"],
            "weight 0 keeps a transaction declared but off"
        );
        let publish = &p.templates["publish"];
        assert_eq!(publish.request.endpoint.as_deref(), Some("ingest"));
        assert_eq!(publish.request.method, reqwest::Method::POST);
        assert_eq!(publish.place, "p.toml:9:15");
        assert!(publish.expect.status.is_some());
        assert_eq!(publish.expect.json.len(), 1);
        let stats = &p.templates["stats"];
        assert_eq!(
            stats.request.endpoint.as_deref(),
            Some("api"),
            "the project's default endpoint, resolved when the file loads"
        );
        assert_eq!(stats.request.timeout, Duration::from_secs(2));
        assert_eq!(
            p.templates["spare"].request.timeout, DEFAULT_REQUEST_TIMEOUT,
            "the profile's request_timeout"
        );
        assert!(p.transaction_names().contains(&"stats".to_string()));
        // A mix of both kinds: built-in first.
        let both = parse_in(&TEMPLATES.replace("spare = 0", "spare = 0\ncheckout = 1")).unwrap();
        assert_eq!(both.mix[0], (TransactionKind::Checkout.into(), 1));
        assert!(both.has_builtins());
    }

    #[test]
    fn template_errors_name_file_line_and_column() {
        let cases: Vec<(String, &str)> = vec![
            (
                TEMPLATES.replace("/stats?seed={{seed}}", "/stats?n={{fake.int}}&u={{user}}"),
                "p.toml:18:33: unknown variable `user`",
            ),
            (
                TEMPLATES.replace("by = \"{{fake.name}}\"", "by = \"{{fake.colour}}\""),
                "p.toml:14:55: unknown fake data `fake.colour`",
            ),
            (
                TEMPLATES.replace("{{secret.token}}", "{{secret.tokn}}"),
                "p.toml:13:24: unknown secret `tokn`; [secrets] of gauntlet.toml declares: token",
            ),
            (
                TEMPLATES.replace("stats = 2", "stats = 2\nstatz = 1"),
                "p.toml:7:1: unknown transaction `statz`; known: browse_list, browse_detail, cart_add, \
                 checkout, webhook, orders_list, hot_checkout, checkout_replay, webhook_replay \
                 (built in); this profile's own: publish, spare, stats",
            ),
            (
                TEMPLATES.replace("spare = 0\n", ""),
                "p.toml:20:15: transaction `spare` is declared but not in [mix]",
            ),
            (
                TEMPLATES.replace("timeout = \"2s\"", "timeout = \"2s\"\ncapture = { id = \"/id\" }"),
                "p.toml:20:18: transaction `stats`: `capture` is for journey steps",
            ),
            (
                TEMPLATES.replace("timeout = \"2s\"", "eventually = { within = \"1s\" }"),
                "p.toml:19:14: transaction `stats`: `eventually` is for journey steps",
            ),
            (
                TEMPLATES.replace("endpoint = \"ingest\"", "endpoint = \"queue\""),
                "p.toml:11:12: unknown endpoint `queue`; [endpoints] of gauntlet.toml declares: api, ingest",
            ),
            (
                TEMPLATES.replace("method = \"POST\"", "method = \"FETCH\""),
                "p.toml:10:10: method: `FETCH` is not an HTTP method",
            ),
            (
                TEMPLATES.replace("status = 202", "stat = 202"),
                "p.toml:15:10: expect: unknown key `stat`",
            ),
            (
                TEMPLATES.replace("path = \"/spare\"", "pth = \"/spare\""),
                "p.toml:22:1: unknown field `pth`",
            ),
            (
                TEMPLATES.replace("path = \"/spare\"", "method = \"GET\""),
                "p.toml:21:15: a request needs a `path`",
            ),
            (
                TEMPLATES.replace("[transactions.spare]", "[transactions.checkout]").replace("spare = 0", "checkout = 0"),
                "p.toml:21:15: `checkout` is a built-in transaction",
            ),
            (
                TEMPLATES
                    .replace("[transactions.spare]", "[transactions.login]")
                    .replace("spare = 0", "login = 1\ncheckout = 1"),
                "p.toml:22:15: the built-in transactions of this mix record their setup requests as",
            ),
        ];
        let mut wrong = Vec::new();
        for (text, expected) in cases {
            let shown = match parse_in(&text) {
                Ok(_) => "(parsed)".to_string(),
                Err(e) => e.to_string(),
            };
            if !shown.starts_with(expected) {
                wrong.push(format!("expected: {expected}\n     got: {shown}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // Without the project, the profile's own transactions cannot be checked.
        let e = Profile::parse(TEMPLATES, "p.toml", "p")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("p.toml:9:15: a profile's own transactions are checked against"),
            "{e}"
        );
        // A template named like a setup request is fine without built-ins.
        parse_in(
            &TEMPLATES
                .replace("[transactions.spare]", "[transactions.login]")
                .replace("spare = 0", "login = 1"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}
