//! The result of analysing one capture: its connections, their packet records, the diagnosis of
//! every reset and the incidents across connections, with what the reader had to say about the
//! input. The pipeline fills it; the reports, the command line and the app read it.
//!
//! Layers, top-down: `source` -> `decode` -> `flow` -> `diagnose` -> `analysis` -> `report`.
//! This module sits above `diagnose` (it holds diagnoses) and below `report` (which only reads
//! it), so that neither of those needs the pipeline.

use crate::diagnose::{self, Diagnosis, Incident};
use crate::flow::{Connection, PacketRecord};
use crate::source::SourceInfo;

/// Something the user should know that did not stop the analysis.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// A stable identifier: `link-type`, `not-ip`, `not-tcp`, `fragment`, `empty`, `truncated`,
    /// `malformed`, `time-clamped` (times outside 1970-2262), `time-backwards` (a clock that
    /// stepped back), `input-stopped`, `capture` (a live capture's drops or saving problems),
    /// `kernel-reasons` (the kernel's reasons could not be read).
    pub kind: &'static str,
    /// Frames concerned, when the warning counts frames.
    pub frames: Option<u64>,
    pub message: String,
}

/// Everything found in one capture.
#[derive(Debug)]
pub struct Analysis {
    pub source: SourceInfo,
    pub connections: Vec<Connection>,
    /// Packet records per connection id (empty vectors when retention is off).
    pub packets: Vec<Vec<PacketRecord>>,
    /// Per connection id: why it was reset (`None` for graceful or open connections).
    pub diagnoses: Vec<Option<Box<Diagnosis>>>,
    /// Events that span connections (`mass-reset`).
    pub incidents: Vec<Incident>,
    pub warnings: Vec<Warning>,
    pub stats: Stats,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub frames: u64,
    pub tcp_packets: u64,
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: Option<i64>,
    /// Bytes held in per-packet records when the capture ended, before the diagnosis (which,
    /// with the pipeline's `drop_unused_records`, frees those it does not read).
    pub retained_packet_bytes: u64,
}

impl Analysis {
    /// The capture as the two-point comparison reads it.
    pub fn view(&self) -> diagnose::CaptureView<'_> {
        diagnose::CaptureView {
            connections: &self.connections,
            packets: &self.packets,
            first_ts_ns: self.stats.first_ts_ns,
            last_ts_ns: self.stats.last_ts_ns,
        }
    }

    /// Two captures of the same traffic prove each other's verdicts: see
    /// [`diagnose::cross_check`].
    pub fn cross_check(
        &mut self,
        other: &mut Analysis,
        name: &str,
        other_name: &str,
    ) -> diagnose::CrossCheck {
        // Field by field: the views borrow the connections, the diagnoses are changed.
        let a = diagnose::CaptureView {
            connections: &self.connections,
            packets: &self.packets,
            first_ts_ns: self.stats.first_ts_ns,
            last_ts_ns: self.stats.last_ts_ns,
        };
        let b = diagnose::CaptureView {
            connections: &other.connections,
            packets: &other.packets,
            first_ts_ns: other.stats.first_ts_ns,
            last_ts_ns: other.stats.last_ts_ns,
        };
        let check = diagnose::cross_check(
            a,
            &mut self.diagnoses,
            b,
            &mut other.diagnoses,
            name,
            other_name,
        );
        // The other capture may have changed a member's cause.
        diagnose::incident::recount(&mut self.incidents, &self.connections, &self.diagnoses);
        diagnose::incident::recount(&mut other.incidents, &other.connections, &other.diagnoses);
        check
    }
}
