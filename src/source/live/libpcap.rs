//! libpcap, loaded at run time. The only module of rstscope allowed `unsafe`.
//!
//! Why by hand, and why at run time: the `pcap` crate links libpcap at build time, so building
//! would need `libpcap-dev` (and Npcap's SDK on Windows), and a machine without libpcap could
//! not even start the app to open a file. Loading the shared library with `libloading` when the
//! user first asks for live capture keeps the build free of -dev packages and lets the app say
//! exactly what to install. The surface used is small and stable (libpcap 1.0's `pcap_create`
//! API, with 1.5's immediate mode and nanosecond timestamps when present), so it is declared
//! here, with a safe wrapper: [`Pcap`] (the library) and [`Handle`] (one open capture).
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_long, c_uint, c_void};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::ptr;
use std::sync::OnceLock;

use libloading::Library;

const ERRBUF_SIZE: usize = 256;

// Status codes of pcap_activate (pcap/pcap.h).
pub const ERROR: c_int = -1;
pub const ERROR_NO_SUCH_DEVICE: c_int = -5;
pub const ERROR_RFMON_NOTSUP: c_int = -6;
pub const ERROR_PERM_DENIED: c_int = -8;
pub const ERROR_IFACE_NOT_UP: c_int = -9;
pub const ERROR_PROMISC_PERM_DENIED: c_int = -11;

const IF_LOOPBACK: c_uint = 0x1;
const IF_UP: c_uint = 0x2;
const IF_RUNNING: c_uint = 0x4;
const IF_WIRELESS: c_uint = 0x8;
const IF_CONNECTION_STATUS: c_uint = 0x30;
const IF_CONNECTION_STATUS_DISCONNECTED: c_uint = 0x20;

const TSTAMP_PRECISION_NANO: c_int = 1;

/// Immediate mode on Linux makes libpcap fall back from `TPACKET_V3` to `TPACKET_V2`, whose ring
/// has fixed slots as large as the interface's MTU: 64 KiB on loopback, so a 32 MiB buffer
/// holds 500 packets and overflows in milliseconds at 70,000 packets/s (measured: 8% lost).
/// `TPACKET_V3` packs packets by their size and hands over a block when it is full or when the
/// timeout passes, which bounds the wait as well. macOS's BPF needs immediate mode to hand
/// packets over before its buffer fills.
const IMMEDIATE: bool = !cfg!(target_os = "linux");

/// `pcap_if_t`.
#[repr(C)]
struct RawIf {
    next: *mut RawIf,
    name: *mut c_char,
    description: *mut c_char,
    addresses: *mut RawAddr,
    flags: c_uint,
}

/// `struct pcap_addr`.
#[repr(C)]
struct RawAddr {
    next: *mut RawAddr,
    addr: *mut c_void,
    netmask: *mut c_void,
    broadaddr: *mut c_void,
    dstaddr: *mut c_void,
}

/// `struct timeval` as libpcap's packet header holds it.
#[cfg(not(target_vendor = "apple"))]
#[repr(C)]
struct Timeval {
    sec: c_long,
    usec: c_long,
}
/// On Apple platforms `tv_usec` is a 32-bit `suseconds_t` after a 64-bit `time_t`.
#[cfg(target_vendor = "apple")]
#[repr(C)]
struct Timeval {
    sec: i64,
    usec: i32,
}

/// `struct pcap_pkthdr`.
#[repr(C)]
struct PktHdr {
    ts: Timeval,
    caplen: u32,
    len: u32,
}

/// `struct pcap_stat` (Windows appends a field libpcap fills only on request).
#[repr(C)]
#[derive(Default)]
struct RawStat {
    recv: c_uint,
    drop: c_uint,
    ifdrop: c_uint,
    #[cfg(windows)]
    capt: c_uint,
}

/// `struct bpf_program`.
#[repr(C)]
struct BpfProgram {
    len: c_uint,
    insns: *mut c_void,
}

type PcapT = c_void;

/// The functions used, as plain function pointers copied out of the library, which lives in a
/// `static` for the rest of the process so that they stay valid.
struct Api {
    lib_version: unsafe extern "C" fn() -> *const c_char,
    findalldevs: unsafe extern "C" fn(*mut *mut RawIf, *mut c_char) -> c_int,
    freealldevs: unsafe extern "C" fn(*mut RawIf),
    create: unsafe extern "C" fn(*const c_char, *mut c_char) -> *mut PcapT,
    set_snaplen: unsafe extern "C" fn(*mut PcapT, c_int) -> c_int,
    set_promisc: unsafe extern "C" fn(*mut PcapT, c_int) -> c_int,
    set_timeout: unsafe extern "C" fn(*mut PcapT, c_int) -> c_int,
    set_buffer_size: unsafe extern "C" fn(*mut PcapT, c_int) -> c_int,
    set_immediate_mode: Option<unsafe extern "C" fn(*mut PcapT, c_int) -> c_int>,
    set_tstamp_precision: Option<unsafe extern "C" fn(*mut PcapT, c_int) -> c_int>,
    get_tstamp_precision: Option<unsafe extern "C" fn(*mut PcapT) -> c_int>,
    activate: unsafe extern "C" fn(*mut PcapT) -> c_int,
    geterr: unsafe extern "C" fn(*mut PcapT) -> *mut c_char,
    statustostr: unsafe extern "C" fn(c_int) -> *const c_char,
    datalink: unsafe extern "C" fn(*mut PcapT) -> c_int,
    compile: unsafe extern "C" fn(*mut PcapT, *mut BpfProgram, *const c_char, c_int, u32) -> c_int,
    setfilter: unsafe extern "C" fn(*mut PcapT, *mut BpfProgram) -> c_int,
    freecode: unsafe extern "C" fn(*mut BpfProgram),
    next_ex: unsafe extern "C" fn(*mut PcapT, *mut *mut PktHdr, *mut *const u8) -> c_int,
    stats: unsafe extern "C" fn(*mut PcapT, *mut RawStat) -> c_int,
    close: unsafe extern "C" fn(*mut PcapT),
    setnonblock: unsafe extern "C" fn(*mut PcapT, c_int, *mut c_char) -> c_int,
    get_selectable_fd: Option<unsafe extern "C" fn(*mut PcapT) -> c_int>,
}

/// The loaded library.
pub struct Pcap {
    api: Api,
    /// Where it was found.
    pub path: PathBuf,
    _lib: Library,
}

/// Why libpcap could not be loaded: every name tried, and the last loader message.
#[derive(Clone, Debug)]
pub struct LoadError {
    pub tried: Vec<String>,
    pub last_error: String,
}

/// Names to try, most specific first. `RSTSCOPE_LIBPCAP` names a library explicitly.
fn candidates() -> Vec<String> {
    let mut names = Vec::new();
    if let Some(explicit) = std::env::var_os("RSTSCOPE_LIBPCAP") {
        // An explicit choice is the only one tried: the user (or a test) asked for it.
        names.push(explicit.to_string_lossy().into_owned());
        return names;
    }
    if cfg!(target_os = "macos") {
        names.extend(
            [
                "libpcap.A.dylib",
                "libpcap.dylib",
                "/usr/lib/libpcap.A.dylib",
            ]
            .map(String::from),
        );
    } else if cfg!(windows) {
        // Npcap installs wpcap.dll under System32\Npcap, not on the default search path.
        let system = std::env::var("SystemRoot").unwrap_or_else(|_| "C:\\Windows".to_owned());
        names.push(format!("{system}\\System32\\Npcap\\wpcap.dll"));
        names.push("wpcap.dll".to_owned());
    } else {
        names.extend(["libpcap.so.1", "libpcap.so.0.8", "libpcap.so"].map(String::from));
    }
    names
}

static LOADED: OnceLock<Result<Pcap, LoadError>> = OnceLock::new();

/// Loads libpcap once per process.
pub fn load() -> Result<&'static Pcap, LoadError> {
    LOADED
        .get_or_init(load_uncached)
        .as_ref()
        .map_err(Clone::clone)
}

fn load_uncached() -> Result<Pcap, LoadError> {
    let tried = candidates();
    let mut last_error = String::new();
    for name in &tried {
        // SAFETY: loading libpcap runs its initialisers, which only set up libpcap's own
        // state. The name comes from the fixed list above or from the user's explicit choice.
        match unsafe { Library::new(name) } {
            Ok(lib) => match Api::resolve(&lib) {
                Ok(api) => {
                    return Ok(Pcap {
                        api,
                        path: PathBuf::from(name),
                        _lib: lib,
                    });
                }
                Err(e) => last_error = format!("{name}: {e}"),
            },
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(LoadError { tried, last_error })
}

impl Api {
    fn resolve(lib: &Library) -> Result<Self, libloading::Error> {
        /// Copies a symbol's function pointer out of the library.
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the pointer type written at the use site is the C prototype of the
                // named function in pcap/pcap.h; the library outlives the pointer (see `Api`).
                *unsafe { lib.get(concat!($name, "\0").as_bytes())? }
            };
        }
        macro_rules! optional {
            ($name:literal) => {
                // SAFETY: as for `sym!`; these functions are newer than libpcap 1.0.
                unsafe { lib.get(concat!($name, "\0").as_bytes()) }
                    .ok()
                    .map(|s| *s)
            };
        }
        Ok(Self {
            lib_version: sym!("pcap_lib_version"),
            findalldevs: sym!("pcap_findalldevs"),
            freealldevs: sym!("pcap_freealldevs"),
            create: sym!("pcap_create"),
            set_snaplen: sym!("pcap_set_snaplen"),
            set_promisc: sym!("pcap_set_promisc"),
            set_timeout: sym!("pcap_set_timeout"),
            set_buffer_size: sym!("pcap_set_buffer_size"),
            set_immediate_mode: optional!("pcap_set_immediate_mode"),
            set_tstamp_precision: optional!("pcap_set_tstamp_precision"),
            get_tstamp_precision: optional!("pcap_get_tstamp_precision"),
            activate: sym!("pcap_activate"),
            geterr: sym!("pcap_geterr"),
            statustostr: sym!("pcap_statustostr"),
            datalink: sym!("pcap_datalink"),
            compile: sym!("pcap_compile"),
            setfilter: sym!("pcap_setfilter"),
            freecode: sym!("pcap_freecode"),
            next_ex: sym!("pcap_next_ex"),
            stats: sym!("pcap_stats"),
            close: sym!("pcap_close"),
            setnonblock: sym!("pcap_setnonblock"),
            get_selectable_fd: optional!("pcap_get_selectable_fd"),
        })
    }
}

/// Copies a C string libpcap returned; empty for null.
fn owned(s: *const c_char) -> String {
    if s.is_null() {
        return String::new();
    }
    // SAFETY: libpcap returns NUL-terminated strings that stay valid at least until the next
    // call on the same handle; the text is copied before returning.
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

fn errbuf_text(buf: &[c_char; ERRBUF_SIZE]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c.to_ne_bytes()[0])
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One network interface as libpcap lists it (its flags as booleans).
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub description: String,
    pub addresses: Vec<IpAddr>,
    pub loopback: bool,
    pub up: bool,
    pub running: bool,
    pub wireless: bool,
    /// The link is known to be disconnected (cable out, Wi-Fi not associated).
    pub disconnected: bool,
}

/// An opened capture's settings, as asked.
#[derive(Clone, Debug)]
pub struct OpenSettings<'a> {
    pub interface: &'a str,
    pub snaplen: u32,
    pub promisc: bool,
    pub timeout_ms: u32,
    pub buffer_bytes: u32,
    pub filter: &'a str,
}

/// What went wrong opening a capture: libpcap's status code and its words.
#[derive(Clone, Debug)]
pub struct OpenError {
    /// A `pcap_activate` status (`ERROR_*`), or [`ERROR`] for other failures.
    pub status: c_int,
    /// The step that failed: `create`, `activate`, `filter`.
    pub step: &'static str,
    pub message: String,
}

/// Counters of `pcap_stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u32,
    pub dropped: u32,
    pub if_dropped: u32,
}

/// What `pcap_next_ex` gave.
pub enum Next<'a> {
    Packet {
        ts_ns: i64,
        orig_len: u32,
        data: &'a [u8],
    },
    Timeout,
    Error(String),
}

impl Pcap {
    pub fn version(&self) -> String {
        // SAFETY: pcap_lib_version takes no argument and returns a static string.
        owned(unsafe { (self.api.lib_version)() })
    }

    /// The interfaces libpcap can capture on (no privileges needed on Linux).
    pub fn interfaces(&self) -> Result<Vec<Interface>, String> {
        let mut errbuf = [0 as c_char; ERRBUF_SIZE];
        let mut head: *mut RawIf = ptr::null_mut();
        // SAFETY: both out-pointers are valid; errbuf has PCAP_ERRBUF_SIZE bytes.
        let rc = unsafe { (self.api.findalldevs)(&raw mut head, errbuf.as_mut_ptr()) };
        if rc != 0 {
            return Err(errbuf_text(&errbuf));
        }
        let mut out = Vec::new();
        let mut cur = head;
        while !cur.is_null() {
            // SAFETY: `cur` is a node of the list pcap_findalldevs built, freed only below.
            let node = unsafe { &*cur };
            let mut addresses = Vec::new();
            let mut a = node.addresses;
            while !a.is_null() {
                // SAFETY: as above, an element of the same list.
                let addr = unsafe { &*a };
                if let Some(ip) = sockaddr_ip(addr.addr) {
                    addresses.push(ip);
                }
                a = addr.next;
            }
            let f = node.flags;
            out.push(Interface {
                name: owned(node.name),
                description: owned(node.description),
                addresses,
                loopback: f & IF_LOOPBACK != 0,
                up: f & IF_UP != 0,
                running: f & IF_RUNNING != 0,
                wireless: f & IF_WIRELESS != 0,
                disconnected: f & IF_CONNECTION_STATUS == IF_CONNECTION_STATUS_DISCONNECTED,
            });
            cur = node.next;
        }
        if !head.is_null() {
            // SAFETY: `head` came from pcap_findalldevs and is freed once; nothing of it is
            // referenced after this (every string was copied).
            unsafe { (self.api.freealldevs)(head) };
        }
        Ok(out)
    }

    /// Opens, configures, activates and filters a capture.
    pub fn open(&'static self, s: &OpenSettings<'_>) -> Result<Handle, OpenError> {
        let fail = |step, status, message: String| OpenError {
            status,
            step,
            message,
        };
        let name = CString::new(s.interface).map_err(|_| {
            fail(
                "create",
                ERROR,
                "the interface name holds a NUL byte".into(),
            )
        })?;
        let mut errbuf = [0 as c_char; ERRBUF_SIZE];
        // SAFETY: `name` is NUL-terminated; errbuf has PCAP_ERRBUF_SIZE bytes.
        let p = unsafe { (self.api.create)(name.as_ptr(), errbuf.as_mut_ptr()) };
        if p.is_null() {
            return Err(fail("create", ERROR, errbuf_text(&errbuf)));
        }
        // From here the handle closes itself on every path.
        let handle = Handle {
            pcap: self,
            p,
            nanos: false,
            fd: -1,
            timeout_ms: 50,
        };
        let snaplen = c_int::try_from(s.snaplen).unwrap_or(c_int::MAX);
        let timeout = c_int::try_from(s.timeout_ms).unwrap_or(1000);
        let buffer = c_int::try_from(s.buffer_bytes).unwrap_or(c_int::MAX);
        // SAFETY: (all the setters below) `p` is a created, not yet activated handle, which is
        // what these functions require; they only store the value.
        unsafe {
            (self.api.set_snaplen)(p, snaplen);
            (self.api.set_promisc)(p, c_int::from(s.promisc));
            (self.api.set_timeout)(p, timeout);
            (self.api.set_buffer_size)(p, buffer);
            if let Some(f) = self.api.set_immediate_mode {
                f(p, c_int::from(IMMEDIATE));
            }
            if let Some(f) = self.api.set_tstamp_precision {
                f(p, TSTAMP_PRECISION_NANO);
            }
        }
        // SAFETY: `p` is a created handle, activated once.
        let status = unsafe { (self.api.activate)(p) };
        if status < 0 {
            let detail = handle.last_error();
            // SAFETY: pcap_statustostr returns a static string for any status.
            let generic = owned(unsafe { (self.api.statustostr)(status) });
            let message = if detail.is_empty() { generic } else { detail };
            return Err(fail("activate", status, message));
        }
        let mut handle = handle;
        handle.nanos = match self.api.get_tstamp_precision {
            // SAFETY: `p` is an activated handle.
            Some(f) => (unsafe { f(p) }) == TSTAMP_PRECISION_NANO,
            None => false,
        };
        if !s.filter.trim().is_empty() {
            handle.set_filter(s.filter)?;
        }
        // Non-blocking reads, with our own wait: in blocking mode libpcap's Linux TPACKET_V3
        // reader polls again after a timeout instead of returning, so a quiet capture would
        // never give the caller a chance to stop it.
        let mut errbuf = [0 as c_char; ERRBUF_SIZE];
        // SAFETY: `p` is activated; errbuf has PCAP_ERRBUF_SIZE bytes.
        if unsafe { (self.api.setnonblock)(p, 1, errbuf.as_mut_ptr()) } != 0 {
            return Err(fail("activate", ERROR, errbuf_text(&errbuf)));
        }
        handle.fd = match self.api.get_selectable_fd {
            // SAFETY: `p` is activated.
            Some(f) => unsafe { f(p) },
            None => -1,
        };
        handle.timeout_ms = timeout;
        Ok(handle)
    }
}

/// Reads the IP address of a `sockaddr`, if it is IPv4 or IPv6.
fn sockaddr_ip(sa: *const c_void) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    let bytes = sa.cast::<u8>();
    // The address family: a native-endian u16 at offset 0, except on the BSDs (macOS included),
    // where a length byte comes first and the family is one byte.
    #[cfg(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    ))]
    // SAFETY: every sockaddr starts with at least 2 bytes (length and family).
    let family = u16::from(unsafe { *bytes.add(1) });
    #[cfg(not(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    )))]
    // SAFETY: every sockaddr starts with a 2-byte family; read unaligned to be safe.
    let family = unsafe { bytes.cast::<u16>().read_unaligned() };
    let (inet, inet6): (u16, u16) = if cfg!(target_vendor = "apple") {
        (2, 30)
    } else if cfg!(target_os = "freebsd") {
        (2, 28)
    } else if cfg!(any(target_os = "openbsd", target_os = "netbsd")) {
        (2, 24)
    } else if cfg!(windows) {
        (2, 23)
    } else {
        (2, 10)
    };
    if family == inet {
        let mut a = [0u8; 4];
        // SAFETY: a sockaddr of family AF_INET is a sockaddr_in, with the address at offset 4.
        unsafe { ptr::copy_nonoverlapping(bytes.add(4), a.as_mut_ptr(), 4) };
        Some(IpAddr::V4(Ipv4Addr::from(a)))
    } else if family == inet6 {
        let mut a = [0u8; 16];
        // SAFETY: a sockaddr of family AF_INET6 is a sockaddr_in6, with the address at
        // offset 8 (after family/length, port and flow info).
        unsafe { ptr::copy_nonoverlapping(bytes.add(8), a.as_mut_ptr(), 16) };
        Some(IpAddr::V6(Ipv6Addr::from(a)))
    } else {
        None
    }
}

/// An activated capture. Not `Send`: it lives and dies on the thread that opened it.
pub struct Handle {
    pcap: &'static Pcap,
    p: *mut PcapT,
    /// Timestamps come in nanoseconds (else microseconds).
    nanos: bool,
    /// A descriptor that polls readable when packets wait (-1 where there is none).
    fd: c_int,
    timeout_ms: c_int,
}

#[cfg(unix)]
#[repr(C)]
struct PollFd {
    fd: c_int,
    events: std::ffi::c_short,
    revents: std::ffi::c_short,
}

#[cfg(target_os = "linux")]
type Nfds = std::ffi::c_ulong;
#[cfg(all(unix, not(target_os = "linux")))]
type Nfds = c_uint;

#[cfg(unix)]
unsafe extern "C" {
    /// poll(2) from the C library, which every Unix process has loaded.
    fn poll(fds: *mut PollFd, nfds: Nfds, timeout: c_int) -> c_int;
}

/// Waits until `fd` is readable or `timeout_ms` passes.
#[cfg(unix)]
fn wait_readable(fd: c_int, timeout_ms: c_int) {
    if fd < 0 {
        std::thread::sleep(std::time::Duration::from_millis(5));
        return;
    }
    let mut pfd = PollFd {
        fd,
        events: 1, // POLLIN
        revents: 0,
    };
    // SAFETY: one valid pollfd; poll only writes its `revents`. An error (EINTR) is harmless:
    // the caller reads again either way.
    unsafe { poll(&raw mut pfd, 1, timeout_ms) };
}

#[cfg(not(unix))]
fn wait_readable(_fd: c_int, _timeout_ms: c_int) {
    std::thread::sleep(std::time::Duration::from_millis(5));
}

impl Handle {
    fn last_error(&self) -> String {
        // SAFETY: `p` is a live handle; the string is copied at once.
        owned(unsafe { (self.pcap.api.geterr)(self.p) })
    }

    fn set_filter(&mut self, filter: &str) -> Result<(), OpenError> {
        let bad = |message| OpenError {
            status: ERROR,
            step: "filter",
            message,
        };
        let text = CString::new(filter).map_err(|_| bad("the filter holds a NUL byte".into()))?;
        let mut program = BpfProgram {
            len: 0,
            insns: ptr::null_mut(),
        };
        // PCAP_NETMASK_UNKNOWN: only broadcast tests need the netmask.
        let netmask = 0xffff_ffff;
        // SAFETY: `p` is activated, `program` is a valid out-parameter, `text` NUL-terminated.
        let rc =
            unsafe { (self.pcap.api.compile)(self.p, &raw mut program, text.as_ptr(), 1, netmask) };
        if rc != 0 {
            return Err(bad(self.last_error()));
        }
        // SAFETY: `program` was filled by pcap_compile; pcap_setfilter copies it, so it is
        // freed right after, once.
        let rc = unsafe { (self.pcap.api.setfilter)(self.p, &raw mut program) };
        // SAFETY: see above.
        unsafe { (self.pcap.api.freecode)(&raw mut program) };
        if rc != 0 {
            return Err(bad(self.last_error()));
        }
        Ok(())
    }

    /// LINKTYPE_* of the interface (libpcap's DLT values are LINKTYPE values on Linux and
    /// macOS for everything rstscope decodes).
    pub fn link_type(&self) -> u32 {
        // SAFETY: `p` is an activated handle.
        let dlt = unsafe { (self.pcap.api.datalink)(self.p) };
        u32::try_from(dlt).unwrap_or(0)
    }

    /// Waits for the next packet, at most the timeout given at open.
    pub fn next_packet(&mut self) -> Next<'_> {
        let mut hdr: *mut PktHdr = ptr::null_mut();
        let mut data: *const u8 = ptr::null();
        // SAFETY: `p` is activated; both out-pointers are valid.
        let mut rc = unsafe { (self.pcap.api.next_ex)(self.p, &raw mut hdr, &raw mut data) };
        if rc == 0 {
            wait_readable(self.fd, self.timeout_ms);
            // SAFETY: as above.
            rc = unsafe { (self.pcap.api.next_ex)(self.p, &raw mut hdr, &raw mut data) };
        }
        match rc {
            1 if !hdr.is_null() && !data.is_null() => {
                // SAFETY: on success libpcap points both at its buffer, valid until the next
                // call on this handle; the borrow of `self` keeps the slice from outliving it.
                let hdr = unsafe { &*hdr };
                // SAFETY: as above; `caplen` bytes are readable at `data`.
                let bytes = unsafe { std::slice::from_raw_parts(data, hdr.caplen as usize) };
                // `c_long` is 64 bits on most targets but not all.
                #[allow(clippy::useless_conversion)]
                let (sec, sub) = (i64::from(hdr.ts.sec), i64::from(hdr.ts.usec));
                let ts_ns = sec
                    .saturating_mul(1_000_000_000)
                    .saturating_add(if self.nanos {
                        sub
                    } else {
                        sub.saturating_mul(1000)
                    });
                Next::Packet {
                    ts_ns,
                    orig_len: hdr.len,
                    data: bytes,
                }
            }
            0 | 1 => Next::Timeout,
            _ => Next::Error(self.last_error()),
        }
    }

    /// The kernel's counters for this capture: packets received, dropped for lack of buffer
    /// space, and dropped by the interface.
    pub fn stats(&mut self) -> Option<Stats> {
        let mut raw = RawStat::default();
        // SAFETY: `p` is activated; `raw` is a valid pcap_stat.
        let rc = unsafe { (self.pcap.api.stats)(self.p, &raw mut raw) };
        (rc == 0).then_some(Stats {
            received: raw.recv,
            dropped: raw.drop,
            if_dropped: raw.ifdrop,
        })
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: `p` came from pcap_create and is closed exactly once, here.
        unsafe { (self.pcap.api.close)(self.p) };
    }
}
