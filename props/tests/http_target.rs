//! `HttpTarget` end to end: the in-process rules router behind a minimal
//! HTTP/1.1 server on 127.0.0.1, so every request and answer crosses real
//! sockets as JSON text (floats included) with the admin token header.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use common::InProcess;
use gauntlet_props::{run, HttpTarget, Outcome, RulesApi, RunOptions};
use gauntlet_rules::Mistakes;

const TOKEN: &str = "props-test-token";

/// Public routes of the contract; everything else needs the admin token.
fn is_public(method: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    matches!(
        (method, path),
        ("POST", "/v1/repogen/evaluate") | ("GET", "/api/v1/feed")
    )
}

fn serve_one(mut stream: TcpStream, api: &InProcess) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let (mut length, mut token) = (0usize, None);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "x-admin-token" => token = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let body: Option<serde_json::Value> =
        (!body.is_empty()).then(|| serde_json::from_slice(&body).unwrap());
    let reply = if !is_public(&method, &path) && token.as_deref() != Some(TOKEN) {
        gauntlet_props::Reply {
            status: 401,
            body: serde_json::json!({"error": {"code": "AUTH001", "message": "unauthorized"}}),
        }
    } else {
        api.call(&method, &path, body.as_ref()).unwrap()
    };
    let text = reply.body.to_string();
    write!(
        stream,
        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        reply.status,
        text.len()
    )?;
    stream.flush()
}

/// Serves `api` until the process ends; returns the base URL.
fn serve(api: InProcess) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let api = Arc::new(api);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let api = Arc::clone(&api);
            std::thread::spawn(move || {
                let _ = serve_one(stream, &api);
            });
        }
    });
    url
}

#[test]
fn whole_catalogue_passes_over_http() {
    let url = serve(InProcess::new(Mistakes::NONE));
    let target = HttpTarget::new(url, Some(TOKEN.into()));
    let opts = RunOptions {
        seed: 42,
        only: common::rules_engine_properties(),
        cases: Some(20),
        ..Default::default()
    };
    let report = run(&target, &opts, &mut |_| {}).unwrap();
    assert_eq!(
        report.results.len(),
        common::rules_engine_properties().len()
    );
    for r in &report.results {
        assert_eq!(r.outcome, Outcome::Passed, "{}", r.name);
    }
}

#[test]
fn a_missing_admin_token_is_an_error_naming_the_token() {
    let url = serve(InProcess::new(Mistakes::NONE));
    let target = HttpTarget::new(url, None);
    let opts = RunOptions {
        seed: 42,
        cases: Some(2),
        only: vec![
            "ledger_matches_model".into(),
            "valuation_matches_model".into(),
        ],
        ..Default::default()
    };
    let report = run(&target, &opts, &mut |_| {}).unwrap();
    let outcome = |name: &str| {
        let r = report.results.iter().find(|r| r.name == name).unwrap();
        r.outcome.clone()
    };
    match outcome("ledger_matches_model") {
        Outcome::Error(e) => assert!(e.contains("admin token"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        outcome("valuation_matches_model"),
        Outcome::Passed,
        "the public route needs no token"
    );
}
