//! The feed over `GET /api/v1/feed` (SYSTEM-SPEC 8.4). Every case inserts
//! its items into a fresh `community`, so cases never see each other's
//! items and a replay does not see the first run's.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{check, ensure, fail, num, snippet, CaseResult, Env, Fail, Property};
use crate::model::feed::{self, listing_fits, Cursor, Item, Kind, Lane, SAME_SELLER_GAP};
use crate::PropertyInfo;

pub(crate) static PROPERTIES: &[Property] = &[
    Property {
        info: PropertyInfo {
            name: "feed_pages_match_model",
            family: "feed",
            description: "the first pages of a lane equal the model's pages (ids, order, scores, end of feed)",
            default_cases: 64,
        },
        run: |env, runner| check(env, runner, pages_case(), pages_match_model),
    },
    Property {
        info: PropertyInfo {
            name: "feed_pages_obey_blend_rules",
            family: "feed",
            description: "every page obeys the lane's quotas, the listing density cap on every prefix (unless posts and events are exhausted), the same-seller rule and the score formula; hidden items never appear",
            default_cases: 64,
        },
        run: |env, runner| check(env, runner, pages_case(), pages_obey_rules),
    },
    Property {
        info: PropertyInfo {
            name: "feed_walk_exactly_once_with_inserts",
            family: "feed",
            description: "walking every page yields each item that existed at the start exactly once, while new items are inserted between page requests",
            default_cases: 48,
        },
        run: |env, runner| check(env, runner, walk_case(), walk_exactly_once),
    },
];

const FEED: &str = "/api/v1/feed";
const ADMIN_ITEMS: &str = "/api/v1/admin/feed/items";

/// An item to insert; its age is relative to the moment of insertion
/// (negative: dated in the future, recency 1).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewItem {
    kind: Kind,
    seller_id: i64,
    age_minutes: i64,
    signal: f64,
    fit: f64,
    hidden: bool,
}

fn unit_interval() -> impl Strategy<Value = f64> {
    (0u32..=1_000_000).prop_map(|n| f64::from(n) / 1_000_000.0)
}

fn new_item() -> impl Strategy<Value = NewItem> {
    (
        prop::sample::select(Kind::ALL.to_vec()),
        1i64..=4,
        prop_oneof![1 => -600i64..=0, 3 => 0i64..=14_400],
        unit_interval(),
        unit_interval(),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(kind, seller_id, age_minutes, signal, fit, hidden)| NewItem {
                kind,
                seller_id,
                age_minutes,
                signal,
                fit,
                hidden,
            },
        )
}

fn lane_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["for_you", "following", "shop", "combined", "personal"][..])
}

#[derive(Debug, Clone)]
pub(crate) struct PagesCase {
    items: Vec<NewItem>,
    lane: &'static str,
    limit: u32,
    pages: usize,
}

fn pages_case() -> impl Strategy<Value = PagesCase> {
    (
        prop::collection::vec(new_item(), 1..30),
        lane_name(),
        prop_oneof![3 => 1u32..=12, 1 => 1u32..=50],
        1usize..=4,
    )
        .prop_map(|(items, lane, limit, pages)| PagesCase {
            items,
            lane,
            limit,
            pages,
        })
}

#[derive(Debug, Clone)]
pub(crate) struct WalkCase {
    items: Vec<NewItem>,
    lane: &'static str,
    limit: u32,
    /// Items inserted after page i (i = index), before the next request.
    inserts: Vec<Vec<NewItem>>,
}

/// Walks use every limit, small ones (where a kind's quota rounds down to
/// 0 and only the first-position amendment keeps the walk going) often.
fn walk_case() -> impl Strategy<Value = WalkCase> {
    (
        lane_name(),
        prop::collection::vec(new_item(), 1..40),
        prop_oneof![1 => 1u32..=8, 1 => 1u32..=50],
        prop::collection::vec(prop::collection::vec(new_item(), 0..4), 0..8),
    )
        .prop_map(|(lane, items, limit, inserts)| WalkCase {
            items,
            lane,
            limit,
            inserts,
        })
}

/// An item the target holds, as the model needs it.
#[derive(Debug, Clone)]
struct Stored {
    item: Item,
    hidden: bool,
    /// How messages name it: `#3` (fourth item of the case) or `#b1.0`
    /// (first item inserted after page 2), stable across replays where
    /// the target's ids are not.
    label: String,
}

/// Labels of `ids` (the raw id for one the case did not insert).
fn labels(ids: impl IntoIterator<Item = i64>, by_id: &BTreeMap<i64, Stored>) -> String {
    let names: Vec<String> = ids
        .into_iter()
        .map(|id| {
            by_id
                .get(&id)
                .map_or_else(|| format!("id {id}"), |s| s.label.clone())
        })
        .collect();
    format!("[{}]", names.join(", "))
}

fn label(id: i64, by_id: &BTreeMap<i64, Stored>) -> String {
    by_id
        .get(&id)
        .map_or_else(|| format!("id {id}"), |s| s.label.clone())
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .expect("in range")
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Inserts `items` into `community`; returns them with their ids, labelled
/// `#{prefix}{index}`.
fn insert(
    env: &Env,
    community: &str,
    items: &[NewItem],
    prefix: &str,
) -> Result<Vec<Stored>, Fail> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let created: Vec<i64> = items.iter().map(|i| now - i.age_minutes * 60_000).collect();
    let body = json!({
        "community": community,
        "items": items.iter().zip(&created).map(|(i, at)| json!({
            "kind": i.kind.as_str(),
            "seller_id": i.seller_id,
            "created_at": rfc3339(*at),
            "signal": i.signal,
            "fit": i.fit,
            "hidden": i.hidden,
        })).collect::<Vec<_>>(),
    });
    let answer = env.expect("POST", ADMIN_ITEMS, Some(&body), 201)?;
    let ids: Option<Vec<i64>> = answer
        .get("ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect());
    let Some(ids) = ids.filter(|ids| ids.len() == items.len()) else {
        return fail(format!(
            "inserting {} items answered {}",
            items.len(),
            snippet(&answer)
        ));
    };
    ensure!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "inserted ids do not increase: {ids:?}"
    );
    Ok(items
        .iter()
        .zip(ids)
        .zip(created)
        .enumerate()
        .map(|(n, ((i, id), created_at_ms))| Stored {
            label: format!("#{prefix}{n}"),
            item: Item {
                id,
                kind: i.kind,
                seller_id: i.seller_id,
                created_at_ms,
                signal: i.signal,
                fit: i.fit,
            },
            hidden: i.hidden,
        })
        .collect())
}

/// One page as the API returned it.
#[derive(Debug, Clone)]
struct ApiPage {
    as_of_ms: i64,
    /// (id, kind, seller, score)
    items: Vec<(i64, Kind, i64, f64)>,
    next: Option<String>,
}

fn get_page(
    env: &Env,
    community: &str,
    lane: &str,
    limit: u32,
    cursor: Option<&str>,
) -> Result<ApiPage, Fail> {
    let mut path = format!("{FEED}?lane={lane}&limit={limit}&community={community}");
    if let Some(c) = cursor {
        path.push_str("&cursor=");
        path.push_str(c);
    }
    let body = env.expect("GET", &path, None, 200)?;
    let as_of = body
        .get("as_of")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Ok(as_of) = DateTime::parse_from_rfc3339(as_of) else {
        return fail(format!(
            "as_of is not RFC 3339: {}",
            body.get("as_of").unwrap_or(&Value::Null)
        ));
    };
    let Some(raw) = body.get("items").and_then(Value::as_array) else {
        return fail(format!("feed answer has no items list: {}", snippet(&body)));
    };
    let mut items = Vec::with_capacity(raw.len());
    for (i, it) in raw.iter().enumerate() {
        let kind = it.get("kind").and_then(Value::as_str).and_then(Kind::parse);
        let (Some(id), Some(kind), Some(seller)) = (
            it.get("id").and_then(Value::as_i64),
            kind,
            it.get("seller_id").and_then(Value::as_i64),
        ) else {
            return fail(format!(
                "items[{i}] lacks id/kind/seller_id: {}",
                snippet(it)
            ));
        };
        items.push((
            id,
            kind,
            seller,
            num(it, "/score", &format!("items[{i}].score"))?,
        ));
    }
    let next = match body.get("next_cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => return fail(format!("next_cursor is neither a string nor null: {other}")),
    };
    Ok(ApiPage {
        as_of_ms: as_of.timestamp_millis(),
        items,
        next,
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

/// Whether two implementations of the formula could order these items
/// differently: distinct scores within rounding error of each other, or of
/// the same-seller threshold.
fn near_ties(items: &[Item], as_of: i64) -> bool {
    let scores: Vec<f64> = items.iter().map(|i| feed::score(i, as_of)).collect();
    scores.iter().enumerate().any(|(i, &a)| {
        scores[i + 1..].iter().any(|&b| {
            let near = |x: f64, y: f64| x != y && close(x, y);
            near(a, b) || near(a + SAME_SELLER_GAP, b) || near(b + SAME_SELLER_GAP, a)
        })
    })
}

fn page_ids(items: &[(i64, Kind, i64, f64)]) -> Vec<i64> {
    items.iter().map(|i| i.0).collect()
}

fn pages_match_model(env: &Env, case: &PagesCase) -> CaseResult {
    let lane = Lane::parse(case.lane).expect("generated lanes are known");
    let community = env.unique("props-feed");
    let stored = insert(env, &community, &case.items, "")?;
    let visible: Vec<Item> = stored
        .iter()
        .filter(|s| !s.hidden)
        .map(|s| s.item.clone())
        .collect();
    let by_id: BTreeMap<i64, Stored> = stored.into_iter().map(|s| (s.item.id, s)).collect();
    let mut api_cursor: Option<String> = None;
    let mut model_cursor: Option<Cursor> = None;
    for n in 1..=case.pages {
        let api = get_page(
            env,
            &community,
            case.lane,
            case.limit,
            api_cursor.as_deref(),
        )?;
        let model = feed::page(
            &visible,
            lane,
            case.limit,
            model_cursor.as_ref(),
            api.as_of_ms,
        );
        let model_ids: Vec<i64> = model.items.iter().map(|(i, _)| i.id).collect();
        if page_ids(&api.items) != model_ids {
            if near_ties(&visible, api.as_of_ms) {
                // Order within rounding error: not this property's to judge.
                return Ok(());
            }
            return fail(format!(
                "page {n}: items {}, model {}",
                labels(page_ids(&api.items), &by_id),
                labels(model_ids, &by_id),
            ));
        }
        for ((id, _, _, score), (_, model_score)) in api.items.iter().zip(&model.items) {
            ensure!(
                close(*score, *model_score),
                "page {n}: item {} score {score}, model {model_score}",
                label(*id, &by_id)
            );
        }
        ensure!(
            api.next.is_some() == model.next.is_some(),
            "page {n}: next_cursor {:?}, model {}",
            api.next,
            if model.next.is_some() {
                "expects more pages"
            } else {
                "expects the end"
            }
        );
        match (api.next, model.next) {
            (Some(a), Some(m)) => {
                api_cursor = Some(a);
                model_cursor = Some(m);
            }
            _ => break,
        }
    }
    Ok(())
}

/// Checks one page against the blend rules. `by_id` holds every item of the
/// community, `shown` the ids shown on earlier pages, `tail` the posts and
/// events that must all have been shown before a listing may break the cap.
fn check_page(
    n: usize,
    page: &ApiPage,
    lane: Lane,
    limit: u32,
    by_id: &BTreeMap<i64, Stored>,
    shown: &BTreeSet<i64>,
    tail: &BTreeSet<i64>,
) -> CaseResult {
    ensure!(
        page.items.len() as u32 <= limit,
        "page {n} has {} items, limit {limit}",
        page.items.len()
    );
    let quotas = lane.quotas(limit);
    let cap = lane.listing_cap();
    let mut counts = [0u32; 3];
    let mut listings = 0u32;
    let mut seen_here = BTreeSet::new();
    for (pos, &(id, kind, seller, score)) in page.items.iter().enumerate() {
        let Some(stored) = by_id.get(&id) else {
            return fail(format!(
                "page {n}: item id {id} is not one of this community's items"
            ));
        };
        let name = &stored.label;
        ensure!(!stored.hidden, "page {n}: hidden item {name} appears");
        ensure!(
            kind == stored.item.kind && seller == stored.item.seller_id,
            "page {n}: item {name} shown as {kind:?} of seller {seller}, inserted as {:?} of seller {}",
            stored.item.kind,
            stored.item.seller_id
        );
        let expected = feed::score(&stored.item, page.as_of_ms);
        ensure!(
            close(score, expected),
            "page {n}: item {name} score {score}, formula gives {expected}"
        );
        if kind == Kind::Listing {
            if !listing_fits(cap, listings, pos as u32) {
                // Allowed only once every post and event was shown.
                let pending: Vec<i64> = tail
                    .iter()
                    .copied()
                    .filter(|id| !shown.contains(id) && !seen_here.contains(id))
                    .collect();
                ensure!(
                    pending.is_empty(),
                    "page {n}: listing {name} at position {} breaks the {}/{} listing cap while posts/events {} were still to come",
                    pos + 1,
                    cap.0,
                    cap.1,
                    labels(pending, by_id)
                );
            }
            listings += 1;
        }
        counts[kind as usize] += 1;
        if pos > 0 {
            let (prev_id, _, prev_seller, prev_score) = page.items[pos - 1];
            // 1e-9 of slack: scores cross JSON as decimal text.
            ensure!(
                prev_seller != seller || score >= prev_score + SAME_SELLER_GAP - 1e-9,
                "page {n}: items {} and {name} of seller {seller} are consecutive with scores {prev_score} and {score} (needs +{SAME_SELLER_GAP})",
                label(prev_id, by_id)
            );
        }
        seen_here.insert(id);
    }
    // The first-position amendment (see `model::feed::page`): a page may
    // open with one item of a kind whose quota is 0, when no post is left
    // (posts always have a quota) and the cap keeps listings from leading.
    if let Some(&(first_id, first_kind, ..)) = page.items.first() {
        let k = first_kind as usize;
        let posts_left: Vec<i64> = tail
            .iter()
            .copied()
            .filter(|id| by_id[id].item.kind == Kind::Post && !shown.contains(id))
            .collect();
        if quotas[k] == 0 && counts[k] == 1 {
            ensure!(
                posts_left.is_empty(),
                "page {n} opens with {first_kind:?} {} over its quota of 0 while posts {} were still to come",
                label(first_id, by_id),
                labels(posts_left, by_id)
            );
            counts[k] = 0;
        }
    }
    for k in Kind::ALL {
        ensure!(
            counts[k as usize] <= quotas[k as usize],
            "page {n}: {} {k:?} items, quota {} for {lane:?} at limit {limit}",
            counts[k as usize],
            quotas[k as usize]
        );
    }
    Ok(())
}

/// Ids of the visible posts and events.
fn posts_and_events(stored: &[Stored]) -> BTreeSet<i64> {
    stored
        .iter()
        .filter(|s| !s.hidden && s.item.kind != Kind::Listing)
        .map(|s| s.item.id)
        .collect()
}

fn pages_obey_rules(env: &Env, case: &PagesCase) -> CaseResult {
    let lane = Lane::parse(case.lane).expect("generated lanes are known");
    let community = env.unique("props-feed");
    let stored = insert(env, &community, &case.items, "")?;
    let tail = posts_and_events(&stored);
    let by_id: BTreeMap<i64, Stored> = stored.into_iter().map(|s| (s.item.id, s)).collect();
    let mut shown = BTreeSet::new();
    let mut cursor: Option<String> = None;
    // A few more pages than asked, to reach the tails of the streams.
    for n in 1..=case.pages + 4 {
        let page = get_page(env, &community, case.lane, case.limit, cursor.as_deref())?;
        check_page(n, &page, lane, case.limit, &by_id, &shown, &tail)?;
        shown.extend(page.items.iter().map(|i| i.0));
        match page.next {
            Some(c) if !page.items.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    Ok(())
}

fn walk_exactly_once(env: &Env, case: &WalkCase) -> CaseResult {
    let lane = Lane::parse(case.lane).expect("generated lanes are known");
    let community = env.unique("props-feed");
    let stored = insert(env, &community, &case.items, "")?;
    let mut by_id: BTreeMap<i64, Stored> = stored.iter().map(|s| (s.item.id, s.clone())).collect();
    let expected: BTreeSet<i64> = stored
        .iter()
        .filter(|s| !s.hidden)
        .map(|s| s.item.id)
        .collect();
    // Items inserted during the walk are past its max_id: they never count.
    let tail = posts_and_events(&stored);
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    // Every page but the last shows at least one item that existed before.
    let max_pages = expected.len() + 2;
    let mut n = 0;
    loop {
        n += 1;
        ensure!(
            n <= max_pages,
            "the walk did not end after {max_pages} pages ({} of {} items seen)",
            seen.len(),
            expected.len()
        );
        let page = get_page(env, &community, case.lane, case.limit, cursor.as_deref())?;
        let shown: BTreeSet<i64> = seen.keys().copied().collect();
        check_page(n, &page, lane, case.limit, &by_id, &shown, &tail)?;
        for &(id, ..) in &page.items {
            if let Some(first) = seen.insert(id, n) {
                return fail(format!(
                    "item {} appears on page {first} and again on page {n}",
                    label(id, &by_id)
                ));
            }
        }
        let Some(next) = page.next else { break };
        ensure!(
            !page.items.is_empty(),
            "page {n} is empty but has a next_cursor"
        );
        cursor = Some(next);
        if let Some(batch) = case.inserts.get(n - 1) {
            for s in insert(env, &community, batch, &format!("b{}.", n - 1))? {
                by_id.insert(s.item.id, s);
            }
        }
    }
    let missing: Vec<i64> = expected
        .iter()
        .filter(|id| !seen.contains_key(id))
        .copied()
        .collect();
    ensure!(
        missing.is_empty(),
        "the walk skipped items {} ({n} pages)",
        labels(missing, &by_id)
    );
    Ok(())
}
