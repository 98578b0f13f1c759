use gauntlet_journeys::{
    Exchange, JourneyReport, JourneyResult, RunReport, StepReport, StepResult,
};

use super::*;

fn step(name: &str, failure: Option<&str>) -> StepReport {
    StepReport {
        name: name.into(),
        result: if failure.is_some() {
            StepResult::Failed
        } else {
            StepResult::Passed
        },
        millis: 12,
        exchanges: vec![Exchange {
            service: "api".into(),
            method: "POST".into(),
            path: "/api/v1/public/orders".into(),
            status: Some(if failure.is_some() { 201 } else { 200 }),
            millis: 9,
        }],
        failure: failure.map(String::from),
    }
}

fn sample() -> RunReport {
    RunReport {
        schema: RunReport::SCHEMA,
        run_id: "r7k2m9q".into(),
        seed: 42,
        target: "http://127.0.0.1:32768".into(),
        budget_millis: 60_000,
        millis: 8_400,
        budget_exceeded: false,
        journeys: vec![
            JourneyReport {
                name: "shopper".into(),
                about: "buys things".into(),
                result: JourneyResult::Passed,
                attempts: 1,
                millis: 2_100,
                steps: vec![step("register", None), step("checkout", None)],
                first_failure: None,
            },
            JourneyReport {
                name: "double_submit".into(),
                about: "double click <twice> | pipes".into(),
                result: JourneyResult::Failed,
                attempts: 2,
                millis: 3_300,
                steps: vec![
                    step("set up", None),
                    step(
                        "send the same checkout twice at once",
                        Some("the same Idempotency-Key created a second order: order ids [7, 8]"),
                    ),
                ],
                first_failure: Some(
                    "step `send the same checkout twice at once`: second order".into(),
                ),
            },
            JourneyReport {
                name: "last_units".into(),
                about: "sell-out".into(),
                result: JourneyResult::Flaky,
                attempts: 2,
                millis: 4_000,
                steps: vec![step("everyone checks out at once", None)],
                first_failure: Some("step `x`: oversold".into()),
            },
        ],
    }
}

#[test]
fn journeys_json_schema_is_stable() {
    let value: serde_json::Value = serde_json::from_str(&journeys_json(&sample())).unwrap();
    insta::assert_json_snapshot!("journeys_json", value, {
        ".millis" => "[millis]",
        ".journeys[].millis" => "[millis]",
        ".journeys[].steps[].millis" => "[millis]",
        ".journeys[].steps[].exchanges[].millis" => "[millis]",
    });
}

#[test]
fn junit_parses_back_with_one_suite_per_journey_and_a_case_per_step() {
    let xml = junit_xml(&sample());
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 3);
    assert_eq!(suites[0].attribute("name"), Some("shopper"));
    assert_eq!(suites[0].attribute("tests"), Some("2"));
    assert_eq!(suites[1].attribute("failures"), Some("1"));
    let failure = suites[1]
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure element");
    assert!(failure
        .attribute("message")
        .unwrap()
        .contains("second order"));
    let text = failure.text().unwrap_or_default();
    assert!(text.contains("POST /api/v1/public/orders -> 201"), "{text}");
    let flaky = suites[2]
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("flaky is visible");
    assert_eq!(flaky.attribute("type"), Some("flaky"));
}

#[test]
fn summary_is_a_table_with_the_failures_spelled_out() {
    let md = summary_markdown(&sample());
    assert!(md.starts_with("## gauntlet journeys: FAILED"));
    assert!(md.contains("| journey | steps | duration | result |"));
    assert!(md.contains("| shopper | 2 | 2.10 s | ✅ passed |"));
    assert!(md.contains("| last_units | 1 | 4.00 s | ⚠️ flaky (2 attempts) |"));
    assert!(md.contains("step *send the same checkout twice at once*: the same Idempotency-Key created a second order"));
    assert!(md.contains("gauntlet journeys --seed 42"));
}

#[test]
fn summary_stays_under_one_mebibyte() {
    let mut report = sample();
    let long = "x".repeat(10_000);
    for i in 0..200 {
        let mut j = report.journeys[1].clone();
        j.name = format!("j{i}");
        j.steps[1].failure = Some(long.clone());
        report.journeys.push(j);
    }
    let md = summary_markdown(&report);
    assert!(md.len() <= 1 << 20, "{}", md.len());
    assert!(md.ends_with("see journeys.json)\n"));
}

#[test]
fn write_all_creates_the_three_files() {
    let dir = std::env::temp_dir().join(format!("gauntlet-reports-{}", std::process::id()));
    let files = write_all(&sample(), &dir).unwrap();
    assert_eq!(files.len(), 3);
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() > 100, "{}", f.display());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Validates against the JUnit schema CI tools read (reports/schema/junit.xsd)
/// with xmllint (Debian libxml2-utils, installed by ci/bootstrap.sh).
#[test]
fn junit_validates_against_the_junit_schema() {
    let xsd = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/junit.xsd");
    let dir = std::env::temp_dir().join(format!("gauntlet-junit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let xml = dir.join("junit.xml");
    std::fs::write(&xml, junit_xml(&sample())).unwrap();
    let out = match std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&xml)
        .output()
    {
        Ok(out) => out,
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: xmllint not installed (CI installs it)");
            return;
        }
        Err(e) => panic!("CI is set and xmllint is missing: {e}"),
    };
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "junit.xml does not validate:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // And the schema is not a rubber stamp: a testcase without a name fails.
    let broken = junit_xml(&sample()).replacen("<testcase name=\"register\"", "<testcase", 1);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&xml, broken).unwrap();
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&xml)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        !out.status.success(),
        "the schema must reject a testcase without a name"
    );
}
