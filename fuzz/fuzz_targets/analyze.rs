//! The whole pipeline over any capture bytes: decoding, connection tracking, the diagnosis of
//! every RST, incidents, and both reports. The JSON report written on one line for programs
//! (hand-written for speed) must say exactly what the indented one (serde) says, every line of
//! the JSON-lines report must be a JSON record, and every reset connection must have a diagnosis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rstscope::pipeline::{self, Options};
use rstscope::report::{self, ReportOptions};
use rstscope::source::SourceSpec;

fuzz_target!(|data: &[u8]| {
    let spec = SourceSpec::Bytes("fuzz".to_owned(), data.into());
    let outcome = pipeline::analyze(spec, Options::default());
    let Some(a) = &outcome.analysis else {
        assert!(outcome.error.is_some(), "no analysis and no reason");
        return;
    };
    for c in &a.connections {
        // Reset connections always have one (silently dropped ones may have one too).
        assert!(
            c.resets.is_empty() || a.diagnoses[c.id as usize].is_some(),
            "connection {}: reset but not diagnosed",
            c.id
        );
        assert!(c.duration_ns() >= 0);
    }
    if let (Some(first), Some(last)) = (a.stats.first_ts_ns, a.stats.last_ts_ns) {
        assert!(first <= last);
    }
    let error = outcome.error.as_ref();
    let mut text = Vec::new();
    report::write_text(&mut text, a, error, ReportOptions::default()).unwrap();
    assert!(std::str::from_utf8(&text).is_ok());
    let (mut compact, mut pretty) = (Vec::new(), Vec::new());
    report::write_json(&mut compact, a, error, ReportOptions::default(), false).unwrap();
    report::write_json(&mut pretty, a, error, ReportOptions::default(), true).unwrap();
    let compact: serde_json::Value = serde_json::from_slice(&compact).unwrap();
    let pretty: serde_json::Value = serde_json::from_slice(&pretty).unwrap();
    assert_eq!(
        compact, pretty,
        "the one-line JSON says what the indented JSON says"
    );
    let mut lines = Vec::new();
    report::write_lines(&mut lines, a, error, ReportOptions::default()).unwrap();
    for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let record: serde_json::Value = serde_json::from_slice(line).unwrap();
        assert!(record["record"].is_string(), "every line names its record");
    }
});
