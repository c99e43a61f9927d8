//! A POST whose connection drops after it was sent is not retried unless it carries an
//! idempotency key.

mod support;

use std::time::Duration;

use http::Request;
use paceline::Attempted;
use paceline::retry::{TransportError, TransportKind};
use paceline_testkit::{LoopbackServer, Script, ScriptedResponse};
use paceline_ureq::Error;
use support::{assert_at_least, client, exact_backoff, gaps};

fn dropping_server() -> LoopbackServer {
    LoopbackServer::start(Script::new().route(
        "/charges",
        [
            ScriptedResponse::drop_connection(),
            ScriptedResponse::new(201).body("created"),
        ],
    ))
    .expect("loopback server")
}

#[test]
fn post_without_key_is_not_retried_after_a_drop() {
    let server = dropping_server();
    let client = client(exact_backoff(Duration::from_millis(50)));
    let request = Request::post(format!("{}/charges", server.url()))
        .body(b"amount=100".to_vec())
        .unwrap();

    let err = client.send(request).unwrap_err();

    let Error::GaveUp { error, attempts } = &err else {
        panic!("expected GaveUp, got {err}");
    };
    let dropped = Attempted::Transport(TransportError::after_send(TransportKind::Reset));
    assert_eq!(
        *error,
        paceline::Error::NotIdempotent { last: dropped },
        "{err}"
    );
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, dropped);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].body, b"amount=100");
}

#[test]
fn post_with_key_is_retried_after_a_drop() {
    let server = dropping_server();
    let client = client(exact_backoff(Duration::from_millis(100)));
    let request = Request::post(format!("{}/charges", server.url()))
        .header("Idempotency-Key", "charge-42")
        .body(b"amount=100".to_vec())
        .unwrap();

    let response = client.send(request).unwrap();

    assert_eq!(response.status(), 201);
    assert_eq!(response.body(), b"created");
    let received = server.received();
    assert_eq!(received.len(), 2);
    for r in &received {
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("idempotency-key"), Some("charge-42"));
        assert_eq!(r.body, b"amount=100");
    }
    assert_at_least(gaps(&received)[0], Duration::from_millis(100));
}

#[test]
fn a_post_marked_retry_safe_is_retried_after_a_drop() {
    // A read-only POST (a GraphQL query, a search) says so with the `RetrySafe` extension.
    let server = dropping_server();
    let client = client(exact_backoff(Duration::from_millis(20)));
    let mut request = Request::post(format!("{}/charges", server.url()))
        .body(br#"{"query":"{ viewer { login } }"}"#.to_vec())
        .unwrap();
    request.extensions_mut().insert(paceline::RetrySafe);

    let response = client.send(request).unwrap();

    assert_eq!(response.status(), 201);
    assert_eq!(server.received().len(), 2);
}
