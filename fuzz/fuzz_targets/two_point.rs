//! Two captures of (maybe) the same traffic matched against each other: the input holds two
//! captures, the first two bytes saying how long the first one is. Matching must not panic
//! whatever the two hold, and is symmetric in what it pairs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rstscope::pipeline::{self, Options};
use rstscope::source::SourceSpec;

fn analyze(name: &str, bytes: &[u8]) -> Option<rstscope::analysis::Analysis> {
    let spec = SourceSpec::Bytes(name.to_owned(), bytes.into());
    pipeline::analyze(spec, Options::default()).analysis
}

fuzz_target!(|data: &[u8]| {
    let [l0, l1, rest @ ..] = data else {
        return;
    };
    let split = usize::from(u16::from_le_bytes([*l0, *l1])).min(rest.len());
    let (a, b) = rest.split_at(split);
    let (Some(mut a1), Some(mut b1)) = (analyze("a", a), analyze("b", b)) else {
        return;
    };
    let (Some(mut a2), Some(mut b2)) = (analyze("a", a), analyze("b", b)) else {
        unreachable!("the same bytes opened once");
    };
    let ab = a1.cross_check(&mut b1, "a", "b");
    let ba = b2.cross_check(&mut a2, "b", "a");
    assert_eq!(ab.paired, ba.paired, "pairing is symmetric");
});
