//! The generator's own limits: requests/s of gauntlet's generator and of
//! wrk against one URL, and latency accuracy against a known delay.
//!
//! ```text
//! cargo run -p gauntlet-scenarios --example bench -- URL|inproc [CONNECTIONS] [SECONDS]
//! ```

use std::time::Duration;

use gauntlet_scenarios::{latency_accuracy, loadgen_max_rate, wrk_max_rate};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut url = args.next().unwrap_or_else(|| {
        eprintln!("usage: bench URL|inproc [CONNECTIONS] [SECONDS]");
        std::process::exit(2)
    });
    if url == "inproc" {
        // A server in this process that answers at once: the generators' own limit.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        url = format!("http://{}/", listener.local_addr().unwrap());
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let conns: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let d = Duration::from_secs(secs);
    match loadgen_max_rate(&url, conns, d).await {
        Ok(r) => println!("{}", serde_json::to_string(&r).unwrap()),
        Err(e) => println!("gauntlet generator: {e}"),
    }
    match wrk_max_rate(&url, conns, 2, d) {
        Ok(r) => println!("{}", serde_json::to_string(&r).unwrap()),
        Err(e) => println!("wrk: {e}"),
    }
    match gauntlet_scenarios::stall_visibility(1000).await {
        Ok(r) => println!("{}", serde_json::to_string(&r).unwrap()),
        Err(e) => println!("stall: {e}"),
    }
    for delay in [10, 50, 200] {
        match latency_accuracy(delay).await {
            Ok(r) => println!("{}", serde_json::to_string(&r).unwrap()),
            Err(e) => println!("accuracy {delay} ms: {e}"),
        }
    }
}
