//! Feed blend and keyset pagination (SYSTEM-SPEC 8.4, contract A `feed`).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Post,
    Listing,
    Event,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Post, Kind::Listing, Kind::Event];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Post => "post",
            Kind::Listing => "listing",
            Kind::Event => "event",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    ForYou,
    Following,
    Shop,
}

impl Lane {
    pub const ALL: [Lane; 3] = [Lane::ForYou, Lane::Following, Lane::Shop];

    /// Lane names the API accepts, aliases included.
    pub fn parse(s: &str) -> Option<Lane> {
        match s {
            "for_you" | "combined" => Some(Lane::ForYou),
            "following" | "personal" => Some(Lane::Following),
            "shop" => Some(Lane::Shop),
            _ => None,
        }
    }

    /// Percent targets (posts, listings, events).
    fn targets(self) -> (u32, u32, u32) {
        match self {
            Lane::ForYou => (60, 25, 15),
            Lane::Following => (80, 5, 15),
            Lane::Shop => (10, 85, 5),
        }
    }

    /// Per-page quotas: posts ⌈p·L⌉, listings ⌈l·L⌉, events ⌊e·L⌋, in
    /// exact integer arithmetic.
    pub fn quotas(self, limit: u32) -> [u32; 3] {
        let (p, l, e) = self.targets();
        [
            (p * limit).div_ceil(100),
            (l * limit).div_ceil(100),
            e * limit / 100,
        ]
    }

    /// Listing density cap `(a, b)`: listings ≤ a/b of every page prefix.
    pub fn listing_cap(self) -> (u32, u32) {
        match self {
            Lane::ForYou => (1, 2),
            Lane::Following => (1, 3),
            Lane::Shop => (2, 3),
        }
    }

    /// The smallest limit whose every quota is at least 1: below it some
    /// kind's quota is 0, and only the first-position amendment of [`page`]
    /// ever shows it.
    pub fn min_limit_for_all_kinds(self) -> u32 {
        (1..=50)
            .find(|&l| self.quotas(l).iter().all(|&q| q >= 1))
            .unwrap_or(50)
    }
}

/// Whether adding a listing to a prefix that already holds `listings`
/// listings out of `len` items keeps the density cap.
pub fn listing_fits(cap: (u32, u32), listings: u32, len: u32) -> bool {
    (listings + 1) * cap.1 <= cap.0 * (len + 1)
}

/// The minimum score gain for two consecutive items of one seller.
pub const SAME_SELLER_GAP: f64 = 0.25;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: i64,
    pub kind: Kind,
    pub seller_id: i64,
    pub created_at_ms: i64,
    pub signal: f64,
    pub fit: f64,
}

/// recency + weight·signal + 0.5·fit, recency = exp(−age_hours / 48), age
/// clamped at 0 for items dated in the future.
pub fn score(item: &Item, as_of_ms: i64) -> f64 {
    let age_hours = (as_of_ms - item.created_at_ms).max(0) as f64 / 3_600_000.0;
    let recency = (-age_hours / 48.0).exp();
    let weight = match item.kind {
        Kind::Post | Kind::Event => 0.6,
        Kind::Listing => 0.8,
    };
    recency + weight * item.signal + 0.5 * item.fit
}

/// Keyset position in one kind's stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub score: f64,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub as_of_ms: i64,
    pub max_id: i64,
    pub positions: [Option<Position>; 3],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<(Item, f64)>,
    pub next: Option<Cursor>,
}

/// (score, id) descending; `a` before `b`?
fn before(a: (f64, i64), b: (f64, i64)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 > b.1)
}

/// One page of `candidates` (visible items only) for `lane`, by the
/// contract's page algorithm plus one amendment the rules crate made (and
/// reported): when nothing is eligible for the *first* position of a page,
/// the quotas are set aside for that position. Without it, a lane whose
/// event quota rounds down to 0 (for_you and following below 7 items a
/// page, shop below 20) returns empty pages with a cursor for ever once the
/// posts run out, and never shows its events.
pub fn page(
    candidates: &[Item],
    lane: Lane,
    limit: u32,
    cursor: Option<&Cursor>,
    now_ms: i64,
) -> Page {
    let as_of = cursor.map_or(now_ms, |c| c.as_of_ms);
    let max_id = cursor.map_or_else(
        || candidates.iter().map(|i| i.id).max().unwrap_or(0),
        |c| c.max_id,
    );
    let start = cursor.map_or([None; 3], |c| c.positions);
    let mut streams: [Vec<(f64, &Item)>; 3] = Default::default();
    for item in candidates.iter().filter(|i| i.id <= max_id) {
        let s = score(item, as_of);
        let k = item.kind.index();
        if start[k].is_none_or(|p| before((p.score, p.id), (s, item.id))) {
            streams[k].push((s, item));
        }
    }
    for stream in &mut streams {
        stream.sort_by(|a, b| {
            b.0.partial_cmp(&a.0)
                .expect("scores are finite")
                .then(b.1.id.cmp(&a.1.id))
        });
    }
    let quotas = lane.quotas(limit);
    let cap = lane.listing_cap();
    let mut heads = [0usize; 3];
    let mut taken = [0u32; 3];
    let mut positions = start;
    let mut items: Vec<(Item, f64)> = Vec::new();
    while (items.len() as u32) < limit {
        let exhausted = |k: usize| heads[k] >= streams[k].len();
        let pick = |ignore_quota: bool| {
            let mut best: Option<(usize, f64, i64)> = None;
            for k in 0..3 {
                if exhausted(k) || (!ignore_quota && taken[k] >= quotas[k]) {
                    continue;
                }
                let (s, item) = streams[k][heads[k]];
                if k == Kind::Listing.index()
                    && !(exhausted(Kind::Post.index()) && exhausted(Kind::Event.index()))
                    && !listing_fits(cap, taken[k], items.len() as u32)
                {
                    continue;
                }
                if let Some((prev, prev_score)) = items.last() {
                    if prev.seller_id == item.seller_id && s < prev_score + SAME_SELLER_GAP {
                        continue;
                    }
                }
                if best.is_none_or(|(_, bs, bid)| before((s, item.id), (bs, bid))) {
                    best = Some((k, s, item.id));
                }
            }
            best
        };
        // Amendment to the contract's step 3 (see `page`).
        let chosen = pick(false).or_else(|| if items.is_empty() { pick(true) } else { None });
        let Some((k, s, id)) = chosen else { break };
        items.push((streams[k][heads[k]].1.clone(), s));
        heads[k] += 1;
        taken[k] += 1;
        positions[k] = Some(Position { score: s, id });
    }
    let all_done = (0..3).all(|k| heads[k] >= streams[k].len());
    Page {
        items,
        next: (!all_done).then_some(Cursor {
            as_of_ms: as_of,
            max_id,
            positions,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, kind: Kind, seller_id: i64, signal: f64) -> Item {
        Item {
            id,
            kind,
            seller_id,
            created_at_ms: 0,
            signal,
            fit: 0.0,
        }
    }

    #[test]
    fn quotas_and_caps() {
        assert_eq!(Lane::ForYou.quotas(20), [12, 5, 3]);
        assert_eq!(Lane::ForYou.quotas(1), [1, 1, 0]);
        assert_eq!(Lane::Shop.quotas(20), [2, 17, 1]);
        assert_eq!(Lane::Following.quotas(7), [6, 1, 1]);
        assert_eq!(Lane::ForYou.min_limit_for_all_kinds(), 7);
        assert_eq!(Lane::Shop.min_limit_for_all_kinds(), 20);
        assert!(!listing_fits((1, 2), 0, 0));
        assert!(listing_fits((1, 2), 0, 1));
        assert!(listing_fits((2, 3), 1, 2));
    }

    #[test]
    fn score_formula() {
        let i = item(1, Kind::Listing, 1, 0.5);
        assert_eq!(score(&i, 0), 1.4);
        let old = Item {
            created_at_ms: -48 * 3_600_000,
            ..i.clone()
        };
        assert!((score(&old, 0) - ((-1f64).exp() + 0.4)).abs() < 1e-12);
        let future = Item {
            created_at_ms: 10_000,
            ..i
        };
        assert_eq!(score(&future, 0), 1.4);
    }

    #[test]
    fn pages_walk_without_duplicates() {
        let items: Vec<Item> = (1..=30)
            .map(|id| {
                let kind = Kind::ALL[(id % 3) as usize];
                item(id, kind, id % 4, (id % 7) as f64 / 7.0)
            })
            .collect();
        let mut seen = Vec::new();
        let mut cursor = None;
        for _ in 0..30 {
            let p = page(&items, Lane::ForYou, 10, cursor.as_ref(), 0);
            let quotas = Lane::ForYou.quotas(10);
            for k in Kind::ALL {
                let n = p.items.iter().filter(|(i, _)| i.kind == k).count() as u32;
                assert!(n <= quotas[k.index()]);
            }
            seen.extend(p.items.iter().map(|(i, _)| i.id));
            match p.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, (1..=30).collect::<Vec<_>>());
    }
}
