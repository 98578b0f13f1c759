//! The harness's error type. Every variant says what went wrong, where, and
//! (through [`Error::hint`]) what to do about it; [`Error::exit_code`] maps
//! it to the documented exit codes.

use std::path::PathBuf;

use crate::exit_codes;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Docker engine not reachable: {0}")]
    DockerUnavailable(String),

    #[error("Docker: {context}: {source}")]
    Docker {
        context: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error("image build failed for {image}: {message}")]
    Build { image: String, message: String },

    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },

    #[error("{0}")]
    Usage(String),

    #[error("target {url} is not the expected app: {reason}")]
    WrongTarget { url: String, reason: String },

    #[error("target {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },

    #[error("refusing to send traffic to {url}: not a loopback address (pass --allow-remote to override)")]
    RemoteTarget { url: String },

    #[error("no run found{}", run.as_deref().map(|r| format!(" with id {r}")).unwrap_or_default())]
    NoRun { run: Option<String> },

    #[error("service {service} did not become healthy: {reason}")]
    Unhealthy { service: String, reason: String },

    #[error("check failed: {0}")]
    CheckFailed(String),

    #[error("interrupted")]
    Interrupted,

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn docker(context: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Error {
        let context = context.into();
        move |source| classify_docker(context, source)
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    pub fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::Config {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::Config { .. }
            | Error::WrongTarget { .. }
            | Error::Unreachable { .. }
            | Error::RemoteTarget { .. }
            | Error::NoRun { .. } => exit_codes::USAGE,
            Error::DockerUnavailable(_)
            | Error::Docker { .. }
            | Error::Build { .. }
            | Error::Io { .. } => exit_codes::ENVIRONMENT,
            Error::Unhealthy { .. } | Error::CheckFailed(_) => exit_codes::CHECK_FAILED,
            Error::Interrupted => exit_codes::INTERRUPTED,
        }
    }

    /// What the user can do next, when there is something useful to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::DockerUnavailable(_) => Some(
                "start Docker, or run `sudo ci/bootstrap.sh` (same as `gauntlet doctor --fix`)",
            ),
            Error::Build { .. } => {
                Some("run `gauntlet doctor` to check the base image and CA bundle")
            }
            Error::WrongTarget { .. } => {
                Some("check the port: another program may be listening there")
            }
            Error::Unreachable { .. } => {
                Some("is the stack up? `gauntlet status` lists runs and their URLs")
            }
            Error::NoRun { .. } => {
                Some("start one with `gauntlet up`; `gauntlet status --all` lists runs")
            }
            Error::Unhealthy { .. } => {
                Some("the run was torn down; `--keep-on-failure` keeps it to inspect")
            }
            _ => None,
        }
    }
}

/// A connection-level failure means there is no engine to talk to, which is
/// an environment problem with its own hint, not a failed operation.
fn classify_docker(context: String, source: bollard::errors::Error) -> Error {
    use bollard::errors::Error as B;
    match &source {
        B::HyperResponseError { .. } | B::SocketNotFoundError(_) | B::IOError { .. } => {
            Error::DockerUnavailable(format!("{context}: {source}"))
        }
        _ => Error::Docker { context, source },
    }
}
