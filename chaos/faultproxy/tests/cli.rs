//! The binary: `--config` loading, and a clear error for a bad file.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use gauntlet_faultproxy::ToxiproxyClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn faultproxy() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gauntlet-faultproxy"));
    command
        .env("RUST_LOG", "info")
        .env_remove("FAULTPROXY_HOST")
        .env_remove("FAULTPROXY_PORT")
        .env_remove("FAULTPROXY_CONFIG")
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn config_file_creates_the_proxies() {
    let echo = echo_server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toxiproxy.json");
    let config = serde_json::json!([
        {"name": "echo", "listen": "127.0.0.1:0", "upstream": echo.to_string(), "enabled": true},
        {"name": "off", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9", "enabled": false},
    ]);
    std::fs::write(&path, config.to_string()).unwrap();

    let mut child = faultproxy()
        .args(["--host", "127.0.0.1", "--port", "0", "--config"])
        .arg(&path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.find("API listening on ") {
                return line[at + "API listening on ".len()..].trim().to_string();
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .unwrap();
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let client = ToxiproxyClient::new(url).unwrap();
    let proxies = client.proxies().await.unwrap();
    assert_eq!(proxies.keys().collect::<Vec<_>>(), ["echo", "off"]);
    assert!(!proxies["off"].enabled);
    let mut stream = connect(&proxies["echo"]).await;
    round_trip(&mut stream).await;
    child.kill().await.unwrap();
}

#[tokio::test]
async fn bad_config_file_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "[{\"name\": \"pg\",\n \"upstream\": }]").unwrap();
    let output = faultproxy()
        .args(["--host", "127.0.0.1", "--port", "0", "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("line 2 column"), "{stderr}");
}

#[tokio::test]
async fn missing_config_file_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.json");
    let output = faultproxy()
        .arg("--config")
        .arg(&path)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot read proxy config file"), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
}
