//! The project file as written: every key optional, unknown keys refused,
//! positions kept for the errors that need them. [`resolve`] fills in the
//! defaults and the upper layers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{
    origin::{Origin, Origins},
    Config, DataKind, DataService, Defects, Drill, Endpoint, HttpCheck, Identity, Invariant,
    JourneysSection, Overrides, Paths, Pm2, Readiness, SecretSpec, StackSection, SystemSection,
    DEFAULT_COMPOSE, DEFAULT_PROJECT, DEFAULT_SERVICE_TIMEOUT,
};
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    system: Option<RawSystem>,
    stack: Option<RawStack>,
    #[serde(default)]
    endpoints: BTreeMap<String, RawEndpoint>,
    identity: Option<RawIdentity>,
    pm2: Option<RawPm2>,
    #[serde(default)]
    data: BTreeMap<String, RawData>,
    #[serde(default)]
    secrets: BTreeMap<String, RawSecret>,
    defects: Option<RawDefects>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    variable_sets: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    invariants: Vec<RawInvariant>,
    #[serde(default)]
    checks: Vec<RawCheck>,
    paths: Option<RawPaths>,
    journeys: Option<RawJourneys>,
    drill: Option<RawDrill>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJourneys {
    builtin: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystem {
    name: Option<String>,
    project: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStack {
    compose: Option<Vec<String>>,
    service_timeout: Option<Spanned<String>>,
    build_hook: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    service: Spanned<String>,
    port: Spanned<u16>,
    readiness: Option<RawReadiness>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReadiness {
    path: Spanned<String>,
    #[serde(default = "ok_status")]
    status: u16,
    timeout: Option<Spanned<String>>,
}

fn ok_status() -> u16 {
    200
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    endpoint: Spanned<String>,
    path: Spanned<String>,
    pointer: Spanned<String>,
    expect: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPm2 {
    service: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    service: Spanned<String>,
    kind: DataKind,
    database: Option<String>,
    user: Option<String>,
    password_secret: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    variable: Option<String>,
    #[serde(default)]
    generate: bool,
    service: Option<String>,
    env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefects {
    variable: Option<String>,
    #[serde(default)]
    switches: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvariant {
    name: String,
    #[serde(default)]
    about: String,
    data: Spanned<String>,
    sql: Option<String>,
    count_sql: Option<String>,
    command: Option<Vec<String>>,
    expect: Option<String>,
    violation: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    name: String,
    endpoint: Spanned<String>,
    #[serde(default = "get")]
    method: String,
    path: String,
    #[serde(default = "ok_status")]
    status: u16,
    contains: Option<String>,
    #[serde(default)]
    json: BTreeMap<String, String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

fn get() -> String {
    "GET".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPaths {
    journeys: Option<String>,
    profiles: Option<String>,
    slo: Option<String>,
    experiments: Option<String>,
    regressions: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDrill {
    database: Spanned<String>,
    backup_service: String,
    take: Vec<String>,
    list: Vec<String>,
    check: Vec<String>,
    archive_list: Vec<String>,
    restore: Vec<String>,
}

/// Where a byte offset of the file is, as `FILE:LINE:COL`.
pub fn position(path: &Path, text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    format!("{}:{line}:{col}", path.display())
}

/// Parses the file's text, reporting the first problem as
/// `FILE:LINE:COL: problem`.
pub fn parse_file(text: &str, path: &Path) -> Result<(FileConfig, toml::Table)> {
    let located = |e: toml::de::Error| {
        let at = e
            .span()
            .map(|s| position(path, text, s.start))
            .unwrap_or_else(|| path.display().to_string());
        Error::Usage(format!("{at}: {}", e.message().trim()))
    };
    let file: FileConfig = toml::from_str(text).map_err(located)?;
    let raw: toml::Table = toml::from_str(text).map_err(located)?;
    Ok((file, raw))
}

fn duration(
    value: &Spanned<String>,
    key: &str,
    path: Option<&Path>,
    text: &str,
) -> Result<Duration> {
    crate::compose::parse_duration(value.get_ref()).map_err(|e| {
        let at = path
            .map(|p| position(p, text, value.span().start))
            .unwrap_or_default();
        Error::Usage(format!("{at}: {key}: {e}"))
    })
}

/// Applies defaults below and `overrides` above the file.
pub(super) fn resolve(
    file: FileConfig,
    raw: &toml::Table,
    path: Option<&Path>,
    text: &str,
    root: PathBuf,
    overrides: Overrides,
) -> Result<Config> {
    let mut origins = Origins::from_file(raw);
    // Where keys that are checked later (against the compose file) stand.
    let mut positions = BTreeMap::new();
    let mut mark = |key: String, span: std::ops::Range<usize>| {
        if let Some(p) = path {
            positions.insert(key, position(p, text, span.start));
        }
    };
    for (name, e) in &file.endpoints {
        mark(format!("endpoints.{name}.service"), e.service.span());
        mark(format!("endpoints.{name}.port"), e.port.span());
        if let Some(r) = &e.readiness {
            mark(format!("endpoints.{name}.readiness.path"), r.path.span());
        }
    }
    if let Some(i) = &file.identity {
        mark("identity.endpoint".into(), i.endpoint.span());
        mark("identity.path".into(), i.path.span());
        mark("identity.pointer".into(), i.pointer.span());
    }
    if let Some(p) = &file.pm2 {
        mark("pm2.service".into(), p.service.span());
    }
    for (name, d) in &file.data {
        mark(format!("data.{name}.service"), d.service.span());
        if let Some(s) = &d.password_secret {
            mark(format!("data.{name}.password_secret"), s.span());
        }
    }
    for (n, i) in file.invariants.iter().enumerate() {
        mark(format!("invariants.{n}.data"), i.data.span());
    }
    for (n, c) in file.checks.iter().enumerate() {
        mark(format!("checks.{n}.endpoint"), c.endpoint.span());
    }
    if let Some(d) = &file.drill {
        mark("drill.database".into(), d.database.span());
    }
    let text = text.to_string();

    let system = file.system.as_ref();
    let mut project = system
        .and_then(|s| s.project.clone())
        .unwrap_or_else(|| DEFAULT_PROJECT.into());
    if let Some((value, origin)) = overrides.project {
        project = value;
        origins.set("system.project", origin);
    }
    let name = system
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| project.clone());

    let stack = file.stack.as_ref();
    let mut compose: Vec<PathBuf> = stack
        .and_then(|s| s.compose.clone())
        .unwrap_or_else(|| vec![DEFAULT_COMPOSE.into()])
        .into_iter()
        .map(|c| root.join(c))
        .collect();
    if let Some((value, origin)) = overrides.compose {
        let value = if value.is_absolute() {
            value
        } else {
            std::env::current_dir()
                .map_err(Error::io("current directory"))?
                .join(value)
        };
        compose = vec![value];
        origins.set("stack.compose", origin);
    }
    let mut service_timeout = match stack.and_then(|s| s.service_timeout.as_ref()) {
        Some(v) => duration(v, "stack.service_timeout", path, &text)?,
        None => DEFAULT_SERVICE_TIMEOUT,
    };
    if let Some((value, origin)) = overrides.service_timeout {
        service_timeout = value;
        origins.set("stack.service_timeout", origin);
    }
    let mut build_hook = stack.and_then(|s| s.build_hook.clone());
    if let Some((value, origin)) = overrides.build_hook {
        build_hook = Some(value);
        origins.set("stack.build_hook", origin);
    }
    if overrides.no_build_hook {
        build_hook = None;
        origins.set("stack.build_hook", Origin::Flag("--no-build-hook"));
    }

    let mut endpoints = BTreeMap::new();
    for (name, e) in &file.endpoints {
        let readiness = match &e.readiness {
            Some(r) => Some(Readiness {
                path: r.path.get_ref().clone(),
                status: r.status,
                timeout: match &r.timeout {
                    Some(t) => Some(duration(
                        t,
                        &format!("endpoints.{name}.readiness.timeout"),
                        path,
                        &text,
                    )?),
                    None => None,
                },
            }),
            None => None,
        };
        endpoints.insert(
            name.clone(),
            Endpoint {
                service: e.service.get_ref().clone(),
                port: *e.port.get_ref(),
                readiness,
            },
        );
    }

    let identity = file.identity.as_ref().map(|i| Identity {
        endpoint: i.endpoint.get_ref().clone(),
        path: i.path.get_ref().clone(),
        pointer: i.pointer.get_ref().clone(),
        expect: i.expect.clone(),
    });
    let pm2 = file.pm2.as_ref().map(|p| Pm2 {
        service: p.service.get_ref().clone(),
    });
    let data = file
        .data
        .iter()
        .map(|(name, d)| {
            (
                name.clone(),
                DataService {
                    service: d.service.get_ref().clone(),
                    kind: d.kind,
                    database: d.database.clone(),
                    user: d.user.clone(),
                    password_secret: d.password_secret.as_ref().map(|s| s.get_ref().clone()),
                },
            )
        })
        .collect();
    let secrets = file
        .secrets
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                SecretSpec {
                    variable: s
                        .variable
                        .clone()
                        .unwrap_or_else(|| format!("GAUNTLET_{}", name.to_uppercase())),
                    generate: s.generate,
                    service: s.service.clone(),
                    env: s.env.clone(),
                },
            )
        })
        .collect();
    let defects = file
        .defects
        .as_ref()
        .map(|d| Defects {
            variable: d.variable.clone(),
            switches: d.switches.clone(),
        })
        .unwrap_or_default();
    let invariants = file
        .invariants
        .iter()
        .map(|i| Invariant {
            name: i.name.clone(),
            about: i.about.clone(),
            data: i.data.get_ref().clone(),
            sql: i.sql.clone(),
            count_sql: i.count_sql.clone(),
            command: i.command.clone(),
            expect: i.expect.clone(),
            violation: i.violation.clone(),
        })
        .collect();
    let checks = file
        .checks
        .iter()
        .map(|c| HttpCheck {
            name: c.name.clone(),
            endpoint: c.endpoint.get_ref().clone(),
            method: c.method.to_uppercase(),
            path: c.path.clone(),
            status: c.status,
            contains: c.contains.clone(),
            json: c.json.clone(),
            headers: c
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
        })
        .collect();
    let p = file.paths.as_ref();
    let pick = |v: Option<&String>, default: &str| PathBuf::from(v.map_or(default, |s| s.as_str()));
    let paths = Paths {
        journeys: pick(p.and_then(|p| p.journeys.as_ref()), "journeys"),
        profiles: pick(p.and_then(|p| p.profiles.as_ref()), "scenarios/profiles"),
        slo: pick(p.and_then(|p| p.slo.as_ref()), "scenarios/slo.toml"),
        experiments: pick(p.and_then(|p| p.experiments.as_ref()), "chaos/experiments"),
        regressions: pick(p.and_then(|p| p.regressions.as_ref()), "props/regressions"),
    };
    let drill = file.drill.as_ref().map(|d| Drill {
        database: d.database.get_ref().clone(),
        backup_service: d.backup_service.clone(),
        take: d.take.clone(),
        list: d.list.clone(),
        check: d.check.clone(),
        archive_list: d.archive_list.clone(),
        restore: d.restore.clone(),
    });

    Ok(Config {
        path: path.map(|p| p.canonicalize().unwrap_or_else(|_| p.to_path_buf())),
        root,
        system: SystemSection { name, project },
        stack: StackSection {
            compose,
            service_timeout,
            build_hook,
        },
        endpoints,
        identity,
        pm2,
        data,
        secrets,
        defects,
        variables: file.variables.clone(),
        variable_sets: file.variable_sets.clone(),
        invariants,
        checks,
        paths,
        journeys: JourneysSection {
            builtin: file
                .journeys
                .as_ref()
                .and_then(|j| j.builtin)
                .unwrap_or(false),
        },
        drill,
        origins,
        positions,
    })
}
