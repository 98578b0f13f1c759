//! Finding runs and removing them. Runs are found only by their labels, so
//! leftovers of a crashed or SIGKILLed gauntlet are found like any other.

use std::collections::{BTreeMap, HashMap};

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

/// Removes the containers (with their anonymous volumes), then the networks,
/// then the named volumes of one run, or of every run of the project when
/// `run` is `None`. Resources that vanish meanwhile are not an error.
pub async fn reap(docker: &Docker, project: &str, run: Option<&str>) -> Result<ReapReport> {
    let f = filters(project, run);
    let mut report = ReapReport::default();

    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&f)
        .build();
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(Error::docker("listing containers"))?;
    for c in containers {
        let Some(id) = c.id else { continue };
        let name = c
            .names
            .and_then(|n| n.into_iter().next())
            .unwrap_or_else(|| id.clone());
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(&id, Some(options)).await {
            Ok(()) => report
                .containers
                .push(name.trim_start_matches('/').to_string()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::docker(format!("removing container {name}"))(e)),
        }
    }

    let options = ListNetworksOptionsBuilder::new().filters(&f).build();
    let networks = docker
        .list_networks(Some(options))
        .await
        .map_err(Error::docker("listing networks"))?;
    for n in networks {
        let Some(name) = n.name else { continue };
        match docker.remove_network(&name).await {
            Ok(()) => report.networks.push(name),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::docker(format!("removing network {name}"))(e)),
        }
    }

    let options = ListVolumesOptionsBuilder::new().filters(&f).build();
    let volumes = docker
        .list_volumes(Some(options))
        .await
        .map_err(Error::docker("listing volumes"))?;
    for v in volumes.volumes.unwrap_or_default() {
        match docker
            .remove_volume(&v.name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => report.volumes.push(v.name),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::docker(format!("removing volume {}", v.name))(e)),
        }
    }
    report.containers.sort();
    report.networks.sort();
    report.volumes.sort();
    Ok(report)
}
