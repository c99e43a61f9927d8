//! Flag values with units: [`Seconds`] (`--timeout 2.5`) and [`ByteSize`] (`--max-body 10MiB`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A positive duration in seconds, as `--timeout` takes it: `30`, `2.5`, `0.25s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl FromStr for Seconds {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let number = text.trim().strip_suffix('s').unwrap_or(text.trim());
        let secs: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a number of seconds"))?;
        if secs.is_nan() || secs <= 0.0 {
            return Err(format!("{text:?}: must be more than 0 seconds"));
        }
        Duration::try_from_secs_f64(secs)
            .map(Seconds)
            .map_err(|_| format!("{text:?}: too long"))
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{}", self.0.as_secs())
        } else {
            write!(f, "{}", self.0.as_secs_f64())
        }
    }
}

/// A positive number of bytes, as `--max-body` takes it: `1000000`, `512KiB`, `10MiB`, `1GiB`
/// (powers of 1024), or `500kB`, `10MB`, `1GB` (powers of 1000); units in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

/// Units, longest first so that `KiB` is not read as `B`.
const UNITS: [(&str, u64); 7] = [
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("b", 1),
];

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let lower = text.trim().to_ascii_lowercase();
        let (digits, unit) = UNITS
            .iter()
            .find_map(|(name, size)| Some((lower.strip_suffix(name)?, *size)))
            .unwrap_or((lower.as_str(), 1));
        let digits = digits.trim_end();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{text:?} is not a size in bytes (e.g. 1000000, 512KiB, 10MiB, 10MB)"
            ));
        }
        let n: u64 = digits.parse().map_err(|_| format!("{text:?}: too large"))?;
        match n.checked_mul(unit) {
            Some(0) => Err(format!("{text:?}: must be more than 0 bytes")),
            Some(bytes) => Ok(ByteSize(bytes)),
            None => Err(format!("{text:?}: too large")),
        }
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Result<u64, String> {
        text.parse::<ByteSize>().map(|b| b.0)
    }

    fn secs(text: &str) -> Result<Duration, String> {
        text.parse::<Seconds>().map(|s| s.0)
    }

    #[test]
    fn spans_take_units_and_refuse_nonsense() {
        let span = |t: &str| t.parse::<Span>().map(|s| s.0);
        assert_eq!(span("90"), Ok(Duration::from_secs(90)));
        assert_eq!(span("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(span("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(span("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(span("0"), Ok(Duration::ZERO));
        for bad in ["", "-1m", "NaN", "10 parsecs", "1e300h", "m"] {
            assert!(span(bad).is_err(), "{bad}");
        }
        assert_eq!(Span(Duration::from_secs(600)).to_string(), "10m");
        assert_eq!(Span(Duration::from_secs(7200)).to_string(), "2h");
        assert_eq!(Span(Duration::from_millis(1500)).to_string(), "1.5s");
    }

    #[test]
    fn sizes_in_every_unit() {
        assert_eq!(bytes("1000000"), Ok(1_000_000));
        assert_eq!(bytes("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(bytes("512KiB"), Ok(512 * 1024));
        assert_eq!(bytes("512kib"), Ok(512 * 1024));
        assert_eq!(bytes("1GiB"), Ok(1 << 30));
        assert_eq!(bytes("10MB"), Ok(10_000_000));
        assert_eq!(bytes("500kB"), Ok(500_000));
        assert_eq!(bytes("64B"), Ok(64));
        assert_eq!(bytes("2 MiB"), Ok(2 << 20));
    }

    #[test]
    fn sizes_that_are_not() {
        for text in [
            "",
            "MiB",
            "10XB",
            "1.5MiB",
            "-1",
            "ten",
            "0",
            "0KiB",
            "99999999999GiB",
        ] {
            assert!(bytes(text).is_err(), "{text:?} accepted");
        }
    }

    #[test]
    fn sizes_print_as_they_parse() {
        for n in [1, 1000, 1024, 10 << 20, 3 << 30, 1_000_001] {
            let shown = ByteSize(n).to_string();
            assert_eq!(bytes(&shown), Ok(n), "{shown}");
        }
        assert_eq!(
            ByteSize(paceline_ureq::DEFAULT_BODY_LIMIT).to_string(),
            "10MiB"
        );
    }

    #[test]
    fn seconds() {
        assert_eq!(secs("30"), Ok(Duration::from_secs(30)));
        assert_eq!(secs("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(secs("0.25s"), Ok(Duration::from_millis(250)));
        for text in ["0", "-1", "NaN", "inf", "", "s", "1e30", "ten"] {
            assert!(secs(text).is_err(), "{text:?} accepted");
        }
        for d in [Duration::from_secs(120), Duration::from_millis(1500)] {
            assert_eq!(secs(&Seconds(d).to_string()), Ok(d));
        }
    }
}

/// A duration given as seconds or with a unit: `90`, `90s`, `10m`, `1h`; `0` is allowed
/// (`--max-outage 0`: no waiting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
            Some((i, _)) => (&t[..i], &t[i..]),
            None => (t, "s"),
        };
        let scale = match unit {
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(format!("{text:?}: a duration is seconds, or N s, N m, N h")),
        };
        let n: f64 = number
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a duration"))?;
        if n.is_nan() || n < 0.0 {
            return Err(format!("{text:?}: must not be negative"));
        }
        Duration::try_from_secs_f64(n * scale)
            .map(Span)
            .map_err(|_| format!("{text:?}: too long"))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        if self.0.subsec_nanos() == 0 && s > 0 && s.is_multiple_of(3600) {
            write!(f, "{}h", s / 3600)
        } else if self.0.subsec_nanos() == 0 && s > 0 && s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{}s", self.0.as_secs_f64())
        }
    }
}
