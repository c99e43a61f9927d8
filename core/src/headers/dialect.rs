//! Extending the parser: a [`Dialect`] reads the headers of an API paceline does not know,
//! with the [`Context`]'s helpers for resets and counts.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

use super::{Assumption, MAX_COUNT, MAX_RESET, ResetRule, Signal, WarningKind, number, reset};

/// What a dialect is given besides the headers.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Context {
    /// The response status.
    pub status: StatusCode,
    /// The reference for wall-clock values: the server's `Date` when valid, else the receive time.
    pub reference: SystemTime,
    /// How the parser reads ambiguous reset values.
    pub reset_rule: ResetRule,
}

impl Context {
    /// Interprets a reset value under this context's rule and reference (see [`ResetRule`]).
    /// `None` (with a warning pushed) when the value is not a reset.
    pub fn reset_in(&self, header: &str, value: &[u8], signal: &mut Signal) -> Option<Duration> {
        self.reset_in_with(self.reset_rule, header, value, signal)
    }

    /// As [`Context::reset_in`], with an explicit rule.
    pub fn reset_in_with(
        &self,
        rule: ResetRule,
        header: &str,
        value: &[u8],
        signal: &mut Signal,
    ) -> Option<Duration> {
        match reset::reset_in(value, rule, self.reference) {
            Ok(d) if d > MAX_RESET => {
                signal.warn(header, WarningKind::Implausible, value);
                None
            }
            Ok(d) => Some(d),
            Err(reset::ResetError::Negative) => {
                signal.warn(header, WarningKind::Negative, value);
                None
            }
            Err(reset::ResetError::Invalid) => {
                signal.warn(header, WarningKind::NotANumber, value);
                None
            }
        }
    }

    /// Parses a count (integer, or a decimal that is floored); `None` with a warning otherwise.
    /// Counts above [`MAX_COUNT`] are refused with [`WarningKind::Implausible`].
    pub fn count(&self, header: &str, value: &[u8], signal: &mut Signal) -> Option<u64> {
        match number::parse_count(value) {
            Ok(n) if n > MAX_COUNT => {
                signal.warn(header, WarningKind::Implausible, value);
                None
            }
            Ok(n) => Some(n),
            Err(number::NumberError::Negative) => {
                signal.warn(header, WarningKind::Negative, value);
                None
            }
            Err(_) => {
                signal.warn(header, WarningKind::NotANumber, value);
                None
            }
        }
    }

    /// Parses a `remaining` count as [`Context::count`] does, except that a negative one (some
    /// servers count past zero) is 0, with a warning: nothing is left, wait for the reset.
    /// Values several servers folded into one line (`5, 7`) give the smallest, with a warning.
    pub fn remaining(&self, header: &str, value: &[u8], signal: &mut Signal) -> Option<u64> {
        let v = number::trim_ows(value);
        let head = &v[..v.iter().position(|b| *b == b';').unwrap_or(v.len())];
        if head.contains(&b',') {
            let mut least: Option<u64> = None;
            for piece in head.split(|b| *b == b',') {
                let piece = &piece[..piece.iter().position(|b| *b == b';').unwrap_or(piece.len())];
                let n = self.remaining(header, piece, signal)?;
                least = Some(least.map_or(n, |l| l.min(n)));
            }
            signal.warn(
                header,
                WarningKind::Assumed(Assumption::MostRestrictive),
                value,
            );
            return least;
        }
        match number::parse_count(head) {
            Err(number::NumberError::Negative)
                if number::parse_count(&number::trim_ows(head)[1..]).is_ok() =>
            {
                signal.warn(
                    header,
                    WarningKind::Assumed(Assumption::NegativeRemaining),
                    value,
                );
                Some(0)
            }
            _ => self.count(header, head, signal),
        }
    }
}

/// A header dialect: reads some headers into the signal. Implement it for an API whose
/// headers paceline does not know, and register it with
/// [`SignalParser::with_dialect`](super::SignalParser::with_dialect).
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use paceline::headers::{Context, Dialect, Signal, SignalParser};
/// use std::time::SystemTime;
///
/// /// An API that reports `X-Calls-Left: 17`.
/// #[derive(Debug)]
/// struct CallsLeft;
/// impl Dialect for CallsLeft {
///     fn parse(&self, headers: &HeaderMap, cx: &Context, signal: &mut Signal) {
///         if let Some(v) = headers.get("x-calls-left") {
///             signal.remaining = cx.count("x-calls-left", v.as_bytes(), signal);
///         }
///     }
/// }
///
/// let parser = SignalParser::new().with_dialect(CallsLeft);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-calls-left", "17".parse().unwrap());
/// let signal = parser.parse(StatusCode::OK, &headers, SystemTime::now());
/// assert_eq!(signal.remaining, Some(17));
/// ```
pub trait Dialect: Send + Sync + fmt::Debug {
    /// Reads what this dialect knows from `headers` into `signal`.
    fn parse(&self, headers: &HeaderMap, cx: &Context, signal: &mut Signal);
}
