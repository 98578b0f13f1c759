//! The users' HTTP client: one kept-alive HTTP/1.1 connection per goose
//! user, driven inside the user's own task.
//!
//! Why not goose's reqwest client (still used for HTTPS targets, for the
//! profile's own request templates and when `--goose-reports` asks for
//! goose's metrics): profiling `gauntlet bench loadgen` with `perf` showed
//! the generator's user-space time going to reqwest's layers (a URL parse
//! and IDNA pass per request, the proxy matcher, the connection pool's
//! checkout and return) and to hyper's connection running as a separate
//! task, so every request crossed between two tasks, often two threads.
//! Here the request, the answer's body and the connection are polled
//! together by the one task that waits for them, the URL is parsed once,
//! and nothing is pooled: a user has exactly one connection, as a browser
//! tab on HTTP/1.1 would.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// An answer, read to its end.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Hyper(#[from] hyper::Error),
    #[error("the server closed the connection before answering")]
    Closed,
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("bad request: {0}")]
    Request(#[from] http::Error),
}

struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
    driver: Pin<Box<http1::Connection<TokioIo<TcpStream>, Full<Bytes>>>>,
}

/// One user's connection to one `http://` origin.
pub struct UserHttp {
    /// `host:port`, to connect to.
    authority: String,
    /// The same, as the `Host` header (made once: a header value is
    /// checked when made).
    host: http::HeaderValue,
    timeout: Duration,
    conn: Option<Connection>,
}

/// A clone opens a connection of its own when it first sends.
impl Clone for UserHttp {
    fn clone(&self) -> Self {
        UserHttp {
            authority: self.authority.clone(),
            host: self.host.clone(),
            timeout: self.timeout,
            conn: None,
        }
    }
}

impl UserHttp {
    /// A client for `base` (only `http://`; HTTPS stays on reqwest).
    pub fn for_base(base: &str, timeout: Duration) -> Option<UserHttp> {
        let url = url::Url::parse(base).ok()?;
        if url.scheme() != "http" {
            return None;
        }
        let host = match url.host()? {
            url::Host::Ipv6(ip) => format!("[{ip}]"),
            other => other.to_string(),
        };
        let port = url.port_or_known_default()?;
        let authority = format!("{host}:{port}");
        Some(UserHttp {
            host: http::HeaderValue::from_str(&authority).ok()?,
            authority,
            timeout,
            conn: None,
        })
    }

    /// Sends `method path` with `headers` and `body`, reads the whole
    /// answer. On any failure the connection is dropped (the next request
    /// opens a new one); a kept-alive connection that the server closed
    /// while idle is reopened once, before the request was written.
    pub async fn send(
        &mut self,
        method: http::Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, HttpError> {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, self.host.clone())
            .header(http::header::USER_AGENT, "gauntlet");
        for (k, v) in headers {
            builder = builder.header(*k, v);
        }
        let request = builder.body(Full::new(body.map(Bytes::from).unwrap_or_default()))?;
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange(request)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                self.conn = None;
                Err(e)
            }
            Err(_) => {
                self.conn = None;
                Err(HttpError::Timeout(timeout))
            }
        }
    }

    async fn exchange(&mut self, request: http::Request<Full<Bytes>>) -> Result<Answer, HttpError> {
        // A kept-alive connection the server has closed shows as not ready:
        // reopen once (the request was not written yet).
        let reused = self.conn.is_some();
        if reused && !self.ready().await {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(self.connect().await?);
            if !self.ready().await {
                return Err(HttpError::Closed);
            }
        }
        let (result, ended) = {
            let Connection { sender, driver } = self.conn.as_mut().expect("connected above");
            let work = async {
                let answer = sender.send_request(request).await?;
                let (parts, body) = answer.into_parts();
                let body = body.collect().await?.to_bytes();
                Ok::<_, HttpError>(Answer {
                    status: parts.status.as_u16(),
                    headers: parts.headers,
                    body,
                })
            };
            tokio::pin!(work);
            tokio::select! {
                biased;
                answer = &mut work => (answer, false),
                ended = driver.as_mut() => {
                    // The connection ended (`Connection: close`, or the
                    // server hung up): its answer may be complete all the same.
                    let answer = work.await;
                    match (answer, ended) {
                        (Ok(answer), _) => (Ok(answer), true),
                        (Err(_), Err(e)) => (Err(e.into()), true),
                        (Err(e), Ok(())) => (Err(e), true),
                    }
                }
            }
        };
        if ended {
            // Its driver has finished: never poll it again.
            self.conn = None;
        }
        result
    }

    /// Polls the connection until it can take a request; false when it
    /// has ended.
    async fn ready(&mut self) -> bool {
        let Some(Connection { sender, driver }) = self.conn.as_mut() else {
            return false;
        };
        tokio::select! {
            biased;
            ready = futures::future::poll_fn(|cx| sender.poll_ready(cx)) => ready.is_ok(),
            _ = driver.as_mut() => false,
        }
    }

    async fn connect(&self) -> Result<Connection, HttpError> {
        let tcp = TcpStream::connect(&self.authority)
            .await
            .map_err(|source| HttpError::Connect {
                addr: self.authority.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let (sender, driver) = http1::handshake(TokioIo::new(tcp)).await?;
        Ok(Connection {
            sender,
            driver: Box::pin(driver),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A server answering `/n` with the count of requests so far, and
    /// closing every connection after `per_connection` requests.
    async fn server(per_connection: usize) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        tokio::spawn(async move {
            let count = Arc::new(AtomicUsize::new(0));
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                seen.fetch_add(1, Ordering::SeqCst);
                let count = count.clone();
                let served = Arc::new(AtomicUsize::new(0));
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<_>| {
                        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                        let last = served.fetch_add(1, Ordering::SeqCst) + 1 >= per_connection;
                        let host = req
                            .headers()
                            .get("host")
                            .and_then(|h| h.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        async move {
                            let mut answer = hyper::Response::new(Full::new(Bytes::from(format!(
                                "{n} {} {host}",
                                req.uri().path()
                            ))));
                            if last {
                                answer
                                    .headers_mut()
                                    .insert("connection", "close".parse().unwrap());
                            }
                            Ok::<_, std::convert::Infallible>(answer)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        (base, connections)
    }

    #[tokio::test]
    async fn keeps_one_connection_alive_and_reopens_a_closed_one() {
        let (base, connections) = server(3).await;
        let mut http = UserHttp::for_base(&base, Duration::from_secs(5)).unwrap();
        for i in 1..=7 {
            let answer = http
                .send(http::Method::GET, &format!("/p{i}"), &[], None)
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
            assert_eq!(answer.status, 200);
            let text = String::from_utf8_lossy(&answer.body).to_string();
            let authority = base.trim_start_matches("http://");
            assert_eq!(text, format!("{i} /p{i} {authority}"));
        }
        // 3 requests per connection: 7 requests need 3 connections.
        assert_eq!(connections.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn refused_and_timed_out_are_errors_of_their_own() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let mut http = UserHttp::for_base(&base, Duration::from_secs(5)).unwrap();
        let err = http
            .send(http::Method::GET, "/", &[], None)
            .await
            .unwrap_err();
        match &err {
            HttpError::Connect { source, .. } => {
                assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused)
            }
            other => panic!("{other:?}"),
        }
        // A server that accepts and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", silent.local_addr().unwrap());
        let _keep = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let (tcp, _) = silent.accept().await.unwrap();
                held.push(tcp);
            }
        });
        let mut http = UserHttp::for_base(&base, Duration::from_millis(200)).unwrap();
        let err = http
            .send(http::Method::GET, "/", &[], None)
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::Timeout(_)), "{err:?}");
    }

    #[test]
    fn only_plain_http_bases() {
        assert!(UserHttp::for_base("https://127.0.0.1:1", Duration::from_secs(1)).is_none());
        let h = UserHttp::for_base("http://localhost", Duration::from_secs(1)).unwrap();
        assert_eq!(h.authority, "localhost:80");
    }
}
