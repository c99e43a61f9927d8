//! The ureq client with a circuit breaker against a loopback server that is down: after the
//! minimum throughput the client fails fast without reaching the server, probes once the break
//! is over, opens again for longer when the probe fails, and closes when the server is back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paceline::breaker::{BreakerConfig, BreakerEvent};
use paceline::retry::{Jitter, RetryPolicy};
use paceline::{Event, PacerConfig};
use paceline_testkit::{LoopbackServer, Script, ScriptedResponse};
use paceline_ureq::{Client, Error};

const BREAK: Duration = Duration::from_millis(200);

fn breaker() -> BreakerConfig {
    BreakerConfig::default()
        .minimum_calls(4)
        .break_duration(BREAK)
}

/// A client that records the breaker's transitions.
fn client(retry: RetryPolicy) -> (Client, Arc<Mutex<Vec<BreakerEvent>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let client =
        Client::new(PacerConfig::default().retry(retry).breaker(breaker())).on_event(move |e| {
            if let Event::Breaker { event, .. } = e {
                log.lock().unwrap().push(event.clone());
            }
        });
    (client, seen)
}

/// The instant the breaker said a probe may go, from a request it refused.
#[track_caller]
fn refused_until(result: Result<http::Response<Vec<u8>>, Error>) -> (Instant, Duration) {
    match result {
        Err(Error::GaveUp {
            error: paceline::Error::BreakerOpen { until, retry_in },
            attempts,
        }) => {
            assert!(attempts.is_empty(), "nothing was sent: {attempts:?}");
            (until, retry_in)
        }
        other => panic!("expected the breaker open, got {other:?}"),
    }
}

fn sleep_until(t: Instant) {
    std::thread::sleep(t.saturating_duration_since(Instant::now()));
}

#[test]
fn an_outage_trips_the_breaker_then_probes_then_closes() {
    let down = ScriptedResponse::new(503).body("down");
    let mut responses = vec![down; 5]; // four to trip it, then the first probe
    responses.push(ScriptedResponse::new(200).body("back"));
    let server =
        LoopbackServer::start(Script::new().route("/items", responses)).expect("loopback server");
    let url = format!("{}/items", server.url());
    let (client, events) = client(RetryPolicy::default().max_attempts(1));

    for _ in 0..4 {
        let err = client.get(&url).unwrap_err();
        assert!(
            matches!(
                err,
                Error::GaveUp {
                    error: paceline::Error::AttemptsExhausted { .. },
                    ..
                }
            ),
            "{err}"
        );
    }
    // Open: ten more requests fail fast, the server sees none of them.
    let (until, retry_in) = refused_until(client.get(&url));
    assert!(retry_in <= BREAK);
    for _ in 0..9 {
        refused_until(client.get(&url));
    }
    assert_eq!(server.received().len(), 4);

    // After the break (the only wait here is the one the breaker asked for): one probe. The
    // server is still down, so the breaker opens again, for twice as long.
    sleep_until(until);
    assert!(client.get(&url).is_err());
    assert_eq!(server.received().len(), 5);
    let (until, retry_in) = refused_until(client.get(&url));
    assert!(retry_in > BREAK, "the second break grows: {retry_in:?}");
    assert_eq!(server.received().len(), 5);

    // The next probe finds the server back: closed, and requests flow again.
    sleep_until(until);
    assert_eq!(client.get(&url).unwrap().body(), b"back");
    assert_eq!(client.get(&url).unwrap().body(), b"back");
    assert_eq!(server.received().len(), 7);

    let events = events.lock().unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            BreakerEvent::Opened { calls: 4, .. } => "opened",
            BreakerEvent::HalfOpened { .. } => "half-open",
            BreakerEvent::Reopened { .. } => "reopened",
            BreakerEvent::Closed => "closed",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        ["opened", "half-open", "reopened", "half-open", "closed"]
    );
    assert_eq!(events[1], BreakerEvent::HalfOpened { rejected: 10 });
}

#[test]
fn retries_of_one_request_stop_when_the_breaker_opens() {
    let server = LoopbackServer::start(Script::new().route("/items", [ScriptedResponse::new(503)]))
        .expect("loopback server");
    let retry = RetryPolicy::default()
        .max_attempts(10)
        .base(Duration::from_millis(10))
        .jitter(Jitter::None);
    let (client, _) = client(retry);

    let err = client.get(&format!("{}/items", server.url())).unwrap_err();

    let Error::GaveUp { error, attempts } = &err else {
        panic!("expected GaveUp, got {err}");
    };
    assert!(
        matches!(error, paceline::Error::BreakerOpen { .. }),
        "{error}"
    );
    assert_eq!(attempts.len(), 4, "the fourth failure opened the breaker");
    assert_eq!(server.received().len(), 4);
}

/// One breaker per host: a host that is down is cut off, another host of the same client
/// (the same Pacer) is not.
#[test]
fn a_host_that_is_down_does_not_cut_off_another() {
    let down = LoopbackServer::start(
        Script::new().route("/items", vec![ScriptedResponse::new(503).body("down"); 4]),
    )
    .expect("loopback server");
    let up = LoopbackServer::start(
        Script::new().route("/items", vec![ScriptedResponse::new(200).body("ok"); 3]),
    )
    .expect("loopback server");
    let (client, _) = client(RetryPolicy::default().max_attempts(1));
    for _ in 0..4 {
        client.get(&format!("{}/items", down.url())).unwrap_err();
    }
    refused_until(client.get(&format!("{}/items", down.url())));
    assert_eq!(down.received().len(), 4);
    for _ in 0..3 {
        let response = client.get(&format!("{}/items", up.url())).unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(up.received().len(), 3);
}

/// With `breaker_wait`, a request sits through an outage instead of failing fast: it waits
/// for the breaker's probes (its own retries untouched) and succeeds when the server is back;
/// past the wait it fails with the breaker's error.
#[test]
fn a_request_waits_out_an_outage_it_may_sit_through() {
    let down = ScriptedResponse::new(503).body("down");
    let mut responses = vec![down; 6]; // 4 to open the breaker, then 2 failed probes
    responses.push(ScriptedResponse::new(200).body("back"));
    let server =
        LoopbackServer::start(Script::new().route("/items", responses)).expect("loopback server");
    let url = format!("{}/items", server.url());
    let config = PacerConfig::default()
        .retry(
            RetryPolicy::default()
                .max_attempts(2)
                .jitter(Jitter::None)
                .base(Duration::from_millis(1)),
        )
        .breaker(breaker())
        .breaker_wait(Duration::from_secs(30));
    let client = Client::new(config);
    // Two requests of two attempts each open the breaker (minimum 4 calls)... the second one
    // waits through the outage: two probes fail, the third gets the server back.
    assert!(
        client.get(&url).is_err(),
        "2 attempts, breaker still closed"
    );
    let response = client.get(&url).expect("waited out the outage");
    assert_eq!(response.status(), 200);
    assert_eq!(
        server.received().len(),
        7,
        "four calls, then one probe per break"
    );

    // The same outage with a wait shorter than the break: the request is not held for a
    // probe it could not wait for; its own retries decide, and the next request fails fast.
    let down = ScriptedResponse::new(503).body("down");
    let server = LoopbackServer::start(Script::new().route("/items", vec![down; 20]))
        .expect("loopback server");
    let url = format!("{}/items", server.url());
    let config = PacerConfig::default()
        .retry(
            RetryPolicy::default()
                .max_attempts(2)
                .jitter(Jitter::None)
                .base(Duration::from_millis(1)),
        )
        .breaker(breaker())
        .breaker_wait(BREAK / 2);
    let client = Client::new(config);
    assert!(client.get(&url).is_err());
    let err = client.get(&url).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::GaveUp {
                error: paceline::Error::AttemptsExhausted { .. },
                ..
            }
        ),
        "{err}"
    );
    refused_until(client.get(&url));
    assert_eq!(server.received().len(), 4, "no probe within the wait");
}
