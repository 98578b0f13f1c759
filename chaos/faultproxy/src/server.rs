//! The server: API listener plus proxies, usable in-process (tests, the
//! harness) or from `main`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::info;

use crate::api::{self, ApiError};
use crate::model::{Proxy, ProxyConfig};
use crate::proxy::Registry;

/// A bound, not yet serving, API server.
pub struct Server {
    registry: Arc<Registry>,
    listener: TcpListener,
}

impl Server {
    /// Binds the API address (`"127.0.0.1:0"` for an ephemeral port).
    pub async fn bind(addr: &str) -> std::io::Result<Server> {
        Ok(Server {
            registry: Arc::new(Registry::new()),
            listener: TcpListener::bind(addr).await?,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Creates (or replaces) proxies, as `POST /populate` does.
    pub async fn populate(&self, configs: Vec<ProxyConfig>) -> Result<Vec<Proxy>, ApiError> {
        match self.registry.populate(configs).await {
            (proxies, None) => Ok(proxies),
            (_, Some(err)) => Err(err),
        }
    }

    /// Serves the API until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = self.listener.local_addr()?;
        info!("API listening on http://{addr}");
        axum::serve(self.listener, api::router(self.registry))
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Serves in a background task until the returned handle is dropped.
    pub fn spawn(self) -> std::io::Result<RunningServer> {
        let addr = self.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = self.serve(std::future::pending()).await;
        });
        Ok(RunningServer { addr, task })
    }
}

/// A server serving in the background; dropping it stops the API and all
/// proxies.
pub struct RunningServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ip:port`, for [`crate::ToxiproxyClient::new`].
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
