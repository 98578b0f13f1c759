//! The credit ledger (SYSTEM-SPEC 8.3) in Postgres.
//!
//! Every change is one READ COMMITTED transaction that first locks the
//! account row (`SELECT ... FOR UPDATE`), so changes to one account run one
//! at a time. Under that lock the idempotency key is looked up; a known key
//! answers with what it did the first time and changes nothing. Otherwise
//! `gauntlet_rules::ledger::decide_*` decides the deltas, and the
//! reservation or grant row, the new balances and one ledger row per delta
//! are written before the commit. Concurrent identical requests therefore
//! queue on the account lock and all but the first find the key: one
//! reservation, one ledger entry, no error. The unique indexes on
//! `(account_id, idempotency_key)` (inserts use `ON CONFLICT DO NOTHING`)
//! and the balance CHECKs back that up.
//!
//! Ledger keys: a reservation's entry carries its key, an override top-up
//! `{key}:override`, a consume `{key}:consume`, a release `{key}:release`;
//! a grant's entry carries the grant's key.

use gauntlet_rules::ledger::{self, Balances, Delta, EntryKind, LedgerError, ResStatus};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::{name_of, parse_column, Corrupt};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: i64,
    pub mode: String,
    pub status: String,
    pub wallet: i64,
    pub reserved: i64,
    pub available: i64,
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    mode: String,
    status: String,
    wallet: i64,
    reserved: i64,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            id: r.id,
            mode: r.mode,
            status: r.status,
            wallet: r.wallet,
            reserved: r.reserved,
            available: r.wallet - r.reserved,
        }
    }
}

impl Account {
    fn balances(&self) -> Balances {
        Balances {
            wallet: self.wallet,
            reserved: self.reserved,
        }
    }

    fn can_reserve(&self) -> bool {
        self.status == "active" && self.mode == "CREDIT"
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Reservation {
    pub id: i64,
    pub amount: i64,
    pub status: String,
    pub idempotency_key: String,
    pub ref_type: String,
    pub ref_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Entry {
    pub seq: i64,
    pub kind: String,
    pub wallet_delta: i64,
    pub reserved_delta: i64,
    pub idempotency_key: Option<String>,
    pub reservation_id: Option<i64>,
}

/// An account's ledger; the sums equal its balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub entries: Vec<Entry>,
    pub wallet_sum: i64,
    pub reserved_sum: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("billing account not found")]
    AccountNotFound,
    #[error("reservation not found")]
    ReservationNotFound,
    #[error("the account is {status} in {mode} mode; reservations need an active CREDIT account")]
    AccountInactive { status: String, mode: String },
    #[error(transparent)]
    Rules(#[from] LedgerError),
    #[error("the amount would take a balance past the largest storable value")]
    Overflow,
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// First time (`Created`) or a known idempotency key (`Replayed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Replayed,
}

/// Whether a consume or release changed something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    Consume,
    Release,
}

/// Which reservation a consume or release means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Id(i64),
    /// The latest reservation with this reference.
    Ref {
        ref_type: String,
        ref_id: String,
    },
}

pub struct ReserveRequest<'a> {
    pub amount: i64,
    pub idempotency_key: &'a str,
    pub ref_type: &'a str,
    pub ref_id: &'a str,
    pub operator_override: bool,
}

const ACCOUNT_COLUMNS: &str = "id, mode, status, wallet, reserved";
const RESERVATION_COLUMNS: &str = "id, amount, status, idempotency_key, ref_type, ref_id";

pub async fn create_account(
    pool: &PgPool,
    mode: &str,
    status: &str,
) -> Result<Account, sqlx::Error> {
    let row: AccountRow = sqlx::query_as(&format!(
        "INSERT INTO billing_accounts (mode, status) VALUES ($1, $2) RETURNING {ACCOUNT_COLUMNS}"
    ))
    .bind(mode)
    .bind(status)
    .fetch_one(pool)
    .await?;
    Ok(row.into())
}

pub async fn account(pool: &PgPool, id: i64) -> Result<Option<Account>, sqlx::Error> {
    let row: Option<AccountRow> = sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM billing_accounts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Account::from))
}

/// The account row, locked until the transaction ends.
async fn lock_account(conn: &mut PgConnection, id: i64) -> Result<Account, BillingError> {
    let row: Option<AccountRow> = sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM billing_accounts WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(Account::from).ok_or(BillingError::AccountNotFound)
}

/// Reserves credits (or finds the reservation of a known key).
pub async fn reserve(
    pool: &PgPool,
    account_id: i64,
    req: &ReserveRequest<'_>,
) -> Result<(Outcome, Reservation, Account), BillingError> {
    let mut tx = pool.begin().await?;
    let account = lock_account(&mut tx, account_id).await?;
    let known: Option<Reservation> = sqlx::query_as(&format!(
        "SELECT {RESERVATION_COLUMNS} FROM billing_reservations
         WHERE account_id = $1 AND idempotency_key = $2"
    ))
    .bind(account_id)
    .bind(req.idempotency_key)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(existing) = known {
        tx.rollback().await?;
        return Ok((Outcome::Replayed, existing, account));
    }
    if !account.can_reserve() {
        return Err(BillingError::AccountInactive {
            status: account.status,
            mode: account.mode,
        });
    }
    let deltas = ledger::decide_reserve(account.balances(), req.amount, req.operator_override)?;
    let inserted: Option<Reservation> = sqlx::query_as(&format!(
        "INSERT INTO billing_reservations (account_id, amount, idempotency_key, ref_type, ref_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account_id, idempotency_key) DO NOTHING
         RETURNING {RESERVATION_COLUMNS}"
    ))
    .bind(account_id)
    .bind(req.amount)
    .bind(req.idempotency_key)
    .bind(req.ref_type)
    .bind(req.ref_id)
    .fetch_optional(&mut *tx)
    .await?;
    // The account lock makes a conflict impossible; should the index ever
    // disagree, the stored reservation wins and nothing changes.
    let Some(reservation) = inserted else {
        tx.rollback().await?;
        return replay_reservation(pool, account_id, req.idempotency_key).await;
    };
    let key_of = |d: &Delta| match d.kind {
        EntryKind::Override => format!("{}:override", req.idempotency_key),
        _ => req.idempotency_key.to_owned(),
    };
    let account = apply(&mut tx, &account, &deltas, Some(reservation.id), key_of).await?;
    tx.commit().await?;
    Ok((Outcome::Created, reservation, account))
}

async fn replay_reservation(
    pool: &PgPool,
    account_id: i64,
    key: &str,
) -> Result<(Outcome, Reservation, Account), BillingError> {
    let reservation: Reservation = sqlx::query_as(&format!(
        "SELECT {RESERVATION_COLUMNS} FROM billing_reservations
         WHERE account_id = $1 AND idempotency_key = $2"
    ))
    .bind(account_id)
    .bind(key)
    .fetch_one(pool)
    .await?;
    let account = account(pool, account_id)
        .await?
        .ok_or(BillingError::AccountNotFound)?;
    Ok((Outcome::Replayed, reservation, account))
}

/// Consumes or releases a reservation; a repeat is a no-op (`false`).
pub async fn settle(
    pool: &PgPool,
    account_id: i64,
    target: &Target,
    how: Settle,
) -> Result<(bool, Reservation, Account), BillingError> {
    let mut tx = pool.begin().await?;
    let account = lock_account(&mut tx, account_id).await?;
    let found: Option<Reservation> = match target {
        Target::Id(id) => {
            sqlx::query_as(&format!(
                "SELECT {RESERVATION_COLUMNS} FROM billing_reservations
                 WHERE account_id = $1 AND id = $2"
            ))
            .bind(account_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        }
        Target::Ref { ref_type, ref_id } => {
            sqlx::query_as(&format!(
                "SELECT {RESERVATION_COLUMNS} FROM billing_reservations
                 WHERE account_id = $1 AND ref_type = $2 AND ref_id = $3
                 ORDER BY id DESC LIMIT 1"
            ))
            .bind(account_id)
            .bind(ref_type)
            .bind(ref_id)
            .fetch_optional(&mut *tx)
            .await?
        }
    };
    let reservation = found.ok_or(BillingError::ReservationNotFound)?;
    let status: ResStatus = parse_column("reservation status", &reservation.status)?;
    let (decided, next, suffix) = match how {
        Settle::Consume => (
            ledger::decide_consume(status, reservation.amount)?,
            ResStatus::Consumed,
            "consume",
        ),
        Settle::Release => (
            ledger::decide_release(status, reservation.amount)?,
            ResStatus::Released,
            "release",
        ),
    };
    let Some(delta) = decided else {
        tx.rollback().await?;
        return Ok((false, reservation, account));
    };
    let reservation: Reservation = sqlx::query_as(&format!(
        "UPDATE billing_reservations SET status = $2, updated_at = now()
         WHERE id = $1 RETURNING {RESERVATION_COLUMNS}"
    ))
    .bind(reservation.id)
    .bind(name_of(&next))
    .fetch_one(&mut *tx)
    .await?;
    let key = format!("{}:{suffix}", reservation.idempotency_key);
    let account = apply(&mut tx, &account, &[delta], Some(reservation.id), |_| {
        key.clone()
    })
    .await?;
    tx.commit().await?;
    Ok((true, reservation, account))
}

/// Adds credits (`reason` grant, topup or adjustment) unless the key is known.
pub async fn grant(
    pool: &PgPool,
    account_id: i64,
    amount: i64,
    reason: EntryKind,
    idempotency_key: &str,
) -> Result<(Outcome, Account), BillingError> {
    let mut tx = pool.begin().await?;
    let account = lock_account(&mut tx, account_id).await?;
    let known: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM billing_grants WHERE account_id = $1 AND idempotency_key = $2",
    )
    .bind(account_id)
    .bind(idempotency_key)
    .fetch_optional(&mut *tx)
    .await?;
    if known.is_some() {
        tx.rollback().await?;
        return Ok((Outcome::Replayed, account));
    }
    let delta = ledger::decide_grant(amount, reason)?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO billing_grants (account_id, amount, reason, idempotency_key)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id, idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(account_id)
    .bind(amount)
    .bind(name_of(&reason))
    .bind(idempotency_key)
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_none() {
        tx.rollback().await?;
        return Ok((Outcome::Replayed, account));
    }
    let account = apply(&mut tx, &account, &[delta], None, |_| {
        idempotency_key.to_owned()
    })
    .await?;
    tx.commit().await?;
    Ok((Outcome::Created, account))
}

/// The account's ledger in order, or `None` for an unknown account.
pub async fn statement(pool: &PgPool, account_id: i64) -> Result<Option<Statement>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // One snapshot for the existence check and the entries.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM billing_accounts WHERE id = $1)")
            .bind(account_id)
            .fetch_one(&mut *tx)
            .await?;
    if !exists {
        return Ok(None);
    }
    let entries: Vec<Entry> = sqlx::query_as(
        "SELECT seq, kind, wallet_delta, reserved_delta, idempotency_key, reservation_id
         FROM billing_ledger WHERE account_id = $1 ORDER BY seq",
    )
    .bind(account_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let wallet_sum = entries.iter().map(|e| e.wallet_delta).sum();
    let reserved_sum = entries.iter().map(|e| e.reserved_delta).sum();
    Ok(Some(Statement {
        entries,
        wallet_sum,
        reserved_sum,
    }))
}

/// Writes the new balances and one ledger row per delta that moves
/// something, under the caller's lock on the account row.
async fn apply(
    conn: &mut PgConnection,
    account: &Account,
    deltas: &[Delta],
    reservation_id: Option<i64>,
    key_of: impl Fn(&Delta) -> String,
) -> Result<Account, BillingError> {
    let mut wallet = account.wallet;
    let mut reserved = account.reserved;
    for d in deltas {
        wallet = wallet.checked_add(d.wallet).ok_or(BillingError::Overflow)?;
        reserved = reserved
            .checked_add(d.reserved)
            .ok_or(BillingError::Overflow)?;
    }
    let row: AccountRow = sqlx::query_as(&format!(
        "UPDATE billing_accounts SET wallet = $2, reserved = $3, updated_at = now()
         WHERE id = $1 RETURNING {ACCOUNT_COLUMNS}"
    ))
    .bind(account.id)
    .bind(wallet)
    .bind(reserved)
    .fetch_one(&mut *conn)
    .await?;
    for d in deltas.iter().filter(|d| d.wallet != 0 || d.reserved != 0) {
        sqlx::query(
            "INSERT INTO billing_ledger
                 (account_id, kind, wallet_delta, reserved_delta, idempotency_key, reservation_id)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(account.id)
        .bind(name_of(&d.kind))
        .bind(d.wallet)
        .bind(d.reserved)
        .bind(key_of(d))
        .bind(reservation_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(row.into())
}
