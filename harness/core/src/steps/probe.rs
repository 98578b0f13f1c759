//! Probes: one look at a data service or inside a container, shared by
//! journey steps and chaos experiments. The value is the first cell of a
//! SQL query, a Redis reply, or a command's standard output, trimmed.

use crate::invariants;
use crate::sut::Sut;

use super::template::{Scope, Template};

#[derive(Debug, Clone)]
pub enum ProbeSpec {
    /// A query on a postgres `[data]` service.
    Sql { data: String, query: Template },
    /// A `redis-cli` command on a redis `[data]` service.
    Redis {
        data: String,
        command: Vec<Template>,
    },
    /// A command inside a service's container; a non-zero exit fails.
    Exec {
        service: String,
        command: Vec<Template>,
    },
}

impl ProbeSpec {
    /// `redis XLEN events`, `sql SELECT ...`, `exec in app: pm2 jlist`.
    pub fn describe(&self) -> String {
        let join = |c: &[Template]| c.iter().map(Template::source).collect::<Vec<_>>().join(" ");
        match self {
            ProbeSpec::Sql { query, .. } => format!("sql {}", query.source()),
            ProbeSpec::Redis { command, .. } => format!("redis {}", join(command)),
            ProbeSpec::Exec { service, command } => format!("exec in {service}: {}", join(command)),
        }
    }

    /// Runs the probe; `Err` says why no value was read.
    pub async fn run(&self, sut: &Sut, scope: &mut Scope) -> Result<String, String> {
        match self {
            ProbeSpec::Sql { data, query } => {
                let sql = query.render(scope)?;
                let rows = invariants::query(sut, data, &sql)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(rows
                    .first()
                    .and_then(|r| r.first())
                    .cloned()
                    .unwrap_or_default())
            }
            ProbeSpec::Redis { data, command } => {
                let argv = render_all(command, scope)?;
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                invariants::redis(sut, data, &argv)
                    .await
                    .map_err(|e| e.to_string())
            }
            ProbeSpec::Exec { service, command } => {
                let argv = render_all(command, scope)?;
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                let stack = sut.stack().map_err(|e| e.to_string())?;
                let out = stack
                    .exec(service, &argv)
                    .await
                    .map_err(|e| e.to_string())?;
                if out.exit_code != 0 {
                    return Err(format!(
                        "`{}` in {service} exited with {}: {}",
                        argv.join(" "),
                        out.exit_code,
                        out.stderr.trim()
                    ));
                }
                Ok(out.stdout.trim().to_string())
            }
        }
    }
}

fn render_all(templates: &[Template], scope: &mut Scope) -> Result<Vec<String>, String> {
    templates.iter().map(|t| t.render(scope)).collect()
}
