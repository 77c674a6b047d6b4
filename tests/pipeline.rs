//! The event stream the desktop app and the CLI consume: `Started`, batches of new or changed
//! connections with their new packet records, progress, warnings, and exactly one `End`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rstscope::flow::PacketRecord;
use rstscope::pipeline::{self, Event, Options};
use rstscope::source::SourceSpec;

fn busy_sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-captures/busy-one-reset.pcapng")
}

#[test]
fn live_batches_add_up_to_the_final_analysis() {
    let wakes = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&wakes);
    let options = Options {
        live_updates: true,
        update_interval: Duration::ZERO,
        ..Options::default()
    };
    let handle = pipeline::start(
        SourceSpec::File(busy_sample()),
        options,
        Some(Arc::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        })),
    );
    let mut started = false;
    let mut ends = 0;
    let mut seen_conns: HashMap<u32, usize> = HashMap::new();
    let mut streamed: HashMap<u32, Vec<PacketRecord>> = HashMap::new();
    let mut last_progress = None;
    let mut outcome = None;
    for event in &handle.events {
        match event {
            Event::Started(info) => {
                assert!(!started && ends == 0);
                started = true;
                assert!(info.name.ends_with("busy-one-reset.pcapng"));
            }
            Event::Connections(batch) => {
                assert!(started);
                for c in &batch.connections {
                    *seen_conns.entry(c.id).or_default() += 1;
                }
                for (id, recs) in batch.new_packets {
                    streamed.entry(id).or_default().extend(recs);
                }
            }
            Event::Progress(p) => last_progress = Some(p),
            Event::Warning(_) => {}
            Event::End(o) => {
                ends += 1;
                outcome = Some(*o);
            }
        }
    }
    assert_eq!(ends, 1, "exactly one End");
    let outcome = outcome.unwrap();
    assert!(outcome.error.is_none());
    let a = outcome.analysis.unwrap();
    assert_eq!(
        seen_conns.len(),
        a.connections.len(),
        "every connection was announced"
    );
    for c in &a.connections {
        assert_eq!(
            streamed.get(&c.id).map_or(0, Vec::len),
            a.packets[c.id as usize].len(),
            "connection {}",
            c.id
        );
        assert_eq!(
            streamed[&c.id], a.packets[c.id as usize],
            "connection {} records",
            c.id
        );
    }
    let p = last_progress.expect("a progress event");
    assert_eq!(p.frames, a.stats.frames);
    assert_eq!(p.connections, a.connections.len() as u64);
    assert_eq!(
        p.total_bytes,
        std::fs::metadata(busy_sample()).ok().map(|m| m.len())
    );
    assert!(
        wakes.load(Ordering::Relaxed) >= 3,
        "the waker is called for events"
    );
}

#[test]
fn an_open_failure_is_an_end_event_not_a_panic() {
    let handle = pipeline::start(
        SourceSpec::File("/nonexistent.pcap".into()),
        Options::default(),
        None,
    );
    let events: Vec<Event> = handle.events.iter().collect();
    assert_eq!(events.len(), 1);
    let Event::End(o) = &events[0] else {
        panic!("{events:?}")
    };
    assert!(o.analysis.is_none());
    assert!(
        o.error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("/nonexistent.pcap")
    );
}

#[test]
fn cancel_ends_with_what_was_read() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // The largest capture in the corpus; cancelling at once must still end cleanly.
    let path = corpus.join("zeek/Traces/http/bro.org.pcap");
    let handle = pipeline::start(SourceSpec::File(path), Options::default(), None);
    handle.cancel();
    let ends = handle
        .events
        .iter()
        .filter(|e| matches!(e, Event::End(_)))
        .count();
    assert_eq!(ends, 1);
}

/// `tcpdump -U -w - | rstscope -`: connections show while the stream is still open, before any
/// end of input. A named pipe stands in for standard input (same reads, same blocking).
#[cfg(unix)]
#[test]
fn a_stream_that_stays_open_shows_its_connections_before_it_ends() {
    use std::io::Write;
    use std::time::Instant;

    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sample-captures/abortive-close-server.pcap");
    let bytes = std::fs::read(&sample).unwrap();
    // Where the third record ends: the handshake is complete there.
    let (mut reader, ..) =
        rstscope::source::CaptureReader::open(&SourceSpec::File(sample.clone())).unwrap();
    for _ in 0..3 {
        reader.next_packet().unwrap().unwrap();
    }
    let cut = usize::try_from(reader.offset()).unwrap();
    drop(reader);

    let fifo = std::env::temp_dir().join(format!("rstscope-fifo-{}", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (go_on_tx, go_on_rx) = std::sync::mpsc::channel::<()>();
    let writer_path = fifo.clone();
    let head = bytes[..cut].to_vec();
    let tail = bytes[cut..].to_vec();
    let writer = std::thread::Builder::new().name("fifo-writer".into());
    let writer = writer
        .spawn(move || {
            let mut w = std::fs::OpenOptions::new()
                .write(true)
                .open(&writer_path)
                .unwrap();
            w.write_all(&head).unwrap();
            w.flush().unwrap();
            // The stream stays open until the test has seen the connection.
            go_on_rx.recv().unwrap();
            w.write_all(&tail).unwrap();
        })
        .unwrap();
    let options = Options {
        live_updates: true,
        ..Options::default()
    };
    let handle = pipeline::start(SourceSpec::File(fifo.clone()), options, None);
    let began = Instant::now();
    let mut shown_while_open = None;
    let mut outcome = None;
    while outcome.is_none() {
        match handle
            .events
            .recv_timeout(Duration::from_secs(5))
            .expect("an event within 5 s")
        {
            Event::Connections(batch) if shown_while_open.is_none() => {
                assert_eq!(batch.connections.len(), 1);
                let c = &batch.connections[0];
                assert!(
                    c.handshake.ack_frame.is_some(),
                    "the whole handshake was sent"
                );
                assert!(c.resets.is_empty(), "the RST was not sent yet");
                shown_while_open = Some(began.elapsed());
                go_on_tx.send(()).unwrap();
            }
            Event::End(o) => outcome = Some(o),
            _ => {}
        }
    }
    writer.join().unwrap();
    let latency = shown_while_open.expect("the connection was shown while the stream was open");
    eprintln!(
        "stream: connection shown {:.0} ms after the stream opened",
        latency.as_secs_f64() * 1e3
    );
    assert!(latency < Duration::from_secs(2), "{latency:?}");
    let streamed = outcome.unwrap().analysis.unwrap();
    let whole = pipeline::analyze(SourceSpec::File(sample), Options::default())
        .analysis
        .unwrap();
    assert_eq!(streamed.stats, whole.stats);
    assert_eq!(streamed.diagnoses, whole.diagnoses);
    std::fs::remove_file(&fifo).unwrap();
}

/// A live capture bounds the records each connection keeps; the batches still carry the newest
/// records, so a consumer that bounds its copy the same way holds the start and the latest
/// packets of every connection, like the final analysis.
#[test]
fn bounded_records_stream_the_start_and_the_latest_packets() {
    use rstscope::flow::{FlowConfig, RecordLimit};
    let limit = RecordLimit { head: 2, tail: 3 };
    let options = Options {
        live_updates: true,
        update_interval: Duration::ZERO,
        flow: FlowConfig {
            record_limit: Some(limit),
            ..FlowConfig::every_record()
        },
        ..Options::default()
    };
    let handle = pipeline::start(SourceSpec::File(busy_sample()), options, None);
    let mut streamed: HashMap<u32, Vec<PacketRecord>> = HashMap::new();
    let mut outcome = None;
    for event in &handle.events {
        match event {
            Event::Connections(batch) => {
                for (id, recs) in batch.new_packets {
                    let copy = streamed.entry(id).or_default();
                    copy.extend(recs);
                    while limit.compact(copy) > 0 {}
                }
            }
            Event::End(o) => outcome = Some(o),
            _ => {}
        }
    }
    let a = outcome.unwrap().analysis.unwrap();
    let mut bounded = 0;
    for c in &a.connections {
        let total =
            c.dir(rstscope::flow::Dir::Client).packets + c.dir(rstscope::flow::Dir::Server).packets;
        let kept = &a.packets[c.id as usize];
        let copy = &streamed[&c.id];
        assert!(kept.len() < limit.head + 2 * limit.tail);
        assert!(copy.len() < limit.head + 2 * limit.tail);
        if total > kept.len() as u64 {
            bounded += 1;
        }
        let frames = |v: &[PacketRecord]| v.iter().map(|r| r.frame).collect::<Vec<_>>();
        let n = kept.len().min(limit.head);
        assert_eq!(
            frames(&copy[..n]),
            frames(&kept[..n]),
            "connection {}: start",
            c.id
        );
        let t = kept.len().min(limit.tail);
        assert_eq!(
            frames(&copy[copy.len() - t..]),
            frames(&kept[kept.len() - t..]),
            "connection {}: latest packets",
            c.id
        );
    }
    assert!(
        bounded > 0,
        "the sample has connections longer than the bound"
    );
    // The RST's diagnosis reads the latest packets: still there.
    assert!(a.diagnoses.iter().flatten().count() > 0);
}

#[test]
fn dropping_the_records_no_diagnosis_reads_changes_no_verdict() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-captures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    assert!(files.len() > 20);
    let (mut dropped, mut kept) = (0, 0);
    for f in &files {
        let run = |drop| {
            let options = Options {
                drop_unused_records: drop,
                ..Options::default()
            };
            pipeline::analyze(SourceSpec::File(f.clone()), options)
                .analysis
                .unwrap()
        };
        let (all, lean) = (run(false), run(true));
        assert_eq!(
            format!("{:?}", all.diagnoses),
            format!("{:?}", lean.diagnoses),
            "{}: the verdicts",
            f.display()
        );
        assert_eq!(all.incidents, lean.incidents, "{}", f.display());
        for c in &all.connections {
            let (a, l) = (&all.packets[c.id as usize], &lean.packets[c.id as usize]);
            if rstscope::diagnose::reads_records(c) {
                assert_eq!(a, l, "{} connection {}", f.display(), c.id);
                kept += 1;
            } else {
                assert!(l.is_empty(), "{} connection {}", f.display(), c.id);
                dropped += usize::from(!a.is_empty());
            }
        }
    }
    // The samples hold both: graceful connections beside the reset ones.
    assert!(dropped > 10 && kept > 20, "dropped {dropped}, kept {kept}");
}
