//! Live capture, end to end: `rstscope capture` on the loopback interface while this test makes
//! real resets with the machine's own TCP stack, then the saved pcapng analysed again.
//!
//! Capturing needs root (or the capture capabilities) and libpcap. Where they are missing these
//! tests say so and pass, unless `RSTSCOPE_REQUIRE_LIVE=1` (set by CI, which runs as root with
//! libpcap installed) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rstscope"))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Whether live capture can run here; panics when CI requires it and it cannot.
fn live_ready(test: &str) -> bool {
    let missing = if !cfg!(target_os = "linux") {
        Some("these tests drive Linux's loopback interface".to_owned())
    } else if !is_root() {
        Some("not root".to_owned())
    } else {
        rstscope::source::live::libpcap_version().err()
    };
    match missing {
        None => true,
        Some(why) => {
            assert!(
                std::env::var_os("RSTSCOPE_REQUIRE_LIVE").is_none(),
                "{test}: live capture required but unavailable: {why}"
            );
            eprintln!("{test}: skipped, live capture unavailable: {why}");
            false
        }
    }
}

/// `rstscope analyze --format json FILE`, which must succeed.
fn analyze_json(path: &std::path::Path) -> Value {
    let out = bin()
        .args(["analyze", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Asserts that an error message says each of `phrases` and is not a panic.
fn assert_says(err: &str, phrases: &[&str]) {
    for p in phrases {
        assert!(err.contains(p), "missing {p:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rstscope-test-{}-{name}", std::process::id()))
}

/// A running `rstscope capture`, its JSON lines arriving on a channel with their arrival times.
struct Capture {
    child: Child,
    lines: mpsc::Receiver<(Instant, Value)>,
    seen: Vec<(Instant, Value)>,
}

impl Capture {
    fn start(filter: &str, save: &PathBuf) -> Self {
        let mut child = bin()
            .args([
                "capture",
                "-i",
                "lo",
                "-f",
                filter,
                "--format",
                "json",
                "--kernel-reasons",
                "-w",
            ])
            .arg(save)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::Builder::new().name("capture-stdout".into());
        reader
            .spawn(move || {
                for line in BufReader::new(out).lines() {
                    let line = line.unwrap();
                    let v: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("not a JSON line: {line:?}: {e}"));
                    if tx.send((Instant::now(), v)).is_err() {
                        break;
                    }
                }
            })
            .unwrap();
        let mut c = Self {
            child,
            lines,
            seen: Vec::new(),
        };
        c.wait_for(
            |v| v["event"] == "start",
            Duration::from_secs(10),
            "the start line",
        );
        c
    }

    /// Waits for a line matching `pred`, keeping every line seen.
    fn wait_for(&mut self, pred: impl Fn(&Value) -> bool, within: Duration, what: &str) -> Instant {
        if let Some((t, _)) = self.seen.iter().find(|(_, v)| pred(v)) {
            return *t;
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Ok((t, v)) = self.lines.recv_timeout(left) {
                let hit = pred(&v);
                self.seen.push((t, v));
                if hit {
                    return t;
                }
            } else {
                {
                    let mut err = String::new();
                    let _ = self.child.kill();
                    if let Some(mut e) = self.child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    panic!(
                        "no {what} within {within:?}; lines: {:?}; stderr: {err}",
                        self.seen
                    );
                }
            }
        }
    }

    /// Ctrl+C, then everything it printed until it exited.
    fn interrupt(mut self) -> (std::process::ExitStatus, Vec<Value>, String) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.wait_for(
            |v| v["event"] == "end",
            Duration::from_secs(10),
            "end line after Ctrl+C",
        );
        let exit = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (exit, self.seen.into_iter().map(|(_, v)| v).collect(), err)
    }
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_reset_line(v: &Value, port: u16) -> bool {
    (v["event"] == "reset" || v["event"] == "update")
        && v["connection"]["server"]["port"] == port
        && !v["connection"]["diagnosis"].is_null()
}

/// `(server port, client port, cause, RST frame)` of every diagnosed connection in a list of
/// connection objects.
fn verdicts<'a>(conns: impl Iterator<Item = &'a Value>) -> BTreeSet<(u64, u64, String, u64)> {
    conns
        .filter(|c| !c["diagnosis"].is_null())
        .map(|c| {
            (
                c["server"]["port"].as_u64().unwrap(),
                c["client"]["port"].as_u64().unwrap(),
                c["diagnosis"]["cause"].as_str().unwrap().to_owned(),
                c["diagnosis"]["rst_frame"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn live_capture_names_real_resets_as_they_happen_and_saves_them() {
    if !live_ready("live capture") {
        return;
    }
    let refused_port = free_port();
    let linger = TcpListener::bind("127.0.0.1:0").unwrap();
    let linger_port = linger.local_addr().unwrap().port();
    let unread = TcpListener::bind("127.0.0.1:0").unwrap();
    let unread_port = unread.local_addr().unwrap().port();
    let save = temp_path("live.pcapng");
    let filter =
        format!("tcp port {refused_port} or tcp port {linger_port} or tcp port {unread_port}");
    let mut cap = Capture::start(&filter, &save);

    // 1. A refused connection: nothing listens on the port.
    let sent = Instant::now();
    let err = TcpStream::connect(("127.0.0.1", refused_port)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let shown = cap.wait_for(
        |v| is_reset_line(v, refused_port),
        Duration::from_secs(5),
        "refused reset",
    );
    let refused_latency = shown.saturating_duration_since(sent);

    // 2. A server that aborts with SO_LINGER(0) after answering.
    let mut client = TcpStream::connect(("127.0.0.1", linger_port)).unwrap();
    let (server, _) = linger.accept().unwrap();
    client.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut buf = [0u8; 64];
    let mut server_r = &server;
    let n = server_r.read(&mut buf).unwrap();
    assert!(n > 0);
    (&server).write_all(b"HTTP/1.0 200 OK\r\n\r\n").unwrap();
    let n = client.read(&mut buf).unwrap();
    assert!(n > 0);
    std::thread::sleep(Duration::from_millis(20));
    let sock = socket2::Socket::from(server);
    sock.set_linger(Some(Duration::ZERO)).unwrap();
    let sent = Instant::now();
    drop(sock);
    let e = client.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
    let shown = cap.wait_for(
        |v| is_reset_line(v, linger_port),
        Duration::from_secs(5),
        "linger reset",
    );
    let linger_latency = shown.saturating_duration_since(sent);

    // 3. A server that closes with a request it never read: the kernel resets.
    let mut client = TcpStream::connect(("127.0.0.1", unread_port)).unwrap();
    let (mut server, _) = unread.accept().unwrap();
    client.write_all(&[b'x'; 3000]).unwrap();
    let mut small = [0u8; 100];
    server.read_exact(&mut small).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    server.write_all(b"partial answer").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let sent = Instant::now();
    drop(server);
    let _ = client.shutdown(Shutdown::Write);
    cap.wait_for(
        |v| is_reset_line(v, unread_port),
        Duration::from_secs(5),
        "unread-data reset",
    );
    let unread_latency = Instant::now().saturating_duration_since(sent);
    eprintln!(
        "live capture: reset shown {:.0} ms (refused), {:.0} ms (SO_LINGER 0), within {:.0} ms (unread data) after it was sent",
        refused_latency.as_secs_f64() * 1e3,
        linger_latency.as_secs_f64() * 1e3,
        unread_latency.as_secs_f64() * 1e3
    );
    // The issue asks for 250 ms in the app; allow for a loaded CI machine.
    assert!(
        refused_latency < Duration::from_secs(2),
        "{refused_latency:?}"
    );
    assert!(
        linger_latency < Duration::from_secs(2),
        "{linger_latency:?}"
    );

    let ports = [
        (refused_port, "refused", "NO_SOCKET"),
        (linger_port, "abortive-close", "TCP_STATE"),
        (unread_port, "unread-data-close", "TCP_ABORT_ON_CLOSE"),
    ];
    check_live_output_and_saved_file(cap, &save, &ports);
}

/// The live lines name each port's cause (and the kernel's reason); the saved file, analysed
/// afterwards, gives the same verdicts.
fn check_live_output_and_saved_file(cap: Capture, save: &PathBuf, ports: &[(u16, &str, &str)]) {
    let (status, lines, stderr) = cap.interrupt();
    assert!(status.success(), "exit {status:?}; stderr: {stderr}");
    assert!(stderr.contains("saving every packet to"), "{stderr}");

    // What the live output said, per port: the last word on each connection.
    let live_conns: Vec<&Value> = lines
        .iter()
        .filter(|v| matches!(v["event"].as_str(), Some("reset" | "update" | "revised")))
        .map(|v| &v["connection"])
        .collect();
    let cause_of = |port: u16| -> (String, Value) {
        let c = live_conns
            .iter()
            .rev()
            .find(|c| c["server"]["port"] == port)
            .unwrap_or_else(|| panic!("no live line for port {port}: {lines:?}"));
        (
            c["diagnosis"]["cause"].as_str().unwrap().to_owned(),
            c["diagnosis"]["kernel"].clone(),
        )
    };
    let tracefs = std::path::Path::new("/sys/kernel/tracing/events/tcp/tcp_send_reset").exists();
    // The expected causes are what this test did; the kernel's reasons are what Linux 6.x
    // records for those actions (sample-captures/manifest.json has the same, from the lab).
    for &(port, cause, reason) in ports {
        let (got, kernel) = cause_of(port);
        assert_eq!(got, cause, "port {port}: {lines:?}");
        if tracefs {
            assert_eq!(kernel["reason"], reason, "port {port}: {kernel}");
            assert_eq!(kernel["agrees"], true, "port {port}: {kernel}");
        }
    }
    let end = lines.iter().find(|v| v["event"] == "end").unwrap();
    assert_eq!(end["error"], Value::Null);
    assert_eq!(end["saved_to"], save.to_string_lossy().as_ref());
    assert_eq!(end["kernel"]["dropped"], 0, "{end}");

    // The saved file, analysed afterwards, says the same.
    let report = analyze_json(save);
    assert_eq!(report["source"]["frames"], end["frames"]);
    assert_eq!(report["source"]["complete"], true);
    let from_file = verdicts(report["connections"].as_array().unwrap().iter());
    // The last live word on each connection.
    let mut last: std::collections::BTreeMap<(u64, u64), &Value> =
        std::collections::BTreeMap::new();
    for c in &live_conns {
        last.insert(
            (
                c["server"]["port"].as_u64().unwrap(),
                c["client"]["port"].as_u64().unwrap(),
            ),
            c,
        );
    }
    let live = verdicts(last.values().copied());
    assert_eq!(live, from_file, "live view and saved file disagree");
    assert_eq!(from_file.len(), 3);
    std::fs::remove_file(save).unwrap();
}

fn capture_error(args: &[&str], env: Option<(&str, &str)>) -> (Option<i32>, String) {
    let mut cmd = bin();
    cmd.arg("capture").args(args);
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn missing_libpcap_says_what_to_install() {
    let (code, err) = capture_error(
        &["-i", "lo", "-w", "/dev/null"],
        Some(("RSTSCOPE_LIBPCAP", "/nonexistent/libpcap.so.0.8")),
    );
    assert_eq!(code, Some(2), "{err}");
    assert_says(
        &err,
        &[
            "live capture needs libpcap",
            "/nonexistent/libpcap.so.0.8",
            "sudo apt-get install libpcap0.8",
            "tcpdump -i IFACE -U -w - tcp | rstscope -",
        ],
    );
}

#[test]
fn unknown_interface_and_bad_filter_are_explained() {
    if !live_ready("unknown interface") {
        return;
    }
    let (code, err) = capture_error(&["-i", "nosuchif0", "-w", "/dev/null"], None);
    assert_eq!(code, Some(2), "{err}");
    assert_says(
        &err,
        &[
            "there is no interface named `nosuchif0`",
            "Interfaces here:",
            "lo",
            "rstscope capture --list",
        ],
    );

    let (code, err) = capture_error(&["-i", "lo", "-f", "tcp port", "-w", "/dev/null"], None);
    assert_eq!(code, Some(2), "{err}");
    assert_says(&err, &["the capture filter `tcp port` is not valid"]);

    let out = bin().args(["capture", "--list"]).output().unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        list.lines()
            .any(|l| l.starts_with("lo ") && l.contains("loopback") && l.contains("127.0.0.1")),
        "{list}"
    );
}

#[test]
fn no_permission_says_how_to_get_it() {
    if !live_ready("no permission") {
        return;
    }
    // Drop to `nobody` with no capabilities: what a user without privileges sees.
    let exe = env!("CARGO_BIN_EXE_rstscope");
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            exe,
        ])
        .args(["capture", "-i", "lo", "-w", "/tmp/rstscope-noperm.pcapng"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_says(
        &err,
        &[
            "no permission to capture on lo",
            "sudo setcap cap_net_raw,cap_net_admin=eip",
            "sudo tcpdump -i lo -U -w - tcp | rstscope -",
        ],
    );
}

#[test]
fn ctrl_c_on_a_quiet_capture_ends_it_cleanly_with_a_valid_file() {
    if !live_ready("quiet capture") {
        return;
    }
    let save = temp_path("quiet.pcapng");
    let port = free_port();
    let cap = Capture::start(&format!("tcp port {port}"), &save);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (status, lines, stderr) = cap.interrupt();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "Ctrl+C took {:?}",
        started.elapsed()
    );
    assert!(status.success(), "{stderr}");
    let end = lines.iter().find(|v| v["event"] == "end").unwrap();
    assert_eq!(end["frames"], 0);
    // An empty capture is still a valid pcapng file.
    let report = analyze_json(&save);
    assert_eq!(report["source"]["frames"], 0);
    assert_eq!(report["source"]["complete"], true);
    let _ = std::fs::remove_file(&save);
}

/// The desktop app, fed by a live capture: how soon a reset shows as a diagnosed row.
#[cfg(feature = "gui")]
#[test]
fn the_app_shows_each_live_reset_within_a_quarter_second() {
    use rstscope::source::live::LiveConfig;
    use rstscope::ui::{RstscopeApp, Settings};

    if !live_ready("app live capture") {
        return;
    }
    let ctx = eframe::egui::Context::default();
    let mut app = RstscopeApp::with_settings(Settings::default());
    let save = temp_path("app.pcapng");
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let filter = ports
        .iter()
        .map(|p| format!("tcp port {p}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let mut config = LiveConfig::new("lo");
    config.filter = filter;
    config.save_to = Some(save.clone());
    app.start_capture(&ctx, config);
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.model().is_none_or(|m| m.live.is_none()) {
        assert!(Instant::now() < deadline, "the capture did not start");
        app.pump(&ctx);
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut latencies = Vec::new();
    for &port in &ports {
        let sent = Instant::now();
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
        loop {
            app.pump(&ctx);
            let m = app.model().unwrap();
            let shown = app.shown_rows().iter().any(|&id| {
                m.connections[id as usize].server.port() == port
                    && m.diagnosis(id).is_some_and(|d| d.cause.id() == "refused")
            });
            if shown {
                latencies.push(sent.elapsed());
                break;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(5),
                "port {port} never shown"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    latencies.sort();
    let ms: Vec<String> = latencies
        .iter()
        .map(|l| format!("{:.0}", l.as_secs_f64() * 1e3))
        .collect();
    eprintln!(
        "app: each refused connection shown as a diagnosed row after {} ms",
        ms.join(", ")
    );
    assert!(
        latencies[2] < Duration::from_millis(250),
        "median {:?}",
        latencies[2]
    );
    app.stop_capture();
    assert!(app.wait_until_loaded(&ctx, Duration::from_secs(5)));
    let m = app.model().unwrap();
    assert!(m.complete);
    assert_eq!(m.live.as_ref().unwrap().saved_to, save);
    assert_eq!(m.connections.len(), ports.len());
    std::fs::remove_file(&save).unwrap();
}
