//! `summary.md`: a table (journey, steps, duration, result) and the failed
//! steps with their assertion. Kept under 1 MiB for GitHub's step summary.

use gauntlet_journeys::{JourneyResult, RunReport};

/// GitHub refuses step summaries over 1 MiB.
const LIMIT: usize = 1 << 20;

pub fn summary_markdown(report: &RunReport) -> String {
    let verdict = if report.passed(false) {
        "passed"
    } else {
        "FAILED"
    };
    let mut out = format!(
        "## gauntlet journeys: {verdict}\n\nRun `{}`, seed `{}`, {} journeys in {:.1} s (budget {:.0} s{}).\n\n",
        report.run_id,
        report.seed,
        report.journeys.len(),
        report.millis as f64 / 1000.0,
        report.budget_millis as f64 / 1000.0,
        if report.budget_exceeded { ", **exceeded**" } else { "" },
    );
    out.push_str("| journey | steps | duration | result |\n|---|---:|---:|---|\n");
    for j in &report.journeys {
        let result = match j.result {
            JourneyResult::Passed => "✅ passed".to_string(),
            JourneyResult::Flaky => format!("⚠️ flaky ({} attempts)", j.attempts),
            JourneyResult::Failed => "❌ failed".to_string(),
            JourneyResult::TimedOut => "⏱️ timed out".to_string(),
        };
        out.push_str(&format!(
            "| {} | {} | {:.2} s | {result} |\n",
            escape(&j.name),
            j.steps.len(),
            j.millis as f64 / 1000.0
        ));
    }
    let troubled: Vec<_> = report
        .journeys
        .iter()
        .filter(|j| j.result != JourneyResult::Passed)
        .collect();
    if !troubled.is_empty() {
        out.push_str("\n### What failed\n\n");
        for j in troubled {
            if let Some(step) = j.failed_step() {
                out.push_str(&format!(
                    "- **{}**, step *{}*: {}\n",
                    escape(&j.name),
                    escape(&step.name),
                    escape(step.failure.as_deref().unwrap_or(""))
                ));
            }
            if let Some(first) = &j.first_failure {
                out.push_str(&format!(
                    "- **{}**, first attempt: {}\n",
                    escape(&j.name),
                    escape(first)
                ));
            }
        }
    }
    out.push_str(&format!(
        "\nReplay: `gauntlet journeys --seed {}`\n",
        report.seed
    ));
    if out.len() > LIMIT {
        let mut cut = LIMIT - 100;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n\n… (truncated to stay under 1 MiB; see journeys.json)\n");
    }
    out
}

/// Keeps a message from breaking the table or the markup.
pub(crate) fn escape(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
