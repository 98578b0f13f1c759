//! Order events (SYSTEM-SPEC section 6): documents, the outbox row written
//! in the order's own transaction, and the defective direct publish.
//!
//! Document: `{"event_id","type","order_id","user_id","stage",...,"occurred_at"}`;
//! `order.created` adds `items` and `total`, `order.stage_changed` adds
//! `from_stage` and `reason`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::orders::Order;
use super::stages::Stage;
use crate::defects::{Defect, Defects};
use crate::redis_conn::RedisHandle;
use crate::streams::NOTIFY_STREAM;
use crate::telemetry::EVENTS_DIRECT;

pub const ORDER_CREATED: &str = "order.created";
pub const ORDER_STAGE_CHANGED: &str = "order.stage_changed";

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_id: Uuid,
    pub event_type: &'static str,
    pub order_id: i64,
    pub document: Value,
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn order_created(order: &Order) -> Event {
    let event_id = Uuid::new_v4();
    let items: Vec<Value> = order
        .items
        .iter()
        .map(|i| json!({"product_id": i.product_id, "producer_id": i.producer_id, "quantity": i.quantity}))
        .collect();
    Event {
        event_id,
        event_type: ORDER_CREATED,
        order_id: order.id,
        document: json!({
            "event_id": event_id,
            "type": ORDER_CREATED,
            "order_id": order.id,
            "user_id": order.user_id,
            "stage": order.stage,
            "total": order.total,
            "items": items,
            "occurred_at": rfc3339(order.created_at),
        }),
    }
}

pub fn stage_changed(
    order_id: i64,
    user_id: Option<i64>,
    from: Stage,
    to: Stage,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Event {
    let event_id = Uuid::new_v4();
    Event {
        event_id,
        event_type: ORDER_STAGE_CHANGED,
        order_id,
        document: json!({
            "event_id": event_id,
            "type": ORDER_STAGE_CHANGED,
            "order_id": order_id,
            "user_id": user_id,
            "stage": to.as_str(),
            "from_stage": from.as_str(),
            "reason": reason,
            "occurred_at": rfc3339(at),
        }),
    }
}

/// Writes the event to the outbox, inside the caller's transaction.
pub async fn write_outbox(conn: &mut PgConnection, event: &Event) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (event_id, event_type, aggregate_id, payload) VALUES ($1, $2, $3, $4)",
    )
    .bind(event.event_id)
    .bind(event.event_type)
    .bind(event.order_id)
    .bind(&event.document)
    .execute(conn)
    .await?;
    Ok(())
}

/// How long the defective direct publish waits for Redis.
const DIRECT_PUBLISH_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Defect `outbox_skipped_when_redis_down`: after the commit, `XADD` the
/// event straight to the stream. With Redis down the event is lost (logged).
pub async fn publish_directly_defective(redis: &RedisHandle, event: &Event) {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(NOTIFY_STREAM)
        .arg("*")
        .arg("event_id")
        .arg(event.event_id.to_string())
        .arg("data")
        .arg(event.document.to_string());
    let sent = tokio::time::timeout(DIRECT_PUBLISH_TIMEOUT, redis.query::<String>(&cmd))
        .await
        .unwrap_or(Err(crate::redis_conn::RedisCallError::Timeout(
            DIRECT_PUBLISH_TIMEOUT,
        )));
    match sent {
        Ok(_) => {
            metrics::counter!(EVENTS_DIRECT, "result" => "published").increment(1);
        }
        Err(e) => {
            metrics::counter!(EVENTS_DIRECT, "result" => "lost").increment(1);
            tracing::error!(
                event_id = %event.event_id,
                event_type = event.event_type,
                order_id = event.order_id,
                error = %e,
                "event lost: published directly to Redis, which failed (defect outbox_skipped_when_redis_down)"
            );
        }
    }
}

/// Records `event` for the order change in progress: an outbox row in the
/// same transaction, or, with the defect `outbox_skipped_when_redis_down`
/// on, nothing now and a direct publish after the commit ([`after_commit`]).
pub async fn emit(
    defects: &Defects,
    conn: &mut PgConnection,
    event: Event,
    deferred: &mut Vec<Event>,
) -> Result<(), sqlx::Error> {
    if defects.is_on(Defect::OutboxSkippedWhenRedisDown) {
        deferred.push(event);
        return Ok(());
    }
    write_outbox(conn, &event).await
}

/// Publishes what [`emit`] deferred; call only after a successful commit.
pub async fn after_commit(redis: &RedisHandle, deferred: Vec<Event>) {
    for event in deferred {
        publish_directly_defective(redis, &event).await;
    }
}
