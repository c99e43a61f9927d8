//! Telling reset values apart: epoch seconds, epoch milliseconds, delta seconds, HTTP-dates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::number::{NumberError, parse_decimal, secs_f64, trim_ows};

/// How a reset value (`X-RateLimit-Reset` and its kin) is to be read.
///
/// Servers disagree: GitHub and Twitter send epoch seconds, Discord epoch seconds with a
/// fraction, some send epoch milliseconds, Reddit and the IETF drafts send seconds from now,
/// Vimeo an HTTP-date. [`ResetRule::Auto`] tells them apart by magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetRule {
    /// By magnitude, the documented default:
    /// - at least 10¹² → epoch **milliseconds** (10¹² ms is September 2001);
    /// - at least 10⁹ → epoch **seconds** (10⁹ s is also September 2001; no real window is 31
    ///   years long, so such a value cannot be a delta);
    /// - below → **delta seconds** from the response;
    /// - not a number → an HTTP-date.
    #[default]
    Auto,
    /// Always seconds from the response (the IETF `RateLimit-Reset` draft, Reddit).
    DeltaSeconds,
    /// Always seconds since the Unix epoch (GitHub, Twitter).
    EpochSeconds,
    /// Always milliseconds since the Unix epoch.
    EpochMillis,
}

const EPOCH_MILLIS_FROM: f64 = 1e12;
const EPOCH_SECONDS_FROM: f64 = 1e9;

/// Why a reset value was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetError {
    Negative,
    Invalid,
}

/// Turns a reset value into "time until reset", counted from `reference` (the server's `Date`
/// when present, else the time the response was received). Past instants give zero; absurdly
/// far ones saturate instead of overflowing.
pub(crate) fn reset_in(
    value: &[u8],
    rule: ResetRule,
    reference: SystemTime,
) -> Result<Duration, ResetError> {
    let x = match parse_decimal(value) {
        Ok(x) => x,
        Err(NumberError::Negative) => return Err(ResetError::Negative),
        Err(NumberError::Empty) => return Err(ResetError::Invalid),
        Err(NumberError::Invalid) => {
            let s = std::str::from_utf8(trim_ows(value)).map_err(|_| ResetError::Invalid)?;
            let at = httpdate::parse_http_date(s).map_err(|_| ResetError::Invalid)?;
            return Ok(at.duration_since(reference).unwrap_or(Duration::ZERO));
        }
    };
    let epoch_secs = match rule {
        ResetRule::DeltaSeconds => return Ok(secs_f64(x)),
        ResetRule::EpochSeconds => x,
        ResetRule::EpochMillis => x / 1000.0,
        ResetRule::Auto if x >= EPOCH_MILLIS_FROM => x / 1000.0,
        ResetRule::Auto if x >= EPOCH_SECONDS_FROM => x,
        ResetRule::Auto => return Ok(secs_f64(x)),
    };
    let reference_secs = reference
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    Ok(secs_f64(epoch_secs - reference_secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn auto_tells_kinds_apart() {
        let now = at(1_700_000_000);
        assert_eq!(
            reset_in(b"30", ResetRule::Auto, now),
            Ok(Duration::from_secs(30))
        );
        assert_eq!(
            reset_in(b"1700000060", ResetRule::Auto, now),
            Ok(Duration::from_secs(60))
        );
        assert_eq!(
            reset_in(b"1700000060000", ResetRule::Auto, now),
            Ok(Duration::from_secs(60))
        );
        assert_eq!(
            reset_in(b"1699999000", ResetRule::Auto, now),
            Ok(Duration::ZERO)
        );
        assert_eq!(
            reset_in(b"Tue, 14 Nov 2023 22:13:27 GMT", ResetRule::Auto, now),
            Ok(Duration::from_secs(7))
        );
    }

    #[test]
    fn discord_fractional_epoch() {
        let now = at(1_470_173_022);
        let d = reset_in(b"1470173023.123", ResetRule::Auto, now).unwrap();
        assert!((d.as_secs_f64() - 1.123).abs() < 1e-3, "{d:?}");
    }

    #[test]
    fn hostile_values_saturate_or_fail() {
        let now = at(1_700_000_000);
        assert_eq!(
            reset_in(b"-5", ResetRule::Auto, now),
            Err(ResetError::Negative)
        );
        assert_eq!(
            reset_in(b"NaN", ResetRule::Auto, now),
            Err(ResetError::Invalid)
        );
        let max = u64::MAX.to_string();
        let d = reset_in(max.as_bytes(), ResetRule::EpochSeconds, now).unwrap();
        assert!(d > Duration::from_secs(100 * 365 * 86_400));
        assert!(reset_in(&[b'9'; 10_000], ResetRule::DeltaSeconds, now).is_ok());
    }
}
