//! Time for X.509 (RFC 5280 §4.1.2.5): UTCTime through 2049, GeneralizedTime from 2050.
//! Times are seconds since the Unix epoch, passed in by the caller: this crate has no clock.

use crate::error::{PkiError, Result};
use der::asn1::{GeneralizedTime, UtcTime};
use std::time::Duration;
use x509_cert::time::Time;

/// Seconds since 1970-01-01T00:00:00Z.
pub type UnixTime = u64;

/// 2050-01-01T00:00:00Z, where RFC 5280 switches from UTCTime to GeneralizedTime.
const Y2050: UnixTime = 2_524_608_000;

/// The RFC 5280 encoding of `t`.
pub fn x509_time(t: UnixTime) -> Result<Time> {
    let d = Duration::from_secs(t);
    if t < Y2050 {
        UtcTime::from_unix_duration(d).map(Time::UtcTime)
    } else {
        GeneralizedTime::from_unix_duration(d).map(Time::GeneralTime)
    }
    .map_err(|e| PkiError::invalid("time", e.to_string()))
}

/// Seconds since the epoch of an X.509 time.
pub fn unix(t: &Time) -> UnixTime {
    t.to_unix_duration().as_secs()
}

/// RFC 3339 form (`2026-11-23T11:30:00Z`) for display and JSON.
pub fn rfc3339(t: UnixTime) -> String {
    match der::DateTime::from_unix_duration(Duration::from_secs(t)) {
        Ok(dt) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minutes(),
            dt.seconds()
        ),
        Err(_) => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_encoding_in_2050() {
        assert!(matches!(x509_time(Y2050 - 1).unwrap(), Time::UtcTime(_)));
        assert!(matches!(x509_time(Y2050).unwrap(), Time::GeneralTime(_)));
        assert_eq!(unix(&x509_time(1_800_000_000).unwrap()), 1_800_000_000);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
