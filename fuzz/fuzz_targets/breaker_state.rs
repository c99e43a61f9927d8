//! A `BreakerState` parsed from any JSON round-trips, and restoring it into a breaker (time and
//! count windows, restored at, before and long after the save) then driving the breaker never
//! panics, and never leaves it open for more than the longest break.
#![no_main]

use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use paceline::breaker::{Breaker, BreakerConfig, BreakerState, Breakers, Decision};
use paceline::{Attempted, Now};

fuzz_target!(|data: &[u8]| {
    let Ok(state) = serde_json::from_slice::<BreakerState>(data) else {
        return;
    };
    let json = serde_json::to_vec(&state).expect("a parsed state serialises");
    let again: BreakerState = serde_json::from_slice(&json).expect("and parses back");
    assert_eq!(again, state);

    let base = Now::new(
        Instant::now(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    let configs = [
        BreakerConfig::default(),
        BreakerConfig::default().count_window(5).half_open_probes(3),
    ];
    for config in configs {
        for offset in [0, 1_000_000_000, u64::MAX] {
            let wall = Duration::from_nanos(state.saved_at_unix_ns.saturating_add(offset));
            let now = Now::new(
                base.mono,
                SystemTime::UNIX_EPOCH
                    .checked_add(wall)
                    .unwrap_or(base.wall),
            );
            let mut b = Breaker::new(config.clone());
            b.restore(now, &state);
            if let Some(until) = b.open_until() {
                assert!(until <= now.mono + config.max_break_duration);
            }
            for step in 0..8u64 {
                let t = now.mono + Duration::from_secs(step * 61);
                if let Decision::Permit(p) = b.allow(t) {
                    b.on_outcome(t, p, &Attempted::Status(StatusCode::BAD_GATEWAY));
                }
            }
            while b.poll_event().is_some() {}
            let mut keyed = Breakers::new(config.clone()).with_max_keys(2);
            keyed.restore(now, std::slice::from_ref(&state));
            let _ = keyed.save(now);
        }
    }
});
