//! Load profiles: one TOML file per profile (`scenarios/profiles/*.toml`).
//!
//! A profile names the load model (`mode = "closed"`: a number of users
//! looping with think time; `mode = "open"`: a fixed arrival rate), its
//! phases, the transaction mix and the compose variables the stack needs
//! to take the load (`[system]`). Parsing is strict: unknown keys, zero or
//! negative users, unknown transactions, zero durations and bad modes are
//! errors that name `FILE:LINE:COL`.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
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
}

impl TransactionKind {
    pub const ALL: [TransactionKind; 6] = [
        TransactionKind::BrowseList,
        TransactionKind::BrowseDetail,
        TransactionKind::CartAdd,
        TransactionKind::Checkout,
        TransactionKind::Webhook,
        TransactionKind::OrdersList,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TransactionKind::BrowseList => "browse_list",
            TransactionKind::BrowseDetail => "browse_detail",
            TransactionKind::CartAdd => "cart_add",
            TransactionKind::Checkout => "checkout",
            TransactionKind::Webhook => "webhook",
            TransactionKind::OrdersList => "orders_list",
        }
    }

    pub fn from_name(name: &str) -> Option<TransactionKind> {
        TransactionKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The message for a transaction name that is not one of ours.
    pub(crate) fn unknown_message(name: &str) -> String {
        let known: Vec<&str> = TransactionKind::ALL.iter().map(|k| k.name()).collect();
        if name == "feed_read" {
            format!(
                "transaction `feed_read` is not available yet: it arrives with the feed \
                 endpoint (GET /api/v1/feed); known: {}",
                known.join(", ")
            )
        } else {
            format!("unknown transaction `{name}`; known: {}", known.join(", "))
        }
    }
}

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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub name: String,
    pub description: Option<String>,
    pub mode: Mode,
    /// Closed mode: the highest user count of any phase. Open mode: the
    /// user pool that carries the schedule.
    pub users: u32,
    pub phases: Vec<Phase>,
    /// Transactions with a weight above 0, in [`TransactionKind::ALL`] order.
    pub mix: Vec<(TransactionKind, u32)>,
    pub think_time: Option<ThinkTime>,
    pub request_timeout: Duration,
    /// Compose variables the stack needs for this load (`[system]`), e.g.
    /// `GAUNTLET_RATE_LIMIT_STANDARD = "10000000/60s"`.
    pub system: BTreeMap<String, String>,
    /// The file it came from, when it came from one.
    pub source: Option<PathBuf>,
}

impl Profile {
    /// Reads and validates a profile file. The profile's name defaults to
    /// the file stem.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
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
        let mut profile = Profile::parse(&text, &file, &stem)?;
        profile.source = Some(path.to_path_buf());
        Ok(profile)
    }

    /// `dir/<name>.toml`.
    pub fn load_named(dir: &Path, name: &str) -> Result<Profile, ProfileError> {
        Profile::load(&dir.join(format!("{name}.toml")))
    }

    /// Parses profile text. `file` is only used in error messages;
    /// `default_name` is the name when the text has no `name` key.
    pub fn parse(text: &str, file: &str, default_name: &str) -> Result<Profile, ProfileError> {
        let src = Source { file, text };
        let raw: RawProfile = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        validate(raw, &src, default_name)
    }

    /// Sum of the phase durations.
    pub fn total_duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// Weight of `kind` in the mix (0 when absent).
    pub fn weight(&self, kind: TransactionKind) -> u32 {
        self.mix
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, w)| *w)
            .unwrap_or(0)
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

fn valid_name(name: &str) -> bool {
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

fn validate(raw: RawProfile, src: &Source, default_name: &str) -> Result<Profile, ProfileError> {
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
    let mut weights: BTreeMap<TransactionKind, u32> = BTreeMap::new();
    for (key, weight) in mix_raw.get_ref() {
        let Some(kind) = TransactionKind::from_name(key.get_ref()) else {
            return Err(src.at(key.span(), TransactionKind::unknown_message(key.get_ref())));
        };
        let w = *weight.get_ref();
        if w < 0 {
            return Err(src.at(
                weight.span(),
                format!("weight of {} must be 0 or more, not {w}", kind.name()),
            ));
        }
        if w > 1_000_000 {
            return Err(src.at(
                weight.span(),
                format!("weight of {} is too large ({w})", kind.name()),
            ));
        }
        weights.insert(kind, w as u32);
    }
    let mix: Vec<(TransactionKind, u32)> = TransactionKind::ALL
        .into_iter()
        .filter_map(|k| weights.get(&k).filter(|w| **w > 0).map(|w| (k, *w)))
        .collect();
    if mix.is_empty() {
        return Err(src.at(
            mix_raw.span(),
            "the mix has no transaction with a weight above 0",
        ));
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

    Ok(Profile {
        name,
        description: raw.description,
        mode,
        users,
        phases,
        mix,
        think_time,
        request_timeout,
        system,
        source: None,
    })
}

#[cfg(test)]
mod tests {
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
                (TransactionKind::BrowseList, 40),
                (TransactionKind::BrowseDetail, 30),
                (TransactionKind::Webhook, 5)
            ]
        );
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
        for name in ["smoke", "ci", "release", "stress", "soak"] {
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
        let release = Profile::load_named(&dir, "release").unwrap();
        assert_eq!(release.users, 1000);
        assert_eq!(release.phases.len(), 3);
        let stress = Profile::load_named(&dir, "stress").unwrap();
        assert_eq!(stress.users, 10_000);
        let soak = Profile::load_named(&dir, "soak").unwrap();
        assert!(soak.total_duration() >= Duration::from_secs(30 * 60));
        assert!(soak.users <= 50);
    }
}
