//! Telling reset values apart: epoch seconds, epoch milliseconds, delta seconds, HTTP-dates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::number::{NumberError, parse_decimal, secs_f64, trim_ows};
use crate::civil::days_from_civil;

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
            let v = trim_ows(value);
            if let Some(secs) = parse_duration(v) {
                return Ok(secs_f64(secs));
            }
            let epoch = match parse_rfc3339(v).or_else(|| parse_js_date(v)) {
                Some(epoch) => epoch,
                None => {
                    let s = std::str::from_utf8(v).map_err(|_| ResetError::Invalid)?;
                    let at = httpdate::parse_http_date(s).map_err(|_| ResetError::Invalid)?;
                    return Ok(at.duration_since(reference).unwrap_or(Duration::ZERO));
                }
            };
            return Ok(secs_f64(epoch - epoch_of(reference)));
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
    Ok(secs_f64(epoch_secs - epoch_of(reference)))
}

fn epoch_of(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A duration in Go's notation, as OpenAI sends resets (`1s`, `6m0s`, `20ms`, `1h2m3.5s`):
/// one or more `DECIMAL UNIT` with units `h`, `m`, `s`, `ms`, `us`, `µs`, `ns`. Seconds, or
/// `None` when the value is not one.
pub(crate) fn parse_duration(v: &[u8]) -> Option<f64> {
    let mut rest = v;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'.'))
            .unwrap_or(rest.len());
        let x = parse_decimal(&rest[..num_end]).ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .iter()
            .position(|b| b.is_ascii_digit() || *b == b'.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            b"h" => 3600.0,
            b"m" => 60.0,
            b"s" => 1.0,
            b"ms" => 1e-3,
            b"us" | b"\xc2\xb5s" => 1e-6,
            b"ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += x * scale;
    }
    total.is_finite().then_some(total)
}

/// An RFC 3339 / ISO 8601 timestamp (`2023-11-14T22:13:40Z`, `2023-11-14T22:13:40.5+01:00`;
/// a space for the `T` is accepted) as seconds since the Unix epoch (negative before 1970), or
/// `None` when the value is not one.
pub(crate) fn parse_rfc3339(v: &[u8]) -> Option<f64> {
    fn num(v: &[u8]) -> Option<i64> {
        if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(v.iter().fold(0, |n, b| n * 10 + i64::from(b - b'0')))
    }
    if v.len() < 20 || v[4] != b'-' || v[7] != b'-' || !matches!(v[10], b'T' | b't' | b' ') {
        return None;
    }
    if v[13] != b':' || v[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(&v[0..4])?, num(&v[5..7])?, num(&v[8..10])?);
    let (hour, min, sec) = (num(&v[11..13])?, num(&v[14..16])?, num(&v[17..19])?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &v[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix(b".") {
        let end = r
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(r.len());
        if end == 0 {
            return None;
        }
        frac = parse_decimal(&[b"0.", &r[..end.min(9)]].concat()).ok()?;
        rest = &r[end..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (num(&[*h1, *h2])?, num(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * 3600 + m * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some(secs as f64 + frac)
}

/// JavaScript's `Date.prototype.toString()` form, as Node servers send it (lemlist:
/// `Tue Feb 16 2021 09:02:42 GMT+0100 (Central European Standard Time)`): weekday, month
/// name, day, year, time, `GMT±HHMM`, an optional zone name in parentheses. Seconds since the
/// Unix epoch, or `None` when the value is not one.
pub(crate) fn parse_js_date(v: &[u8]) -> Option<f64> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    fn num(v: &[u8]) -> Option<i64> {
        if v.is_empty() || v.len() > 4 || !v.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(v.iter().fold(0, |n, b| n * 10 + i64::from(b - b'0')))
    }
    // Drop the zone name; what is left is six words.
    let v = &v[..v.iter().position(|b| *b == b'(').unwrap_or(v.len())];
    let mut words = v.split(|b| *b == b' ').filter(|w| !w.is_empty());
    let (_weekday, month, day, year, time, zone) = (
        words.next()?,
        words.next()?,
        words.next()?,
        words.next()?,
        words.next()?,
        words.next()?,
    );
    if words.next().is_some() {
        return None;
    }
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let (day, year) = (num(day)?, num(year)?);
    let [h1, h2, b':', m1, m2, b':', s1, s2] = *time else {
        return None;
    };
    let (hour, min, sec) = (num(&[h1, h2])?, num(&[m1, m2])?, num(&[s1, s2])?);
    let [b'G', b'M', b'T', sign @ (b'+' | b'-'), zh1, zh2, zm1, zm2] = *zone else {
        return None;
    };
    let (zh, zm) = (num(&[zh1, zh2])?, num(&[zm1, zm2])?);
    if !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 || zh > 23 || zm > 59 {
        return None;
    }
    let offset = (zh * 3600 + zm * 60) * if sign == b'+' { 1 } else { -1 };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some(secs as f64)
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
    fn rfc3339_and_durations() {
        let now = at(1_700_000_000);
        assert_eq!(
            reset_in(b"2023-11-14T22:13:50Z", ResetRule::Auto, now),
            Ok(Duration::from_secs(30))
        );
        assert_eq!(
            reset_in(b"2023-11-14T23:13:50+01:00", ResetRule::Auto, now),
            Ok(Duration::from_secs(30))
        );
        assert_eq!(
            reset_in(b"2023-11-14T22:13:20.250Z", ResetRule::Auto, now),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(parse_rfc3339(b"1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339(b"2000-02-29T00:00:00Z"), Some(951_782_400.0));
        assert_eq!(parse_rfc3339(b"2023-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339(b"2023-11-14T22:13:50"), None);
        assert_eq!(
            reset_in(b"6m0s", ResetRule::Auto, now),
            Ok(Duration::from_secs(360))
        );
        assert_eq!(
            reset_in(b"20ms", ResetRule::Auto, now),
            Ok(Duration::from_millis(20))
        );
        assert_eq!(parse_duration(b"1h2m3.5s"), Some(3723.5));
        assert_eq!(parse_duration(b"5"), None);
        assert_eq!(parse_duration(b"5x"), None);
        assert_eq!(parse_duration(b"s"), None);
    }

    #[test]
    fn prop_rfc3339_round_trips() {
        fn prop(secs: u64, offset_min: i16, millis: u16) -> bool {
            // Years 1970 to 9999; offsets within ±23:59.
            let secs = (secs % 253_402_300_799) as i64;
            let off = i64::from(offset_min % (24 * 60));
            let local = secs + off * 60;
            if !(0..253_402_300_799).contains(&local) {
                return true;
            }
            let (y, m, d) = crate::civil::civil_from_days(local.div_euclid(86_400));
            let t = local.rem_euclid(86_400);
            let ms = millis % 1000;
            let sign = if off < 0 { '-' } else { '+' };
            let text = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}{sign}{:02}:{:02}",
                t / 3600,
                t / 60 % 60,
                t % 60,
                off.abs() / 60,
                off.abs() % 60
            );
            let want = secs as f64 + f64::from(ms) / 1000.0;
            parse_rfc3339(text.as_bytes()).is_some_and(|got| (got - want).abs() < 1e-3)
        }
        quickcheck::QuickCheck::new()
            .tests(2000)
            .quickcheck(prop as fn(u64, i16, u16) -> bool);
    }

    #[test]
    fn js_dates() {
        // lemlist's documented example: 09:02:42 at +01:00 is 08:02:42Z.
        let v = b"Tue Feb 16 2021 09:02:42 GMT+0100 (Central European Standard Time)";
        assert_eq!(parse_js_date(v), Some(1_613_462_562.0));
        assert_eq!(
            parse_js_date(b"Tue Feb 16 2021 08:02:42 GMT+0000"),
            Some(1_613_462_562.0)
        );
        assert_eq!(parse_js_date(b"Tue Feb 16 2021 08:02:42 UTC"), None);
        assert_eq!(parse_js_date(b"Tue Foo 16 2021 08:02:42 GMT+0000"), None);
        assert_eq!(
            parse_js_date(b"Tue Feb 16 2021 08:02:42 GMT+0000 extra"),
            None
        );
    }

    #[test]
    fn prop_js_dates_round_trip() {
        fn prop(secs: u32, offset_min: i16) -> bool {
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let off = i64::from(offset_min % (24 * 60));
            let local = i64::from(secs) + off * 60;
            if local < 0 {
                return true;
            }
            let (y, m, d) = crate::civil::civil_from_days(local.div_euclid(86_400));
            let t = local.rem_euclid(86_400);
            let text = format!(
                "Mon {} {d:02} {y} {:02}:{:02}:{:02} GMT{}{:02}{:02} (Somewhere)",
                MONTHS[(m - 1) as usize],
                t / 3600,
                t / 60 % 60,
                t % 60,
                if off < 0 { '-' } else { '+' },
                off.abs() / 60,
                off.abs() % 60
            );
            parse_js_date(text.as_bytes()) == Some(f64::from(secs))
        }
        quickcheck::QuickCheck::new()
            .tests(2000)
            .quickcheck(prop as fn(u32, i16) -> bool);
    }

    #[test]
    fn prop_durations_add_up_and_garbage_is_refused() {
        fn prop(h: u16, m: u8, s: u8, ms: u16, junk: Vec<u8>) -> bool {
            let text = format!("{h}h{m}m{s}s{ms}ms");
            let want =
                f64::from(h) * 3600.0 + f64::from(m) * 60.0 + f64::from(s) + f64::from(ms) / 1e3;
            let ok = parse_duration(text.as_bytes()).is_some_and(|got| (got - want).abs() < 1e-6);
            // Any bytes: a finite, non-negative number of seconds, or nothing.
            let any = parse_duration(&junk).is_none_or(|x| x.is_finite() && x >= 0.0);
            ok && any
        }
        quickcheck::QuickCheck::new()
            .tests(2000)
            .quickcheck(prop as fn(u16, u8, u8, u16, Vec<u8>) -> bool);
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
