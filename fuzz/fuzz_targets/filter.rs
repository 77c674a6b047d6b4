//! The connection filter: any text parses or says which word it does not understand, and the
//! parsed filter behaves as documented on the connections of a real sample capture: a word and
//! its negation (`-word`) split the connections between them, and words are joined by "and".
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rstscope::analysis::Analysis;
use rstscope::filter::Filter;
use rstscope::pipeline::{self, Options};
use rstscope::source::SourceSpec;

/// A capture with resets of several causes, a mass reset and a forged RST.
const SAMPLE: &[u8] = include_bytes!("../../sample-captures/mass-reset-server-killed.pcap");

fn sample() -> &'static Analysis {
    static A: OnceLock<Analysis> = OnceLock::new();
    A.get_or_init(|| {
        let spec = SourceSpec::Bytes("sample".to_owned(), SAMPLE.into());
        pipeline::analyze(spec, Options::default())
            .analysis
            .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = Filter::parse(text) else {
        return;
    };
    let a = sample();
    let words: Vec<&str> = text.split_whitespace().collect();
    for c in &a.connections {
        let d = a.diagnoses[c.id as usize].as_deref();
        let all = filter.matches(c, d);
        let each = words
            .iter()
            .all(|w| Filter::parse(w).unwrap().matches(c, d));
        assert_eq!(all, each, "`{text}`: words are joined by and");
        if let [w] = words[..]
            && !w.starts_with('-')
        {
            let negated = Filter::parse(&format!("-{w}")).unwrap();
            assert_ne!(all, negated.matches(c, d), "`{w}` and `-{w}`");
        }
    }
});
