//! `GET /api/v1/orders`, `GET /api/v1/orders/{id}`,
//! `POST /api/v1/orders/{id}/stage`, `GET /api/v1/producer/orders`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::guard::{claims_admin, Admin, CurrentUser, PathParam};
use super::validate::{path_id, Checks, Lines};
use super::MarketState;
use crate::api::products::{last_page, ListParams, ListQuery};
use crate::http::{AppError, JsonBody};
use crate::market::orders::{self, Owner};
use crate::market::stage_change::{self, Actor, StageError};
use crate::market::stages::Stage;

fn order_not_found() -> AppError {
    AppError::NotFound {
        code: "ORD001",
        message: "order not found".to_owned(),
    }
}

async fn page(
    state: &MarketState,
    owner: Owner,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    let Query(params) = params?;
    let q = ListQuery::validate(params)?;
    let (data, total) = orders::list(&state.db, owner, i64::from(q.per_page), q.offset()).await?;
    Ok(Json(json!({
        "data": data,
        "current_page": q.page,
        "last_page": last_page(total, q.per_page),
        "per_page": q.per_page,
        "total": total,
    })))
}

/// The caller's own orders, newest first, paged like the catalog.
pub async fn list(
    State(state): State<MarketState>,
    me: CurrentUser,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    page(&state, Owner::Buyer(me.user.id), params).await
}

/// Orders holding at least one of the producer's products.
pub async fn list_for_producer(
    State(state): State<MarketState>,
    me: CurrentUser,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    if me.user.role != "producer" {
        return Err(AppError::Forbidden("only producers sell".into()));
    }
    page(&state, Owner::Producer(me.user.id), params).await
}

/// Own order → 200; anyone else's (or none) → 404 `ORD001`.
pub async fn show(
    State(state): State<MarketState>,
    me: CurrentUser,
    PathParam(id): PathParam,
) -> Result<Json<Value>, AppError> {
    let id = path_id(&id).ok_or_else(order_not_found)?;
    let mut conn = state.db.acquire().await?;
    let order = orders::load(&mut conn, id)
        .await?
        .filter(|o| o.user_id == Some(me.user.id))
        .ok_or_else(order_not_found)?;
    Ok(Json(json!({ "data": order })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRequest {
    stage: String,
    #[serde(default)]
    reason: Option<String>,
}

/// An admin (by `X-Admin-Token`) or a signed-in user.
pub struct StageActor(Actor);

impl FromRequestParts<MarketState> for StageActor {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &MarketState,
    ) -> Result<Self, Self::Rejection> {
        if claims_admin(&parts.headers) {
            Admin::from_request_parts(parts, state).await?;
            return Ok(StageActor(Actor::Admin));
        }
        let me = CurrentUser::from_request_parts(parts, state).await?;
        Ok(StageActor(Actor::User(me.user)))
    }
}

pub async fn stage(
    State(state): State<MarketState>,
    StageActor(actor): StageActor,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<StageRequest>,
) -> Result<Json<Value>, AppError> {
    let id = path_id(&id).ok_or_else(order_not_found)?;
    let mut c = Checks::new();
    let to = match body.stage.parse::<Stage>() {
        Ok(stage) => Some(stage),
        Err(message) => {
            c.fail("stage", message);
            None
        }
    };
    if let Some(reason) = &body.reason {
        c.text("reason", reason, 0, 500, Lines::Many);
    }
    c.finish()?;
    let to = to.expect("validated above");
    let order = stage_change::change(state.ctx(), &actor, id, to, body.reason.as_deref())
        .await
        .map_err(|e| match e {
            StageError::NotFound => order_not_found(),
            StageError::Forbidden => AppError::Forbidden(e.to_string()),
            StageError::Invalid { .. } => {
                AppError::coded(StatusCode::CONFLICT, "ORD002", e.to_string())
            }
            StageError::ReasonRequired => AppError::invalid("reason", e.to_string()),
            StageError::Corrupt(_) => AppError::Internal(e.to_string()),
            StageError::Db(db) => AppError::Database(db),
        })?;
    Ok(Json(json!({ "data": order })))
}
