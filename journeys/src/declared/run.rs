//! Runs a declared journey's steps on a [`Journey`]: the same recorder,
//! retries, flaky marking and budget as the Rust journeys.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gauntlet_harness::steps::{Action, Observed, Scope, Step};
use gauntlet_harness::sut::Sut;

use super::DeclaredJourney;
use crate::journey::{Failure, Journey, Outcome};
use crate::report::Exchange;

impl DeclaredJourney {
    pub async fn run(&self, j: &mut Journey) -> Outcome {
        let sut = j.sut().clone();
        let unique = format!("{}-{}", self.name, j.unique());
        let secrets = sut.secrets().clone();
        let mut scope = Scope::new(&sut.run_id, j.seed(), &self.name, unique).with_secrets(
            secrets
                .names()
                .filter_map(|n| secrets.get(n).map(|v| (n, v))),
        );
        for (name, template) in &self.vars {
            let value = template
                .render_value(&mut scope)
                .map_err(|e| Failure::new(format!("vars.{name}: {e}")))?;
            scope.set(name, value);
        }
        let primary = Sut::primary_endpoint(&sut.config);
        for step in &self.steps {
            j.step(&step.name);
            run_step(j, &mut scope, step, &primary)
                .await
                .map_err(|f| Failure::new(scope.scrub(&f.message)))?;
        }
        Ok(())
    }
}

async fn run_step(j: &mut Journey, scope: &mut Scope, step: &Step, primary: &str) -> Outcome {
    if let Action::Sleep(d) = &step.action {
        tokio::time::sleep(*d).await;
        return Ok(());
    }
    let started = Instant::now();
    let mut tries = 0u32;
    loop {
        tries += 1;
        match attempt(j, scope, step, primary).await {
            Ok(seen) => return capture(scope, step, &seen),
            Err(message) => match step.eventually {
                Some(e) if started.elapsed() + e.every <= e.within => {
                    tokio::time::sleep(e.every).await;
                }
                Some(e) => {
                    return Err(Failure::new(format!(
                        "did not hold within {} ({tries} tries); last: {message}",
                        human(e.within)
                    )))
                }
                None => return Err(Failure::new(message)),
            },
        }
    }
}

/// One try of a step: its request (or copies, or probe) sent and checked.
/// `Ok` carries the observation captures read from.
async fn attempt(
    j: &mut Journey,
    scope: &mut Scope,
    step: &Step,
    primary: &str,
) -> Result<Observed, String> {
    match &step.action {
        Action::Sleep(_) => Ok(Observed::default()),
        Action::Probe(probe) => {
            let t = Instant::now();
            let reply = probe.run(&j.sut().clone(), scope).await;
            let seen = Observed::probe(reply, t.elapsed());
            j.record_exchange(Exchange {
                service: "probe".into(),
                method: "PROBE".into(),
                path: scope.scrub(&probe.describe()),
                status: None,
                millis: t.elapsed().as_millis() as u64,
            });
            step.expect
                .check(&seen, scope)
                .map_err(|e| format!("probe `{}`: {e}", probe.describe()))?;
            Ok(seen)
        }
        Action::Request(template) => {
            let mut rendered = Vec::new();
            for index in 0..step.concurrent {
                scope.index = index;
                rendered.push(template.render(scope, primary)?);
            }
            scope.index = 0;
            let endpoint = rendered[0].endpoint.clone();
            let base = j
                .sut()
                .endpoint(&endpoint)
                .map_err(|_| {
                    format!("no `{endpoint}` endpoint for this target (--endpoint {endpoint}=URL)")
                })?
                .to_string();
            let client = j.http_client();
            let seen: Vec<Observed> =
                futures::future::join_all(rendered.iter().map(|r| r.send(&client, &base))).await;
            for (r, s) in rendered.iter().zip(&seen) {
                j.record_exchange(Exchange {
                    service: r.endpoint.clone(),
                    method: r.method.to_string(),
                    path: scope.scrub(&r.path),
                    status: s.status,
                    millis: s.elapsed.as_millis() as u64,
                });
            }
            let what = rendered[0].describe();
            if step.concurrent > 1 {
                let what = format!("{} concurrent copies of {what}", step.concurrent);
                if let Some(expected) = &step.count {
                    let got = counts(&seen);
                    if &got != expected {
                        return Err(format!(
                            "{what}: expected {}; got {}",
                            show_counts(expected),
                            show_counts(&got)
                        ));
                    }
                }
                for (i, s) in seen.iter().enumerate() {
                    step.expect
                        .check(s, scope)
                        .map_err(|e| format!("{what}: copy {i}: {e}"))?;
                }
                // Captures read the first successful copy.
                let best = seen
                    .iter()
                    .position(|s| s.status.is_some_and(|c| (200..300).contains(&c)))
                    .unwrap_or(0);
                return Ok(seen.into_iter().nth(best).expect("at least one copy"));
            }
            let seen = seen.into_iter().next().expect("one request");
            step.expect
                .check(&seen, scope)
                .map_err(|e| format!("{what}: {e}"))?;
            Ok(seen)
        }
    }
}

fn capture(scope: &mut Scope, step: &Step, seen: &Observed) -> Outcome {
    for (name, source) in &step.capture {
        let value = seen.captured(source).ok_or_else(|| {
            Failure::new(format!(
                "capture `{name}`: nothing at {source:?} in {}",
                seen.snippet()
            ))
        })?;
        scope.set(name, value);
    }
    Ok(())
}

fn counts(seen: &[Observed]) -> BTreeMap<u16, u32> {
    let mut out = BTreeMap::new();
    for s in seen {
        *out.entry(s.status.unwrap_or(0)).or_insert(0) += 1;
    }
    out
}

/// `202 × 1, 409 × 9` (status 0: no answer).
fn show_counts(counts: &BTreeMap<u16, u32>) -> String {
    counts
        .iter()
        .map(|(status, n)| {
            if *status == 0 {
                format!("no answer × {n}")
            } else {
                format!("{status} × {n}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
