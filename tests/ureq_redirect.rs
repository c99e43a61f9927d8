//! Redirects: followed, and the `Authorization` header never reaches another origin.

mod support;

use std::time::Duration;

use http::Request;
use paceline_testkit::{LoopbackServer, Script, ScriptedResponse};
use support::{client, exact_backoff};

#[test]
fn authorization_is_not_sent_to_another_origin() {
    // Same host, another port: another origin, which ureq's `SameHost` would not tell apart.
    let other = LoopbackServer::start(
        Script::new().route("/landing", [ScriptedResponse::new(200).body("landed")]),
    )
    .unwrap();
    let first = LoopbackServer::start(Script::new().route(
        "/start",
        [ScriptedResponse::new(302).header("Location", &format!("{}/landing", other.url()))],
    ))
    .unwrap();
    let client = client(exact_backoff(Duration::from_millis(50)));
    let request = Request::get(format!("{}/start", first.url()))
        .header("Authorization", "Bearer secret")
        .body(Vec::new())
        .unwrap();

    let response = client.send(request).unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), b"landed");
    let at_first = first.received();
    assert_eq!(at_first.len(), 1);
    assert_eq!(at_first[0].header("authorization"), Some("Bearer secret"));
    let at_other = other.received();
    assert_eq!(at_other.len(), 1);
    assert_eq!(at_other[0].path, "/landing");
    assert_eq!(at_other[0].header("authorization"), None);
}

#[test]
fn same_origin_redirect_is_followed() {
    let server = LoopbackServer::start(
        Script::new()
            .route(
                "/old",
                [ScriptedResponse::new(301).header("Location", "/new")],
            )
            .route("/new", [ScriptedResponse::new(200).body("moved")]),
    )
    .unwrap();
    let client = client(exact_backoff(Duration::from_millis(50)));
    let request = Request::get(format!("{}/old", server.url()))
        .header("Authorization", "Bearer secret")
        .body(Vec::new())
        .unwrap();

    let response = client.send(request).unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), b"moved");
    let received = server.received();
    let paths: Vec<_> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/old", "/new"]);
    // ureq can keep the credential only by host name (`SameHost`), which would leak it across
    // ports, so it is dropped on every redirect, this one included.
    assert_eq!(received[1].header("authorization"), None);
}
