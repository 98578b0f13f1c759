//! `report.html`: one self-contained page per run directory, for people who
//! would rather look than read. Built from the run's JSON files only
//! ([`model::build`]), drawn as inline SVG ([`chart`]) into one HTML file
//! with inline CSS and no script ([`page`]): it opens offline, reads with
//! JavaScript off, and prints.
//!
//! Every command that writes a run directory calls [`write`] last; `gauntlet
//! report DIR` calls it again on an old run.

pub mod chart;
pub mod model;
pub mod page;

use std::path::{Path, PathBuf};

pub use model::{build, Report, RunInfo, Section};
pub use page::render;

/// The page's file name in a run directory.
pub const REPORT_FILE: &str = "report.html";

#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    #[error(
        "{} holds no gauntlet results (none of run.json, {}, and no part with a report.html)",
        dir.display(),
        model::RESULT_FILES.join(", ")
    )]
    NoResults { dir: PathBuf },
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not what gauntlet writes: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Builds the report from `dir`'s JSON files and writes `dir/report.html`;
/// returns its path.
pub fn write(dir: &Path) -> Result<PathBuf, HtmlError> {
    let report = build(dir)?;
    let path = dir.join(REPORT_FILE);
    std::fs::write(&path, render(&report)).map_err(|source| HtmlError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// The line `summary.md` ends with, linking the page (added once).
pub fn link_from_summary(dir: &Path) -> std::io::Result<()> {
    let path = dir.join("summary.md");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let line = format!("Charts, timelines and the replay command: [{REPORT_FILE}]({REPORT_FILE})");
    if text.contains(&line) {
        return Ok(());
    }
    let mut text = text;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&line);
    text.push('\n');
    std::fs::write(path, text)
}
