use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::json;

use super::*;

const HOUR: i64 = 3_600_000;
const NOW: i64 = 1_700_000_000_000;

fn item(id: i64, kind: Kind, seller_id: i64, signal: f64) -> Item {
    Item {
        id,
        kind,
        seller_id,
        created_at_ms: NOW,
        signal,
        fit: 0.0,
    }
}

fn kinds(p: &Page) -> String {
    p.items
        .iter()
        .map(|(i, _)| match i.kind {
            Kind::Post => 'P',
            Kind::Listing => 'L',
            Kind::Event => 'E',
        })
        .collect()
}

fn ids(p: &Page) -> Vec<i64> {
    p.items.iter().map(|(i, _)| i.id).collect()
}

#[test]
fn scores() {
    let mut i = item(1, Kind::Post, 1, 1.0);
    i.fit = 1.0;
    assert_eq!(score(&i, NOW), 1.0 + 0.6 + 0.5);
    i.kind = Kind::Listing;
    assert_eq!(score(&i, NOW), 1.0 + 0.8 + 0.5);
    i.kind = Kind::Event;
    assert_eq!(score(&i, NOW), 1.0 + 0.6 + 0.5);
    i.signal = 0.0;
    i.fit = 0.0;
    assert!((score(&i, NOW + 48 * HOUR) - (-1.0f64).exp()).abs() < 1e-15);
    assert_eq!(
        score(&i, NOW - 5 * HOUR),
        1.0,
        "future items count as age 0"
    );
    assert!(score(&i, i64::MAX) >= 0.0);
    let old = Item {
        created_at_ms: i64::MIN,
        ..i
    };
    assert_eq!(score(&old, i64::MAX), 0.0);
}

#[test]
fn quotas_and_caps() {
    assert_eq!(quotas(Lane::ForYou, 20), (12, 5, 3));
    assert_eq!(quotas(Lane::ForYou, 10), (6, 3, 1));
    assert_eq!(quotas(Lane::ForYou, 5), (3, 2, 0));
    assert_eq!(quotas(Lane::ForYou, 1), (1, 1, 0));
    assert_eq!(quotas(Lane::Following, 20), (16, 1, 3));
    assert_eq!(quotas(Lane::Following, 50), (40, 3, 7));
    assert_eq!(quotas(Lane::Shop, 20), (2, 17, 1));
    assert_eq!(quotas(Lane::Shop, 50), (5, 43, 2));
    assert_eq!(listing_cap(Lane::ForYou), (1, 2));
    assert_eq!(listing_cap(Lane::Following), (1, 3));
    assert_eq!(listing_cap(Lane::Shop), (2, 3));
    // ceil/ceil/floor in every lane: the quotas always cover the page.
    for lane in Lane::ALL {
        for limit in 0..=50 {
            let (p, l, e) = quotas(lane, limit);
            assert!(p + l + e >= limit, "{lane:?} {limit}");
            let r = rules(lane);
            let float = |t: Target| {
                let x = f64::from(t.percent) / 100.0 * f64::from(limit);
                if t.round_up {
                    x.ceil()
                } else {
                    x.floor()
                }
            };
            assert_eq!(
                (p, l, e),
                (
                    float(r.post) as u32,
                    float(r.listing) as u32,
                    float(r.event) as u32
                ),
                "integer and float quotas agree for {lane:?} {limit}"
            );
        }
    }
}

#[test]
fn lane_names() {
    assert_eq!(Lane::parse("for_you"), Some(Lane::ForYou));
    assert_eq!(Lane::parse("combined"), Some(Lane::ForYou));
    assert_eq!(Lane::parse("following"), Some(Lane::Following));
    assert_eq!(Lane::parse("personal"), Some(Lane::Following));
    assert_eq!(Lane::parse("shop"), Some(Lane::Shop));
    assert_eq!(Lane::parse("Shop"), None);
    assert_eq!(Lane::parse(""), None);
    assert_eq!(
        serde_json::from_value::<Lane>(json!("combined")).unwrap(),
        Lane::ForYou
    );
    assert_eq!(
        serde_json::to_value(Lane::ForYou).unwrap(),
        json!("for_you")
    );
    for lane in Lane::ALL {
        assert_eq!(Lane::parse(lane.as_str()), Some(lane));
    }
    assert_eq!(
        serde_json::to_value(Kind::Listing).unwrap(),
        json!("listing")
    );
    for k in Kind::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
    }
}

#[test]
fn cursor_round_trip_and_errors() {
    let c = Cursor {
        as_of_ms: NOW,
        max_id: 42,
        post: Some(Position {
            score: 1.1 + 0.6 * 0.7,
            id: 7,
        }),
        listing: None,
        event: Some(Position {
            score: 5e-324,
            id: -1,
        }),
    };
    let text = c.encode();
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{text}"
    );
    assert_eq!(Cursor::decode(&text), Ok(c.clone()));
    assert!(matches!(
        Cursor::decode("not base64!"),
        Err(CursorError::Base64(_))
    ));
    assert!(matches!(
        Cursor::decode(&format!("{text}=")),
        Err(CursorError::Base64(_))
    ));
    let other = URL_SAFE_NO_PAD.encode(r#"{"as_of_ms":1}"#);
    assert!(matches!(Cursor::decode(&other), Err(CursorError::Json(_))));
    let extra = URL_SAFE_NO_PAD
        .encode(r#"{"as_of_ms":1,"max_id":1,"post":null,"listing":null,"event":null,"x":1}"#);
    assert!(matches!(Cursor::decode(&extra), Err(CursorError::Json(_))));
    assert!(Cursor::decode("").is_err());
}

#[test]
fn for_you_page_blends_with_caps() {
    // 12 posts, 12 listings, 12 events; listings score highest so the cap
    // is what holds them back.
    let mut items = Vec::new();
    for i in 0..12 {
        items.push(item(i + 1, Kind::Post, 100 + i, 0.5));
        items.push(item(i + 101, Kind::Listing, 200 + i, 1.0));
        items.push(item(i + 201, Kind::Event, 300 + i, 0.2));
    }
    let p = page(&items, Lane::ForYou, 10, None, NOW);
    // Quotas (6, 3, 1); cap 1/2 on every prefix.
    assert_eq!(kinds(&p), "PLPLPLPPPE");
    let next = p.next.clone().unwrap();
    assert_eq!((next.as_of_ms, next.max_id), (NOW, 212));
    assert_eq!(next.post.unwrap().id, 7, "posts 12, 11, ..., 7 taken");
    assert_eq!(next.listing.unwrap().id, 110);
    assert_eq!(next.event.unwrap().id, 212);
}

#[test]
fn shop_page_starts_with_a_post() {
    let mut items = Vec::new();
    for i in 0..30 {
        items.push(item(i + 1, Kind::Listing, 200 + i, 1.0));
    }
    items.push(item(100, Kind::Post, 1, 0.0));
    items.push(item(101, Kind::Event, 2, 0.0));
    let p = page(&items, Lane::Shop, 10, None, NOW);
    // Quotas (1, 9, 0); a listing cannot lead (1/1 > 2/3).
    assert_eq!(kinds(&p), "PLL");
    assert_eq!(
        p.items.len(),
        3,
        "cap: LL after P is 2/3; a third listing would be 3/4"
    );
}

#[test]
fn listings_fill_freely_once_posts_and_events_are_exhausted() {
    let items: Vec<Item> = (1..=8).map(|i| item(i, Kind::Listing, i, 0.5)).collect();
    let p = page(&items, Lane::ForYou, 10, None, NOW);
    // Quota ceil(2.5) = 3 still applies.
    assert_eq!(ids(&p), [8, 7, 6]);
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let p = page(&items, Lane::ForYou, 10, cursor.as_ref(), NOW);
        all.extend(ids(&p));
        match p.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(all, [8, 7, 6, 5, 4, 3, 2, 1]);
}

#[test]
fn same_seller_needs_a_quarter_point_more() {
    let items = vec![
        item(1, Kind::Post, 7, 0.9),
        item(2, Kind::Post, 7, 0.5),
        item(3, Kind::Event, 8, 0.1),
    ];
    // 2 (seller 7, 1.3) cannot follow 1 (seller 7, 1.54): the event 3 goes
    // between.
    let p = page(&items, Lane::Following, 10, None, NOW);
    assert_eq!(ids(&p), [1, 3, 2]);
    // Only one seller: the page ends after the first item; the next page
    // starts afresh (the rule is per page).
    let one = &items[..2];
    let p = page(one, Lane::Following, 10, None, NOW);
    assert_eq!(ids(&p), [1]);
    let p2 = page(one, Lane::Following, 10, p.next.as_ref(), NOW);
    assert_eq!(ids(&p2), [2]);
    assert_eq!(p2.next, None);
    // A later item scoring ≥ 0.25 more may follow the same seller.
    let mut lead = item(1, Kind::Event, 5, 0.0);
    lead.created_at_ms = NOW - 1000 * HOUR;
    let jump = vec![lead, item(2, Kind::Post, 5, 0.0)];
    let p = page(&jump, Lane::ForYou, 10, None, NOW);
    assert_eq!(
        ids(&p),
        [2],
        "post (1.0) first; the old event (~0.0) is 1.0 lower"
    );
    // Only heads compete: a blocked post head blocks the posts behind it.
    let blocked = vec![
        item(1, Kind::Post, 7, 0.9),
        item(2, Kind::Post, 7, 0.5),
        item(3, Kind::Post, 8, 0.0),
    ];
    assert_eq!(ids(&page(&blocked, Lane::Following, 10, None, NOW)), [1]);
    // A later item ≥ 0.25 higher may follow its seller: the listing could
    // not lead (cap), so it comes second, 0.8 above the post.
    let up = vec![item(1, Kind::Post, 5, 0.0), item(2, Kind::Listing, 5, 1.0)];
    assert_eq!(ids(&page(&up, Lane::ForYou, 10, None, NOW)), [1, 2]);
    // 0.24 above is not enough; it waits for the next page.
    let close = vec![item(1, Kind::Post, 5, 0.0), item(2, Kind::Listing, 5, 0.3)];
    let p = page(&close, Lane::ForYou, 10, None, NOW);
    assert_eq!(ids(&p), [1]);
    assert_eq!(
        ids(&page(&close, Lane::ForYou, 10, p.next.as_ref(), NOW)),
        [2]
    );
}

#[test]
fn empty_first_position_sets_quotas_aside() {
    // for_you limit 5: event quota 0. Posts gone, events and listings left:
    // without the exception no page could ever show them.
    let items = vec![
        item(1, Kind::Event, 1, 0.1),
        item(2, Kind::Event, 2, 0.1),
        item(3, Kind::Listing, 3, 0.1),
        item(4, Kind::Listing, 4, 0.1),
    ];
    let p = page(&items, Lane::ForYou, 5, None, NOW);
    assert_eq!(
        kinds(&p),
        "EL",
        "one event over quota leads, then a listing fits the cap"
    );
    let p2 = page(&items, Lane::ForYou, 5, p.next.as_ref(), NOW);
    assert_eq!(kinds(&p2), "EL");
    assert_eq!(p2.next, None);
}

#[test]
fn walk_snapshot_ignores_newer_items() {
    let mut items: Vec<Item> = (1..=6)
        .map(|i| item(i, Kind::Post, i, 0.1 * i as f64))
        .collect();
    let p = page(&items, Lane::ForYou, 5, None, NOW);
    assert_eq!(ids(&p), [6, 5, 4], "post quota ceil(0.6 × 5) = 3");
    items.push(item(7, Kind::Post, 7, 1.0));
    let p2 = page(&items, Lane::ForYou, 5, p.next.as_ref(), NOW + HOUR);
    assert_eq!(ids(&p2), [3, 2, 1]);
    assert_eq!(p2.next, None);
    assert_eq!(page(&items, Lane::ForYou, 5, None, NOW).items[0].0.id, 7);
}

#[test]
fn empty_candidates() {
    let p = page(&[], Lane::Shop, 20, None, NOW);
    assert_eq!(
        p,
        Page {
            items: vec![],
            next: None
        }
    );
}

// ---- properties ----

fn any_lane() -> impl Strategy<Value = Lane> {
    prop::sample::select(Lane::ALL.to_vec())
}

/// Candidates with unique ids; few sellers and coarse signals so ties and
/// same-seller neighbours are common.
fn any_items(max: usize) -> impl Strategy<Value = Vec<Item>> {
    prop::collection::vec(
        (
            prop::sample::select(Kind::ALL.to_vec()),
            0i64..4,
            0i64..200,
            prop_oneof![(0u8..=4).prop_map(|s| f64::from(s) / 4.0), 0.0f64..=1.0],
            prop_oneof![Just(0.0), 0.0f64..=1.0],
        ),
        0..max,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (kind, seller_id, age_h, signal, fit))| Item {
                id: i as i64 + 1,
                kind,
                seller_id,
                created_at_ms: NOW - age_h * HOUR / 4,
                signal,
                fit,
            })
            .collect()
    })
}

/// Checks one page's invariants; returns whether any listing on it broke
/// the density cap (allowed only once posts and events are exhausted).
fn check_page(p: &Page, lane: Lane, limit: u32) -> Result<Vec<usize>, TestCaseError> {
    prop_assert!(p.items.len() <= limit as usize);
    let (qp, ql, qe) = quotas(lane, limit);
    let count = |k: Kind| p.items.iter().filter(|(i, _)| i.kind == k).count() as u32;
    prop_assert!(count(Kind::Post) <= qp);
    prop_assert!(count(Kind::Listing) <= ql);
    // Events may exceed a zero quota by one, in the first position only.
    let over = count(Kind::Event).saturating_sub(qe);
    prop_assert!(over == 0 || (qe == 0 && over == 1 && p.items[0].0.kind == Kind::Event));
    for w in p.items.windows(2) {
        let ((a, sa), (b, sb)) = (&w[0], &w[1]);
        if a.seller_id == b.seller_id {
            prop_assert!(
                *sb >= sa + SAME_SELLER_MARGIN,
                "same seller {} then {}",
                sa,
                sb
            );
        }
    }
    // Within a kind, the page follows the stream order.
    for k in Kind::ALL {
        let keys: Vec<(f64, i64)> = p
            .items
            .iter()
            .filter(|(i, _)| i.kind == k)
            .map(|(i, s)| (*s, i.id))
            .collect();
        prop_assert!(keys.windows(2).all(|w| key_cmp(w[0], w[1]).is_gt()));
    }
    let (num, den) = listing_cap(lane);
    let mut listings = 0u32;
    let mut over_cap = Vec::new();
    for (n, (i, _)) in p.items.iter().enumerate() {
        if i.kind == Kind::Listing {
            listings += 1;
            if listings * den > num * (n as u32 + 1) {
                over_cap.push(n);
            }
        }
    }
    Ok(over_cap)
}

/// Walks every page; checks each page and that every candidate is shown
/// exactly once.
fn walk(items: &[Item], lane: Lane, limit: u32, inserted: &[Item]) -> Result<(), TestCaseError> {
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    let mut shown: Vec<Item> = Vec::new();
    let mut cursor: Option<Cursor> = None;
    let mut pool = items.to_vec();
    let mut pages = 0;
    loop {
        let now = NOW + pages as i64 * HOUR;
        let p = page(&pool, lane, limit, cursor.as_ref(), now);
        pages += 1;
        prop_assert!(pages <= items.len() + 1, "walk does not end");
        let over_cap = check_page(&p, lane, limit)?;
        let first_of_page = shown.len();
        for (i, s) in &p.items {
            prop_assert_eq!(*s, score(i, cursor.as_ref().map_or(now, |c| c.as_of_ms)));
            *seen.entry(i.id).or_default() += 1;
            shown.push(i.clone());
        }
        // A listing over the cap must come after every post and event of
        // the walk: those streams were exhausted.
        for n in over_cap {
            let before = &shown[..first_of_page + n];
            prop_assert!(
                items
                    .iter()
                    .filter(|i| i.kind != Kind::Listing)
                    .all(|i| before.iter().any(|s| s.id == i.id)),
                "listing over the cap while posts or events remained"
            );
        }
        match p.next {
            None => break,
            Some(next) => {
                prop_assert!(!p.items.is_empty(), "empty page with a next cursor");
                let text = next.encode();
                let decoded = Cursor::decode(&text).unwrap();
                prop_assert_eq!(&decoded, &next);
                cursor = Some(decoded);
                // Items inserted mid-walk get higher ids: not in this walk.
                if pages == 1 {
                    pool.extend(inserted.iter().cloned());
                }
            }
        }
    }
    let want: BTreeSet<i64> = items.iter().map(|i| i.id).collect();
    let got: BTreeSet<i64> = seen.keys().copied().collect();
    prop_assert_eq!(got, want, "every item once, no inserted item");
    prop_assert!(seen.values().all(|&n| n == 1), "duplicates: {:?}", seen);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn walks_show_every_item_exactly_once(
        items in any_items(60), lane in any_lane(), limit in 1u32..=50,
    ) {
        walk(&items, lane, limit, &[])?;
    }

    #[test]
    fn small_pages_walk_too(items in any_items(40), lane in any_lane(), limit in 1u32..=7) {
        walk(&items, lane, limit, &[])?;
    }

    #[test]
    fn insertions_during_a_walk_wait_for_the_next_walk(
        items in any_items(40), extra in any_items(10), lane in any_lane(), limit in 1u32..=12,
    ) {
        let base = items.len() as i64;
        let inserted: Vec<Item> =
            extra.into_iter().map(|i| Item { id: i.id + base, ..i }).collect();
        walk(&items, lane, limit, &inserted)?;
    }

    #[test]
    fn first_page_is_deterministic_and_order_free(
        items in any_items(60), lane in any_lane(), limit in 1u32..=50,
    ) {
        let a = page(&items, lane, limit, None, NOW);
        let mut reversed = items.clone();
        reversed.reverse();
        let b = page(&reversed, lane, limit, None, NOW);
        prop_assert_eq!(a, b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn cursors_round_trip_exactly(
        as_of_ms in any::<i64>(), max_id in any::<i64>(),
        scores in prop::array::uniform3(prop::option::of((any::<f64>(), any::<i64>()))),
    ) {
        let pos = |o: Option<(f64, i64)>| o.filter(|(s, _)| s.is_finite())
            .map(|(score, id)| Position { score, id });
        let c = Cursor { as_of_ms, max_id, post: pos(scores[0]), listing: pos(scores[1]), event: pos(scores[2]) };
        let back = Cursor::decode(&c.encode()).unwrap();
        for (a, b) in [(back.post, c.post), (back.listing, c.listing), (back.event, c.event)] {
            prop_assert_eq!(a.map(|p| (p.score.to_bits(), p.id)), b.map(|p| (p.score.to_bits(), p.id)));
        }
        prop_assert_eq!(back, c);
    }

    #[test]
    fn scores_are_bounded(signal in 0.0f64..=1.0, fit in 0.0f64..=1.0, age in any::<i64>(),
                          kind in prop::sample::select(Kind::ALL.to_vec())) {
        let i = Item { id: 1, kind, seller_id: 1, created_at_ms: 0, signal, fit };
        let s = score(&i, age);
        prop_assert!((0.0..=2.3).contains(&s), "{}", s);
        // Older never scores higher.
        prop_assert!(score(&i, age.saturating_add(HOUR)) <= s);
    }
}
