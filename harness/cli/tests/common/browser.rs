//! Renders an HTML file in headless Chromium (the Debian package `chromium`,
//! installed by ci/bootstrap.sh) and says whether it drew: a screenshot, the
//! DOM after scripts ran, the console errors, and the URLs the page asked for.
//!
//! The browser is driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: JSON messages ending in a NUL byte, read on
//! fd 3 and written on fd 4), not through command-line flags alone: with
//! `--enable-logging=stderr` Chromium 156 prints every console message as
//! `INFO:CONSOLE:<line>] "<text>", source: <url> (<line>)` whatever its level,
//! so `console.error("x")` cannot be told from `console.log("x")`, and it
//! prints nothing for a failed resource load. The protocol tells all three
//! apart (`Runtime.consoleAPICalled` with type `error`,
//! `Runtime.exceptionThrown`, `Log.entryAdded` at level `error`, which is
//! also where invalid SVG attribute values and failed loads are reported)
//! and lists the page's requests (`Network.requestWillBeSent`). The pipe
//! opens no port, and the protocol is small enough here that no crate is
//! needed beyond serde_json.
//!
//! A hung browser fails the test after [`TIMEOUT`]; the browser runs in a
//! process group of its own, which is killed whole when a render ends (even
//! by a panic), and a render returns only once that group is gone.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use nix::libc;
use serde_json::{json, Value};

/// The longest one render may take, browser start to close. One takes about
/// 0.6-0.8 s to the screenshot on an idle 2-core machine, and about 2 s in
/// all with the browser's exit (see [`Browser`]'s `Drop`).
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// What a page drew and said.
#[derive(Debug)]
pub struct Rendered {
    /// The screenshot (viewport only, `width` x `height`), written beside
    /// the HTML file with the extension `.png`.
    pub png: PathBuf,
    /// `document.documentElement.outerHTML` once the page has loaded and
    /// painted twice: the DOM as the page's scripts left it.
    pub dom: String,
    /// Every console error: `console.error`/`console.assert` calls,
    /// uncaught exceptions (syntax errors included), and the browser's own
    /// error entries (invalid SVG attribute values, failed resource loads).
    pub console_errors: Vec<String>,
    /// Every URL the page asked for, the page itself first.
    pub requests: Vec<String>,
    /// The share of pixels that differ from the background, the most common
    /// colour: 0.0 for a blank (single-colour) page.
    pub nonblank_fraction: f64,
    /// How many distinct RGBA colours the screenshot has.
    pub distinct_colours: usize,
}

impl Rendered {
    /// How many `<tag ...>` elements the DOM has (a case-sensitive count of
    /// start tags, enough to check that a chart's `svg`/`rect`/`path` exist).
    pub fn count_tag(&self, tag: &str) -> usize {
        let open = format!("<{tag}");
        self.dom
            .match_indices(&open)
            .filter(|(i, _)| {
                matches!(
                    self.dom[i + open.len()..].chars().next(),
                    Some(' ' | '>' | '/' | '\n' | '\t')
                )
            })
            .count()
    }

    /// The requests that left this machine's files: all but `file:` and
    /// the inline schemes `data:`, `blob:` and `about:`.
    pub fn network_requests(&self) -> Vec<&str> {
        self.requests
            .iter()
            .map(String::as_str)
            .filter(|u| {
                !["file:", "data:", "blob:", "about:"]
                    .iter()
                    .any(|s| u.starts_with(s))
            })
            .collect()
    }

    /// Panics if the page asked for anything over the network: a
    /// self-contained report asks for nothing but its own file.
    pub fn assert_no_network(&self) {
        let remote = self.network_requests();
        assert!(
            remote.is_empty(),
            "the page made network requests: {remote:?}"
        );
    }

    /// Panics with the errors if the console has any.
    pub fn assert_no_console_errors(&self) {
        assert!(
            self.console_errors.is_empty(),
            "console errors: {:#?}",
            self.console_errors
        );
    }
}

/// The Chromium binary: `$GAUNTLET_CHROMIUM` (if it is a file), else
/// `chromium` on the PATH.
pub fn chromium_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GAUNTLET_CHROMIUM") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
}

/// True if Chromium is installed. Without it a test is skipped locally, but
/// under CI (`CI` set) it fails: CI must never pass by skipping (the same
/// rule as `require_docker`).
pub fn require_chromium() -> bool {
    match chromium_binary() {
        Some(_) => true,
        None if std::env::var_os("CI").is_some() => panic!(
            "CI is set and this test needs Chromium, which is not installed \
             (Debian package chromium; ci/bootstrap.sh installs it)"
        ),
        None => {
            eprintln!("SKIPPED (no chromium on the PATH, and CI is not set)");
            false
        }
    }
}

/// Loads `html` (a file) in headless Chromium with a `width` x `height`
/// viewport, waits for the load event and two painted frames, and returns
/// what it drew. Panics if Chromium is missing, fails, or takes longer than
/// [`TIMEOUT`].
pub fn render(html: &Path, width: u32, height: u32) -> Rendered {
    render_within(html, width, height, TIMEOUT)
}

/// [`render`] with another time limit.
pub fn render_within(html: &Path, width: u32, height: u32, timeout: Duration) -> Rendered {
    let html = html
        .canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", html.display()));
    let url = url::Url::from_file_path(&html).unwrap().to_string();
    let png = html.with_extension("png");
    let started = Instant::now();
    let mut browser = Browser::launch(width, height, timeout);
    let (dom, events) = browser.load(&url, width, height, &png);
    eprintln!(
        "browser: rendered {} in {:.2} s (start to screenshot and DOM)",
        html.display(),
        started.elapsed().as_secs_f64()
    );
    browser.close();
    drop(browser);

    let mut console_errors = Vec::new();
    let mut requests = Vec::new();
    for e in &events {
        let p = &e["params"];
        match e["method"].as_str().unwrap_or_default() {
            "Runtime.consoleAPICalled"
                if matches!(p["type"].as_str(), Some("error" | "assert")) =>
            {
                let args: Vec<String> = p["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| match &a["value"] {
                        Value::String(s) => s.clone(),
                        Value::Null => a["description"].as_str().unwrap_or("?").to_string(),
                        v => v.to_string(),
                    })
                    .collect();
                console_errors.push(format!(
                    "console.{}: {}",
                    p["type"].as_str().unwrap(),
                    args.join(" ")
                ));
            }
            "Runtime.exceptionThrown" => {
                let d = &p["exceptionDetails"];
                let what = d["exception"]["description"]
                    .as_str()
                    .or(d["text"].as_str())
                    .unwrap_or("exception");
                console_errors.push(format!(
                    "uncaught: {} ({}:{})",
                    what.lines().next().unwrap_or_default(),
                    d["url"].as_str().unwrap_or_default(),
                    d["lineNumber"].as_i64().map_or(0, |l| l + 1)
                ));
            }
            "Log.entryAdded" if p["entry"]["level"] == "error" => {
                let en = &p["entry"];
                console_errors.push(format!(
                    "{}: {} ({})",
                    en["source"].as_str().unwrap_or("log"),
                    en["text"].as_str().unwrap_or_default(),
                    en["url"].as_str().unwrap_or_default()
                ));
            }
            "Network.requestWillBeSent" => {
                requests.push(p["request"]["url"].as_str().unwrap_or_default().to_string())
            }
            "Network.webSocketCreated" => {
                requests.push(p["url"].as_str().unwrap_or_default().to_string())
            }
            _ => {}
        }
    }

    let (nonblank_fraction, distinct_colours) = pixel_stats(&png);
    Rendered {
        png,
        dom,
        console_errors,
        requests,
        nonblank_fraction,
        distinct_colours,
    }
}

/// (share of pixels not the most common colour, number of distinct colours).
pub fn pixel_stats(png: &Path) -> (f64, usize) {
    let file = std::fs::File::open(png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    let channels = info.color_type.samples();
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "8-bit PNG expected");
    let mut counts: HashMap<[u8; 4], u64> = HashMap::new();
    for px in buf[..info.buffer_size()].chunks_exact(channels) {
        let rgba = match channels {
            1 => [px[0], px[0], px[0], 255],
            2 => [px[0], px[0], px[0], px[1]],
            3 => [px[0], px[1], px[2], 255],
            _ => [px[0], px[1], px[2], px[3]],
        };
        *counts.entry(rgba).or_default() += 1;
    }
    let total: u64 = counts.values().sum();
    let background = counts.values().copied().max().unwrap_or(0);
    if total == 0 {
        return (0.0, 0);
    }
    ((total - background) as f64 / total as f64, counts.len())
}

/// One headless Chromium, its protocol pipe, and its own process group.
struct Browser {
    child: Child,
    to_browser: std::io::PipeWriter,
    from_browser: Receiver<Value>,
    next_id: u64,
    timeout: Duration,
    deadline: Instant,
    /// Events seen so far, in order.
    events: Vec<Value>,
    // Dropped last: the profile directory and the browser's stderr.
    dir: tempfile::TempDir,
}

impl Browser {
    fn launch(width: u32, height: u32, timeout: Duration) -> Browser {
        let bin = chromium_binary().expect("chromium on the PATH (see require_chromium)");
        let dir = tempfile::Builder::new()
            .prefix("gauntlet-chromium-")
            .tempdir()
            .unwrap();
        // Our ends are close-on-exec; the browser's ends become fds 3 and 4.
        let (browser_reads, to_browser) = std::io::pipe().unwrap();
        let (from_browser, browser_writes) = std::io::pipe().unwrap();
        let (r, w) = (browser_reads.as_raw_fd(), browser_writes.as_raw_fd());
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--mute-audio",
            "--remote-debugging-pipe",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--window-size={width},{height}"))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .process_group(0);
        // SAFETY: only async-signal-safe calls between fork and exec. The
        // ends move above 10 first, so that neither dup2 overwrites the other.
        unsafe {
            cmd.pre_exec(move || {
                let r = libc::fcntl(r, libc::F_DUPFD, 10);
                let w = libc::fcntl(w, libc::F_DUPFD, 10);
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        // The browser holds its ends now; ours would keep the pipe open.
        drop(browser_reads);
        drop(browser_writes);

        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(from_browser);
            let mut msg = Vec::new();
            loop {
                msg.clear();
                match reader.read_until(0, &mut msg) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if msg.last() == Some(&0) {
                    msg.pop();
                }
                let Ok(v) = serde_json::from_slice::<Value>(&msg) else {
                    continue;
                };
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Browser {
            child,
            to_browser,
            from_browser: rx,
            next_id: 0,
            timeout,
            deadline: Instant::now() + timeout,
            events: Vec::new(),
            dir,
        }
    }

    fn stderr_tail(&self) -> String {
        let all = std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default();
        let lines: Vec<&str> = all.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The next message, or a panic at the deadline or if the browser died.
    fn next_message(&mut self, waiting_for: &str) -> Value {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.from_browser.recv_timeout(left) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => panic!(
                "Chromium (pid {}) did not answer within {:?} (waiting for {waiting_for}); \
                 its stderr ends:\n{}",
                self.child.id(),
                self.timeout,
                self.stderr_tail()
            ),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "Chromium closed its pipe (waiting for {waiting_for}); exit {:?}; its stderr ends:\n{}",
                self.child.try_wait().ok().flatten(),
                self.stderr_tail()
            ),
        }
    }

    /// Sends a command (to the page's session if given) and returns its
    /// result, keeping the events that arrive meanwhile.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        if let Err(e) = self.to_browser.write_all(&bytes) {
            panic!(
                "writing {method} to Chromium: {e}; its stderr ends:\n{}",
                self.stderr_tail()
            );
        }
        loop {
            let m = self.next_message(method);
            if m["id"] == id {
                if let Some(err) = m.get("error") {
                    panic!("Chromium refused {method}: {err}");
                }
                return m["result"].clone();
            }
            if m.get("method").is_some() {
                self.events.push(m);
            }
        }
    }

    /// Opens `url` in a new page, waits for it to load and paint, writes the
    /// screenshot to `png`; returns the DOM and every event the page sent.
    fn load(&mut self, url: &str, width: u32, height: u32, png: &Path) -> (String, Vec<Value>) {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        let sid = attached["sessionId"].as_str().unwrap().to_string();
        let s = Some(sid.as_str());
        for domain in ["Runtime", "Log", "Network", "Page"] {
            self.call(s, &format!("{domain}.enable"), json!({}));
        }
        self.call(
            s,
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        // Only what follows the navigation belongs to the page.
        self.events.clear();
        let nav = self.call(s, "Page.navigate", json!({"url": url}));
        if let Some(err) = nav["errorText"].as_str() {
            panic!("Chromium could not open {url}: {err}");
        }
        // Navigate answers once the new document is committed, so the next
        // load event is the page's own.
        let mut seen = self.events.len();
        loop {
            if self.events[seen..]
                .iter()
                .any(|e| e["method"] == "Page.loadEventFired" && e["sessionId"] == sid.as_str())
            {
                break;
            }
            seen = self.events.len();
            let m = self.next_message("the page's load event");
            if m.get("method").is_some() {
                self.events.push(m);
            }
        }
        // Loaded, fonts ready and two frames painted: what a person would see.
        let settled = self.call(
            s,
            "Runtime.evaluate",
            json!({
                "expression": "(document.readyState === 'complete' ? Promise.resolve() \
                    : new Promise(r => addEventListener('load', r))) \
                    .then(() => document.fonts.ready) \
                    .then(() => new Promise(r => requestAnimationFrame(() => \
                        requestAnimationFrame(() => r(location.href)))))",
                "awaitPromise": true,
                "returnByValue": true,
            }),
        );
        assert_eq!(
            settled["result"]["value"].as_str(),
            Some(url),
            "the page settled at another address: {settled}"
        );
        let shot = self.call(
            s,
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": false}),
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        std::fs::write(png, bytes).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        let dom = self.call(
            s,
            "Runtime.evaluate",
            json!({"expression": "document.documentElement.outerHTML", "returnByValue": true}),
        );
        let dom = dom["result"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // Events still in the pipe (late console messages) belong too.
        while let Ok(m) = self.from_browser.try_recv() {
            if m.get("method").is_some() {
                self.events.push(m);
            }
        }
        let events = self
            .events
            .iter()
            .filter(|e| e["sessionId"] == sid.as_str())
            .cloned()
            .collect();
        (dom, events)
    }

    /// Asks the browser to quit and waits a little; [`Drop`] kills the rest.
    fn close(&mut self) {
        self.next_id += 1;
        let msg = json!({"id": self.next_id, "method": "Browser.close", "params": {}});
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        if self.to_browser.write_all(&bytes).is_ok() {
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Browser {
    /// Kills the whole process group (browser, zygotes, renderers, GPU
    /// process), even after a panic, and reaps the browser.
    fn drop(&mut self) {
        let pgid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
        // The browser's children are reparented to init when it dies, which
        // reaps them; wait (briefly) until the group is gone, so that no
        // chromium process, not even a zombie, outlives the render.
        let until = Instant::now() + Duration::from_secs(5);
        while nix::sys::signal::killpg(pgid, None).is_ok() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
