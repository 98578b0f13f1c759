//! `gauntlet report [DIR] [--open]`: renders a run directory's
//! `report.html` again from its JSON files (an old run, or one whose page
//! was deleted), and opens it where a browser exists.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gauntlet_harness::{exit_codes, Error, Result};
use gauntlet_reports::html;

use super::project_for;
use crate::cli::{Global, ReportArgs};

pub async fn run(global: &Global, args: ReportArgs) -> Result<i32> {
    let dir = match args.dir {
        Some(dir) => dir,
        None => newest_run(global)?,
    };
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a directory: pass a run directory (target/gauntlet/<run-id>/ or a --out folder)",
            dir.display()
        )));
    }
    let path = html::write(&dir).map_err(|e| Error::Usage(e.to_string()))?;
    let _ = html::link_from_summary(&dir);
    outln!("wrote {}", path.display());
    if args.open {
        match open_in_browser(&path) {
            Some(browser) => errln!("opened it with {browser}"),
            None => errln!(
                "no browser found ($BROWSER, xdg-open, chromium, firefox): open {} yourself",
                path.display()
            ),
        }
    }
    Ok(exit_codes::OK)
}

/// The most recently changed run directory under the project's
/// `target/gauntlet/`.
fn newest_run(global: &Global) -> Result<PathBuf> {
    let (config, _) = project_for(global, None, None)?;
    let root = config.root.join("target").join("gauntlet");
    let newest = std::fs::read_dir(&root)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max();
    newest.map(|(_, path)| path).ok_or_else(|| {
        Error::Usage(format!(
            "no run directory under {}: pass one (`gauntlet report DIR`)",
            root.display()
        ))
    })
}

/// Starts a browser on `page` without waiting for it; the name of the one
/// started, `None` when there is none.
fn open_in_browser(page: &Path) -> Option<String> {
    let mut candidates: Vec<String> = std::env::var("BROWSER")
        .map(|b| b.split(':').map(String::from).collect())
        .unwrap_or_default();
    candidates.extend(
        ["xdg-open", "open", "chromium", "firefox"]
            .iter()
            .map(|s| s.to_string()),
    );
    for browser in candidates.into_iter().filter(|b| !b.is_empty()) {
        let started = Command::new(&browser)
            .arg(page)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if started.is_ok() {
            return Some(browser);
        }
    }
    None
}
