//! `gauntlet backup take|list|check [--run ID]`: the stack's backup service
//! on demand (`gauntlet-backup` in the `backup` service, see
//! system/images/postgres/backup.sh). Prints what the script prints (JSON
//! lines). `check` exits 1 when the newest backup is older than the
//! service's BACKUP_MAX_AGE or there is none; `take` exits 1 when the dump
//! fails.

use gauntlet_harness::{docker, exit_codes, Error, Result};

use super::{attach, workspace};
use crate::cli::{BackupAction, BackupArgs, Global};

const SERVICE: &str = "backup";

pub async fn run(global: &Global, args: BackupArgs) -> Result<i32> {
    let workspace = workspace(global)?;
    let docker = docker::connect().await?;
    let stack = attach(&docker, global, &workspace, args.run_id.as_deref()).await?;
    if stack.compose().service(SERVICE).is_none() {
        return Err(Error::Usage(format!(
            "the compose file has no `{SERVICE}` service to take backups with"
        )));
    }
    let action = match args.action {
        BackupAction::Take => "take",
        BackupAction::List => "list",
        BackupAction::Check => "check",
    };
    let out = stack.exec(SERVICE, &["gauntlet-backup", action]).await?;
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
            "`gauntlet-backup {action}` exited {code}"
        ))),
    }
}
