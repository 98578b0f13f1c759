//! Test servers and helpers: everything on 127.0.0.1 with ephemeral ports,
//! so tests run in parallel without sharing anything.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gauntlet_faultproxy::{Proxy, ProxyConfig, RunningServer, Server, ToxiproxyClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A fault proxy server in this process, and a client for it.
pub struct Harness {
    pub server: RunningServer,
    pub client: ToxiproxyClient,
}

impl Harness {
    pub async fn start() -> Harness {
        let server = Server::bind("127.0.0.1:0").await.unwrap().spawn().unwrap();
        let client = ToxiproxyClient::new(server.url()).unwrap();
        Harness { server, client }
    }

    /// A proxy on an ephemeral port in front of `upstream`.
    pub async fn proxy(&self, name: &str, upstream: SocketAddr) -> Proxy {
        self.client
            .create(&ProxyConfig::new(name, "127.0.0.1:0", upstream.to_string()))
            .await
            .unwrap()
    }
}

pub async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Sends back whatever it receives, until the peer closes.
pub async fn echo_server() -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = socket.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Counts the bytes of each connection and reports the count when the
/// connection ends.
pub async fn counting_server() -> (SocketAddr, mpsc::UnboundedReceiver<usize>) {
    let (listener, addr) = listener().await;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut total = 0;
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = socket.read(&mut buf).await {
                    total += n;
                }
                let _ = tx.send(total);
            });
        }
    });
    (addr, rx)
}

/// Sends `payload` to each client, then closes.
pub async fn say_and_close_server(payload: &'static [u8]) -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(payload).await;
        }
    });
    addr
}

pub async fn connect(proxy: &Proxy) -> TcpStream {
    let stream = TcpStream::connect(&proxy.listen).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// One round trip through an echo server.
pub async fn round_trip(stream: &mut TcpStream) -> Duration {
    let start = Instant::now();
    stream.write_all(b"ping\n").await.unwrap();
    let mut buf = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut buf))
        .await
        .expect("echo within 5 s")
        .unwrap();
    assert_eq!(&buf, b"ping\n");
    start.elapsed()
}

pub async fn round_trips(stream: &mut TcpStream, n: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        times.push(round_trip(stream).await);
    }
    times
}

pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Reads until EOF or error (at most `limit`), returning the bytes and how
/// the stream ended.
pub async fn read_to_end(
    stream: &mut TcpStream,
    limit: Duration,
) -> (Vec<u8>, std::io::Result<()>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let result = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(err) => return Err(err),
            }
        }
    })
    .await
    .expect("stream ended in time");
    (data, result)
}
