//! `pipeline::analyze` returns only once its worker threads have ended. Found by the fuzz
//! targets `analyze` and `two_point`: LeakSanitizer saw the reader thread still freeing its
//! buffers after the call had returned. Alone in its test binary, so that no other test's
//! threads are counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rstscope::pipeline::{self, Options};
use rstscope::source::SourceSpec;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn analyze_returns_after_its_threads_have_ended() {
    let bytes: std::sync::Arc<[u8]> = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-captures/refused.pcap"),
    )
    .unwrap()
    .into();
    let before = threads();
    for _ in 0..50 {
        let spec = SourceSpec::Bytes("refused".to_owned(), bytes.clone());
        let outcome = pipeline::analyze(spec, Options::default());
        assert!(outcome.analysis.is_some());
        assert_eq!(threads(), before, "a worker thread outlived analyze()");
    }
}
