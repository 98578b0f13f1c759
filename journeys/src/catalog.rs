//! Which journeys a project has: the Rust journeys compiled into gauntlet
//! (when its `gauntlet.toml` says `[journeys] builtin = true`) and the
//! journey files in its journeys folder. A file may not take a built-in's
//! name.

use std::sync::Arc;

use futures::future::BoxFuture;
use gauntlet_harness::config::Config;

use crate::declared::{self, DeclaredJourney, FileError};
use crate::journey::{Journey, Outcome};
use crate::registry::ALL;
use crate::Definition;

/// One journey, compiled in or declared in a file.
#[derive(Debug, Clone)]
pub enum JourneyDef {
    /// Rust: compiled into gauntlet, or into a user's own binary.
    Compiled(&'static Definition),
    Declared(Arc<DeclaredJourney>),
}

impl JourneyDef {
    pub fn name(&self) -> &str {
        match self {
            JourneyDef::Compiled(d) => d.name,
            JourneyDef::Declared(d) => &d.name,
        }
    }

    pub fn about(&self) -> &str {
        match self {
            JourneyDef::Compiled(d) => d.about,
            JourneyDef::Declared(d) => &d.about,
        }
    }

    /// `built in` or the file's path.
    pub fn source(&self) -> String {
        match self {
            JourneyDef::Compiled(_) => "built in".into(),
            JourneyDef::Declared(d) => d.path.display().to_string(),
        }
    }

    pub fn run<'a>(&'a self, j: &'a mut Journey) -> BoxFuture<'a, Outcome> {
        match self {
            JourneyDef::Compiled(d) => (d.run)(j),
            JourneyDef::Declared(d) => Box::pin(d.run(j)),
        }
    }
}

impl std::fmt::Debug for Definition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Definition")
            .field("name", &self.name)
            .finish()
    }
}

/// The journeys of a project.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub journeys: Vec<JourneyDef>,
}

impl Catalog {
    /// The built-ins (if the project asks for them) and the project's
    /// journey files, each checked against the project.
    pub fn load(config: &Config) -> Result<Catalog, FileError> {
        let mut journeys: Vec<JourneyDef> = Vec::new();
        if config.journeys.builtin {
            journeys.extend(ALL.iter().map(JourneyDef::Compiled));
        }
        let dir = config.path_of(&config.paths.journeys);
        for file in declared::load_dir(&dir, config)? {
            if let Some(clash) = journeys.iter().find(|j| j.name() == file.name) {
                return Err(FileError {
                    place: file.path.display().to_string(),
                    message: format!(
                        "a journey named `{}` already exists ({}); rename the file",
                        file.name,
                        clash.source()
                    ),
                });
            }
            journeys.push(JourneyDef::Declared(Arc::new(file)));
        }
        Ok(Catalog { journeys })
    }

    /// Only the journeys compiled into gauntlet.
    pub fn builtin() -> Catalog {
        Catalog {
            journeys: ALL.iter().map(JourneyDef::Compiled).collect(),
        }
    }

    pub fn names(&self) -> Vec<&str> {
        self.journeys.iter().map(JourneyDef::name).collect()
    }

    /// The journeys named in `only` (all when empty), or the unknown names.
    pub fn select(&self, only: &[String]) -> Result<Vec<JourneyDef>, Vec<String>> {
        let unknown: Vec<String> = only
            .iter()
            .filter(|n| !self.journeys.iter().any(|j| j.name() == n.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        Ok(self
            .journeys
            .iter()
            .filter(|j| only.is_empty() || only.iter().any(|n| n == j.name()))
            .cloned()
            .collect())
    }
}
