//! The overview timeline: every shown connection as a bar over capture time, coloured by how it
//! ended. The wheel zooms time around the pointer, Shift+wheel zooms rows, dragging pans,
//! double-click shows everything again; hover for details, click to select. A view moved off
//! every bar comes back to the whole capture (`egui_plot`'s own wheel panned the rows away until
//! the plot was empty).
//!
//! A plot item per connection would not stay smooth with a million rows, so the rows in view
//! are grouped into about two bars per pixel of height: a group spans its connections' time
//! range and takes the colour of its most serious ending (a reset shows even among thousands
//! of clean closes). Zooming in on a band of rows regroups them until each connection has its
//! own bar.
//!
//! The groups are computed once per set of rows, zoom band and height, and kept in egui's
//! memory: walking a million rows took about 110 ms a frame, so hovering ran at 9 frames a
//! second (issue 12).

use eframe::egui;
use egui_plot::{Bar, BarChart, HLine, Plot, PlotPoint};

use super::model::Model;
use super::table::termination_color;
use crate::flow::Termination;
use crate::time::secs;

/// Bars per pixel of plot height.
const BARS_PER_PIXEL: f32 = 2.0;

/// How serious an ending is, for grouping (higher wins).
fn severity(t: Termination) -> u8 {
    match t {
        Termination::Reset => 5,
        Termination::Refused => 4,
        Termination::Unanswered => 3,
        Termination::Open => 2,
        Termination::HalfClosed => 1,
        Termination::Fin => 0,
    }
}

const ENDINGS: [Termination; 6] = [
    Termination::Fin,
    Termination::HalfClosed,
    Termination::Open,
    Termination::Unanswered,
    Termination::Refused,
    Termination::Reset,
];

/// Draws the overview; returns a connection the user clicked.
pub fn overview_ui(
    ui: &mut egui::Ui,
    model: Option<&Model>,
    view: &[u32],
    selected: Option<u32>,
    perf: bool,
) -> Option<u32> {
    let model = model?;
    if view.is_empty() {
        ui.weak("No connections match.");
        return None;
    }
    let dark = ui.visuals().dark_mode;
    let (first_row, last_row) = band_in_view(ui, view.len());
    let rows_in_view = &view[first_row..last_row.max(first_row)];
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let max_bars = ((ui.available_height() * BARS_PER_PIXEL) as usize).max(50);
    let per_bar = rows_in_view.len().div_ceil(max_bars).max(1);
    // Instant connections (a refused SYN) still get a visible sliver.
    let key = GroupKey {
        view: view_hash(view),
        revision: model.revision,
        first_row,
        last_row,
        per_bar,
    };
    let memory_id = ui.make_persistent_id("overview-groups");
    let cached: Option<Groups> = ui.data(|d| d.get_temp::<Groups>(memory_id));
    let charts = match cached {
        Some(g) if g.key == key => g.charts,
        _ => {
            let started = std::time::Instant::now();
            let charts = group_rows(model, rows_in_view, first_row, per_bar);
            if perf && model.complete {
                eprintln!(
                    "rstscope perf: overview grouped in {:.1} ms ({} rows)",
                    started.elapsed().as_secs_f32() * 1e3,
                    rows_in_view.len()
                );
            }
            ui.data_mut(|d| {
                d.insert_temp(
                    memory_id,
                    Groups {
                        key,
                        charts: charts.clone(),
                    },
                );
            });
            charts
        }
    };
    let selected_row = selected.and_then(|s| view.iter().position(|&v| v == s));
    let response = Plot::new("overview")
        .height(ui.available_height().max(60.0))
        .allow_zoom(true)
        .allow_drag(true)
        .allow_scroll(false)
        .show_y(false)
        // The full set of rows defines the home view, whatever band is drawn.
        .include_y(0.5)
        .include_y(0.5 - rows_f64(view.len()))
        .show_axes([true, false])
        .x_axis_label("seconds since the first packet")
        .label_formatter(|_| None)
        .show(ui, |plot_ui| {
            navigate(plot_ui, secs(model.t_end_ns - model.t0_ns), view.len());
            for (slot, bars) in charts.into_iter().enumerate() {
                if bars.is_empty() {
                    continue;
                }
                let t = ENDINGS[slot];
                plot_ui.bar_chart(
                    BarChart::new(t.as_str(), bars)
                        .horizontal()
                        .color(termination_color(t, dark))
                        .element_formatter(Box::new(|bar, _| bar.name.clone())),
                );
            }
            if let Some(row) = selected_row {
                #[allow(clippy::cast_precision_loss)]
                plot_ui.hline(HLine::new("selected", -(row as f64)).color(ui_highlight(dark)));
            }
            if plot_ui.response().clicked() {
                plot_ui.pointer_coordinate()
            } else {
                None
            }
        });
    let b = response.transform.bounds();
    let shown = Shown {
        rect: response.response.rect,
        time_s: (b.min()[0], b.max()[0]),
        rows: (-b.max()[1], -b.min()[1]),
    };
    ui.data_mut(|d| d.insert_temp(egui::Id::unique(SHOWN_KEY), shown));
    let point: PlotPoint = response.inner?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let row = (-point.y).round().max(0.0) as usize;
    view.get(row.min(view.len() - 1)).copied()
}

const SHOWN_KEY: &str = "rstscope-overview-shown";

/// What the overview showed in the last frame: where it is on screen, the span of capture time
/// (seconds since the first packet) and the rows (0 at the top) in view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shown {
    pub rect: egui::Rect,
    pub time_s: (f64, f64),
    pub rows: (f64, f64),
}

/// The overview as drawn in the last frame (`None` before it was drawn).
pub fn shown(ctx: &egui::Context) -> Option<Shown> {
    ctx.data(|d| d.get_temp(egui::Id::unique(SHOWN_KEY)))
}

/// What the groups were computed from.
#[derive(Clone, Copy, PartialEq, Eq)]
struct GroupKey {
    view: u64,
    revision: u64,
    first_row: usize,
    last_row: usize,
    per_bar: usize,
}

#[derive(Clone)]
struct Groups {
    key: GroupKey,
    charts: Vec<Vec<Bar>>,
}

/// The rows shown, in order: a hash rather than a copy (a million ids hash in about a
/// millisecond).
fn view_hash(view: &[u32]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    view.hash(&mut h);
    h.finish()
}

/// The bars for `rows_in_view` (starting at row `first_row`), `per_bar` rows a bar, one chart
/// per ending.
fn group_rows(
    model: &Model,
    rows_in_view: &[u32],
    first_row: usize,
    per_bar: usize,
) -> Vec<Vec<Bar>> {
    use rayon::prelude::*;
    let min_len = secs(model.t_end_ns - model.t0_ns).max(1e-3) * 0.004;
    // On all cores, from the spans: after a sort or a filter a million rows are grouped
    // again, which took 140 ms on one core reading the connections (bench/app.sh), over the
    // 100 ms a click may take to answer.
    let bars: Vec<(usize, Bar)> = rows_in_view
        .par_chunks(per_bar)
        .enumerate()
        .map(|(group, rows)| {
            let mut start = i64::MAX;
            let mut end = i64::MIN;
            let mut worst = Termination::Fin;
            for &id in rows {
                let Some(c) = model.spans.get(id as usize) else {
                    continue;
                };
                start = start.min(c.first_ts_ns);
                end = end.max(c.last_ts_ns);
                if severity(c.termination) >= severity(worst) {
                    worst = c.termination;
                }
            }
            let first = &model.connections[rows[0] as usize];
            let name = if rows.len() == 1 {
                format!(
                    "#{} {} -> {}\n{}, {:.3} s",
                    first.id,
                    first.client,
                    first.server,
                    worst.as_str(),
                    secs(end.saturating_sub(start))
                )
            } else {
                format!(
                    "#{}..#{}: {} connections, worst ending {}",
                    first.id,
                    rows[rows.len() - 1],
                    rows.len(),
                    worst.as_str()
                )
            };
            #[allow(clippy::cast_precision_loss)]
            let y = -((first_row + group * per_bar) as f64) - (rows.len() as f64 - 1.0) / 2.0;
            #[allow(clippy::cast_precision_loss)]
            let bar = Bar::new(y, secs(end.saturating_sub(start)).max(min_len))
                .base_offset(secs(start.saturating_sub(model.t0_ns)))
                .width(rows.len() as f64 * 0.8)
                .name(name);
            (ENDINGS.iter().position(|t| *t == worst).unwrap_or(0), bar)
        })
        .collect();
    let mut charts: Vec<Vec<Bar>> = vec![Vec::new(); ENDINGS.len()];
    for (slot, bar) in bars {
        charts[slot].push(bar);
    }
    charts
}

/// The wheel zooms time around the pointer and Shift+wheel (a sideways scroll) zooms rows; a
/// view that no longer shows any row or any of the capture's time goes back to all of it.
fn navigate(plot_ui: &mut egui_plot::PlotUi<'_>, span_s: f64, rows: usize) {
    let scroll = plot_ui.ctx().input(|i| i.smooth_scroll_delta);
    if plot_ui.response().hovered() && scroll != egui::Vec2::ZERO {
        // One notch of the wheel (50 points) zooms by about a quarter.
        let zoom = |d: f32| (d / 200.0).exp();
        plot_ui.zoom_bounds_around_hovered(egui::vec2(zoom(scroll.y), zoom(scroll.x)));
    }
    let b = plot_ui.plot_bounds();
    let (x, y) = (b.range_x(), b.range_y());
    let lost = *x.end() < 0.0
        || *x.start() > span_s
        || *y.start() > 0.5
        || *y.end() < 0.5 - rows_f64(rows);
    if lost && !plot_ui.auto_bounds().all() {
        plot_ui.set_auto_bounds(true);
    }
}

#[allow(clippy::cast_precision_loss)]
fn rows_f64(n: usize) -> f64 {
    n as f64
}

/// The rows in view, `[first, last)`: all of them, or the band the user zoomed to (from the
/// plot's bounds in the last frame).
fn band_in_view(ui: &egui::Ui, rows: usize) -> (usize, usize) {
    let plot_id = ui.make_persistent_id("overview");
    egui_plot::PlotMemory::load(ui.ctx(), plot_id)
        .filter(|m| !m.auto_bounds.y)
        .map_or((0, rows), |m| {
            let b = m.bounds();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let row = |y: f64| ((-y).max(0.0) as usize).min(rows);
            (
                row(b.max()[1]).saturating_sub(1),
                (row(b.min()[1]) + 2).min(rows),
            )
        })
}

fn ui_highlight(dark: bool) -> egui::Color32 {
    if dark {
        egui::Color32::WHITE
    } else {
        egui::Color32::BLACK
    }
}
