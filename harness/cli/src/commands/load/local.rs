//! `gauntlet load --profile P --shards N --local`: a rehearsal of a
//! cluster run on this machine. N generator containers on the run's own
//! Docker network, each running this very `gauntlet` binary as `gauntlet
//! load --shard I/N` against the stack's primary endpoint; then their
//! results merged and judged like any run, invariants included.
//!
//! Each generator is a `debian:bookworm-slim` container (the base image
//! gauntlet's own images use, built locally) with, read-only, the running
//! `gauntlet` binary (dynamically linked against the same glibc), the
//! host's CA bundle, the project folder, the profile and the SLO file;
//! and, writable, the run's report folder, where it writes `shard-I/`. It carries the run's labels,
//! so `gauntlet down` and the reaper remove what an interrupted rehearsal
//! leaves; the rehearsal removes its generators itself when it ends, on an
//! error and on Ctrl-C alike.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::InspectContainerOptions;
use gauntlet_harness::config::Config;
use gauntlet_harness::images::HOST_CA_BUNDLE;
use gauntlet_harness::invariants;
use gauntlet_harness::stack::{labels, Stack};
use gauntlet_harness::sut::Sut;
use gauntlet_harness::workspace::Workspace;
use gauntlet_harness::{exit_codes, stack, Error, Result};
use gauntlet_scenarios::shard::{self, Merged, ShardSpec};
use gauntlet_scenarios::{Profile, SloSet};

use super::super::{evidence, interruptible, launch_options, with_sut, Interrupts, Source};
use super::merge::{conclude, read_all, shard_error};
use crate::cli::LoadArgs;

/// The generators' image: the base of gauntlet's own images, present
/// wherever the stack was built.
pub const GENERATOR_IMAGE: &str = "debian:bookworm-slim";

/// Time a generator may take beyond its profile (start-up, the users'
/// setup, the goose attack's own grace) before it counts as stuck.
const GENERATOR_GRACE: Duration = Duration::from_secs(180);

/// What `gauntlet load` resolved before handing over.
pub struct Rehearsal {
    pub config: Config,
    pub workspace: Workspace,
    pub profile: Profile,
    pub slos: SloSet,
    pub slo_path: PathBuf,
    pub seed: u64,
    pub count: u32,
}

pub async fn run(args: LoadArgs, r: Rehearsal) -> Result<i32> {
    r.profile.check_split(r.count).map_err(Error::Usage)?;
    if let Some(n) = r.profile.shards.filter(|n| *n != r.count) {
        errln!(
            "note: profile {} is made for {n} shards; rehearsing it as {}",
            r.profile.name,
            r.count
        );
    }
    let biggest = r
        .profile
        .for_shard(&ShardSpec {
            index: 0,
            count: r.count,
        })
        .capped_users(args.users_per_shard.unwrap_or(0));
    errln!(
        "profile {} ({} mode, {} users, {:?}) as {} local shards of up to {} users, seed {} (every shard)",
        r.profile.name,
        r.profile.mode.name(),
        r.profile.users,
        r.profile.total_duration(),
        r.count,
        biggest.users,
        r.seed
    );
    let source = match &args.run_id {
        Some(run) => Source::Existing {
            run: Some(run.clone()),
            seed: Some(r.seed),
        },
        None => {
            let mut run_args = args.run.clone();
            run_args.seed = Some(r.seed);
            let mut options = launch_options(&r.workspace, &run_args, stack::new_run_id())?;
            options.extra_vars.extend(r.profile.system.clone());
            Source::Fresh {
                options,
                keep: args.keep,
            }
        }
    };
    let generators = Generators {
        profile_file: r
            .profile
            .source
            .clone()
            .expect("a profile loaded from a file knows it"),
        slo_file: std::path::absolute(&r.slo_path).unwrap_or_else(|_| r.slo_path.clone()),
        count: r.count,
        seed: r.seed,
        users_per_shard: args.users_per_shard,
        deadline: r.profile.total_duration() + r.profile.request_timeout + GENERATOR_GRACE,
    };
    let config = r.config.clone();
    let out_flag = args.out.clone();
    // The rehearsal removes its generators itself on Ctrl-C (the stack's
    // start-up is dropped as usual).
    let (merged, invariants, out) = with_sut(
        "load",
        r.config.clone(),
        Some(&r.workspace),
        source,
        Interrupts::Handled,
        |sut| async move {
            let out = evidence::run_dir(out_flag.as_ref(), &config, &sut.run_id)?;
            let out = std::path::absolute(&out).unwrap_or(out);
            let merged = generators.run(&sut, &out).await?;
            let invariants = interruptible(invariants::check_all(&sut)).await?;
            Ok((merged, invariants, out))
        },
    )
    .await?;
    conclude(&merged, &r.slos, &out, Some(invariants.as_slice()))
}

/// What every generator shares, worked out once.
struct Template {
    body: ContainerCreateBody,
    /// `http://SERVICE:PORT` of the primary endpoint on the run's network.
    target: String,
    /// `--endpoint NAME=URL` for the others.
    endpoint_flags: Vec<String>,
    /// The project file as the container sees it.
    config: Option<String>,
}

struct Generators {
    profile_file: PathBuf,
    slo_file: PathBuf,
    count: u32,
    seed: u64,
    users_per_shard: Option<u32>,
    deadline: Duration,
}

impl Generators {
    fn name(i: u32) -> String {
        format!("loadgen-{i}")
    }

    /// Starts every generator, waits for them all, removes them (whatever
    /// happened), and merges their results.
    async fn run(&self, sut: &Sut, out: &Path) -> Result<Merged> {
        let stack = sut.stack()?;
        let template = self.template(sut, stack, out).await?;
        // Leftovers of an earlier rehearsal of this run go first.
        for i in 0..self.count {
            stack.remove_scratch(&Self::name(i)).await?;
        }
        let outcome = interruptible(self.start_and_wait(stack, &template, out)).await;
        let removed = self.remove_all(stack).await;
        if matches!(outcome, Err(Error::Interrupted)) {
            errln!("interrupted: generators removed");
        }
        outcome?;
        removed?;
        let dirs: Vec<PathBuf> = (0..self.count)
            .map(|i| out.join(format!("shard-{i}")))
            .collect();
        let parts = read_all(dirs.iter().map(PathBuf::as_path))?;
        shard::merge(parts, false).map_err(shard_error)
    }

    async fn remove_all(&self, stack: &Stack) -> Result<()> {
        let mut first_error = None;
        for i in 0..self.count {
            if let Err(e) = stack.remove_scratch(&Self::name(i)).await {
                errln!("could not remove generator {}: {e}", Self::name(i));
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn start_and_wait(&self, stack: &Stack, template: &Template, out: &Path) -> Result<()> {
        let began = Instant::now();
        for i in 0..self.count {
            let spec = ShardSpec {
                index: i,
                count: self.count,
            };
            let mut body = template.body.clone();
            body.cmd = Some(self.command(template, spec));
            // The generator writes as this user, so its files are ours.
            std::fs::create_dir_all(out.join(format!("shard-{i}")))
                .map_err(Error::io(format!("creating {}", out.display())))?;
            stack.start_scratch_with(&Self::name(i), body, None).await?;
            errln!(
                "shard {spec}: started ({})",
                stack.container_name(&Self::name(i))
            );
        }
        let mut running: Vec<u32> = (0..self.count).collect();
        let mut last_word = Instant::now();
        while !running.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut still = Vec::new();
            for i in running {
                let spec = ShardSpec {
                    index: i,
                    count: self.count,
                };
                match stack.scratch_exit_code(&Self::name(i)).await? {
                    None => still.push(i),
                    Some(0) => errln!(
                        "shard {spec}: finished in {:.1} s",
                        began.elapsed().as_secs_f64()
                    ),
                    Some(code) => {
                        let logs = stack
                            .logs_tail(&Self::name(i), 40)
                            .await
                            .unwrap_or_else(|e| format!("(no logs: {e})"));
                        let message = format!(
                            "shard {spec} failed (exit {code}); its last output:\n{}",
                            logs.trim_end()
                        );
                        return Err(match code as i32 {
                            exit_codes::USAGE => Error::Usage(message),
                            exit_codes::CHECK_FAILED => Error::CheckFailed(message),
                            // A crash, a kill, no Docker inside: not the
                            // system under test's doing.
                            _ => Error::Io {
                                context: "load generator".into(),
                                source: std::io::Error::other(message),
                            },
                        });
                    }
                }
            }
            running = still;
            if began.elapsed() > self.deadline {
                return Err(Error::CheckFailed(format!(
                    "shards {} still running after {:?} (the profile's length plus {:?})",
                    running
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.deadline,
                    GENERATOR_GRACE
                )));
            }
            if !running.is_empty() && last_word.elapsed() >= Duration::from_secs(30) {
                last_word = Instant::now();
                errln!(
                    "shards running: {} ({:.0} s)",
                    running
                        .iter()
                        .map(|i| format!("{i}/{}", self.count))
                        .collect::<Vec<_>>()
                        .join(", "),
                    began.elapsed().as_secs_f64()
                );
            }
        }
        Ok(())
    }

    /// The container every generator shares (its command is per shard).
    async fn template(&self, sut: &Sut, stack: &Stack, out: &Path) -> Result<Template> {
        let exe =
            std::env::current_exe().map_err(Error::io("finding the running gauntlet binary"))?;
        let config = &sut.config;
        let bind = |source: &Path, target: &str, read_only: bool| Mount {
            source: Some(source.display().to_string()),
            target: Some(target.to_string()),
            typ: Some(MountType::BIND),
            read_only: Some(read_only),
            ..Default::default()
        };
        // gauntlet's HTTP client loads the system's CA certificates even
        // for plain http, and the slim image has none: the host's bundle,
        // as the stack's images get it (`gauntlet doctor` checks it).
        let ca = Path::new(HOST_CA_BUNDLE);
        if !ca.is_file() {
            return Err(Error::Build {
                image: GENERATOR_IMAGE.into(),
                message: format!("no CA bundle at {HOST_CA_BUNDLE} to give the load generators"),
            });
        }
        let profile_dir = self.profile_file.parent().unwrap_or(Path::new("/"));
        let slo_dir = self.slo_file.parent().unwrap_or(Path::new("/"));
        let mounts = vec![
            bind(&exe, "/usr/local/bin/gauntlet", true),
            bind(ca, HOST_CA_BUNDLE, true),
            bind(&config.root, "/project", true),
            bind(profile_dir, "/config/profile", true),
            bind(slo_dir, "/config/slo", true),
            bind(out, "/out", false),
        ];
        // Secrets reach the generators as the environment variables the
        // project's [secrets] name (as `--target` reads them), never on
        // the command line.
        let mut env = vec!["HOME=/tmp".to_string()];
        for (name, spec) in &config.secrets {
            if let Some(value) = sut.secret(name) {
                env.push(format!("{}={value}", spec.variable));
            }
        }
        let meta =
            std::fs::metadata(out).map_err(Error::io(format!("reading {}", out.display())))?;
        let (target, endpoint_flags) = self.targets(sut, stack).await?;
        let body = ContainerCreateBody {
            image: Some(GENERATOR_IMAGE.to_string()),
            env: Some(env),
            user: Some(format!("{}:{}", meta.uid(), meta.gid())),
            working_dir: Some("/project".into()),
            host_config: Some(HostConfig {
                mounts: Some(mounts),
                ..Default::default()
            }),
            ..Default::default()
        };
        let config = config.path.as_ref().map(|path| {
            let inside = path.strip_prefix(&config.root).unwrap_or(path);
            Path::new("/project").join(inside).display().to_string()
        });
        Ok(Template {
            body,
            target,
            endpoint_flags,
            config,
        })
    }

    /// `gauntlet load --shard I/N ...` for one generator.
    fn command(&self, t: &Template, spec: ShardSpec) -> Vec<String> {
        let file = |p: &Path, dir: &str| {
            format!(
                "/config/{dir}/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            )
        };
        let mut cmd = vec!["gauntlet".to_string()];
        if let Some(config) = &t.config {
            cmd.extend(["--config".to_string(), config.clone()]);
        }
        cmd.extend([
            "load".to_string(),
            "--profile".into(),
            file(&self.profile_file, "profile"),
            "--shard".into(),
            spec.to_string(),
            "--target".into(),
            t.target.clone(),
            // Not loopback: the service's name on the run's network. Lifting
            // the guard is safe only because `targets` proved the service
            // is a container of this very run.
            "--allow-remote".into(),
        ]);
        cmd.extend(t.endpoint_flags.iter().cloned());
        cmd.extend([
            "--seed".to_string(),
            self.seed.to_string(),
            "--slo".into(),
            file(&self.slo_file, "slo"),
            "--out".into(),
            format!("/out/shard-{}", spec.index),
        ]);
        if let Some(u) = self.users_per_shard {
            cmd.extend(["--users-per-shard".to_string(), u.to_string()]);
        }
        cmd
    }

    /// The primary endpoint as the generators reach it
    /// (`http://SERVICE:PORT` on the run's network) and `--endpoint` flags
    /// for the others. Every service named must be a container of this
    /// run: that is what makes `--allow-remote` safe here.
    async fn targets(&self, sut: &Sut, stack: &Stack) -> Result<(String, Vec<String>)> {
        let config = &sut.config;
        let primary = Sut::primary_endpoint(config);
        let mut flags = Vec::new();
        let mut target = None;
        let mut names: Vec<String> = config.endpoints.keys().cloned().collect();
        if !names.contains(&primary) {
            names.push(primary.clone());
        }
        for name in names {
            let at = match config.endpoints.get(&name) {
                Some(e) => Some((e.service.clone(), e.port)),
                None => stack
                    .compose()
                    .endpoint(&name)
                    .map(|(s, p)| (s.name.clone(), p)),
            };
            let Some((service, port)) = at else {
                continue;
            };
            if stack.compose().service(&service).is_none() {
                // Declared for another compose file (an overlay not in use).
                continue;
            }
            if name == primary {
                own_container(stack, &service).await?;
                target = Some(format!("http://{service}:{port}"));
            } else if own_container(stack, &service).await.is_ok() {
                flags.extend([
                    "--endpoint".to_string(),
                    format!("{name}=http://{service}:{port}"),
                ]);
            }
        }
        let target = target.ok_or_else(|| {
            Error::Usage(format!(
                "the primary endpoint `{primary}` has no service in the stack: declare it in [endpoints]"
            ))
        })?;
        Ok((target, flags))
    }
}

/// Proves `service`'s container is running and belongs to this run of
/// this project (its labels), so load sent to it stays inside the run.
async fn own_container(stack: &Stack, service: &str) -> Result<()> {
    let name = stack.container_name(service);
    let info = stack
        .docker()
        .inspect_container(&name, None::<InspectContainerOptions>)
        .await
        .map_err(Error::docker(format!("inspecting {name}")))?;
    let l = info.config.and_then(|c| c.labels).unwrap_or_default();
    let ours = l.get(labels::PROJECT).map(String::as_str) == Some(stack.project())
        && l.get(labels::RUN).map(String::as_str) == Some(stack.run_id());
    let running = info.state.and_then(|s| s.running).unwrap_or(false);
    if !ours {
        return Err(Error::Usage(format!(
            "container {name} is not labelled as run {} of project {}: not sending load to it",
            stack.run_id(),
            stack.project()
        )));
    }
    if !running {
        return Err(Error::CheckFailed(format!(
            "container {name} ({service}) is not running"
        )));
    }
    Ok(())
}
