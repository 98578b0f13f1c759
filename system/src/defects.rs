//! Defect switches (SYSTEM-SPEC section 11).
//!
//! The reference system ships correct. Each switch re-enables one defect seen
//! in a real seed system, so the harness can prove that it catches it. The
//! switches come from `SYSTEM_DEFECTS`, a comma list; blanks around names and
//! empty entries are ignored, and an unknown name is a start-up error.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One defect that can be switched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    /// A retried checkout creates a second order and decrements stock twice.
    CheckoutIgnoresIdempotencyKey,
    /// Stock read then written without a row lock: concurrent checkouts oversell.
    StockCheckWithoutLock,
    /// `/api/healthz` says 200 ok while Postgres is down.
    HealthIgnoresDb,
    /// Idempotency key set before delivery: failed events are dropped.
    IdempotencyBeforeDelivery,
    /// The rate-limit counter stops at the limit and every request is allowed.
    RateLimitNeverDenies,
    /// One user's cart items are returned to another user.
    CartVisibleToOthers,
    /// A bad webhook signature is logged but the order is created.
    WebhookHmacNotEnforced,
    /// Feed ordered by score but paged by time.
    FeedCursorByTime,
    /// Events published straight to Redis; lost while Redis is down.
    OutboxSkippedWhenRedisDown,
}

impl Defect {
    /// Every switch, in the order of the spec's table.
    pub const ALL: [Defect; 9] = [
        Defect::CheckoutIgnoresIdempotencyKey,
        Defect::StockCheckWithoutLock,
        Defect::HealthIgnoresDb,
        Defect::IdempotencyBeforeDelivery,
        Defect::RateLimitNeverDenies,
        Defect::CartVisibleToOthers,
        Defect::WebhookHmacNotEnforced,
        Defect::FeedCursorByTime,
        Defect::OutboxSkippedWhenRedisDown,
    ];

    /// The switch name as written in `SYSTEM_DEFECTS`.
    pub fn name(self) -> &'static str {
        match self {
            Defect::CheckoutIgnoresIdempotencyKey => "checkout_ignores_idempotency_key",
            Defect::StockCheckWithoutLock => "stock_check_without_lock",
            Defect::HealthIgnoresDb => "health_ignores_db",
            Defect::IdempotencyBeforeDelivery => "idempotency_before_delivery",
            Defect::RateLimitNeverDenies => "rate_limit_never_denies",
            Defect::CartVisibleToOthers => "cart_visible_to_others",
            Defect::WebhookHmacNotEnforced => "webhook_hmac_not_enforced",
            Defect::FeedCursorByTime => "feed_cursor_by_time",
            Defect::OutboxSkippedWhenRedisDown => "outbox_skipped_when_redis_down",
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name in `SYSTEM_DEFECTS` that is not a known switch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown defect switch {name:?} in SYSTEM_DEFECTS; valid switches: {valid}",
    valid = valid_names()
)]
pub struct UnknownDefect {
    pub name: String,
}

fn valid_names() -> String {
    Defect::ALL.map(Defect::name).join(", ")
}

impl FromStr for Defect {
    type Err = UnknownDefect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Defect::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDefect { name: s.to_owned() })
    }
}

/// The set of switched-on defects. Empty by default: the system is correct.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects(BTreeSet<Defect>);

impl Defects {
    /// No defect on.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses a comma list such as `"health_ignores_db, feed_cursor_by_time"`.
    pub fn parse(list: &str) -> Result<Self, UnknownDefect> {
        list.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::parse)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Defects)
    }

    pub fn is_on(&self, defect: Defect) -> bool {
        self.0.contains(&defect)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Defect> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for Defects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Defect::name).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_lists_mean_no_defect() {
        for list in ["", " ", ",", " , ,"] {
            let defects = Defects::parse(list).unwrap();
            assert!(defects.is_empty(), "{list:?}");
        }
    }

    #[test]
    fn every_switch_round_trips_through_its_name() {
        for defect in Defect::ALL {
            assert_eq!(defect.name().parse::<Defect>(), Ok(defect));
        }
        let all = Defect::ALL.map(Defect::name).join(",");
        let defects = Defects::parse(&all).unwrap();
        assert!(Defect::ALL.iter().all(|d| defects.is_on(*d)));
        assert_eq!(defects.to_string().split(',').count(), 9);
    }

    #[test]
    fn list_with_spaces_and_repeats_parses() {
        let defects =
            Defects::parse(" health_ignores_db ,feed_cursor_by_time,health_ignores_db").unwrap();
        assert!(defects.is_on(Defect::HealthIgnoresDb));
        assert!(defects.is_on(Defect::FeedCursorByTime));
        assert!(!defects.is_on(Defect::StockCheckWithoutLock));
        assert_eq!(defects.iter().count(), 2);
    }

    #[test]
    fn unknown_name_is_an_error_naming_it_and_the_valid_ones() {
        let err = Defects::parse("health_ignores_db,health_ignores_dB").unwrap_err();
        assert_eq!(err.name, "health_ignores_dB");
        let msg = err.to_string();
        assert!(msg.contains("\"health_ignores_dB\""), "{msg}");
        for defect in Defect::ALL {
            assert!(msg.contains(defect.name()), "{msg} lacks {defect}");
        }
    }
}
