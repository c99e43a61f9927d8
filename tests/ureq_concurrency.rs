//! A concurrency limit: threads sharing one client wait for a permit, and are woken when a
//! request of the client finishes.

mod support;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use paceline::throttle::ThrottleConfig;
use paceline::{Pacer, PacerConfig};
use paceline_testkit::{LoopbackServer, Script, ScriptedResponse};
use paceline_ureq::{Client, Error, ureq};
use support::{TOLERANCE, exact_backoff};

fn one_at_a_time() -> Client {
    Client::new(
        PacerConfig::default()
            .retry(exact_backoff(Duration::from_millis(20)))
            .throttle(ThrottleConfig::default().concurrency(1)),
    )
}

#[test]
fn one_permit_serialises_threads() {
    let slow = Duration::from_millis(200);
    let server = LoopbackServer::start(
        Script::new().route("/slow", [ScriptedResponse::new(200).delay(slow)]),
    )
    .unwrap();
    let client = one_at_a_time();
    let url = format!("{}/slow", server.url());

    thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| client.get(&url))).collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap().status(), 200);
        }
    });

    let mut arrivals: Vec<_> = server.received().iter().map(|r| r.at).collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), 3);
    for w in arrivals.windows(2) {
        let gap = w[1].duration_since(w[0]);
        assert!(
            gap + TOLERANCE >= slow,
            "a request arrived {gap:?} after the previous one, which held the only permit for {slow:?}"
        );
    }
}

#[test]
fn a_retry_after_a_dropped_connection_is_not_blocked_by_its_own_permit() {
    let server = LoopbackServer::start(Script::new().route(
        "/flaky",
        [
            ScriptedResponse::drop_connection(),
            ScriptedResponse::new(200).body("ok"),
        ],
    ))
    .unwrap();
    let url = format!("{}/flaky", server.url());
    // On its own thread, so that a permit never given back fails the test instead of hanging it.
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let client = one_at_a_time();
        let _ = tx.send(client.get(&url).map(|r| r.status()));
    });

    let status = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the retry after a dropped connection never got the permit back");

    assert_eq!(status.unwrap(), 200);
    assert_eq!(server.received().len(), 2);
}

#[test]
fn a_request_given_up_after_transport_errors_gives_the_permit_back() {
    let server = LoopbackServer::start(
        Script::new()
            .route("/down", [ScriptedResponse::drop_connection()])
            .route("/up", [ScriptedResponse::new(200)]),
    )
    .unwrap();
    let base = server.url();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let client = one_at_a_time();
        let down = client.get(&format!("{base}/down"));
        let up = client.get(&format!("{base}/up"));
        let _ = tx.send((down.map(|r| r.status()), up.map(|r| r.status())));
    });

    let (down, up) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the request after a failed one never got the permit");

    assert!(matches!(
        down.unwrap_err().pacer_error(),
        Some(paceline::Error::AttemptsExhausted { .. })
    ));
    assert_eq!(up.unwrap(), 200);
}

#[test]
fn a_request_ureq_refuses_gives_the_permit_back() {
    // Under `https_only`, ureq refuses an `http` URL after the Pacer let it go: the client must
    // cancel the call, or the next request would wait for the only permit for ever.
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .https_only(true)
            .build()
            .into();
        let pacer = Pacer::new(
            PacerConfig::default().throttle(ThrottleConfig::default().concurrency(1)),
            3,
        );
        let client = Client::with_agent(agent, pacer);
        let results: Vec<_> = (0..2)
            .map(|_| client.get("http://127.0.0.1:9/plain").map(|r| r.status()))
            .collect();
        let _ = tx.send(results);
    });

    let results = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the second request never got the permit back");

    for r in results {
        assert!(matches!(r, Err(Error::InvalidRequest(_))), "{r:?}");
    }
}
