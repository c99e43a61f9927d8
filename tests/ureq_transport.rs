//! Transport errors: refused connections never left, so they are retried (even a POST) until
//! the attempts run out, every attempt recorded; a response too slow is a timeout, retried; a
//! body over the limit is not.

mod support;

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use http::Request;
use paceline::retry::{TransportError, TransportKind};
use paceline::{Attempted, Pacer, PacerConfig};
use paceline_testkit::{LoopbackServer, Script, ScriptedResponse};
use paceline_ureq::{Client, Error, ureq};
use support::{client, exact_backoff};

/// A loopback URL nobody listens on: a port the OS handed out, then released.
fn refused_url() -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/items")
}

fn assert_refused_three_times(err: &Error) {
    let refused = Attempted::Transport(TransportError::before_send(TransportKind::Connect));
    let Error::GaveUp { error, attempts } = err else {
        panic!("expected GaveUp, got {err}");
    };
    assert_eq!(
        *error,
        paceline::Error::AttemptsExhausted {
            attempts: 3,
            last: refused
        },
        "{err}"
    );
    assert_eq!(attempts.len(), 3, "{err}");
    for a in attempts {
        assert_eq!(a.outcome, refused, "{err}");
        assert!(a.detail.is_some());
    }
}

#[test]
fn refused_get_is_retried_then_exhausted() {
    let client = client(exact_backoff(Duration::from_millis(20)).max_attempts(3));

    let err = client.get(&refused_url()).unwrap_err();

    assert_refused_three_times(&err);
}

#[test]
fn refused_post_is_retried_too_since_it_never_left() {
    let client = client(exact_backoff(Duration::from_millis(20)).max_attempts(3));
    let request = Request::post(refused_url()).body(b"{}".to_vec()).unwrap();

    let err = client.send(request).unwrap_err();

    assert_refused_three_times(&err);
}

#[test]
fn a_response_too_slow_is_a_timeout_and_retried() {
    let server = LoopbackServer::start(
        Script::new().route(
            "/slow",
            [
                ScriptedResponse::new(200)
                    .body("late")
                    .delay(Duration::from_millis(600)),
                ScriptedResponse::new(200).body("on time"),
            ],
        ),
    )
    .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_recv_response(Some(Duration::from_millis(100)))
        .build()
        .into();
    let pacer = Pacer::new(
        PacerConfig::default().retry(exact_backoff(Duration::from_millis(20))),
        1,
    );
    let client = Client::with_agent(agent, pacer);

    let response = client.get(&format!("{}/slow", server.url())).unwrap();

    assert_eq!(response.body(), b"on time");
    assert_eq!(server.received().len(), 2);
}

#[test]
fn a_body_over_the_limit_is_not_retried() {
    let server = LoopbackServer::start(
        Script::new().route("/big", [ScriptedResponse::new(200).body(vec![b'x'; 100])]),
    )
    .unwrap();
    let client = client(exact_backoff(Duration::from_millis(20))).body_limit(10);

    let err = client.get(&format!("{}/big", server.url())).unwrap_err();

    assert_eq!(
        err.pacer_error(),
        Some(&paceline::Error::Transport(TransportError::after_send(
            TransportKind::Other
        ))),
        "{err}"
    );
    assert_eq!(err.attempts().len(), 1);
    assert_eq!(server.received().len(), 1);
}
