//! The page: [`Report`] as one HTML document with inline CSS and SVG and no
//! script, so it reads with JavaScript off, prints, and needs no network.

use std::fmt::Write as _;

use super::chart::{
    lane_chart, thresholds_above, time_chart, Band, Colour, Lane, LaneChart, Layer, Line, Marker,
    Span, Stack, Threshold, TimeChart,
};
use super::model::{
    class_list, seconds, trim_number, Chaos, Check, Drill, Event, Experiment, Journeys, Load,
    Props, Report, Section, Series,
};

const CSS: &str = r#"
:root { --pass: #1a7f37; --fail: #cf222e; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       margin: 0 auto; max-width: 1040px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-top: 8px; border-top: 2px solid var(--line); }
h3 { font-size: 15px; margin: 24px 0 6px; }
code, pre { font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
pre { background: #f6f8fa; padding: 8px 10px; overflow-x: auto; white-space: pre-wrap;
      word-break: break-word; border-radius: 4px; }
code.replay { display: block; background: #f6f8fa; padding: 8px 10px; border-radius: 4px;
              word-break: break-all; }
.pass { color: var(--pass); font-weight: 600; }
.fail { color: var(--fail); font-weight: 600; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
         font-weight: 600; color: #fff; vertical-align: middle; }
.badge.pass { background: var(--pass); color: #fff; }
.badge.fail { background: var(--fail); color: #fff; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 0; text-align: left;
         vertical-align: top; }
th { font-weight: 600; }
td.num, th.num { text-align: right; padding-right: 14px; font-variant-numeric: tabular-nums;
                 white-space: nowrap; }
td.bad { color: var(--fail); font-weight: 600; }
figure.chart { margin: 8px 0 16px; }
figure.chart svg { width: 100%; height: auto; display: block; }
figure.chart figcaption { color: var(--muted); font-size: 12px; }
nav ul { margin: 4px 0; padding-left: 20px; }
details > summary { cursor: pointer; color: var(--muted); }
.note { background: #fff8c5; padding: 6px 10px; border-radius: 4px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print {
  body { max-width: none; padding: 0; }
  nav { display: none; }
  figure.chart, table { break-inside: avoid; }
  h2 { break-before: auto; }
}
"#;

/// HTML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn badge(passed: bool) -> &'static str {
    if passed {
        r#"<span class="badge pass">PASSED</span>"#
    } else {
        r#"<span class="badge fail">FAILED</span>"#
    }
}

fn mark(passed: bool) -> &'static str {
    if passed {
        r#"<span class="pass">pass</span>"#
    } else {
        r#"<span class="fail">FAIL</span>"#
    }
}

/// A chart, or the reason it could not be drawn (never a silent gap).
fn figure(svg: Result<String, super::chart::ChartError>, caption: &str) -> String {
    match svg {
        Ok(svg) => format!(
            "<figure class=\"chart\">{svg}<figcaption>{}</figcaption></figure>\n",
            escape(caption)
        ),
        Err(e) => format!("<p class=\"note\">{}</p>\n", escape(&e.to_string())),
    }
}

/// A table: header cells (a leading `#` marks a numeric column) and rows
/// of already-escaped HTML cells.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let numeric: Vec<bool> = header.iter().map(|h| h.starts_with('#')).collect();
    let mut out = String::from("<table><thead><tr>");
    for (h, num) in header.iter().zip(&numeric) {
        let _ = write!(
            out,
            "<th{}>{}</th>",
            if *num { " class=\"num\"" } else { "" },
            escape(h.trim_start_matches('#'))
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if numeric.get(i).copied().unwrap_or(false) {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    out
}

fn checks_table(checks: &[Check]) -> String {
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| vec![escape(&c.name), mark(c.passed).into(), escape(&c.detail)])
        .collect();
    table(&["check", "result", "detail"], &rows)
}

fn events_table(events: &[Event], what: &str) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                format!("+{:.3} s", e.at_ms as f64 / 1000.0),
                if e.ok {
                    escape(&e.kind)
                } else {
                    format!("<span class=\"fail\">{}</span>", escape(&e.kind))
                },
                escape(&e.detail),
            ]
        })
        .collect();
    format!(
        "<details><summary>{} ({} entries)</summary>\n{}</details>\n",
        escape(what),
        events.len(),
        table(&["#at", what, "detail"], &rows)
    )
}

pub fn render(report: &Report) -> String {
    let passed = report.sections.iter().all(Section::passed)
        && report
            .commands
            .last()
            .map(|r| r.exit_code == 0)
            .unwrap_or(true);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        escape(&report.title)
    );
    let _ = write!(
        html,
        "<header>\n<h1>{} {}</h1>\n",
        escape(&report.title),
        badge(passed)
    );
    if let Some(run) = report.commands.last() {
        let mut facts: Vec<(&str, String)> = vec![
            ("command", format!("gauntlet {}", run.command)),
            ("run", run.run_id.clone().unwrap_or_else(|| "–".into())),
            (
                "seed",
                run.seed
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "–".into()),
            ),
        ];
        if let Some(system) = &run.system {
            facts.push(("system", system.clone()));
        }
        if let Some(profile) = &run.profile {
            facts.push(("profile", profile.clone()));
        }
        if !run.experiments.is_empty() {
            facts.push(("experiments", run.experiments.join(", ")));
        }
        if let Some(fixture) = &run.fixture {
            facts.push(("fixture", fixture.clone()));
        }
        facts.push((
            "defects",
            if run.defects.is_empty() {
                "none".into()
            } else {
                run.defects.join(", ")
            },
        ));
        facts.push(("started", run.started_at.clone()));
        facts.push(("took", format!("{:.1} s", run.duration_s)));
        facts.push(("exit code", run.exit_code.to_string()));
        facts.push(("gauntlet", run.gauntlet_version.clone()));
        html.push_str("<dl class=\"facts\">\n");
        for (k, v) in facts {
            let _ = writeln!(html, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
        }
        html.push_str("</dl>\n");
        let _ = writeln!(
            html,
            "<p>Replay this run:</p>\n<code class=\"replay\" id=\"replay\">{}</code>",
            escape(&run.replay)
        );
        if report.commands.len() > 1 {
            html.push_str(
                "<details><summary>Every command that wrote into this folder</summary>\n<ol>\n",
            );
            for c in &report.commands {
                let _ = writeln!(
                    html,
                    "<li>{} · exit {} · <code>{}</code></li>",
                    escape(&c.started_at),
                    c.exit_code,
                    escape(&c.replay)
                );
            }
            html.push_str("</ol>\n</details>\n");
        }
    }
    html.push_str("</header>\n");
    html.push_str("<nav>\n<h2>Contents</h2>\n<ul>\n");
    for section in &report.sections {
        let _ = writeln!(
            html,
            "<li><a href=\"#{}\">{}</a> {}</li>",
            section.id(),
            escape(&section_title(section)),
            mark(section.passed())
        );
    }
    for part in &report.parts {
        let _ = writeln!(
            html,
            "<li><a href=\"{}\">{}</a> {}</li>",
            escape(&part.href),
            escape(&part.name),
            part.passed.map(mark).unwrap_or("")
        );
    }
    html.push_str("</ul>\n</nav>\n<main>\n");
    for section in &report.sections {
        let _ = write!(
            html,
            "<section id=\"{}\">\n<h2>{} {}</h2>\n",
            section.id(),
            escape(&section_title(section)),
            badge(section.passed())
        );
        html.push_str(&match section {
            Section::Load(l) => load(l),
            Section::Chaos(c) => chaos(c),
            Section::Drill(d) => drill(d),
            Section::Journeys(j) => journeys(j),
            Section::Props(p) => props(p),
        });
        html.push_str("</section>\n");
    }
    html.push_str(
        "</main>\n<footer>Made by gauntlet from the JSON files in this folder; \
                   <code>gauntlet report DIR</code> renders it again.</footer>\n</body>\n</html>\n",
    );
    html
}

fn section_title(section: &Section) -> String {
    match section {
        Section::Load(l) => format!("Load: profile {}", l.profile),
        Section::Chaos(c) => format!(
            "Chaos: {} experiment{}",
            c.experiments.len(),
            if c.experiments.len() == 1 { "" } else { "s" }
        ),
        Section::Drill(_) => "Restore drill".into(),
        Section::Journeys(j) => format!("Journeys: {}", j.journeys.len()),
        Section::Props(p) => format!("Properties: {}", p.properties.len()),
    }
}

// ---------------------------------------------------------------- load

fn load(l: &Load) -> String {
    let mut html = String::new();
    let _ = writeln!(
        html,
        "<p>{} model, {} users, {:.1} s against <code>{}</code>, started {}. Latency: {}.</p>",
        escape(&l.mode),
        l.users,
        l.duration_s,
        escape(&l.target),
        escape(&l.started_at),
        escape(&l.latency_mode)
    );
    if let Some(reason) = &l.aborted {
        let _ = writeln!(
            html,
            "<p class=\"note fail\">The attack stopped early: {}</p>",
            escape(reason)
        );
    }
    html.push_str("<h3>SLO verdicts</h3>\n");
    let rows: Vec<Vec<String>> = l
        .verdicts
        .iter()
        .map(|v| {
            let unit = if v.unit == "%" { " %" } else { " " };
            vec![
                escape(v.phase.as_deref().unwrap_or("(run)")),
                escape(&v.slo),
                format!(
                    "{:.2}{unit}{}",
                    v.observed,
                    escape(v.unit.trim_start_matches('%'))
                ),
                format!(
                    "&lt; {}{unit}{}",
                    trim_number(v.threshold),
                    escape(v.unit.trim_start_matches('%'))
                ),
                v.samples.to_string(),
                if v.passed {
                    mark(true).to_string()
                } else if v.classes.is_empty() {
                    mark(false).to_string()
                } else {
                    format!("{} ({})", mark(false), escape(&v.classes))
                },
            ]
        })
        .collect();
    if rows.is_empty() {
        html.push_str("<p class=\"muted\">No SLO verdicts (verdicts.json) in this folder.</p>\n");
    } else {
        html.push_str(&table(
            &["phase", "SLO", "#observed", "#limit", "#samples", "verdict"],
            &rows,
        ));
    }
    let bands: Vec<Band> = l
        .phases
        .iter()
        .enumerate()
        .map(|(i, p)| Band {
            label: p.name.clone(),
            from: p.start_s,
            to: p.end_s,
            colour: Colour::Phase(i),
        })
        .collect();
    if l.series.is_empty() {
        html.push_str(
            "<p class=\"note\">This load.json has no time series (it was written before \
             gauntlet recorded them), so there are no charts over time.</p>\n",
        );
    }
    for (i, series) in l.series.iter().enumerate() {
        let title = if series.name == "all" {
            "All transactions".to_string()
        } else {
            format!("Transaction {}", series.name)
        };
        let _ = writeln!(
            html,
            "<details open class=\"series\" id=\"series-{i}\"><summary><h3 style=\"display:inline\">{}</h3></summary>",
            escape(&title)
        );
        html.push_str(&latency_chart(l, series, &bands));
        html.push_str(&throughput_chart(l, series, &bands));
        html.push_str("</details>\n");
    }
    html.push_str("<h3>Transactions</h3>\n");
    let rows: Vec<Vec<String>> = l
        .transactions
        .iter()
        .map(|t| {
            vec![
                escape(&t.name),
                t.count.to_string(),
                if t.errors > 0 {
                    format!("<span class=\"fail\">{}</span>", t.errors)
                } else {
                    "0".into()
                },
                t.refusals.to_string(),
                format!("{:.1}", t.rps),
                format!("{:.1}", t.p50_ms),
                format!("{:.1}", t.p95_ms),
                format!("{:.1}", t.p99_ms),
                format!("{:.1}", t.max_ms),
            ]
        })
        .collect();
    html.push_str(&table(
        &[
            "transaction",
            "#count",
            "#errors",
            "#refused",
            "#req/s",
            "#p50 ms",
            "#p95 ms",
            "#p99 ms",
            "#max ms",
        ],
        &rows,
    ));
    if !l.error_classes.is_empty() {
        let _ = writeln!(
            html,
            "<p>Errors by class: {}</p>",
            escape(&class_list(&l.error_classes))
        );
    }
    if let Some(g) = &l.generator {
        let _ = writeln!(html, "<p class=\"muted\">Generator: {}</p>", escape(g));
    }
    html
}

fn latency_chart(l: &Load, series: &Series, bands: &[Band]) -> String {
    let line =
        |label: &str, colour: usize, pick: fn(&super::model::SeriesPoint) -> Option<f64>| Line {
            label: label.to_string(),
            colour: Colour::Series(colour),
            points: series.points.iter().map(|p| (p.t_s, pick(p))).collect(),
        };
    let chart = TimeChart {
        title: format!("{}: latency over time", series.name),
        x_label: "seconds since the attack started".into(),
        y_label: "ms".into(),
        x_max: l.duration_s,
        height: 250,
        bands: bands.to_vec(),
        stack: None,
        // Highest first, so where two percentiles are equal (a bucket with
        // few requests) the lower one is drawn on top and both show.
        lines: vec![
            line("p99", 2, |p| p.p99_ms),
            line("p95", 1, |p| p.p95_ms),
            line("p50", 0, |p| p.p50_ms),
        ],
        thresholds: series
            .slos
            .iter()
            .map(|s| Threshold {
                label: format!("SLO {}", s.label),
                y: s.ms,
                from: s.from_s,
                to: s.to_s,
            })
            .collect(),
        markers: vec![],
    };
    let above: Vec<String> = thresholds_above(&chart)
        .iter()
        .map(|t| t.label.clone())
        .collect();
    figure(
        time_chart(&chart),
        &format!(
            "{}: p50, p95 and p99 per {} s, SLO limits dashed, phases shaded.{}",
            series.name,
            trim_number(l.bucket_s.unwrap_or(1.0)),
            if above.is_empty() {
                String::new()
            } else {
                format!(" Far above the data, not drawn: {}.", above.join(", "))
            }
        ),
    )
}

fn throughput_chart(l: &Load, series: &Series, bands: &[Band]) -> String {
    let bucket = l.bucket_s.unwrap_or(1.0).max(f64::EPSILON);
    let mut classes: Vec<&String> = series
        .points
        .iter()
        .flat_map(|p| p.error_classes.keys())
        .collect();
    classes.sort();
    classes.dedup();
    let stack = (!classes.is_empty()).then(|| Stack {
        x: series.points.iter().map(|p| p.t_s).collect(),
        width: bucket,
        layers: classes
            .iter()
            .enumerate()
            .map(|(i, class)| Layer {
                label: format!("errors/s: {class}"),
                colour: Colour::Series(3 + i),
                values: series
                    .points
                    .iter()
                    .map(|p| p.error_classes.get(*class).copied().unwrap_or(0) as f64 / bucket)
                    .collect(),
            })
            .collect(),
    });
    let chart = TimeChart {
        title: format!("{}: throughput and errors over time", series.name),
        x_label: "seconds since the attack started".into(),
        y_label: "requests/s".into(),
        x_max: l.duration_s,
        height: 210,
        bands: bands.to_vec(),
        stack,
        lines: vec![Line {
            label: "requests/s".into(),
            colour: Colour::Series(0),
            points: series.points.iter().map(|p| (p.t_s, Some(p.rps))).collect(),
        }],
        thresholds: vec![],
        markers: vec![],
    };
    let errors: u64 = series
        .points
        .iter()
        .flat_map(|p| p.error_classes.values())
        .sum();
    figure(
        time_chart(&chart),
        &format!(
            "{}: requests per second; errors per second stacked by class ({errors} errors).",
            series.name
        ),
    )
}

// ---------------------------------------------------------------- chaos

fn chaos(c: &Chaos) -> String {
    let mut html = String::new();
    for e in &c.experiments {
        html.push_str(&experiment(e));
    }
    html
}

fn experiment(e: &Experiment) -> String {
    let mut html = String::new();
    let _ = writeln!(
        html,
        "<h3 id=\"chaos-{}\">{} {}</h3>\n<p>{}</p>",
        escape(&e.name),
        escape(&e.name),
        badge(e.passed),
        escape(&e.title)
    );
    // Fixed words and numbers only: HTML as it stands.
    let recovery = match (e.recovery_from_end_ms, e.recovery_from_start_ms) {
        (Some(end), Some(start)) => format!(
            "recovered {} after the fault ended ({} after it started)",
            seconds(end),
            seconds(start)
        ),
        (Some(end), None) => format!("recovered {} after the fault ended", seconds(end)),
        _ => "<span class=\"fail\">did not recover</span>".into(),
    };
    let _ = writeln!(
        html,
        "<p>{recovery} · {} in all{}</p>",
        seconds(e.millis),
        e.seed.map(|s| format!(" · seed {s}")).unwrap_or_default()
    );
    if !e.reasons.is_empty() {
        html.push_str("<ul class=\"fail\">\n");
        for r in &e.reasons {
            let _ = writeln!(html, "<li>{}</li>", escape(r));
        }
        html.push_str("</ul>\n");
    }
    let secs = |ms: u64| ms as f64 / 1000.0;
    let mut bands = Vec::new();
    if let Some(start) = e.fault_start_ms {
        bands.push(Band {
            label: "fault".into(),
            from: secs(start),
            to: secs(e.fault_end_ms.unwrap_or(e.millis)),
            colour: Colour::Fault,
        });
    }
    let mut markers = Vec::new();
    if let Some(start) = e.fault_start_ms {
        markers.push(Marker {
            label: format!("fault injected +{:.1} s", secs(start)),
            at: secs(start),
            colour: Colour::Fail,
        });
    }
    if let Some(end) = e.fault_end_ms {
        markers.push(Marker {
            label: format!("fault ended +{:.1} s", secs(end)),
            at: secs(end),
            colour: Colour::Limit,
        });
    }
    if let Some(at) = e.recovered_ms {
        markers.push(Marker {
            label: format!(
                "recovered +{:.1} s ({} from fault end, {} from start)",
                secs(at),
                e.recovery_from_end_ms.map(seconds).unwrap_or_default(),
                e.recovery_from_start_ms.map(seconds).unwrap_or_default()
            ),
            at: secs(at),
            colour: Colour::Pass,
        });
    }
    let mut lanes: Vec<Lane> = e
        .probes
        .iter()
        .map(|p| Lane {
            label: if p.role == "steady_state" {
                p.probe.clone()
            } else {
                format!("{} ({})", p.probe, p.role.replace('_', " "))
            },
            spans: p
                .samples
                .iter()
                .map(|s| Span {
                    from: secs(s.at_ms.saturating_sub(s.millis)),
                    to: secs(s.at_ms),
                    colour: if s.ok { Colour::Pass } else { Colour::Fail },
                })
                .collect(),
        })
        .collect();
    for a in &e.actions {
        let label = format!("action: {}", a.kind);
        let span = Span {
            from: secs(a.at_ms),
            to: secs(a.at_ms + a.millis),
            colour: if a.ok {
                Colour::Series(0)
            } else {
                Colour::Fail
            },
        };
        match lanes.iter_mut().find(|l| l.label == label) {
            Some(lane) => lane.spans.push(span),
            None => lanes.push(Lane {
                label,
                spans: vec![span],
            }),
        }
    }
    let chart = LaneChart {
        title: format!("{}: probes over time", e.name),
        x_label: "seconds since the experiment started".into(),
        x_max: secs(e.millis),
        lanes,
        bands,
        markers,
    };
    html.push_str(&figure(
        lane_chart(&chart),
        "Each probe's evaluations (green pass, red fail); the fault window shaded; \
         actions in blue.",
    ));
    let mut checks: Vec<Check> = e.thresholds.clone();
    checks.extend(e.after_fault.iter().map(|c| Check {
        name: format!("after the fault: {}", c.name),
        ..c.clone()
    }));
    if !checks.is_empty() {
        html.push_str(&checks_table(&checks));
    }
    if let Some(ledger) = &e.ledger {
        let _ = writeln!(
            html,
            "<h4>Write ledger: {}</h4>",
            if ledger.nothing_lost {
                "<span class=\"pass\">no acknowledged write lost</span>"
            } else {
                "<span class=\"fail\">writes lost or duplicated</span>"
            }
        );
        let mut header: Vec<String> = vec!["kind".into()];
        header.extend(ledger.columns.iter().map(|c| format!("#{c}")));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = ledger
            .kinds
            .iter()
            .map(|(kind, values)| {
                let mut row = vec![escape(kind)];
                for (c, v) in ledger.columns.iter().zip(values) {
                    let bad = *v > 0 && (c == "lost" || c == "duplicated");
                    row.push(if bad {
                        format!("<span class=\"fail\">{v}</span>")
                    } else {
                        v.to_string()
                    });
                }
                row
            })
            .collect();
        html.push_str(&table(&header, &rows));
        if !ledger.events.is_empty() {
            let rows: Vec<Vec<String>> = ledger
                .events
                .iter()
                .map(|(k, v)| vec![escape(k), escape(v)])
                .collect();
            html.push_str(&table(&["events", "#count"], &rows));
        }
        for example in &ledger.examples {
            let _ = writeln!(html, "<pre>{}</pre>", escape(example));
        }
    }
    if let Some(accounting) = &e.accounting {
        html.push_str("<h4>Stream accounting</h4>\n");
        let rows: Vec<Vec<String>> = accounting
            .iter()
            .map(|(k, v)| vec![escape(k), escape(v)])
            .collect();
        html.push_str(&table(&["", "value"], &rows));
    }
    html.push_str(&events_table(&e.timeline, "timeline"));
    html
}

// ---------------------------------------------------------------- drill

fn drill(d: &Drill) -> String {
    let mut html = String::new();
    let _ = writeln!(
        html,
        "<p>Fixture {}, writes {}{} · {} in all.</p>",
        escape(&d.fixture),
        if d.writes_paused {
            "paused before the backup"
        } else {
            "flowing"
        },
        if d.sabotage.is_empty() {
            String::new()
        } else {
            format!(", sabotage: {}", escape(&d.sabotage.join(", ")))
        },
        seconds(d.duration_ms)
    );
    let mut facts: Vec<Vec<String>> = vec![vec![
        "RTO (disaster until healthy and journeys passing)".into(),
        match d.rto_ms {
            Some(ms) => format!(
                "{}{}",
                seconds(ms),
                d.rto_limit_ms
                    .map(|l| format!(" (limit {})", seconds(l)))
                    .unwrap_or_default()
            ),
            None => "<span class=\"fail\">not reached</span>".into(),
        },
    ]];
    if let Some(rpo) = &d.rpo {
        facts.push(vec![
            "RPO (acknowledged writes lost)".into(),
            format!(
                "{} of {} (lost window {}; {} lost from before the backup)",
                rpo.writes_lost,
                rpo.acknowledged,
                seconds(rpo.lost_window_ms),
                rpo.lost_before_backup
            ),
        ]);
        facts.push(vec![
            "backup to disaster (the most a restore may lose)".into(),
            seconds(rpo.backup_to_disaster_ms),
        ]);
    }
    html.push_str(&table(&["", "value"], &facts));
    let secs = |ms: u64| ms as f64 / 1000.0;
    let mut bands = Vec::new();
    let mut markers = Vec::new();
    if let Some(disaster) = d.disaster_ms {
        if let Some(rpo) = &d.rpo {
            let snapshot = disaster.saturating_sub(rpo.backup_to_disaster_ms);
            bands.push(Band {
                label: "RPO window".into(),
                from: secs(snapshot),
                to: secs(disaster),
                colour: Colour::Series(1),
            });
            markers.push(Marker {
                label: format!("backup snapshot (RPO: {} writes lost)", rpo.writes_lost),
                at: secs(snapshot),
                colour: Colour::Series(1),
            });
        }
        markers.push(Marker {
            label: "disaster".into(),
            at: secs(disaster),
            colour: Colour::Fail,
        });
        if let Some(rto) = d.rto_ms {
            bands.push(Band {
                label: "RTO".into(),
                from: secs(disaster),
                to: secs(disaster + rto),
                colour: Colour::Fault,
            });
            markers.push(Marker {
                label: format!("RTO {}", seconds(rto)),
                at: secs(disaster + rto),
                colour: Colour::Pass,
            });
        }
        if let Some(limit) = d.rto_limit_ms {
            if disaster + limit <= d.duration_ms {
                markers.push(Marker {
                    label: format!("RTO limit {}", seconds(limit)),
                    at: secs(disaster + limit),
                    colour: Colour::Limit,
                });
            }
        }
    }
    // Each step's lane: from the previous event to its own.
    let mut lanes: Vec<Lane> = Vec::new();
    let mut previous = 0;
    for step in &d.steps {
        let span = Span {
            from: secs(previous),
            to: secs(step.at_ms),
            colour: if step.ok { Colour::Pass } else { Colour::Fail },
        };
        previous = step.at_ms;
        match lanes.iter_mut().find(|l| l.label == step.kind) {
            Some(lane) => lane.spans.push(span),
            None => lanes.push(Lane {
                label: step.kind.clone(),
                spans: vec![span],
            }),
        }
    }
    let chart = LaneChart {
        title: "restore drill: steps over time".into(),
        x_label: "seconds since the drill started".into(),
        x_max: secs(d.duration_ms),
        lanes,
        bands,
        markers,
    };
    html.push_str(&figure(
        lane_chart(&chart),
        "Each step from the event before it to its own (green done, red failed); the RPO \
         window (backup to disaster) and the RTO (disaster to journeys passing) shaded.",
    ));
    html.push_str("<h3>Verification</h3>\n");
    html.push_str(&checks_table(&d.checks));
    if !d.thresholds.is_empty() {
        html.push_str("<h3>Thresholds</h3>\n");
        html.push_str(&checks_table(&d.thresholds));
    }
    for (title, facts) in [("Backup", &d.backup), ("Restore", &d.restore)] {
        if facts.is_empty() {
            continue;
        }
        let _ = writeln!(html, "<h3>{title}</h3>");
        let rows: Vec<Vec<String>> = facts
            .iter()
            .map(|(k, v)| vec![escape(k), escape(v)])
            .collect();
        html.push_str(&table(&["", "value"], &rows));
    }
    html.push_str(&events_table(&d.steps, "step"));
    html
}

// ---------------------------------------------------------------- journeys

fn journeys(j: &Journeys) -> String {
    let mut html = String::new();
    let _ = writeln!(
        html,
        "<p>{} journeys against <code>{}</code> in {} (budget {}{}){}.</p>",
        j.journeys.len(),
        escape(&j.target),
        seconds(j.millis),
        seconds(j.budget_millis),
        if j.budget_exceeded {
            ", <span class=\"fail\">exceeded</span>"
        } else {
            ""
        },
        j.seed.map(|s| format!(", seed {s}")).unwrap_or_default()
    );
    let rows: Vec<Vec<String>> = j
        .journeys
        .iter()
        .map(|x| {
            vec![
                format!(
                    "<a href=\"#journey-{}\">{}</a>",
                    escape(&x.name),
                    escape(&x.name)
                ),
                escape(&x.about),
                x.steps.len().to_string(),
                x.attempts.to_string(),
                format!("{:.2} s", x.millis as f64 / 1000.0),
                result_cell(&x.result),
            ]
        })
        .collect();
    html.push_str(&table(
        &[
            "journey",
            "what it checks",
            "#steps",
            "#attempts",
            "#took",
            "result",
        ],
        &rows,
    ));
    for x in &j.journeys {
        let _ = writeln!(
            html,
            "<h3 id=\"journey-{}\">{} {}</h3>",
            escape(&x.name),
            escape(&x.name),
            result_cell(&x.result)
        );
        let lanes: Vec<Lane> = x
            .steps
            .iter()
            .map(|s| Lane {
                label: s.name.clone(),
                spans: vec![Span {
                    from: s.start_ms as f64,
                    to: (s.start_ms + s.millis) as f64,
                    colour: match s.result.as_str() {
                        "passed" => Colour::Pass,
                        "failed" => Colour::Fail,
                        _ => Colour::Neutral,
                    },
                }],
            })
            .collect();
        let x_max = x
            .steps
            .iter()
            .map(|s| s.start_ms + s.millis)
            .max()
            .unwrap_or(x.millis)
            .max(1) as f64;
        let chart = LaneChart {
            title: format!("{}: steps", x.name),
            x_label: "ms since the journey's last attempt started".into(),
            x_max,
            lanes,
            bands: vec![],
            markers: vec![],
        };
        html.push_str(&figure(
            lane_chart(&chart),
            "Waterfall of the last attempt's steps (green passed, red failed, grey not run).",
        ));
        if let Some(first) = &x.first_failure {
            let _ = writeln!(
                html,
                "<p>First attempt failed: <code>{}</code></p>",
                escape(first)
            );
        }
        for s in x.steps.iter().filter(|s| s.failure.is_some()) {
            let _ = writeln!(
                html,
                "<p class=\"fail\">Step {} failed:</p>\n<pre>{}</pre>",
                escape(&s.name),
                escape(s.failure.as_deref().unwrap_or(""))
            );
            if !s.requests.is_empty() {
                html.push_str("<p>Its requests:</p>\n<pre>");
                for r in &s.requests {
                    let _ = writeln!(html, "{}", escape(r));
                }
                html.push_str("</pre>\n");
            }
        }
    }
    html
}

fn result_cell(result: &str) -> String {
    match result {
        "passed" => mark(true).to_string(),
        other => format!(
            "<span class=\"fail\">{}</span>",
            escape(&other.to_uppercase())
        ),
    }
}

// ---------------------------------------------------------------- props

fn props(p: &Props) -> String {
    let mut html = String::new();
    let cases: u64 = p.properties.iter().map(|x| x.cases).sum();
    let _ = writeln!(
        html,
        "<p>{} properties, {cases} cases{}.</p>",
        p.properties.len(),
        p.seed.map(|s| format!(", seed {s}")).unwrap_or_default()
    );
    let mut at = 0.0;
    let lanes: Vec<Lane> = p
        .properties
        .iter()
        .map(|x| {
            let span = Span {
                from: at,
                to: at + x.duration_ms / 1000.0,
                colour: match x.status.as_str() {
                    "passed" => Colour::Pass,
                    _ => Colour::Fail,
                },
            };
            at += x.duration_ms / 1000.0;
            Lane {
                label: format!("{} ({} cases)", x.name, x.cases),
                spans: vec![span],
            }
        })
        .collect();
    let chart = LaneChart {
        title: "properties: time per property, one after another".into(),
        x_label: "seconds".into(),
        x_max: at,
        lanes,
        bands: vec![],
        markers: vec![],
    };
    html.push_str(&figure(
        lane_chart(&chart),
        "Each property's cases as a bar as long as they took (green passed, red failed).",
    ));
    let rows: Vec<Vec<String>> = p
        .properties
        .iter()
        .map(|x| {
            vec![
                escape(&x.name),
                escape(&x.family),
                x.cases.to_string(),
                x.regressions_rerun.to_string(),
                format!("{:.2} s", x.duration_ms / 1000.0),
                result_cell(&x.status),
            ]
        })
        .collect();
    html.push_str(&table(
        &[
            "property",
            "family",
            "#cases",
            "#regressions",
            "#took",
            "result",
        ],
        &rows,
    ));
    for x in p.properties.iter().filter(|x| x.status != "passed") {
        let _ = writeln!(
            html,
            "<h3 id=\"prop-{}\" class=\"fail\">{} {}</h3>",
            escape(&x.name),
            escape(&x.name),
            escape(&x.status)
        );
        if let Some(message) = &x.message {
            let _ = writeln!(html, "<pre>{}</pre>", escape(message));
        }
        if let Some(case) = &x.minimal_case {
            let _ = writeln!(
                html,
                "<p>Minimal case{}:</p>\n<pre>{}</pre>",
                x.shrink_steps
                    .map(|n| format!(" (after {n} shrink steps)"))
                    .unwrap_or_default(),
                escape(case)
            );
        }
        if let Some(replay) = &x.replay {
            let _ = writeln!(
                html,
                "<p>Replay exactly this case:</p>\n<code class=\"replay\">{}</code>",
                escape(replay)
            );
        }
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn numeric_columns_align_right() {
        let html = table(&["name", "#n"], &[vec!["a".into(), "1".into()]]);
        assert!(html.contains("<th class=\"num\">n</th>"));
        assert!(html.contains("<td class=\"num\">1</td>"));
        assert!(html.contains("<th>name</th>"));
    }
}
