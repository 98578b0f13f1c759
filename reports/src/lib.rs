//! One report model (`gauntlet_journeys::RunReport`), several renderers:
//! JUnit XML for CI tools, a Markdown summary for humans (and GitHub's step
//! summary), JSON for scripts, and `report.html` ([`html`]) with charts. Run output goes to
//! `target/gauntlet/<run-id>/` (ignored by git) or `--out DIR`.

mod chaos;
mod drill;
pub mod html;
mod junit;
mod markdown;
mod props;

use std::path::{Path, PathBuf};

use gauntlet_journeys::RunReport;

pub use chaos::{chaos_junit_xml, chaos_summary_markdown};
pub use drill::{drill_junit_xml, drill_summary_markdown};
pub use junit::junit_xml;
pub use markdown::summary_markdown;
pub use props::{props_junit_xml, props_summary_markdown, replay_command};

/// `journeys.json`: the report as stable JSON (schema in `RunReport::schema`).
pub fn journeys_json(report: &RunReport) -> String {
    serde_json::to_string_pretty(report).expect("serialisable") + "\n"
}

/// Writes `junit.xml`, `summary.md` and `journeys.json` into `dir`; returns
/// their paths.
pub fn write_all(report: &RunReport, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files = [
        ("junit.xml", junit_xml(report)),
        ("summary.md", summary_markdown(report)),
        ("journeys.json", journeys_json(report)),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

/// Appends the summary to `$GITHUB_STEP_SUMMARY` when it is set.
pub fn append_github_summary(report: &RunReport) -> std::io::Result<bool> {
    append_to_github_summary(&summary_markdown(report))
}

/// Appends `markdown` to `$GITHUB_STEP_SUMMARY` when it is set.
pub fn append_to_github_summary(markdown: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return Ok(false);
    };
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(markdown.as_bytes())?;
    Ok(true)
}

#[cfg(test)]
mod tests;
