//! Data invariants, as the project file declares them (`[[invariants]]`),
//! checked inside the data services' containers (`psql` over the local
//! socket, `redis-cli`), so a load test, a chaos experiment or a drill can
//! prove afterwards that nothing was corrupted.

use serde::Serialize;

use crate::config::{DataKind, DataService, Invariant};
use crate::error::{Error, Result};
use crate::stack::Stack;
use crate::sut::Sut;

/// The outcome of one invariant.
#[derive(Debug, Clone, Serialize)]
pub struct InvariantResult {
    pub name: String,
    pub about: String,
    /// How many things were checked (`count_sql`), when known.
    pub checked: Option<u64>,
    /// One line per violation (each row, formatted by `violation`).
    pub violations: Vec<String>,
}

impl InvariantResult {
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }

    /// `stock: holds for 60 checked` / `stock: BROKEN (2): ...`.
    pub fn summary(&self) -> String {
        let checked = self
            .checked
            .map(|n| format!(" for {n} checked"))
            .unwrap_or_default();
        if self.holds() {
            format!("{}: holds{checked}", self.name)
        } else {
            let examples: Vec<&str> = self.violations.iter().take(3).map(String::as_str).collect();
            format!(
                "{}: BROKEN{checked}, {} violations ({}): {}",
                self.name,
                self.violations.len(),
                self.about,
                examples.join("; ")
            )
        }
    }
}

fn data_service<'a>(sut: &'a Sut, name: &str) -> Result<&'a DataService> {
    sut.config.data.get(name).ok_or_else(|| {
        Error::Usage(format!(
            "no data service `{name}` in [data] of {}",
            sut.config.describe_source()
        ))
    })
}

/// The project's postgres data service (the first one declared).
pub fn postgres(sut: &Sut) -> Result<&DataService> {
    sut.config
        .data_service(DataKind::Postgres)
        .map(|(_, d)| d)
        .ok_or_else(|| {
            Error::Usage(format!(
                "no postgres data service in [data] of {}",
                sut.config.describe_source()
            ))
        })
}

/// Runs SQL on a named postgres data service; rows come back with fields
/// split at `|`.
pub async fn query(sut: &Sut, data: &str, sql: &str) -> Result<Vec<Vec<String>>> {
    let service = data_service(sut, data)?;
    psql(sut, service, sql).await
}

/// Runs SQL on the project's postgres data service.
pub async fn sql(sut: &Sut, sql: &str) -> Result<Vec<Vec<String>>> {
    psql(sut, postgres(sut)?, sql).await
}

/// Runs SQL inside the data service's container.
pub async fn psql(sut: &Sut, data: &DataService, sql: &str) -> Result<Vec<Vec<String>>> {
    let stack = sut.stack()?;
    psql_on(stack, data, password(sut, data).as_deref(), sql).await
}

fn password(sut: &Sut, data: &DataService) -> Option<String> {
    data.password_secret
        .as_deref()
        .and_then(|s| sut.secret(s))
        .map(String::from)
}

/// Runs SQL in a stack's data service, as its role (default the local
/// superuser `postgres`) on its database.
pub async fn psql_on(
    stack: &Stack,
    data: &DataService,
    password: Option<&str>,
    sql: &str,
) -> Result<Vec<Vec<String>>> {
    let user = data.user.as_deref().unwrap_or("postgres");
    let database = data.database.as_deref().unwrap_or("postgres");
    let env = password.map(|p| format!("PGPASSWORD={p}"));
    let mut argv: Vec<&str> = Vec::new();
    if let Some(env) = &env {
        argv.extend(["env", env.as_str()]);
    }
    argv.extend([
        "psql", "-X", "-q", "-At", "-U", user, "-d", database, "-c", sql,
    ]);
    let out = stack.exec(&data.service, &argv).await?;
    if out.exit_code != 0 {
        return Err(Error::CheckFailed(format!(
            "SQL in {} failed: {}",
            data.service,
            out.stderr.trim()
        )));
    }
    Ok(out
        .stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(String::from).collect())
        .collect())
}

/// Runs a Redis command on a named redis data service; the reply trimmed.
pub async fn redis(sut: &Sut, data: &str, command: &[&str]) -> Result<String> {
    let service = data_service(sut, data)?;
    let stack = sut.stack()?;
    let env = password(sut, service).map(|p| format!("REDISCLI_AUTH={p}"));
    let mut argv: Vec<&str> = Vec::new();
    if let Some(env) = &env {
        argv.extend(["env", env.as_str()]);
    }
    argv.push("redis-cli");
    argv.extend(command);
    let out = stack.exec(&service.service, &argv).await?;
    if out.exit_code != 0 {
        return Err(Error::CheckFailed(format!(
            "`redis-cli {}` in {} failed: {}",
            command.join(" "),
            service.service,
            out.stderr.trim()
        )));
    }
    Ok(out.stdout.trim().to_string())
}

/// Checks one invariant.
pub async fn check(sut: &Sut, invariant: &Invariant) -> Result<InvariantResult> {
    let data = data_service(sut, &invariant.data)?;
    let mut result = InvariantResult {
        name: invariant.name.clone(),
        about: invariant.about.clone(),
        checked: None,
        violations: Vec::new(),
    };
    match data.kind {
        DataKind::Postgres => {
            if let Some(count) = &invariant.count_sql {
                result.checked = psql(sut, data, count)
                    .await?
                    .first()
                    .and_then(|r| r.first())
                    .and_then(|c| c.parse().ok());
            }
            let sql = invariant.sql.as_deref().unwrap_or("SELECT 1 WHERE false");
            result.violations = psql(sut, data, sql)
                .await?
                .iter()
                .map(|row| describe(invariant, row))
                .collect();
        }
        DataKind::Redis => {
            let command: Vec<&str> = invariant
                .command
                .iter()
                .flatten()
                .map(String::as_str)
                .collect();
            let reply = redis(sut, &invariant.data, &command).await?;
            let expected = invariant.expect.clone().unwrap_or_default();
            if reply != expected {
                result.violations.push(format!(
                    "`{}` answered `{reply}`, expected `{expected}`",
                    command.join(" ")
                ));
            }
        }
    }
    Ok(result)
}

/// Every invariant the project declares, in order.
pub async fn check_all(sut: &Sut) -> Result<Vec<InvariantResult>> {
    let mut results = Vec::new();
    for invariant in &sut.config.invariants {
        results.push(check(sut, invariant).await?);
    }
    Ok(results)
}

/// A violating row as the invariant's `violation` template says (`{0}`,
/// `{1}`... are its columns), else its columns joined.
fn describe(invariant: &Invariant, row: &[String]) -> String {
    match &invariant.violation {
        Some(template) => {
            let mut text = template.clone();
            for (i, value) in row.iter().enumerate() {
                text = text.replace(&format!("{{{i}}}"), value);
            }
            text
        }
        None => row.join(" | "),
    }
}
