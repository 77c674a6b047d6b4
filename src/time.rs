//! Timestamps and durations in the units people read: every layer from `diagnose` up writes
//! times this way, so the conversions live below all of them.

use chrono::{DateTime, SecondsFormat};

/// RFC 3339 in UTC with microseconds, e.g. `2024-05-01T12:00:00.123456Z`.
pub fn rfc3339(ts_ns: i64) -> String {
    DateTime::from_timestamp_nanos(ts_ns).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// How far apart two timestamps are, in nanoseconds: never negative, and saturating rather than
/// wrapping for the extreme times a hostile capture can hold.
pub fn apart_ns(a: i64, b: i64) -> i64 {
    i64::try_from(a.abs_diff(b)).unwrap_or(i64::MAX)
}

/// Nanoseconds as seconds, rounded to the microsecond.
#[allow(clippy::cast_precision_loss)]
pub fn secs(ns: i64) -> f64 {
    (ns as f64 / 1e3).round() / 1e6
}

/// Nanoseconds as milliseconds, rounded to the microsecond.
#[allow(clippy::cast_precision_loss)]
pub fn millis(ns: i64) -> f64 {
    (ns as f64 / 1e3).round() / 1e3
}
