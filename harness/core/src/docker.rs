//! Connection to the Docker engine. The API version is negotiated, because
//! the engine Debian ships (20.10, API 1.41) is older than the version
//! bollard speaks by default.

use bollard::Docker;

use crate::error::{Error, Result};

/// Connects using `DOCKER_HOST` or the local socket, and proves the engine
/// answers before anything else is attempted.
pub async fn connect() -> Result<Docker> {
    let docker = Docker::connect_with_local_defaults()
        .map_err(|e| Error::DockerUnavailable(e.to_string()))?;
    let docker = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        docker.negotiate_version(),
    )
    .await
    .map_err(|_| Error::DockerUnavailable("the engine did not answer within 10 s".into()))?
    .map_err(|e| Error::DockerUnavailable(e.to_string()))?;
    docker
        .ping()
        .await
        .map_err(|e| Error::DockerUnavailable(e.to_string()))?;
    Ok(docker)
}

/// True when a bollard error is Docker's 404 (no such container, network...).
pub fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// True when a bollard error is Docker's 409 or 304 (already in that state).
pub fn is_conflict(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 409 | 304,
            ..
        }
    )
}
