//! The drill's steps, in order (see the module documentation of
//! [`super`]). A step that cannot go on ends the drill with a failed check
//! naming it; everything measured until then stays in the report.

use std::time::{Duration, Instant};

use chrono::Utc;
use gauntlet_harness::{invariants, pm2, target::Target};

use super::fingerprint::{self, Fingerprint};
use super::redis;
use super::{
    human_bytes, BackupFacts, BackupManifest, Check, DrillConfig, DrillEvent, DrillReport,
    RestoreFacts, Rpo, Sabotage, Services,
};
use crate::ledger::{find_rows, reconcile_rows, WriteLedger, Writers};
use crate::ChaosContext;

/// The fault proxy's link from the app to Postgres (the fence).
const POSTGRES_LINK: &str = "postgres";

type Step<T> = Result<T, String>;

struct Drill<'a> {
    ctx: &'a ChaosContext,
    config: &'a DrillConfig,
    services: Services,
    started: Instant,
    report: DrillReport,
    on_event: &'a mut (dyn FnMut(&DrillEvent) + Send),
    writers: Option<Writers>,
}

/// Runs the drill on `ctx`'s stack, on the services its project file names
/// ([`Services`]). Never returns early with an error: anything that goes
/// wrong is a failed check in the report.
pub async fn run_drill(
    ctx: &ChaosContext,
    config: &DrillConfig,
    on_event: &mut (dyn FnMut(&DrillEvent) + Send),
) -> DrillReport {
    let mut report = DrillReport {
        run_id: ctx.sut().run_id.clone(),
        seed: config.seed,
        fixture: config.fixture.clone(),
        writes_paused: config.writes_paused,
        sabotage: config.sabotage.clone(),
        started_at: Utc::now(),
        duration_ms: 0,
        timeline: Vec::new(),
        stale_check_before: None,
        stale_check_after: None,
        backup: None,
        restore: None,
        rto_ms: None,
        rpo: None,
        redis: Vec::new(),
        checks: Vec::new(),
        thresholds: Vec::new(),
    };
    let services = match Services::from_config(&ctx.sut().config) {
        Ok(services) => services,
        Err(e) => {
            report.checks.push(Check {
                name: "the project file says what the drill acts on".into(),
                passed: false,
                detail: e.to_string(),
            });
            return report;
        }
    };
    let mut drill = Drill {
        ctx,
        config,
        services,
        started: Instant::now(),
        report,
        on_event,
        writers: None,
    };
    if let Err(reason) = drill.steps().await {
        drill.event("stopped", &reason, false);
        drill.check("drill ran to the end", false, reason);
    }
    if let Some(writers) = drill.writers.take() {
        writers.stop().await;
    }
    drill.thresholds();
    drill.report.duration_ms = drill.started.elapsed().as_millis() as u64;
    drill.report
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

impl Drill<'_> {
    fn event(&mut self, step: &str, detail: &str, ok: bool) {
        let event = DrillEvent {
            at_ms: self.started.elapsed().as_millis() as u64,
            step: step.to_string(),
            detail: detail.to_string(),
            ok,
        };
        (self.on_event)(&event);
        self.report.timeline.push(event);
    }

    fn check(&mut self, name: &str, passed: bool, detail: impl Into<String>) {
        let detail = detail.into();
        if !passed {
            self.event("check failed", &format!("{name}: {detail}"), false);
        }
        self.report.checks.push(Check {
            name: name.to_string(),
            passed,
            detail,
        });
    }

    fn sabotaged(&self, pick: impl Fn(&Sabotage) -> bool) -> Option<&Sabotage> {
        self.config.sabotage.iter().find(|s| pick(s))
    }

    async fn exec(
        &self,
        service: &str,
        argv: &[&str],
    ) -> Step<gauntlet_harness::stack::ExecOutput> {
        self.ctx
            .stack()
            .exec(service, argv)
            .await
            .map_err(|e| format!("`{}` in {service}: {e}", argv.join(" ")))
    }

    async fn steps(&mut self) -> Step<()> {
        let stale = self.stale_check().await?;
        self.event(
            "stale check",
            &format!("before the drill: {}", describe_stale(&stale)),
            true,
        );
        self.report.stale_check_before = Some(stale);

        self.start_writers().await?;
        let (source, redis_copy) = self.backup().await?;

        let stale = self.stale_check().await?;
        let fresh = stale["status"] == "fresh";
        self.event(
            "stale check",
            &format!("after the backup: {}", describe_stale(&stale)),
            fresh,
        );
        self.check("the newest backup is fresh", fresh, describe_stale(&stale));
        self.report.stale_check_after = Some(stale);

        let ledger = self.keep_writing_then_stop().await;
        let disaster = self.disaster().await?;
        let manifest = self.report.backup.as_ref().map(|b| b.manifest.clone());
        let manifest = manifest.ok_or("no backup to restore")?;
        self.restore(&manifest).await?;
        self.verify_data(&source).await?;
        self.repoint().await?;
        self.journeys(disaster).await?;
        self.invariants().await?;
        if let Some(ledger) = ledger {
            self.rpo(&ledger, disaster).await?;
        }
        for mode in ["rdb", "aof"] {
            let restored =
                redis::restore(self.ctx.stack(), &self.services.redis, &redis_copy, mode).await;
            self.event(
                "redis",
                &format!(
                    "{mode} restored into a fresh redis in {} ms: {}",
                    restored.millis, restored.detail
                ),
                restored.passed,
            );
            self.report.checks.push(Check {
                name: format!("redis {mode} restore: stream and DLQ lengths match"),
                passed: restored.passed,
                detail: restored.detail.clone(),
            });
            self.report.redis.push(restored);
        }
        Ok(())
    }

    async fn stale_check(&self) -> Step<serde_json::Value> {
        let check: Vec<&str> = self.services.check.iter().map(String::as_str).collect();
        let out = self.exec(&self.services.backup, &check).await?;
        serde_json::from_str(out.stdout.trim()).map_err(|e| {
            format!(
                "`{}` printed no JSON ({e}): {}{}",
                check.join(" "),
                out.stdout.trim(),
                out.stderr.trim()
            )
        })
    }

    async fn start_writers(&mut self) -> Step<()> {
        let Some(config) = self.config.writers.clone() else {
            self.event("writers", "none (--no-writes)", true);
            return Ok(());
        };
        let sut = self.ctx.sut_now().await?;
        let writers = Writers::start(&sut, config.clone(), WriteLedger::new())
            .await
            .map_err(|e| format!("starting the writers: {e}"))?;
        self.event(
            "writers",
            &format!(
                "checkouts {}/s, webhooks {}/s, credit reservations {}/s, each in the ledger",
                config.checkouts_per_sec, config.webhooks_per_sec, config.credits_per_sec
            ),
            true,
        );
        self.writers = Some(writers);
        tokio::time::sleep(self.config.write_before_backup).await;
        if self.config.writes_paused {
            if let Some(w) = &self.writers {
                w.pause();
                let drained = w.drain(Duration::from_secs(15)).await;
                let detail = if drained {
                    "paused and drained: every write so far is answered".to_string()
                } else {
                    "paused, but writes were still in flight after 15 s".to_string()
                };
                self.event("writers", &detail, drained);
            }
        }
        Ok(())
    }

    /// Snapshot, dump and fingerprint (same snapshot), then Redis's copy.
    async fn backup(&mut self) -> Step<(Fingerprint, redis::RedisCopy)> {
        let stack = self.ctx.stack();
        let mut conn = fingerprint::connect_owner(stack, &self.services.database).await?;
        let requested_at = Utc::now();
        let snapshot = fingerprint::export_snapshot(&mut conn).await?;
        let mut argv = self.services.take.clone();
        argv.extend(["--snapshot".into(), snapshot.clone()]);
        if let Some(Sabotage::ExcludeTable(table)) =
            self.sabotaged(|s| matches!(s, Sabotage::ExcludeTable(_)))
        {
            argv.extend(["--".into(), format!("--exclude-table=public.{table}")]);
        }
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let take_command = self.services.take.join(" ");
        let began = Instant::now();
        let (take, print) = tokio::join!(
            async {
                let out = self.exec(&self.services.backup, &argv).await;
                (out, began.elapsed())
            },
            fingerprint::fingerprint(&mut conn)
        );
        let (take, took) = take;
        // The dump has imported the snapshot and finished: let it go.
        let _ = sqlx::query("COMMIT").execute(&mut conn).await;
        let take = take?;
        if take.exit_code != 0 {
            return Err(format!(
                "`{take_command}` failed (exit {}): {}",
                take.exit_code,
                take.stderr.trim()
            ));
        }
        let manifest: BackupManifest = take
            .stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| format!("`{take_command}` printed no manifest: {}", take.stdout))?;
        let print = print?;
        self.event(
            "backup",
            &format!(
                "{}: {} in {} (pg_dump -Fc of snapshot {}{}); source fingerprinted in the same snapshot: {} tables, {} rows",
                manifest.name,
                human_bytes(manifest.bytes),
                secs(took),
                snapshot,
                if manifest.pg_dump_args.is_empty() { String::new() } else { format!(", args {}", manifest.pg_dump_args) },
                print.tables.len(),
                print.total_rows()
            ),
            true,
        );

        let redis_copy = redis::copy(stack, &self.services.redis).await?;
        let streams: Vec<String> = redis_copy
            .lengths
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        self.event(
            "backup",
            &format!(
                "redis files copied ({}) with writes paused; streams: {}",
                human_bytes(redis_copy.bytes as u64),
                streams.join(", ")
            ),
            true,
        );

        if self
            .sabotaged(|s| matches!(s, Sabotage::TruncateBackup))
            .is_some()
        {
            let out = self
                .exec(
                    &self.services.backup,
                    &[
                        "bash",
                        "-c",
                        "truncate -s $(( $(stat -c %s \"$1\") / 2 )) \"$1\"",
                        "truncate",
                        &manifest.file,
                    ],
                )
                .await?;
            self.event(
                "sabotage",
                &format!("{} cut to half its size", manifest.file),
                out.exit_code == 0,
            );
        }
        self.report.backup = Some(BackupFacts {
            duration_ms: took.as_millis() as u64,
            snapshot_requested_at: requested_at,
            tables: print.tables.len(),
            rows: print.total_rows(),
            redis_bytes: redis_copy.bytes,
            manifest,
        });
        Ok((print, redis_copy))
    }

    /// Lets the writers go on (unless paused), then stops them: the ledger
    /// is complete before the disaster.
    async fn keep_writing_then_stop(&mut self) -> Option<WriteLedger> {
        let writers = self.writers.take()?;
        if !self.config.writes_paused {
            tokio::time::sleep(self.config.write_after_backup).await;
        }
        let ledger = writers.stop().await;
        let counts = ledger
            .counts()
            .values()
            .fold((0, 0, 0), |(ok, failed, unknown), c| {
                (ok + c.ok, failed + c.failed, unknown + c.unknown)
            });
        self.event(
            "writers",
            &format!(
                "stopped{}: {} writes acknowledged, {} refused, {} unknown",
                if self.config.writes_paused {
                    " (paused since before the backup)".to_string()
                } else {
                    format!(" {} after the backup", secs(self.config.write_after_backup))
                },
                counts.0,
                counts.1,
                counts.2
            ),
            true,
        );
        Some(ledger)
    }

    /// Fences the app off and destroys the database with its volume.
    async fn disaster(&mut self) -> Step<Instant> {
        let proxy = self.ctx.proxy().await;
        proxy
            .set_enabled(POSTGRES_LINK, false)
            .await
            .map_err(|e| format!("fencing the app off (proxy `{POSTGRES_LINK}` down): {e}"))?;
        let at = Instant::now();
        let database = &self.services.database;
        let removed = self
            .ctx
            .stack()
            .destroy_service(database)
            .await
            .map_err(|e| format!("destroying {database}: {e}"))?;
        self.event(
            "disaster",
            &format!(
                "app fenced off (link `{POSTGRES_LINK}` down); {database} container killed and removed, volume {} deleted",
                removed.join(", ")
            ),
            true,
        );
        Ok(at)
    }

    async fn restore(&mut self, manifest: &BackupManifest) -> Step<()> {
        let began = Instant::now();
        let database = &self.services.database;
        self.ctx
            .stack()
            .recreate_service(database, self.config.health_timeout)
            .await
            .map_err(|e| format!("creating a new {database}: {e}"))?;
        let new_server = began.elapsed();
        self.event(
            "restore",
            &format!(
                "new {database} container on a new, empty volume: healthy in {}",
                secs(new_server)
            ),
            true,
        );

        let backup = self.services.backup.clone();
        let mut argv = self.services.archive_list.clone();
        argv.push(manifest.file.clone());
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let listed = self.exec(&backup, &argv).await?;
        let entries = listed
            .stdout
            .lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
            .count();
        self.check(
            "pg_restore --list reads the archive",
            listed.exit_code == 0,
            if listed.exit_code == 0 {
                format!("{entries} entries")
            } else {
                format!("exit {}: {}", listed.exit_code, listed.stderr.trim())
            },
        );
        let sum = self.exec(&backup, &["sha256sum", &manifest.file]).await?;
        let actual = sum
            .stdout
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        self.check(
            "the archive is the one the backup wrote (sha256 of its manifest)",
            actual == manifest.sha256,
            if actual == manifest.sha256 {
                format!("sha256 {}", &actual[..actual.len().min(16)])
            } else {
                format!(
                    "sha256 now {}, manifest says {} (the file changed after it was written)",
                    if actual.is_empty() {
                        sum.stderr.trim()
                    } else {
                        &actual
                    },
                    manifest.sha256
                )
            },
        );

        let mut argv = self.services.restore.clone();
        argv.push(manifest.file.clone());
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let tool_says = format!("{}: ", argv[0]);
        let began = Instant::now();
        let restored = self.exec(&backup, &argv).await?;
        let pg_restore = began.elapsed();
        let messages: Vec<String> = restored
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect();
        let last: Vec<String> = messages.iter().rev().take(5).rev().cloned().collect();
        self.event(
            "restore",
            &format!(
                "pg_restore --clean --if-exists --no-owner --no-privileges: exit {} in {}{}",
                restored.exit_code,
                secs(pg_restore),
                restored
                    .stdout
                    .lines()
                    .find_map(|l| l.strip_prefix(tool_says.as_str()))
                    .map(|l| format!("; {l}"))
                    .unwrap_or_default()
            ),
            restored.exit_code == 0,
        );
        self.check(
            "pg_restore succeeds",
            restored.exit_code == 0,
            if restored.exit_code == 0 {
                format!("in {}", secs(pg_restore))
            } else {
                format!("exit {}: {}", restored.exit_code, last.join(" | "))
            },
        );
        self.report.restore = Some(RestoreFacts {
            new_server_ms: new_server.as_millis() as u64,
            pg_restore_ms: pg_restore.as_millis() as u64,
            pg_restore_exit: restored.exit_code,
            pg_restore_messages: last,
            repoint_ms: 0,
        });

        if let Some(Sabotage::DeleteRows(table)) =
            self.sabotaged(|s| matches!(s, Sabotage::DeleteRows(_)))
        {
            let table = table.clone();
            let sql = format!(
                "DELETE FROM public.{table} WHERE ctid IN (SELECT ctid FROM public.{table} LIMIT 3)"
            );
            let done = invariants::query(self.ctx.sut(), &self.services.database_data, &sql).await;
            self.event(
                "sabotage",
                &format!("up to 3 rows of {table} deleted from the restored database: {done:?}"),
                done.is_ok(),
            );
        }
        Ok(())
    }

    /// Compares the restored database with the source's fingerprint and
    /// checks its constraints, indexes and sequences, before the app
    /// writes to it.
    async fn verify_data(&mut self, source: &Fingerprint) -> Step<()> {
        let mut conn =
            fingerprint::connect_owner(self.ctx.stack(), &self.services.database).await?;
        let restored = fingerprint::fingerprint(&mut conn).await?;
        let differences = fingerprint::compare(source, &restored);
        self.check(
            "rows and checksums equal the source's at backup time",
            differences.is_empty(),
            if differences.is_empty() {
                format!(
                    "{} tables, {} rows, {} schema objects",
                    restored.tables.len(),
                    restored.total_rows(),
                    restored.schema.len()
                )
            } else {
                differences.join("; ")
            },
        );
        let unusable = fingerprint::unusable_constraints_and_indexes(&mut conn).await?;
        self.check(
            "constraints validated, indexes valid",
            unusable.is_empty(),
            if unusable.is_empty() {
                "all".to_string()
            } else {
                unusable.join("; ")
            },
        );
        let (sequences, behind) = fingerprint::sequences_behind(&mut conn).await?;
        self.check(
            "sequences are ahead of their columns",
            behind.is_empty(),
            if behind.is_empty() {
                format!("{sequences} sequences")
            } else {
                behind.join("; ")
            },
        );
        let _ = sqlx::Connection::close(conn).await;
        let amcheck = amcheck(self.ctx, &self.services.database_data).await;
        self.check(
            "amcheck: every btree index agrees with its table",
            amcheck.is_ok(),
            match &amcheck {
                Ok(n) => format!("{n} btree indexes checked (bt_index_check with heapallindexed)"),
                Err(e) => e.clone(),
            },
        );
        let passed =
            differences.is_empty() && unusable.is_empty() && behind.is_empty() && amcheck.is_ok();
        self.event(
            "verify",
            &format!(
                "restored database: {} tables, {} rows{}",
                restored.tables.len(),
                restored.total_rows(),
                if passed {
                    ", equal to the backup's snapshot, constraints and indexes sound"
                } else {
                    ", NOT equal or not sound"
                }
            ),
            passed,
        );
        Ok(())
    }

    /// Link up, app processes restarted, until PM2 is online and every
    /// endpoint with a readiness check (`[endpoints]`) passes it.
    async fn repoint(&mut self) -> Step<()> {
        let began = Instant::now();
        let proxy = self.ctx.proxy().await;
        proxy
            .set_enabled(POSTGRES_LINK, true)
            .await
            .map_err(|e| format!("link `{POSTGRES_LINK}` up: {e}"))?;
        let out = self
            .exec(&self.services.pm2, &["pm2", "restart", "all"])
            .await?;
        if out.exit_code != 0 {
            return Err(format!(
                "pm2 restart all: exit {}: {}",
                out.exit_code,
                out.stderr.trim()
            ));
        }
        pm2::wait_online(self.ctx.stack(), self.config.health_timeout)
            .await
            .map_err(|e| format!("PM2 processes after the restart: {e}"))?;
        let mut ready = Vec::new();
        for (name, endpoint) in &self.ctx.sut().config.endpoints {
            let Some(readiness) = &endpoint.readiness else {
                continue;
            };
            let target =
                Target::new(&self.ctx.endpoint(name).await?, false).map_err(|e| e.to_string())?;
            target
                .wait_ready(readiness, self.config.health_timeout)
                .await
                .map_err(|e| format!("the app never became ready on the restored database: {e}"))?;
            ready.push(format!("{} {}", readiness.path, readiness.status));
        }
        let took = began.elapsed();
        if let Some(r) = self.report.restore.as_mut() {
            r.repoint_ms = took.as_millis() as u64;
        }
        self.event(
            "repoint",
            &format!(
                "link up, `pm2 restart all`: processes online{} in {}",
                if ready.is_empty() {
                    String::new()
                } else {
                    format!(" and {}", ready.join(", "))
                },
                secs(took)
            ),
            true,
        );
        Ok(())
    }

    /// Every journey against the restored database; RTO ends when they pass.
    async fn journeys(&mut self, disaster: Instant) -> Step<()> {
        let catalog =
            gauntlet_journeys::Catalog::load(&self.ctx.sut().config).map_err(|e| e.to_string())?;
        let defs = catalog
            .select(&[])
            .map_err(|u| format!("unknown journeys {u:?}"))?;
        let config = gauntlet_journeys::RunConfig {
            run_id: format!("drill{}", rand::random::<u32>()),
            seed: self.config.seed,
            sut: self.ctx.sut_now().await?,
            budget: self.config.journeys_budget,
            retries: 0,
        };
        let report = gauntlet_journeys::run(&defs, &config, &|_| {}).await;
        let failed: Vec<String> = report
            .journeys
            .iter()
            .filter(|j| !matches!(j.result, gauntlet_journeys::JourneyResult::Passed))
            .map(|j| {
                let step = j
                    .failed_step()
                    .map(|s| {
                        format!(
                            " at `{}`: {}",
                            s.name,
                            s.failure.clone().unwrap_or_default()
                        )
                    })
                    .unwrap_or_default();
                format!("{} {:?}{step}", j.name, j.result)
            })
            .collect();
        let passed = failed.is_empty() && !report.journeys.is_empty();
        let rto = disaster.elapsed();
        if passed {
            self.report.rto_ms = Some(rto.as_millis() as u64);
        }
        self.event(
            "journeys",
            &if passed {
                format!(
                    "{} journeys passed; RTO (disaster to journeys passing) {}",
                    report.journeys.len(),
                    secs(rto)
                )
            } else {
                format!(
                    "{} of {} journeys failed",
                    failed.len(),
                    report.journeys.len()
                )
            },
            passed,
        );
        self.check(
            "journeys pass against the restored database",
            passed,
            if passed {
                format!("{} journeys", report.journeys.len())
            } else {
                failed.join("; ")
            },
        );
        Ok(())
    }

    /// The project's invariants (`[[invariants]]`), each a check named by
    /// what it says.
    async fn invariants(&mut self) -> Step<()> {
        let results = invariants::check_all(self.ctx.sut())
            .await
            .map_err(|e| format!("invariants: {e}"))?;
        for r in &results {
            let detail = if r.holds() {
                r.checked
                    .map(|n| format!("{n} checked"))
                    .unwrap_or_else(|| "holds".into())
            } else {
                let examples: Vec<&str> = r.violations.iter().take(3).map(String::as_str).collect();
                format!("{} violations: {}", r.violations.len(), examples.join("; "))
            };
            self.check(&r.about, r.holds(), detail);
        }
        let seen: Vec<String> = results
            .iter()
            .map(|r| {
                format!(
                    "{}{} {}",
                    r.name,
                    r.checked
                        .map(|n| format!(" ({n} checked)"))
                        .unwrap_or_default(),
                    if r.holds() { "holds" } else { "BROKEN" }
                )
            })
            .collect();
        self.event(
            "invariants",
            &if seen.is_empty() {
                "none declared".to_string()
            } else {
                seen.join(", ")
            },
            results.iter().all(|r| r.holds()),
        );
        Ok(())
    }

    /// Acknowledged writes that are gone after the restore.
    async fn rpo(&mut self, ledger: &WriteLedger, disaster: Instant) -> Step<()> {
        let Some(backup) = self.report.backup.as_ref() else {
            return Ok(());
        };
        let snapshot_at = backup.snapshot_requested_at;
        let found = find_rows(self.ctx.sut(), ledger)
            .await
            .map_err(|e| format!("reading the ledger's rows: {e}"))?;
        let records = ledger.records();
        let rec = reconcile_rows(&records, &found);
        let acknowledged = records.iter().filter(|r| r.outcome.is_ok()).count() as u64;
        let after_backup = records
            .iter()
            .filter(|r| r.outcome.is_ok() && ledger.at(r.finished_ms) >= snapshot_at)
            .count() as u64;
        let lost_before: Vec<_> = rec
            .lost_writes
            .iter()
            .filter(|w| ledger.at(w.finished_ms) < snapshot_at)
            .collect();
        let duplicated: u64 = rec.kinds.values().map(|k| k.duplicated).sum();
        let window = rec.lost_window();
        let window_ms = window
            .map(|(a, b)| (b - a).num_milliseconds().max(0) as u64)
            .unwrap_or(0);
        let disaster_at =
            Utc::now() - chrono::Duration::milliseconds(disaster.elapsed().as_millis() as i64);
        let backup_to_disaster_ms = (disaster_at - snapshot_at).num_milliseconds().max(0) as u64;
        let rpo = Rpo {
            kinds: rec.kinds.clone(),
            acknowledged,
            acknowledged_after_backup: after_backup,
            writes_lost: rec.lost_writes.len() as u64,
            lost_before_backup: lost_before.len() as u64,
            lost_window: window,
            lost_window_ms: window_ms,
            backup_to_disaster_ms,
            examples: rec.examples.clone(),
        };
        self.event(
            "rpo",
            &format!(
                "{} of {} acknowledged writes lost ({} acknowledged after the backup); lost writes span {:.1} s; backup to disaster {:.1} s",
                rpo.writes_lost,
                acknowledged,
                after_backup,
                window_ms as f64 / 1000.0,
                backup_to_disaster_ms as f64 / 1000.0
            ),
            lost_before.is_empty(),
        );
        self.check(
            "every write acknowledged before the backup is restored",
            lost_before.is_empty(),
            if lost_before.is_empty() {
                format!(
                    "{} writes acknowledged before the backup",
                    acknowledged - after_backup
                )
            } else {
                let keys: Vec<String> = lost_before
                    .iter()
                    .take(5)
                    .map(|w| format!("{} {}", w.kind.as_str(), w.key))
                    .collect();
                format!("{} gone: {}", lost_before.len(), keys.join(", "))
            },
        );
        self.check(
            "no write restored twice",
            duplicated == 0,
            format!("{duplicated} duplicated"),
        );
        self.report.rpo = Some(rpo);
        Ok(())
    }

    fn thresholds(&mut self) {
        let max = self.config.max_rto;
        let rto = self.report.rto_ms;
        self.report.thresholds.push(Check {
            name: format!("rto < {}", humanize(max)),
            passed: rto.is_some_and(|ms| ms < max.as_millis() as u64),
            detail: match rto {
                Some(ms) => format!("RTO {:.1} s", ms as f64 / 1000.0),
                None => "the app never passed its journeys on the restored database".into(),
            },
        });
        if let Some(limit) = self.config.rpo_threshold() {
            let lost = self.report.rpo.as_ref().map(|r| r.writes_lost);
            self.report.thresholds.push(Check {
                name: format!("rpo_writes <= {limit}"),
                passed: lost.is_some_and(|n| n <= limit),
                detail: match lost {
                    Some(n) => format!("{n} acknowledged writes lost"),
                    None => "not measured (no ledger)".into(),
                },
            });
        }
    }
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s % 60 == 0 && s > 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn describe_stale(v: &serde_json::Value) -> String {
    let max = v["max_age_seconds"].as_u64().unwrap_or(0);
    match v["status"].as_str() {
        Some("none") => format!("no backup yet (stale after {max} s)"),
        Some(status) => format!(
            "{status}: newest {} is {} s old (stale after {max} s)",
            v["newest"].as_str().unwrap_or("?"),
            v["age_seconds"].as_u64().unwrap_or(0)
        ),
        None => format!("unreadable: {v}"),
    }
}

/// `bt_index_check(index, heapallindexed => true)` on every btree index,
/// as the data service's role (the superuser); amcheck is created for the
/// check and dropped after, so the restored database ends as it was
/// restored.
async fn amcheck(ctx: &ChaosContext, data: &str) -> Result<u64, String> {
    let q = |sql: &'static str| async move {
        invariants::query(ctx.sut(), data, sql)
            .await
            .map_err(|e| e.to_string())
    };
    q("CREATE EXTENSION IF NOT EXISTS amcheck").await?;
    let checked = q("SELECT count(bt_index_check(c.oid, true)) FROM pg_index i \
                     JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam \
                     WHERE am.amname = 'btree' AND c.relnamespace = 'public'::regnamespace")
    .await;
    let dropped = q("DROP EXTENSION IF EXISTS amcheck").await;
    let checked = checked?;
    dropped?;
    checked
        .first()
        .and_then(|r| r.first())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| "bt_index_check returned no count".into())
}
