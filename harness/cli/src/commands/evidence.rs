//! The evidence every run directory ends with, whatever the command and
//! however it ended: `run.json` (what ran, its seed, defects, profile,
//! experiments and fixture, and the exact command that replays it) and
//! `report.html` (charts and timelines from the run's JSON files).
//!
//! Commands say where their run directory is ([`run_dir`]) and the
//! lifecycle says which seed and defects the system under test got
//! ([`note_sut`]); [`finish`] writes both files once the command's exit
//! code is known, so a failed check or an error still leaves them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use gauntlet_harness::config::Config;
use gauntlet_harness::Result;
use gauntlet_reports::html::{self, RunInfo};

use crate::cli::{ChaosArgs, Command, DrillCommand, LoadCommand};

/// What the command line says about the run, taken before it runs.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub command: String,
    pub profile: Option<String>,
    pub experiments: Vec<String>,
    pub fixture: Option<String>,
    /// Whether `--seed` reproduces the command (not for `load merge`).
    pub seeded: bool,
}

impl Facts {
    /// `None` for commands that write no run directory.
    pub fn of(command: &Command) -> Option<Facts> {
        let facts = |name: &str| Facts {
            command: name.to_string(),
            seeded: true,
            ..Default::default()
        };
        Some(match command {
            Command::Gate(_) => facts("gate"),
            Command::Journeys(_) => facts("journeys"),
            Command::Props(_) => facts("props"),
            Command::Load(args) => match &args.command {
                Some(LoadCommand::Merge(_)) => Facts {
                    seeded: false,
                    ..facts("load merge")
                },
                Some(LoadCommand::K8s(_)) => return None,
                None => Facts {
                    profile: args.profile.clone(),
                    ..facts("load")
                },
            },
            Command::Chaos(ChaosArgs { names, all, .. }) => Facts {
                experiments: if *all {
                    vec!["all".into()]
                } else {
                    names.clone()
                },
                ..facts("chaos")
            },
            Command::Drill(DrillCommand::Restore(args)) => Facts {
                fixture: Some(args.fixture.clone()),
                ..facts("drill restore")
            },
            _ => return None,
        })
    }
}

/// The run directory a command made.
struct RunDir {
    dir: PathBuf,
    run_id: String,
    system: String,
}

/// What [`finish`] needs, noted as the command goes (one per process): the
/// directory and the system under test's seed and defects, in whichever
/// order the command reaches them.
struct Noted {
    dir: Option<RunDir>,
    sut: Option<(u64, Vec<String>)>,
}

static NOTED: Mutex<Noted> = Mutex::new(Noted {
    dir: None,
    sut: None,
});

fn noted() -> std::sync::MutexGuard<'static, Noted> {
    NOTED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Creates the run directory ([`super::out_dir`]) and remembers it for
/// [`finish`]. The first one a command makes is its run directory.
pub fn run_dir(explicit: Option<&PathBuf>, config: &Config, run_id: &str) -> Result<PathBuf> {
    let dir = super::out_dir(explicit, config, run_id)?;
    noted().dir.get_or_insert_with(|| RunDir {
        dir: dir.clone(),
        run_id: run_id.to_string(),
        system: config.system.name.clone(),
    });
    Ok(dir)
}

/// The seed and defects the system under test runs with (from the
/// lifecycle, which knows them for fresh runs, existing runs and targets).
pub fn note_sut(seed: u64, defects: &[String]) {
    noted().sut = Some((seed, defects.to_vec()));
}

/// Writes `run.json` and `report.html` into the run directory, if the
/// command made one, and links the page from `summary.md`. Problems are
/// printed, never change the exit code: the run's verdict stands.
pub fn finish(facts: &Facts, started: Instant, started_at: &str, code: i32) {
    let Noted { dir, sut } = std::mem::replace(
        &mut *noted(),
        Noted {
            dir: None,
            sut: None,
        },
    );
    let Some(run) = dir else {
        return;
    };
    let (seed, defects) = match sut {
        Some((seed, defects)) => (Some(seed), defects),
        None => (None, Vec::new()),
    };
    let args: Vec<String> = std::env::args().collect();
    let info = RunInfo {
        schema: RunInfo::SCHEMA,
        command: facts.command.clone(),
        run_id: Some(run.run_id.clone()),
        seed,
        defects,
        profile: facts.profile.clone(),
        experiments: facts.experiments.clone(),
        fixture: facts.fixture.clone(),
        system: Some(run.system.clone()),
        started_at: started_at.to_string(),
        duration_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        exit_code: code,
        replay: replay_command(&args, seed.filter(|_| facts.seeded)),
        gauntlet_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    if let Err(e) = write_run_json(&run.dir, &info) {
        errln!("warning: {e}");
    }
    match html::write(&run.dir) {
        Ok(path) => {
            if let Err(e) = html::link_from_summary(&run.dir) {
                errln!("warning: linking report.html from summary.md: {e}");
            }
            errln!("wrote {}", path.display());
        }
        // A run stopped before any result was written has nothing to draw.
        Err(html::HtmlError::NoResults { .. }) => {}
        Err(e) => errln!("warning: report.html not written: {e}"),
    }
}

/// Appends `info` to `run.json`'s `"commands"`, keeping everything else
/// in it (what `gauntlet up` recorded about the stack).
fn write_run_json(dir: &Path, info: &RunInfo) -> std::result::Result<(), String> {
    let path = dir.join(RunInfo::FILE);
    let mut record = match std::fs::read_to_string(&path) {
        Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                return Err(format!(
                    "{} is not a JSON object: left as it is",
                    path.display()
                ))
            }
        },
        Err(_) => serde_json::Map::new(),
    };
    if !record.contains_key("run_id") {
        if let Some(id) = &info.run_id {
            record.insert("run_id".into(), id.clone().into());
        }
    }
    let commands = record
        .entry(RunInfo::KEY)
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    match commands {
        serde_json::Value::Array(list) => {
            list.push(serde_json::to_value(info).expect("serialisable"))
        }
        _ => {
            return Err(format!(
                "{}: `{}` is not a list",
                path.display(),
                RunInfo::KEY
            ))
        }
    }
    let text = serde_json::to_string_pretty(&record).expect("serialisable") + "\n";
    std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The command line that reproduces the run: this one, as typed, with its
/// `--seed` set to the seed the run used (added when it was random), and
/// without `--out` (a replay should not overwrite this evidence).
/// Passwords in URLs are masked.
pub fn replay_command(args: &[String], seed: Option<u64>) -> String {
    let mut words: Vec<String> = vec!["gauntlet".into()];
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        if arg == "--out" || arg == "--seed" {
            rest.next();
            continue;
        }
        if arg.starts_with("--out=") || arg.starts_with("--seed=") {
            continue;
        }
        words.push(mask_password(arg));
    }
    if let Some(seed) = seed {
        words.push("--seed".into());
        words.push(seed.to_string());
    }
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `http://user:secret@host` → `http://user:***@host`.
fn mask_password(arg: &str) -> String {
    let Some(scheme_end) = arg.find("://") else {
        return arg.to_string();
    };
    let rest = &arg[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!(
                "{}{user}:***@{host}{}",
                &arg[..scheme_end + 3],
                &rest[authority_end..]
            )
        }
        None => arg.to_string(),
    }
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn the_replay_pins_the_seed_and_drops_the_output_folder() {
        assert_eq!(
            replay_command(
                &args("/x/target/debug/gauntlet load --profile smoke --out /tmp/a --defects x,y"),
                Some(42)
            ),
            "gauntlet load --profile smoke --defects x,y --seed 42"
        );
        assert_eq!(
            replay_command(
                &args("gauntlet chaos redis_killed --seed=7 --out=/tmp/b"),
                Some(7)
            ),
            "gauntlet chaos redis_killed --seed 7"
        );
        assert_eq!(
            replay_command(&args("gauntlet load merge a b"), None),
            "gauntlet load merge a b"
        );
    }

    #[test]
    fn the_replay_masks_passwords_and_quotes_what_a_shell_would_split() {
        assert_eq!(
            replay_command(
                &[
                    "gauntlet".to_string(),
                    "journeys".into(),
                    "--target".into(),
                    "http://ops:hunter2@127.0.0.1:8080/api".into(),
                    "--only".into(),
                    "it's here".into(),
                ],
                Some(1)
            ),
            r"gauntlet journeys --target 'http://ops:***@127.0.0.1:8080/api' --only 'it'\''s here' --seed 1"
        );
        assert_eq!(
            mask_password("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }
}
