//! Finding runs and removing them. Runs are found only by their labels, so
//! leftovers of a crashed or SIGKILLed gauntlet are found like any other.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptions,
};
use bollard::Docker;
use serde::Serialize;

use super::labels;
use crate::docker::is_not_found;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub project: String,
    pub run_id: String,
    pub checkout: String,
    pub started_at: String,
    pub seed: String,
    pub defects: String,
    /// service -> Docker state
    pub services: BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct ReapReport {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

impl ReapReport {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }
}

fn filters(project: &str, run: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut label = vec![labels::filter(labels::PROJECT, project)];
    if let Some(run) = run {
        label.push(labels::filter(labels::RUN, run));
    }
    HashMap::from([("label".to_string(), label)])
}

/// Every run of `project` that has a container, newest first.
pub async fn list_runs(docker: &Docker, project: &str) -> Result<Vec<RunSummary>> {
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters(project, None))
        .build();
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(Error::docker("listing containers"))?;
    let mut runs: BTreeMap<String, RunSummary> = BTreeMap::new();
    for c in containers {
        let l = c.labels.unwrap_or_default();
        let get = |k: &str| l.get(k).cloned().unwrap_or_default();
        let run = runs.entry(get(labels::RUN)).or_insert_with(|| RunSummary {
            project: get(labels::PROJECT),
            run_id: get(labels::RUN),
            checkout: get(labels::CHECKOUT),
            started_at: get(labels::STARTED),
            seed: get(labels::SEED),
            defects: get(labels::DEFECTS),
            services: BTreeMap::new(),
        });
        let state = c
            .state
            .map(|s| s.to_string())
            .unwrap_or_else(|| "unknown".into());
        run.services.insert(get(labels::SERVICE), state);
    }
    let mut runs: Vec<RunSummary> = runs.into_values().collect();
    runs.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    Ok(runs)
}

/// How long the reaper keeps listing after the last round that found
/// something, before it believes nothing more is coming (see [`reap`]).
const SETTLE: Duration = Duration::from_secs(2);
/// Pause between two rounds.
const POLL: Duration = Duration::from_millis(250);
/// Upper bound on the time spent after the first round: past it, whatever
/// still cannot be removed is an error and anything still appearing is
/// left to the next `down`.
const LIMIT: Duration = Duration::from_secs(10);

/// Removes the containers (with their anonymous volumes), then the networks,
/// then the named volumes of one run, or of every run of the project when
/// `run` is `None`. Resources that vanish meanwhile are not an error.
///
/// One pass is not enough after a gauntlet that died mid-request (SIGKILL,
/// or an `up` whose futures were dropped on Ctrl-C): the engine finishes a
/// create whose client is gone, so a container, network or volume can
/// appear *after* the reaper listed. A late container is left in state
/// `Created`, referencing a network the reaper may already have removed;
/// a late container also holds its volumes (removal fails "in use") and,
/// if it gets attached, its network ("has active endpoints"). Nothing
/// in the API says whether a create is still in flight, so the reaper
/// works in rounds: list and remove everything, pause, list again, and
/// stop only once rounds have found nothing for [`SETTLE`] since the last
/// one that did. Removal errors inside a round are retried in the next
/// round (the container holding a volume or network is removed first);
/// only after [`LIMIT`] is a removal that keeps failing an error.
///
/// Fast path: when the first round finds nothing at all, it returns at
/// once (a `down` with nothing to do stays instant). Only the first create
/// of a run can be in flight then, and `up` creates its volumes first, in
/// milliseconds: the engine has finished that before a new `gauntlet down`
/// has started, connected and listed. (The slow network create comes
/// second, when the volumes are there to be found; a compose file without
/// volumes leaves that window open.)
pub async fn reap(docker: &Docker, project: &str, run: Option<&str>) -> Result<ReapReport> {
    reap_with(docker, project, run, InFlight::Possible).await
}

/// What the caller knows about create requests of the run still in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InFlight {
    /// A gauntlet may have died (or been interrupted) mid-request: wait for
    /// [`SETTLE`] of quiet before believing the run is gone.
    Possible,
    /// Every request the run made has been answered (the process tearing
    /// down is the one that started it, and it finished): no quiet window.
    None,
}

/// [`reap`], without the quiet window when nothing can be in flight.
pub async fn reap_with(
    docker: &Docker,
    project: &str,
    run: Option<&str>,
    in_flight: InFlight,
) -> Result<ReapReport> {
    let settle = match in_flight {
        InFlight::Possible => SETTLE,
        InFlight::None => Duration::ZERO,
    };
    let f = filters(project, run);
    let mut report = ReapReport::default();
    let began = Instant::now();
    let mut last_found: Option<Instant> = None;
    loop {
        let round = reap_round(docker, &f, &mut report).await?;
        let now = Instant::now();
        if round.found > 0 {
            last_found = Some(now);
        }
        let Some(last) = last_found else {
            // Nothing at all on the first round: nothing to wait for.
            break;
        };
        if round.found == 0 && now.duration_since(last) >= settle {
            break;
        }
        if now.duration_since(began) >= LIMIT {
            if let Some(err) = round.failures.into_iter().next() {
                return Err(err);
            }
            // Things still appearing without errors: something is still
            // creating them (a live gauntlet). Stop here; a later `down`
            // gets the rest.
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    for names in [
        &mut report.containers,
        &mut report.networks,
        &mut report.volumes,
    ] {
        names.sort();
        names.dedup();
    }
    Ok(report)
}

/// What one round saw: how many resources it listed (removed, vanished or
/// failing), and the removals that failed, to retry in the next round.
struct Round {
    found: usize,
    failures: Vec<Error>,
}

async fn reap_round(
    docker: &Docker,
    f: &HashMap<String, Vec<String>>,
    report: &mut ReapReport,
) -> Result<Round> {
    let mut round = Round {
        found: 0,
        failures: Vec::new(),
    };

    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(f)
        .build();
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(Error::docker("listing containers"))?;
    for c in containers {
        let Some(id) = c.id else { continue };
        round.found += 1;
        let name = c
            .names
            .and_then(|n| n.into_iter().next())
            .unwrap_or_else(|| id.clone());
        let name = name.trim_start_matches('/').to_string();
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(&id, Some(options)).await {
            Ok(()) => report.containers.push(name),
            Err(e) if is_not_found(&e) => {}
            // e.g. 409 "removal already in progress", or a container the
            // engine is still starting: try again next round.
            Err(e) => round
                .failures
                .push(Error::docker(format!("removing container {name}"))(e)),
        }
    }

    let options = ListNetworksOptionsBuilder::new().filters(f).build();
    let networks = docker
        .list_networks(Some(options))
        .await
        .map_err(Error::docker("listing networks"))?;
    for n in networks {
        let Some(name) = n.name else { continue };
        round.found += 1;
        match docker.remove_network(&name).await {
            Ok(()) => report.networks.push(name),
            Err(e) if is_not_found(&e) => {}
            // "has active endpoints": a container not removed yet (failed
            // above, or created after the listing) is attached. Next round.
            Err(e) => round
                .failures
                .push(Error::docker(format!("removing network {name}"))(e)),
        }
    }

    let options = ListVolumesOptionsBuilder::new().filters(f).build();
    let volumes = docker
        .list_volumes(Some(options))
        .await
        .map_err(Error::docker("listing volumes"))?;
    for v in volumes.volumes.unwrap_or_default() {
        round.found += 1;
        match docker
            .remove_volume(&v.name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => report.volumes.push(v.name),
            Err(e) if is_not_found(&e) => {}
            // 409 "volume is in use": a container created after the
            // container listing mounts it. Next round removes that first.
            Err(e) => round
                .failures
                .push(Error::docker(format!("removing volume {}", v.name))(e)),
        }
    }
    Ok(round)
}
