//! `gauntlet build`: run the project's build hook, stage the CA bundle,
//! build the images whose inputs changed.

use gauntlet_harness::launch;
use gauntlet_harness::{docker, exit_codes, Result};

use super::{build_hook, interruptible, workspace};
use crate::cli::{BuildArgs, Global};

pub async fn run(global: &Global, args: BuildArgs) -> Result<i32> {
    let workspace = workspace(global)?;
    let docker = docker::connect().await?;
    let hook = build_hook(&args.binary);
    let (_, built, vars) = interruptible(launch::build(
        &docker,
        &workspace,
        &hook,
        Default::default(),
        !args.env,
    ))
    .await?;
    if args.env {
        let mut tags: Vec<_> = vars.iter().filter(|(k, _)| k.ends_with("_TAG")).collect();
        tags.sort();
        for (k, v) in tags {
            outln!("{k}={v}");
        }
    } else {
        for image in built {
            let what = if image.built {
                format!("built in {:.1}s", image.seconds)
            } else {
                "up to date".into()
            };
            outln!("{:<9} {:<32} {what}", image.service, image.image);
        }
    }
    Ok(exit_codes::OK)
}
