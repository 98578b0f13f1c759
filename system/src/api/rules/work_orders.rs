//! Work orders (SYSTEM-SPEC 8.2), operator API (`X-Admin-Token`):
//! `/v1/repogen/work-orders[/{id}[/contract|/evidence|/status|/export]]`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gauntlet_rules::workorder::{EvidenceKind, Readiness, ReportType, Status, TransitionError};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::guard::{Admin, PathParam};
use super::validate::{Checks, Lines};
use super::{id_or, no_nul_in_json, MarketState};
use crate::http::{AppError, JsonBody};
use crate::rules_store::work_orders::{self as store, WorkOrder, WorkOrderError};

impl From<WorkOrderError> for AppError {
    fn from(e: WorkOrderError) -> Self {
        match e {
            WorkOrderError::NotFound => not_found(),
            WorkOrderError::Terminal(_) => {
                AppError::coded(StatusCode::CONFLICT, "REPO002", e.to_string())
            }
            WorkOrderError::Transition(ref t) => {
                let details = match t {
                    TransitionError::Invalid { .. } => None,
                    TransitionError::NotReady(r) => Some(missing_details(r)),
                };
                AppError::Coded {
                    status: StatusCode::CONFLICT,
                    code: t.code(),
                    message: e.to_string(),
                    details,
                }
            }
            WorkOrderError::Corrupt(c) => AppError::Internal(c.to_string()),
            WorkOrderError::Db(e) => AppError::Database(e),
        }
    }
}

/// `details` of a REPO001: what is missing, as text.
fn missing_details(r: &Readiness) -> BTreeMap<String, String> {
    let evidence: Vec<String> = r
        .missing_evidence
        .iter()
        .map(|g| {
            let kinds: Vec<&str> = g.kinds.iter().map(|k| k.as_str()).collect();
            format!("{} of {} (have {})", g.required, kinds.join("/"), g.have)
        })
        .collect();
    BTreeMap::from([
        ("missing_fields".to_owned(), r.missing_fields.join(", ")),
        ("missing_evidence".to_owned(), evidence.join(", ")),
    ])
}

fn not_found() -> AppError {
    AppError::NotFound {
        code: "REPO003",
        message: "work order not found".to_owned(),
    }
}

fn work_order_id(text: &str) -> Result<i64, AppError> {
    id_or(text, not_found)
}

fn check_fields(fields: &Map<String, Value>) -> Result<(), AppError> {
    let mut c = Checks::new();
    for (key, value) in fields {
        if key.contains('\0') {
            c.fail("fields", "keys must not contain NUL (U+0000)");
        } else {
            no_nul_in_json(&mut c, &format!("fields.{key}"), value);
        }
    }
    c.finish()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    report_type: ReportType,
    #[serde(default)]
    fields: Option<Map<String, Value>>,
}

/// `POST /v1/repogen/work-orders` → 201 WorkOrder (status DRAFT).
pub async fn create(
    State(state): State<MarketState>,
    _admin: Admin,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<WorkOrder>), AppError> {
    let fields = body.fields.unwrap_or_default();
    check_fields(&fields)?;
    let order = store::create(&state.db, body.report_type, fields).await?;
    tracing::info!(work_order_id = order.id, "work order created");
    Ok((StatusCode::CREATED, Json(order)))
}

/// `GET /v1/repogen/work-orders/{id}` → 200 WorkOrder | 404 `REPO003`.
pub async fn show(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
) -> Result<Json<WorkOrder>, AppError> {
    let id = work_order_id(&id)?;
    Ok(Json(store::get(&state.db, id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractBody {
    fields: Map<String, Value>,
}

/// `PATCH .../{id}/contract` `{fields}`: merge (null deletes) and snapshot.
pub async fn patch_contract(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<ContractBody>,
) -> Result<Json<WorkOrder>, AppError> {
    let id = work_order_id(&id)?;
    check_fields(&body.fields)?;
    Ok(Json(
        store::patch_contract(&state.db, id, body.fields).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBody {
    kind: EvidenceKind,
    #[serde(default)]
    caption: Option<String>,
}

pub const MAX_CAPTION_CHARS: usize = 1000;

/// `POST .../{id}/evidence` `{kind, caption?}` → 201 WorkOrder.
pub async fn add_evidence(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<EvidenceBody>,
) -> Result<(StatusCode, Json<WorkOrder>), AppError> {
    let id = work_order_id(&id)?;
    let mut c = Checks::new();
    if let Some(caption) = &body.caption {
        c.text("caption", caption, 0, MAX_CAPTION_CHARS, Lines::Many);
    }
    c.finish()?;
    let order = store::add_evidence(&state.db, id, body.kind, body.caption.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(order)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: Status,
}

/// `POST .../{id}/status` `{status}` → 200 | 409 `REPO002` / `REPO001`.
pub async fn set_status(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Json<WorkOrder>, AppError> {
    let id = work_order_id(&id)?;
    let order = store::set_status(&state.db, id, body.status).await?;
    Ok(Json(order))
}

/// `GET .../{id}/export` → the deterministic bundle.
pub async fn export(
    State(state): State<MarketState>,
    _admin: Admin,
    PathParam(id): PathParam,
) -> Result<Response, AppError> {
    let id = work_order_id(&id)?;
    let body = store::export(&state.db, id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
