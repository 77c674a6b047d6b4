//! One connection in detail: the cause panel, the ladder diagram with both ends' TCP states,
//! the lifecycle timeline and the packet list.

use eframe::egui::{self, Color32, Pos2, RichText, Sense, Stroke, Vec2};

use super::model::Model;
use crate::decode::flags;
use crate::diagnose::{Confidence, Diagnosis, Incident, RstEffect, SenderKind};
use crate::flow::state::{self, EndStates};
use crate::flow::{Connection, Dir, PacketRecord, analysis};
use crate::time::secs;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tab {
    #[default]
    Cause,
    Ladder,
    Lifecycle,
    Packets,
}

/// What the detail view remembers between frames.
#[derive(Clone, Debug, Default)]
pub struct DetailState {
    pub tab: Tab,
    /// Stepping through the connection: packets after this index are not shown yet.
    pub step: Option<usize>,
    /// A frame to highlight (an evidence frame the user clicked).
    pub highlight: Option<u64>,
    /// Scroll the ladder to the highlighted frame on the next frame.
    pub scroll_to_highlight: bool,
    /// Scroll the connections table to the selection.
    pub scroll_table: bool,
    /// Both ends' states after each packet, for (connection, packet count): computed once,
    /// not every frame.
    states: Option<(u32, usize, Vec<EndStates>)>,
}

impl DetailState {
    /// Moves the teaching step by `delta` packets within `n`.
    pub fn step_by(&mut self, delta: i64, n: usize) {
        if n == 0 {
            return;
        }
        let last = n - 1;
        let cur = self.step.unwrap_or(if delta > 0 { 0 } else { last });
        let next = if delta > 0 {
            if self.step.is_none() {
                0
            } else {
                (cur + 1).min(last)
            }
        } else {
            cur.saturating_sub(1)
        };
        self.step = Some(next);
        self.tab = Tab::Ladder;
        self.highlight = None;
    }
}

/// Short explanations of TCP terms, shown as tooltips.
pub fn term_help(term: &str) -> &'static str {
    match term {
        "SYN" => "SYN: opens a connection and fixes its initial sequence number (ISN).",
        "ACK" => "ACK: acknowledges every byte up to the acknowledgment number.",
        "FIN" => "FIN: the sender has no more data; a graceful close, one direction at a time.",
        "RST" => {
            "RST: reset. Abandons the connection at once, in both directions; data in flight is lost."
        }
        "PSH" => "PSH: deliver the data to the application now.",
        "window" => "Window: how many more bytes the sender of this packet is ready to receive.",
        "TTL" => {
            "TTL (hop limit): decremented by each router. Packets from one host arrive with one TTL; a different TTL means a different sender or path."
        }
        "keep-alive" => {
            "Keep-alive: an empty probe (seq one below the next) to check the peer is still there."
        }
        "IP ID" => {
            "IP ID: a counter the sending host stamps on IPv4 packets; a foreign value points at another sender."
        }
        _ => "",
    }
}

fn flag_text(f: u8) -> String {
    let mut parts = Vec::new();
    for (bit, name) in [
        (flags::SYN, "SYN"),
        (flags::FIN, "FIN"),
        (flags::RST, "RST"),
        (flags::PSH, "PSH"),
        (flags::ACK, "ACK"),
    ] {
        if f & bit != 0 {
            parts.push(name);
        }
    }
    parts.join(",")
}

fn side(d: Dir) -> &'static str {
    match d {
        Dir::Client => "client",
        Dir::Server => "server",
    }
}

/// Draws the detail of connection `id`; returns a frame the user asked to see.
pub fn detail_ui(ui: &mut egui::Ui, model: &Model, id: u32, st: &mut DetailState) -> Option<u64> {
    let c = &model.connections[id as usize];
    let packets = model
        .packets
        .get(id as usize)
        .map_or(&[][..], Vec::as_slice);
    let d = model.diagnosis(id);
    ui.horizontal_wrapped(|ui| {
        ui.heading(format!("Connection #{id}"));
        ui.label(format!("{} -> {}", c.client, c.server));
        ui.weak(c.termination().as_str());
    });
    ui.horizontal(|ui| {
        for (tab, name) in [
            (Tab::Cause, "Cause"),
            (Tab::Ladder, "Ladder"),
            (Tab::Lifecycle, "Lifecycle"),
            (Tab::Packets, "Packets"),
        ] {
            if ui.selectable_label(st.tab == tab, name).clicked() {
                st.tab = tab;
            }
        }
        ui.separator();
        let step_text = st.step.map_or_else(
            || "Step: Left/Right keys".to_owned(),
            |s| format!("Step {} of {}", s + 1, packets.len()),
        );
        ui.label(step_text).on_hover_text(
            "Arrow keys step through the connection packet by packet; Esc leaves stepping.",
        );
    });
    ui.separator();
    match st.tab {
        Tab::Cause => {
            let incident = d
                .and_then(|d| d.incident)
                .and_then(|i| model.incidents.get(i));
            cause_ui(ui, c, d, incident, st)
        }
        Tab::Ladder => {
            ladder_ui(ui, c, packets, d, st);
            None
        }
        Tab::Lifecycle => {
            lifecycle_ui(ui, c, packets, st);
            None
        }
        Tab::Packets => {
            packets_ui(ui, c, packets, st);
            None
        }
    }
}

fn confidence_text(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "high",
        Confidence::Medium => "medium",
        Confidence::Low => "low",
    }
}

/// The Wireshark display filter for this connection.
pub fn wireshark_filter(c: &Connection) -> String {
    let (a, b) = (c.client, c.server);
    let ipf = |ip: std::net::IpAddr| if ip.is_ipv4() { "ip.addr" } else { "ipv6.addr" };
    format!(
        "{} == {} && tcp.port == {} && {} == {} && tcp.port == {}",
        ipf(a.ip()),
        a.ip(),
        a.port(),
        ipf(b.ip()),
        b.ip(),
        b.port()
    )
}

/// A tcpdump command that catches resets on this connection's server port.
pub fn tcpdump_command(c: &Connection) -> String {
    let rst = if c.server.is_ipv4() {
        "tcp[tcpflags] & tcp-rst != 0"
    } else {
        // tcpdump's tcpflags offsets only work for IPv4; byte 13 of the TCP header for IPv6.
        "ip6[40+13] & 0x04 != 0"
    };
    format!(
        "sudo tcpdump -i any -U --immediate-mode -w resets.pcap 'host {} and tcp port {} and {rst}'",
        c.server.ip(),
        c.server.port()
    )
}

/// A wall-clock time in UTC, and in this machine's time zone when that is another:
/// "2026-11-24 21:15:15.139342 UTC (22:15:15.139 here)".
fn wall_clock(ts_ns: i64) -> String {
    let utc = chrono::DateTime::from_timestamp_nanos(ts_ns);
    let local = utc.with_timezone(&chrono::Local);
    let here = if local.offset().local_minus_utc() == 0 {
        String::new()
    } else {
        format!(" ({} here)", local.format("%H:%M:%S%.3f"))
    };
    format!("{} UTC{here}", utc.format("%Y-%m-%d %H:%M:%S%.6f"))
}

/// A frame link that opens the ladder on it.
fn frame_link_ui(ui: &mut egui::Ui, frame: u64, st: &mut DetailState, wanted: &mut Option<u64>) {
    if ui
        .link(format!("frame {frame}"))
        .on_hover_text("Show it in the ladder")
        .clicked()
    {
        *wanted = Some(frame);
        st.tab = Tab::Ladder;
        st.scroll_to_highlight = true;
        st.step = None;
    }
}

// The cause panel top to bottom, as the reader sees it.
#[allow(clippy::too_many_lines)]
fn cause_ui(
    ui: &mut egui::Ui,
    c: &Connection,
    d: Option<&Diagnosis>,
    incident: Option<&Incident>,
    st: &mut DetailState,
) -> Option<u64> {
    let mut wanted = None;
    egui::ScrollArea::vertical()
        .id_salt("cause")
        .show(ui, |ui| {
            let Some(d) = d else {
                ui.label(format!(
                    "No RST to explain: this connection ended {} ({}).",
                    c.termination().as_str(),
                    super::model::termination_help(c.termination())
                ));
                copy_buttons_ui(ui, c);
                return;
            };
            ui.label(RichText::new(&d.summary).size(16.0).strong());
            if let Some(inc) = incident {
                ui.add_space(2.0);
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    RichText::new(format!("{}: {}", inc.kind.title(), inc.badge())).strong(),
                );
            }
            ui.add_space(4.0);
            egui::Grid::new("verdict").num_columns(2).show(ui, |ui| {
                ui.label("Cause");
                ui.label(RichText::new(format!("{}: {}", d.cause.id(), d.cause.title())).strong());
                ui.end_row();
                ui.label("Sent by");
                let kind = match d.sender_kind {
                    SenderKind::Endpoint => format!("the {} itself", side(d.sender)),
                    SenderKind::Middlebox => {
                        format!("a device on the path, in the {}'s name", side(d.sender))
                    }
                };
                let hops = d.hops_from_capture.map_or(String::new(), |h| {
                    format!(" ({})", crate::diagnose::hop_words(h))
                });
                let doubt = d
                    .sender_doubt
                    .as_ref()
                    .map_or(String::new(), |x| format!(", {x}"));
                ui.add(egui::Label::new(format!("{kind}{hops}{doubt}")).wrap())
                    .on_hover_text(term_help("TTL"));
                ui.end_row();
                if let Some(ts) = d.rst_ts_ns {
                    ui.label("When");
                    ui.add(egui::Label::new(wall_clock(ts)).wrap())
                        .on_hover_text(
                            "The RST's wall-clock time: look in the sender's logs at this moment.",
                        );
                    ui.end_row();
                }
                ui.label("Confidence");
                ui.add(
                    egui::Label::new(format!(
                        "{}: {}",
                        confidence_text(d.confidence),
                        d.confidence_reasons.join("; ")
                    ))
                    .wrap(),
                );
                ui.end_row();
                if let Some(t) = &d.known_timeout {
                    ui.label("Timeout");
                    ui.add(egui::Label::new(t).wrap());
                    ui.end_row();
                }
                if let Some(k) = &d.kernel {
                    kernel_row(ui, k);
                }
            });
            ui.add_space(6.0);
            ui.strong("Evidence");
            for e in &d.evidence {
                ui.horizontal_wrapped(|ui| {
                    frame_link_ui(ui, e.frame, st, &mut wanted);
                    ui.label(&e.note);
                });
            }
            if d.resets.len() > 1 {
                ui.add_space(4.0);
                ui.strong("Every RST");
                for r in &d.resets {
                    ui.horizontal_wrapped(|ui| {
                        frame_link_ui(ui, r.frame, st, &mut wanted);
                        let tag = match (r.genuine, r.effect) {
                            (_, RstEffect::EndedConnection) => "ended it",
                            (Some(true), RstEffect::Ignored) => "ignored",
                            (Some(false), RstEffect::Ignored) => "forged, ignored",
                            (None, RstEffect::Ignored) => "not judged, before",
                            (Some(true), RstEffect::AfterReset) => "genuine, after",
                            (Some(false), RstEffect::AfterReset) => "forged, after",
                            (None, RstEffect::AfterReset) => "not judged, after",
                        };
                        ui.label(RichText::new(tag).strong());
                        ui.label(&r.note);
                    });
                }
            }
            if !d.alternatives.is_empty() {
                ui.add_space(6.0);
                ui.strong("It could also be");
                for alt in &d.alternatives {
                    let by = match alt.sender_kind {
                        SenderKind::Endpoint => String::new(),
                        SenderKind::Middlebox => " (sent on the path)".to_owned(),
                    };
                    ui.horizontal_wrapped(|ui| {
                        ui.label(RichText::new(format!("{}{by}", alt.cause.id())).strong());
                        ui.label(format!(
                            "{}. To tell them apart: {}.",
                            alt.why, alt.tell_apart
                        ));
                    });
                }
            }
            ui.add_space(6.0);
            ui.strong("What happened");
            ui.label(d.explanation());
            if let Some(inc) = incident {
                ui.add_space(4.0);
                ui.label(&inc.summary);
                ui.label(&inc.explanation);
            }
            ui.add_space(6.0);
            ui.strong("What to change");
            for f in d.fixes() {
                ui.label(format!("- {f}"));
            }
            if let Some(inc) = incident {
                for f in &inc.fixes {
                    ui.label(format!("- {f}"));
                }
            }
            if let Some(w) = &d.would_settle {
                ui.add_space(6.0);
                ui.strong("What would settle it");
                ui.label(w);
            }
            ui.add_space(6.0);
            copy_buttons_ui(ui, c);
        });
    wanted
}

fn copy_buttons_ui(ui: &mut egui::Ui, c: &Connection) {
    ui.horizontal(|ui| {
        if ui
            .button("Copy Wireshark filter")
            .on_hover_text(wireshark_filter(c))
            .clicked()
        {
            ui.ctx().copy_text(wireshark_filter(c));
        }
        if ui
            .button("Copy tcpdump command")
            .on_hover_text(tcpdump_command(c))
            .clicked()
        {
            ui.ctx().copy_text(tcpdump_command(c));
        }
    });
}

const LANE_ROW: f32 = 46.0;

fn ladder_ui(
    ui: &mut egui::Ui,
    c: &Connection,
    packets: &[PacketRecord],
    d: Option<&Diagnosis>,
    st: &mut DetailState,
) {
    if packets.is_empty() {
        ui.weak("No packet records for this connection.");
        return;
    }
    let fresh = st
        .states
        .as_ref()
        .is_some_and(|(id, n, _)| *id == c.id && *n == packets.len());
    if !fresh {
        // A RST forged on the path closes its receiver but not the end it impersonates.
        let forged: Vec<u32> = d
            .filter(|d| d.sender_kind == SenderKind::Middlebox)
            .and_then(|d| d.rst_frame)
            .and_then(|f| u32::try_from(f).ok())
            .into_iter()
            .collect();
        st.states = Some((
            c.id,
            packets.len(),
            state::replay_with_forged(packets, &forged),
        ));
    }
    let focus_row = if st.scroll_to_highlight {
        st.highlight
            .and_then(|f| packets.iter().position(|p| u64::from(p.frame) == f))
    } else {
        st.step
    };
    st.scroll_to_highlight = false;
    let (step, highlight) = (st.step, st.highlight);
    let states = st.states.as_ref().map_or(&[][..], |(_, _, s)| s.as_slice());
    let before = state::initial(packets);
    let evidence: Vec<u64> = d
        .map(|d| d.evidence.iter().map(|e| e.frame).collect())
        .unwrap_or_default();
    let client_isn = c.dir(Dir::Client).isn.unwrap_or(0);
    let server_isn = c.dir(Dir::Server).isn.unwrap_or(0);
    ui.horizontal(|ui| {
        ui.strong(format!("client {}", c.client));
        ui.add_space(ui.available_width() - 220.0);
        ui.strong(format!("server {}", c.server));
    });
    ui.horizontal(|ui| {
        ui.weak(format!("{}", before.client));
        ui.add_space(ui.available_width() - 120.0);
        ui.weak(format!("{}", before.server));
    });
    let mut area = egui::ScrollArea::vertical()
        .id_salt("ladder")
        .auto_shrink([false, false]);
    if let Some(row) = focus_row {
        #[allow(clippy::cast_precision_loss)]
        let offset = (row as f32 * LANE_ROW - 120.0).max(0.0);
        area = area.vertical_scroll_offset(offset);
    }
    let ladder = Ladder {
        c,
        packets,
        states,
        evidence: &evidence,
        isn: (client_isn, server_isn),
        step,
        highlight,
    };
    area.show_rows(ui, LANE_ROW, packets.len(), |ui, range| {
        for i in range {
            ladder.row_ui(ui, i);
        }
    });
}

/// One packet on the lifecycle timeline: S, F or R for SYN, FIN and RST, a circle for a
/// keep-alive, a bar as tall as the log of its payload for data, a tick for a bare ACK.
fn packet_mark(painter: &egui::Painter, visuals: &egui::Visuals, at: Pos2, p: &PacketRecord) {
    let letter = |text: &str, size: f32, color: Color32| {
        painter.text(
            at,
            egui::Align2::CENTER_CENTER,
            text,
            egui::FontId::proportional(size),
            color,
        );
    };
    if p.flags & flags::RST != 0 {
        letter("R", 16.0, Color32::from_rgb(220, 60, 50));
    } else if p.flags & flags::SYN != 0 {
        letter("S", 14.0, Color32::from_rgb(60, 120, 220));
    } else if p.flags & flags::FIN != 0 {
        letter("F", 14.0, Color32::from_rgb(60, 160, 90));
    } else if p.analysis & analysis::KEEPALIVE != 0 {
        painter.circle_stroke(at, 3.0, Stroke::new(1.0, visuals.text_color()));
    } else if p.payload_len > 0 {
        #[allow(clippy::cast_precision_loss)]
        let h = 4.0 + (p.payload_len as f32).log2().max(0.0);
        let bar = egui::Rect::from_center_size(at - Vec2::new(0.0, h / 2.0), Vec2::new(2.0, h));
        painter.rect_filled(bar, 0.0, visuals.text_color());
    } else {
        painter.line_segment(
            [at - Vec2::new(0.0, 3.0), at + Vec2::new(0.0, 3.0)],
            Stroke::new(1.0, visuals.weak_text_color()),
        );
    }
}

/// A line with a small head, the same size for every arrow.
fn arrow(painter: &egui::Painter, tail: Pos2, head: Pos2, stroke: Stroke) {
    painter.line_segment([tail, head], stroke);
    let back = (tail - head).normalized() * 9.0;
    let wing = Vec2::new(-back.y, back.x) * 0.45;
    painter.line_segment([head, head + back + wing], stroke);
    painter.line_segment([head, head + back - wing], stroke);
}

/// What every row of the ladder needs.
struct Ladder<'a> {
    c: &'a Connection,
    packets: &'a [PacketRecord],
    states: &'a [EndStates],
    evidence: &'a [u64],
    /// Client and server ISNs, for relative numbers.
    isn: (u32, u32),
    step: Option<usize>,
    highlight: Option<u64>,
}

impl Ladder<'_> {
    /// One packet: its arrow between the lanes, its label, and both states after it.
    fn row_ui(&self, ui: &mut egui::Ui, i: usize) {
        let p = &self.packets[i];
        let (rect, response) =
            ui.allocate_exact_size(Vec2::new(ui.available_width(), LANE_ROW), Sense::hover());
        let painter = ui.painter_at(rect);
        let visuals = ui.visuals();
        let shown = self.step.is_none_or(|s| i <= s);
        let faded = |col: Color32| if shown { col } else { col.gamma_multiply(0.15) };
        let left = rect.left() + rect.width() * 0.22;
        let right = rect.left() + rect.width() * 0.78;
        let middle = left.midpoint(right);
        let lane = Stroke::new(1.0, visuals.weak_text_color());
        for x in [left, right] {
            painter.line_segment(
                [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
                lane,
            );
        }
        let frame = u64::from(p.frame);
        if self.highlight == Some(frame) || self.step == Some(i) {
            painter.rect_filled(rect, 2.0, visuals.selection.bg_fill.gamma_multiply(0.5));
        } else if self.evidence.contains(&frame) {
            painter.rect_filled(rect, 2.0, visuals.warn_fg_color.gamma_multiply(0.12));
        }
        // A long silence before this packet, compressed to a label.
        let gap = i
            .checked_sub(1)
            .map_or(0, |j| p.ts_ns - self.packets[j].ts_ns);
        if gap >= 1_000_000_000 {
            painter.text(
                Pos2::new(middle, rect.top() + 1.0),
                egui::Align2::CENTER_TOP,
                format!("... {:.3} s idle ...", secs(gap)),
                egui::FontId::proportional(11.0),
                faded(visuals.warn_fg_color),
            );
        }
        let (from_x, to_x) = if p.dir == Dir::Client {
            (left, right)
        } else {
            (right, left)
        };
        let (y0, y1) = (rect.top() + 16.0, rect.bottom() - 6.0);
        let rst = p.flags & flags::RST != 0;
        let color = if rst {
            Color32::from_rgb(220, 60, 50)
        } else if p.flags & (flags::SYN | flags::FIN) != 0 {
            if visuals.dark_mode {
                Color32::from_rgb(120, 170, 255)
            } else {
                Color32::from_rgb(30, 80, 200)
            }
        } else {
            visuals.text_color()
        };
        let stroke = Stroke::new(if rst { 2.5 } else { 1.5 }, faded(color));
        arrow(&painter, Pos2::new(from_x, y0), Pos2::new(to_x, y1), stroke);
        painter.text(
            Pos2::new(middle, y0.midpoint(y1) - 2.0),
            egui::Align2::CENTER_BOTTOM,
            self.label(p),
            egui::FontId::monospace(11.0),
            faded(visuals.text_color()),
        );
        painter.text(
            Pos2::new(rect.left() + 2.0, y0),
            egui::Align2::LEFT_TOP,
            format!("#{} +{:.6}", p.frame, secs(p.ts_ns - self.c.first_ts_ns)),
            egui::FontId::monospace(10.0),
            faded(visuals.weak_text_color()),
        );
        if shown && let Some(s) = self.states.get(i) {
            for (x, align, state) in [
                (left - 4.0, egui::Align2::RIGHT_BOTTOM, s.client),
                (right + 4.0, egui::Align2::LEFT_BOTTOM, s.server),
            ] {
                painter.text(
                    Pos2::new(x, y1),
                    align,
                    state.to_string(),
                    egui::FontId::proportional(11.0),
                    visuals.strong_text_color(),
                );
            }
        }
        let terms: Vec<&str> = flag_text(p.flags)
            .split(',')
            .map(term_help)
            .filter(|h| !h.is_empty())
            .collect();
        response.on_hover_text(format!(
            "frame {} from the {}: {}\nTTL {}, IP ID {}, window {}\n\n{}",
            p.frame,
            side(p.dir),
            flag_text(p.flags),
            p.ttl,
            p.ip_id,
            p.window,
            terms.join("\n")
        ));
    }

    /// "SYN,ACK seq=0 ack=1 len=0 win=65160", numbers relative to the ISNs.
    fn label(&self, p: &PacketRecord) -> String {
        use std::fmt::Write as _;
        let (isn_seq, isn_ack) = if p.dir == Dir::Client {
            self.isn
        } else {
            (self.isn.1, self.isn.0)
        };
        let mut label = format!("{} seq={}", flag_text(p.flags), p.seq.wrapping_sub(isn_seq));
        if p.flags & flags::ACK != 0 {
            let _ = write!(label, " ack={}", p.ack.wrapping_sub(isn_ack));
        }
        let _ = write!(label, " len={} win={}", p.payload_len, p.window);
        if p.analysis & analysis::RETRANSMISSION != 0 {
            label.push_str(" [retransmission]");
        }
        if p.analysis & analysis::KEEPALIVE != 0 {
            label.push_str(" [keep-alive]");
        }
        label
    }
}

fn lifecycle_ui(ui: &mut egui::Ui, c: &Connection, packets: &[PacketRecord], st: &DetailState) {
    let (rect, response) =
        ui.allocate_exact_size(Vec2::new(ui.available_width(), 160.0), Sense::hover());
    let painter = ui.painter_at(rect);
    let span = (c.last_ts_ns - c.first_ts_ns).max(1);
    #[allow(clippy::cast_precision_loss)]
    let x_of = |ts: i64| {
        rect.left() + 10.0 + (rect.width() - 20.0) * ((ts - c.first_ts_ns) as f32 / span as f32)
    };
    let rows = [
        (Dir::Client, rect.top() + 45.0, "client -> server"),
        (Dir::Server, rect.top() + 105.0, "server -> client"),
    ];
    for g in &c.idle_gaps {
        let a = packets
            .iter()
            .find(|p| u64::from(p.frame) == g.after_frame)
            .map_or(c.first_ts_ns, |p| p.ts_ns);
        let b = packets
            .iter()
            .find(|p| u64::from(p.frame) == g.before_frame)
            .map_or(c.last_ts_ns, |p| p.ts_ns);
        let r = egui::Rect::from_min_max(
            Pos2::new(x_of(a), rect.top() + 20.0),
            Pos2::new(x_of(b), rect.bottom() - 20.0),
        );
        painter.rect_filled(r, 0.0, ui.visuals().warn_fg_color.gamma_multiply(0.12));
        painter.text(
            r.center_top(),
            egui::Align2::CENTER_TOP,
            format!("idle {:.3} s", secs(g.ns)),
            egui::FontId::proportional(11.0),
            ui.visuals().warn_fg_color,
        );
    }
    for (dir, y, name) in rows {
        painter.text(
            Pos2::new(rect.left() + 10.0, y - 22.0),
            egui::Align2::LEFT_TOP,
            name,
            egui::FontId::proportional(11.0),
            ui.visuals().weak_text_color(),
        );
        painter.line_segment(
            [
                Pos2::new(rect.left() + 10.0, y),
                Pos2::new(rect.right() - 10.0, y),
            ],
            Stroke::new(1.0, ui.visuals().weak_text_color()),
        );
        for (i, p) in packets.iter().enumerate().filter(|(_, p)| p.dir == dir) {
            if st.step.is_some_and(|s| i > s) {
                continue;
            }
            packet_mark(&painter, ui.visuals(), Pos2::new(x_of(p.ts_ns), y), p);
        }
    }
    painter.text(
        rect.left_bottom() + Vec2::new(10.0, -2.0),
        egui::Align2::LEFT_BOTTOM,
        "0 s",
        egui::FontId::proportional(11.0),
        ui.visuals().weak_text_color(),
    );
    painter.text(
        rect.right_bottom() + Vec2::new(-10.0, -2.0),
        egui::Align2::RIGHT_BOTTOM,
        format!("{:.3} s", secs(span)),
        egui::FontId::proportional(11.0),
        ui.visuals().weak_text_color(),
    );
    response.on_hover_text("S = SYN, F = FIN, R = RST; bars are data (taller = more bytes); circles are keep-alive probes; shaded spans are idle gaps.");
}

fn packets_ui(ui: &mut egui::Ui, c: &Connection, packets: &[PacketRecord], st: &DetailState) {
    use egui_extras::{Column, TableBuilder};
    let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
    let mut table = TableBuilder::new(ui)
        .id_salt("packets")
        .striped(true)
        .resizable(true)
        .columns(Column::auto(), 10)
        .column(Column::remainder());
    if let Some(row) = st
        .highlight
        .and_then(|f| packets.iter().position(|p| u64::from(p.frame) == f))
        .or(st.step)
    {
        table = table.scroll_to_row(row, Some(egui::Align::Center));
    }
    let client_isn = c.dir(Dir::Client).isn.unwrap_or(0);
    let server_isn = c.dir(Dir::Server).isn.unwrap_or(0);
    table
        .header(row_h, |mut h| {
            for name in [
                "Frame", "Time (s)", "Dir", "Flags", "Seq", "Ack", "Len", "Win", "TTL", "IP ID",
                "Notes",
            ] {
                h.col(|ui| {
                    ui.strong(name).on_hover_text(term_help(match name {
                        "Win" => "window",
                        "IP ID" => "IP ID",
                        n => n,
                    }));
                });
            }
        })
        .body(|body| {
            body.rows(row_h, packets.len(), |mut row| {
                let p = &packets[row.index()];
                row.set_selected(
                    st.highlight == Some(u64::from(p.frame)) || st.step == Some(row.index()),
                );
                let (isn_seq, isn_ack) = if p.dir == Dir::Client {
                    (client_isn, server_isn)
                } else {
                    (server_isn, client_isn)
                };
                let cells = [
                    p.frame.to_string(),
                    format!("{:.6}", secs(p.ts_ns - c.first_ts_ns)),
                    if p.dir == Dir::Client {
                        "C->S".to_owned()
                    } else {
                        "S->C".to_owned()
                    },
                    flag_text(p.flags),
                    p.seq.wrapping_sub(isn_seq).to_string(),
                    if p.flags & flags::ACK != 0 {
                        p.ack.wrapping_sub(isn_ack).to_string()
                    } else {
                        String::new()
                    },
                    p.payload_len.to_string(),
                    p.window.to_string(),
                    p.ttl.to_string(),
                    if p.analysis & analysis::NO_IP_ID != 0 {
                        "-".to_owned()
                    } else {
                        p.ip_id.to_string()
                    },
                ];
                for cell in cells {
                    row.col(|ui| {
                        ui.monospace(cell);
                    });
                }
                row.col(|ui| {
                    let mut notes = Vec::new();
                    if p.analysis & analysis::RETRANSMISSION != 0 {
                        notes.push("retransmission");
                    }
                    if p.analysis & analysis::KEEPALIVE != 0 {
                        notes.push("keep-alive");
                    }
                    if p.analysis & analysis::ZERO_WINDOW != 0 {
                        notes.push("zero window");
                    }
                    ui.label(notes.join(", "));
                });
            });
        });
}

/// The kernel's own record of the RST, as a row of the cause grid.
fn kernel_row(ui: &mut egui::Ui, k: &crate::diagnose::kernel::KernelWord) {
    ui.label("Kernel (verified)").on_hover_text(
        "Recorded by this machine's kernel (tracepoint tcp:tcp_send_reset) while capturing",
    );
    let verdict = match k.agrees {
        Some(true) => "fits the cause",
        Some(false) => "does NOT fit the cause",
        None => "says nothing about the cause",
    };
    ui.add(
        egui::Label::new(
            RichText::new(format!(
                "{} (socket {}): {}; {verdict}",
                k.reason, k.state, k.meaning
            ))
            .strong(),
        )
        .wrap(),
    );
    ui.end_row();
}
