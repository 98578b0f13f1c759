//! The backup and restore drill (`gauntlet drill restore`): take a backup
//! while writes are flowing, destroy the database, restore the backup into
//! a new container, verify it, hand it back to the app, and measure RTO
//! and RPO against the client-side write ledger.
//!
//! Steps, each a line of the timeline ([`DrillEvent`]):
//!
//! 1. stale check: is there a recent backup already (`[drill] check`)?
//! 2. writers: checkouts, webhooks and credit reservations in the
//!    background, each recorded in a [`crate::ledger::WriteLedger`]
//!    (paused and drained before the backup with `writes_paused`)
//! 3. backup: a snapshot exported in a repeatable-read transaction, dumped by
//!    the backup service (`[drill] take`, plus `--snapshot ID`) and
//!    fingerprinted in that same transaction ([`fingerprint`]); Redis's files
//!    copied with its stream lengths ([`redis`])
//! 4. writes keep going for a while, then stop (the ledger is complete)
//! 5. disaster: the app is fenced off (fault proxy link down), the database
//!    container is killed and removed and its volume deleted
//! 6. restore: a new database container on a new, empty volume; the archive
//!    is listed (`pg_restore --list`), checked against its manifest's
//!    sha256, and restored with the runbooks' `pg_restore --clean
//!    --if-exists --no-owner --no-privileges`
//! 7. verify, before the app sees it: per-table rows and checksums equal
//!    the source's at backup time, schema objects equal, constraints
//!    validated, indexes valid and `amcheck`ed, sequences ahead of their
//!    columns
//! 8. repoint: link up, app processes restarted (the api re-applies its
//!    grants, which `--no-privileges` leaves out), every endpoint's
//!    readiness check passing
//! 9. journeys pass: RTO = disaster → this moment
//! 10. the project's invariants (`[[invariants]]`) and the ledger:
//!     acknowledged writes that are gone = RPO (count and time window); a write
//!     acknowledged *before* the backup that is gone fails the drill
//! 11. Redis: its copy restored into fresh Redis containers (RDB, AOF),
//!     stream and DLQ lengths equal
//!
//! What it acts on comes from the project file ([`Services`]). The drill
//! only acts on the run's own containers and volumes (found by the run's
//! labels). [`Sabotage`] damages the backup or the restore on purpose, to
//! prove the checks catch it.

pub mod fingerprint;
pub mod redis;
mod run;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gauntlet_harness::config::{Config, DataKind};
use gauntlet_harness::Error;
use serde::{Deserialize, Serialize};

use crate::ledger::{KindCounts, WriteKind, WriterConfig};
use crate::names::{API, TOXIPROXY};

pub use run::run_drill;

/// How a drill runs. [`DrillConfig::new`] has the defaults.
#[derive(Debug, Clone)]
pub struct DrillConfig {
    pub seed: u64,
    /// Fixture size the stack was loaded with (reported only).
    pub fixture: String,
    /// Background writers; `None` runs the drill without writes.
    pub writers: Option<WriterConfig>,
    /// Pause (and drain) the writers before the backup, so everything
    /// acknowledged is in it: the RPO must then be 0 writes.
    pub writes_paused: bool,
    /// Writing before the backup is taken.
    pub write_before_backup: Duration,
    /// Writing after the backup, before the disaster (unless paused).
    pub write_after_backup: Duration,
    /// Thresholds: RTO at most this; lost writes at most this.
    pub max_rto: Duration,
    pub max_rpo_writes: Option<u64>,
    pub sabotage: Vec<Sabotage>,
    /// How long the new database and the app get to become healthy.
    pub health_timeout: Duration,
    pub journeys_budget: Duration,
}

impl DrillConfig {
    /// Writers at 2/s of each kind, 3 s before and 5 s after the backup,
    /// RTO threshold 5 minutes, no RPO threshold (0 when writes are paused).
    pub fn new(seed: u64, fixture: &str) -> DrillConfig {
        DrillConfig {
            seed,
            fixture: fixture.to_string(),
            writers: Some(WriterConfig {
                seed,
                ..WriterConfig::default()
            }),
            writes_paused: false,
            write_before_backup: Duration::from_secs(3),
            write_after_backup: Duration::from_secs(5),
            max_rto: Duration::from_secs(300),
            max_rpo_writes: None,
            sabotage: Vec::new(),
            health_timeout: Duration::from_secs(180),
            journeys_budget: Duration::from_secs(60),
        }
    }

    pub fn rpo_threshold(&self) -> Option<u64> {
        self.max_rpo_writes
            .or(if self.writes_paused { Some(0) } else { None })
    }
}

/// What the drill acts on, from the project file: `[drill]` (the database,
/// the backup service and its commands), the redis data service, the PM2
/// service (the app is restarted onto the restored database), and the
/// endpoints `api` (readiness, journeys) and `toxiproxy` (the fence).
#[derive(Debug, Clone)]
pub struct Services {
    /// The compose service of `[drill] database`.
    pub database: String,
    /// The data service's name in `[data]` (SQL on the restored database).
    pub database_data: String,
    pub backup: String,
    /// Commands run in the backup service: `take` (to which the drill adds
    /// `--snapshot ID`), `check` (prints the stale check's JSON), and
    /// `archive_list FILE` and `restore FILE`.
    pub take: Vec<String>,
    pub check: Vec<String>,
    pub archive_list: Vec<String>,
    pub restore: Vec<String>,
    /// The compose service of the redis data service.
    pub redis: String,
    /// The service PM2 runs in.
    pub pm2: String,
}

impl Services {
    /// A usage error (exit 2) naming what the project file lacks.
    pub fn from_config(config: &Config) -> gauntlet_harness::Result<Services> {
        let source = config.describe_source();
        let drill = config.drill.as_ref().ok_or_else(|| {
            Error::Usage(format!(
                "no [drill] section in {source}: the restore drill needs the database, the \
                 backup service and its commands (take, list, check, archive_list, restore)"
            ))
        })?;
        let database = config
            .data
            .get(&drill.database)
            .ok_or_else(|| config.error("drill.database", "not an entry of [data]"))?;
        for (key, command) in [
            ("drill.take", &drill.take),
            ("drill.check", &drill.check),
            ("drill.archive_list", &drill.archive_list),
            ("drill.restore", &drill.restore),
        ] {
            if command.is_empty() {
                return Err(config.error(key, "is empty"));
            }
        }
        let redis = config.data_service(DataKind::Redis).ok_or_else(|| {
            Error::Usage(format!(
                "the restore drill restores Redis too, but [data] of {source} declares no redis \
                 data service"
            ))
        })?;
        let pm2 = config.require_pm2("the restore drill")?;
        for endpoint in [API, TOXIPROXY] {
            if !config.endpoints.contains_key(endpoint) {
                return Err(Error::Usage(format!(
                    "the restore drill needs the endpoint `{endpoint}`, which {source} does not \
                     declare ([endpoints])"
                )));
            }
        }
        Ok(Services {
            database: database.service.clone(),
            database_data: drill.database.clone(),
            backup: drill.backup_service.clone(),
            take: drill.take.clone(),
            check: drill.check.clone(),
            archive_list: drill.archive_list.clone(),
            restore: drill.restore.clone(),
            redis: redis.1.service.clone(),
            pm2: pm2.service.clone(),
        })
    }
}

/// Damage done on purpose, to prove the drill's checks catch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum Sabotage {
    /// Cut the backup file to half its size after it was written.
    TruncateBackup,
    /// Dump with `--exclude-table=public.NAME`.
    ExcludeTable(String),
    /// Delete up to 3 rows of NAME from the restored database.
    DeleteRows(String),
}

impl fmt::Display for Sabotage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sabotage::TruncateBackup => write!(f, "truncate-backup"),
            Sabotage::ExcludeTable(t) => write!(f, "exclude-table:{t}"),
            Sabotage::DeleteRows(t) => write!(f, "delete-rows:{t}"),
        }
    }
}

/// `truncate-backup, exclude-table:feed_items`.
pub fn describe(sabotage: &[Sabotage]) -> String {
    sabotage
        .iter()
        .map(Sabotage::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<Sabotage> for String {
    fn from(s: Sabotage) -> String {
        s.to_string()
    }
}

impl FromStr for Sabotage {
    type Err = String;

    fn from_str(text: &str) -> Result<Sabotage, String> {
        let table = |name: &str| {
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                Ok(name.to_string())
            } else {
                Err(format!(
                    "`{name}` is not a table name (lowercase letters, digits, _)"
                ))
            }
        };
        match text.split_once(':') {
            None if text == "truncate-backup" => Ok(Sabotage::TruncateBackup),
            Some(("exclude-table", name)) => Ok(Sabotage::ExcludeTable(table(name)?)),
            Some(("delete-rows", name)) => Ok(Sabotage::DeleteRows(table(name)?)),
            _ => Err(format!(
                "unknown sabotage `{text}`: expected truncate-backup, exclude-table:TABLE or delete-rows:TABLE"
            )),
        }
    }
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct DrillEvent {
    /// Milliseconds since the drill started.
    pub at_ms: u64,
    pub step: String,
    pub detail: String,
    pub ok: bool,
}

/// One timeline line, as the terminal and the reports show it:
/// `+  3.185s  backup        gauntlet-...: 101.7 KiB in 0.1 s`.
impl fmt::Display for DrillEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "+{:>7.3}s  {:<12}  {}{}",
            self.at_ms as f64 / 1000.0,
            self.step,
            self.detail,
            if self.ok { "" } else { "  [FAILED]" }
        )
    }
}

/// A verification or a threshold, with what was seen.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// The manifest `[drill] take` writes next to the dump (and prints).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupManifest {
    pub name: String,
    pub file: String,
    pub database: String,
    pub started_at: String,
    pub finished_at: String,
    pub bytes: u64,
    pub sha256: String,
    pub snapshot: String,
    pub pg_dump_args: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupFacts {
    pub manifest: BackupManifest,
    /// `[drill] take` as the drill saw it (dump, sync, manifest).
    pub duration_ms: u64,
    /// When the snapshot was requested: writes acknowledged before this
    /// instant are in the backup.
    pub snapshot_requested_at: DateTime<Utc>,
    pub tables: usize,
    pub rows: u64,
    pub redis_bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreFacts {
    /// New container with an empty volume until healthy (initdb included).
    pub new_server_ms: u64,
    pub pg_restore_ms: u64,
    pub pg_restore_exit: i64,
    /// pg_restore's own messages (last lines), if it printed any.
    pub pg_restore_messages: Vec<String>,
    /// Link up and processes restarted until health 200 and PM2 online.
    pub repoint_ms: u64,
}

/// What the restore lost, against the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct Rpo {
    /// Writes acknowledged to the client, per kind, with lost/duplicated.
    pub kinds: std::collections::BTreeMap<WriteKind, KindCounts>,
    pub acknowledged: u64,
    /// Acknowledged after the snapshot was requested.
    pub acknowledged_after_backup: u64,
    /// Acknowledged writes that are gone after the restore.
    pub writes_lost: u64,
    /// Of those, acknowledged before the backup: the restore is incomplete.
    pub lost_before_backup: u64,
    /// Sent times of the first and last lost write.
    pub lost_window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub lost_window_ms: u64,
    /// From the snapshot to the disaster: the most a restore can lose.
    pub backup_to_disaster_ms: u64,
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub run_id: String,
    pub seed: u64,
    pub fixture: String,
    pub writes_paused: bool,
    pub sabotage: Vec<Sabotage>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub timeline: Vec<DrillEvent>,
    pub stale_check_before: Option<serde_json::Value>,
    pub stale_check_after: Option<serde_json::Value>,
    pub backup: Option<BackupFacts>,
    pub restore: Option<RestoreFacts>,
    /// Disaster until healthy and journeys passing.
    pub rto_ms: Option<u64>,
    pub rpo: Option<Rpo>,
    pub redis: Vec<redis::RedisRestore>,
    pub checks: Vec<Check>,
    pub thresholds: Vec<Check>,
}

impl DrillReport {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty()
            && self.checks.iter().all(|c| c.passed)
            && self.thresholds.iter().all(|c| c.passed)
    }

    /// Every failed check and threshold, as `name: detail`.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .chain(&self.thresholds)
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect()
    }

    /// One line: verdict, RTO, RPO, backup and restore figures.
    pub fn summary_line(&self) -> String {
        let secs = |ms: u64| format!("{:.1} s", ms as f64 / 1000.0);
        let mut parts = vec![format!(
            "drill {}",
            if self.passed() { "PASSED" } else { "FAILED" }
        )];
        parts.push(format!(
            "RTO {}",
            self.rto_ms
                .map(secs)
                .unwrap_or_else(|| "not reached".into())
        ));
        if let Some(rpo) = &self.rpo {
            parts.push(format!(
                "RPO {} of {} acknowledged writes lost (window {})",
                rpo.writes_lost,
                rpo.acknowledged,
                secs(rpo.lost_window_ms)
            ));
        }
        if let Some(b) = &self.backup {
            parts.push(format!(
                "backup {} in {}",
                human_bytes(b.manifest.bytes),
                secs(b.duration_ms)
            ));
        }
        if let Some(r) = &self.restore {
            parts.push(format!("restore {}", secs(r.pg_restore_ms)));
        }
        parts.join(", ")
    }
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sabotage_parses_and_prints_back() {
        for text in [
            "truncate-backup",
            "exclude-table:feed_items",
            "delete-rows:orders",
        ] {
            let s: Sabotage = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
        }
    }

    #[test]
    fn bad_sabotage_is_refused_with_the_choices() {
        let e = "drop-everything".parse::<Sabotage>().unwrap_err();
        assert!(
            e.contains("truncate-backup, exclude-table:TABLE or delete-rows:TABLE"),
            "{e}"
        );
        let e = "exclude-table:Orders;--".parse::<Sabotage>().unwrap_err();
        assert!(e.contains("not a table name"), "{e}");
        assert!("exclude-table:".parse::<Sabotage>().is_err());
    }

    #[test]
    fn writes_paused_means_no_write_may_be_lost() {
        let mut c = DrillConfig::new(1, "small");
        assert_eq!(c.rpo_threshold(), None);
        c.writes_paused = true;
        assert_eq!(c.rpo_threshold(), Some(0));
        c.max_rpo_writes = Some(3);
        assert_eq!(c.rpo_threshold(), Some(3));
    }

    #[test]
    fn the_project_file_says_what_the_drill_acts_on() {
        use gauntlet_harness::config::Overrides;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../gauntlet.toml");
        let config = Config::load(Some(&path), Overrides::default()).unwrap();
        let s = Services::from_config(&config).unwrap();
        assert_eq!(
            (s.database.as_str(), s.backup.as_str(), s.redis.as_str()),
            ("postgres", "backup", "redis")
        );
        assert_eq!(s.restore, ["gauntlet-backup", "restore"]);

        let err =
            Services::from_config(&Config::load(None, Overrides::default()).unwrap()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("no [drill] section"), "{err}");
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(100_599), "98.2 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
