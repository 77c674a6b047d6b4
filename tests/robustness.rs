//! Damaged input: a capture cut at any offset never panics, keeps exactly the records that were
//! whole before the cut, and says where it stopped. gzip input is recognised by its magic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Cursor, Write};
use std::path::Path;

use rstscope::source::{CaptureReader, SourceError};

/// Reads everything from `bytes`; returns (records read, the error that stopped it).
fn read_all(bytes: Vec<u8>) -> (Vec<u64>, Option<SourceError>) {
    let mut ends = Vec::new();
    match CaptureReader::from_read(Box::new(Cursor::new(bytes))) {
        Err(e) => (ends, Some(e)),
        Ok((mut r, _, _)) => loop {
            match r.next_packet() {
                Ok(Some(_)) => ends.push(r.offset()),
                Ok(None) => return (ends, None),
                Err(e) => return (ends, Some(e)),
            }
        },
    }
}

fn check_cuts(path: &Path) -> usize {
    let full = std::fs::read(path).unwrap();
    let (ends, err) = read_all(full.clone());
    assert!(err.is_none(), "{}: {err:?}", path.display());
    assert!(!ends.is_empty());
    // Where the file header (and, for pcapng, the leading blocks) end: cuts before the first
    // record's start may fail to open; that is a clear error, not a panic.
    let step = (full.len() / 400).max(1);
    let mut cuts = 0;
    for cut in (0..full.len())
        .step_by(step)
        .chain(ends.iter().map(|&e| usize::try_from(e).unwrap()))
    {
        let (got, err) = read_all(full[..cut].to_vec());
        let whole = ends.iter().filter(|&&e| e <= cut as u64).count();
        assert_eq!(
            got.len(),
            whole,
            "{} cut at {cut}: records kept",
            path.display()
        );
        assert_eq!(
            &got[..],
            &ends[..whole],
            "{} cut at {cut}: record boundaries",
            path.display()
        );
        let at_boundary = ends.contains(&(cut as u64));
        if let Some(e) = &err {
            assert!(
                !at_boundary || got.is_empty(),
                "{} cut at {cut} (a record boundary): {e}",
                path.display()
            );
            if e.is_partial() {
                assert!(e.to_string().starts_with("stopped at byte "), "{e}");
            }
        } else {
            // Only a cut between records (or after the last one) reads cleanly; pcapng
            // non-packet blocks also end on block boundaries.
            assert!(
                at_boundary || got.is_empty() || is_block_boundary(path, cut),
                "{} cut at {cut} gave no error",
                path.display()
            );
        }
        cuts += 1;
    }
    cuts
}

/// pcapng files have blocks other than packets; a cut right after one of them is clean too.
fn is_block_boundary(path: &Path, cut: usize) -> bool {
    path.extension().is_some_and(|e| e == "pcapng") && cut.is_multiple_of(4)
}

#[test]
fn captures_cut_at_any_offset_keep_every_whole_record() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("sample-captures/busy-one-reset.pcapng"),
        root.join("sample-captures/middlebox-reset-injected.pcap"),
        root.join("sample-captures/idle-timeout-haproxy-server-any.pcap"),
    ];
    let with_corpus = common::corpus().is_some_and(|corpus| {
        files.push(corpus.join("pcapng-suite/output_be/difficult/test202.pcapng"));
        files.push(corpus.join("pcapng-suite/output_le/advanced/test102.pcapng"));
        true
    });
    let cuts: usize = files.iter().map(|f| check_cuts(f)).sum();
    eprintln!("{cuts} cuts checked in {} files", files.len());
    assert!(cuts > if with_corpus { 1500 } else { 1000 }, "{cuts}");
}

#[test]
fn gzip_is_recognised_by_its_magic_bytes_not_its_name() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-captures/busy-one-reset.pcapng");
    let plain = std::fs::read(&src).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let dir = std::env::temp_dir().join(format!("rstscope-gz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let disguised = dir.join("capture.pcapng"); // no .gz suffix
    std::fs::write(&disguised, gz.finish().unwrap()).unwrap();
    let a = common::analyze(&src).analysis.unwrap();
    let outcome = common::analyze(&disguised);
    let b = outcome.analysis.unwrap();
    assert!(outcome.error.is_none());
    assert!(b.source.gzip && !a.source.gzip);
    assert_eq!(a.stats.frames, b.stats.frames);
    assert_eq!(a.connections.len(), b.connections.len());
    let resets = |x: &rstscope::analysis::Analysis| -> Vec<u64> {
        x.connections
            .iter()
            .flat_map(|c| c.resets.iter().map(|r| r.frame))
            .collect()
    };
    assert_eq!(resets(&a), resets(&b));
    std::fs::remove_dir_all(dir).ok();
}
