//! Producer product CRUD: `POST /api/v1/products`,
//! `PATCH`/`DELETE /api/v1/products/{id}`, `POST /api/v1/products/{id}/restock`,
//! `GET /api/v1/producer/products`. Writes by the owning producer (active)
//! or an admin (`X-Admin-Token`); anyone else 403.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::guard::{claims_admin, CurrentUser, MaybeUser, PathParam};
use super::validate::{path_id, Checks, Lines};
use super::MarketState;
use crate::api::products::{last_page, ListParams, ListQuery};
use crate::catalog::ProductJson;
use crate::http::{AppError, JsonBody};
use crate::market::products::{self, NewProduct, ProductPatch, Restock, MAX_STOCK};
use crate::market::users::User;

const MAX_DESCRIPTION_CHARS: usize = 5000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    name: String,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    description: Option<String>,
    price: String,
    stock: i64,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    price: Option<String>,
    #[serde(default)]
    stock: Option<i64>,
    #[serde(default)]
    active: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestockRequest {
    quantity: i64,
}

fn product_not_found() -> AppError {
    AppError::NotFound {
        code: "INV002",
        message: "product not found".to_owned(),
    }
}

fn data(product: crate::catalog::ProductRow) -> Json<Value> {
    Json(json!({ "data": ProductJson::from(product) }))
}

pub async fn create(
    State(state): State<MarketState>,
    me: CurrentUser,
    JsonBody(body): JsonBody<CreateRequest>,
) -> Result<Response, AppError> {
    if !me.user.is_active_producer() {
        return Err(AppError::Forbidden(
            "only approved (active) producers may create products".into(),
        ));
    }
    let mut c = Checks::new();
    c.text("name", &body.name, 1, 200, Lines::One);
    if let Some(slug) = &body.slug {
        if !products::valid_slug(slug) {
            c.fail(
                "slug",
                "must be lowercase a-z 0-9 words joined by single hyphens, at most 100 characters",
            );
        }
    }
    let description = body.description.unwrap_or_default();
    c.text(
        "description",
        &description,
        0,
        MAX_DESCRIPTION_CHARS,
        Lines::Many,
    );
    let price_cents = c.price("price", &body.price);
    let stock = c.int_range("stock", body.stock, 0, i64::from(MAX_STOCK));
    c.finish()?;
    let new = NewProduct {
        name: body.name,
        slug: body.slug,
        description,
        price_cents,
        stock,
        active: body.active.unwrap_or(true),
    };
    let row = products::create(&state.db, me.user.id, &new)
        .await?
        .ok_or_else(|| AppError::invalid("slug", "has already been taken"))?;
    tracing::info!(
        product_id = row.id,
        producer_id = me.user.id,
        "product created"
    );
    Ok((StatusCode::CREATED, data(row)).into_response())
}

/// Who writes: an admin (valid `X-Admin-Token`) or the owning producer.
/// Returns the actor label for the stock history.
async fn authorize_write(
    state: &MarketState,
    headers: &HeaderMap,
    me: Option<User>,
    id: i64,
) -> Result<String, AppError> {
    let owner = products::owner(&state.db, id)
        .await?
        .ok_or_else(product_not_found)?;
    if claims_admin(headers) {
        crate::http::check_admin(state.admin_token.as_ref(), headers)?;
        return Ok("admin".to_owned());
    }
    let me = me.ok_or(AppError::Unauthorized)?;
    if me.is_active_producer() && me.id == owner {
        Ok(format!("user:{}", me.id))
    } else {
        Err(AppError::Forbidden(
            "only the producer who owns this product or an admin may change it".into(),
        ))
    }
}

pub async fn update(
    State(state): State<MarketState>,
    headers: HeaderMap,
    MaybeUser(me): MaybeUser,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<UpdateRequest>,
) -> Result<Json<Value>, AppError> {
    let id = path_id(&id).ok_or_else(product_not_found)?;
    let mut c = Checks::new();
    if let Some(name) = &body.name {
        c.text("name", name, 1, 200, Lines::One);
    }
    if let Some(d) = &body.description {
        c.text("description", d, 0, MAX_DESCRIPTION_CHARS, Lines::Many);
    }
    let price_cents = body.price.as_deref().map(|p| c.price("price", p));
    let stock = body
        .stock
        .map(|s| c.int_range("stock", s, 0, i64::from(MAX_STOCK)));
    c.finish()?;
    let actor = authorize_write(&state, &headers, me, id).await?;
    let patch = ProductPatch {
        name: body.name,
        description: body.description,
        price_cents,
        stock,
        active: body.active,
    };
    let row = products::update(&state.db, id, &patch, &actor)
        .await?
        .ok_or_else(product_not_found)?;
    Ok(data(row))
}

pub async fn remove(
    State(state): State<MarketState>,
    headers: HeaderMap,
    MaybeUser(me): MaybeUser,
    PathParam(id): PathParam,
) -> Result<StatusCode, AppError> {
    let id = path_id(&id).ok_or_else(product_not_found)?;
    authorize_write(&state, &headers, me, id).await?;
    if !products::delete(&state.db, id).await? {
        return Err(product_not_found());
    }
    tracing::info!(product_id = id, "product deleted");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn restock(
    State(state): State<MarketState>,
    headers: HeaderMap,
    MaybeUser(me): MaybeUser,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<RestockRequest>,
) -> Result<Json<Value>, AppError> {
    let id = path_id(&id).ok_or_else(product_not_found)?;
    let mut c = Checks::new();
    let quantity = c.int_range("quantity", body.quantity, 1, i64::from(MAX_STOCK));
    c.finish()?;
    let actor = authorize_write(&state, &headers, me, id).await?;
    match products::restock(&state.db, id, quantity, &actor).await? {
        Restock::Done(row) => Ok(data(row)),
        Restock::Gone => Err(product_not_found()),
        Restock::TooMuch => Err(AppError::invalid(
            "quantity",
            format!("stock would exceed {MAX_STOCK}"),
        )),
    }
}

pub async fn list_own(
    State(state): State<MarketState>,
    me: CurrentUser,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    if me.user.role != "producer" {
        return Err(AppError::Forbidden("only producers have products".into()));
    }
    let Query(params) = params?;
    let q = ListQuery::validate(params)?;
    let (rows, total) =
        products::list_own(&state.db, me.user.id, i64::from(q.per_page), q.offset()).await?;
    let data: Vec<ProductJson> = rows.into_iter().map(ProductJson::from).collect();
    Ok(Json(json!({
        "data": data,
        "current_page": q.page,
        "last_page": last_page(total, q.per_page),
        "per_page": q.per_page,
        "total": total,
    })))
}
