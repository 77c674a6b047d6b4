//! What the app shows, filled from the pipeline's events; no drawing here.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::analysis::{Analysis, Warning};
use crate::diagnose::{Diagnosis, Incident, SenderKind};
use crate::flow::{Connection, Dir, PacketRecord, Termination};
use crate::pipeline::{ConnectionBatch, Progress};

use crate::filter::Filter;

/// The loaded capture: connections as they arrive, then the final analysis.
#[derive(Default)]
pub struct Model {
    pub name: String,
    pub connections: Vec<Connection>,
    pub packets: Vec<Vec<PacketRecord>>,
    pub diagnoses: Vec<Option<Box<Diagnosis>>>,
    pub incidents: Vec<Incident>,
    pub warnings: Vec<Warning>,
    pub progress: Progress,
    /// Capture time of the first packet, the zero of every time axis.
    pub t0_ns: i64,
    pub t_end_ns: i64,
    /// The analysis has ended (the diagnosis is in).
    pub complete: bool,
    /// A live capture's interface, filter and save file.
    pub live: Option<crate::source::live::LiveInfo>,
    /// Counts changes to the connections, so that views computed from them (the overview's
    /// groups) know when to compute again.
    pub revision: u64,
    /// Per connection id: what the overview draws of it, side by side in 24 bytes so that
    /// grouping a million rows in a new order does not fetch a million connections from
    /// memory (90 ms on 2 cores, bench/app.sh).
    pub spans: Vec<Span>,
}

/// A connection as the overview draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    pub termination: Termination,
}

impl Span {
    fn of(c: &Connection) -> Self {
        Self {
            first_ts_ns: c.first_ts_ns,
            last_ts_ns: c.last_ts_ns,
            termination: c.termination(),
        }
    }
}

impl Model {
    pub fn new(name: String) -> Self {
        Self {
            name,
            ..Self::default()
        }
    }

    /// Folds in a batch of new or changed connections.
    pub fn apply_batch(&mut self, batch: ConnectionBatch) {
        self.revision += 1;
        for c in batch.connections {
            let id = c.id as usize;
            if self.connections.is_empty() || c.first_ts_ns < self.t0_ns {
                self.t0_ns = c.first_ts_ns;
            }
            self.t_end_ns = self.t_end_ns.max(c.last_ts_ns);
            if id >= self.connections.len() {
                self.packets.resize_with(id + 1, Vec::new);
                self.spans.push(Span::of(&c));
                self.connections.push(c);
            } else {
                self.spans[id] = Span::of(&c);
                self.connections[id] = c;
            }
        }
        for (id, records) in batch.new_packets {
            if let Some(p) = self.packets.get_mut(id as usize) {
                p.extend(records);
                // A live capture's copy stays bounded like the tracker's.
                if self.live.is_some() {
                    while crate::flow::RecordLimit::LIVE.compact(p) > 0 {}
                }
            }
        }
        for (id, d) in batch.diagnoses {
            let id = id as usize;
            if id >= self.diagnoses.len() {
                self.diagnoses.resize(id + 1, None);
            }
            self.diagnoses[id] = Some(Box::new(d));
        }
    }

    /// Replaces everything with the final analysis.
    pub fn finish(&mut self, a: Analysis) {
        self.revision += 1;
        self.t0_ns = a.stats.first_ts_ns.unwrap_or(0);
        self.t_end_ns = a.stats.last_ts_ns.unwrap_or(self.t0_ns);
        self.connections = a.connections;
        self.spans = self.connections.iter().map(Span::of).collect();
        self.packets = a.packets;
        self.diagnoses = a.diagnoses;
        self.incidents = a.incidents;
        self.warnings = a.warnings;
        self.live.clone_from(&a.source.live);
        self.complete = true;
    }

    pub fn diagnosis(&self, id: u32) -> Option<&Diagnosis> {
        self.diagnoses.get(id as usize).and_then(Option::as_deref)
    }

    /// Connection ids shown by `filter`, sorted.
    ///
    /// On all cores (rayon): at a million connections the filter and the keys took 70-150 ms
    /// on one core of a 2-core machine (`RSTSCOPE_PERF`, `bench/app.sh`), over the 100 ms a click
    /// may take to answer. Each row's key is read once: a comparison that looked the
    /// connections up (and, for the sender, formatted its text) took 0.5 s.
    pub fn view(&self, filter: &Filter, resets_only: bool, sort: Sort) -> Vec<u32> {
        let shown = |c: &Connection| {
            let d = self.diagnosis(c.id);
            (!resets_only || !c.resets.is_empty() || d.is_some()) && filter.matches(c, d)
        };
        let addr = |a: std::net::SocketAddr| match a.ip() {
            std::net::IpAddr::V4(v4) => (0u8, u128::from(v4.to_bits()), a.port()),
            std::net::IpAddr::V6(v6) => (1, v6.to_bits(), a.port()),
        };
        let total = |c: &Connection, f: fn(&crate::flow::Direction) -> u64| {
            i64::try_from(f(&c.dirs[0]).saturating_add(f(&c.dirs[1]))).unwrap_or(i64::MAX)
        };
        let by = sort.descending;
        match sort.column {
            Column::Id => self.sorted(shown, |c, _| i64::from(c.id), by),
            Column::Client => self.sorted(shown, |c, _| addr(c.client), by),
            Column::Server => self.sorted(shown, |c, _| addr(c.server), by),
            Column::Start => self.sorted(shown, |c, _| c.first_ts_ns, by),
            Column::Duration => self.sorted(shown, |c, _| c.duration_ns(), by),
            Column::Packets => self.sorted(shown, |c, _| total(c, |d| d.packets), by),
            Column::Bytes => self.sorted(shown, |c, _| total(c, |d| d.payload_bytes), by),
            Column::Termination => self.sorted(shown, |c, _| c.termination() as i64, by),
            Column::Cause => self.sorted(shown, |_, d| d.map_or(-1, |d| d.cause as i64), by),
            Column::Sender => self.sorted(shown, sender_text, by),
        }
    }

    /// The shown rows ordered by `key`, ties by id.
    fn sorted<K: Ord + Send>(
        &self,
        shown: impl Fn(&Connection) -> bool + Sync,
        key: impl Fn(&Connection, Option<&Diagnosis>) -> K + Sync,
        descending: bool,
    ) -> Vec<u32> {
        use rayon::prelude::*;
        let mut keyed: Vec<(K, u32)> = self
            .connections
            .par_iter()
            .filter(|c| shown(c))
            .map(|c| (key(c, self.diagnosis(c.id)), c.id))
            .collect();
        if descending {
            keyed.par_sort_unstable_by(|a, b| b.cmp(a));
        } else {
            keyed.par_sort_unstable();
        }
        keyed.into_par_iter().map(|(_, id)| id).collect()
    }

    /// Resets by cause, and RST senders ranked: the summary strip. Senders are counted by
    /// address and put in words once each (formatting one per row took most of the 0.2 s this
    /// took at a million connections).
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        let mut causes: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut senders: HashMap<(SenderKind, IpAddr), usize> = HashMap::new();
        for c in &self.connections {
            if !c.resets.is_empty() {
                s.reset_connections += 1;
            }
            if let Some(d) = self.diagnosis(c.id) {
                *causes.entry(d.cause.id()).or_default() += 1;
                let ip = match d.sender {
                    Dir::Client => c.client.ip(),
                    Dir::Server => c.server.ip(),
                };
                *senders.entry((d.sender_kind, ip)).or_default() += 1;
            }
        }
        s.connections = self.connections.len();
        s.causes = causes.into_iter().collect();
        s.causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        s.senders = senders
            .into_iter()
            .map(|((kind, ip), n)| {
                let who = match kind {
                    SenderKind::Endpoint => format!("{ip}"),
                    SenderKind::Middlebox => format!("path device as {ip}"),
                };
                (who, n)
            })
            .collect();
        s.senders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        s
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub connections: usize,
    pub reset_connections: usize,
    pub causes: Vec<(&'static str, usize)>,
    pub senders: Vec<(String, usize)>,
}

/// Table columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Column {
    Id,
    Client,
    Server,
    Start,
    Duration,
    Packets,
    Bytes,
    Termination,
    Cause,
    Sender,
}

impl Column {
    pub const ALL: [Self; 10] = [
        Self::Id,
        Self::Client,
        Self::Server,
        Self::Start,
        Self::Duration,
        Self::Packets,
        Self::Bytes,
        Self::Termination,
        Self::Cause,
        Self::Sender,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Self::Id => "#",
            Self::Client => "Client",
            Self::Server => "Server",
            Self::Start => "Start (s)",
            Self::Duration => "Duration (s)",
            Self::Packets => "Packets",
            Self::Bytes => "Bytes",
            Self::Termination => "End",
            Self::Cause => "Cause",
            Self::Sender => "RST sender",
        }
    }
}

/// "server 10.0.0.2", "path (as server)", or "" with no RST.
pub fn sender_text(c: &Connection, d: Option<&Diagnosis>) -> String {
    let Some(d) = d else { return String::new() };
    let (side, ip) = match d.sender {
        Dir::Client => ("client", c.client.ip()),
        Dir::Server => ("server", c.server.ip()),
    };
    match d.sender_kind {
        SenderKind::Endpoint => format!("{side} {ip}"),
        SenderKind::Middlebox => format!("path device (as {side})"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            column: Column::Id,
            descending: false,
        }
    }
}

/// A colour-free name for how a connection ended, used for legends and tooltips.
pub fn termination_help(t: Termination) -> &'static str {
    match t {
        Termination::Fin => "closed gracefully: a FIN each way",
        Termination::HalfClosed => {
            "one side sent its FIN; the other had not when the capture ended"
        }
        Termination::Reset => "ended by a RST",
        Termination::Refused => "the SYN was answered by a RST",
        Termination::Unanswered => "SYNs or data that nobody answered",
        Termination::Open => "still open when the capture ended",
    }
}
