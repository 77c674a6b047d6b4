//! The parser of the kernel's RST records saved in a pcapng comment: whatever it reads back,
//! written again, reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rstscope::source::live::kernel::{from_comment, to_comments};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let records = from_comment(&text);
    if records.is_empty() {
        return;
    }
    let again: Vec<_> = to_comments(&records)
        .iter()
        .flat_map(|c| from_comment(c))
        .collect();
    assert_eq!(records, again);
});
