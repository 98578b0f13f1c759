//! The HTTP API: Toxiproxy 2.x's routes, statuses and JSON.
//!
//! | route | answer |
//! |---|---|
//! | `GET /version` | `{"version": "..."}` |
//! | `POST /reset` | 204; every proxy enabled, every toxic removed |
//! | `GET /proxies` | map name → proxy |
//! | `POST /proxies` | 201 proxy; 409 if the name exists |
//! | `POST /populate` | 201 `{"proxies": [...]}` (create or replace) |
//! | `GET/POST/PATCH/DELETE /proxies/{proxy}` | proxy / updated proxy / 204 |
//! | `GET/POST /proxies/{proxy}/toxics` | toxic list / created toxic (200, as Toxiproxy) |
//! | `GET/POST/PATCH/DELETE /proxies/{proxy}/toxics/{toxic}` | toxic / updated toxic / 204 |
//!
//! Bodies are taken as bytes and decoded in [`input`], so that malformed
//! JSON gets Toxiproxy's `400 {"error":"bad request body: ...","status":400}`
//! rather than axum's own rejection text.

mod error;
mod input;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

pub use error::ApiError;
pub(crate) use input::proxy_list;

use crate::proxy::Registry;

/// The version `/version` reports: the Toxiproxy API level this server
/// implements, with this crate's version as SemVer build metadata.
pub const VERSION: &str = concat!("2.12.0+gauntlet-faultproxy.", env!("CARGO_PKG_VERSION"));

type Api = State<Arc<Registry>>;
type ApiResult = Result<Response, ApiError>;

/// The router, for a given registry.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/reset", post(reset))
        .route("/populate", post(populate))
        .route("/proxies", get(list_proxies).post(create_proxy))
        .route(
            "/proxies/{proxy}",
            get(show_proxy)
                .post(update_proxy)
                .patch(update_proxy)
                .delete(delete_proxy),
        )
        .route(
            "/proxies/{proxy}/toxics",
            get(list_toxics).post(create_toxic),
        )
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(show_toxic)
                .post(update_toxic)
                .patch(update_toxic)
                .delete(delete_toxic),
        )
        .with_state(registry)
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, Json(value)).into_response()
}

async fn version() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        format!("{{\"version\": \"{VERSION}\"}}\n"),
    )
        .into_response()
}

async fn reset(State(registry): Api) -> ApiResult {
    registry.reset().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_proxies(State(registry): Api) -> Response {
    json(StatusCode::OK, &registry.list().await)
}

async fn create_proxy(State(registry): Api, body: Bytes) -> ApiResult {
    let config = input::decode::<input::ProxyInput>(&body)?.into_config(None)?;
    Ok(json(StatusCode::CREATED, &registry.create(config).await?))
}

/// Toxiproxy answers populate with the proxies handled so far, and on
/// failure the error fields next to them, with the error's status.
async fn populate(State(registry): Api, body: Bytes) -> Response {
    #[derive(Serialize)]
    struct Answer {
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        error: Option<crate::model::ErrorBody>,
        proxies: Vec<crate::model::Proxy>,
    }
    let (proxies, error) = match proxy_list(&body) {
        Ok(configs) => registry.populate(configs).await,
        Err(err) => (Vec::new(), Some(err)),
    };
    let status = error.as_ref().map_or(StatusCode::CREATED, |e| e.status);
    let answer = Answer {
        error: error.map(|e| e.body()),
        proxies,
    };
    json(status, &answer)
}

async fn show_proxy(State(registry): Api, Path(proxy): Path<String>) -> ApiResult {
    Ok(json(StatusCode::OK, &registry.get(&proxy).await?))
}

async fn update_proxy(State(registry): Api, Path(proxy): Path<String>, body: Bytes) -> ApiResult {
    // As in Toxiproxy, an unknown proxy is reported before a bad body.
    registry.get(&proxy).await?;
    let patch = input::decode::<input::ProxyInput>(&body)?.into_patch();
    Ok(json(StatusCode::OK, &registry.update(&proxy, patch).await?))
}

async fn delete_proxy(State(registry): Api, Path(proxy): Path<String>) -> ApiResult {
    registry.delete(&proxy).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_toxics(State(registry): Api, Path(proxy): Path<String>) -> ApiResult {
    Ok(json(StatusCode::OK, &registry.toxics(&proxy).await?))
}

async fn create_toxic(State(registry): Api, Path(proxy): Path<String>, body: Bytes) -> ApiResult {
    registry.get(&proxy).await?;
    let toxic = input::new_toxic(&body)?;
    Ok(json(
        StatusCode::OK,
        &registry.add_toxic(&proxy, toxic).await?,
    ))
}

async fn show_toxic(
    State(registry): Api,
    Path((proxy, toxic)): Path<(String, String)>,
) -> ApiResult {
    Ok(json(StatusCode::OK, &registry.toxic(&proxy, &toxic).await?))
}

async fn update_toxic(
    State(registry): Api,
    Path((proxy, toxic)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let updated = registry
        .update_toxic(&proxy, &toxic, |current| {
            input::toxic_update(current, &body)
        })
        .await?;
    Ok(json(StatusCode::OK, &updated))
}

async fn delete_toxic(
    State(registry): Api,
    Path((proxy, toxic)): Path<(String, String)>,
) -> ApiResult {
    registry.remove_toxic(&proxy, &toxic).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
