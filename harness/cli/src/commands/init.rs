//! `gauntlet init`: a first project from a compose file. The inference and
//! the files are `gauntlet_harness::init`'s; this writes them, never over a
//! file that exists, and says what was written, what was kept and what to
//! run next.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use gauntlet_harness::compose::ComposeFile;
use gauntlet_harness::config::{Config, DataKind, Origin, Overrides, CONFIG_FILE, DEFAULT_COMPOSE};
use gauntlet_harness::init::{self, Evidence, Layout};
use gauntlet_harness::{exit_codes, stack, Error, Result};

use crate::cli::{Global, InitArgs};

/// Compose file names looked for in the current folder, in this order.
const COMPOSE_NAMES: &[&str] = &[
    DEFAULT_COMPOSE,
    "docker-compose.yaml",
    "compose.yml",
    "compose.yaml",
];

pub async fn run(global: &Global, args: InitArgs) -> Result<i32> {
    let cwd = std::env::current_dir().map_err(Error::io("reading the current directory"))?;
    let compose_path = compose_file(global, &cwd)?;
    // Missing, unreadable, not YAML, keys gauntlet does not support, ports
    // not on loopback: a configuration error naming the file (exit 2).
    let compose = ComposeFile::load(&compose_path, &HashMap::new())?;
    let compose_path = compose.path.clone();

    let dir = match &args.dir {
        Some(d) => std::path::absolute(cwd.join(d))
            .map_err(Error::io(format!("resolving {}", d.display())))?,
        None => compose_path.parent().expect("a file").to_path_buf(),
    };

    if let Some(project) = &global.project {
        stack::validate_name("project", project)?;
    }
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let hints = init::gather_hints(&compose);
    let system = init::infer(&compose, &hints, &folder, global.project.as_deref())?;

    // Only a usable compose file creates the folder.
    std::fs::create_dir_all(&dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    let dir = dir
        .canonicalize()
        .map_err(Error::io(format!("resolving {}", dir.display())))?;

    // Where the other files go: as a kept gauntlet.toml says, else the
    // defaults the generated one writes down.
    let existing = dir.join(CONFIG_FILE);
    let defaults = Config::load(
        None,
        Overrides {
            compose: Some((compose_path.clone(), Origin::Flag("--compose"))),
            ..Default::default()
        },
    )?;
    let mut paths = defaults.paths;
    let mut kept_config = None;
    if existing.is_file() {
        match Config::load(Some(&existing), Overrides::default()) {
            Ok(config) => {
                paths = config.paths.clone();
                kept_config = Some(config);
            }
            Err(e) => errln!(
                "warning: the existing {} does not load ({e}); the other files go to the default places",
                existing.display()
            ),
        }
    }
    let layout = Layout {
        compose: vec![init::relative_to(&compose_path, &dir)],
        paths,
    };

    let names: Vec<&str> = compose.services.iter().map(|s| s.name.as_str()).collect();
    outln!(
        "gauntlet init: {} (services: {})",
        compose_path.display(),
        names.join(", ")
    );
    for e in &system.endpoints {
        let readiness = match &e.readiness {
            Some(r) => format!(
                ", readiness GET {} = {} ({})",
                r.path,
                r.status,
                r.evidence.describe()
            ),
            None => String::new(),
        };
        outln!(
            "  endpoint {:<12} {}:{} ({}){readiness}",
            e.name,
            e.service,
            e.port,
            e.why
        );
    }
    for d in &system.data {
        outln!(
            "  data     {:<12} {} {} ({})",
            d.name,
            d.service,
            match d.kind {
                DataKind::Postgres => "postgres",
                DataKind::Redis => "redis",
            },
            d.why
        );
    }
    match &system.pm2 {
        Some((service, why)) => outln!("  pm2      {service:<12} ({why})"),
        None => outln!("  pm2      none"),
    }
    for note in &system.notes {
        outln!("  note     {note}");
    }
    outln!();

    let mut kept_toml = false;
    for file in init::render(&system, &layout) {
        let path = dir.join(&file.path);
        let shown = file.path.display();
        match write_new(&path, &file.text)? {
            true => outln!("written  {shown}  ({})", file.what),
            false => {
                if file.path == Path::new(CONFIG_FILE) {
                    kept_toml = true;
                }
                outln!("kept     {shown}  (exists; not changed)")
            }
        }
    }
    if kept_toml {
        if let Some(config) = &kept_config {
            let primary = system.primary();
            if !config.endpoints.contains_key(&primary.name) {
                errln!(
                    "warning: the generated journey, profile and experiment use endpoint `{}`, which the kept {CONFIG_FILE} does not declare",
                    primary.name
                );
            }
        }
    }
    if system.primary_readiness().evidence == Evidence::Assumed {
        errln!(
            "note: no health check found for `{}`: readiness assumes GET / answers 200 (see the comment in {CONFIG_FILE})",
            system.primary().service
        );
    }

    outln!();
    outln!("next steps:");
    if dir != cwd {
        outln!("  cd {}", dir.display());
    }
    let experiment = init::experiment_name(&system);
    outln!(
        "  gauntlet config                # read what was inferred, with the origin of every value"
    );
    outln!("  gauntlet up && gauntlet check && gauntlet down");
    outln!("  gauntlet gate                  # up, journeys, down: what CI runs");
    outln!("  gauntlet load --profile smoke  # 5 users for 10 s, judged against the SLO file");
    outln!("  gauntlet chaos {experiment:<15} # restart the container, measure the recovery");
    Ok(exit_codes::OK)
}

/// `--compose`, else `GAUNTLET_COMPOSE`, else a compose file in the current
/// folder.
fn compose_file(global: &Global, cwd: &Path) -> Result<PathBuf> {
    let given = global.compose.clone().or_else(|| {
        std::env::var("GAUNTLET_COMPOSE")
            .ok()
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if let Some(path) = given {
        let path = cwd.join(path);
        if !path.is_file() {
            return Err(Error::config(&path, "no such compose file"));
        }
        return path
            .canonicalize()
            .map_err(Error::io(format!("resolving {}", path.display())));
    }
    COMPOSE_NAMES
        .iter()
        .map(|n| cwd.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Usage(format!(
                "no {DEFAULT_COMPOSE} in {}: run `gauntlet init` in the folder of your compose file, or pass --compose FILE",
                cwd.display()
            ))
        })
}

/// Writes `text` to a new file; `false` when the file already exists (it is
/// left as it is).
fn write_new(path: &Path, text: &str) -> Result<bool> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(Error::io(format!("creating {}", parent.display())))?;
    }
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(Error::io(format!("creating {}", path.display()))(e)),
    };
    file.write_all(text.as_bytes())
        .map_err(Error::io(format!("writing {}", path.display())))?;
    Ok(true)
}
