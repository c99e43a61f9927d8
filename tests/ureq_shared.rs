//! One client shared by threads: a server's `Retry-After` holds every request, not just the one
//! that got it.

mod support;

use std::thread;
use std::time::Duration;

use http::Request;
use paceline_testkit::{LoopbackServer, Script, ScriptedResponse};
use support::{assert_at_least, client, exact_backoff, gaps};

#[test]
fn client_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<paceline_ureq::Client>();
}

#[test]
fn retry_after_holds_the_other_threads() {
    let server = LoopbackServer::start(
        Script::new()
            .route(
                "/write",
                [ScriptedResponse::new(429).header("Retry-After", "1")],
            )
            .route("/read", [ScriptedResponse::new(200).body("fine")]),
    )
    .unwrap();
    let client = client(exact_backoff(Duration::from_millis(50)));

    // A POST without a key is not retried, but its 429 still pauses the whole Pacer.
    let write = Request::post(format!("{}/write", server.url()))
        .body(b"x".to_vec())
        .unwrap();
    let err = client.send(write).unwrap_err();
    assert!(
        matches!(
            err.pacer_error(),
            Some(paceline::Error::NotIdempotent { .. })
        ),
        "{err}"
    );

    let reads: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| client.get(&format!("{}/read", server.url()))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    for read in reads {
        assert_eq!(read.unwrap().body(), b"fine");
    }
    let received = server.received();
    assert_eq!(received.len(), 3);
    assert_eq!(received[0].path, "/write");
    assert_at_least(gaps(&received)[0], Duration::from_secs(1));
}
