//! Builds the stack's images from the build contexts named in the compose
//! file, tagged by a hash of everything in the context, so an image is
//! rebuilt exactly when one of its inputs changed.
//!
//! Before hashing:
//! - the project's build hook runs, if it has one (`[stack] build_hook`):
//!   a system that compiles on the host stages its artefacts into the
//!   build contexts there;
//! - the host's CA bundle is staged into every context as `host-ca.crt`
//!   (apt and npm inside builds may go through an intercepting TLS proxy).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::compose::ComposeFile;
use crate::config::Config;
use crate::error::{Error, Result};

/// The host's CA bundle (Debian's location).
pub const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The compose variable that carries a service's image tag:
/// `GAUNTLET_<SERVICE>_TAG`.
pub fn tag_variable(service: &str) -> String {
    format!("GAUNTLET_{}_TAG", service.to_uppercase().replace('-', "_"))
}

/// Whether and how the project's build hook runs.
#[derive(Debug, Clone, Default)]
pub enum BuildHook {
    /// Run it (when the project has one), with these extra variables.
    #[default]
    Run,
    RunWith(Vec<(String, String)>),
    /// Do not run it (`--no-build-hook`): use what is staged.
    Skip,
}

/// Runs the project's build hook in the project folder. Its output goes to
/// the terminal; a failure is a build error naming the command.
pub fn run_build_hook(config: &Config, hook: &BuildHook) -> Result<()> {
    let Some(argv) = &config.stack.build_hook else {
        return Ok(());
    };
    let env = match hook {
        BuildHook::Skip => return Ok(()),
        BuildHook::Run => Vec::new(),
        BuildHook::RunWith(env) => env.clone(),
    };
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| config.error("stack.build_hook", "is empty"))?;
    let shown = argv.join(" ");
    let status = std::process::Command::new(program)
        .args(args)
        .envs(env)
        .current_dir(&config.root)
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit())
        .status()
        .map_err(|e| Error::Build {
            image: "build hook".into(),
            message: format!("cannot run `{shown}` in {}: {e}", config.root.display()),
        })?;
    if !status.success() {
        return Err(Error::Build {
            image: "build hook".into(),
            message: format!("`{shown}` failed ({status})"),
        });
    }
    Ok(())
}

/// Stages the CA bundle, then returns the tag variables for every service
/// that has a build context (`GAUNTLET_APP_TAG` -> content hash).
pub fn prepare(compose: &ComposeFile) -> Result<HashMap<String, String>> {
    let ca = Path::new(HOST_CA_BUNDLE);
    let mut tags = HashMap::new();
    for service in &compose.services {
        let Some(context) = &service.build_context else {
            continue;
        };
        if !context.is_dir() {
            return Err(Error::config(
                &compose.path,
                format!(
                    "service `{}`: build context {} does not exist",
                    service.name,
                    context.display()
                ),
            ));
        }
        if ca.is_file() {
            copy_if_changed(ca, &context.join("host-ca.crt"))?;
        } else if !context.join("host-ca.crt").is_file() {
            return Err(Error::Build {
                image: service.name.clone(),
                message: format!(
                    "no CA bundle at {HOST_CA_BUNDLE} to stage into {}",
                    context.display()
                ),
            });
        }
        tags.insert(tag_variable(&service.name), context_hash(context)?);
    }
    Ok(tags)
}

/// Copies unless the destination already has the same bytes, so the
/// destination's content hash (and the image tag) stays put.
fn copy_if_changed(from: &Path, to: &Path) -> Result<()> {
    let new = std::fs::read(from).map_err(Error::io(format!("reading {}", from.display())))?;
    if std::fs::read(to).ok().as_deref() == Some(&new[..]) {
        return Ok(());
    }
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    }
    // Write then rename: a concurrent build never sees a half-written file.
    // Unique per process and call: two launches in one process (parallel
    // tests) may stage the same file at once.
    static COPIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = to.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, &new).map_err(Error::io(format!("writing {}", tmp.display())))?;
    let mode = std::fs::metadata(from)
        .map_err(Error::io(format!("reading {}", from.display())))?
        .permissions();
    std::fs::set_permissions(&tmp, mode).map_err(Error::io(format!("chmod {}", tmp.display())))?;
    std::fs::rename(&tmp, to).map_err(Error::io(format!("renaming into {}", to.display())))
}

/// A short hash over every file's relative path, executable bit and bytes.
pub fn context_hash(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    for rel in files {
        let path = dir.join(&rel);
        let bytes =
            std::fs::read(&path).map_err(Error::io(format!("reading {}", path.display())))?;
        let exec = is_executable(&path);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0, exec as u8]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hex::encode(&hasher.finalize()[..6]))
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).map_err(Error::io(format!("listing {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(Error::io(format!("listing {}", dir.display())))?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().contains(".tmp") {
            continue; // another process's copy in flight
        }
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            out.push(path.strip_prefix(root).expect("inside root").to_path_buf());
        }
    }
    Ok(())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// What `build_missing` did for one image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuiltImage {
    pub service: String,
    pub image: String,
    /// False when the image for these inputs existed already.
    pub built: bool,
    pub seconds: f64,
}

/// Builds, in parallel, every service image that does not exist yet.
/// `compose` must have been loaded with the tag variables from [`prepare`].
pub async fn build_missing(
    docker: &Docker,
    compose: &ComposeFile,
    show_progress: bool,
) -> Result<Vec<BuiltImage>> {
    let bars = MultiProgress::new();
    if !show_progress {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let jobs = compose.services.iter().filter_map(|service| {
        let context = service.build_context.clone()?;
        let bar = bars.add(ProgressBar::new_spinner());
        Some(build_one(
            docker,
            service.name.clone(),
            service.image.clone(),
            context,
            bar,
        ))
    });
    futures::future::join_all(jobs).await.into_iter().collect()
}

async fn build_one(
    docker: &Docker,
    service: String,
    image: String,
    context: PathBuf,
    bar: ProgressBar,
) -> Result<BuiltImage> {
    let started = Instant::now();
    if docker.inspect_image(&image).await.is_ok() {
        return Ok(BuiltImage {
            service,
            image,
            built: false,
            seconds: 0.0,
        });
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix:>9} {elapsed:>4} {wide_msg}")
            .expect("template"),
    );
    bar.set_prefix(service.clone());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(format!("building {image}"));

    let tarball = {
        let dir = context.clone();
        tokio::task::spawn_blocking(move || tar_directory(&dir))
            .await
            .expect("tar task")
            .map_err(Error::io(format!(
                "packing build context {}",
                context.display()
            )))?
    };
    let labels = HashMap::from([("dev.gauntlet.image", service.as_str())]);
    let options = BuildImageOptionsBuilder::new()
        .t(&image)
        .rm(true)
        .forcerm(true)
        .labels(&labels)
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(tarball.into())));
    let mut tail: Vec<String> = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| Error::Build {
            image: image.clone(),
            message: last_lines(&tail, e.to_string()),
        })?;
        if let Some(detail) = info.error_detail {
            let message = detail
                .message
                .unwrap_or_else(|| "unknown build error".into());
            bar.finish_with_message(format!("FAILED {image}"));
            return Err(Error::Build {
                image,
                message: last_lines(&tail, message),
            });
        }
        if let Some(line) = info.stream {
            let line = line.trim_end();
            if !line.is_empty() {
                if line.starts_with("Step ") {
                    bar.set_message(line.chars().take(100).collect::<String>());
                }
                tail.push(line.to_string());
                if tail.len() > 15 {
                    tail.remove(0);
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_with_message(format!("built {image} in {seconds:.1}s"));
    Ok(BuiltImage {
        service,
        image,
        built: true,
        seconds,
    })
}

fn last_lines(tail: &[String], message: String) -> String {
    if tail.is_empty() {
        message
    } else {
        format!("{message}\n--- last build output ---\n{}", tail.join("\n"))
    }
}

fn tar_directory(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(true);
    // Docker's engine (20.10) cannot read GNU sparse entries ("unhandled
    // tar header type 83"), and a file copied with `cp` may have holes.
    builder.sparse(false);
    builder.append_dir_all(".", dir)?;
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_hash_changes_with_content_and_mode_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM x\n").unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/tool"), "v1").unwrap();
        let h1 = context_hash(dir.path()).unwrap();
        assert_eq!(h1, context_hash(dir.path()).unwrap(), "stable");
        std::fs::write(dir.path().join("bin/tool"), "v2").unwrap();
        let h2 = context_hash(dir.path()).unwrap();
        assert_ne!(h1, h2, "content counts");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("bin/tool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_ne!(
            h2,
            context_hash(dir.path()).unwrap(),
            "executable bit counts"
        );
        assert_eq!(h1.len(), 12);
    }

    #[test]
    fn build_contexts_are_packed_without_sparse_entries() {
        use std::io::{Seek, Write};
        let dir = tempfile::tempdir().unwrap();
        let mut file = std::fs::File::create(dir.path().join("holey")).unwrap();
        file.write_all(b"start").unwrap();
        file.seek(std::io::SeekFrom::Start(1 << 20)).unwrap();
        file.write_all(b"end").unwrap();
        drop(file);
        let packed = tar_directory(dir.path()).unwrap();
        let mut archive = tar::Archive::new(&packed[..]);
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            assert_ne!(
                entry.header().entry_type(),
                tar::EntryType::GNUSparse,
                "the engine cannot read sparse entries"
            );
        }
    }

    #[test]
    fn tag_variable_names() {
        assert_eq!(tag_variable("app"), "GAUNTLET_APP_TAG");
        assert_eq!(tag_variable("fault-proxy"), "GAUNTLET_FAULT_PROXY_TAG");
    }
}
