//! rstscope: finds every TCP connection in a capture, and for every RST who sent it and why.
//!
//! The library is the pipeline, with no GUI dependency:
//! [`source`] (pcap/pcapng from a file or a pipe) -> [`decode`] (link layers, IP, TCP) ->
//! [`flow`] (connections, both directions' counters, handshake, idle gaps, RSTs) ->
//! [`diagnose`] (who sent each RST and why, incidents across connections) -> [`analysis`] (the
//! result of one capture) -> [`report`] (text and JSON). [`pipeline`] runs it on named worker
//! threads and sends typed events; the command line and the desktop app (`ui`, the only module
//! that imports egui, built with the default `gui` feature) are thin consumers of those events.
//! [`filter`] is the connection filter both can apply.
//!
//! `default-features = false` builds the library and a command line without the desktop app
//! and its windowing crates: for servers, and for the fuzz targets in `fuzz/`.

pub mod addr;
pub mod analysis;
pub mod decode;
pub mod diagnose;
pub mod filter;
pub mod flow;
pub mod pipeline;
pub mod report;
pub mod source;
pub mod time;
#[cfg(feature = "gui")]
pub mod ui;
