//! Total, saturating number parsing for header values.
//!
//! Servers send counts and times as integers (`5000`), decimals (Reddit's `4.0`, Discord's
//! `1.234`) and sometimes garbage. These functions never panic and never overflow: a value too
//! large for its type saturates, anything else invalid is an error the caller turns into a
//! warning.

use std::time::Duration;

/// Why a numeric header value was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Empty after trimming optional whitespace.
    Empty,
    /// A leading `-`: counts and times are never negative.
    Negative,
    /// Anything else that is not `DIGITS` or `DIGITS.DIGITS`.
    Invalid,
}

/// Trims the optional whitespace (OWS: space and tab) that HTTP allows around a field value.
pub(crate) fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(start, |i| i + 1);
    &v[start..end]
}

/// `1*DIGIT`, saturating at `u64::MAX`. No sign, no decimals.
pub(crate) fn parse_digits(v: &[u8]) -> Result<u64, NumberError> {
    let v = trim_ows(v);
    if v.is_empty() {
        return Err(NumberError::Empty);
    }
    if v[0] == b'-' {
        return Err(NumberError::Negative);
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return Err(NumberError::Invalid);
        }
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    Ok(n)
}

/// `1*DIGIT [ "." 1*DIGIT ]` as a finite, non-negative `f64` (huge values become `f64::MAX`).
/// Exponents, signs, `NaN` and `inf` are rejected.
pub(crate) fn parse_decimal(v: &[u8]) -> Result<f64, NumberError> {
    let v = trim_ows(v);
    if v.is_empty() {
        return Err(NumberError::Empty);
    }
    if v[0] == b'-' {
        return Err(NumberError::Negative);
    }
    let (int, frac) = match v.iter().position(|b| *b == b'.') {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(NumberError::Invalid);
    }
    // Only ASCII digits and one dot remain: valid UTF-8 and a valid f64 literal.
    let s = std::str::from_utf8(v).map_err(|_| NumberError::Invalid)?;
    let x: f64 = s.parse().map_err(|_| NumberError::Invalid)?;
    Ok(if x.is_finite() { x } else { f64::MAX })
}

/// A count (limit, remaining, used) given as an integer or a decimal (`596.0`), floored,
/// saturating at `u64::MAX`.
pub(crate) fn parse_count(v: &[u8]) -> Result<u64, NumberError> {
    match parse_digits(v) {
        Ok(n) => Ok(n),
        Err(NumberError::Invalid) => parse_decimal(v).map(f64_to_u64_saturating),
        Err(e) => Err(e),
    }
}

/// Floors a non-negative finite `f64` into a `u64`, saturating. `as` already saturates and maps
/// NaN to 0; this names the intent.
pub(crate) fn f64_to_u64_saturating(x: f64) -> u64 {
    x as u64
}

/// Seconds as a `Duration`, saturating at `Duration::MAX`; non-finite or negative gives zero.
pub(crate) fn secs_f64(x: f64) -> Duration {
    if x.is_nan() || x <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(x).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_saturate_and_reject_signs() {
        assert_eq!(parse_digits(b" 120 "), Ok(120));
        assert_eq!(parse_digits(&[b'9'; 10_000]), Ok(u64::MAX));
        assert_eq!(parse_digits(b"-1"), Err(NumberError::Negative));
        assert_eq!(parse_digits(b"+1"), Err(NumberError::Invalid));
        assert_eq!(parse_digits(b"1.5"), Err(NumberError::Invalid));
        assert_eq!(parse_digits(b""), Err(NumberError::Empty));
    }

    #[test]
    fn decimals_are_plain_and_finite() {
        assert_eq!(parse_decimal(b"1.234"), Ok(1.234));
        assert_eq!(parse_decimal(b"NaN"), Err(NumberError::Invalid));
        assert_eq!(parse_decimal(b"1e300"), Err(NumberError::Invalid));
        assert_eq!(parse_decimal(b"inf"), Err(NumberError::Invalid));
        assert_eq!(parse_decimal(b"1."), Err(NumberError::Invalid));
        assert_eq!(parse_decimal(b".5"), Err(NumberError::Invalid));
        let huge = [b'9'; 10_000];
        assert_eq!(parse_decimal(&huge), Ok(f64::MAX));
    }

    #[test]
    fn counts_accept_reddit_floats() {
        assert_eq!(parse_count(b"596.0"), Ok(596));
        assert_eq!(parse_count(b"4.9"), Ok(4));
        assert_eq!(parse_count(b"-3"), Err(NumberError::Negative));
    }

    #[test]
    fn secs_never_panic() {
        assert_eq!(secs_f64(f64::NAN), Duration::ZERO);
        assert_eq!(secs_f64(-1.0), Duration::ZERO);
        assert_eq!(secs_f64(f64::MAX), Duration::MAX);
        assert_eq!(secs_f64(1.5), Duration::from_millis(1500));
    }
}
