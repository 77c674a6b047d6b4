//! The desktop app: a thin reader of the pipeline's events.
//!
//! The analysis runs on the library's worker threads ([`crate::pipeline`]); this module only
//! drains their events within a frame budget, keeps what they say in a [`model::Model`], and
//! draws it. It is the only part of the crate that imports egui.

pub mod capture;
pub mod detail;
pub mod model;
pub mod overview;
pub mod samples;
pub mod table;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;

use crate::filter::Filter;
use crate::flow::FlowConfig;
use crate::pipeline::{self, Event, Handle, Options};
use crate::source::SourceSpec;
use model::{Model, Sort};

/// Events are drained for at most this long per frame, so the window stays responsive while a
/// large capture loads.
const FRAME_BUDGET: Duration = Duration::from_millis(8);

/// The share of its time connection tracking rests while a capture loads and the user is
/// working in the window (input within [`INTERACTING`]). Measured on a 2-core machine drawing
/// with Mesa's software renderer, 1 GB capture: without it frames took 40-55 ms while loading;
/// with 0.7, 24-26 ms (median), and the capture loads in 2.4 s instead of 0.5 s. With no input
/// the capture loads at full speed and the window repaints every [`IDLE_REPAINT`]: resting
/// all the time made a million-connection capture load in 46 s where the command line takes
/// 9.6 s (bench/app.sh). The command line does not yield.
const LOADING_YIELD: f32 = 0.7;

/// Input this recent means the user is working in the window.
const INTERACTING: Duration = Duration::from_secs(1);

/// While a capture loads and nobody touches the window, it repaints this often.
const IDLE_REPAINT: Duration = Duration::from_millis(250);

/// While loading, the table and summary follow new data this often.
const DATA_REFRESH: Duration = Duration::from_millis(300);

/// A live capture's batches and view refreshes come this often: together with the capture's
/// own poll (50 ms) a packet shows within about 200 ms.
const LIVE_UPDATE: Duration = Duration::from_millis(50);

/// Settings remembered between runs (eframe persistence).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    pub recent: Vec<PathBuf>,
    pub presentation: bool,
    pub sort: Sort,
    pub resets_only: bool,
}

const SETTINGS_KEY: &str = "rstscope-settings";

/// What is loading, or why it could not.
enum Loading {
    Idle,
    Running { handle: Handle, started: Instant },
}

/// The app's state.
#[allow(clippy::struct_excessive_bools)]
pub struct RstscopeApp {
    pub settings: Settings,
    samples: Vec<samples::Sample>,
    model: Option<Model>,
    loading: Loading,
    /// The last error, with what to do about it.
    error: Option<String>,
    pub filter_text: String,
    filter: Filter,
    filter_error: Option<String>,
    /// Row ids as shown (filtered and sorted), recomputed when something changes.
    view: Vec<u32>,
    view_dirty: bool,
    /// New data arrived: refresh the view, but while loading at most every [`DATA_REFRESH`].
    data_dirty: bool,
    last_refresh: Instant,
    /// The summary strip, recomputed with the view (not every frame).
    summary: model::Summary,
    /// The model revision the summary was computed for.
    summary_of: Option<u64>,
    pub selected: Option<u32>,
    detail: detail::DetailState,
    focus_filter: bool,
    /// Files to open once the window is up (from the command line).
    pending: Vec<SourceSpec>,
    /// Loading measurements, kept when `RSTSCOPE_PERF` is set.
    perf: Option<PerfLog>,
    /// The other capture of a two-point pair, analysed beside the shown one.
    partner: Option<Partner>,
    /// What the two-point cross-check found, for the summary strip.
    pub two_point: Option<String>,
    /// The Capture window.
    pub capture: capture::CaptureDialog,
    /// What is loading arrives as it happens (a live capture, or a stream on standard input):
    /// shown as soon as it comes, with no resting.
    streaming: bool,
    /// The last input (pointer, keys, wheel): loading rests only while the user works.
    last_input: Instant,
    /// How long the last view refresh took.
    view_cost: Duration,
}

/// The second capture of a two-point pair: analysed without live updates, then used as proof
/// for the first one's diagnoses ([`crate::diagnose::cross_check`]).
struct Partner {
    name: String,
    handle: Handle,
    outcome: Option<pipeline::Outcome>,
    /// The shown capture's final analysis, waiting for the partner's.
    waiting: Option<(
        crate::analysis::Analysis,
        Option<crate::source::SourceError>,
    )>,
}

/// What `RSTSCOPE_PERF=1 rstscope FILE` prints when the capture has loaded: how soon the first
/// connections showed, and how long frames took while loading.
#[derive(Default)]
struct PerfLog {
    opened: Option<Instant>,
    first_rows: Option<Duration>,
    last_frame: Option<Instant>,
    /// Milliseconds between consecutive frames while loading.
    intervals: Vec<f32>,
    /// Milliseconds spent in `ui()` per frame while loading.
    work: Vec<f32>,
    /// Milliseconds spent in `ui()` per frame once loaded (hover, clicks, keys, idle
    /// repaints), reported every [`PERF_AFTER_FRAMES`] frames.
    after: Vec<f32>,
}

/// Frames after loading between two `RSTSCOPE_PERF` reports.
const PERF_AFTER_FRAMES: usize = 100;

impl PerfLog {
    fn report(&mut self) {
        let stats = |v: &mut Vec<f32>| {
            if v.is_empty() {
                return "no frames".to_owned();
            }
            v.sort_by(f32::total_cmp);
            let at = |q: f32| {
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss
                )]
                let i = ((v.len() - 1) as f32 * q).round() as usize;
                v[i]
            };
            format!(
                "{} frames, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
                v.len(),
                at(0.5),
                at(0.95),
                at(1.0)
            )
        };
        let total = self
            .opened
            .map(|o| o.elapsed().as_secs_f32())
            .unwrap_or_default();
        eprintln!(
            "rstscope perf: first connections shown after {:.3} s; loaded in {total:.2} s\n  frame intervals while loading: {}\n  ui() work per frame while loading: {}",
            self.first_rows.map_or(f32::NAN, |d| d.as_secs_f32()),
            stats(&mut self.intervals),
            stats(&mut self.work)
        );
        *self = Self::default();
    }

    /// One frame after loading; every [`PERF_AFTER_FRAMES`] frames, their figures.
    fn after_frame(&mut self, ms: f32) {
        self.after.push(ms);
        if self.after.len() >= PERF_AFTER_FRAMES {
            let mut v = std::mem::take(&mut self.after);
            v.sort_by(f32::total_cmp);
            eprintln!(
                "rstscope perf: after loading, ui() work per frame: {} frames, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
                v.len(),
                v[v.len() / 2],
                v[v.len() * 95 / 100],
                v[v.len() - 1]
            );
        }
    }
}

impl RstscopeApp {
    /// Builds the app; `open` are the captures named on the command line.
    pub fn new(cc: &eframe::CreationContext<'_>, open: Vec<SourceSpec>) -> Self {
        let settings = cc
            .storage
            .and_then(|s| eframe::get_value::<Settings>(s, SETTINGS_KEY))
            .unwrap_or_default();
        let mut app = Self::with_settings(settings);
        app.pending = open;
        app
    }

    /// The app with given settings and no window (tests build it this way too).
    pub fn with_settings(settings: Settings) -> Self {
        Self {
            settings,
            samples: samples::all(),
            model: None,
            loading: Loading::Idle,
            error: None,
            filter_text: String::new(),
            filter: Filter::default(),
            filter_error: None,
            view: Vec::new(),
            view_dirty: true,
            data_dirty: false,
            last_refresh: Instant::now(),
            summary: model::Summary::default(),
            summary_of: None,
            selected: None,
            detail: detail::DetailState::default(),
            focus_filter: false,
            pending: Vec::new(),
            perf: std::env::var_os("RSTSCOPE_PERF").map(|_| PerfLog::default()),
            partner: None,
            two_point: None,
            capture: capture::CaptureDialog::default(),
            streaming: false,
            last_input: Instant::now(),
            view_cost: Duration::ZERO,
        }
    }

    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    pub fn is_loading(&self) -> bool {
        matches!(self.loading, Loading::Running { .. })
    }

    /// Rows currently shown in the connections table.
    pub fn shown_rows(&self) -> &[u32] {
        &self.view
    }

    /// Opens a two-point capture: `shown` is displayed, `other` (the same traffic captured
    /// elsewhere) proves or disproves its RSTs' senders.
    pub fn open_pair(&mut self, ctx: &egui::Context, shown: SourceSpec, other: SourceSpec) {
        self.open(ctx, shown);
        let name = other.display_name();
        let handle = pipeline::start(other, Options::default(), Some(waker(ctx)));
        self.partner = Some(Partner {
            name,
            handle,
            outcome: None,
            waiting: None,
        });
    }

    /// Starts analysing a capture; the previous one is dropped.
    pub fn open(&mut self, ctx: &egui::Context, spec: SourceSpec) {
        if let Some(p) = self.partner.take() {
            p.handle.cancel();
        }
        self.two_point = None;
        if let Loading::Running { handle, .. } = &self.loading {
            handle.cancel();
        }
        if let SourceSpec::File(path) = &spec {
            self.settings.recent.retain(|p| p != path);
            self.settings.recent.insert(0, path.clone());
            self.settings.recent.truncate(10);
        }
        let name = spec.display_name();
        let waker_ctx = ctx.clone();
        self.streaming = matches!(spec, SourceSpec::Live(_) | SourceSpec::Stdin);
        let options = if self.streaming {
            // A live capture (or a stream from tcpdump) must keep up with the network (no
            // resting), and show what arrives within a quarter of a second.
            Options {
                flow: FlowConfig::every_record(),
                live_updates: true,
                update_interval: LIVE_UPDATE,
                ..Options::default()
            }
        } else {
            Options {
                flow: FlowConfig::every_record(),
                live_updates: true,
                yield_share: LOADING_YIELD,
                ..Options::default()
            }
        };
        let handle = pipeline::start(
            spec,
            options,
            Some(Arc::new(move || waker_ctx.request_repaint())),
        );
        self.model = Some(Model::new(name));
        self.summary_of = None;
        self.loading = Loading::Running {
            handle,
            started: Instant::now(),
        };
        self.error = None;
        self.selected = None;
        self.detail = detail::DetailState::default();
        self.view_dirty = true;
        if let Some(p) = &mut self.perf {
            *p = PerfLog {
                opened: Some(Instant::now()),
                ..PerfLog::default()
            };
        }
    }

    /// Drains pipeline events for at most one frame budget.
    fn drain(&mut self, ctx: &egui::Context) {
        let Loading::Running { handle, .. } = &self.loading else {
            return;
        };
        let start = Instant::now();
        let mut ended = false;
        while let Ok(event) = handle.events.try_recv() {
            let Some(model) = self.model.as_mut() else {
                break;
            };
            match event {
                Event::Started(info) => model.live = info.live,
                Event::Warning(w) => {
                    // A live capture's problems (drops, the kernel's reasons unavailable)
                    // matter while it runs; a file's are listed with its analysis.
                    if model.live.is_some() && !model.complete {
                        self.error = Some(w.message);
                    }
                }
                Event::Progress(p) => model.progress = p,
                Event::Connections(batch) => {
                    model.apply_batch(batch);
                    self.data_dirty = true;
                }
                Event::End(outcome) => {
                    let outcome = *outcome;
                    match (outcome.analysis, self.partner.as_mut()) {
                        // A two-point pair: hold the result until the other capture is in.
                        (Some(a), Some(p)) => p.waiting = Some((a, outcome.error)),
                        (Some(a), None) => {
                            model.finish(a);
                            if let Some(e) = outcome.error {
                                self.error = Some(error_advice(&e));
                            }
                        }
                        (None, _) => {
                            self.model = None;
                            self.partner = None;
                            if let Some(e) = outcome.error {
                                self.error = Some(error_advice(&e));
                            }
                        }
                    }
                    self.view_dirty = true;
                    ended = true;
                    break;
                }
            }
            if start.elapsed() > FRAME_BUDGET {
                ctx.request_repaint();
                break;
            }
        }
        self.drain_partner();
        if ended && self.partner.is_none() {
            self.loading = Loading::Idle;
            if let Some(p) = &mut self.perf {
                p.report();
            }
            self.select_first_diagnosed();
        }
    }

    /// Collects the partner capture's result; when both are in, cross-checks them and shows
    /// the first.
    fn drain_partner(&mut self) {
        let Some(p) = self.partner.as_mut() else {
            return;
        };
        if p.outcome.is_none() {
            while let Ok(event) = p.handle.events.try_recv() {
                if let Event::End(o) = event {
                    p.outcome = Some(*o);
                    break;
                }
            }
        }
        if p.outcome.is_none() || p.waiting.is_none() {
            return;
        }
        let Some(mut p) = self.partner.take() else {
            return;
        };
        let (Some(outcome), Some((mut a, error))) = (p.outcome.take(), p.waiting.take()) else {
            return;
        };
        let shown_name = self
            .model
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        if let Some(mut b) = outcome.analysis {
            let check = a.cross_check(&mut b, &shown_name, &p.name);
            self.two_point = Some(format!(
                "Two-point with {}: {} in both; {} proven forged on the path, {} confirmed sent by their endpoint",
                p.name,
                crate::diagnose::words::plural(check.paired as u64, "connection"),
                crate::diagnose::words::plural(check.forged as u64, "RST"),
                check.confirmed
            ));
        } else {
            let why = outcome.error.map_or_else(String::new, |e| format!(": {e}"));
            self.error = Some(format!(
                "the second capture {} could not be read{why}",
                p.name
            ));
        }
        if let Some(m) = self.model.as_mut() {
            m.finish(a);
        }
        if let Some(e) = error {
            self.error = Some(error_advice(&e));
        }
        self.loading = Loading::Idle;
        self.view_dirty = true;
        self.select_first_diagnosed();
    }

    /// With nothing selected yet, selects the first diagnosed connection: the story most people
    /// opened the capture for.
    fn select_first_diagnosed(&mut self) {
        if self.selected.is_none() {
            self.selected = self.model.as_ref().and_then(|m| {
                m.connections
                    .iter()
                    .find(|c| m.diagnosis(c.id).is_some())
                    .map(|c| c.id)
            });
        }
    }

    /// Waits for the current analysis to end, draining events (tests and stdin use this).
    pub fn wait_until_loaded(&mut self, ctx: &egui::Context, timeout: Duration) -> bool {
        let start = Instant::now();
        while self.is_loading() && start.elapsed() < timeout {
            self.drain(ctx);
            std::thread::sleep(Duration::from_millis(2));
        }
        self.refresh_view();
        !self.is_loading()
    }

    fn refresh_view(&mut self) {
        // Sorting and summing a million connections is not free: while a capture loads, its
        // batches refresh the view a few times a second, not at every frame.
        // A refresh that costs more waits longer, so that refreshing never takes more than a
        // tenth of the time (at a million connections one costs about 50 ms).
        let every = if self.streaming {
            LIVE_UPDATE
        } else {
            DATA_REFRESH
        }
        .max(self.view_cost * 10);
        let data_due = self.data_dirty
            && (!self.is_loading() || self.view.is_empty() || self.last_refresh.elapsed() >= every);
        if !self.view_dirty && !data_due {
            return;
        }
        self.view_dirty = false;
        self.data_dirty = false;
        self.last_refresh = Instant::now();
        let started = Instant::now();
        self.view = self.model.as_ref().map_or_else(Vec::new, |m| {
            m.view(&self.filter, self.settings.resets_only, self.settings.sort)
        });
        if self.perf.is_some() && !self.is_loading() {
            eprintln!(
                "rstscope perf: rows filtered and sorted in {:.1} ms ({} shown)",
                started.elapsed().as_secs_f32() * 1e3,
                self.view.len()
            );
        }
        // The summary strip depends on the connections only, not on the filter or the sort:
        // recomputing it for every keystroke cost 0.2 s at a million connections.
        let revision = self.model.as_ref().map(|m| m.revision);
        if revision != self.summary_of {
            self.summary = self.model.as_ref().map(Model::summary).unwrap_or_default();
            self.summary_of = revision;
        }
        self.view_cost = started.elapsed();
        if let Some(p) = &mut self.perf
            && p.first_rows.is_none()
            && !self.view.is_empty()
        {
            p.first_rows = p.opened.map(|o| o.elapsed());
        }
    }

    /// Sets the filter text (as typing in the box does).
    pub fn set_filter(&mut self, text: &str) {
        text.clone_into(&mut self.filter_text);
        match Filter::parse(text) {
            Ok(f) => {
                self.filter = f;
                self.filter_error = None;
            }
            Err(e) => self.filter_error = Some(e.0),
        }
        self.view_dirty = true;
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let open = ctx
            .input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::O)));
        if open {
            self.pick_file(ctx);
        }
        let typing = ctx.memory(|m| m.focused().is_some());
        if !typing && ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Slash)) {
            self.focus_filter = true;
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Escape)) {
            if typing {
                ctx.memory_mut(egui::Memory::stop_text_input);
            } else if self.detail.step.is_some() {
                self.detail.step = None;
            } else {
                self.selected = None;
            }
        }
        if typing {
            return;
        }
        let (up, down) = ctx.input_mut(|i| {
            (
                i.consume_key(Modifiers::NONE, Key::ArrowUp),
                i.consume_key(Modifiers::NONE, Key::ArrowDown),
            )
        });
        if up || down {
            let pos = self
                .selected
                .and_then(|s| self.view.iter().position(|&v| v == s));
            let next = match (pos, down) {
                (None, _) => Some(0),
                (Some(p), true) => Some((p + 1).min(self.view.len().saturating_sub(1))),
                (Some(p), false) => Some(p.saturating_sub(1)),
            };
            if let Some(id) = next.and_then(|n| self.view.get(n)) {
                self.select(*id);
                self.detail.scroll_table = true;
            }
        }
        let (left, right) = ctx.input_mut(|i| {
            (
                i.consume_key(Modifiers::NONE, Key::ArrowLeft),
                i.consume_key(Modifiers::NONE, Key::ArrowRight),
            )
        });
        if (left || right)
            && let (Some(id), Some(m)) = (self.selected, &self.model)
        {
            let n = m.packets.get(id as usize).map_or(0, Vec::len);
            self.detail.step_by(if right { 1 } else { -1 }, n);
        }
    }

    pub fn select(&mut self, id: u32) {
        if self.selected != Some(id) {
            self.selected = Some(id);
            self.detail = detail::DetailState::default();
        }
    }

    fn pick_file(&mut self, ctx: &egui::Context) {
        let picked = rfd::FileDialog::new()
            .add_filter("Packet captures", &["pcap", "pcapng", "cap", "dmp", "gz"])
            .add_filter("All files", &["*"])
            .pick_file();
        if let Some(path) = picked {
            self.open(ctx, SourceSpec::File(path));
        }
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open...  (Ctrl+O)").clicked() {
                    ui.close();
                    self.pick_file(&ctx);
                }
                if ui
                    .button("Capture...")
                    .on_hover_text("Capture live on a network interface; every packet is saved")
                    .clicked()
                {
                    ui.close();
                    self.capture.show();
                }
                if ui
                    .button("Open two-point capture...")
                    .on_hover_text("The same traffic captured at two places (client and server): each proves the other's RSTs")
                    .clicked()
                {
                    ui.close();
                    let picked = rfd::FileDialog::new()
                        .set_title("Pick the two captures (the first one picked is shown)")
                        .add_filter("Packet captures", &["pcap", "pcapng", "cap", "dmp", "gz"])
                        .pick_files();
                    if let Some([a, b]) = picked.as_deref() {
                        self.open_pair(&ctx, SourceSpec::File(a.clone()), SourceSpec::File(b.clone()));
                    } else if picked.is_some() {
                        self.error = Some("pick exactly two captures of the same traffic".to_owned());
                    }
                }
                ui.menu_button("Recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.label("No recent files");
                    }
                    for path in self.settings.recent.clone() {
                        if ui.button(path.display().to_string()).clicked() {
                            ui.close();
                            self.open(&ctx, SourceSpec::File(path));
                        }
                    }
                });
                if ui.button("Samples").clicked() {
                    ui.close();
                    self.close_capture();
                }
            });
            ui.menu_button("View", |ui| {
                if ui
                    .checkbox(
                        &mut self.settings.presentation,
                        "Presentation mode (larger text)",
                    )
                    .changed()
                {
                    ui.close();
                }
                ui.separator();
                egui::global_theme_preference_buttons(ui);
            });
            let live = self.model.as_ref().is_some_and(|m| m.live.is_some());
            if !self.is_loading() && ui.button("Capture...").clicked() {
                self.capture.show();
            }
            if !live {
                self.progress_ui(ui);
            }
        });
    }

    /// The loading progress bar with Cancel (Stop for a stream).
    fn progress_ui(&self, ui: &mut egui::Ui) {
        if let Loading::Running { handle, started } = &self.loading {
            ui.separator();
            let progress = self.model.as_ref().map(|m| m.progress).unwrap_or_default();
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            let fraction = progress
                .total_bytes
                .filter(|t| *t > 0)
                .map(|t| (progress.bytes_read as f64 / t as f64) as f32);
            let left = fraction.filter(|f| *f > 0.01).map(|f| {
                let spent = started.elapsed().as_secs_f32();
                format!(", about {:.0} s left", spent / f - spent)
            });
            let text = if self.streaming {
                format!(
                    "reading the stream as it comes: {} packets, {} connections",
                    progress.frames, progress.connections
                )
            } else {
                format!(
                    "{} MB, {} packets, {} connections{}",
                    progress.bytes_read / 1_000_000,
                    progress.frames,
                    progress.connections,
                    left.unwrap_or_default()
                )
            };
            let bar = egui::ProgressBar::new(fraction.unwrap_or(0.0))
                .text(text)
                .desired_width(360.0);
            ui.add(if fraction.is_none() {
                bar.animate(true)
            } else {
                bar
            });
            let stop = if self.streaming { "Stop" } else { "Cancel" };
            if ui.button(stop).clicked() {
                handle.cancel();
            }
        }
    }

    /// The strip over a live capture, with Stop (while it runs) and Save As (after).
    fn capture_strip(&mut self, ui: &mut egui::Ui) {
        let Some(m) = self.model.as_ref() else {
            return;
        };
        let Some(info) = m.live.clone() else {
            return;
        };
        let (stats, frames, conns) = (
            m.progress.capture,
            m.progress.frames,
            m.progress.connections,
        );
        let running = self.is_loading();
        let action = egui::Panel::top("capture-strip")
            .show(ui, |ui| {
                capture::strip_ui(ui, &info, stats, frames, conns, running)
            })
            .inner;
        match action {
            capture::StripAction::Stop => self.stop_capture(),
            capture::StripAction::SaveAs => {
                if let Err(e) = capture::save_as(&info.saved_to) {
                    self.error = Some(e);
                }
            }
            capture::StripAction::None => {}
        }
    }

    /// Starts a live capture (as the Capture window's Start button does).
    pub fn start_capture(&mut self, ctx: &egui::Context, config: crate::source::live::LiveConfig) {
        self.open(ctx, SourceSpec::Live(config));
    }

    /// Stops a running live capture; its final analysis follows.
    pub fn stop_capture(&mut self) {
        if let Loading::Running { handle, .. } = &self.loading {
            handle.cancel();
        }
    }

    /// Takes in what the pipeline sent since the last frame (what each frame does first).
    pub fn pump(&mut self, ctx: &egui::Context) {
        self.drain(ctx);
        self.refresh_view();
    }

    fn close_capture(&mut self) {
        if let Loading::Running { handle, .. } = &self.loading {
            handle.cancel();
        }
        self.loading = Loading::Idle;
        self.model = None;
        self.selected = None;
    }

    fn welcome_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("rstscope: who sent that RST, and why?");
            ui.label(
                "Open a capture (File > Open, Ctrl+O, or drop a file here), or pick one of these real resets recorded from Linux stacks in a lab. Each shows one cause.",
            );
            if ui
                .button("Capture live traffic...")
                .on_hover_text("Pick an interface and watch connections and explained resets appear as they happen")
                .clicked()
            {
                self.capture.show();
            }
            ui.add_space(8.0);
            let samples = self.samples.clone();
            for s in &samples {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal(|ui| {
                        if ui.button(&s.title).on_hover_text(format!("Open {}", s.file)).clicked() {
                            self.open(&ctx, SourceSpec::Bytes(s.file.clone(), Arc::clone(&s.bytes)));
                        }
                        if let Some(c) = &s.cause {
                            ui.weak(c);
                        }
                    });
                    ui.label(&s.description);
                });
            }
        });
    }
}

/// Wakes the window from a worker thread.
fn waker(ctx: &egui::Context) -> pipeline::Waker {
    let ctx = ctx.clone();
    Arc::new(move || ctx.request_repaint())
}

/// An error as a sentence with what to do.
fn error_advice(e: &crate::source::SourceError) -> String {
    use crate::source::SourceError as E;
    match e {
        E::Open { .. } => format!("{e}. Check the path and that you may read the file."),
        E::UnknownFormat { .. } | E::Rejected(_) | E::Empty => {
            format!("{e}. rstscope reads pcap and pcapng files (gzip-compressed or not).")
        }
        E::Stopped { .. } | E::Io { .. } | E::Capture { partial: true, .. } => {
            format!("{e}. The connections read before that point are shown.")
        }
        E::Capture { .. } => format!("{e}."),
    }
}

impl eframe::App for RstscopeApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let mut pending = std::mem::take(&mut self.pending);
        if pending.len() == 2 {
            let other = pending.remove(1);
            self.open_pair(ctx, pending.remove(0), other);
        } else if let Some(spec) = pending.into_iter().next() {
            self.open(ctx, spec);
        }
        self.drain(ctx);
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            self.open(ctx, SourceSpec::File(path));
        }
        ctx.set_zoom_factor(if self.settings.presentation { 1.5 } else { 1.0 });
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let frame_start = Instant::now();
        if ui
            .ctx()
            .input(|i| !i.events.is_empty() || i.pointer.any_down())
        {
            self.last_input = frame_start;
        }
        self.frame_ui(ui);
        if self.is_loading() && !self.streaming {
            // Keep animating (the progress bar, new rows) while the capture loads: every frame
            // while the user works in the window, with connection tracking resting so that the
            // frames come on time; a few times a second otherwise, tracking at full speed. A
            // live capture or a stream repaints when its events come.
            let interacting = self.last_input.elapsed() < INTERACTING;
            if let Loading::Running { handle, .. } = &self.loading {
                handle.set_yield_share(if interacting { LOADING_YIELD } else { 0.0 });
            }
            if interacting {
                ui.ctx().request_repaint();
            } else {
                ui.ctx().request_repaint_after(IDLE_REPAINT);
            }
            if let Some(p) = &mut self.perf {
                if let Some(last) = p.last_frame {
                    p.intervals.push(last.elapsed().as_secs_f32() * 1e3);
                }
                p.last_frame = Some(frame_start);
                p.work.push(frame_start.elapsed().as_secs_f32() * 1e3);
            }
        } else if let Some(p) = &mut self.perf {
            p.after_frame(frame_start.elapsed().as_secs_f32() * 1e3);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings);
    }
}

impl RstscopeApp {
    fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.shortcuts(&ctx);
        self.refresh_view();
        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        if let Some(err) = self.error.clone() {
            egui::Panel::top("error").show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.colored_label(ui.visuals().error_fg_color, format!("Problem: {err}"));
                    if ui.small_button("Dismiss").clicked() {
                        self.error = None;
                    }
                });
            });
        }
        if self.capture.open
            && let Some(cfg) = self.capture.window(&ctx)
        {
            self.open(&ctx, SourceSpec::Live(cfg));
        }
        self.capture_strip(ui);
        if self.model.is_none() {
            egui::CentralPanel::default().show(ui, |ui| self.welcome_ui(ui));
            return;
        }
        table::summary_ui(self, ui);
        if let (Some(id), Some(model)) = (self.selected, self.model.as_ref())
            && (id as usize) < model.connections.len()
        {
            let width = ui.available_width();
            egui::Panel::right("detail")
                .resizable(true)
                .default_size(width * 0.5)
                .size_range(width * 0.25..=width * 0.75)
                .show(ui, |ui| {
                    if let Some(frame) = detail::detail_ui(ui, model, id, &mut self.detail) {
                        self.detail.highlight = Some(frame);
                    }
                });
        }
        // A fixed height: a panel sized by its own plot would settle differently depending on
        // how many frames the loading took.
        egui::Panel::top("overview")
            .exact_size(140.0)
            .show(ui, |ui| {
                if let Some(id) = overview::overview_ui(
                    ui,
                    self.model.as_ref(),
                    &self.view,
                    self.selected,
                    self.perf.is_some(),
                ) {
                    self.select(id);
                    self.detail.scroll_table = true;
                }
            });
        egui::CentralPanel::default().show(ui, |ui| table::table_ui(self, ui));
    }
}

/// Opens the desktop app on `open` (or on the welcome screen when empty).
pub fn run(open: Vec<SourceSpec>) -> eframe::Result {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size([640.0, 400.0])
            .with_app_id("rstscope")
            .with_title("rstscope"),
        persist_window: true,
        ..Default::default()
    };
    eframe::run_native(
        "rstscope",
        options,
        Box::new(move |cc| Ok(Box::new(RstscopeApp::new(cc, open)))),
    )
}
