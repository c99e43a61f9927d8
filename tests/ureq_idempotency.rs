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

#[test]
fn a_post_given_a_generated_key_is_retried_with_the_same_key() {
    // Two logical requests: each gets its own key, kept on every attempt of it.
    let server = LoopbackServer::start(Script::new().route(
        "/charges",
        [
            ScriptedResponse::drop_connection(),
            ScriptedResponse::new(201).body("created"),
            ScriptedResponse::new(201).body("created"),
        ],
    ))
    .expect("loopback server");
    let client = client(exact_backoff(Duration::from_millis(20)).attach_idempotency_keys(true));
    let post = || {
        Request::post(format!("{}/charges", server.url()))
            .body(b"amount=100".to_vec())
            .unwrap()
    };
    assert_eq!(client.send(post()).unwrap().status(), 201);
    assert_eq!(client.send(post()).unwrap().status(), 201);
    let received = server.received();
    let keys: Vec<&str> = received
        .iter()
        .map(|r| r.header("idempotency-key").expect("a key on every attempt"))
        .collect();
    assert_eq!(keys.len(), 3);
    assert_eq!(
        keys[0], keys[1],
        "the retry carries the first attempt's key"
    );
    assert_ne!(keys[1], keys[2], "a new logical request has a new key");
    assert!(keys.iter().all(|k| k.len() == 32), "{keys:?}");
    // A GET never gets one; a key the caller set is kept.
    let get = server.url() + "/charges";
    let _ = client.get(&get);
    let mut own = post();
    own.headers_mut()
        .insert("idempotency-key", "charge-42".parse().unwrap());
    let _ = client.send(own);
    let received = server.received();
    assert_eq!(received[3].header("idempotency-key"), None);
    assert_eq!(received[4].header("idempotency-key"), Some("charge-42"));
}
