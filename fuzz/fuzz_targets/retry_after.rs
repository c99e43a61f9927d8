//! `parse_retry_after` is total: any bytes give `Ok` or `Err`, and the wait never panics.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use paceline::headers::parse_retry_after;

fuzz_target!(|data: &[u8]| {
    let reference = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let _ = parse_retry_after(data).map(|ra| ra.delay_from(reference));
});
