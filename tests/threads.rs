//! `pipeline::analyze` returns only once its worker threads have ended. Found by the fuzz
//! targets `analyze` and `two_point`: `LeakSanitizer` saw the reader thread still freeing its
//! buffers after the call had returned.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use rstscope::pipeline::{self, Options};
use rstscope::source::SourceSpec;

/// The reader thread holds the capture's bytes until it ends: once `analyze` has returned,
/// nobody else may hold them. (Without the join, the thread was still dropping them.)
#[test]
fn analyze_returns_after_its_threads_have_ended() {
    let bytes: Arc<[u8]> = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-captures/refused.pcap"),
    )
    .unwrap()
    .into();
    for _ in 0..50 {
        let spec = SourceSpec::Bytes("refused".to_owned(), Arc::clone(&bytes));
        let outcome = pipeline::analyze(spec, Options::default());
        assert!(outcome.analysis.is_some());
        assert_eq!(
            Arc::strong_count(&bytes),
            1,
            "a worker thread outlived analyze()"
        );
    }
}
