//! The credit ledger (SYSTEM-SPEC 8.3), operator API (`X-Admin-Token`):
//! `/v1/billing/accounts[/{id}[/reserve|/consume|/release|/grant|/ledger]]`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use gauntlet_rules::ledger::{EntryKind, LedgerError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::guard::{Admin, PathParam};
use super::validate::{Checks, Lines};
use super::{id_or, MarketState};
use crate::http::{AppError, JsonBody};
use crate::rules_store::billing::{
    self as store, Account, BillingError, Outcome, ReserveRequest, Settle, Statement, Target,
};

impl From<BillingError> for AppError {
    fn from(e: BillingError) -> Self {
        let conflict = |code, message: String| AppError::coded(StatusCode::CONFLICT, code, message);
        match e {
            BillingError::AccountNotFound => account_not_found(),
            BillingError::ReservationNotFound => AppError::NotFound {
                code: "CRED006",
                message: "reservation not found".to_owned(),
            },
            BillingError::AccountInactive { .. } => conflict("CRED004", e.to_string()),
            BillingError::Rules(rule) => match rule {
                LedgerError::InsufficientCredits {
                    available,
                    requested,
                } => conflict(
                    "CRED001",
                    format!("insufficient credits: available {available}, requested {requested}"),
                ),
                LedgerError::AlreadyConsumed => {
                    conflict("CRED002", "reservation already consumed".to_owned())
                }
                LedgerError::AlreadyReleased => {
                    conflict("CRED003", "reservation already released".to_owned())
                }
                LedgerError::AccountInactive => {
                    conflict("CRED004", "the account is not active".to_owned())
                }
                LedgerError::InvalidAmount => AppError::invalid("amount", "must be greater than 0"),
            },
            BillingError::Overflow => AppError::invalid("amount", e.to_string()),
            BillingError::Corrupt(c) => AppError::Internal(c.to_string()),
            BillingError::Db(e) => AppError::Database(e),
        }
    }
}

fn account_not_found() -> AppError {
    AppError::NotFound {
        code: "CRED005",
        message: "billing account not found".to_owned(),
    }
}

fn account_id(text: &str) -> Result<i64, AppError> {
    id_or(text, account_not_found)
}

/// 201 the first time, 200 for a known idempotency key.
fn status_of(outcome: Outcome) -> StatusCode {
    match outcome {
        Outcome::Created => StatusCode::CREATED,
        Outcome::Replayed => StatusCode::OK,
    }
}

/// Idempotency keys and references: one line of 1..=max characters.
fn key_text(c: &mut Checks, field: &str, value: &str, max: usize) {
    c.text(field, value, 1, max, Lines::One);
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub enum Mode {
    #[serde(rename = "CREDIT")]
    Credit,
    #[serde(rename = "POSTPAID")]
    Postpaid,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    #[default]
    Active,
    Suspended,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    mode: Mode,
    #[serde(default)]
    status: Option<AccountStatus>,
}

/// `POST /v1/billing/accounts` `{mode, status?}` → 201 Account.
pub async fn create_account(
    State(state): State<MarketState>,
    _admin: Admin,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Account>), AppError> {
    let mode = match body.mode {
        Mode::Credit => "CREDIT",
        Mode::Postpaid => "POSTPAID",
    };
    let status = match body.status.unwrap_or_default() {
        AccountStatus::Active => "active",
        AccountStatus::Suspended => "suspended",
    };
    let account = store::create_account(&state.db, mode, status).await?;
    tracing::info!(
        account_id = account.id,
        mode,
        status,
        "billing account created"
    );
    Ok((StatusCode::CREATED, Json(account)))
}

/// `GET /v1/billing/accounts/{id}` → Account | 404 `CRED005`.
pub async fn show(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
) -> Result<Json<Account>, AppError> {
    let id = account_id(&id)?;
    store::account(&state.db, id)
        .await?
        .map(Json)
        .ok_or_else(account_not_found)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveBody {
    #[serde(default)]
    amount: Option<i64>,
    idempotency_key: String,
    ref_type: String,
    ref_id: String,
    #[serde(default)]
    operator_override: Option<bool>,
}

/// `POST .../{id}/reserve` → 201 `{reservation, account}`; 200 for a known key.
pub async fn reserve(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<ReserveBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let id = account_id(&id)?;
    let amount = body.amount.unwrap_or(1);
    let mut c = Checks::new();
    if amount <= 0 {
        c.fail("amount", "must be greater than 0");
    }
    key_text(&mut c, "idempotency_key", &body.idempotency_key, 255);
    key_text(&mut c, "ref_type", &body.ref_type, 100);
    key_text(&mut c, "ref_id", &body.ref_id, 255);
    c.finish()?;
    let req = ReserveRequest {
        amount,
        idempotency_key: &body.idempotency_key,
        ref_type: &body.ref_type,
        ref_id: &body.ref_id,
        operator_override: body.operator_override.unwrap_or(false),
    };
    let (outcome, reservation, account) = store::reserve(&state.db, id, &req).await?;
    Ok((
        status_of(outcome),
        Json(json!({"reservation": reservation, "account": account})),
    ))
}

/// `{reservation_id}` or `{ref_type, ref_id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleBody {
    #[serde(default)]
    reservation_id: Option<i64>,
    #[serde(default)]
    ref_type: Option<String>,
    #[serde(default)]
    ref_id: Option<String>,
}

impl SettleBody {
    fn target(self) -> Result<Target, AppError> {
        match (self.reservation_id, self.ref_type, self.ref_id) {
            (Some(id), None, None) => Ok(Target::Id(id)),
            (None, Some(ref_type), Some(ref_id)) => {
                let mut c = Checks::new();
                key_text(&mut c, "ref_type", &ref_type, 100);
                key_text(&mut c, "ref_id", &ref_id, 255);
                c.finish()?;
                Ok(Target::Ref { ref_type, ref_id })
            }
            _ => Err(AppError::invalid(
                "body",
                "give either reservation_id or both ref_type and ref_id",
            )),
        }
    }
}

async fn settle(
    state: &MarketState,
    id: &str,
    body: SettleBody,
    how: Settle,
) -> Result<Json<Value>, AppError> {
    let id = account_id(id)?;
    let target = body.target()?;
    let (_changed, reservation, account) = store::settle(&state.db, id, &target, how).await?;
    Ok(Json(
        json!({"reservation": reservation, "account": account}),
    ))
}

/// `POST .../{id}/consume` → 200; repeat 200 unchanged; released → 409 `CRED003`.
pub async fn consume(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<SettleBody>,
) -> Result<Json<Value>, AppError> {
    settle(&state, &id, body, Settle::Consume).await
}

/// `POST .../{id}/release` → 200; repeat 200 unchanged; consumed → 409 `CRED002`.
pub async fn release(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<SettleBody>,
) -> Result<Json<Value>, AppError> {
    settle(&state, &id, body, Settle::Release).await
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    Grant,
    Topup,
    Adjustment,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    amount: i64,
    reason: Reason,
    idempotency_key: String,
}

/// `POST .../{id}/grant` → 201 `{account}`; 200 unchanged for a known key.
pub async fn grant(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<GrantBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let id = account_id(&id)?;
    let mut c = Checks::new();
    if body.amount <= 0 {
        c.fail("amount", "must be greater than 0");
    }
    key_text(&mut c, "idempotency_key", &body.idempotency_key, 255);
    c.finish()?;
    let reason = match body.reason {
        Reason::Grant => EntryKind::Grant,
        Reason::Topup => EntryKind::Topup,
        Reason::Adjustment => EntryKind::Adjustment,
    };
    let (outcome, account) =
        store::grant(&state.db, id, body.amount, reason, &body.idempotency_key).await?;
    Ok((status_of(outcome), Json(json!({"account": account}))))
}

/// `GET .../{id}/ledger` → `{entries, wallet_sum, reserved_sum}`.
pub async fn ledger(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
) -> Result<Json<Statement>, AppError> {
    let id = account_id(&id)?;
    store::statement(&state.db, id)
        .await?
        .map(Json)
        .ok_or_else(account_not_found)
}
