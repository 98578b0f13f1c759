//! `gauntlet config`: the effective configuration, one value a line, each
//! with where it came from (file, env, flag, default, compose label).
//! Secrets show only whether a value is at hand, never the value.

use gauntlet_harness::sut::secrets_from_env;
use gauntlet_harness::workspace::Workspace;
use gauntlet_harness::{exit_codes, Result};

use super::target_config;
use crate::cli::{ConfigArgs, Global};

pub async fn run(global: &Global, args: ConfigArgs) -> Result<i32> {
    // With a compose file, the labels it declares count too (and it is
    // checked); without one (a project for --target only), the file and
    // defaults alone.
    let config = target_config(global)?;
    let config = if config.compose_path().is_file() {
        Workspace::new(config)?.config
    } else {
        config
    };
    let value = toml::Value::try_from(&config).expect("the configuration serialises");
    let mut lines = Vec::new();
    flatten("", &value, &mut lines);
    let at_hand = secrets_from_env(&config.secrets);
    let mut rows: Vec<(String, String, String)> = lines
        .into_iter()
        .map(|(key, value)| {
            let origin = config.origins.of(&key).to_string();
            (key, value, origin)
        })
        .collect();
    for (name, spec) in &config.secrets {
        let state = if at_hand.get(name).is_some() {
            format!("\"***\" (from ${})", spec.variable)
        } else if spec.generate {
            "(generated for each run)".to_string()
        } else {
            format!("(unset: ${})", spec.variable)
        };
        rows.push((format!("secrets.{name}.value"), state, "env".into()));
    }
    if args.json {
        let map: serde_json::Map<String, serde_json::Value> = rows
            .into_iter()
            .map(|(k, v, o)| (k, serde_json::json!({ "value": v, "origin": o })))
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&map).expect("serialisable")
        );
        return Ok(exit_codes::OK);
    }
    outln!("# {}", config.describe_source());
    let width = rows
        .iter()
        .map(|(k, v, _)| k.len() + v.len() + 3)
        .filter(|w| *w < 90)
        .max()
        .unwrap_or(40);
    for (key, value, origin) in rows {
        let line = format!("{key} = {value}");
        if value.contains('\n') {
            outln!("{line}\n    # {origin}");
        } else {
            outln!("{line:<width$}  # {origin}");
        }
    }
    Ok(exit_codes::OK)
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(&key(k), v, out);
            }
        }
        toml::Value::Array(items) if items.iter().any(|i| i.is_table()) => {
            for (n, v) in items.iter().enumerate() {
                flatten(&key(&n.to_string()), v, out);
            }
        }
        other => out.push((prefix.to_string(), other.to_string())),
    }
}
