//! The feed (SYSTEM-SPEC 8.4): `GET /api/v1/feed` (public, the bearer
//! user's cart is respected) and `POST /api/v1/admin/feed/items` (admin).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use gauntlet_rules::feed::{Kind, Lane};
use serde::Deserialize;
use serde_json::{json, Value};

use super::guard::{Admin, MaybeUser};
use super::validate::{Checks, Lines};
use super::MarketState;
use crate::http::{AppError, JsonBody};
use crate::rules_store::feed::{self as store, FeedError, NewItem, Request};

pub const DEFAULT_COMMUNITY: &str = "main";
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 50;
/// Items per insert request.
pub const MAX_ITEMS: usize = 1000;

impl From<FeedError> for AppError {
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::BadCursor => AppError::invalid("cursor", e.to_string()),
            FeedError::Db(e) => AppError::Database(e),
        }
    }
}

fn rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn community(c: &mut Checks, value: Option<&str>) -> String {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => DEFAULT_COMMUNITY.to_owned(),
        Some(v) => {
            c.text("community", v, 1, 100, Lines::One);
            v.to_owned()
        }
    }
}

/// Raw query parameters; empty values mean the default.
#[derive(Debug, Default, Deserialize)]
pub struct FeedParams {
    lane: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
    community: Option<String>,
}

/// `GET /api/v1/feed?lane=&cursor=&limit=&community=` → one page.
pub async fn page(
    State(state): State<MarketState>,
    MaybeUser(user): MaybeUser,
    params: Result<Query<FeedParams>, QueryRejection>,
) -> Result<Json<Value>, AppError> {
    let Query(params) = params?;
    let given = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    let mut c = Checks::new();
    let lane = match given(&params.lane) {
        None => Lane::ForYou,
        Some(text) => Lane::parse(text.trim()).unwrap_or_else(|| {
            c.fail(
                "lane",
                "must be for_you (or combined), following (or personal) or shop",
            );
            Lane::ForYou
        }),
    };
    let limit = match given(&params.limit) {
        None => DEFAULT_LIMIT,
        Some(text) => match text.trim().parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                c.fail("limit", format!("must be an integer from 1 to {MAX_LIMIT}"));
                DEFAULT_LIMIT
            }
        },
    };
    let community = community(&mut c, params.community.as_deref());
    c.finish()?;
    let cursor = given(&params.cursor);
    let req = Request {
        community: &community,
        lane,
        limit,
        cursor: cursor.as_deref().map(str::trim),
        viewer: user.map(|u| u.id),
        now_ms: Utc::now().timestamp_millis(),
    };
    let page = store::read(&state.db, &state.defects, &req).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|(item, score)| {
            json!({
                "id": item.id,
                "kind": item.kind,
                "seller_id": item.seller_id,
                "score": score,
                "created_at": rfc3339_ms(item.created_at_ms),
            })
        })
        .collect();
    Ok(Json(json!({
        "lane": lane.as_str(),
        "as_of": rfc3339_ms(page.as_of_ms),
        "items": items,
        "next_cursor": page.next_cursor,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    kind: Kind,
    seller_id: i64,
    created_at: String,
    signal: f64,
    fit: f64,
    #[serde(default)]
    hidden: Option<bool>,
    #[serde(default)]
    product_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsertBody {
    #[serde(default)]
    community: Option<String>,
    items: Vec<ItemBody>,
}

/// `POST /api/v1/admin/feed/items` → 201 `{ids}` (increasing, in item order).
pub async fn insert(
    State(state): State<MarketState>,
    _admin: Admin,
    JsonBody(body): JsonBody<InsertBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let mut c = Checks::new();
    let community = community(&mut c, body.community.as_deref());
    if body.items.is_empty() || body.items.len() > MAX_ITEMS {
        c.fail("items", format!("must hold 1 to {MAX_ITEMS} items"));
    }
    let mut items = Vec::with_capacity(body.items.len());
    for (i, item) in body.items.into_iter().enumerate() {
        let field = |name: &str| format!("items[{i}].{name}");
        let created_at = match DateTime::parse_from_rfc3339(item.created_at.trim()) {
            Ok(t) => t.with_timezone(&Utc),
            Err(_) => {
                c.fail(
                    &field("created_at"),
                    "must be an RFC 3339 timestamp, e.g. 2025-01-01T12:00:00Z",
                );
                DateTime::<Utc>::UNIX_EPOCH
            }
        };
        for (name, value) in [("signal", item.signal), ("fit", item.fit)] {
            if !(0.0..=1.0).contains(&value) {
                c.fail(&field(name), "must be a number from 0 to 1");
            }
        }
        items.push(NewItem {
            kind: item.kind,
            seller_id: item.seller_id,
            created_at,
            signal: item.signal,
            fit: item.fit,
            hidden: item.hidden.unwrap_or(false),
            product_id: item.product_id,
        });
    }
    c.finish()?;
    let ids = store::insert(&state.db, &community, &items).await?;
    Ok((StatusCode::CREATED, Json(json!({ "ids": ids }))))
}
