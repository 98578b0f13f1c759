//! A dependency that comes back empty (issue 15, "detection power"): the
//! reference system's Redis loses its data files and is killed, and comes
//! back with nothing to replay. The system must rebuild its Redis state by
//! itself (the worker re-creates the consumer group on `NOGROUP`) with no
//! acknowledged write and no event lost. One stack, one experiment:
//! `chaos/experiments/redis_data_lost.toml`.

mod common;

use common::*;

#[test]
fn redis_coming_back_empty_is_recovered_from_with_nothing_lost() {
    if !require_docker() {
        return;
    }
    let project = unique_project("data-lost");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "chaos",
        "redis_data_lost",
        "--out",
        dir.path().to_str().unwrap(),
        "--seed",
        "15",
    ];
    let bin = system_bin_args();
    args.extend(bin.iter().map(String::as_str));
    let out = run(&project, &args);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "the experiment failed:\n{said}");

    let journal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("chaos.json")).unwrap())
            .unwrap();
    let e = &journal["experiments"][0];
    assert_eq!(e["name"], "redis_data_lost");
    assert_eq!(e["verdict"]["result"], "passed", "{e}");

    // The loss really happened: the files went while writes were paused
    // and the stream drained, and the marker written before is gone.
    let removed = &e["actions"][0];
    let detail = removed["detail"].as_str().unwrap_or_default();
    assert_eq!(removed["proven"], true, "{removed}");
    assert!(
        detail.contains("delivered and acknowledged") || detail.contains("no stream yet"),
        "{removed}"
    );
    assert!(detail.contains("data files removed"), "{removed}");

    // Recovery is timed, and every check after the fault passed in time.
    assert!(e["recovery"]["from_fault_end_ms"].is_u64(), "{e}");
    assert!(e["recovery"]["from_fault_start_ms"].is_u64(), "{e}");
    let after = e["after_fault"].as_array().unwrap();
    for probe in [
        "Redis came back without its data",
        "health ok again",
        "the worker re-created the consumer group",
        "a new order's event reaches the sink (and the DLQ, and requeue)",
        "the rate limiter keeps its buckets in Redis again",
    ] {
        let seen = after
            .iter()
            .find(|a| a["probe"] == probe)
            .unwrap_or_else(|| panic!("`{probe}` not among the checks after the fault: {e}"));
        assert_eq!(seen["passed"], true, "{seen}");
        assert!(seen["took_ms"].is_u64(), "{seen}");
    }

    // Nothing acknowledged was lost: Postgres kept every write, and every
    // order's event reached the sink once or the DLQ.
    let ledger = &e["reconciliation"];
    assert_eq!(ledger["lost_writes"], serde_json::json!([]), "{ledger}");
    assert_eq!(ledger["events"]["missing"], 0, "{ledger}");
    assert_eq!(ledger["events"]["duplicated"], 0, "{ledger}");
    assert!(
        said.contains("redis_data_lost: PASSED; recovered"),
        "{said}"
    );

    assert!(
        labelled_resources(&project).is_empty(),
        "the run removed its stack"
    );
}
