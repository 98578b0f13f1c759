//! Runs one load profile against a running stack and prints the verdicts.
//!
//! ```text
//! cargo run -p gauntlet-scenarios --example run_profile -- \
//!     --profile smoke --url http://127.0.0.1:PORT --webhook-secret SECRET \
//!     [--admin-token TOKEN] [--out DIR] [--slo FILE]
//! ```
//! `--profile` is a name in `scenarios/profiles/` or a path to a `.toml`.
//! Writes goose's reports, `load.json` and `verdicts.json` into `--out`
//! (default `target/load/<profile>`). Exit code 1 when an SLO failed.

use std::path::{Path, PathBuf};

use gauntlet_scenarios::slo::{all_passed, verdict_table};
use std::collections::BTreeMap;
use std::sync::Arc;

use gauntlet_harness::config::{Config, Overrides};
use gauntlet_harness::sut::{Secrets, Sut};
use gauntlet_scenarios::{evaluate, run, shipped_dir, LoadPlan, Profile, SloFile};

fn usage() -> ! {
    eprintln!(
        "usage: run_profile --profile NAME|FILE --url URL [--webhook-secret S] [--admin-token T] [--out DIR] [--slo FILE]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut profile, mut url, mut secret, mut admin, mut out, mut slo) =
        (None, None, None, None, None, None);
    while let Some(a) = args.next() {
        let mut v = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--profile" => profile = Some(v()),
            "--url" => url = Some(v()),
            "--webhook-secret" => secret = Some(v()),
            "--admin-token" => admin = Some(v()),
            "--out" => out = Some(PathBuf::from(v())),
            "--slo" => slo = Some(PathBuf::from(v())),
            _ => usage(),
        }
    }
    let (Some(profile), Some(url)) = (profile, url) else {
        usage()
    };
    // The reference system's project file says what the api is and how
    // its identity is proven.
    let config = Config::load(
        Some(&shipped_dir().join("../gauntlet.toml")),
        Overrides::default(),
    )
    .unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let profile = if profile.ends_with(".toml") {
        Profile::load_with_config(Path::new(&profile), &config)
    } else {
        Profile::load_named_with_config(&shipped_dir().join("profiles"), &profile, &config)
    }
    .unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let slos = SloFile::load(&slo.unwrap_or_else(|| shipped_dir().join("slo.toml")))
        .and_then(|file| file.for_run(&profile))
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        });
    let out = out.unwrap_or_else(|| PathBuf::from("target/load").join(&profile.name));
    let mut secrets = Secrets::default();
    if let Some(s) = secret {
        secrets.insert("webhook_secret", s);
    }
    if let Some(t) = admin {
        secrets.insert("admin_token", t);
    }
    let sut = Sut::assemble(
        Arc::new(config),
        BTreeMap::from([("api".to_string(), url.clone())]),
        secrets,
        42,
    );
    if let Err(e) = sut.verify_identity().await {
        eprintln!("{e}");
        std::process::exit(2)
    }
    eprintln!(
        "profile {} ({} mode, {} users, {:?}) against {}",
        profile.name,
        profile.mode.name(),
        profile.users,
        profile.total_duration(),
        url
    );
    let plan = LoadPlan::new(profile).with_slo(slos.clone());
    let report = run(&plan, &sut, &out).await.unwrap_or_else(|e| {
        eprintln!("load run failed: {e}");
        std::process::exit(1)
    });
    let verdicts = evaluate(&report, &slos);
    std::fs::write(
        out.join("verdicts.json"),
        serde_json::to_string_pretty(&verdicts).unwrap() + "\n",
    )
    .expect("write verdicts.json");

    println!("latency: {}", report.latency_mode);
    if let Some(a) = &report.aborted {
        println!("ABORTED: {a}");
    }
    println!("\n{}", report.transaction_table());
    let all = "all".to_string();
    for (name, b) in report.transactions.iter().chain([(&all, &report.all)]) {
        if !b.run.errors.is_empty() || !b.run.refusals.is_empty() {
            println!(
                "{name}: errors {:?} refusals {:?}",
                b.run.errors, b.run.refusals
            );
        }
    }
    if let Some(o) = &report.open_model {
        println!("open model: {o:?}");
    }
    println!("\n{}", verdict_table(&verdicts));
    println!("reports in {}", out.display());
    if !all_passed(&verdicts) {
        std::process::exit(1);
    }
}
