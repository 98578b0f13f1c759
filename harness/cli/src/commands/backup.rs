//! `gauntlet backup take|list|check [--run ID]`: the stack's backup service
//! on demand, with the commands the project's [drill] section names (for
//! the reference system, `gauntlet-backup` in the `backup` service, see
//! system/images/postgres/backup.sh). Prints what the script prints (JSON
//! lines). `check` exits 1 when the newest backup is older than the
//! service's BACKUP_MAX_AGE or there is none; `take` exits 1 when the dump
//! fails.

use gauntlet_harness::{docker, exit_codes, Error, Result};

use super::{attach, workspace};
use crate::cli::{BackupAction, BackupArgs, Global};

pub async fn run(global: &Global, args: BackupArgs) -> Result<i32> {
    let workspace = workspace(global)?;
    let drill = workspace.config.drill.clone().ok_or_else(|| {
        workspace.config.error(
            "drill",
            "no [drill] section: the project declares no backup service and commands",
        )
    })?;
    let docker = docker::connect().await?;
    let (stack, _) = attach(&docker, &workspace, args.run_id.as_deref()).await?;
    let service = drill.backup_service.as_str();
    if stack.compose().service(service).is_none() {
        return Err(workspace.config.error(
            "drill.backup_service",
            format!("the compose file has no `{service}` service to take backups with"),
        ));
    }
    let (action, argv) = match args.action {
        BackupAction::Take => ("take", &drill.take),
        BackupAction::List => ("list", &drill.list),
        BackupAction::Check => ("check", &drill.check),
    };
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = stack.exec(service, &argv).await?;
    out!("{}", out.stdout);
    if !out.stderr.trim().is_empty() {
        errln!("{}", out.stderr.trim_end());
    }
    match (args.action, out.exit_code) {
        (_, 0) => Ok(exit_codes::OK),
        (BackupAction::Check, 1) => {
            errln!("the newest backup is stale or missing");
            Ok(exit_codes::CHECK_FAILED)
        }
        (BackupAction::Take, _) => Ok(exit_codes::CHECK_FAILED),
        (_, code) => Err(Error::CheckFailed(format!(
            "`{}` ({action}) exited {code}",
            argv.join(" ")
        ))),
    }
}
