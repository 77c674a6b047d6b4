//! Addresses as text without the formatting machinery: `Display` for an IPv4 address costs
//! about 1,400 instructions and, through `to_string`, an allocation; spelled here it is a few
//! dozen. It was 5% of all the instructions of a JSON report of 300,000 connections, and
//! matching a word typed in the app's filter against a million connections' addresses took
//! 0.37 s a keystroke (`RSTSCOPE_PERF=1`, bench/app.sh).

use std::fmt::Write as _;
use std::net::IpAddr;

/// An address's usual text (`192.0.2.10`, `2001:db8::1`), held on the stack.
pub struct IpText {
    buf: [u8; 46],
    len: usize,
}

impl IpText {
    pub fn of(ip: IpAddr) -> Self {
        let mut t = Self {
            buf: [0; 46],
            len: 0,
        };
        match ip {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        t.push(b'.');
                    }
                    if octet >= 100 {
                        t.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        t.push(b'0' + octet / 10 % 10);
                    }
                    t.push(b'0' + octet % 10);
                }
            }
            // IPv6 text has rules of its own (RFC 5952): `Display` follows them.
            IpAddr::V6(v6) => {
                let _ = write!(t, "{v6}");
            }
        }
        t
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits, dots, colons and hex letters are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for b in s.bytes() {
            self.push(b);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::IpText;
    use std::net::IpAddr;

    #[test]
    fn addresses_are_spelled_as_display_spells_them() {
        for text in [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "192.0.2.10",
            "10.0.0.1",
            "2001:db8::1",
            "::ffff:192.0.2.1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::1:2:3:4",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(IpText::of(ip).as_str(), text);
            assert_eq!(IpText::of(ip).as_str(), ip.to_string());
        }
    }
}
