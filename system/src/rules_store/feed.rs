//! The feed (SYSTEM-SPEC 8.4): items in Postgres, pages from
//! `gauntlet_rules::feed::page`.
//!
//! A page loads the community's candidates (not hidden, id ≤ the walk's
//! `max_id`, listings in the viewer's cart left out) and lets the rules
//! blend, score and cut them. The cursor carries the walk's `as_of` (scores
//! are computed for that instant on every page, so they do not drift while
//! a walk goes on), its `max_id` (items inserted after the walk started wait
//! for the next walk) and, per kind, the (score, id) of the last item
//! taken: the next page continues strictly below it. No item is skipped or
//! repeated, whatever is inserted meanwhile.
//!
//! Defect `feed_cursor_by_time` (SYSTEM-SPEC 11) is read here only: the
//! cursor keeps the `created_at` of the last item of each kind instead, and
//! the next page takes the items created strictly before it, still ordered
//! by score, which skips and repeats items.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use gauntlet_rules::feed::{self, Cursor, Item, Kind, Lane};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::name_of;
use crate::defects::{Defect, Defects};

/// One item to insert.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub kind: Kind,
    pub seller_id: i64,
    pub created_at: DateTime<Utc>,
    pub signal: f64,
    pub fit: f64,
    pub hidden: bool,
    pub product_id: Option<i64>,
}

/// Inserts `items` in order in one statement; their ids, increasing.
/// `created_at` is kept to the millisecond, the precision scores use.
pub async fn insert(
    pool: &PgPool,
    community: &str,
    items: &[NewItem],
) -> Result<Vec<i64>, sqlx::Error> {
    let kinds: Vec<String> = items.iter().map(|i| name_of(&i.kind)).collect();
    let sellers: Vec<i64> = items.iter().map(|i| i.seller_id).collect();
    let created: Vec<DateTime<Utc>> = items.iter().map(|i| truncate_ms(i.created_at)).collect();
    let signals: Vec<f64> = items.iter().map(|i| i.signal).collect();
    let fits: Vec<f64> = items.iter().map(|i| i.fit).collect();
    let hidden: Vec<bool> = items.iter().map(|i| i.hidden).collect();
    let products: Vec<Option<i64>> = items.iter().map(|i| i.product_id).collect();
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO feed_items (community, kind, seller_id, created_at, signal, fit, hidden, product_id)
         SELECT $1, k, s, c, sg, f, h, p
         FROM UNNEST($2::text[], $3::bigint[], $4::timestamptz[], $5::float8[], $6::float8[],
                     $7::bool[], $8::bigint[]) WITH ORDINALITY AS t(k, s, c, sg, f, h, p, n)
         ORDER BY n
         RETURNING id",
    )
    .bind(community)
    .bind(kinds)
    .bind(sellers)
    .bind(created)
    .bind(signals)
    .bind(fits)
    .bind(hidden)
    .bind(products)
    .fetch_all(pool)
    .await?;
    // Ids are drawn in insertion order; RETURNING's order is not promised.
    ids.sort_unstable();
    Ok(ids)
}

fn truncate_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// What a feed request asks for (already validated).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub community: &'a str,
    pub lane: Lane,
    pub limit: u32,
    pub cursor: Option<&'a str>,
    /// The bearer user, whose cart's listings are left out.
    pub viewer: Option<i64>,
    pub now_ms: i64,
}

/// One page: items in order with their scores.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub as_of_ms: i64,
    pub items: Vec<(Item, f64)>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("cursor is not one this feed issued")]
    BadCursor,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn read(
    pool: &PgPool,
    defects: &Defects,
    req: &Request<'_>,
) -> Result<FeedPage, FeedError> {
    if defects.is_on(Defect::FeedCursorByTime) {
        return read_by_time_defective(pool, req).await;
    }
    let cursor = req
        .cursor
        .map(|c| Cursor::decode(c).map_err(|_| FeedError::BadCursor))
        .transpose()?;
    let max_id = cursor.as_ref().map(|c| c.max_id);
    let candidates = candidates(pool, req.community, req.viewer, max_id).await?;
    let page = feed::page(
        &candidates,
        req.lane,
        req.limit,
        cursor.as_ref(),
        req.now_ms,
    );
    Ok(FeedPage {
        as_of_ms: cursor.map_or(req.now_ms, |c| c.as_of_ms),
        items: page.items,
        next_cursor: page.next.map(|c| c.encode()),
    })
}

/// The community's visible items with id ≤ `max_id` (all when `None`),
/// without listings of products in the viewer's cart.
async fn candidates(
    pool: &PgPool,
    community: &str,
    viewer: Option<i64>,
    max_id: Option<i64>,
) -> Result<Vec<Item>, sqlx::Error> {
    let rows: Vec<(i64, String, i64, DateTime<Utc>, f64, f64)> = sqlx::query_as(
        "SELECT f.id, f.kind, f.seller_id, f.created_at, f.signal, f.fit
         FROM feed_items f
         WHERE f.community = $1 AND NOT f.hidden AND ($3::bigint IS NULL OR f.id <= $3)
           AND NOT (f.kind = 'listing' AND EXISTS (
               SELECT 1 FROM cart_items c WHERE c.user_id = $2 AND c.product_id = f.product_id))
         ORDER BY f.id",
    )
    .bind(community)
    .bind(viewer)
    .bind(max_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind, seller_id, created_at, signal, fit)| {
            Some(Item {
                id,
                kind: super::parse_name(&kind)?,
                seller_id,
                created_at_ms: created_at.timestamp_millis(),
                signal,
                fit,
            })
        })
        .collect())
}

/// The defective cursor: the walk's snapshot and, per kind, the
/// `created_at` (ms) of the last item taken.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeCursor {
    as_of_ms: i64,
    max_id: i64,
    post_before_ms: Option<i64>,
    listing_before_ms: Option<i64>,
    event_before_ms: Option<i64>,
}

impl TimeCursor {
    fn before(&self, kind: Kind) -> Option<i64> {
        match kind {
            Kind::Post => self.post_before_ms,
            Kind::Listing => self.listing_before_ms,
            Kind::Event => self.event_before_ms,
        }
    }

    fn set_before(&mut self, kind: Kind, ms: i64) {
        match kind {
            Kind::Post => self.post_before_ms = Some(ms),
            Kind::Listing => self.listing_before_ms = Some(ms),
            Kind::Event => self.event_before_ms = Some(ms),
        }
    }

    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a time cursor serialises");
        URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(text: &str) -> Option<TimeCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// Defect `feed_cursor_by_time`: ordered by score, paged by time.
async fn read_by_time_defective(pool: &PgPool, req: &Request<'_>) -> Result<FeedPage, FeedError> {
    let cursor = req
        .cursor
        .map(|c| TimeCursor::decode(c).ok_or(FeedError::BadCursor))
        .transpose()?;
    let max_id = cursor.as_ref().map(|c| c.max_id);
    let mut candidates = candidates(pool, req.community, req.viewer, max_id).await?;
    let mut next = cursor.clone().unwrap_or_else(|| TimeCursor {
        as_of_ms: req.now_ms,
        max_id: candidates.iter().map(|i| i.id).max().unwrap_or(0),
        ..TimeCursor::default()
    });
    if let Some(c) = &cursor {
        candidates.retain(|i| c.before(i.kind).is_none_or(|ms| i.created_at_ms < ms));
    }
    // Every stream starts from its top among the remaining items.
    let start = Cursor {
        as_of_ms: next.as_of_ms,
        max_id: next.max_id,
        post: None,
        listing: None,
        event: None,
    };
    let page = feed::page(&candidates, req.lane, req.limit, Some(&start), req.now_ms);
    for (item, _) in &page.items {
        next.set_before(item.kind, item.created_at_ms);
    }
    Ok(FeedPage {
        as_of_ms: next.as_of_ms,
        items: page.items,
        next_cursor: page.next.map(|_| next.encode()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_cursor_round_trips_and_refuses_garbage() {
        let c = TimeCursor {
            as_of_ms: 1_700_000_000_123,
            max_id: 42,
            post_before_ms: Some(1_699_999_000_000),
            listing_before_ms: None,
            event_before_ms: Some(5),
        };
        assert_eq!(TimeCursor::decode(&c.encode()), Some(c));
        assert_eq!(TimeCursor::decode("not base64!"), None);
        assert_eq!(TimeCursor::decode(&URL_SAFE_NO_PAD.encode("{}")), None);
    }
}
