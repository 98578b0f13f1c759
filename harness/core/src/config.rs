//! `gauntlet.toml`: the system under test, as data.
//!
//! The harness knows nothing about any particular system. A project file
//! says which compose files define the stack, how its images get built,
//! which service and port is which named endpoint, how readiness and
//! identity are proven, where PM2 runs (if anywhere), which data services
//! probes and invariants may use, which secrets exist, which defect
//! switches the system declares, and where journeys, profiles, SLOs and
//! experiments live.
//!
//! Layers, lowest first: built-in defaults < the file < `GAUNTLET_*`
//! environment < command-line flags. [`Config::origins`] records where
//! every value came from (`gauntlet config` prints it).
//!
//! Unknown keys and wrong types are errors reported as `FILE:LINE:COL:
//! problem`, so a typo is never silently ignored.

mod file;
mod origin;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};

pub use file::{parse_file, position};
pub use origin::{Origin, Origins};
pub use validate::against_compose;

/// The project file's name, looked for upward from the current directory.
pub const CONFIG_FILE: &str = "gauntlet.toml";
/// Used when no project file says otherwise.
pub const DEFAULT_COMPOSE: &str = "docker-compose.yml";
pub const DEFAULT_PROJECT: &str = "gauntlet";
pub const DEFAULT_SERVICE_TIMEOUT: Duration = Duration::from_secs(120);

/// The effective configuration: every layer applied, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// The project file, when there is one (`None`: compose file only,
    /// everything else at its default).
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// Paths in the configuration are relative to this folder.
    #[serde(skip)]
    pub root: PathBuf,
    pub system: SystemSection,
    pub stack: StackSection,
    pub endpoints: BTreeMap<String, Endpoint>,
    pub identity: Option<Identity>,
    pub pm2: Option<Pm2>,
    pub data: BTreeMap<String, DataService>,
    pub secrets: BTreeMap<String, SecretSpec>,
    pub defects: Defects,
    pub variables: BTreeMap<String, String>,
    pub variable_sets: BTreeMap<String, BTreeMap<String, String>>,
    pub invariants: Vec<Invariant>,
    pub checks: Vec<HttpCheck>,
    pub paths: Paths,
    pub journeys: JourneysSection,
    pub drill: Option<Drill>,
    #[serde(skip)]
    pub origins: Origins,
    /// `FILE:LINE:COL` of keys checked after loading (against the compose
    /// file), by dotted key (`endpoints.api.service`).
    #[serde(skip)]
    pub positions: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemSection {
    /// How messages and reports name the system.
    pub name: String,
    /// Namespace for runs (Docker names and labels).
    pub project: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackSection {
    /// Compose files, absolute; later files override earlier ones.
    pub compose: Vec<PathBuf>,
    /// How long each service may take to become ready.
    #[serde(serialize_with = "serialize_duration")]
    pub service_timeout: Duration,
    /// Run before images are hashed and built, in [`Config::root`]
    /// (e.g. a compiler step that stages binaries into build contexts).
    pub build_hook: Option<Vec<String>>,
}

/// A named HTTP endpoint: the service and container port that serve it.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub service: String,
    pub port: u16,
    pub readiness: Option<Readiness>,
}

/// `GET path` must answer `status` within `timeout` (retried until then).
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub path: String,
    pub status: u16,
    #[serde(serialize_with = "serialize_opt_duration")]
    pub timeout: Option<Duration>,
}

/// Proof that an endpoint is the expected app before any traffic: `GET
/// path`, and the JSON value at `pointer` equals `expect`.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub endpoint: String,
    pub path: String,
    pub pointer: String,
    pub expect: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pm2 {
    /// The service whose container runs the PM2 daemon.
    pub service: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataKind {
    Postgres,
    Redis,
}

/// A data service probes, invariants and drills may use, reached inside its
/// container (`psql` over the local socket, `redis-cli`).
#[derive(Debug, Clone, Serialize)]
pub struct DataService {
    pub service: String,
    pub kind: DataKind,
    /// Postgres: the database (default `postgres`).
    pub database: Option<String>,
    /// Postgres: the role (default `postgres`, the local superuser).
    pub user: Option<String>,
    /// The name of a secret holding the password, if one is needed.
    pub password_secret: Option<String>,
}

/// Where a secret's value comes from. Never printed.
#[derive(Debug, Clone, Serialize)]
pub struct SecretSpec {
    /// The compose variable (for a stack gauntlet starts) and the user's
    /// environment variable (for `--target`) that carry it. Default:
    /// `GAUNTLET_<NAME>`.
    pub variable: String,
    /// Generate a fresh random value for every run gauntlet starts.
    pub generate: bool,
    /// Read the value from this service's container environment...
    pub service: Option<String>,
    /// ... under this variable name.
    pub env: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Defects {
    /// The compose variable that receives `--defects` (comma list).
    pub variable: Option<String>,
    /// Every switch the system declares; `--defects` may name only these.
    pub switches: Vec<String>,
}

/// A data invariant: a query whose answer must match.
#[derive(Debug, Clone, Serialize)]
pub struct Invariant {
    pub name: String,
    pub about: String,
    /// A [`Config::data`] entry.
    pub data: String,
    /// Postgres: SQL; each row it returns is one violation.
    pub sql: Option<String>,
    /// Postgres: how many things were checked (`SELECT count(*) ...`).
    pub count_sql: Option<String>,
    /// Redis: a command (argv); its reply must equal `expect`.
    pub command: Option<Vec<String>>,
    pub expect: Option<String>,
    /// How a violating row reads: `{0}`, `{1}`... are its columns.
    pub violation: Option<String>,
}

/// A smoke probe of `gauntlet check`: one request and what it must answer.
#[derive(Debug, Clone, Serialize)]
pub struct HttpCheck {
    pub name: String,
    pub endpoint: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Text the body must contain.
    pub contains: Option<String>,
    /// JSON pointer -> expected value (strings compared as is, other
    /// values in their JSON text: `15`, `true`).
    pub json: BTreeMap<String, String>,
    /// Header -> expected value (empty: the header must be present).
    pub headers: BTreeMap<String, String>,
}

/// `[journeys]`: which journeys run besides the files in `paths.journeys`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JourneysSection {
    /// The journeys compiled into gauntlet (written for the reference
    /// system under `system/`); off unless a project asks for them.
    pub builtin: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Paths {
    pub journeys: PathBuf,
    pub profiles: PathBuf,
    pub slo: PathBuf,
    pub experiments: PathBuf,
    pub regressions: PathBuf,
}

/// Backup and restore drill: which services hold the database and its
/// backups, and the commands (run inside the backup service) that take,
/// list and check backups, list a backup's archive and restore one (the
/// last two get the backup file appended).
#[derive(Debug, Clone, Serialize)]
pub struct Drill {
    /// A [`Config::data`] entry of kind postgres.
    pub database: String,
    pub backup_service: String,
    pub take: Vec<String>,
    pub list: Vec<String>,
    pub check: Vec<String>,
    pub archive_list: Vec<String>,
    pub restore: Vec<String>,
}

/// Flags and environment that override the file (the two upper layers).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub project: Option<(String, Origin)>,
    pub compose: Option<(PathBuf, Origin)>,
    pub service_timeout: Option<(Duration, Origin)>,
    pub build_hook: Option<(Vec<String>, Origin)>,
    pub no_build_hook: bool,
}

impl Overrides {
    /// The `GAUNTLET_*` environment layer; `flags` (already parsed) win.
    pub fn from_env_and(flags: Overrides) -> Result<Overrides> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut out = Overrides {
            no_build_hook: flags.no_build_hook,
            ..Default::default()
        };
        out.project = flags
            .project
            .or_else(|| env("GAUNTLET_PROJECT").map(|v| (v, Origin::Env("GAUNTLET_PROJECT"))));
        out.compose = flags.compose.or_else(|| {
            env("GAUNTLET_COMPOSE").map(|v| (PathBuf::from(v), Origin::Env("GAUNTLET_COMPOSE")))
        });
        out.service_timeout = match flags.service_timeout {
            Some(f) => Some(f),
            None => match env("GAUNTLET_SERVICE_TIMEOUT") {
                Some(text) => Some((
                    crate::compose::parse_duration(&text).map_err(|e| {
                        Error::Usage(format!("GAUNTLET_SERVICE_TIMEOUT=`{text}`: {e}"))
                    })?,
                    Origin::Env("GAUNTLET_SERVICE_TIMEOUT"),
                )),
                None => None,
            },
        };
        out.build_hook = flags.build_hook.or_else(|| {
            env("GAUNTLET_BUILD_HOOK").map(|v| {
                (
                    v.split_whitespace().map(String::from).collect(),
                    Origin::Env("GAUNTLET_BUILD_HOOK"),
                )
            })
        });
        Ok(out)
    }
}

impl Config {
    /// The endpoint of requests that name none (journey steps, probes,
    /// `--target`): the identity's endpoint, else `api` if declared, else
    /// the only endpoint; `None` when several are declared and none of
    /// these rules picks one.
    pub fn default_endpoint(&self) -> Option<String> {
        if let Some(identity) = &self.identity {
            return Some(identity.endpoint.clone());
        }
        if self.endpoints.contains_key("api") {
            return Some("api".into());
        }
        match self.endpoints.keys().collect::<Vec<_>>().as_slice() {
            [only] => Some(only.to_string()),
            _ => None,
        }
    }

    /// Finds the project file and loads every layer.
    ///
    /// - `--config FILE`: that file.
    /// - `--compose FILE` (no `--config`): a `gauntlet.toml` beside that
    ///   compose file if there is one, else defaults with that compose file.
    /// - neither: the nearest `gauntlet.toml` from the current directory
    ///   up; failing that, the nearest `docker-compose.yml`, with defaults.
    pub fn locate(explicit: Option<&Path>, overrides: Overrides) -> Result<Config> {
        if let Some(path) = explicit {
            if !path.is_file() {
                return Err(Error::Usage(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            return Config::load(Some(path), overrides);
        }
        if let Some((compose, _)) = &overrides.compose {
            if !compose.is_file() {
                return Err(Error::Usage(format!(
                    "compose file {} does not exist",
                    compose.display()
                )));
            }
            let beside = absolute(compose)?
                .parent()
                .map(|d| d.join(CONFIG_FILE))
                .filter(|p| p.is_file());
            return Config::load(beside.as_deref(), overrides);
        }
        let cwd = std::env::current_dir().map_err(Error::io("reading the current directory"))?;
        match Config::look_upward(&cwd, overrides)? {
            Some(config) => Ok(config),
            None => Err(Error::Usage(format!(
                "no {CONFIG_FILE} or {DEFAULT_COMPOSE} in {} or above; run inside a project or pass --config FILE / --compose FILE",
                cwd.display()
            ))),
        }
    }

    /// Like [`Config::locate`], but where nothing is found (a deployment
    /// tested by `--target` from any folder), the built-in defaults.
    pub fn locate_or_defaults(explicit: Option<&Path>, overrides: Overrides) -> Result<Config> {
        if explicit.is_some() || overrides.compose.is_some() {
            return Config::locate(explicit, overrides);
        }
        let cwd = std::env::current_dir().map_err(Error::io("reading the current directory"))?;
        match Config::look_upward(&cwd, overrides.clone())? {
            Some(config) => Ok(config),
            None => Config::load(None, overrides),
        }
    }

    /// The nearest `gauntlet.toml` from `dir` up, else the nearest compose
    /// file with defaults; `None` when there is neither.
    fn look_upward(dir: &Path, overrides: Overrides) -> Result<Option<Config>> {
        for dir in dir.ancestors() {
            if dir.join(CONFIG_FILE).is_file() {
                return Config::load(Some(&dir.join(CONFIG_FILE)), overrides).map(Some);
            }
            if dir.join(DEFAULT_COMPOSE).is_file() {
                let mut overrides = overrides;
                overrides.compose = Some((dir.join(DEFAULT_COMPOSE), Origin::Found));
                return Config::load(None, overrides).map(Some);
            }
        }
        Ok(None)
    }

    /// Loads `path` (or only defaults) and applies `overrides`.
    pub fn load(path: Option<&Path>, overrides: Overrides) -> Result<Config> {
        let (file, raw, text) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::config(path, format!("cannot read: {e}")))?;
                let (file, raw) = parse_file(&text, path)?;
                (file, raw, text)
            }
            None => Default::default(),
        };
        let root = match (path, &overrides.compose) {
            (Some(p), _) => absolute(p)?.parent().expect("a file").to_path_buf(),
            (None, Some((c, _))) => absolute(c)?.parent().expect("a file").to_path_buf(),
            (None, None) => std::env::current_dir().map_err(Error::io("current directory"))?,
        };
        let config = file::resolve(file, &raw, path, &text, root, overrides)?;
        validate::config(&config)?;
        Ok(config)
    }

    /// The compose file holding the base definition (the first one).
    pub fn compose_path(&self) -> &Path {
        &self.stack.compose[0]
    }

    pub fn path_of(&self, relative: &Path) -> PathBuf {
        self.root.join(relative)
    }

    /// Checks `--defects` against the declared switches: an unknown switch
    /// is a usage error before anything starts. Returns the normalised list.
    pub fn check_defects(&self, list: &str) -> Result<Vec<String>> {
        let asked: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if asked.is_empty() {
            return Ok(asked);
        }
        if self.defects.variable.is_none() {
            return Err(Error::Usage(format!(
                "--defects given, but {} declares no defect switches ([defects] variable and switches)",
                self.describe_source()
            )));
        }
        let unknown: Vec<&String> = asked
            .iter()
            .filter(|d| !self.defects.switches.contains(d))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::Usage(format!(
                "unknown defect switch {} (declared in {}: {})",
                unknown
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.describe_source(),
                self.defects.switches.join(", ")
            )));
        }
        Ok(asked)
    }

    /// Fails with a configuration error naming the key when a feature needs
    /// PM2 and the project declares none.
    pub fn require_pm2(&self, what: &str) -> Result<&Pm2> {
        self.pm2.as_ref().ok_or_else(|| {
            Error::Usage(format!(
                "{what} needs PM2, but {} has no [pm2] section (and no service is labelled dev.gauntlet.pm2)",
                self.describe_source()
            ))
        })
    }

    /// The data service of `kind`: the one named, or the only one.
    pub fn data_service(&self, kind: DataKind) -> Option<(&str, &DataService)> {
        self.data
            .iter()
            .find(|(_, d)| d.kind == kind)
            .map(|(n, d)| (n.as_str(), d))
    }

    /// `FILE:LINE:COL` of a key, or the file's name when the key came from
    /// elsewhere (a default, the environment, a flag).
    pub fn at(&self, key: &str) -> String {
        match self.positions.get(key) {
            Some(p) => p.clone(),
            None => self.describe_source(),
        }
    }

    /// A configuration error at `key`: `FILE:LINE:COL: key: problem`.
    pub fn error(&self, key: &str, problem: impl std::fmt::Display) -> Error {
        Error::Usage(format!("{}: {key}: {problem}", self.at(key)))
    }

    pub fn describe_source(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "the built-in defaults (no gauntlet.toml)".into(),
        }
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    path.canonicalize()
        .map_err(Error::io(format!("resolving {}", path.display())))
}

pub(crate) fn format_duration(d: &Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(d))
}

fn serialize_opt_duration<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&format_duration(d)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests;
