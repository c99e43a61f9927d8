//! `Limit::from_str` is total, and whatever it accepts prints back to an equal limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paceline::throttle::Limit;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(limit) = text.parse::<Limit>()
    {
        assert_eq!(limit.to_string().parse::<Limit>(), Ok(limit));
    }
});
