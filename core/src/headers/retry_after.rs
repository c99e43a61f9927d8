//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.

use std::fmt;
use std::time::{Duration, SystemTime};

use super::number::{NumberError, parse_decimal, parse_digits, secs_f64, trim_ows};

/// A parsed `Retry-After` value, before it is turned into a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `delay-seconds` (a fraction allowed): wait this long after the response was received.
    /// Values too large for a `u64` saturate (a 10 KB run of digits is a very long wait, not an error).
    Delay(Duration),
    /// An HTTP-date in any of the three RFC 9110 forms (IMF-fixdate, RFC 850, asctime).
    Date(SystemTime),
}

impl RetryAfter {
    /// The wait this value asks for, counted from `reference`: the server's `Date` when the
    /// response had one (so a client whose clock is off still waits the right amount), else the
    /// wall-clock time the response was received. A date in the past means "now" (zero).
    pub fn delay_from(self, reference: SystemTime) -> Duration {
        match self {
            RetryAfter::Delay(d) => d,
            RetryAfter::Date(at) => at.duration_since(reference).unwrap_or(Duration::ZERO),
        }
    }
}

/// Why a `Retry-After` value was not accepted. The caller ignores the value and keeps the error
/// as a warning; it never becomes a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAfterError {
    /// The value was empty or only whitespace.
    Empty,
    /// A signed number (`-5`, `+5`): delay-seconds is unsigned.
    Signed,
    /// A malformed decimal (`1.`, `1.2.3`). Well-formed ones (`1.5`) are read: RFC 9110 says
    /// whole seconds, but vendors document fractions.
    Decimal,
    /// Neither delay-seconds nor an HTTP-date.
    Invalid,
}

impl fmt::Display for RetryAfterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RetryAfterError::Empty => "empty Retry-After",
            RetryAfterError::Signed => "Retry-After with a sign",
            RetryAfterError::Decimal => "Retry-After with decimals",
            RetryAfterError::Invalid => "Retry-After neither seconds nor an HTTP-date",
        })
    }
}

impl std::error::Error for RetryAfterError {}

/// Parses one `Retry-After` field value. Pure and total: any bytes give `Ok` or `Err`, never a
/// panic.
///
/// ```
/// use paceline::headers::{parse_retry_after, RetryAfter};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// assert_eq!(parse_retry_after(b"120"), Ok(RetryAfter::Delay(Duration::from_secs(120))));
/// let date = parse_retry_after(b"Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
/// let received = UNIX_EPOCH + Duration::from_secs(784_111_767); // 10 s before that date
/// assert_eq!(date.delay_from(received), Duration::from_secs(10));
/// assert!(parse_retry_after(b"-1").is_err());
/// ```
pub fn parse_retry_after(value: &[u8]) -> Result<RetryAfter, RetryAfterError> {
    match parse_digits(value) {
        Ok(secs) => return Ok(RetryAfter::Delay(Duration::from_secs(secs))),
        Err(NumberError::Empty) => return Err(RetryAfterError::Empty),
        Err(NumberError::Negative) => return Err(RetryAfterError::Signed),
        Err(NumberError::Invalid) => {}
    }
    let v = trim_ows(value);
    if v.first() == Some(&b'+') {
        return Err(RetryAfterError::Signed);
    }
    if v.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        // RFC 9110 says whole seconds; vendors document fractions (`Retry-After: 0.5`), and
        // reading them loses nothing.
        return match parse_decimal(v) {
            Ok(x) => Ok(RetryAfter::Delay(secs_f64(x))),
            Err(_) => Err(RetryAfterError::Decimal),
        };
    }
    let s = std::str::from_utf8(v).map_err(|_| RetryAfterError::Invalid)?;
    httpdate::parse_http_date(s)
        .map(RetryAfter::Date)
        .map_err(|_| RetryAfterError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    // RFC 9110 §5.6.7 gives the same instant in its three forms.
    const IMF: &[u8] = b"Sun, 06 Nov 1994 08:49:37 GMT";
    const RFC850: &[u8] = b"Sunday, 06-Nov-94 08:49:37 GMT";
    const ASCTIME: &[u8] = b"Sun Nov  6 08:49:37 1994";

    #[test]
    fn three_date_forms_agree() {
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        for v in [IMF, RFC850, ASCTIME] {
            assert_eq!(parse_retry_after(v), Ok(RetryAfter::Date(at)), "{:?}", v);
        }
    }

    #[test]
    fn past_dates_mean_now() {
        let ra = parse_retry_after(IMF).unwrap();
        assert_eq!(
            ra.delay_from(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000)),
            Duration::ZERO
        );
    }

    #[test]
    fn rejects_signs_decimals_garbage() {
        assert_eq!(parse_retry_after(b"-5"), Err(RetryAfterError::Signed));
        assert_eq!(parse_retry_after(b"+5"), Err(RetryAfterError::Signed));
        assert_eq!(
            parse_retry_after(b"1.5"),
            Ok(RetryAfter::Delay(Duration::from_millis(1500)))
        );
        assert_eq!(parse_retry_after(b"1."), Err(RetryAfterError::Decimal));
        assert_eq!(parse_retry_after(b"1.2.3"), Err(RetryAfterError::Decimal));
        assert_eq!(parse_retry_after(b"soon"), Err(RetryAfterError::Invalid));
        assert_eq!(parse_retry_after(b"  "), Err(RetryAfterError::Empty));
        assert_eq!(
            parse_retry_after(&[0xff, 0xfe]),
            Err(RetryAfterError::Invalid)
        );
    }

    #[test]
    fn huge_delays_saturate() {
        let digits = vec![b'7'; 10_240];
        assert_eq!(
            parse_retry_after(&digits),
            Ok(RetryAfter::Delay(Duration::from_secs(u64::MAX)))
        );
    }
}
