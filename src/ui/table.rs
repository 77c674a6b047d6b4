//! The summary strip, the filter box and the virtualized connections table.

use eframe::egui::{self, RichText};
use egui_extras::{Column as TableColumn, TableBuilder};

use super::RstscopeApp;
use super::model::{Column, sender_text, termination_help};
use crate::flow::Termination;
use crate::time::secs;

/// A colour per ending, shared by the table, the overview and the legends.
pub fn termination_color(t: Termination, dark: bool) -> egui::Color32 {
    let c = match t {
        Termination::Fin => (80, 160, 90),
        Termination::HalfClosed => (120, 170, 120),
        Termination::Reset => (220, 70, 60),
        Termination::Refused => (200, 120, 40),
        Termination::Unanswered => (170, 90, 170),
        Termination::Open => (90, 130, 200),
    };
    if dark {
        egui::Color32::from_rgb(c.0, c.1, c.2)
    } else {
        egui::Color32::from_rgb(c.0 * 4 / 5, c.1 * 4 / 5, c.2 * 4 / 5)
    }
}

/// Connections, resets by cause, and RST senders ranked; the filter box and "resets only".
// The strip left to right, as the reader sees it.
#[allow(clippy::too_many_lines)]
pub fn summary_ui(app: &mut RstscopeApp, ui: &mut egui::Ui) {
    let Some(model) = app.model.as_ref() else {
        return;
    };
    let s = app.summary.clone();
    let name = model.name.clone();
    let incidents: Vec<String> = model
        .incidents
        .iter()
        .map(|inc| format!("{}: {}", inc.kind.title(), inc.summary))
        .collect();
    let two_point = app.two_point.clone();
    egui::Panel::top("summary").show(ui, |ui| {
        if let Some(t) = &two_point {
            ui.label(RichText::new(t).strong());
        }
        ui.horizontal_wrapped(|ui| {
            ui.strong(&name);
            let plural = if s.connections == 1 { "" } else { "s" };
            ui.label(format!(
                "{} connection{plural}, {} with a RST",
                s.connections, s.reset_connections
            ));
            if !s.causes.is_empty() {
                ui.separator();
                ui.label("Causes:");
                for (cause, n) in &s.causes {
                    if ui
                        .link(format!("{cause} {n}"))
                        .on_hover_text(format!("Show only {cause}"))
                        .clicked()
                    {
                        app.set_filter(&format!("cause:{cause}"));
                    }
                }
            }
            if !s.senders.is_empty() {
                ui.separator();
                ui.label("RST senders:");
                for (who, n) in s.senders.iter().take(5) {
                    ui.label(RichText::new(format!("{who} ({n})")).strong());
                }
            }
            match incidents.len() {
                0 => {}
                1 | 2 => {
                    for inc in &incidents {
                        ui.separator();
                        if ui
                            .add(
                                egui::Label::new(
                                    RichText::new(inc).color(ui.visuals().warn_fg_color),
                                )
                                .wrap()
                                .sense(egui::Sense::click()),
                            )
                            .on_hover_text("Show only its connections")
                            .clicked()
                        {
                            app.set_filter("incident:mass-reset");
                        }
                    }
                }
                n => {
                    ui.separator();
                    if ui
                        .colored_label(
                            ui.visuals().warn_fg_color,
                            format!("{n} mass resets (hover for the list, click to filter)"),
                        )
                        .on_hover_text(incidents.join("\n"))
                        .clicked()
                    {
                        app.set_filter("incident:mass-reset");
                    }
                }
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Filter:");
            let edit = egui::TextEdit::singleline(&mut app.filter_text)
                .hint_text("e.g. port:443 cause:idle-timeout -end:fin   (press / to focus)")
                .desired_width(420.0)
                .id_salt("filter-box");
            let response = ui
                .add(edit)
                .labelled_by(label.id)
                .on_hover_text(FILTER_HELP);
            if app.focus_filter {
                response.request_focus();
                app.focus_filter = false;
            }
            if response.changed() {
                let text = app.filter_text.clone();
                app.set_filter(&text);
            }
            if let Some(e) = &app.filter_error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            if ui
                .checkbox(&mut app.settings.resets_only, "Resets only")
                .changed()
            {
                app.view_dirty = true;
            }
            ui.label(format!("{} shown", app.view.len()));
        });
    });
}

const FILTER_HELP: &str = "Words separated by spaces; a connection must match all of them.\n\
host:10.0.0.1  port:443  client:IP[:PORT]  server:IP[:PORT]\n\
cause:idle-timeout  end:reset (fin, half-closed, reset, refused, unanswered, open)\n\
sender:server|client  kind:middlebox|endpoint  incident:mass-reset  id:42\n\
A bare word matches any field; a leading - negates.";

pub fn table_ui(app: &mut RstscopeApp, ui: &mut egui::Ui) {
    let Some(model) = app.model.as_ref() else {
        return;
    };
    let dark = ui.visuals().dark_mode;
    let row_h = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let scroll_to = if app.detail.scroll_table {
        app.selected
            .and_then(|s| app.view.iter().position(|&v| v == s))
    } else {
        None
    };
    app.detail.scroll_table = false;
    let mut clicked = None;
    let mut sort = app.settings.sort;
    let mut table = TableBuilder::new(ui)
        .striped(true)
        .resizable(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(TableColumn::auto().at_least(40.0))
        .columns(TableColumn::auto().at_least(120.0), 2)
        .columns(TableColumn::auto().at_least(70.0), 4)
        .column(TableColumn::auto().at_least(80.0))
        .column(TableColumn::auto().at_least(140.0))
        .column(TableColumn::remainder().at_least(120.0));
    if let Some(row) = scroll_to {
        table = table.scroll_to_row(row, Some(egui::Align::Center));
    }
    table
        .header(row_h + 4.0, |mut header| header_ui(&mut header, &mut sort))
        .body(|body| {
            body.rows(row_h, app.view.len(), |mut row| {
                let id = app.view[row.index()];
                let c = &model.connections[id as usize];
                let d = model.diagnosis(id);
                row.set_selected(app.selected == Some(id));
                let mut hit = false;
                let t0 = model.t0_ns;
                row.col(|ui| {
                    hit |= cell(ui, id.to_string()).clicked();
                });
                row.col(|ui| {
                    hit |= cell(ui, c.client.to_string()).clicked();
                });
                row.col(|ui| {
                    hit |= cell(ui, c.server.to_string()).clicked();
                });
                row.col(|ui| {
                    hit |= cell(ui, format!("{:.3}", secs(c.first_ts_ns - t0))).clicked();
                });
                row.col(|ui| {
                    hit |= cell(ui, format!("{:.3}", secs(c.duration_ns()))).clicked();
                });
                row.col(|ui| {
                    hit |=
                        cell(ui, format!("{}/{}", c.dirs[0].packets, c.dirs[1].packets)).clicked();
                });
                row.col(|ui| {
                    hit |= cell(
                        ui,
                        format!("{}/{}", c.dirs[0].payload_bytes, c.dirs[1].payload_bytes),
                    )
                    .clicked();
                });
                row.col(|ui| {
                    let t = c.termination();
                    let text = RichText::new(t.as_str()).color(termination_color(t, dark));
                    hit |= cell(ui, text).on_hover_text(termination_help(t)).clicked();
                });
                row.col(|ui| {
                    if let Some(d) = d {
                        hit |= cell(ui, d.cause.id())
                            .on_hover_text(d.cause.title())
                            .clicked();
                        if let Some(inc) = d.incident.and_then(|i| model.incidents.get(i)) {
                            let badge = RichText::new(inc.kind.title())
                                .small()
                                .color(ui.visuals().warn_fg_color);
                            hit |= cell(ui, badge).on_hover_text(inc.badge()).clicked();
                        }
                    }
                });
                row.col(|ui| {
                    hit |= cell(ui, sender_text(c, d)).clicked();
                });
                if hit || row.response().clicked() {
                    clicked = Some(id);
                }
            });
        });
    if sort != app.settings.sort {
        app.settings.sort = sort;
        app.view_dirty = true;
    }
    if let Some(id) = clicked {
        app.select(id);
    }
}

/// Column titles; a click sorts by that column, a second click reverses.
fn header_ui(header: &mut egui_extras::TableRow<'_, '_>, sort: &mut super::model::Sort) {
    for col in Column::ALL {
        header.col(|ui| {
            let arrow = match (sort.column == col, sort.descending) {
                (false, _) => "",
                (true, true) => " (desc)",
                (true, false) => " (asc)",
            };
            if ui
                .button(format!("{}{arrow}", col.title()))
                .on_hover_text("Sort by this column")
                .clicked()
            {
                if sort.column == col {
                    sort.descending = !sort.descending;
                } else {
                    *sort = super::model::Sort {
                        column: col,
                        descending: false,
                    };
                }
            }
        });
    }
}

/// A table cell's text, clickable to select its row (a selectable label would take the click
/// for text selection instead).
fn cell(ui: &mut egui::Ui, text: impl Into<egui::WidgetText>) -> egui::Response {
    ui.add(
        egui::Label::new(text)
            .selectable(false)
            .sense(egui::Sense::click()),
    )
}
