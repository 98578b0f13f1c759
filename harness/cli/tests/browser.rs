//! The report browser checker (tests/common/browser.rs) against small pages
//! whose faults are known: it must see a chart drawn, a blank page as blank,
//! console errors, uncaught exceptions, broken SVG and a failing script.
//! Needs Chromium (ci/bootstrap.sh installs it), not Docker.

mod common;

use std::path::PathBuf;

use common::browser::{self, require_chromium, Rendered};

const W: u32 = 800;
const H: u32 = 600;

/// Writes `body` as `name` in a fresh directory and renders it.
fn render_page(name: &str, html: &str) -> (tempfile::TempDir, Rendered) {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, html).unwrap();
    let r = browser::render(&path, W, H);
    eprintln!(
        "{name}: nonblank {:.4}, {} colours, errors {:?}, requests {:?}",
        r.nonblank_fraction, r.distinct_colours, r.console_errors, r.requests
    );
    (dir, r)
}

const CHART: &str = r##"<!doctype html>
<html><head><meta charset="utf-8"><title>run</title>
<style>body { margin: 0; font-family: sans-serif; background: #fff } h1 { font-size: 20px }</style>
</head><body>
<h1>p95 latency</h1>
<svg id="latency" width="400" height="200" viewBox="0 0 400 200">
  <rect x="10" y="60" width="40" height="140" fill="#3366cc"/>
  <rect x="60" y="110" width="40" height="90" fill="#dc3912"/>
  <rect x="110" y="30" width="40" height="170" fill="#ff9900"/>
  <path d="M0 200 L100 20 L200 120 L300 40 L400 90" stroke="#109618" stroke-width="4" fill="none"/>
  <text x="200" y="20">ms</text>
</svg>
</body></html>
"##;

#[test]
fn an_inline_svg_chart_draws_and_is_in_the_dom() {
    if !require_chromium() {
        return;
    }
    let (_dir, r) = render_page("chart.html", CHART);
    r.assert_no_console_errors();
    r.assert_no_network();
    assert_eq!(r.count_tag("svg"), 1, "{}", r.dom);
    assert_eq!(r.count_tag("rect"), 3, "{}", r.dom);
    assert_eq!(r.count_tag("path"), 1, "{}", r.dom);
    assert!(r.dom.contains(r#"id="latency""#));
    // The bars alone cover 40*(140+90+170) = 16,000 of 480,000 pixels.
    assert!(r.nonblank_fraction > 0.03, "{r:?}");
    // Four fill colours, the text's anti-aliasing, the white.
    assert!(r.distinct_colours >= 6, "{r:?}");
    let png = std::fs::metadata(&r.png).unwrap();
    assert!(png.len() > 0);
}

#[test]
fn a_blank_page_is_blank() {
    if !require_chromium() {
        return;
    }
    let (_dir, r) = render_page(
        "blank.html",
        "<!doctype html><html><head><style>body{background:#fff}</style></head><body></body></html>",
    );
    r.assert_no_console_errors();
    assert_eq!(r.nonblank_fraction, 0.0, "{r:?}");
    assert_eq!(r.distinct_colours, 1, "{r:?}");
    assert_eq!(r.count_tag("svg"), 0);
}

#[test]
fn console_error_is_reported() {
    if !require_chromium() {
        return;
    }
    let (_dir, r) = render_page(
        "console.html",
        r#"<!doctype html><html><body><p>hi</p>
<script>console.log("fine"); console.warn("only a warning"); console.error("x");</script>
</body></html>"#,
    );
    assert_eq!(r.console_errors, vec!["console.error: x".to_string()]);
}

#[test]
fn an_uncaught_exception_is_reported() {
    if !require_chromium() {
        return;
    }
    let (_dir, r) = render_page(
        "throws.html",
        r#"<!doctype html><html><body><p>hi</p>
<script>throw new Error("boom");</script>
</body></html>"#,
    );
    assert_eq!(r.console_errors.len(), 1, "{:?}", r.console_errors);
    let e = &r.console_errors[0];
    assert!(e.starts_with("uncaught: Error: boom"), "{e}");
    assert!(e.contains("throws.html:2"), "{e}");
}

#[test]
fn malformed_svg_is_reported() {
    if !require_chromium() {
        return;
    }
    // The HTML parser forgives unclosed tags, but not attribute values:
    // Chromium logs each invalid one as an error.
    let (_dir, r) = render_page(
        "badsvg.html",
        r#"<!doctype html><html><body>
<svg width="200" height="100"><rect x="0" y="0" width="-5" height="10"/>
<path d="M 0 0 L x y"/><circle r="abc"/></svg>
</body></html>"#,
    );
    assert_eq!(r.console_errors.len(), 3, "{:?}", r.console_errors);
    assert!(
        r.console_errors[1].contains("<path> attribute d"),
        "{:?}",
        r.console_errors
    );
    // Nothing of it drew.
    assert_eq!(r.nonblank_fraction, 0.0, "{r:?}");
}

#[test]
fn a_failing_chart_script_is_reported_and_draws_nothing() {
    if !require_chromium() {
        return;
    }
    // A report whose chart is built by a script with a syntax error, and
    // which links a file that is not there.
    let (_dir, r) = render_page(
        "badscript.html",
        r#"<!doctype html><html><head><link rel="stylesheet" href="missing.css"></head><body>
<div id="chart"></div>
<script>
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "rect")
</script>
</body></html>"#,
    );
    assert!(
        r.console_errors
            .iter()
            .any(|e| e.starts_with("uncaught: SyntaxError")),
        "{:?}",
        r.console_errors
    );
    assert!(
        r.console_errors
            .iter()
            .any(|e| e.contains("net::ERR_FILE_NOT_FOUND") && e.contains("missing.css")),
        "{:?}",
        r.console_errors
    );
    assert_eq!(r.count_tag("svg"), 0);
    assert_eq!(r.nonblank_fraction, 0.0, "{r:?}");
    // A missing local file is still no network request.
    r.assert_no_network();
}

#[test]
fn a_network_request_is_seen() {
    if !require_chromium() {
        return;
    }
    // Port 9 (discard) on loopback: Chromium refuses it as an unsafe port
    // before connecting, so nothing is sent anywhere, yet the request shows.
    let (_dir, r) = render_page(
        "remote.html",
        r#"<!doctype html><html><body><img src="http://127.0.0.1:9/logo.png"></body></html>"#,
    );
    assert!(
        r.requests
            .iter()
            .any(|u| u == "http://127.0.0.1:9/logo.png"),
        "{:?}",
        r.requests
    );
    assert_eq!(r.network_requests(), vec!["http://127.0.0.1:9/logo.png"]);
}

#[test]
fn a_hung_page_fails_the_render_and_leaves_no_browser() {
    if !require_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hangs.html");
    std::fs::write(
        &path,
        "<!doctype html><html><body><script>while (true) {}</script></body></html>",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let failed = std::panic::catch_unwind(|| {
        browser::render_within(&path, W, H, std::time::Duration::from_secs(3))
    })
    .expect_err("a page that never loads fails the render");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    let msg = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("did not answer within 3s"), "{msg}");
    // The browser's process group was killed while the panic unwound.
    let pid: u32 = msg
        .split("(pid ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no pid in: {msg}"));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "Chromium {pid} outlived the failed render"
    );
}
