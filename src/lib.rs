//! rstscope: finds every TCP connection in a capture, and for every RST who sent it and why.
//!
//! The library is the pipeline, with no GUI dependency:
//! [`source`] (pcap/pcapng from a file or a pipe) -> [`decode`] (link layers, IP, TCP) ->
//! [`flow`] (connections, both directions' counters, handshake, idle gaps, RSTs) ->
//! [`diagnose`] (who sent each RST and why, incidents across connections) -> [`analysis`] (the
//! result of one capture) -> [`report`] (text and JSON). [`pipeline`] runs it on named worker
//! threads and sends typed
//! events; the command line and the desktop app ([`ui`], the only module that imports egui) are
//! thin consumers of those events.

pub mod analysis;
pub mod decode;
pub mod diagnose;
pub mod flow;
pub mod pipeline;
pub mod report;
pub mod source;
pub mod time;
pub mod ui;
