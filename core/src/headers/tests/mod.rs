//! Dialect tests from each vendor's documented examples, and hostile input: the helpers here,
//! the tests by concern in the submodules.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use quickcheck::{QuickCheck, TestResult};

use super::*;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn parse(status: u16, pairs: &[(&str, &str)], now: SystemTime) -> Signal {
    SignalParser::new().parse(StatusCode::from_u16(status).unwrap(), &headers(pairs), now)
}

mod clock;
mod documented;
mod hostile;
mod shapes;
