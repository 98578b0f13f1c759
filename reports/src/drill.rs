//! Renderers for `gauntlet drill restore`: JUnit XML (one testsuite, a
//! testcase per verification and threshold, the timeline attached to each
//! failure) and a Markdown summary with RTO, RPO, backup and restore
//! figures.

use std::time::Duration;

use gauntlet_chaos::drill::{human_bytes, Check, DrillReport};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::markdown::escape;

fn timeline(report: &DrillReport) -> String {
    report
        .timeline
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn drill_junit_xml(report: &DrillReport) -> String {
    let mut junit = Report::new("gauntlet drill");
    junit.set_time(Duration::from_millis(report.duration_ms));
    let mut suite = TestSuite::new("drill.restore");
    suite.set_time(Duration::from_millis(report.duration_ms));
    let case = |check: &Check, kind: &str| {
        let status = if check.passed {
            let mut s = TestCaseStatus::success();
            s.set_description(check.detail.clone());
            s
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(check.detail.clone());
            s.set_type(kind.to_string());
            s.set_description(timeline(report));
            s
        };
        let mut case = TestCase::new(check.name.clone(), status);
        case.set_classname(format!("drill.restore.{kind}"));
        case
    };
    for check in &report.checks {
        suite.add_test_case(case(check, "check"));
    }
    for threshold in &report.thresholds {
        suite.add_test_case(case(threshold, "threshold"));
    }
    junit.add_test_suite(suite);
    junit.to_string().expect("JUnit serialises")
}

pub fn drill_summary_markdown(report: &DrillReport) -> String {
    let secs = |ms: u64| format!("{:.1} s", ms as f64 / 1000.0);
    let mut out = format!(
        "## gauntlet drill restore: {}\n\nRun `{}`, seed {}, fixture {}{}{}.\n\n",
        if report.passed() { "passed" } else { "FAILED" },
        report.run_id,
        report.seed,
        report.fixture,
        if report.writes_paused {
            ", writes paused before the backup"
        } else {
            ""
        },
        if report.sabotage.is_empty() {
            String::new()
        } else {
            format!(
                ", sabotage: {}",
                gauntlet_chaos::drill::describe(&report.sabotage)
            )
        }
    );
    out.push_str("| measure | value |\n|---|---|\n");
    let mut row = |k: &str, v: String| out.push_str(&format!("| {k} | {} |\n", escape(&v)));
    row(
        "RTO (disaster to journeys passing)",
        report
            .rto_ms
            .map(secs)
            .unwrap_or_else(|| "not reached".into()),
    );
    if let Some(rpo) = &report.rpo {
        row(
            "RPO (acknowledged writes lost)",
            format!(
                "{} of {} ({} acknowledged after the backup); lost writes span {}",
                rpo.writes_lost,
                rpo.acknowledged,
                rpo.acknowledged_after_backup,
                secs(rpo.lost_window_ms)
            ),
        );
        row("backup to disaster", secs(rpo.backup_to_disaster_ms));
    }
    if let Some(b) = &report.backup {
        row(
            "backup",
            format!(
                "{} ({} tables, {} rows) in {}",
                human_bytes(b.manifest.bytes),
                b.tables,
                b.rows,
                secs(b.duration_ms)
            ),
        );
    }
    if let Some(r) = &report.restore {
        row("new database server", secs(r.new_server_ms));
        row("pg_restore", secs(r.pg_restore_ms));
        row("app repointed and healthy", secs(r.repoint_ms));
    }
    out.push_str("\n| check | result | detail |\n|---|---|---|\n");
    for c in report.checks.iter().chain(&report.thresholds) {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            escape(&c.name),
            if c.passed { "passed" } else { "**FAILED**" },
            escape(&c.detail)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use gauntlet_chaos::drill::{DrillEvent, Sabotage};

    use super::*;

    fn sample() -> DrillReport {
        let check = |name: &str, passed: bool, detail: &str| Check {
            name: name.into(),
            passed,
            detail: detail.into(),
        };
        DrillReport {
            run_id: "rabc234".into(),
            seed: 5,
            fixture: "small".into(),
            writes_paused: false,
            sabotage: vec![Sabotage::ExcludeTable("feed_items".into())],
            started_at: chrono::Utc::now(),
            duration_ms: 21_000,
            timeline: vec![
                DrillEvent {
                    at_ms: 3_100,
                    step: "backup".into(),
                    detail: "gauntlet-1.dump: 98.0 KiB".into(),
                    ok: true,
                },
                DrillEvent {
                    at_ms: 11_900,
                    step: "verify".into(),
                    detail: "NOT equal".into(),
                    ok: false,
                },
            ],
            stale_check_before: None,
            stale_check_after: None,
            backup: None,
            restore: None,
            rto_ms: Some(14_700),
            rpo: None,
            redis: Vec::new(),
            checks: vec![
                check("pg_restore succeeds", true, "in 0.2 s"),
                check(
                    "rows and checksums equal the source's at backup time",
                    false,
                    "table feed_items (0 rows at backup time) is missing from the restored database",
                ),
            ],
            thresholds: vec![check("rto < 5m", true, "RTO 14.7 s")],
        }
    }

    #[test]
    fn junit_has_a_case_per_check_and_the_timeline_on_each_failure() {
        let xml = drill_junit_xml(&sample());
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(suite.attribute("name"), Some("drill.restore"));
        assert_eq!(suite.attribute("tests"), Some("3"));
        assert_eq!(suite.attribute("failures"), Some("1"));
        let failure = suite
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert!(failure.attribute("message").unwrap().contains("feed_items"));
        let text = failure.text().unwrap_or_default();
        assert!(
            text.contains("verify") && text.contains("[FAILED]"),
            "{text}"
        );
    }

    #[test]
    fn summary_names_the_verdict_the_sabotage_rto_and_each_check() {
        let md = drill_summary_markdown(&sample());
        assert!(md.starts_with("## gauntlet drill restore: FAILED"), "{md}");
        assert!(md.contains("sabotage: exclude-table:feed_items"), "{md}");
        assert!(
            md.contains("| RTO (disaster to journeys passing) | 14.7 s |"),
            "{md}"
        );
        assert!(md.contains("| **FAILED** |"), "{md}");
        assert!(md.contains("| rto &lt; 5m | passed | RTO 14.7 s |"), "{md}");
    }
}
