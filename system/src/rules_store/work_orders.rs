//! Work orders (SYSTEM-SPEC 8.2) in Postgres: the order row, its evidence,
//! and one immutable snapshot per contract patch. Readiness is never
//! stored: it is computed by `gauntlet_rules::workorder::readiness` from
//! the fields and evidence whenever an order is read, so it cannot go
//! stale. Every change locks the order row first (`SELECT ... FOR UPDATE`).

use chrono::{DateTime, Utc};
use gauntlet_rules::valuation::{self, ValuationInput};
use gauntlet_rules::workorder::{
    self, EvidenceKind, Readiness, ReportType, Status, Transition, TransitionError,
};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use super::{name_of, parse_column, Corrupt};
use crate::market::idempotency::canonical_json;

#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub id: i64,
    pub kind: EvidenceKind,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkOrder {
    pub id: i64,
    pub report_type: ReportType,
    pub status: Status,
    pub fields: Map<String, Value>,
    pub evidence: Vec<Evidence>,
    pub readiness: Readiness,
    pub snapshot_version: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WorkOrder {
    fn evidence_kinds(&self) -> Vec<EvidenceKind> {
        self.evidence.iter().map(|e| e.kind).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkOrderError {
    #[error("work order not found")]
    NotFound,
    /// A contract patch or new evidence on a CANCELLED or CLOSED order.
    #[error("work order is {0}: its contract and evidence can no longer change")]
    Terminal(Status),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    report_type: String,
    status: String,
    fields: Value,
    snapshot_version: Option<i32>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, report_type, status, fields, snapshot_version, created_at, updated_at";

/// A new DRAFT order; `null` fields are left out.
pub async fn create(
    pool: &PgPool,
    report_type: ReportType,
    mut fields: Map<String, Value>,
) -> Result<WorkOrder, WorkOrderError> {
    fields.retain(|_, v| !v.is_null());
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO work_orders (report_type, fields) VALUES ($1, $2) RETURNING id",
    )
    .bind(name_of(&report_type))
    .bind(Value::Object(fields))
    .fetch_one(&mut *tx)
    .await?;
    let order = load(&mut tx, id, false).await?;
    tx.commit().await?;
    order.ok_or(WorkOrderError::NotFound)
}

pub async fn get(pool: &PgPool, id: i64) -> Result<WorkOrder, WorkOrderError> {
    let mut conn = pool.acquire().await?;
    load(&mut conn, id, false)
        .await?
        .ok_or(WorkOrderError::NotFound)
}

/// The order with its evidence and readiness; `lock` takes the row lock.
async fn load(
    conn: &mut PgConnection,
    id: i64,
    lock: bool,
) -> Result<Option<WorkOrder>, WorkOrderError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM work_orders WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let evidence: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, kind FROM work_order_evidence WHERE work_order_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let evidence = evidence
        .into_iter()
        .map(|(id, kind)| {
            Ok(Evidence {
                id,
                kind: parse_column("evidence kind", &kind)?,
            })
        })
        .collect::<Result<Vec<_>, Corrupt>>()?;
    let report_type: ReportType = parse_column("report type", &row.report_type)?;
    let fields = match row.fields {
        Value::Object(map) => map,
        other => {
            return Err(Corrupt {
                what: "work order fields",
                value: other.to_string(),
            }
            .into())
        }
    };
    let kinds: Vec<EvidenceKind> = evidence.iter().map(|e| e.kind).collect();
    let readiness = workorder::readiness(report_type, &fields, &kinds);
    Ok(Some(WorkOrder {
        id: row.id,
        report_type,
        status: parse_column("work order status", &row.status)?,
        fields,
        evidence,
        readiness,
        snapshot_version: row.snapshot_version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }))
}

async fn load_locked(conn: &mut PgConnection, id: i64) -> Result<WorkOrder, WorkOrderError> {
    load(conn, id, true).await?.ok_or(WorkOrderError::NotFound)
}

/// Merges `patch` into the fields (a `null` deletes the key) and stores
/// snapshot version n + 1 of the result.
pub async fn patch_contract(
    pool: &PgPool,
    id: i64,
    patch: Map<String, Value>,
) -> Result<WorkOrder, WorkOrderError> {
    let mut tx = pool.begin().await?;
    let order = load_locked(&mut tx, id).await?;
    if order.status.is_terminal() {
        return Err(WorkOrderError::Terminal(order.status));
    }
    let mut fields = order.fields.clone();
    for (key, value) in patch {
        if value.is_null() {
            fields.remove(&key);
        } else {
            fields.insert(key, value);
        }
    }
    let kinds = order.evidence_kinds();
    let readiness = workorder::readiness(order.report_type, &fields, &kinds);
    let version = order.snapshot_version.unwrap_or(0) + 1;
    let (input, output) = snapshot(&fields, &kinds, &readiness);
    sqlx::query(
        "INSERT INTO work_order_snapshots (work_order_id, version, input, output)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(version)
    .bind(input)
    .bind(output)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE work_orders SET fields = $2, snapshot_version = $3, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(Value::Object(fields))
    .bind(version)
    .execute(&mut *tx)
    .await?;
    let order = load_locked(&mut tx, id).await?;
    tx.commit().await?;
    Ok(order)
}

/// Snapshot input (fields + sorted evidence kinds) and output (readiness +
/// the valuation of the fields that are valuation inputs, null when those
/// do not form a valid input).
fn snapshot(
    fields: &Map<String, Value>,
    kinds: &[EvidenceKind],
    readiness: &Readiness,
) -> (Value, Value) {
    let valuation_part: Map<String, Value> = fields
        .iter()
        .filter(|(key, _)| valuation::INPUT_FIELDS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let valuation = serde_json::from_value::<ValuationInput>(Value::Object(valuation_part))
        .ok()
        .and_then(|input| valuation::evaluate(&input).ok())
        .map_or(Value::Null, |out| json!(out));
    let input = json!({"fields": fields, "evidence_kinds": sorted_kinds(kinds)});
    let output = json!({"readiness": readiness, "valuation": valuation});
    (input, output)
}

fn sorted_kinds(kinds: &[EvidenceKind]) -> Vec<String> {
    let mut names: Vec<String> = kinds.iter().map(name_of).collect();
    names.sort();
    names
}

/// Adds one piece of evidence.
pub async fn add_evidence(
    pool: &PgPool,
    id: i64,
    kind: EvidenceKind,
    caption: Option<&str>,
) -> Result<WorkOrder, WorkOrderError> {
    let mut tx = pool.begin().await?;
    let order = load_locked(&mut tx, id).await?;
    if order.status.is_terminal() {
        return Err(WorkOrderError::Terminal(order.status));
    }
    sqlx::query(
        "INSERT INTO work_order_evidence (work_order_id, kind, caption) VALUES ($1, $2, $3)",
    )
    .bind(id)
    .bind(name_of(&kind))
    .bind(caption)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE work_orders SET updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let order = load_locked(&mut tx, id).await?;
    tx.commit().await?;
    Ok(order)
}

/// Moves the order to `to` if the rules allow; the same status is a no-op.
pub async fn set_status(pool: &PgPool, id: i64, to: Status) -> Result<WorkOrder, WorkOrderError> {
    let mut tx = pool.begin().await?;
    let order = load_locked(&mut tx, id).await?;
    let has_snapshot = order.snapshot_version.is_some();
    match workorder::transition(order.status, to, has_snapshot, &order.readiness)? {
        Transition::NoOp => {
            tx.rollback().await?;
            Ok(order)
        }
        Transition::Moved => {
            sqlx::query("UPDATE work_orders SET status = $2, updated_at = now() WHERE id = $1")
                .bind(id)
                .bind(name_of(&to))
                .execute(&mut *tx)
                .await?;
            let order = load_locked(&mut tx, id).await?;
            tx.commit().await?;
            Ok(order)
        }
    }
}

/// The export bundle as canonical JSON text (keys sorted, no whitespace):
/// no ids, no timestamps, so identical inputs give identical bytes.
/// `bundle_sha256` is the SHA-256 of the canonical JSON of the other keys.
pub async fn export(pool: &PgPool, id: i64) -> Result<String, WorkOrderError> {
    let mut tx = pool.begin().await?;
    // The order and its snapshot from one consistent view.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let order = load(&mut tx, id, false)
        .await?
        .ok_or(WorkOrderError::NotFound)?;
    let snapshot = match order.snapshot_version {
        None => Value::Null,
        Some(version) => {
            let (input, output): (Value, Value) = sqlx::query_as(
                "SELECT input, output FROM work_order_snapshots
                 WHERE work_order_id = $1 AND version = $2",
            )
            .bind(id)
            .bind(version)
            .fetch_one(&mut *tx)
            .await?;
            json!({"version": version, "input": input, "output": output})
        }
    };
    tx.commit().await?;
    let mut bundle = json!({
        "report_type": order.report_type,
        "status": order.status,
        "fields": order.fields,
        "evidence_kinds": sorted_kinds(&order.evidence_kinds()),
        "snapshot": snapshot,
        "readiness": order.readiness,
    });
    let digest = hex::encode(Sha256::digest(canonical_json(&bundle).as_bytes()));
    bundle["bundle_sha256"] = Value::String(digest);
    Ok(canonical_json(&bundle))
}
