//! Splitting adds up; shard files read back what was written; merged
//! shards give exactly what one recorder that saw every request gives.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::data::{Capture, RunInfo};
use super::*;
use crate::report::{GooseSummary, LoadReport, Outcome, PhaseClock, PhaseWindow, Recorder};
use crate::slo::{evaluate, SloFile, SloSet};

const MIX: &str = "[mix]\nbrowse_list = 5\ncheckout = 1\n";

fn parse(text: &str) -> Profile {
    Profile::parse(text, "p.toml", "p").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn shard_specs_parse_and_refuse_what_is_not_one() {
    assert_eq!(
        ShardSpec::parse("2/3"),
        Ok(ShardSpec { index: 2, count: 3 })
    );
    assert_eq!(ShardSpec::parse(" 0/1 "), Ok(ShardSpec::WHOLE));
    for (bad, says) in [
        ("3/3", "shard index 3 is not below the count 3"),
        ("5/2", "not below the count 2"),
        ("0/0", "the shard count must be 1 to 1000, not 0"),
        ("1/1001", "the shard count must be 1 to 1000"),
        ("1", "`1` is not I/N"),
        ("a/3", "`a/3` is not I/N"),
        ("-1/3", "is not I/N"),
        ("1/3/4", "is not I/N"),
        ("", "is not I/N"),
    ] {
        let e = ShardSpec::parse(bad).expect_err(bad);
        assert!(e.contains(says), "{bad}: {e}");
    }
    assert_eq!(ShardSpec { index: 1, count: 4 }.to_string(), "1/4");
}

#[test]
fn users_split_so_every_phase_adds_up() {
    for total in 0..=130u32 {
        for n in 1..=17u32 {
            let shares: Vec<u32> = ShardSpec::all(n).map(|s| s.share(total)).collect();
            assert_eq!(shares.iter().sum::<u32>(), total, "{total} users over {n}");
            let (lo, hi) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
            assert!(hi - lo <= 1, "{total}/{n}: {shares:?}");
            // The first shards take the remainder.
            assert!(shares.windows(2).all(|w| w[0] >= w[1]), "{shares:?}");
        }
    }
    for (total, n) in [(100_000, 10), (1_000_000, 7), (u32::MAX, 1000)] {
        let sum: u64 = ShardSpec::all(n).map(|s| u64::from(s.share(total))).sum();
        assert_eq!(sum, u64::from(total));
    }
}

#[test]
fn closed_profiles_split_per_phase_with_the_same_clock() {
    let p = parse(&format!(
        "{MIX}[[phase]]\nname=\"ramp_up\"\nusers=1000\nduration=\"2m\"\n\
         [[phase]]\nname=\"plateau\"\nusers=997\nduration=\"5m\"\n\
         [[phase]]\nname=\"ramp_down\"\nusers=0\nduration=\"1m\"\n"
    ));
    for n in [1, 2, 3, 7, 10, 997] {
        let parts: Vec<Profile> = ShardSpec::all(n).map(|s| p.for_shard(&s)).collect();
        for (i, phase) in p.phases.iter().enumerate() {
            let sum: u32 = parts.iter().map(|q| q.phases[i].users).sum();
            assert_eq!(sum, phase.users, "{} over {n}", phase.name);
            assert!(parts
                .iter()
                .all(|q| q.phases[i].duration == phase.duration && q.phases[i].name == phase.name));
        }
        assert!(parts.iter().all(|q| q.name == p.name && q.mix == p.mix));
        assert!(parts
            .iter()
            .all(|q| q.users == q.phases.iter().map(|ph| ph.users).max().unwrap()));
    }
    assert!(p.check_split(1000).is_ok());
    let e = p.check_split(1001).unwrap_err();
    assert!(
        e.contains("at most 1000 users") && e.contains("use at most 1000 shards"),
        "{e}"
    );
}

#[test]
fn open_profiles_divide_their_rates() {
    let p = parse(
        "mode = \"open\"\nusers = 5\nrate = 100\n[mix]\nbrowse_list = 1\n\
         [[phase]]\nname = \"warm\"\nduration = \"10s\"\nrate = 7\n\
         [[phase]]\nname = \"hold\"\nduration = \"1m\"\n",
    );
    for n in 1..=9u32 {
        let parts: Vec<Profile> = ShardSpec::all(n).map(|s| p.for_shard(&s)).collect();
        for (i, phase) in p.phases.iter().enumerate() {
            let sum: f64 = parts.iter().map(|q| q.phases[i].rate.unwrap()).sum();
            let want = phase.rate.unwrap();
            assert!(
                (sum - want).abs() <= want * 1e-12,
                "{sum} vs {want} over {n}"
            );
        }
        // The pool splits like users, at least one each.
        let pools: Vec<u32> = parts.iter().map(|q| q.users).collect();
        assert!(pools.iter().all(|u| *u >= 1), "{pools:?}");
        if n <= 5 {
            assert_eq!(pools.iter().sum::<u32>(), 5, "{pools:?}");
        }
        assert!(parts
            .iter()
            .all(|q| q.phases.iter().all(|ph| ph.users == q.users)));
    }
    assert!(
        p.check_split(9).is_ok(),
        "open mode: a pool of 1 carries a rate"
    );
}

#[test]
fn shard_seeds_are_distinct_and_stable() {
    let run = 42;
    assert_eq!(ShardSpec::WHOLE.seed(run), run, "unsharded: the run's seed");
    let seeds: Vec<u64> = ShardSpec::all(1000).map(|s| s.seed(run)).collect();
    let mut unique = seeds.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 1000);
    assert!(!seeds.contains(&run));
    // The formula is documented: pin it.
    assert_eq!(
        ShardSpec { index: 0, count: 2 }.seed(0),
        0xE220_A839_7B1D_CDAF
    );
    assert_eq!(
        ShardSpec { index: 1, count: 3 }.seed(run),
        ShardSpec { index: 1, count: 7 }.seed(run)
    );
}

#[test]
fn capped_users_scale_a_profile_down() {
    let p = parse(&format!(
        "{MIX}[[phase]]\nname=\"ramp_up\"\nusers=10000\nduration=\"1m\"\n\
         [[phase]]\nname=\"plateau\"\nusers=10000\nduration=\"1m\"\n\
         [[phase]]\nname=\"tail\"\nusers=3\nduration=\"1m\"\n\
         [[phase]]\nname=\"ramp_down\"\nusers=0\nduration=\"1m\"\n"
    ));
    let small = p.capped_users(50);
    let users: Vec<u32> = small.phases.iter().map(|ph| ph.users).collect();
    assert_eq!(users, [50, 50, 1, 0]);
    assert_eq!(small.users, 50);
    assert_eq!(p.capped_users(20_000).phases, p.phases, "fits already");
    let open = parse(
        "mode = \"open\"\nusers = 400\nrate = 1000\nduration = \"10s\"\n[mix]\nbrowse_list = 1\n",
    );
    let o = open.capped_users(100);
    assert_eq!(
        (o.users, o.phases[0].users, o.phases[0].rate),
        (100, 100, Some(250.0))
    );
}

// ------------------------------------------------- recording and merging

const TXNS: [&str; 4] = ["browse_list", "checkout", "hot_checkout", "publish"];
/// Kept out of `all`, like the contention bursts.
const APART: [&str; 1] = ["hot_checkout"];

#[derive(Debug, Clone)]
enum Event {
    Request {
        user: usize,
        txn: usize,
        /// `None`: before the schedule's start (open mode: setup).
        at_ms: Option<u64>,
        latency_us: u64,
        outcome: Outcome,
    },
    Send {
        user: usize,
        lag_us: u64,
    },
    Skip {
        user: usize,
        n: u64,
    },
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => Just(Outcome::Ok),
        1 => prop::sample::select(vec!["409 INV001", "429 RATE001"]).prop_map(|r| Outcome::Refused(r.into())),
        1 => prop::sample::select(vec!["500 INTERNAL", "transport: timeout", "401 AUTH001"])
            .prop_map(|r| Outcome::Error(r.into())),
        1 => prop::sample::select(vec!["lost update", "idempotency key replay created 2 orders"])
            .prop_map(|r| Outcome::Violation(r.into())),
    ]
}

/// 1 µs to minutes, with the extremes: 0 (recorded as 1 µs), the top of
/// the histogram (1 h) and past it (saturated).
fn latency_us() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        2u64..1_000,
        1_000u64..2_000_000,
        2_000_000u64..300_000_000,
        Just(3_600_000_000),
        Just(7_200_000_000),
        Just(u64::MAX / 4),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        8 => (0usize..40, 0..TXNS.len(), prop::option::weighted(0.9, 0u64..40_000), latency_us(), outcome())
            .prop_map(|(user, txn, at_ms, latency_us, outcome)| Event::Request { user, txn, at_ms, latency_us, outcome }),
        2 => (0usize..40, latency_us()).prop_map(|(user, lag_us)| Event::Send { user, lag_us }),
        1 => (0usize..40, 1u64..5).prop_map(|(user, n)| Event::Skip { user, n }),
    ]
}

/// Phases of 10 s and 20 s; open mode has a setup phase before them.
fn clock(open: bool) -> PhaseClock {
    PhaseClock::new(
        &[
            ("ramp_up".into(), Duration::from_secs(10)),
            ("plateau".into(), Duration::from_secs(20)),
        ],
        open,
    )
}

fn record(r: &Recorder, epoch: Instant, e: &Event) {
    match e {
        Event::Request {
            user,
            txn,
            at_ms,
            latency_us,
            outcome,
        } => {
            let at = match at_ms {
                Some(ms) => epoch + Duration::from_millis(*ms),
                None => epoch - Duration::from_millis(500),
            };
            r.record(
                *user,
                TXNS[*txn],
                at,
                Duration::from_micros(*latency_us),
                outcome.clone(),
            )
        }
        Event::Send { user, lag_us } => r.record_send(*user, Duration::from_micros(*lag_us)),
        Event::Skip { user, n } => r.record_skipped(*user, *n),
    }
}

/// A shard's file text: what `r` recorded, as a run of `seconds` (its
/// phases scaled alike; open mode: `setup_s` of pool start-up) with
/// `users` users would write it.
fn shard_json(
    r: &Recorder,
    open: bool,
    spec: ShardSpec,
    (seconds, setup_s): (f64, f64),
    users: u32,
    planned: Option<u64>,
) -> String {
    let mut phase_seconds = vec![10.0 * seconds / 30.0, 20.0 * seconds / 30.0];
    if open {
        phase_seconds.insert(0, setup_s);
    }
    let report = LoadReport {
        profile: "p".into(),
        mode: if open { "open" } else { "closed" }.into(),
        latency_mode: "test".into(),
        target: "http://127.0.0.1:1".into(),
        started_at: format!("2025-01-01T00:00:0{}Z", spec.index % 10),
        duration_s: seconds,
        users,
        phases: windows(open, users),
        goose: Some(GooseSummary {
            requests: 10,
            ..GooseSummary::default()
        }),
        ..LoadReport::default()
    };
    ShardData::capture(
        r,
        &report,
        Capture {
            run_seed: 7,
            seed: spec.seed(7),
            shard: spec,
            phase_seconds,
            run_seconds: seconds,
            planned,
        },
    )
    .to_json()
}

/// The phase windows `load.json` lists (open mode: after a 2 s setup).
fn windows(open: bool, users: u32) -> Vec<PhaseWindow> {
    let lead = if open { 2.0 } else { 0.0 };
    vec![
        PhaseWindow {
            name: "ramp_up".into(),
            start_s: lead,
            end_s: lead + 10.0,
            users,
            rate: None,
        },
        PhaseWindow {
            name: "plateau".into(),
            start_s: lead + 10.0,
            end_s: lead + 30.0,
            users,
            rate: None,
        },
    ]
}

fn slos() -> SloSet {
    SloFile::parse(
        "[global]\np50 = \"20ms\"\np95 = \"500ms\"\np99 = \"2s\"\nerror_rate = \"5%\"\n\
         [transaction.checkout]\np90 = \"300ms\"\nmax = \"1m\"\n\
         [transaction.hot_checkout]\np95 = \"2s\"\nerror_rate = \"1%\"\n\
         [transaction.publish]\nerror_rate = \"10%\"\n",
        "slo.toml",
    )
    .unwrap()
    .for_profile("p")
}

fn recorder(open: bool) -> Recorder {
    Recorder::new(clock(open)).keeping_apart(APART.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Samples split arbitrarily across 1 to 6 shards, each recorded
    /// into its own recorder, written as JSON text, read back and merged:
    /// every percentile, count, outcome map and SLO verdict is what one
    /// recorder that saw everything gives.
    #[test]
    fn merged_shards_equal_one_recorder(
        open in any::<bool>(),
        n in 1u32..=6,
        events in prop::collection::vec((event(), 0u32..6), 0..300),
    ) {
        let whole = recorder(open);
        let parts: Vec<Recorder> = (0..n).map(|_| recorder(open)).collect();
        let epoch = Instant::now() + Duration::from_secs(1);
        whole.set_epoch(epoch);
        for p in &parts {
            p.set_epoch(epoch);
        }
        let mut planned = vec![0u64; n as usize];
        for (e, pick) in &events {
            let shard = (*pick % n) as usize;
            record(&whole, epoch, e);
            record(&parts[shard], epoch, e);
            if matches!(e, Event::Send { .. } | Event::Skip { .. }) {
                planned[shard] += 1;
            }
        }
        let planned_of = |i: usize| open.then_some(planned[i]);
        let total_planned = open.then_some(planned.iter().sum::<u64>());

        // One recorder: its live snapshot and its own file agree.
        let mut whole_seconds = vec![10.0, 20.0];
        if open {
            whole_seconds.insert(0, f64::from(n));
        }
        let live = whole.snapshot(&whole_seconds, 30.0, total_planned);
        let live_timeline = whole.timeline(&windows(open, 40), 30.0);
        let setup_s = f64::from(n);
        let text = shard_json(&whole, open, ShardSpec::WHOLE, (30.0, setup_s), 40, total_planned);
        let alone = ShardData::parse(&text, "whole").unwrap();
        let alone_report = alone.report();

        // Each shard as text, read back, merged.
        let texts: Vec<String> = parts
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let spec = ShardSpec { index: i as u32, count: n };
                // Shard 0 takes the full 30 s, the others less; the
                // last one's pool takes longest to start.
                let secs = 30.0 - 2.0 * i as f64;
                let setup_s = 1.0 + i as f64;
                shard_json(r, open, spec, (secs, setup_s), spec.share(40), planned_of(i))
            })
            .collect();
        let read: Vec<(String, ShardData)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("shard-{i}"), ShardData::parse(t, &format!("shard-{i}")).unwrap()))
            .collect();
        let merged = merge(read, false).unwrap();
        prop_assert!(merged.missing.is_empty());
        prop_assert_eq!(&merged.data.indices, &(0..n).collect::<Vec<_>>());
        let report = merged.data.report();

        // Throughput divides by the longest shard's seconds.
        prop_assert_eq!(merged.data.run_seconds, 30.0);
        prop_assert_eq!(report.users, 40);
        prop_assert_eq!(report.goose.as_ref().map(|g| g.requests), Some(10 * u64::from(n)));

        let (live_all, live_txns, live_open) = live;
        prop_assert_eq!(&alone_report.all, &live_all);
        prop_assert_eq!(&alone_report.transactions, &live_txns);
        prop_assert_eq!(&alone_report.open_model, &live_open);

        prop_assert_eq!(&report.all, &alone_report.all);
        prop_assert_eq!(&report.transactions, &alone_report.transactions);
        prop_assert_eq!(&report.open_model, &alone_report.open_model);
        let slos = slos();
        prop_assert_eq!(evaluate(&report, &slos), evaluate(&alone_report, &slos));

        // The timeline too: one recorder's, its file's and the merged
        // shards' are the same, and each series adds up to its breakdown
        // (less open mode's setup, which the timeline leaves out).
        prop_assert_eq!(&alone_report.timeline, &live_timeline);
        prop_assert_eq!(&report.timeline, &alone_report.timeline);
        let t = &report.timeline;
        prop_assert!(!t.is_empty());
        prop_assert_eq!(t.bucket_s, 1.0);
        let lead = if open { 2.0 } else { 0.0 };
        // Up to the run's end (30 s less open mode's setup), or further to
        // the last bucket with a request: those past the schedule's 30 s
        // count in its last bucket.
        let last = events
            .iter()
            .filter_map(|(e, _)| match e {
                Event::Request { at_ms: Some(ms), .. } => Some((*ms / 1000).min(29) as usize + 1),
                Event::Request { at_ms: None, .. } if !open => Some(1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        for (name, points) in &t.series {
            prop_assert_eq!(points.len(), (30 - lead as usize).max(last), "{}", name);
            for (k, p) in points.iter().enumerate() {
                prop_assert_eq!(p.t_s, lead + k as f64);
                prop_assert_eq!(p.count, p.ok + p.errors + p.refusals);
                prop_assert_eq!(p.errors, p.error_classes.values().sum::<u64>());
                prop_assert_eq!(p.p50_ms.is_none(), p.count == 0);
            }
            let b = if name == "all" { &report.all } else { &report.transactions[name] };
            let setup = b.phases.get("setup").map_or(0, |s| s.count);
            let summed: u64 = points.iter().map(|p| p.count).sum();
            prop_assert_eq!(summed, b.run.count - setup, "{}", name);
            let errors: u64 = points.iter().map(|p| p.errors).sum();
            let setup_errors = b.phases.get("setup").map_or(0, |s| s.errors_total);
            prop_assert_eq!(errors, b.run.errors_total - setup_errors, "{}", name);
        }
        for name in report.transactions.keys() {
            let b = &report.transactions[name];
            let setup = b.phases.get("setup").map_or(0, |s| s.count);
            prop_assert_eq!(t.series.contains_key(name), b.run.count > setup, "{}", name);
        }

        // The merged file reads back to the same report.
        let again = ShardData::parse(&merged.data.to_json(), "merged").unwrap();
        prop_assert_eq!(again.report(), report);
    }

    /// A shard file cut anywhere is an error that says so, not a panic.
    #[test]
    fn truncated_shard_files_are_errors(cut in 0.0f64..1.0) {
        let text = sample_json();
        let at = ((text.len() as f64) * cut) as usize;
        let mut at = at.min(text.len() - 2);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let e = ShardData::parse(&text[..at], "cut.json").unwrap_err().to_string();
        prop_assert!(e.starts_with("cut.json: not a usable shard.json: "), "{}", e);
    }

    /// Damaged bytes anywhere: an error or a file that still adds up,
    /// never a panic.
    #[test]
    fn damaged_shard_files_never_panic(at in 0.0f64..1.0, byte in any::<u8>()) {
        let mut bytes = sample_json().into_bytes();
        let i = (((bytes.len() as f64) * at) as usize).min(bytes.len() - 1);
        bytes[i] = byte;
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(d) = ShardData::parse(&text, "damaged.json") {
            let _ = d.report();
        }
    }
}

/// A small shard file: two transactions, open mode, some lag.
fn sample_json() -> String {
    let r = recorder(true);
    let epoch = Instant::now() + Duration::from_secs(1);
    r.set_epoch(epoch);
    for (i, ms) in [3u64, 5, 80, 1200].iter().enumerate() {
        r.record(
            i,
            "checkout",
            epoch,
            Duration::from_millis(*ms),
            Outcome::Ok,
        );
        r.record(
            i,
            "browse_list",
            epoch - Duration::from_millis(1),
            Duration::from_millis(*ms),
            Outcome::Error("500 INTERNAL".into()),
        );
        r.record_send(i, Duration::from_millis(*ms));
    }
    shard_json(
        &r,
        true,
        ShardSpec { index: 1, count: 3 },
        (30.0, 1.0),
        4,
        Some(4),
    )
}

#[test]
fn a_damaged_shard_file_says_what_is_wrong() {
    let good = sample_json();
    assert!(ShardData::parse(&good, "ok.json").is_ok());
    let hist_start = good.find("\"histogram\": \"").unwrap() + "\"histogram\": \"".len();
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "the file ends early"),
        (
            "{\"format\": \"gauntlet-shard/9\"}".into(),
            "format `gauntlet-shard/9`; this gauntlet reads `gauntlet-shard/1`",
        ),
        ("{\"cells\": []}".into(), "no `format` key"),
        ("[1, 2]".into(), "no `format` key"),
        (
            good.replacen("\"phase\": \"plateau\"", "\"phase\": \"cruise\"", 1)
                .replacen("\"phase\": \"setup\"", "\"phase\": \"cruise\"", 1),
            "phase `cruise` is not on the clock (setup, ramp_up 10s, plateau 20s)",
        ),
        (
            format!("{}!!{}", &good[..hist_start], &good[hist_start + 2..]),
            "histogram is not base64",
        ),
        (
            format!("{}AAAA{}", &good[..hist_start], &good[hist_start + 4..]),
            "not in hdrhistogram's V2 format",
        ),
        (
            good.replacen("\"count\": 4", "\"count\": 5", 1),
            "count 5 but 4 latencies and 4 outcomes",
        ),
        (
            good.replacen(
                "\"indices\": [\n      1\n    ]",
                "\"indices\": [\n      3\n    ]",
                1,
            ),
            "shard index 3 is not below the count 3",
        ),
        (
            good.replacen("\"ok\":", "\"okay\":", 1),
            "unknown field `okay`",
        ),
        (
            good.replacen("\"ok\": 4,\n        \"refusals\": 0", "\"ok\": 3,\n        \"refusals\": 0", 1),
            "timeline.cells[0] (checkout in bucket 0): count 4 but 4 latencies and 3 outcomes",
        ),
        (
            good.replacen("\"bucket\": 0", "\"bucket\": 10000", 1),
            "timeline.cells[0] (checkout in bucket 10000): a timeline has at most 10000 buckets",
        ),
        (
            good.replacen("\"bucket_s\": 1.0", "\"bucket_s\": 0.0", 1),
            "timeline.bucket_s is 0, not a width in seconds",
        ),
        (
            good.replacen("\"cells\": [\n      {\n        \"transaction\": \"checkout\",\n        \"bucket\"",
                "\"cells\": [\n      {\n        \"transaction\": \"checkout\",\n        \"bucket\": 0, \"x\": 1, \"b\"", 1),
            "unknown field `x`",
        ),
    ];
    for (text, says) in cases {
        let e = ShardData::parse(&text, "f.json")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("f.json: not a usable shard.json: ") && e.contains(says),
            "want {says:?}, got: {e}"
        );
    }
}

fn part(index: u32, count: u32, profile: &str, plateau: f64) -> (String, ShardData) {
    let text = sample_json();
    let mut d = ShardData::parse(&text, "x").unwrap();
    d.indices = vec![index];
    d.count = count;
    d.info.profile = profile.into();
    d.clock.phases[1].seconds = plateau;
    (format!("shard-{index}"), d)
}

#[test]
fn merge_refuses_shards_of_different_runs() {
    let cases: Vec<(Vec<(String, ShardData)>, &str)> = vec![
        (vec![], "no shard to merge"),
        (
            vec![part(0, 2, "p", 20.0), part(1, 2, "q", 20.0)],
            "shard-0 has profile p, shard-1 has profile q",
        ),
        (
            vec![part(0, 2, "p", 20.0), part(1, 2, "p", 25.0)],
            "shard-0 has phases setup, ramp_up 10s, plateau 20s, shard-1 has phases setup, ramp_up 10s, plateau 25s",
        ),
        (
            vec![part(0, 2, "p", 20.0), part(1, 3, "p", 20.0)],
            "shard-0 is one of 2 shards, shard-1 one of 3",
        ),
        (
            vec![part(1, 2, "p", 20.0), part(1, 2, "p", 20.0)],
            "shard 1 of 2 is in both shard-1 and shard-1",
        ),
        (
            vec![part(0, 4, "p", 20.0), part(2, 4, "p", 20.0)],
            "shards 1, 3 of 4 are missing; merge every shard, or pass --partial to merge the 2 that are here",
        ),
    ];
    for (parts, says) in cases {
        let e = merge(parts, false).unwrap_err().to_string();
        assert!(e.contains(says), "want {says:?}, got: {e}");
    }
    let partial = merge(vec![part(0, 4, "p", 20.0), part(2, 4, "p", 20.0)], true).unwrap();
    assert_eq!(partial.missing, [1, 3]);
    assert_eq!(partial.data.indices, [0, 2]);
    assert!(!partial.data.is_complete());
    let report = partial.data.report();
    let md = summary_markdown(&partial, &report, &[]);
    assert!(
        md.contains("**Partial**: shards 1, 3 of 4 are missing"),
        "{md}"
    );
    assert!(md.contains("Merged from 2 of 4 shards (0, 2)"), "{md}");
    assert_eq!(report.all.run.count, 16, "two shards of 8 requests");
}

#[test]
fn merged_headers_add_up() {
    let (a_name, mut a) = part(0, 2, "p", 20.0);
    let (b_name, mut b) = part(1, 2, "p", 20.0);
    a.info.aborted = Some("SLO breach: global p95".into());
    b.info
        .error_examples
        .insert("checkout".into(), "from b".into());
    a.info
        .error_examples
        .insert("checkout".into(), "from a".into());
    b.info.started_at = "2024-12-31T23:59:59Z".into();
    b.run_seed = 8;
    let m = merge(vec![(b_name, b), (a_name, a)], false).unwrap();
    assert_eq!(
        m.data.info.aborted.as_deref(),
        Some("shard 0: SLO breach: global p95")
    );
    assert_eq!(
        m.data.info.error_examples["checkout"], "from a",
        "the lowest shard's"
    );
    assert_eq!(
        m.data.info.started_at, "2024-12-31T23:59:59Z",
        "the earliest start"
    );
    assert_eq!(m.data.info.users, 8);
    assert_eq!(m.data.planned, Some(8));
    assert_eq!(m.notes.len(), 1, "{:?}", m.notes);
    assert!(m.notes[0].contains("seed 8"), "{:?}", m.notes);
    let info: RunInfo = m.data.info.clone();
    assert_eq!(info.phases[0].users, 8);
}

/// `sample_json` as a gauntlet that had no timeline wrote it.
fn without_timeline(index: u32) -> (String, ShardData) {
    let mut file: serde_json::Value = serde_json::from_str(&sample_json()).unwrap();
    file.as_object_mut().unwrap().remove("timeline").unwrap();
    file["shards"]["indices"] = serde_json::json!([index]);
    let name = format!("old-{index}");
    let d = ShardData::parse(&file.to_string(), &name).unwrap();
    (name, d)
}

#[test]
fn shard_files_without_a_timeline_merge_without_one() {
    let (_, old) = without_timeline(0);
    assert_eq!(old.bucket_s, None);
    assert!(old.recorded.series.is_empty());
    let report = old.report();
    assert!(report.timeline.is_empty());
    assert_eq!(report.all.run.count, 8, "the rest reads as before");
    assert!(!old.to_json().contains("\"timeline\""));

    let m = merge(vec![without_timeline(0), without_timeline(1)], true).unwrap();
    assert!(m.data.report().timeline.is_empty());
    assert!(m.notes.is_empty(), "{:?}", m.notes);

    // With a shard that has one: none either, and a note says why.
    let (new_name, mut new) = part(1, 3, "p", 20.0);
    new.indices = vec![2];
    assert!(!new.report().timeline.is_empty());
    let m = merge(vec![without_timeline(0), (new_name, new)], true).unwrap();
    let merged = m.data.report();
    assert!(merged.timeline.is_empty());
    assert_eq!(merged.all.run.count, 16);
    assert!(m.data.recorded.series.is_empty());
    assert_eq!(
        m.notes,
        ["old-0 has no timeline (written by an older gauntlet): the merged load.json has none"]
    );
}

#[test]
fn shards_with_different_timeline_buckets_do_not_merge() {
    let (a_name, a) = part(0, 2, "p", 20.0);
    let (b_name, mut b) = part(1, 2, "p", 20.0);
    b.bucket_s = Some(2.0);
    let e = merge(vec![(a_name, a.clone()), (b_name, b)], false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("shard-0 has timeline buckets of 1 s, shard-1 of 2 s"),
        "{e}"
    );
    // The shards of one profile share the width: it comes from the
    // schedule, which every shard of a run has whole.
    let p = Profile::parse(
        &format!(
            "{MIX}[[phase]]\nname=\"ramp_up\"\nusers=1000\nduration=\"3m\"\n\
             [[phase]]\nname=\"plateau\"\nusers=997\nduration=\"6m\"\n"
        ),
        "p.toml",
        "p",
    )
    .unwrap();
    let widths: Vec<Duration> = ShardSpec::all(7)
        .map(|s| {
            let q = p.for_shard(&s);
            let phases: Vec<(String, Duration)> = q
                .phases
                .iter()
                .map(|ph| (ph.name.clone(), ph.duration))
                .collect();
            Recorder::new(PhaseClock::new(&phases, false)).bucket()
        })
        .collect();
    assert_eq!(widths, [Duration::from_secs(4); 7]);
    // Compared with the first shard that has a timeline.
    let (one, _) = part(1, 3, "p", 20.0);
    let (two_name, mut two) = part(2, 3, "p", 20.0);
    two.bucket_s = Some(2.0);
    let parts = vec![without_timeline(0), part(1, 3, "p", 20.0), (two_name, two)];
    let e = merge(parts, false).unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "{one} has timeline buckets of 1 s, shard-2 of 2 s"
        )),
        "{e}"
    );
    let (c_name, mut c) = part(1, 2, "p", 20.0);
    c.indices = vec![1];
    assert!(merge(vec![("shard-0".into(), a), (c_name, c)], false).is_ok());
}
