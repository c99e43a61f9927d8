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
