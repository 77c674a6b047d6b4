//! Shared helpers for the integration tests: where the reference corpus is, how to read its
//! tab-separated indexes, and a one-call analysis.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rstscope::pipeline::{self, Options, Outcome};
use rstscope::source::SourceSpec;

/// `../shared/corpus` beside the repository, or `$RSTSCOPE_CORPUS`; `None` when it is absent.
///
/// A fresh clone has no corpus beside it, so the tests that need one say they were skipped and
/// pass; with `RSTSCOPE_REQUIRE_CORPUS=1` (set by CI) an absent corpus fails them instead, so the
/// conformance tests cannot pass by finding nothing to check.
pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("RSTSCOPE_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
        PathBuf::from,
    );
    if dir.join("INDEX.tsv").is_file() {
        return Some(dir);
    }
    let why = format!(
        "reference corpus not found at {} (set RSTSCOPE_CORPUS to its folder)",
        dir.display()
    );
    assert!(
        std::env::var_os("RSTSCOPE_REQUIRE_CORPUS").is_none(),
        "{why}, and RSTSCOPE_REQUIRE_CORPUS is set"
    );
    eprintln!("skipped: {why}");
    None
}

/// Rows of a tab-separated file with a header line, as maps from column name to value.
pub fn tsv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches('#')
        .split('\t')
        .map(str::to_owned)
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split('\t').map(str::to_owned))
                .collect()
        })
        .collect()
}

/// Analyses one file as the command line does (packet records bounded and released when a
/// connection closes gracefully: see `FlowConfig::default`).
pub fn analyze(path: &Path) -> Outcome {
    pipeline::analyze(SourceSpec::File(path.to_owned()), Options::default())
}

/// Analyses one file keeping every packet's record, as the desktop app does.
pub fn analyze_every_record(path: &Path) -> Outcome {
    let options = Options {
        flow: rstscope::flow::FlowConfig::every_record(),
        ..Options::default()
    };
    pipeline::analyze(SourceSpec::File(path.to_owned()), options)
}
