//! Destroying a service with its data and creating it again from the
//! compose file (the restore drill's disaster and its new database), and
//! scratch containers inside a run (a fresh Redis to restore a copy into).
//! Everything created here carries the run's labels, read from the run's
//! network, so `gauntlet down` and the reaper remove it like the rest.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::VolumeCreateRequest;
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, InspectContainerOptions,
    InspectNetworkOptions, RemoveContainerOptionsBuilder, RemoveVolumeOptions,
    StartContainerOptions, UploadToContainerOptionsBuilder,
};
use futures::StreamExt;

use super::{labels, up, volume_name, Stack};
use crate::docker::is_not_found;
use crate::error::{Error, Result};

impl Stack {
    /// The run's labels (project, run, checkout, seed, ...), as put on its network.
    async fn run_labels(&self) -> Result<HashMap<String, String>> {
        let network = self.network_name();
        let inspect = self
            .docker
            .inspect_network(&network, None::<InspectNetworkOptions>)
            .await
            .map_err(Error::docker(format!("inspecting network {network}")))?;
        let labels = inspect.labels.unwrap_or_default();
        // Never act on something that is not this run's.
        if labels.get(labels::RUN).map(String::as_str) != Some(self.run_id.as_str()) {
            return Err(Error::Usage(format!(
                "network {network} does not carry this run's labels; not touching it"
            )));
        }
        Ok(labels)
    }

    /// Kills and removes the service's container and removes its named
    /// volumes: its data is gone. Returns the volumes removed.
    pub async fn destroy_service(&self, service: &str) -> Result<Vec<String>> {
        let definition = self.service_checked(service)?.clone();
        self.run_labels().await?;
        let name = self.container_name(service);
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(&name, Some(options)).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::docker(format!("removing container {name}"))(e)),
        }
        let mut removed = Vec::new();
        for mount in &definition.volumes {
            let volume = volume_name(&self.project, &self.run_id, &mount.volume);
            match self
                .docker
                .remove_volume(&volume, None::<RemoveVolumeOptions>)
                .await
            {
                Ok(()) => removed.push(volume),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::docker(format!("removing volume {volume}"))(e)),
            }
        }
        Ok(removed)
    }

    /// Creates the service's container again from its compose definition
    /// (fresh volumes for any that are gone), starts it and waits until it
    /// is healthy. Its published ports are new: ask [`Stack::endpoint_url`].
    pub async fn recreate_service(&self, service: &str, timeout: Duration) -> Result<()> {
        let definition = self.service_checked(service)?.clone();
        let run_labels = self.run_labels().await?;
        for mount in &definition.volumes {
            let volume = volume_name(&self.project, &self.run_id, &mount.volume);
            self.docker
                .create_volume(VolumeCreateRequest {
                    name: Some(volume.clone()),
                    labels: Some(run_labels.clone()),
                    ..Default::default()
                })
                .await
                .map_err(Error::docker(format!("creating volume {volume}")))?;
        }
        let name = self.container_name(service);
        let body = up::container_body(&self.project, &self.run_id, &definition, &run_labels);
        let create = CreateContainerOptionsBuilder::new().name(&name).build();
        self.docker
            .create_container(Some(create), body)
            .await
            .map_err(Error::docker(format!("creating container {name}")))?;
        self.start(service).await?;
        self.wait_healthy(service, timeout).await
    }

    /// A tar archive of `path` in the service's container (Docker's copy).
    pub async fn copy_out(&self, service: &str, path: &str) -> Result<Vec<u8>> {
        let name = self.container_name(service);
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        let mut stream = self.docker.download_from_container(&name, Some(options));
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(Error::docker(format!("copying {path} out of {name}")))?;
            tar.extend_from_slice(&chunk);
        }
        Ok(tar)
    }

    /// Creates and starts a scratch container `name` in the run: on its
    /// network, labelled as the run's (no published ports), from `image`
    /// with `cmd`, with `tar` unpacked at `/` before it starts. Address it
    /// with [`Stack::exec`] under `name`; remove it with
    /// [`Stack::remove_scratch`] (or leave it to `gauntlet down`).
    pub async fn start_scratch(
        &self,
        name: &str,
        image: &str,
        cmd: &[&str],
        tar: Option<Vec<u8>>,
    ) -> Result<()> {
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        self.start_scratch_with(name, body, tar).await
    }

    /// [`Stack::start_scratch`] from the caller's container definition
    /// (mounts, environment, user...): the run's labels (and `SERVICE` =
    /// `name`) and its network are set here, whatever `body` says.
    pub async fn start_scratch_with(
        &self,
        name: &str,
        mut body: ContainerCreateBody,
        tar: Option<Vec<u8>>,
    ) -> Result<()> {
        let mut labels = self.run_labels().await?;
        labels.insert(labels::SERVICE.into(), name.to_string());
        // The process creating it, as for the rest of a run.
        labels.insert(labels::OWNER_PID.into(), std::process::id().to_string());
        let container = self.container_name(name);
        body.labels = Some(labels);
        body.host_config = Some(HostConfig {
            network_mode: Some(self.network_name()),
            ..body.host_config.unwrap_or_default()
        });
        let create = CreateContainerOptionsBuilder::new()
            .name(&container)
            .build();
        self.docker
            .create_container(Some(create), body)
            .await
            .map_err(Error::docker(format!("creating container {container}")))?;
        if let Some(tar) = tar {
            let options = UploadToContainerOptionsBuilder::new().path("/").build();
            self.docker
                .upload_to_container(&container, Some(options), bollard::body_full(tar.into()))
                .await
                .map_err(Error::docker(format!("copying files into {container}")))?;
        }
        self.docker
            .start_container(&container, None::<StartContainerOptions>)
            .await
            .map_err(Error::docker(format!("starting {container}")))
    }

    /// A scratch container's exit code once it has exited (`None` while
    /// it runs).
    pub async fn scratch_exit_code(&self, name: &str) -> Result<Option<i64>> {
        let container = self.container_name(name);
        let info = self
            .docker
            .inspect_container(&container, None::<InspectContainerOptions>)
            .await
            .map_err(Error::docker(format!("inspecting {container}")))?;
        let state = info.state.unwrap_or_default();
        let exited = matches!(
            state.status,
            Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
        );
        Ok(exited.then(|| state.exit_code.unwrap_or(-1)))
    }

    /// Removes a scratch container made by [`Stack::start_scratch`].
    pub async fn remove_scratch(&self, name: &str) -> Result<()> {
        let container = self.container_name(name);
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self
            .docker
            .remove_container(&container, Some(options))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(Error::docker(format!("removing container {container}"))(e)),
        }
    }

    /// The image the service's container runs now.
    pub fn image_of(&self, service: &str) -> Result<String> {
        Ok(self.service_checked(service)?.image.clone())
    }
}
