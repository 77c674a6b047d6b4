//! The Capture window: pick an interface, a filter and options, start; and the strip that
//! shows a running capture (kernel counters, where it is saved) with Stop and Save As.

use std::path::Path;

use eframe::egui::{self, RichText};

use crate::source::live::{self, CaptureStats, Interface, LiveConfig, LiveInfo};

/// The Capture window's state, kept between openings.
pub struct CaptureDialog {
    pub open: bool,
    interfaces: Option<Result<Vec<Interface>, String>>,
    pub interface: String,
    pub filter: String,
    snaplen: u32,
    promisc: bool,
    kernel_reasons: bool,
    libpcap: Option<String>,
}

impl Default for CaptureDialog {
    fn default() -> Self {
        Self {
            open: false,
            interfaces: None,
            interface: String::new(),
            filter: live::DEFAULT_FILTER.to_owned(),
            snaplen: live::DEFAULT_SNAPLEN,
            promisc: true,
            // The kernel's reasons need root and tracefs: offered where they can work.
            kernel_reasons: cfg!(target_os = "linux")
                && Path::new("/sys/kernel/tracing/instances").is_dir(),
            libpcap: None,
        }
    }
}

impl CaptureDialog {
    /// Opens the window and lists the interfaces afresh.
    pub fn show(&mut self) {
        self.open = true;
        self.refresh();
    }

    fn refresh(&mut self) {
        let listed = live::interfaces().map_err(|e| e.to_string());
        self.libpcap = live::libpcap_version().ok();
        if let Ok(list) = &listed
            && !list.iter().any(|i| i.name == self.interface)
        {
            // The first interface that is up, has an address and is not loopback; else any.
            self.interface = list
                .iter()
                .find(|i| i.up && i.running && !i.loopback && !i.addresses.is_empty())
                .or_else(|| list.iter().find(|i| i.up))
                .map(|i| i.name.clone())
                .unwrap_or_default();
        }
        self.interfaces = Some(listed);
    }

    /// Draws the window; returns the capture to start when the user clicks Start.
    pub fn window(&mut self, ctx: &egui::Context) -> Option<LiveConfig> {
        let mut open = self.open;
        let mut start = None;
        egui::Window::new("Capture")
            .open(&mut open)
            .collapsible(false)
            .resizable(true)
            .default_width(560.0)
            .show(ctx, |ui| start = self.contents(ui));
        self.open = open && start.is_none();
        start
    }

    fn contents(&mut self, ui: &mut egui::Ui) -> Option<LiveConfig> {
        let list = match &self.interfaces {
            None => return None,
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
                if ui.button("Try again").clicked() {
                    self.refresh();
                }
                return None;
            }
            Some(Ok(list)) => list.clone(),
        };
        ui.horizontal(|ui| {
            ui.strong("Interface");
            if ui.small_button("Refresh").clicked() {
                self.refresh();
            }
            if let Some(v) = &self.libpcap {
                ui.weak(v);
            }
        });
        egui::ScrollArea::vertical()
            .max_height(220.0)
            .show(ui, |ui| {
                egui::Grid::new("interfaces").striped(true).show(ui, |ui| {
                    for i in &list {
                        ui.radio_value(&mut self.interface, i.name.clone(), &i.name)
                            .on_hover_text(&i.description);
                        let state = if !i.up {
                            RichText::new("down").weak()
                        } else if i.disconnected {
                            RichText::new("disconnected").weak()
                        } else if i.running {
                            RichText::new("up").color(egui::Color32::from_rgb(40, 150, 60))
                        } else {
                            RichText::new("up, not running").weak()
                        };
                        ui.label(state);
                        let kind = if i.loopback {
                            "loopback"
                        } else if i.wireless {
                            "wireless"
                        } else {
                            ""
                        };
                        ui.weak(kind);
                        let addrs: Vec<String> =
                            i.addresses.iter().map(ToString::to_string).collect();
                        ui.label(addrs.join("  "));
                        ui.end_row();
                    }
                });
            });
        ui.separator();
        egui::Grid::new("capture-options").num_columns(2).show(ui, |ui| {
            ui.label("Capture filter");
            ui.add(
                egui::TextEdit::singleline(&mut self.filter)
                    .hint_text("tcp port 443")
                    .desired_width(320.0),
            )
            .on_hover_text("tcpdump's syntax. Empty captures everything");
            ui.end_row();
            ui.label("Snapshot length");
            ui.add(egui::DragValue::new(&mut self.snaplen).range(64..=262_144).suffix(" bytes"))
                .on_hover_text("Bytes kept of each packet; 128 is enough for TCP headers");
            ui.end_row();
            ui.label("");
            ui.checkbox(&mut self.promisc, "Promiscuous mode");
            ui.end_row();
            ui.label("");
            ui.checkbox(&mut self.kernel_reasons, "The kernel's reasons for this machine's RSTs")
                .on_hover_text("Linux, as root: reads the tcp:tcp_send_reset tracepoint and shows its reason (NO_SOCKET, TCP_ABORT_ON_CLOSE, ...) beside the diagnosis");
            ui.end_row();
            ui.label("Saved to");
            ui.weak(format!(
                "{}{}<interface>-<time>.pcapng",
                live::default_capture_dir().display(),
                std::path::MAIN_SEPARATOR
            ));
            ui.end_row();
        });
        ui.add_space(6.0);
        let ready = !self.interface.is_empty();
        let clicked = ui
            .add_enabled(
                ready,
                egui::Button::new(RichText::new("Start capture").strong()),
            )
            .clicked();
        ui.weak("No permission? Run once: sudo setcap cap_net_raw,cap_net_admin=eip $(command -v rstscope)\nor pipe a capture in: sudo tcpdump -i IFACE -U -w - tcp | rstscope -");
        clicked.then(|| LiveConfig {
            interface: self.interface.clone(),
            filter: self.filter.trim().to_owned(),
            snaplen: self.snaplen,
            promisc: self.promisc,
            save_to: None,
            kernel_reasons: self.kernel_reasons,
        })
    }
}

/// The strip over a live capture: what is captured, the kernel's counters, the file; Stop
/// while it runs, Save As after. Returns the button clicked, if any.
pub fn strip_ui(
    ui: &mut egui::Ui,
    info: &LiveInfo,
    stats: Option<CaptureStats>,
    frames: u64,
    connections: u64,
    running: bool,
) -> StripAction {
    let mut action = StripAction::None;
    ui.horizontal_wrapped(|ui| {
        if running {
            // A recording dot, drawn (the bundled fonts have no such glyph).
            let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            ui.painter().circle_filled(rect.center(), 5.0, egui::Color32::from_rgb(210, 40, 40));
            ui.strong("Capturing");
        } else {
            ui.strong("Capture ended");
        }
        ui.label(format!("on {} (filter: {})", info.interface, if info.filter.is_empty() { "none" } else { &info.filter }));
        ui.separator();
        ui.label(format!("{frames} packets, {connections} connections"));
        if let Some(s) = stats {
            ui.separator();
            let dropped = format!("kernel dropped {}", s.dropped + s.if_dropped);
            let counts = format!(
                "libpcap's counters: {} received (loopback counts each packet twice), {} dropped by the kernel, {} by the interface",
                s.received, s.dropped, s.if_dropped
            );
            if s.dropped > 0 || s.if_dropped > 0 {
                ui.colored_label(ui.visuals().warn_fg_color, dropped).on_hover_text(format!(
                    "{counts}. Packets the kernel could not hand to rstscope in time: narrow the filter or lower the snapshot length"
                ));
            } else {
                ui.label(dropped).on_hover_text(counts);
            }
        }
        ui.separator();
        ui.label("saved to").on_hover_text("Every packet is written here as it arrives");
        ui.add(egui::Label::new(RichText::new(info.saved_to.display().to_string()).monospace()).selectable(true));
        if running {
            if ui.button("Stop").clicked() {
                action = StripAction::Stop;
            }
        } else if ui.button("Save As...").clicked() {
            action = StripAction::SaveAs;
        }
    });
    action
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StripAction {
    None,
    Stop,
    SaveAs,
}

/// Copies a finished capture where the user wants it.
pub fn save_as(saved: &Path) -> Result<(), String> {
    let name = saved.file_name().map_or_else(
        || "capture.pcapng".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let Some(target) = rfd::FileDialog::new()
        .set_file_name(name)
        .add_filter("pcapng", &["pcapng"])
        .save_file()
    else {
        return Ok(());
    };
    std::fs::copy(saved, &target)
        .map(|_| ())
        .map_err(|e| format!("cannot save to {}: {e}", target.display()))
}
