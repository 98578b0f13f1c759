//! Feed scoring, blending and keyset pagination (SYSTEM-SPEC 8.4, refined
//! by the issue 6 contract A).
//!
//! A page is blended from three streams, one per kind, each ordered by
//! `(score desc, id desc)`. The cursor records, per stream, the position of
//! the last item shown, plus the walk's clock (`as_of_ms`, so scores do not
//! drift between pages) and its snapshot (`max_id`, so items inserted during
//! a walk wait for the next walk). Resuming strictly after each position is
//! what makes a walk show every item exactly once; the seed system paged
//! by time while ordering by score, which skipped and repeated items.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Post,
    Listing,
    Event,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Post, Kind::Listing, Kind::Event];

    /// The JSON name (`"listing"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Post => "post",
            Kind::Listing => "listing",
            Kind::Event => "event",
        }
    }

    fn index(self) -> usize {
        match self {
            Kind::Post => 0,
            Kind::Listing => 1,
            Kind::Event => 2,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    #[serde(alias = "combined")]
    ForYou,
    #[serde(alias = "personal")]
    Following,
    Shop,
}

impl Lane {
    pub const ALL: [Lane; 3] = [Lane::ForYou, Lane::Following, Lane::Shop];

    /// `for_you` (alias `combined`), `following` (alias `personal`) or
    /// `shop`; case-sensitive, like every other JSON name.
    pub fn parse(name: &str) -> Option<Lane> {
        match name {
            "for_you" | "combined" => Some(Lane::ForYou),
            "following" | "personal" => Some(Lane::Following),
            "shop" => Some(Lane::Shop),
            _ => None,
        }
    }

    /// The canonical name (`"for_you"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::ForYou => "for_you",
            Lane::Following => "following",
            Lane::Shop => "shop",
        }
    }
}

/// A feed candidate. `signal` is the social (post), shop (listing) or
/// interest (event) signal of SYSTEM-SPEC 8.4, in 0..=1 like `fit`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Item {
    pub id: i64,
    pub kind: Kind,
    pub seller_id: i64,
    pub created_at_ms: i64,
    pub signal: f64,
    pub fit: f64,
}

const MS_PER_HOUR: f64 = 3_600_000.0;

/// Recency halves roughly every 33 hours: `exp(−age_hours / 48)`.
const RECENCY_HOURS: f64 = 48.0;

/// Score as of `as_of_ms`: `recency + w·signal + 0.5·fit`, with `w` 0.8
/// for listings and 0.6 otherwise. Items dated in the future count as new
/// (age 0) rather than scoring above 1.
pub fn score(item: &Item, as_of_ms: i64) -> f64 {
    let age_ms = as_of_ms.saturating_sub(item.created_at_ms).max(0);
    let recency = (-(age_ms as f64 / MS_PER_HOUR) / RECENCY_HOURS).exp();
    let signal_weight = match item.kind {
        Kind::Listing => 0.8,
        Kind::Post | Kind::Event => 0.6,
    };
    recency + signal_weight * item.signal + 0.5 * item.fit
}

/// A kind's share of a page: `percent`% of the limit, rounded up or down.
/// Whole percentages in integer arithmetic, so `ceil(0.60 × 5)` is 3 with
/// no floating-point doubt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub percent: u32,
    pub round_up: bool,
}

impl Target {
    /// How many items of this kind a page of `limit` may hold.
    pub fn of(self, limit: u32) -> u32 {
        let scaled = u64::from(self.percent) * u64::from(limit);
        let n = if self.round_up {
            scaled.div_ceil(100)
        } else {
            scaled / 100
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// A lane's blend: per-kind targets and the listing density cap
/// `(numerator, denominator)` that holds on every prefix of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneRules {
    pub post: Target,
    pub listing: Target,
    pub event: Target,
    pub listing_cap: (u32, u32),
}

const fn ceil(percent: u32) -> Target {
    Target {
        percent,
        round_up: true,
    }
}

const fn floor(percent: u32) -> Target {
    Target {
        percent,
        round_up: false,
    }
}

/// The blend rules of a lane (SYSTEM-SPEC 8.4).
pub fn rules(lane: Lane) -> LaneRules {
    match lane {
        Lane::ForYou => LaneRules {
            post: ceil(60),
            listing: ceil(25),
            event: floor(15),
            listing_cap: (1, 2),
        },
        Lane::Following => LaneRules {
            post: ceil(80),
            listing: ceil(5),
            event: floor(15),
            listing_cap: (1, 3),
        },
        Lane::Shop => LaneRules {
            post: ceil(10),
            listing: ceil(85),
            event: floor(5),
            listing_cap: (2, 3),
        },
    }
}

/// Per-page quotas `(posts, listings, events)` for a page of `limit`.
pub fn quotas(lane: Lane, limit: u32) -> (u32, u32, u32) {
    let r = rules(lane);
    (r.post.of(limit), r.listing.of(limit), r.event.of(limit))
}

/// The listing density cap of a lane: at most `.0` listings per `.1` items
/// on every prefix of a page.
pub fn listing_cap(lane: Lane) -> (u32, u32) {
    rules(lane).listing_cap
}

/// Keyset position in one kind's stream: the last item shown.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub score: f64,
    pub id: i64,
}

/// Where a walk stands. Opaque to clients: URL-safe base64 (no padding) of
/// its JSON. serde_json is built with `float_roundtrip`, so a position's
/// score decodes to the very same `f64` and no item at the boundary is
/// skipped or repeated.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    pub as_of_ms: i64,
    pub max_id: i64,
    pub post: Option<Position>,
    pub listing: Option<Position>,
    pub event: Option<Position>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("cursor is not URL-safe base64 without padding: {0}")]
    Base64(String),
    #[error("cursor is not one this feed issued: {0}")]
    Json(String),
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self)
            .unwrap_or_else(|e| unreachable!("a cursor always serialises: {e}"));
        URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(s: &str) -> Result<Cursor, CursorError> {
        let json = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|e| CursorError::Base64(e.to_string()))?;
        serde_json::from_slice(&json).map_err(|e| CursorError::Json(e.to_string()))
    }

    fn position(&self, kind: Kind) -> Option<Position> {
        match kind {
            Kind::Post => self.post,
            Kind::Listing => self.listing,
            Kind::Event => self.event,
        }
    }
}

/// One page: items in display order with their scores, and the cursor of
/// the next page (`None` once every stream is exhausted).
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub items: Vec<(Item, f64)>,
    pub next: Option<Cursor>,
}

/// A later item by the same seller must beat the previous one by this much.
pub const SAME_SELLER_MARGIN: f64 = 0.25;

/// One page of the feed (the contract's page algorithm):
/// 1. the walk's clock and snapshot come from the cursor, or are `now_ms`
///    and the highest candidate id; candidates above the snapshot wait;
/// 2. one stream per kind, `(score, id)` descending, strictly after the
///    cursor's position for that kind;
/// 3. positions are filled one at a time with the best `(score, id)` head
///    that is eligible: its kind's quota is not used up; a listing keeps
///    the lane's density cap on the prefix (waived once the post and event
///    streams are exhausted); an item by the previous item's seller needs a
///    score at least [`SAME_SELLER_MARGIN`] higher; nothing eligible ends
///    the page;
/// 4. the next cursor holds the last position taken from each stream.
///
/// One addition to the contract's rule 3: if nothing is eligible for the
/// *first* position of a page, the quotas are set aside for that position.
/// This only happens when the post stream is exhausted and the event quota
/// rounds down to 0 (for_you and following below 7 items a page, shop
/// below 20), where a listing cannot lead (the cap) and an event may not
/// (the quota): without it the walk would return empty pages with a cursor
/// for ever and never show the remaining items.
pub fn page(
    candidates: &[Item],
    lane: Lane,
    limit: u32,
    cursor: Option<&Cursor>,
    now_ms: i64,
) -> Page {
    let as_of_ms = cursor.map_or(now_ms, |c| c.as_of_ms);
    let max_id = cursor.map_or_else(
        || candidates.iter().map(|i| i.id).max().unwrap_or(0),
        |c| c.max_id,
    );
    let mut streams: [Vec<(Item, f64)>; 3] = Default::default();
    for item in candidates.iter().filter(|i| i.id <= max_id) {
        let s = score(item, as_of_ms);
        let after = cursor
            .and_then(|c| c.position(item.kind))
            .is_none_or(|p| key_cmp((s, item.id), (p.score, p.id)).is_lt());
        if after {
            streams[item.kind.index()].push((item.clone(), s));
        }
    }
    for stream in &mut streams {
        stream.sort_by(|a, b| key_cmp((b.1, b.0.id), (a.1, a.0.id)));
    }

    let (qp, ql, qe) = quotas(lane, limit);
    let quota = [qp, ql, qe];
    let (cap_num, cap_den) = listing_cap(lane);
    let mut heads = [0usize; 3];
    let mut used = [0u32; 3];
    let mut positions =
        [Kind::Post, Kind::Listing, Kind::Event].map(|k| cursor.and_then(|c| c.position(k)));
    let mut items: Vec<(Item, f64)> = Vec::new();
    let mut listings = 0u64;

    while items.len() < limit as usize {
        let eligible = |k: usize, ignore_quota: bool| -> bool {
            let Some((head, s)) = streams[k].get(heads[k]) else {
                return false;
            };
            if !ignore_quota && used[k] >= quota[k] {
                return false;
            }
            if k == Kind::Listing.index() {
                let others_exhausted = heads[0] >= streams[0].len() && heads[2] >= streams[2].len();
                let prefix = items.len() as u64 + 1;
                if !others_exhausted
                    && (listings + 1) * u64::from(cap_den) > u64::from(cap_num) * prefix
                {
                    return false;
                }
            }
            if let Some((prev, prev_score)) = items.last() {
                if prev.seller_id == head.seller_id && *s < prev_score + SAME_SELLER_MARGIN {
                    return false;
                }
            }
            true
        };
        let best = |ignore_quota: bool| {
            (0..3)
                .filter(|&k| eligible(k, ignore_quota))
                .max_by(|&a, &b| {
                    let (ia, sa) = &streams[a][heads[a]];
                    let (ib, sb) = &streams[b][heads[b]];
                    key_cmp((*sa, ia.id), (*sb, ib.id))
                })
        };
        let pick = best(false).or_else(|| if items.is_empty() { best(true) } else { None });
        let Some(k) = pick else { break };
        let (item, s) = streams[k][heads[k]].clone();
        heads[k] += 1;
        used[k] += 1;
        if k == Kind::Listing.index() {
            listings += 1;
        }
        positions[k] = Some(Position {
            score: s,
            id: item.id,
        });
        items.push((item, s));
    }

    let exhausted = (0..3).all(|k| heads[k] >= streams[k].len());
    let next = (!exhausted).then_some(Cursor {
        as_of_ms,
        max_id,
        post: positions[0],
        listing: positions[1],
        event: positions[2],
    });
    Page { items, next }
}

/// Order on `(score, id)`; `total_cmp` so the order is total even for the
/// impossible NaN.
fn key_cmp(a: (f64, i64), b: (f64, i64)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

#[cfg(test)]
mod tests;
