//! Differential: paceline's reading of the IETF `RateLimit`/`RateLimit-Policy` fields against
//! the `sfv` crate's RFC 9651 parser and serialiser. A value `sfv` parses means the same as its
//! canonical serialisation (`"a";q=10;w=1` and `"a" ; q=10 ;w=1`), so both must give paceline
//! the same signal: the same limits, counts, resets, windows and policies (warnings aside, as
//! they quote the raw value). Input: `policy \n field` (one line each).
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::headers::{Signal, SignalParser};
use sfv::{Dictionary, FieldType, List, Parser};

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(2, |&b| b == b'\n');
    let policy = lines.next().unwrap_or_default();
    let field = lines.next().unwrap_or_default();
    let Some(original) = signal(policy, field) else {
        return;
    };
    let (Some(policy), Some(field)) = (canonical(policy), canonical(field)) else {
        return;
    };
    let Some(again) = signal(policy.as_bytes(), field.as_bytes()) else {
        return;
    };
    assert_eq!(summary(&original), summary(&again), "{policy:?} {field:?}");
});

/// The value's canonical form when `sfv` parses it as paceline reads it (a dictionary holding
/// `remaining`, draft 07's form, else a list); the value as it is when it parses as neither;
/// `None` when the canonical form is empty (an empty list is no field line at all).
fn canonical(value: &[u8]) -> Option<String> {
    if let Ok(dict) = Parser::new(value).parse::<Dictionary>()
        && dict.contains_key("remaining")
    {
        return dict.serialize();
    }
    match Parser::new(value).parse::<List>() {
        Ok(list) => list.serialize(),
        Err(_) => std::str::from_utf8(value).ok().map(str::to_owned),
    }
}

fn signal(policy: &[u8], field: &[u8]) -> Option<Signal> {
    let mut headers = HeaderMap::new();
    headers.insert("ratelimit-policy", HeaderValue::from_bytes(policy).ok()?);
    headers.insert("ratelimit", HeaderValue::from_bytes(field).ok()?);
    let received = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    Some(SignalParser::new().parse(StatusCode::OK, &headers, received))
}

/// What the signal says, without its warnings.
fn summary(s: &Signal) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        s.limit, s.remaining, s.reset_in, s.window, s.policy, s.policies
    )
}
