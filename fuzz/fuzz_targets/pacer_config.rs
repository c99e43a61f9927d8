//! A `PacerConfig` decoded from any JSON (a config file) round-trips through serde, and a
//! Pacer built from it answers a few calls (503s, a 429 with `Retry-After`, a transport error,
//! a 200; a GET and a POST) without a panic.
#![no_main]

use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::retry::{TransportError, TransportKind};
use paceline::shared::Reply;
use paceline::{Begin, Finish, Now, Pacer, PacerConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(config) = serde_json::from_slice::<PacerConfig>(data) else {
        return;
    };
    let json = serde_json::to_string(&config).expect("a decoded config encodes");
    let again: PacerConfig = serde_json::from_str(&json).expect("and decodes back");
    // Floats may be NaN, so compare the encodings, not the values.
    assert_eq!(serde_json::to_string(&again).unwrap(), json);

    let mut pacer = Pacer::new(config, 7);
    let mut now = Now::new(
        Instant::now(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    let mut throttled = HeaderMap::new();
    throttled.insert(http::header::RETRY_AFTER, HeaderValue::from_static("2"));
    let answers = [
        Some(StatusCode::SERVICE_UNAVAILABLE),
        Some(StatusCode::TOO_MANY_REQUESTS),
        None,
        Some(StatusCode::OK),
    ];
    for method in [Method::GET, Method::POST] {
        let mut call = pacer.call_to(&method, "/items", &HeaderMap::new());
        let mut answers = answers.iter();
        for step in 0..16 {
            match pacer.poll_send(&mut call, now) {
                Begin::Send => {}
                Begin::Wait(t) => {
                    now = now.at(t);
                    continue;
                }
                // A shared budget: the store grants, or cannot be reached, by turns.
                Begin::Reserve(_) => {
                    let reply = if step % 3 == 2 {
                        Reply::Unreachable
                    } else {
                        Reply::Granted {
                            wait: Duration::from_millis(step),
                            paused: false,
                        }
                    };
                    pacer.on_reserved(&mut call, now, reply);
                    continue;
                }
                Begin::Reject(_) | Begin::WaitForPermit => break,
            }
            let finish = match answers.next() {
                Some(Some(status)) => {
                    let headers = if *status == StatusCode::TOO_MANY_REQUESTS {
                        &throttled
                    } else {
                        &HeaderMap::new()
                    };
                    pacer.on_response(&mut call, now, *status, headers)
                }
                Some(None) => pacer.on_transport_error(
                    &mut call,
                    now,
                    TransportError::after_send(TransportKind::Reset),
                ),
                None => break,
            };
            match finish {
                Finish::Done | Finish::Fail(_) => break,
                Finish::RetryAt(t) => now = now.at(t),
            }
        }
        while pacer.poll_event().is_some() {}
    }
});
