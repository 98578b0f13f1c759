//! Declarative journeys: one TOML file each in the project's journeys
//! folder (`[paths] journeys`), in the step format of `docs/steps.md`.
//! A file is checked completely when it loads: unknown keys, endpoints,
//! data services, secrets and template names are errors that name
//! `FILE:LINE:COL`, so nothing is found missing halfway through a run.

mod run;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use gauntlet_harness::config::{position, Config};
use gauntlet_harness::steps::{Allowed, Context, Problem, RawStep, Step, Template};

/// A journey file that cannot be used: `FILE:LINE:COL: problem`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{place}: {message}")]
pub struct FileError {
    pub place: String,
    pub message: String,
}

/// A journey as its file declares it.
#[derive(Debug, Clone)]
pub struct DeclaredJourney {
    pub name: String,
    pub about: String,
    pub path: PathBuf,
    pub(crate) vars: Vec<(String, Template)>,
    pub(crate) steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJourney {
    about: Option<String>,
    endpoint: Option<Spanned<String>>,
    #[serde(default)]
    vars: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    step: Vec<Spanned<RawStep>>,
}

impl DeclaredJourney {
    /// Reads and checks one journey file against the project.
    pub fn load(path: &Path, config: &Config) -> Result<DeclaredJourney, FileError> {
        let text = std::fs::read_to_string(path).map_err(|e| FileError {
            place: path.display().to_string(),
            message: format!("cannot read the journey: {e}"),
        })?;
        DeclaredJourney::parse(&text, path, config)
    }

    pub fn parse(text: &str, path: &Path, config: &Config) -> Result<DeclaredJourney, FileError> {
        let at = |offset: usize, message: String| FileError {
            place: position(path, text, offset),
            message,
        };
        let raw: RawJourney = toml::from_str(text).map_err(|e| {
            at(
                e.span().map(|s| s.start).unwrap_or(0),
                e.message().to_string(),
            )
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(at(0, format!("`{name}` is not a journey name: name the file with letters, digits, `_` or `-`")));
        }
        let mut ctx = Context::new(text, config);
        if let Some(endpoint) = &raw.endpoint {
            if !config.endpoints.is_empty() && !config.endpoints.contains_key(endpoint.get_ref()) {
                return Err(at(
                    endpoint.span().start,
                    format!(
                        "unknown endpoint `{}`; [endpoints] of gauntlet.toml declares: {}",
                        endpoint.get_ref(),
                        config
                            .endpoints
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            ctx.default_endpoint = Some(endpoint.get_ref().clone());
        }
        let problem = |p: Problem| at(p.offset, p.message);
        // TOML tables lose their order; the file's order is the offsets'.
        let mut vars: Vec<(String, Spanned<String>)> = raw.vars.into_iter().collect();
        vars.sort_by_key(|(_, v)| v.span().start);
        let vars = ctx.vars(&vars).map_err(problem)?;
        if raw.step.is_empty() {
            return Err(at(
                text.len(),
                "a journey needs at least one [[step]]".into(),
            ));
        }
        let mut steps = Vec::new();
        for (i, step) in raw.step.into_iter().enumerate() {
            steps.push(ctx.step(step, i + 1, Allowed::Journey).map_err(problem)?);
        }
        Ok(DeclaredJourney {
            name,
            about: raw.about.unwrap_or_default(),
            path: path.to_path_buf(),
            vars,
            steps,
        })
    }
}

/// Every journey file (`*.toml`) in `dir`, in name order; a missing
/// folder has none.
pub fn load_dir(dir: &Path, config: &Config) -> Result<Vec<DeclaredJourney>, FileError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(FileError {
                place: dir.display().to_string(),
                message: format!("cannot list the journeys folder: {e}"),
            })
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| DeclaredJourney::load(f, config))
        .collect()
}

impl fmt::Display for DeclaredJourney {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.path.display())
    }
}
