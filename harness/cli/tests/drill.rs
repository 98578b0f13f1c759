//! `gauntlet drill restore` and `gauntlet backup` on real stacks: the drill
//! passes on the reference system (nothing acknowledged lost with writes
//! paused; the lost writes counted when they keep flowing), and fails,
//! saying why, on a truncated backup, a table left out of the dump, rows
//! missing after the restore, and a restore that rewinds ids. Scheduled
//! backups are kept to their retention and a failing schedule shows up in
//! the stale check. No run leaves anything behind.

mod common;

use std::path::Path;

use common::*;

fn drill(project: &str, out: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut all = vec![
        "drill",
        "restore",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "5",
    ];
    all.extend(args);
    let bin = system_bin_args();
    all.extend(bin.iter().map(String::as_str));
    run_with_env(project, &all, env)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn report(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("drill.json")).unwrap()).unwrap()
}

fn failed_checks(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .chain(report["thresholds"].as_array().unwrap())
        .filter(|c| c["passed"] == false)
        .map(|c| {
            format!(
                "{}: {}",
                c["name"].as_str().unwrap(),
                c["detail"].as_str().unwrap()
            )
        })
        .collect()
}

/// Runs a drill expected to fail (exit 1) and returns its report and text.
fn failing_drill(test: &str, args: &[&str], env: &[(&str, &str)]) -> (serde_json::Value, String) {
    let project = unique_project(test);
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let out = drill(&project, dir.path(), args, env);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the drill must fail: {}",
        text(&out)
    );
    let said = text(&out);
    assert!(said.contains("the drill failed because:"), "{said}");
    assert!(
        labelled_resources(&project).is_empty(),
        "nothing left behind"
    );
    (report(dir.path()), said)
}

#[test]
fn the_drill_passes_with_writes_paused_and_loses_nothing() {
    if !require_docker() {
        return;
    }
    let project = unique_project("drill-paused");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let out = drill(&project, dir.path(), &["--writes-paused"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = text(&out);
    for step in [
        "stale check",
        "backup",
        "disaster",
        "restore",
        "verify",
        "repoint",
        "journeys",
        "rpo",
        "redis",
    ] {
        assert!(
            said.contains(&format!("  {step}")),
            "timeline shows {step}: {said}"
        );
    }
    let r = report(dir.path());
    assert!(failed_checks(&r).is_empty(), "{:?}", failed_checks(&r));
    let backup = &r["backup"];
    assert!(
        backup["manifest"]["bytes"].as_u64().unwrap() > 10_000,
        "{backup}"
    );
    assert!(
        backup["rows"].as_u64().unwrap() > 100,
        "the fixture is in it: {backup}"
    );
    let rpo = &r["rpo"];
    assert!(
        rpo["acknowledged"].as_u64().unwrap() > 0,
        "writes were made: {rpo}"
    );
    assert_eq!(rpo["writes_lost"], 0, "{rpo}");
    assert_eq!(
        rpo["acknowledged_after_backup"], 0,
        "paused before the backup: {rpo}"
    );
    assert!(r["rto_ms"].as_u64().unwrap() > 0);
    assert!(r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "rpo_writes <= 0" && t["passed"] == true));
    assert_eq!(r["stale_check_before"]["status"], "none");
    assert_eq!(r["stale_check_after"]["status"], "fresh");
    let redis = r["redis"].as_array().unwrap();
    assert_eq!(redis.len(), 2, "rdb and aof");
    for restore in redis {
        assert_eq!(restore["passed"], true, "{restore}");
        assert!(
            restore["expected"]["notify.events"].as_u64().unwrap() > 0,
            "{restore}"
        );
    }
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("drill.restore"), "{junit}");
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        summary.contains("RTO (disaster to journeys passing)"),
        "{summary}"
    );
    assert!(
        labelled_resources(&project).is_empty(),
        "nothing left behind"
    );

    // The page: the steps on a time axis with the RTO marked, every check.
    let replay = std::fs::read_to_string(dir.path().join("run.json")).unwrap();
    assert!(replay.contains("drill restore --writes-paused"), "{replay}");
    assert!(replay.contains("\"fixture\": \"small\""), "{replay}");
    if browser::require_chromium() {
        let drawn = browser::render(&dir.path().join("report.html"), 1200, 1800);
        drawn.assert_no_console_errors();
        drawn.assert_no_network();
        assert!(
            drawn.nonblank_fraction > 0.02,
            "{}",
            drawn.nonblank_fraction
        );
        for shown in [
            "restore drill: steps over time",
            "RTO",
            "disaster",
            "Verification",
        ] {
            assert!(drawn.dom.contains(shown), "the drill page shows {shown}");
        }
        for check in r["checks"].as_array().unwrap() {
            let name = check["name"].as_str().unwrap().replace('>', "&gt;");
            assert!(drawn.dom.contains(&name), "the page lists {name}");
        }
    }
}

/// Writes keep flowing after the backup: the ones acknowledged after it are
/// gone after the restore, counted against the ledger with their time
/// window; none acknowledged before it is. `--max-rpo-writes 0` gates.
#[test]
fn writes_after_the_backup_are_counted_as_the_rpo_and_gate_the_run() {
    if !require_docker() {
        return;
    }
    let (r, said) = failing_drill(
        "drill-rpo",
        &["--max-rpo-writes", "0", "--write-after", "4"],
        &[],
    );
    let failed = failed_checks(&r);
    assert_eq!(failed.len(), 1, "only the threshold fails: {failed:?}");
    assert!(failed[0].starts_with("rpo_writes <= 0"), "{failed:?}");
    let rpo = &r["rpo"];
    let lost = rpo["writes_lost"].as_u64().unwrap();
    assert!(lost > 0, "{rpo}");
    assert!(
        lost <= rpo["acknowledged_after_backup"].as_u64().unwrap(),
        "{rpo}"
    );
    assert_eq!(rpo["lost_before_backup"], 0, "{rpo}");
    assert!(rpo["lost_window_ms"].as_u64().unwrap() > 1000, "{rpo}");
    assert!(said.contains("acknowledged writes lost"), "{said}");
}

#[test]
fn a_truncated_backup_fails_the_drill() {
    if !require_docker() {
        return;
    }
    let (r, said) = failing_drill("drill-truncated", &["--sabotage", "truncate-backup"], &[]);
    let failed = failed_checks(&r).join("\n");
    assert!(failed.contains("sha256 of its manifest"), "{failed}");
    assert!(
        failed.contains("the file changed after it was written"),
        "{failed}"
    );
    assert!(failed.contains("pg_restore succeeds: exit 1"), "{failed}");
    assert!(
        failed.contains("are missing from the restored database"),
        "{failed}"
    );
    assert!(said.contains("cut to half its size"), "{said}");
}

#[test]
fn a_table_left_out_of_the_dump_fails_the_drill() {
    if !require_docker() {
        return;
    }
    let (r, _) = failing_drill(
        "drill-excluded",
        &["--sabotage", "exclude-table:feed_items"],
        &[],
    );
    assert_eq!(
        r["backup"]["manifest"]["pg_dump_args"],
        "--exclude-table=public.feed_items"
    );
    let failed = failed_checks(&r).join("\n");
    assert!(
        failed.contains("table feed_items (")
            && failed.contains("is missing from the restored database"),
        "{failed}"
    );
}

#[test]
fn rows_missing_after_the_restore_fail_the_drill() {
    if !require_docker() {
        return;
    }
    let (r, _) = failing_drill(
        "drill-rows",
        &["--sabotage", "delete-rows:order_items", "--no-writes"],
        &[],
    );
    let failed = failed_checks(&r).join("\n");
    assert!(
        failed.contains("table order_items: ") && failed.contains("(3 missing)"),
        "{failed}"
    );
    // Order lines gone and stock unchanged: the stock invariant sees it too.
    assert!(failed.contains("stock + ordered quantities"), "{failed}");
}

/// Without advancing sequences after the restore, ids handed out between
/// the backup and the disaster are handed out again: a new order gets the
/// id of a lost one whose notification went out already, and the
/// notification journey sees one order id delivered twice.
#[test]
fn a_restore_that_reuses_ids_is_caught_by_the_notification_journey() {
    if !require_docker() {
        return;
    }
    let (r, _) = failing_drill("drill-idgap", &[], &[("GAUNTLET_RESTORE_ID_GAP", "0")]);
    let failed = failed_checks(&r).join("\n");
    assert!(
        failed.contains("notification") && failed.contains("delivered 2 times"),
        "{failed}"
    );
}

#[test]
fn unknown_sabotage_is_a_usage_error_before_anything_starts() {
    let project = unique_project("drill-bad");
    let dir = tempfile::tempdir().unwrap();
    let out = drill(&project, dir.path(), &["--sabotage", "melt-the-disks"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("truncate-backup, exclude-table:TABLE or delete-rows:TABLE"));
    let out = drill(&project, dir.path(), &["--fixture", "huge"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        labelled_resources(&project).is_empty(),
        "nothing was started"
    );
}

/// The backup service on a schedule: backups every second, the newest two
/// kept; when dumps start failing (the backups directory made read-only)
/// the stale check says so within BACKUP_MAX_AGE.
#[test]
fn scheduled_backups_keep_their_retention_and_a_failing_schedule_goes_stale() {
    if !require_docker() {
        return;
    }
    let project = unique_project("backup-schedule");
    let _guard = ProjectGuard(project.clone());
    let env = [
        ("GAUNTLET_BACKUP_INTERVAL", "1s"),
        ("GAUNTLET_BACKUP_KEEP", "2"),
        ("GAUNTLET_BACKUP_MAX_AGE", "4s"),
    ];
    let mut args = vec!["up", "--json", "--seed", "7"];
    let bin = system_bin_args();
    args.extend(bin.iter().map(String::as_str));
    let up = gauntlet(&project, &args).envs(env).output().unwrap();
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    let record: serde_json::Value = serde_json::from_slice(&up.stdout).unwrap();
    let run_id = record["run_id"].as_str().unwrap().to_string();

    let list = |project: &str| -> Vec<String> {
        let out = run(project, &["backup", "list", "--run", &run_id]);
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let m: serde_json::Value = serde_json::from_str(l).unwrap();
                m["name"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let mut first = Vec::new();
    eventually(30, "two scheduled backups", || {
        first = list(&project);
        first.len() == 2
    });
    eventually(30, "newer backups replace the oldest", || {
        let now = list(&project);
        now.len() == 2 && now[0] > first[1]
    });
    let check = run(&project, &["backup", "check", "--run", &run_id]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(text(&check).contains("\"status\":\"fresh\""));

    // Dumps now fail: the schedule goes on, the newest backup ages.
    let container = format!("{project}-{run_id}-backup");
    let broke = docker(&["exec", &container, "chmod", "555", "/backups"]);
    assert!(broke.status.success());
    eventually(30, "the stale check fails", || {
        let check = run(&project, &["backup", "check", "--run", &run_id]);
        check.status.code() == Some(1) && text(&check).contains("\"status\":\"stale\"")
    });
    let out = run(&project, &["down", &run_id]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        labelled_resources(&project).is_empty(),
        "nothing left behind"
    );
}

/// Ctrl-C right after the disaster (database destroyed, app fenced off):
/// exit 130 and the whole run is gone, the recreated pieces included.
#[test]
fn an_interrupt_after_the_disaster_removes_the_run() {
    if !require_docker() {
        return;
    }
    let project = unique_project("drill-int");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "drill",
        "restore",
        "--seed",
        "5",
        "--out",
        dir.path().to_str().unwrap(),
    ];
    let bin = system_bin_args();
    args.extend(bin.iter().map(String::as_str));
    let (child, seen) = spawn_until(&project, &args, "  disaster ");
    assert!(seen.iter().any(|l| l.contains("disaster")), "{seen:?}");
    assert_eq!(interrupt(child), Some(130), "{seen:?}");
    assert!(
        labelled_resources(&project).is_empty(),
        "nothing left behind"
    );
}
