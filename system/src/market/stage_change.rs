//! Order stage changes: `POST /api/v1/orders/{id}/stage`, by a producer of
//! one of the order's items or an admin. One transaction: lock the order
//! row, check the transition, give stock back on cancellation (product rows
//! locked in ascending id order), update, history row, outbox row.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::checkout::{is_retryable, retry_pause, Ctx, MAX_RETRIES};
use super::events::{self, Event};
use super::orders::{self, Order};
use super::stages::{transition, Stage, Transition};
use super::stock;
use super::users::User;
use crate::telemetry::{STAGE_CHANGES, TX_RETRIES};

/// Who asks for the change.
#[derive(Debug, Clone)]
pub enum Actor {
    Admin,
    User(User),
}

impl Actor {
    fn label(&self) -> String {
        match self {
            Actor::Admin => "admin".to_owned(),
            Actor::User(u) => format!("user:{}", u.id),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("order not found")]
    NotFound,
    #[error("only a producer of the order's items or an admin may change its stage")]
    Forbidden,
    #[error("cannot move an order from {from} to {to}")]
    Invalid { from: Stage, to: Stage },
    #[error("moving from PACKING back to PREPARING needs a reason")]
    ReasonRequired,
    #[error("stored stage {0:?} is unknown")]
    Corrupt(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Applies the change; a repeat of the current stage returns the order
/// unchanged.
pub async fn change(
    ctx: Ctx<'_>,
    actor: &Actor,
    order_id: i64,
    to: Stage,
    reason: Option<&str>,
) -> Result<Order, StageError> {
    let mut attempt = 0;
    loop {
        let mut deferred = Vec::new();
        match change_once(ctx, actor, order_id, to, reason, &mut deferred).await {
            Err(StageError::Db(ref e)) if is_retryable(e) && attempt < MAX_RETRIES => {}
            Ok((order, changed)) => {
                if changed {
                    metrics::counter!(STAGE_CHANGES, "to" => to.as_str()).increment(1);
                }
                events::after_commit(ctx.redis, deferred).await;
                return Ok(order);
            }
            Err(e) => return Err(e),
        }
        attempt += 1;
        metrics::counter!(TX_RETRIES, "op" => "stage").increment(1);
        retry_pause(attempt).await;
    }
}

async fn change_once(
    ctx: Ctx<'_>,
    actor: &Actor,
    order_id: i64,
    to: Stage,
    reason: Option<&str>,
    deferred: &mut Vec<Event>,
) -> Result<(Order, bool), StageError> {
    let mut tx = ctx.db.begin().await?;
    let row: Option<(Option<i64>, String)> =
        sqlx::query_as("SELECT user_id, stage FROM orders WHERE id = $1 FOR UPDATE")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (buyer, stage) = row.ok_or(StageError::NotFound)?;
    authorize(&mut tx, actor, order_id, buyer).await?;
    let from: Stage = stage.parse().map_err(|_| StageError::Corrupt(stage))?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let restores_stock = match transition(from, to, reason.is_some()) {
        Transition::NoOp => {
            let order = orders::load(&mut tx, order_id).await?;
            tx.rollback().await?;
            return order.map(|o| (o, false)).ok_or(StageError::NotFound);
        }
        Transition::Invalid => return Err(StageError::Invalid { from, to }),
        Transition::ReasonRequired => return Err(StageError::ReasonRequired),
        Transition::Move { restores_stock } => restores_stock,
    };
    if restores_stock {
        stock::restore(&mut tx, order_id).await?;
    }
    let at: DateTime<Utc> = sqlx::query_scalar(
        "UPDATE orders SET stage = $2, updated_at = now() WHERE id = $1 RETURNING updated_at",
    )
    .bind(order_id)
    .bind(to.as_str())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO order_stage_history (order_id, from_stage, to_stage, reason, actor)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(order_id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(reason)
    .bind(actor.label())
    .execute(&mut *tx)
    .await?;
    let event = events::stage_changed(order_id, buyer, from, to, reason, at);
    events::emit(ctx.defects, &mut tx, event, deferred).await?;
    let order = orders::load(&mut tx, order_id)
        .await?
        .ok_or(StageError::NotFound)?;
    tx.commit().await?;
    Ok((order, true))
}

/// Admins may; a producer with an item in the order may; the buyer gets 403;
/// anyone else 404 (the order's existence is not revealed).
async fn authorize(
    conn: &mut PgConnection,
    actor: &Actor,
    order_id: i64,
    buyer: Option<i64>,
) -> Result<(), StageError> {
    let user = match actor {
        Actor::Admin => return Ok(()),
        Actor::User(user) => user,
    };
    if user.is_active_producer() {
        let sells: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM order_items WHERE order_id = $1 AND producer_id = $2)",
        )
        .bind(order_id)
        .bind(user.id)
        .fetch_one(&mut *conn)
        .await?;
        if sells {
            return Ok(());
        }
    }
    if buyer == Some(user.id) {
        Err(StageError::Forbidden)
    } else {
        Err(StageError::NotFound)
    }
}
