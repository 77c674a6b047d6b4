//! The frame decoder (link layers, tunnels, IPv4/IPv6, TCP) over any bytes, for every link type
//! it knows. The first byte picks the link type, the next two the frame's length on the wire.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rstscope::decode::{self, Skip};
use rstscope::source::linktype;

const LINK_TYPES: [u32; 16] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::PPP,
    linktype::RAW,
    linktype::RAW_BSD_12,
    linktype::RAW_BSD_14,
    linktype::PPP_HDLC,
    linktype::PPP_ETHER,
    linktype::C_HDLC,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::ARCNET_LINUX,
    linktype::IPV4,
    linktype::IPV6,
    linktype::NFLOG,
    linktype::LINUX_SLL2,
];

fuzz_target!(|data: &[u8]| {
    let [pick, l0, l1, frame @ ..] = data else {
        return;
    };
    let link_type = LINK_TYPES[usize::from(*pick) % LINK_TYPES.len()];
    // Half the time the frame was captured whole; otherwise its wire length is fuzzed too.
    let orig_len = if pick & 0x80 == 0 {
        u32::try_from(frame.len()).unwrap_or(u32::MAX)
    } else {
        u32::from(u16::from_be_bytes([*l0, *l1]))
    };
    match decode::decode(link_type, frame, orig_len) {
        Ok(seg) => {
            // A TCP header is at least 20 bytes, and it was in the frame.
            assert!(frame.len() >= 20);
            if let Some(p) = &seg.rst_payload {
                assert!(p.len() <= frame.len() - 20);
            }
            if seg.payload_captured && orig_len as usize == frame.len() {
                assert!(seg.payload_len as usize <= frame.len() - 20);
            }
        }
        Err(Skip::Empty) => assert!(frame.is_empty()),
        Err(_) => {}
    }
});
