//! The real desktop app driven headless with `egui_kittest`: the welcome screen lists every
//! sample; opening each sample and selecting its reset connection shows the cause and sender
//! the manifest records; typing a filter shows the rows it should; a few snapshot images.
#![cfg(feature = "gui")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use rstscope::pipeline::{self, Options};
use rstscope::source::SourceSpec;
use rstscope::ui::{RstscopeApp, Settings, samples};
use serde_json::Value;

fn harness() -> Harness<'static, RstscopeApp> {
    Harness::builder()
        .with_size(egui::Vec2::new(1280.0, 820.0))
        .build_eframe(|_cc| RstscopeApp::with_settings(Settings::default()))
}

fn manifest() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-captures/manifest.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Clicks a sample on the welcome screen and waits for its analysis to end.
/// The app with the busy sample (many connections, one reset) opened from the welcome screen.
fn busy_sample_open() -> (Harness<'static, RstscopeApp>, samples::Sample) {
    let mut h = harness();
    h.run_steps(2);
    let busy = samples::all()
        .into_iter()
        .find(|s| s.file == "busy-one-reset.pcapng")
        .unwrap();
    open_sample(&mut h, &busy.title);
    (h, busy)
}

fn open_sample(h: &mut Harness<'static, RstscopeApp>, title: &str) {
    let button = h
        .get_all_by_label(title)
        .next()
        .unwrap_or_else(|| panic!("no sample titled {title:?}"));
    // Most samples are below the fold: scroll there as a user would, then click.
    button.scroll_to_me();
    h.run_steps(5);
    // An accessibility click: it does not depend on where the scroll animation left the button.
    h.get_all_by_label(title).next().unwrap().click_accesskit();
    h.run_steps(2);
    let ctx = h.ctx.clone();
    assert!(
        h.state_mut()
            .wait_until_loaded(&ctx, Duration::from_secs(20)),
        "{title}: still loading"
    );
    h.run_steps(3);
}

#[test]
fn welcome_screen_lists_every_sample() {
    let mut h = harness();
    h.run_steps(2);
    let all = samples::all();
    assert_eq!(
        all.len(),
        manifest().len(),
        "every manifest entry is embedded"
    );
    for s in &all {
        assert!(
            h.query_all_by_label(&s.title).next().is_some(),
            "welcome screen lacks {:?}",
            s.title
        );
    }
}

#[test]
fn each_sample_shows_its_cause_and_sender_in_the_cause_panel() {
    for entry in manifest() {
        let Some(cause) = entry["expected_cause"].as_str() else {
            continue;
        };
        let title = entry["title"].as_str().unwrap();
        let mut h = harness();
        h.run_steps(2);
        open_sample(&mut h, title);
        // Select the connection the manifest is about by clicking its row.
        let client = match (
            entry["tuple"]["client_ip"].as_str(),
            entry["tuple"]["client_port"].as_u64(),
        ) {
            (Some(ip), Some(port)) if ip.contains(':') => format!("[{ip}]:{port}"),
            (Some(ip), Some(port)) => format!("{ip}:{port}"),
            _ => String::new(),
        };
        if !client.is_empty() {
            h.get_all_by_label(&client)
                .next()
                .unwrap_or_else(|| panic!("{title}: no row for {client}"))
                .click();
            h.run_steps(3);
        }
        let model = h.state().model().unwrap();
        let selected = h
            .state()
            .selected
            .unwrap_or_else(|| panic!("{title}: nothing selected"));
        let d = model
            .diagnosis(selected)
            .unwrap_or_else(|| panic!("{title}: selected connection has no diagnosis"));
        let expected_label = format!("{cause}: {}", d.cause.title());
        assert!(
            h.query_by_label(&expected_label).is_some(),
            "{title}: the cause panel does not show {expected_label:?}"
        );
        if let Some(by) = entry["rst_by"].as_str() {
            let kind = entry["sender_kind"].as_str().unwrap();
            let sent_by = if kind == "middlebox" {
                format!("a device on the path, in the {by}'s name")
            } else {
                format!("the {by} itself")
            };
            assert!(
                h.query_by_label_contains(&sent_by).is_some(),
                "{title}: the cause panel does not say it was sent by {sent_by:?}"
            );
        }
    }
}

#[test]
fn typing_a_filter_shows_the_matching_rows() {
    let (mut h, busy) = busy_sample_open();
    // The expected rows, counted straight from the analysis.
    let a = pipeline::analyze(
        SourceSpec::Bytes(busy.file.clone(), busy.bytes.clone()),
        Options::default(),
    )
    .analysis
    .unwrap();
    let total = a.connections.len();
    let port = a.connections[0].client.port();
    let with_port = a
        .connections
        .iter()
        .filter(|c| c.client.port() == port || c.server.port() == port)
        .count();
    let resets = a
        .connections
        .iter()
        .filter(|c| !c.resets.is_empty())
        .count();
    assert_eq!(h.state().shown_rows().len(), total);

    let filter = h.get_by_role(egui::accesskit::Role::TextInput);
    filter.click();
    h.run_steps(1);
    h.get_by_role(egui::accesskit::Role::TextInput)
        .type_text(&format!("port:{port}"));
    h.run_steps(3);
    assert_eq!(h.state().shown_rows().len(), with_port);

    h.state_mut().set_filter("end:reset");
    h.run_steps(2);
    assert_eq!(h.state().shown_rows().len(), resets);

    // Clicking a row selects its connection.
    h.state_mut().set_filter("");
    h.run_steps(2);
    let second = a.connections[1].client.to_string();
    let node = h.get_all_by_label(&second).next().unwrap();
    node.hover();
    h.run_steps(1);
    h.get_all_by_label(&second).next().unwrap().click();
    h.run_steps(2);
    assert_eq!(
        h.state().selected,
        Some(1),
        "clicking {second}'s row selects it"
    );
}

#[test]
fn evidence_frame_click_opens_the_ladder_on_it() {
    let mut h = harness();
    h.run_steps(2);
    let s = samples::all()
        .into_iter()
        .find(|s| s.file == "middlebox-reset-injected.pcap")
        .unwrap();
    open_sample(&mut h, &s.title);
    h.get_all_by_label("frame 46")
        .next()
        .expect("an evidence link")
        .click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("client 10.77.1.2").is_some(),
        "the ladder shows the client lane"
    );
}

/// A killed server's five connections: the summary strip names the incident, every row carries
/// its badge, and the cause panel shows each connection's own cause with the incident beside it
/// and the runner-up among "It could also be"; clicking the incident filters its connections.
#[test]
fn a_mass_reset_is_an_incident_beside_each_connections_own_cause() {
    let mut h = harness();
    h.run_steps(2);
    let s = samples::all()
        .into_iter()
        .find(|s| s.file == "mass-reset-server-killed.pcap")
        .unwrap();
    open_sample(&mut h, &s.title);
    let model = h.state().model().unwrap();
    assert_eq!(model.incidents.len(), 1);
    let summary = model.incidents[0].summary.clone();
    assert!(summary.contains("reset 5 connections"), "{summary}");
    assert!(
        h.query_by_label_contains("mass reset: 10.77.2.2 reset 5 connections")
            .is_some(),
        "the summary strip names the incident"
    );
    assert_eq!(
        h.query_all_by_label("mass reset").count(),
        5,
        "a badge on every member's row"
    );
    let selected = h.state().selected.unwrap();
    let d = h
        .state()
        .model()
        .unwrap()
        .diagnosis(selected)
        .unwrap()
        .clone();
    assert_eq!(d.cause.id(), "unread-data-close");
    assert!(
        h.query_by_label("unread-data-close: closed with unread data")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("one of 5 connections that 10.77.2.2 reset within")
            .is_some(),
        "the cause panel shows the incident"
    );
    assert!(h.query_by_label("It could also be").is_some());
    assert!(h.query_by_label_contains("When").is_some());
    // Clicking the incident in the strip shows its connections only.
    h.get_by_label_contains("mass reset: 10.77.2.2 reset 5 connections")
        .click_accesskit();
    h.run_steps(3);
    assert_eq!(h.state().filter_text, "incident:mass-reset");
    assert_eq!(h.state().shown_rows().len(), 5);
    h.state_mut().set_filter("-incident:mass-reset");
    h.run_steps(2);
    assert_eq!(h.state().shown_rows().len(), 0);
}

// ---- Snapshot images (tests/snapshots/*.png; `UPDATE_SNAPSHOTS=1 cargo test --test ui` rewrites them) ----

/// Up to 2,000 pixels (of 1,049,600) may differ: antialiasing noise between runs of the
/// software renderer, far below what any change of layout or content produces.
fn snap(h: &mut Harness<'static, RstscopeApp>, name: &str) {
    h.snapshot_options(
        name,
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(2000),
    );
}

#[test]
fn snapshots_of_welcome_connections_and_ladder() {
    let mut h = harness();
    h.run_steps(3);
    snap(&mut h, "welcome");

    let s = samples::all()
        .into_iter()
        .find(|s| s.file == "middlebox-reset-injected.pcap")
        .unwrap();
    open_sample(&mut h, &s.title);
    snap(&mut h, "connections_cause");

    h.get_all_by_label("frame 46").next().unwrap().click();
    h.run_steps(5);
    snap(&mut h, "ladder");
}

#[test]
fn two_point_capture_proves_the_forged_rst_in_the_cause_panel() {
    let mut h = harness();
    h.run_steps(2);
    let find = |f: &str| samples::all().into_iter().find(|s| s.file == f).unwrap();
    let (client, server) = (
        find("nat-state-expiry-two-point.pcap"),
        find("nat-state-expiry-two-point-server.pcap"),
    );
    let ctx = h.ctx.clone();
    h.state_mut().open_pair(
        &ctx,
        SourceSpec::Bytes(client.file.clone(), client.bytes.clone()),
        SourceSpec::Bytes(server.file.clone(), server.bytes.clone()),
    );
    assert!(
        h.state_mut()
            .wait_until_loaded(&ctx, Duration::from_secs(20))
    );
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("1 RST proven forged on the path")
            .is_some(),
        "the summary strip reports the cross-check"
    );
    assert!(
        h.query_by_label_contains("captured at the server, shows the server never sent this RST")
            .is_some(),
        "the cause panel cites the server's capture as evidence"
    );
}

/// The Capture window lists this machine's interfaces with their addresses (libpcap needed:
/// CI installs it; elsewhere the test says it was skipped unless `RSTSCOPE_REQUIRE_LIVE`).
#[test]
fn capture_window_lists_interfaces_with_addresses_and_state() {
    if let Err(why) = rstscope::source::live::libpcap_version() {
        assert!(std::env::var_os("RSTSCOPE_REQUIRE_LIVE").is_none(), "{why}");
        eprintln!("capture window: skipped, {why}");
        return;
    }
    let mut h = harness();
    h.run_steps(2);
    h.get_by_label("Capture live traffic...").click_accesskit();
    h.run_steps(3);
    assert!(h.state().capture.open, "the Capture window opened");
    // The loopback interface is on every Linux machine, with 127.0.0.1.
    if cfg!(target_os = "linux") {
        assert!(h.query_by_label("lo").is_some(), "lo is listed");
        assert!(
            h.query_by_label("127.0.0.1  ::1").is_some() || h.query_by_label("127.0.0.1").is_some(),
            "lo's address is shown"
        );
    }
    assert!(h.query_by_label("Start capture").is_some());
    assert_eq!(h.state().capture.filter, "tcp", "the default filter");
}

/// Every column sorts its rows by the value it shows, both ways, ties in id order; and the
/// filter still applies. (The sort reads each row's key once: a million rows in well under a
/// second, where comparing connections directly took half a second.)
#[test]
fn columns_sort_by_their_values_both_ways() {
    use rstscope::filter::Filter;
    use rstscope::ui::model::{Column, Model, Sort};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-captures/busy-one-reset.pcapng");
    let analysis = pipeline::analyze(SourceSpec::File(path), Options::default())
        .analysis
        .unwrap();
    let mut m = Model::new("busy".to_owned());
    m.finish(analysis);
    assert!(m.connections.len() > 5);
    let duration = |id: u32| m.connections[id as usize].duration_ns();
    let client = |id: u32| m.connections[id as usize].client;
    let packets = |id: u32| {
        let c = &m.connections[id as usize];
        c.dirs[0].packets + c.dirs[1].packets
    };
    for column in Column::ALL {
        for descending in [false, true] {
            let rows = m.view(&Filter::default(), false, Sort { column, descending });
            assert_eq!(rows.len(), m.connections.len(), "{column:?}");
            for pair in rows.windows(2) {
                let (x, y) = if descending {
                    (pair[1], pair[0])
                } else {
                    (pair[0], pair[1])
                };
                let ok = match column {
                    Column::Id => x < y,
                    Column::Duration => (duration(x), x) < (duration(y), y),
                    Column::Packets => (packets(x), x) < (packets(y), y),
                    Column::Client => {
                        ((client(x).ip(), client(x).port()), x)
                            < ((client(y).ip(), client(y).port()), y)
                    }
                    _ => true,
                };
                assert!(ok, "{column:?} descending={descending}: {x} before {y}");
            }
        }
    }
    let resets = m.view(
        &Filter::default(),
        true,
        Sort {
            column: Column::Duration,
            descending: true,
        },
    );
    assert!(!resets.is_empty() && resets.len() < m.connections.len());
    assert!(
        resets
            .iter()
            .all(|&id| !m.connections[id as usize].resets.is_empty() || m.diagnosis(id).is_some())
    );
}

#[test]
fn the_wheel_zooms_the_overviews_time_and_no_gesture_leaves_it_empty() {
    use rstscope::ui::overview;
    let (mut h, _) = busy_sample_open();
    h.run_steps(3);
    let home = overview::shown(&h.ctx).expect("the overview is drawn");
    #[allow(clippy::cast_precision_loss)]
    let rows = h.state().shown_rows().len() as f64;
    let centre = home.rect.center();
    let wheel = |h: &mut Harness<'static, RstscopeApp>, delta: egui::Vec2, times: usize| {
        for _ in 0..times {
            let input = h.input_mut();
            input.events.push(egui::Event::PointerMoved(centre));
            input.events.push(egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta,
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Wheel,
                modifiers: egui::Modifiers::NONE,
            });
            h.run_steps(4);
        }
        overview::shown(&h.ctx).unwrap()
    };
    let span = |s: &overview::Shown| s.time_s.1 - s.time_s.0;
    let shows_bars = |s: &overview::Shown| {
        s.time_s.0 < span(&home) && s.time_s.1 > 0.0 && s.rows.0 < rows && s.rows.1 > 0.0
    };
    // The wheel zooms time around the pointer and leaves the rows alone.
    let zoomed = wheel(&mut h, egui::vec2(0.0, 50.0), 3);
    assert!(span(&zoomed) < 0.7 * span(&home), "{home:?} -> {zoomed:?}");
    assert!((zoomed.rows.1 - zoomed.rows.0 - (home.rows.1 - home.rows.0)).abs() < 1e-6);
    // However far it is turned the other way, the bars stay in view.
    let out = wheel(&mut h, egui::vec2(0.0, -50.0), 40);
    assert!(span(&out) > span(&home) && shows_bars(&out), "{out:?}");
    // Dragging the bars far out of the plot brings the whole capture back.
    for _ in 0..6 {
        let input = h.input_mut();
        input.events.push(egui::Event::PointerMoved(centre));
        input.events.push(egui::Event::PointerButton {
            pos: centre,
            button: egui::PointerButton::Primary,
            pressed: true,
            modifiers: egui::Modifiers::NONE,
        });
        h.run_steps(1);
        let far = centre + egui::vec2(0.0, 400.0);
        h.input_mut().events.push(egui::Event::PointerMoved(far));
        h.run_steps(1);
        h.input_mut().events.push(egui::Event::PointerButton {
            pos: far,
            button: egui::PointerButton::Primary,
            pressed: false,
            modifiers: egui::Modifiers::NONE,
        });
        h.run_steps(2);
        let now = overview::shown(&h.ctx).unwrap();
        assert!(shows_bars(&now), "after a drag: {now:?}");
    }
}
