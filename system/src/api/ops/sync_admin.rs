//! `GET /admin/sync/jobs?status=&limit=` (`X-Admin-Token`): the newest sync
//! jobs, optionally of one status, and the row count per status.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::OpsState;
use crate::http::{check_admin, AppError};
use crate::sync_queue::{self, STATUSES};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize)]
pub struct JobParams {
    status: Option<String>,
    limit: Option<String>,
}

pub async fn jobs(
    State(state): State<OpsState>,
    headers: HeaderMap,
    params: Result<Query<JobParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    check_admin(state.admin_token.as_ref(), &headers)?;
    let Query(params) = params?;
    let status = match params
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) if STATUSES.contains(&s) => Some(s.to_owned()),
        Some(_) => {
            return Err(AppError::invalid(
                "status",
                format!("must be one of {}", STATUSES.join(", ")),
            ))
        }
    };
    let limit = match params
        .limit
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(AppError::invalid(
                    "limit",
                    format!("must be an integer from 1 to {MAX_LIMIT}"),
                ))
            }
        },
    };
    let (jobs, counts) = tokio::try_join!(
        sync_queue::list(&state.db, status.as_deref(), limit),
        sync_queue::counts(&state.db)
    )?;
    Ok(Json(json!({"jobs": jobs, "counts": counts})))
}
