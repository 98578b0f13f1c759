//! What `gauntlet init` learns beyond the compose model: health probes in
//! command lines, and hints from the build contexts and the raw compose
//! text. Best effort: what cannot be read is skipped.

use std::collections::BTreeMap;
use std::path::Path;

use super::Hints;
use crate::compose::ComposeFile;

/// An HTTP request found in a health check: its port, when the command
/// names one, and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthProbe {
    pub port: Option<u16>,
    pub path: String,
}

/// The HTTP request a health-check command makes, if it makes one:
/// `curl -f http://127.0.0.1:8080/api/healthz`, `wget -qO- localhost:8000/health`,
/// or a raw `GET /path HTTP/1.x` written to `/dev/tcp/HOST/PORT`.
pub fn probe_in(command: &str) -> Option<HealthProbe> {
    for scheme in ["http://", "https://"] {
        if let Some(at) = command.find(scheme) {
            let rest = until_delimiter(&command[at + scheme.len()..]);
            let (authority, path) = match rest.find('/') {
                Some(slash) => (&rest[..slash], &rest[slash..]),
                None => (rest, "/"),
            };
            let authority = authority.rsplit('@').next().unwrap_or(authority);
            let port = authority
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .or(if scheme == "http://" { None } else { Some(443) });
            return Some(HealthProbe {
                port,
                path: path.to_string(),
            });
        }
    }
    for host in ["localhost:", "127.0.0.1:", "0.0.0.0:", "[::1]:"] {
        if let Some(at) = command.find(host) {
            let rest = until_delimiter(&command[at + host.len()..]);
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let Ok(port) = rest[..digits].parse::<u16>() else {
                continue;
            };
            let path = &rest[digits..];
            if !(path.is_empty() || path.starts_with('/')) {
                continue;
            }
            return Some(HealthProbe {
                port: Some(port),
                path: if path.is_empty() { "/" } else { path }.to_string(),
            });
        }
    }
    let at = command.find("GET /")?;
    let rest = &command[at + 4..];
    let end = rest.find(' ')?;
    if !rest[end + 1..].starts_with("HTTP/") {
        return None;
    }
    let port = command.find("/dev/tcp/").and_then(|i| {
        let rest = &command[i + "/dev/tcp/".len()..];
        let rest = &rest[rest.find('/')? + 1..];
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..digits].parse().ok()
    });
    Some(HealthProbe {
        port,
        path: rest[..end].to_string(),
    })
}

fn until_delimiter(text: &str) -> &str {
    let end = text
        .find(|c: char| c.is_whitespace() || "\"'`)(;|&<>\\".contains(c))
        .unwrap_or(text.len());
    &text[..end]
}

/// Health routes looked for in sources, best first.
const HEALTH_ROUTES: &[&str] = &[
    "/healthz",
    "/health",
    "/api/healthz",
    "/api/health",
    "/readyz",
    "/ready",
    "/livez",
    "/_health",
    "/status",
    "/ping",
];

/// Folders never read.
const SKIP_DIRS: &[&str] = &[
    "node_modules",
    "target",
    "vendor",
    "dist",
    "build",
    "__pycache__",
    "venv",
    ".venv",
];
const MAX_FILES: usize = 400;
const MAX_FILE_BYTES: u64 = 256 * 1024;
const MAX_DEPTH: usize = 4;

/// Reads the build context of every service (health routes, Dockerfile
/// `HEALTHCHECK`s, PM2 files) and the compose file's own text (the
/// variables passed to each service's environment).
pub fn gather_hints(compose: &ComposeFile) -> Hints {
    let mut hints = Hints::default();
    let shown_from = compose.path.parent().unwrap_or(Path::new("."));
    for service in &compose.services {
        let Some(context) = &service.build_context else {
            continue;
        };
        let mut files = Vec::new();
        collect_files(context, 0, &mut files);
        let mut best: Option<(usize, String)> = None;
        for file in files {
            let Some(text) = read_text(&file) else {
                continue;
            };
            let shown = super::relative_to(&file, shown_from);
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let is_dockerfile = name.starts_with("Dockerfile") || name.ends_with(".Dockerfile");
            if is_dockerfile && !hints.dockerfile_probes.contains_key(&service.name) {
                if let Some(probe) = text
                    .lines()
                    .map(str::trim_start)
                    .filter(|l| l.to_ascii_uppercase().starts_with("HEALTHCHECK"))
                    .find_map(probe_in)
                {
                    hints
                        .dockerfile_probes
                        .insert(service.name.clone(), (probe, shown.clone()));
                }
            }
            if !hints.pm2.contains_key(&service.name) {
                if name.starts_with("ecosystem.config.") {
                    hints.pm2.insert(
                        service.name.clone(),
                        format!("{shown} is a PM2 ecosystem file"),
                    );
                } else if (is_dockerfile || name.ends_with(".sh")) && mentions_pm2(&text) {
                    hints
                        .pm2
                        .insert(service.name.clone(), format!("{shown} runs pm2"));
                }
            }
            for (rank, route) in HEALTH_ROUTES.iter().enumerate() {
                if best.as_ref().is_some_and(|(b, _)| *b <= rank) {
                    break;
                }
                let quoted = ['"', '\'', '`']
                    .iter()
                    .any(|q| text.contains(&format!("{q}{route}{q}")));
                if quoted {
                    best = Some((rank, shown.clone()));
                    break;
                }
            }
        }
        if let Some((rank, file)) = best {
            hints.health_routes.insert(
                service.name.clone(),
                (HEALTH_ROUTES[rank].to_string(), file),
            );
        }
    }
    hints.variables = std::fs::read_to_string(&compose.path)
        .map(|text| environment_variables(&text))
        .unwrap_or_default();
    hints
}

fn mentions_pm2(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .any(|w| w == "pm2" || w == "pm2-runtime")
}

/// Files of a build context, sorted, hidden entries and dependency folders
/// left out.
fn collect_files(dir: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    if depth > MAX_DEPTH || out.len() >= MAX_FILES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    let mut dirs = Vec::new();
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                dirs.push(entry.path());
            }
        } else if kind.is_file() && out.len() < MAX_FILES {
            out.push(entry.path());
        }
    }
    for d in dirs {
        collect_files(&d, depth + 1, out);
    }
}

/// A small text file's contents; `None` for large or binary files.
fn read_text(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_FILE_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    if bytes.iter().take(4096).any(|b| *b == 0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// (service, environment key, variable) for each `${VAR...}` or `$VAR` in
/// a service's `environment:` in the raw compose text.
pub(super) fn environment_variables(text: &str) -> Vec<(String, String, String)> {
    let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return Vec::new();
    };
    let Some(services) = value.get("services").and_then(|s| s.as_mapping()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, service) in services {
        let Some(name) = name.as_str() else { continue };
        let pairs: Vec<(String, String)> = match service.get("environment") {
            Some(serde_yaml::Value::Mapping(map)) => map
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
                .collect(),
            Some(serde_yaml::Value::Sequence(items)) => items
                .iter()
                .filter_map(|i| {
                    let (k, v) = i.as_str()?.split_once('=')?;
                    Some((k.to_string(), v.to_string()))
                })
                .collect(),
            _ => Vec::new(),
        };
        let pairs: BTreeMap<String, String> = pairs.into_iter().collect();
        for (key, value) in pairs {
            for variable in variables_in(&value) {
                out.push((name.to_string(), key.clone(), variable));
            }
        }
    }
    out
}

fn variables_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            rest = r;
            continue;
        }
        let body = rest.strip_prefix('{').unwrap_or(rest);
        let len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        if len > 0 {
            out.push(body[..len].to_string());
        }
        rest = &body[len..];
    }
    out
}
