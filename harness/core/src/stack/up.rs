//! Starting a run: network, volumes, then services in waves (a service
//! starts once every service it depends on is healthy), each container
//! created from its compose definition and waited on until healthy.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, Mount, MountType,
    MountVolumeOptions, NetworkCreateRequest, NetworkingConfig, PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use bollard::Docker;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{labels, network_name, volume_name, RunSpec, Stack};
use crate::compose::{ComposeFile, Service};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct UpOptions {
    /// How long one service may take to become healthy.
    pub service_timeout: Duration,
    pub show_progress: bool,
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions {
            service_timeout: Duration::from_secs(120),
            show_progress: false,
        }
    }
}

/// Brings up every service of `compose` for the run in `spec`. On error the
/// run is left as it is: the caller tears it down (and may keep it to debug).
pub async fn up(
    docker: &Docker,
    spec: &RunSpec,
    compose: &ComposeFile,
    options: &UpOptions,
) -> Result<Stack> {
    let stack = Stack::attach(docker.clone(), &spec.project, &spec.run_id, compose.clone());
    let run_labels = run_labels(spec);

    // Volumes first, then the network: a volume is created in milliseconds,
    // a bridge network takes a few hundred (bridge, iptables). If gauntlet
    // is killed while the network create is in flight, the engine still
    // finishes it; with the volumes already there, the reaper's first
    // round finds something and keeps watching until the network shows up
    // (see `reaper::reap`), instead of taking its "nothing here" fast path.
    for volume in &compose.volumes {
        let name = volume_name(&spec.project, &spec.run_id, volume);
        docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.clone()),
                labels: Some(run_labels.clone()),
                ..Default::default()
            })
            .await
            .map_err(Error::docker(format!("creating volume {name}")))?;
    }
    let network = network_name(&spec.project, &spec.run_id);
    docker
        .create_network(NetworkCreateRequest {
            name: network.clone(),
            driver: Some("bridge".into()),
            labels: Some(run_labels.clone()),
            ..Default::default()
        })
        .await
        .map_err(Error::docker(format!("creating network {network}")))?;

    let bars = MultiProgress::new();
    if !options.show_progress {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut started: Vec<&str> = Vec::new();
    while started.len() < compose.services.len() {
        let wave: Vec<&Service> = compose
            .services
            .iter()
            .filter(|s| !started.contains(&s.name.as_str()))
            .filter(|s| {
                s.depends_on
                    .iter()
                    .all(|d| started.contains(&d.service.as_str()))
            })
            .collect();
        let jobs = wave.iter().map(|service| {
            let bar = bars.add(ProgressBar::new_spinner());
            start_service(&stack, spec, service, &run_labels, options, bar)
        });
        for result in futures::future::join_all(jobs).await {
            result?;
        }
        started.extend(wave.iter().map(|s| s.name.as_str()));
    }
    Ok(stack)
}

pub(super) fn run_labels(spec: &RunSpec) -> HashMap<String, String> {
    HashMap::from([
        (labels::PROJECT.into(), spec.project.clone()),
        (labels::RUN.into(), spec.run_id.clone()),
        (labels::CHECKOUT.into(), spec.checkout.display().to_string()),
        (labels::STARTED.into(), spec.started_at.to_rfc3339()),
        (labels::SEED.into(), spec.seed.to_string()),
        (labels::DEFECTS.into(), spec.defects.clone()),
        (labels::OWNER_PID.into(), std::process::id().to_string()),
    ])
}

async fn start_service(
    stack: &Stack,
    spec: &RunSpec,
    service: &Service,
    run_labels: &HashMap<String, String>,
    options: &UpOptions,
    bar: ProgressBar,
) -> Result<()> {
    let begun = Instant::now();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix:>9} {elapsed:>4} {wide_msg}")
            .expect("template"),
    );
    bar.set_prefix(service.name.clone());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message("starting");

    let name = stack.container_name(&service.name);
    let body = container_body(&spec.project, &spec.run_id, service, run_labels);
    let create = CreateContainerOptionsBuilder::new().name(&name).build();
    stack
        .docker
        .create_container(Some(create), body)
        .await
        .map_err(Error::docker(format!(
            "creating container {name} from {}",
            service.image
        )))?;
    stack
        .docker
        .start_container(
            &name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .map_err(Error::docker(format!("starting {name}")))?;
    bar.set_message("waiting until healthy");
    match stack
        .wait_healthy(&service.name, options.service_timeout)
        .await
    {
        Ok(()) => {
            bar.finish_with_message(format!("healthy in {:.1}s", begun.elapsed().as_secs_f64()));
            Ok(())
        }
        Err(e) => {
            bar.finish_with_message("FAILED");
            Err(e)
        }
    }
}

pub(super) fn container_body(
    project: &str,
    run_id: &str,
    service: &Service,
    run_labels: &HashMap<String, String>,
) -> ContainerCreateBody {
    let mut labels = run_labels.clone();
    labels.extend(service.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels.insert(labels::SERVICE.into(), service.name.clone());

    let port_bindings = service
        .ports
        .iter()
        .map(|p| {
            let binding = PortBinding {
                host_ip: Some(p.host_ip.to_string()),
                host_port: Some(p.host_port.map(|h| h.to_string()).unwrap_or_default()),
            };
            (format!("{}/tcp", p.container_port), Some(vec![binding]))
        })
        .collect();
    let mounts = service
        .volumes
        .iter()
        .map(|v| Mount {
            target: Some(v.target.clone()),
            source: Some(volume_name(project, run_id, &v.volume)),
            typ: Some(MountType::VOLUME),
            // The engine creates a missing volume on container create. That
            // happens when the reaper removed the run's volume while this
            // create was in flight (gauntlet killed mid-`up`): with the run's
            // labels here, the volume it makes is labelled and reaped too,
            // not leaked. An existing volume keeps its own labels.
            volume_options: Some(MountVolumeOptions {
                labels: Some(run_labels.clone()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let network = network_name(project, run_id);
    // The service name is a network alias, so services reach each other by
    // the names the compose file uses (`postgres:5432`), in every run.
    let endpoint = EndpointSettings {
        aliases: Some(vec![service.name.clone()]),
        ..Default::default()
    };
    let nanos = |d: Duration| d.as_nanos() as i64;

    ContainerCreateBody {
        image: Some(service.image.clone()),
        hostname: Some(service.name.clone()),
        env: Some(
            service
                .environment
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        cmd: service.command.clone(),
        labels: Some(labels),
        exposed_ports: Some(
            service
                .ports
                .iter()
                .map(|p| format!("{}/tcp", p.container_port))
                .collect(),
        ),
        stop_timeout: service.stop_grace_period.map(|d| d.as_secs() as i64),
        healthcheck: service.healthcheck.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: Some(nanos(h.interval)),
            timeout: Some(nanos(h.timeout)),
            retries: Some(h.retries as i64),
            start_period: Some(nanos(h.start_period)),
            ..Default::default()
        }),
        host_config: Some(HostConfig {
            network_mode: Some(network.clone()),
            port_bindings: Some(port_bindings),
            mounts: Some(mounts),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(network, endpoint)])),
        }),
        ..Default::default()
    }
}
