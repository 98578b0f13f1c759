//! A complete credit account in memory, built only from the `decide_*`
//! functions: what the system does in SQL, minus the SQL. In-process tests
//! (here and in the harness) drive it with random operation sequences and
//! check the ledger invariants.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{
    decide_consume, decide_grant, decide_release_with, decide_reserve_with, Balances, Delta,
    EntryKind, LedgerError, ResStatus,
};
use crate::Mistakes;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    Credit,
    Postpaid,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    Suspended,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub id: i64,
    pub amount: i64,
    pub status: ResStatus,
    pub idempotency_key: String,
    pub ref_type: String,
    pub ref_id: String,
}

/// One append-only ledger row.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1, 2, 3, ... in append order.
    pub seq: i64,
    pub kind: EntryKind,
    pub wallet_delta: i64,
    pub reserved_delta: i64,
    /// The request's key; `{key}:override`, `{key}:consume` and
    /// `{key}:release` for the rows a reservation's key leads to.
    pub idempotency_key: String,
    pub reservation_id: Option<i64>,
}

/// A request's result and whether it changed anything: a new reservation or
/// grant (HTTP 201) or a replay of a known key (200, no change); for
/// consume and release, `changed` is false on a repeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome<T> {
    pub value: T,
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error(transparent)]
    Rule(#[from] LedgerError),
    /// CRED006 (404).
    #[error("reservation {0} not found")]
    UnknownReservation(i64),
    /// The change would break `wallet ≥ 0`, `reserved ≥ 0` or
    /// `wallet − reserved ≥ 0` (the database's CHECK would refuse it), or
    /// overflow (a grant past `i64::MAX`). Within range the decisions never
    /// lead here; the property tests assert that.
    #[error("the change would leave balances {0:?} outside the allowed range")]
    Constraint(Option<Balances>),
}

#[derive(Clone, Debug)]
pub struct Ledger {
    mode: Mode,
    status: AccountStatus,
    mistakes: Mistakes,
    balances: Balances,
    reservations: Vec<Reservation>,
    by_key: HashMap<String, usize>,
    grants: HashSet<String>,
    entries: Vec<Entry>,
}

impl Ledger {
    /// An empty account (wallet 0, reserved 0).
    pub fn new(mode: Mode, status: AccountStatus) -> Self {
        Self::with_mistakes(mode, status, Mistakes::NONE)
    }

    /// An empty account whose decisions carry deliberate mistakes
    /// (`release_keeps_reserved`, `reserve_refuses_exact_available`).
    pub fn with_mistakes(mode: Mode, status: AccountStatus, mistakes: Mistakes) -> Self {
        Ledger {
            mode,
            status,
            mistakes,
            balances: Balances::default(),
            reservations: Vec::new(),
            by_key: HashMap::new(),
            grants: HashSet::new(),
            entries: Vec::new(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn status(&self) -> AccountStatus {
        self.status
    }

    /// Suspends or reactivates the account (only reservations care).
    pub fn set_status(&mut self, status: AccountStatus) {
        self.status = status;
    }

    pub fn balances(&self) -> Balances {
        self.balances
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn reservations(&self) -> &[Reservation] {
        &self.reservations
    }

    pub fn reservation(&self, id: i64) -> Option<&Reservation> {
        usize::try_from(id - 1)
            .ok()
            .and_then(|i| self.reservations.get(i))
    }

    /// The latest reservation for a reference (consume/release by ref).
    pub fn reservation_by_ref(&self, ref_type: &str, ref_id: &str) -> Option<&Reservation> {
        self.reservations
            .iter()
            .rev()
            .find(|r| r.ref_type == ref_type && r.ref_id == ref_id)
    }

    /// Reserves `amount` credits under `key`. Checks, in the system's
    /// order: the amount (422), a known key (the existing reservation,
    /// nothing changes, whatever the rest of the request says), the account
    /// (CRED004), the balances (CRED001 unless `operator_override`).
    pub fn reserve(
        &mut self,
        key: &str,
        amount: i64,
        ref_type: &str,
        ref_id: &str,
        operator_override: bool,
    ) -> Result<Outcome<Reservation>, BookError> {
        if amount <= 0 {
            return Err(LedgerError::InvalidAmount.into());
        }
        if let Some(&i) = self.by_key.get(key) {
            return Ok(Outcome {
                value: self.reservations[i].clone(),
                changed: false,
            });
        }
        if self.mode != Mode::Credit || self.status != AccountStatus::Active {
            return Err(LedgerError::AccountInactive.into());
        }
        let deltas = decide_reserve_with(self.balances, amount, operator_override, &self.mistakes)?;
        let id = self.reservations.len() as i64 + 1;
        let key_of = |d: &Delta| match d.kind {
            EntryKind::Override => format!("{key}:override"),
            _ => key.to_owned(),
        };
        self.apply(&deltas, Some(id), key_of)?;
        let reservation = Reservation {
            id,
            amount,
            status: ResStatus::Active,
            idempotency_key: key.to_owned(),
            ref_type: ref_type.to_owned(),
            ref_id: ref_id.to_owned(),
        };
        self.by_key.insert(key.to_owned(), self.reservations.len());
        self.reservations.push(reservation.clone());
        Ok(Outcome {
            value: reservation,
            changed: true,
        })
    }

    /// Consumes reservation `id`; a repeat changes nothing.
    pub fn consume(&mut self, id: i64) -> Result<Outcome<Reservation>, BookError> {
        self.settle(id, ResStatus::Consumed)
    }

    /// Releases reservation `id`; a repeat changes nothing.
    pub fn release(&mut self, id: i64) -> Result<Outcome<Reservation>, BookError> {
        self.settle(id, ResStatus::Released)
    }

    fn settle(&mut self, id: i64, to: ResStatus) -> Result<Outcome<Reservation>, BookError> {
        let r = self
            .reservation(id)
            .cloned()
            .ok_or(BookError::UnknownReservation(id))?;
        let (decided, suffix) = match to {
            ResStatus::Consumed => (decide_consume(r.status, r.amount)?, "consume"),
            _ => (
                decide_release_with(r.status, r.amount, &self.mistakes)?,
                "release",
            ),
        };
        let Some(delta) = decided else {
            return Ok(Outcome {
                value: r,
                changed: false,
            });
        };
        let key = format!("{}:{suffix}", r.idempotency_key);
        self.apply(&[delta], Some(id), |_| key.clone())?;
        let stored = &mut self.reservations[(id - 1) as usize];
        stored.status = to;
        Ok(Outcome {
            value: stored.clone(),
            changed: true,
        })
    }

    /// Adds credits under `key`; a known key returns the balances with no
    /// change.
    pub fn grant(
        &mut self,
        key: &str,
        amount: i64,
        reason: EntryKind,
    ) -> Result<Outcome<Balances>, BookError> {
        if amount <= 0 || !reason.is_grant_reason() {
            return Err(LedgerError::InvalidAmount.into());
        }
        if self.grants.contains(key) {
            return Ok(Outcome {
                value: self.balances,
                changed: false,
            });
        }
        let delta = decide_grant(amount, reason)?;
        self.apply(&[delta], None, |_| key.to_owned())?;
        self.grants.insert(key.to_owned());
        Ok(Outcome {
            value: self.balances,
            changed: true,
        })
    }

    /// Appends one entry per delta that moves something, after checking the
    /// new balances the way the database's CHECK constraints would.
    fn apply(
        &mut self,
        deltas: &[Delta],
        reservation_id: Option<i64>,
        key_of: impl Fn(&Delta) -> String,
    ) -> Result<(), BookError> {
        let mut b = Some(self.balances);
        for d in deltas {
            b = b.and_then(|b| {
                Some(Balances {
                    wallet: b.wallet.checked_add(d.wallet)?,
                    reserved: b.reserved.checked_add(d.reserved)?,
                })
            });
        }
        let next = b
            .filter(|b| b.wallet >= 0 && b.reserved >= 0 && b.wallet >= b.reserved)
            .ok_or(BookError::Constraint(b))?;
        for d in deltas.iter().filter(|d| d.wallet != 0 || d.reserved != 0) {
            self.entries.push(Entry {
                seq: self.entries.len() as i64 + 1,
                kind: d.kind,
                wallet_delta: d.wallet,
                reserved_delta: d.reserved,
                idempotency_key: key_of(d),
                reservation_id,
            });
        }
        self.balances = next;
        Ok(())
    }
}
