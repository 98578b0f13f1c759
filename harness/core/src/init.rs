//! `gauntlet init`: a first project for a system, inferred from its compose
//! file.
//!
//! [`gather_hints`] reads what the compose model does not keep (the build
//! contexts' health routes, Dockerfile `HEALTHCHECK`s and PM2 files; the
//! variables the raw compose text passes to each service); [`infer`] turns
//! the compose model and those hints into a [`System`] (endpoints, readiness,
//! data services, PM2, secret candidates); [`render`] turns that into files:
//! `gauntlet.toml`, a smoke journey, a smoke load profile and its SLO file,
//! and a restart experiment. [`infer`] and [`render`] touch no disk; the
//! command writes the files, never over existing ones.

mod render;
mod scan;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::compose::{ComposeFile, Service};
use crate::config::DataKind;
use crate::error::{Error, Result};

pub use render::{experiment_name, render, GeneratedFile, Layout, SMOKE, TRANSACTION};
pub use scan::{gather_hints, probe_in, HealthProbe};

/// Container ports that are data or messaging protocols, never HTTP
/// endpoints, and what usually speaks them.
pub const DATA_PORTS: &[(u16, &str)] = &[
    (5432, "postgres"),
    (6379, "redis"),
    (3306, "mysql"),
    (27017, "mongodb"),
    (5672, "rabbitmq"),
    (9092, "kafka"),
    (2181, "zookeeper"),
    (11211, "memcached"),
    (4222, "nats"),
    (1883, "mqtt"),
    (9042, "cassandra"),
    (1433, "sql server"),
    (1521, "oracle"),
    (26257, "cockroachdb"),
    (7687, "neo4j"),
    (25, "smtp"),
    (587, "smtp"),
    (1025, "smtp"),
];

/// Container ports that usually serve HTTP (plain; TLS ports are left out:
/// gauntlet's endpoints are `http://`).
pub const HTTP_PORTS: &[u16] = &[
    80, 3000, 3001, 4000, 4200, 5000, 5173, 8000, 8001, 8008, 8080, 8081, 8082, 8083, 8084, 8085,
    8086, 8087, 8088, 8089, 8888, 9080, 9090,
];

/// What gauntlet could tell about a system from its compose file.
#[derive(Debug, Clone, PartialEq)]
pub struct System {
    /// The compose file read.
    pub compose: PathBuf,
    /// `[system] name`.
    pub name: String,
    /// `[system] project`: a valid run namespace.
    pub project: String,
    /// Endpoints in the order they are written; the primary one first.
    pub endpoints: Vec<EndpointGuess>,
    pub data: Vec<DataGuess>,
    /// The service running PM2, and why it is thought to.
    pub pm2: Option<(String, String)>,
    /// Compose variables that look like secrets, for a commented example.
    pub secrets: Vec<SecretGuess>,
    /// What was seen and not used, one line each (ports that are not
    /// endpoints, data services gauntlet has no kind for).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointGuess {
    pub name: String,
    pub service: String,
    pub port: u16,
    pub readiness: Option<ReadinessGuess>,
    /// Why the port is thought to serve HTTP.
    pub why: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReadinessGuess {
    pub path: String,
    pub status: u16,
    pub evidence: Evidence,
}

/// Where a readiness path came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// The compose healthcheck's command (as Docker runs it).
    Healthcheck(String),
    /// A Dockerfile `HEALTHCHECK` in the build context (the file).
    Dockerfile(String),
    /// A health route's literal in the build context's sources (the file).
    Source(String),
    /// Nothing found: `GET /` is assumed to answer 200.
    Assumed,
}

impl Evidence {
    /// How strong the evidence is, for choosing the primary endpoint.
    fn rank(&self) -> u8 {
        match self {
            Evidence::Healthcheck(_) | Evidence::Dockerfile(_) => 3,
            Evidence::Source(_) => 2,
            Evidence::Assumed => 1,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Evidence::Healthcheck(cmd) => {
                format!("the path the compose healthcheck calls (`{cmd}`)")
            }
            Evidence::Dockerfile(file) => format!("the path the HEALTHCHECK in {file} calls"),
            Evidence::Source(file) => {
                format!("a health route found in {file} (no health check calls it)")
            }
            Evidence::Assumed => "assumed: no health check found".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DataGuess {
    pub name: String,
    pub service: String,
    pub kind: DataKind,
    /// Postgres: `POSTGRES_DB` of the service, if set.
    pub database: Option<String>,
    /// Postgres: `POSTGRES_USER` of the service, if set.
    pub user: Option<String>,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecretGuess {
    pub name: String,
    pub variable: String,
    pub service: String,
    pub env: String,
}

/// What the compose model does not keep, gathered by [`gather_hints`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    /// Service -> (health route, the file it was found in).
    pub health_routes: BTreeMap<String, (String, String)>,
    /// Service -> (the probe of a Dockerfile `HEALTHCHECK`, the Dockerfile).
    pub dockerfile_probes: BTreeMap<String, (HealthProbe, String)>,
    /// Service -> why it is thought to run PM2 (a file of its build context).
    pub pm2: BTreeMap<String, String>,
    /// (service, environment key, compose variable) for every `${VAR}` in a
    /// service's environment.
    pub variables: Vec<(String, String, String)>,
}

impl System {
    /// The endpoint the journey, profile and experiment use.
    pub fn primary(&self) -> &EndpointGuess {
        &self.endpoints[0]
    }

    /// The primary endpoint's readiness (always set by [`infer`]).
    pub fn primary_readiness(&self) -> &ReadinessGuess {
        self.primary()
            .readiness
            .as_ref()
            .expect("infer gives the primary endpoint a readiness probe")
    }
}

/// Infers the system from its compose file. `folder` names it (`[system]
/// name`, and `project` sanitised, unless `project` is given). Errors (exit
/// 2) name the compose file: no services, no port usable as an endpoint.
pub fn infer(
    compose: &ComposeFile,
    hints: &Hints,
    folder: &str,
    project: Option<&str>,
) -> Result<System> {
    let file = &compose.path;
    if compose.services.is_empty() {
        return Err(Error::config(
            file,
            "defines no services: `gauntlet init` needs at least one service publishing an HTTP port",
        ));
    }
    let mut notes = Vec::new();
    let mut data = Vec::new();
    let mut endpoints: Vec<EndpointGuess> = Vec::new();
    for service in &compose.services {
        if let Some((kind, why)) = data_kind(service) {
            match kind {
                Kind::Known(kind) => data.push(data_guess(service, kind, why)),
                Kind::Other(what) => notes.push(format!(
                    "service `{}` looks like {what} ({why}): gauntlet's [data] knows postgres and redis only, so it is left out",
                    service.name
                )),
            }
            continue;
        }
        endpoints.extend(service_endpoints(service, hints, &mut notes));
    }
    if endpoints.is_empty() {
        let published: Vec<String> = compose
            .services
            .iter()
            .flat_map(|s| {
                s.ports
                    .iter()
                    .map(move |p| format!("{} {}", s.name, p.container_port))
            })
            .collect();
        let published = if published.is_empty() {
            "no service publishes a port".to_string()
        } else {
            format!(
                "published: {}, none of them HTTP as far as can be told",
                published.join(", ")
            )
        };
        return Err(Error::config(
            file,
            format!(
                "no published port usable as an HTTP endpoint ({published}); publish the app's port \
                 as `127.0.0.1::PORT`, give the service a healthcheck with its URL \
                 (e.g. curl -f http://127.0.0.1:PORT/health), or write gauntlet.toml by hand \
                 (README: \"Bringing your own system\")"
            ),
        ));
    }
    // The primary endpoint: the one with the best readiness evidence (so
    // the generated journey, profile and experiment work as written); among
    // equals, a service nothing depends on (the front of the system, not
    // infrastructure), then the first in start order.
    let depended_on = |name: &str| {
        compose
            .services
            .iter()
            .any(|s| s.depends_on.iter().any(|d| d.service == name))
    };
    let primary = endpoints
        .iter()
        .enumerate()
        // One candidate per service: its first endpoint.
        .filter(|(i, e)| !endpoints[..*i].iter().any(|o| o.service == e.service))
        .max_by_key(|(i, e)| {
            (
                e.readiness.as_ref().map_or(0, |r| r.evidence.rank()),
                !depended_on(&e.service),
                std::cmp::Reverse(*i),
            )
        })
        .map(|(i, _)| i)
        .unwrap_or(0);
    let mut primary = endpoints.remove(primary);
    if primary.readiness.is_none() {
        primary.readiness = Some(ReadinessGuess {
            path: "/".into(),
            status: 200,
            evidence: Evidence::Assumed,
        });
    }
    endpoints.insert(0, primary);

    let pm2 = compose
        .services
        .iter()
        .find_map(|s| pm2_reason(s, hints).map(|why| (s.name.clone(), why)));
    let mut secrets: Vec<SecretGuess> = Vec::new();
    for (service, env, variable) in &hints.variables {
        if looks_secret(env) || looks_secret(variable) {
            if secrets.iter().any(|s| &s.variable == variable) {
                continue;
            }
            secrets.push(SecretGuess {
                name: key_name(variable),
                variable: variable.clone(),
                service: service.clone(),
                env: env.clone(),
            });
        }
    }
    let name = folder.trim().to_string();
    let project = match project {
        Some(p) => p.to_string(),
        None => project_name(folder),
    };
    Ok(System {
        compose: file.clone(),
        name: if name.is_empty() {
            project.clone()
        } else {
            name
        },
        project,
        endpoints,
        data,
        pm2,
        secrets,
        notes,
    })
}

enum Kind {
    Known(DataKind),
    Other(&'static str),
}

/// A data service, by published port, healthcheck command, then image.
fn data_kind(s: &Service) -> Option<(Kind, String)> {
    for p in &s.ports {
        match p.container_port {
            5432 => return Some((Kind::Known(DataKind::Postgres), "publishes 5432".into())),
            6379 => return Some((Kind::Known(DataKind::Redis), "publishes 6379".into())),
            _ => {}
        }
    }
    let health = s
        .healthcheck
        .as_ref()
        .map(|h| h.test[1..].join(" "))
        .unwrap_or_default();
    if health.contains("pg_isready") {
        return Some((
            Kind::Known(DataKind::Postgres),
            "its healthcheck runs pg_isready".into(),
        ));
    }
    if health.contains("redis-cli") {
        return Some((
            Kind::Known(DataKind::Redis),
            "its healthcheck runs redis-cli".into(),
        ));
    }
    // A web tool for a data server (redis-commander, mongo-express) is
    // named like one but serves HTTP: images only count for services that
    // show no sign of HTTP.
    let serves_http = s
        .ports
        .iter()
        .any(|p| HTTP_PORTS.contains(&p.container_port))
        || probe_in(&health).is_some();
    if serves_http {
        return None;
    }
    let image = s.image.to_ascii_lowercase();
    let repo = image.rsplit_once(':').map_or(image.as_str(), |(r, tag)| {
        if tag.contains('/') {
            image.as_str()
        } else {
            r
        }
    });
    // An image of a data server running something else (a backup job, a
    // migration) is not the data service.
    let runs = |servers: &[&str]| {
        s.command.as_ref().is_none_or(|c| {
            c.first()
                .is_some_and(|first| servers.iter().any(|srv| first.contains(srv)))
        })
    };
    if ["postgres", "postgis", "timescale"]
        .iter()
        .any(|n| repo.contains(n))
        && runs(&["postgres"])
    {
        return Some((
            Kind::Known(DataKind::Postgres),
            format!("image {}", s.image),
        ));
    }
    if ["redis", "valkey", "keydb"]
        .iter()
        .any(|n| repo.contains(n))
        && runs(&["redis", "valkey", "keydb"])
    {
        return Some((Kind::Known(DataKind::Redis), format!("image {}", s.image)));
    }
    for (needle, what) in [
        ("mysql", "mysql"),
        ("mariadb", "mysql"),
        ("mongo", "mongodb"),
        ("rabbitmq", "rabbitmq"),
        ("kafka", "kafka"),
        ("memcached", "memcached"),
    ] {
        if repo.contains(needle) {
            return Some((Kind::Other(what), format!("image {}", s.image)));
        }
    }
    for p in &s.ports {
        if let Some((port, what)) = DATA_PORTS.iter().find(|(d, _)| *d == p.container_port) {
            return Some((Kind::Other(what), format!("publishes {port}")));
        }
    }
    None
}

fn data_guess(s: &Service, kind: DataKind, why: String) -> DataGuess {
    let env = |key: &str| {
        s.environment
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let (database, user) = match kind {
        DataKind::Postgres => (env("POSTGRES_DB"), env("POSTGRES_USER")),
        DataKind::Redis => (None, None),
    };
    DataGuess {
        name: key_name(&s.name),
        service: s.name.clone(),
        kind,
        database,
        user,
        why,
    }
}

/// The HTTP endpoints of a service that is not a data service: the port its
/// health check names, common HTTP ports, and (with a health route in its
/// sources) any other port that is not a data port.
fn service_endpoints(s: &Service, hints: &Hints, notes: &mut Vec<String>) -> Vec<EndpointGuess> {
    let mut ports: Vec<u16> = Vec::new();
    for p in &s.ports {
        if !ports.contains(&p.container_port) {
            ports.push(p.container_port);
        }
    }
    let candidates: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|p| !DATA_PORTS.iter().any(|(d, _)| d == p))
        .collect();
    // A probe names its port, or has none (then: port 80, or the only
    // candidate port).
    let probe_port = |probe: &HealthProbe| -> Option<u16> {
        match probe.port {
            Some(port) => candidates.contains(&port).then_some(port),
            None if candidates.contains(&80) => Some(80),
            None if candidates.len() == 1 => Some(candidates[0]),
            None => None,
        }
    };
    let compose_probe = s.healthcheck.as_ref().and_then(|h| {
        let command = h.test[1..].join(" ");
        let probe = probe_in(&command)?;
        let port = probe_port(&probe)?;
        Some((port, probe.path, Evidence::Healthcheck(command)))
    });
    let dockerfile_probe = hints
        .dockerfile_probes
        .get(&s.name)
        .and_then(|(probe, file)| {
            let port = probe_port(probe)?;
            Some((port, probe.path.clone(), Evidence::Dockerfile(file.clone())))
        });
    let probed = compose_probe.or(dockerfile_probe);
    let route = hints.health_routes.get(&s.name);

    let mut found: Vec<EndpointGuess> = Vec::new();
    for port in ports {
        if let Some((_, what)) = DATA_PORTS.iter().find(|(d, _)| *d == port) {
            notes.push(format!(
                "service `{}` publishes {port}, which is usually {what}: not an endpoint",
                s.name
            ));
            continue;
        }
        let why = if probed.as_ref().is_some_and(|(p, _, _)| *p == port) {
            "its health check calls it".to_string()
        } else if HTTP_PORTS.contains(&port) {
            "a common HTTP port".to_string()
        } else if let Some((_, file)) = route {
            format!("{file} has a health route")
        } else {
            notes.push(format!(
                "service `{}` publishes {port}, not recognised as HTTP: add an [endpoints] entry if it is",
                s.name
            ));
            continue;
        };
        found.push(EndpointGuess {
            name: String::new(),
            service: s.name.clone(),
            port,
            readiness: None,
            why,
        });
    }
    if found.is_empty() {
        return found;
    }
    // Readiness on one port per service: the probed one, else the first
    // with a health route in the sources; the service's other ports are
    // ready when it is.
    let ready_at = match &probed {
        Some((port, path, evidence)) => found.iter().position(|e| e.port == *port).map(|i| {
            (
                i,
                ReadinessGuess {
                    path: path.clone(),
                    status: 200,
                    evidence: evidence.clone(),
                },
            )
        }),
        None => route.map(|(path, file)| {
            (
                0,
                ReadinessGuess {
                    path: path.clone(),
                    status: 200,
                    evidence: Evidence::Source(file.clone()),
                },
            )
        }),
    };
    let first = match ready_at {
        Some((i, readiness)) => {
            found[i].readiness = Some(readiness);
            i
        }
        None => 0,
    };
    let lead = found.remove(first);
    found.insert(0, lead);
    let base = key_name(&s.name);
    for (i, e) in found.iter_mut().enumerate() {
        e.name = if i == 0 {
            base.clone()
        } else {
            format!("{base}_{}", e.port)
        };
    }
    found
}

fn pm2_reason(s: &Service, hints: &Hints) -> Option<String> {
    if s.runs_pm2() {
        return Some("labelled dev.gauntlet.pm2".into());
    }
    if s.image.to_ascii_lowercase().contains("pm2") {
        return Some(format!("image {}", s.image));
    }
    if let Some(cmd) = &s.command {
        if cmd.iter().any(|a| a.contains("pm2")) {
            return Some(format!("command `{}`", cmd.join(" ")));
        }
    }
    hints.pm2.get(&s.name).cloned()
}

fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if upper.starts_with("GAUNTLET_") && upper.ends_with("_TAG") {
        return false;
    }
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "PRIVATE_KEY",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

/// A name usable as a TOML bare key and in messages: lowercase letters,
/// digits and `_`.
pub fn key_name(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        "app".into()
    } else {
        out
    }
}

/// A run namespace from a folder name: 1-40 lowercase letters, digits and
/// dashes, not starting with a dash (`stack::validate_name`).
pub fn project_name(folder: &str) -> String {
    let mut out = String::new();
    for c in folder.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out.chars().take(40).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "app".into()
    } else {
        out
    }
}

/// `path` relative to the folder `base` (both absolute), with `/`
/// separators: how the generated gauntlet.toml names the compose file.
pub fn relative_to(path: &Path, base: &Path) -> String {
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = path
        .iter()
        .zip(base.iter())
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return path.iter().collect::<PathBuf>().display().to_string();
    }
    let mut parts: Vec<String> = vec!["..".into(); base.len() - common];
    parts.extend(
        path[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[cfg(test)]
mod tests;
