//! Credit ledger decisions (SYSTEM-SPEC 8.3, refined by the issue 6
//! contract A). The `decide_*` functions are pure: given the locked
//! balances (or a reservation's status) they say which deltas to append, or
//! why not. The system applies them in SQL with the balance row locked;
//! [`Ledger`] applies them in memory for tests. Keeping the decisions here
//! means both agree by construction.

use serde::{Deserialize, Serialize};

use crate::Mistakes;

mod book;

pub use book::{AccountStatus, BookError, Entry, Ledger, Mode, Outcome, Reservation};

/// An account's balances. The database keeps `wallet ≥ 0`, `reserved ≥ 0`
/// and `available ≥ 0`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balances {
    pub wallet: i64,
    pub reserved: i64,
}

impl Balances {
    /// `wallet − reserved`: what a new reservation may take.
    pub fn available(&self) -> i64 {
        self.wallet.saturating_sub(self.reserved)
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResStatus {
    Active,
    Consumed,
    Released,
}

/// One ledger row's change to the balances.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delta {
    pub wallet: i64,
    pub reserved: i64,
    pub kind: EntryKind,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Reserve,
    Consume,
    Release,
    Grant,
    Topup,
    Adjustment,
    /// The wallet top-up of an operator override (key `{key}:override`).
    Override,
}

impl EntryKind {
    pub const ALL: [EntryKind; 7] = [
        EntryKind::Reserve,
        EntryKind::Consume,
        EntryKind::Release,
        EntryKind::Grant,
        EntryKind::Topup,
        EntryKind::Adjustment,
        EntryKind::Override,
    ];

    /// The kinds a grant may carry as its `reason`.
    pub fn is_grant_reason(self) -> bool {
        matches!(
            self,
            EntryKind::Grant | EntryKind::Topup | EntryKind::Adjustment
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// CRED001 (409).
    #[error("insufficient credits: {available} available, {requested} requested")]
    InsufficientCredits { available: i64, requested: i64 },
    /// CRED002 (409): releasing a consumed reservation.
    #[error("reservation already consumed")]
    AlreadyConsumed,
    /// CRED003 (409): consuming a released reservation.
    #[error("reservation already released")]
    AlreadyReleased,
    /// 422: an amount ≤ 0, one whose balances would overflow, or (grant) a
    /// reason other than grant, topup or adjustment.
    #[error("amount must be a positive number of credits (and a grant's reason grant, topup or adjustment)")]
    InvalidAmount,
    /// CRED004 (409): reservations need an active account in CREDIT mode.
    #[error("reservations need an active account in CREDIT mode")]
    AccountInactive,
}

impl LedgerError {
    /// The spec's error code (`VALIDATION_FAILED` for an invalid amount,
    /// as the system's other 422s).
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::InsufficientCredits { .. } => "CRED001",
            LedgerError::AlreadyConsumed => "CRED002",
            LedgerError::AlreadyReleased => "CRED003",
            LedgerError::InvalidAmount => "VALIDATION_FAILED",
            LedgerError::AccountInactive => "CRED004",
        }
    }
}

/// Reserves `amount` against the locked balances. Short of credits, an
/// operator override first tops the wallet up by exactly the shortfall
/// (`[Override{wallet:+shortfall}, Reserve{reserved:+amount}]`), so
/// `available` ends at 0 and the top-up is visible in the ledger.
pub fn decide_reserve(
    b: Balances,
    amount: i64,
    operator_override: bool,
) -> Result<Vec<Delta>, LedgerError> {
    decide_reserve_with(b, amount, operator_override, &Mistakes::NONE)
}

/// [`decide_reserve`] with deliberate mistakes:
/// `reserve_refuses_exact_available` wants more than `amount` available.
pub fn decide_reserve_with(
    b: Balances,
    amount: i64,
    operator_override: bool,
    m: &Mistakes,
) -> Result<Vec<Delta>, LedgerError> {
    if amount <= 0 || b.reserved.checked_add(amount).is_none() {
        return Err(LedgerError::InvalidAmount);
    }
    let reserve = Delta {
        wallet: 0,
        reserved: amount,
        kind: EntryKind::Reserve,
    };
    let available = b.available();
    let enough = if m.reserve_refuses_exact_available {
        available > amount
    } else {
        available >= amount
    };
    if enough {
        return Ok(vec![reserve]);
    }
    if !operator_override {
        return Err(LedgerError::InsufficientCredits {
            available,
            requested: amount,
        });
    }
    let shortfall = amount
        .checked_sub(available)
        .filter(|s| b.wallet.checked_add(*s).is_some())
        .ok_or(LedgerError::InvalidAmount)?;
    Ok(vec![
        Delta {
            wallet: shortfall,
            reserved: 0,
            kind: EntryKind::Override,
        },
        reserve,
    ])
}

/// ACTIVE → CONSUMED spends the reserved credits (wallet and reserved both
/// drop). A repeat is a no-op (`None`) so a retried request succeeds;
/// consuming a released reservation is CRED003.
pub fn decide_consume(status: ResStatus, amount: i64) -> Result<Option<Delta>, LedgerError> {
    match status {
        ResStatus::Active => Ok(Some(Delta {
            wallet: -amount,
            reserved: -amount,
            kind: EntryKind::Consume,
        })),
        ResStatus::Consumed => Ok(None),
        ResStatus::Released => Err(LedgerError::AlreadyReleased),
    }
}

/// ACTIVE → RELEASED gives the reserved credits back to `available`. A
/// repeat is a no-op (`None`); releasing a consumed reservation is CRED002.
pub fn decide_release(status: ResStatus, amount: i64) -> Result<Option<Delta>, LedgerError> {
    decide_release_with(status, amount, &Mistakes::NONE)
}

/// [`decide_release`] with deliberate mistakes: `release_keeps_reserved`
/// forgets to lower `reserved`, so the credits stay locked for ever.
pub fn decide_release_with(
    status: ResStatus,
    amount: i64,
    m: &Mistakes,
) -> Result<Option<Delta>, LedgerError> {
    match status {
        ResStatus::Active => Ok(Some(Delta {
            wallet: 0,
            reserved: if m.release_keeps_reserved { 0 } else { -amount },
            kind: EntryKind::Release,
        })),
        ResStatus::Released => Ok(None),
        ResStatus::Consumed => Err(LedgerError::AlreadyConsumed),
    }
}

/// Adds `amount > 0` credits to the wallet under `reason` (grant, topup or
/// adjustment).
pub fn decide_grant(amount: i64, reason: EntryKind) -> Result<Delta, LedgerError> {
    if amount <= 0 || !reason.is_grant_reason() {
        return Err(LedgerError::InvalidAmount);
    }
    Ok(Delta {
        wallet: amount,
        reserved: 0,
        kind: reason,
    })
}

#[cfg(test)]
mod tests;
