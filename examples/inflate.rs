//! The inflater alone: reads a gzip file through flate2's zlib-rs backend (the one rstscope
//! uses) and throws the bytes away. `bench/suite.sh` times it beside `rstscope analyze F.gz`:
//! one gzip stream inflates on one core, so this is as fast as a `.gz` capture can be read.
//!
//! ```text
//! cargo run --release --example inflate -- capture.pcap.gz
//! ```

use std::io::{self, BufReader};

fn main() -> io::Result<()> {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: inflate FILE.gz");
        std::process::exit(2);
    };
    let file = BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?);
    let n = io::copy(
        &mut flate2::read::MultiGzDecoder::new(file),
        &mut io::sink(),
    )?;
    println!("{n} bytes inflated");
    Ok(())
}
