//! The proxies: their configuration, listeners and toxics.
//!
//! The registry is the single owner of all state, behind one async mutex:
//! API calls are rare and short, so serialising them is simpler than
//! finer locks and leaves no interleaving to reason about. Live connections
//! never take the lock; they follow their proxy's toxics through a `watch`
//! channel, which always holds the latest list.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Mutex};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{info, warn};

use crate::api::ApiError;
use crate::link;
use crate::model::{Proxy, ProxyConfig, Stream, Toxic};

/// A toxic as installed, with a generation that changes on every update so
/// that connections can tell an updated toxic from an unchanged one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToxicEntry {
    pub toxic: Toxic,
    pub generation: u64,
}

/// The toxics of one proxy, per stream, in creation order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ToxicSet {
    pub upstream: Vec<ToxicEntry>,
    pub downstream: Vec<ToxicEntry>,
}

impl ToxicSet {
    fn stream_mut(&mut self, stream: Stream) -> &mut Vec<ToxicEntry> {
        match stream {
            Stream::Upstream => &mut self.upstream,
            Stream::Downstream => &mut self.downstream,
        }
    }

    fn all(&self) -> impl Iterator<Item = &ToxicEntry> {
        self.upstream.iter().chain(&self.downstream)
    }

    fn find_mut(&mut self, name: &str) -> Option<&mut ToxicEntry> {
        self.upstream
            .iter_mut()
            .chain(&mut self.downstream)
            .find(|e| e.toxic.name == name)
    }
}

/// Partial update of a proxy (`POST /proxies/{name}`): absent fields keep
/// their value.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProxyPatch {
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub enabled: Option<bool>,
}

/// All proxies of one server.
#[derive(Default)]
pub struct Registry {
    proxies: Mutex<BTreeMap<String, ProxyState>>,
    generation: AtomicU64,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub async fn list(&self) -> BTreeMap<String, Proxy> {
        let proxies = self.proxies.lock().await;
        proxies
            .iter()
            .map(|(name, p)| (name.clone(), p.to_json()))
            .collect()
    }

    pub async fn get(&self, name: &str) -> Result<Proxy, ApiError> {
        let proxies = self.proxies.lock().await;
        Ok(find(&proxies, name)?.to_json())
    }

    pub async fn create(&self, config: ProxyConfig) -> Result<Proxy, ApiError> {
        let mut proxies = self.proxies.lock().await;
        if proxies.contains_key(&config.name) {
            return Err(ApiError::proxy_already_exists());
        }
        let mut state = ProxyState::new(&config);
        if config.enabled {
            state.start().await?;
        }
        let json = state.to_json();
        proxies.insert(config.name, state);
        Ok(json)
    }

    /// Creates or replaces each proxy, in order. A proxy that already exists
    /// with the same listen address and upstream is left as it is (toxics,
    /// connections and enabled state included), as Toxiproxy does; any other
    /// existing one is stopped and replaced. On failure, the proxies handled
    /// before it are returned with the error.
    pub async fn populate(&self, configs: Vec<ProxyConfig>) -> (Vec<Proxy>, Option<ApiError>) {
        let mut proxies = self.proxies.lock().await;
        let mut done = Vec::new();
        for config in configs {
            if let Some(existing) = proxies.get(&config.name) {
                if existing.upstream == config.upstream && existing.listens_on(&config.listen).await
                {
                    done.push(existing.to_json());
                    continue;
                }
            }
            if let Some(mut old) = proxies.remove(&config.name) {
                old.stop().await;
            }
            let mut state = ProxyState::new(&config);
            if config.enabled {
                if let Err(err) = state.start().await {
                    return (done, Some(err));
                }
            }
            done.push(state.to_json());
            proxies.insert(config.name, state);
        }
        (done, None)
    }

    /// Changes listen/upstream (which restarts the listener and drops its
    /// connections, as in Toxiproxy) and/or enables or disables the proxy.
    pub(crate) async fn update(&self, name: &str, patch: ProxyPatch) -> Result<Proxy, ApiError> {
        let mut proxies = self.proxies.lock().await;
        let state = find_mut(&mut proxies, name)?;
        let enabled = patch.enabled.unwrap_or(state.running.is_some());
        let listen = patch.listen.unwrap_or_else(|| state.listen.clone());
        let upstream = patch.upstream.unwrap_or_else(|| state.upstream.clone());
        if listen != state.listen || upstream != state.upstream {
            state.stop().await;
            state.listen = listen;
            state.upstream = upstream;
        }
        if enabled {
            state.start().await?;
        } else {
            state.stop().await;
        }
        Ok(state.to_json())
    }

    pub async fn delete(&self, name: &str) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        let mut state = proxies.remove(name).ok_or_else(ApiError::proxy_not_found)?;
        state.stop().await;
        Ok(())
    }

    /// Enables every proxy and removes every toxic.
    pub async fn reset(&self) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        for state in proxies.values_mut() {
            state.start().await?;
            state.toxics = ToxicSet::default();
            state.publish();
        }
        Ok(())
    }

    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>, ApiError> {
        let proxies = self.proxies.lock().await;
        Ok(find(&proxies, proxy)?.toxics_json())
    }

    pub async fn toxic(&self, proxy: &str, toxic: &str) -> Result<Toxic, ApiError> {
        let proxies = self.proxies.lock().await;
        let found = find(&proxies, proxy)?
            .toxics
            .all()
            .find(|e| e.toxic.name == toxic)
            .map(|e| e.toxic.clone());
        found.ok_or_else(ApiError::toxic_not_found)
    }

    pub async fn add_toxic(&self, proxy: &str, toxic: Toxic) -> Result<Toxic, ApiError> {
        let generation = self.next_generation();
        let mut proxies = self.proxies.lock().await;
        let state = find_mut(&mut proxies, proxy)?;
        if state.toxics.all().any(|e| e.toxic.name == toxic.name) {
            return Err(ApiError::toxic_already_exists());
        }
        state.toxics.stream_mut(toxic.stream).push(ToxicEntry {
            toxic: toxic.clone(),
            generation,
        });
        state.publish();
        Ok(toxic)
    }

    /// Applies `change` to the named toxic; it decides the new value from
    /// the current one (attributes are merged, as Toxiproxy decodes an
    /// update over the existing toxic).
    pub async fn update_toxic(
        &self,
        proxy: &str,
        toxic: &str,
        change: impl FnOnce(&Toxic) -> Result<Toxic, ApiError>,
    ) -> Result<Toxic, ApiError> {
        let generation = self.next_generation();
        let mut proxies = self.proxies.lock().await;
        let state = find_mut(&mut proxies, proxy)?;
        let entry = state
            .toxics
            .find_mut(toxic)
            .ok_or_else(ApiError::toxic_not_found)?;
        let mut updated = change(&entry.toxic)?;
        // Name and stream are not changed by an update.
        updated.name = entry.toxic.name.clone();
        updated.stream = entry.toxic.stream;
        entry.toxic = updated.clone();
        entry.generation = generation;
        state.publish();
        Ok(updated)
    }

    pub async fn remove_toxic(&self, proxy: &str, toxic: &str) -> Result<(), ApiError> {
        let mut proxies = self.proxies.lock().await;
        let state = find_mut(&mut proxies, proxy)?;
        let before = state.toxics.all().count();
        state.toxics.upstream.retain(|e| e.toxic.name != toxic);
        state.toxics.downstream.retain(|e| e.toxic.name != toxic);
        if state.toxics.all().count() == before {
            return Err(ApiError::toxic_not_found());
        }
        state.publish();
        Ok(())
    }
}

fn find<'a>(
    proxies: &'a BTreeMap<String, ProxyState>,
    name: &str,
) -> Result<&'a ProxyState, ApiError> {
    proxies.get(name).ok_or_else(ApiError::proxy_not_found)
}

fn find_mut<'a>(
    proxies: &'a mut BTreeMap<String, ProxyState>,
    name: &str,
) -> Result<&'a mut ProxyState, ApiError> {
    proxies.get_mut(name).ok_or_else(ApiError::proxy_not_found)
}

/// One proxy.
struct ProxyState {
    name: Arc<str>,
    /// As configured until the proxy first listens; then the address bound,
    /// so that re-enabling listens on the same port (as Toxiproxy reports
    /// and reuses the bound address).
    listen: String,
    upstream: String,
    running: Option<Running>,
    toxics: ToxicSet,
    published: watch::Sender<Arc<ToxicSet>>,
}

/// The accept loop of an enabled proxy. It owns the connections' tasks in
/// a `JoinSet`, so stopping it drops every live connection too.
struct Running {
    accept: JoinHandle<()>,
    local: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl ProxyState {
    fn new(config: &ProxyConfig) -> Self {
        ProxyState {
            name: Arc::from(config.name.as_str()),
            listen: config.listen.clone(),
            upstream: config.upstream.clone(),
            running: None,
            toxics: ToxicSet::default(),
            published: watch::Sender::new(Arc::new(ToxicSet::default())),
        }
    }

    fn to_json(&self) -> Proxy {
        Proxy {
            name: self.name.to_string(),
            listen: self.listen.clone(),
            upstream: self.upstream.clone(),
            enabled: self.running.is_some(),
            toxics: self.toxics_json(),
        }
    }

    fn toxics_json(&self) -> Vec<Toxic> {
        self.toxics.all().map(|e| e.toxic.clone()).collect()
    }

    fn publish(&self) {
        self.published.send_replace(Arc::new(self.toxics.clone()));
    }

    /// Whether `listen` names the address this proxy listens on (as written,
    /// or as bound).
    async fn listens_on(&self, listen: &str) -> bool {
        if listen == self.listen {
            return true;
        }
        match (&self.running, resolve(listen).await) {
            (Some(running), Ok(addr)) => addr == running.local,
            _ => false,
        }
    }

    /// Binds the listen address and starts accepting. Already running: no-op.
    async fn start(&mut self) -> Result<(), ApiError> {
        if self.running.is_some() {
            return Ok(());
        }
        let listener = bind(&self.listen)
            .await
            .map_err(|err| ApiError::internal(format!("listen tcp {}: {err}", self.listen)))?;
        let local = listener
            .local_addr()
            .map_err(|err| ApiError::internal(format!("listen tcp {}: {err}", self.listen)))?;
        self.listen = local.to_string();
        info!(proxy = %self.name, listen = %local, upstream = %self.upstream, "proxy listening");
        let accept = tokio::spawn(accept_loop(
            listener,
            self.name.clone(),
            Arc::from(self.upstream.as_str()),
            self.published.subscribe(),
        ));
        self.running = Some(Running { accept, local });
        Ok(())
    }

    /// Closes the listener (new connections are refused) and drops every
    /// live connection. Returns once the listening socket is closed, so the
    /// address can be bound again at once.
    async fn stop(&mut self) {
        if let Some(mut running) = self.running.take() {
            running.accept.abort();
            let _ = (&mut running.accept).await;
            info!(proxy = %self.name, "proxy stopped");
        }
    }
}

/// `host:port` to a socket address; an empty address means any interface,
/// any port (what Go's `net.Listen("tcp", "")` does).
async fn resolve(listen: &str) -> std::io::Result<SocketAddr> {
    let listen = if listen.is_empty() {
        "0.0.0.0:0"
    } else {
        listen
    };
    tokio::net::lookup_host(listen)
        .await?
        .next()
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no address found for host")
        })
}

async fn bind(listen: &str) -> std::io::Result<TcpListener> {
    let addr = resolve(listen).await?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Re-enabling a proxy must be able to bind the port again while
    // connections from before are still in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept_loop(
    listener: TcpListener,
    proxy: Arc<str>,
    upstream: Arc<str>,
    toxics: watch::Receiver<Arc<ToxicSet>>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _peer)) => {
                    connections.spawn(link::serve(client, proxy.clone(), upstream.clone(), toxics.clone()));
                }
                Err(err) => {
                    // Out of file descriptors and the like: back off, go on.
                    warn!(%proxy, %err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
