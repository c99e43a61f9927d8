//! Redirects: followed by the client, and no credential ever reaches another origin.

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
    // Same scheme, host and port: the credential goes along.
    assert_eq!(received[1].header("authorization"), Some("Bearer secret"));
}

#[test]
fn no_credential_of_any_kind_reaches_another_origin() {
    let other = LoopbackServer::start(
        Script::new().route("/landing", [ScriptedResponse::new(200).body("landed")]),
    )
    .unwrap();
    let first = LoopbackServer::start(Script::new().route(
        "/start",
        [ScriptedResponse::new(307).header("Location", &format!("{}/landing", other.url()))],
    ))
    .unwrap();
    let client = client(exact_backoff(Duration::from_millis(50)))
        .secret_header(http::HeaderName::from_static("x-api-key"));
    let request = Request::get(format!("{}/start", first.url()))
        .header("Authorization", "Bearer secret")
        .header("Proxy-Authorization", "Basic cHJveHk=")
        .header("Cookie", "session=1")
        .header("X-Api-Key", "key-1")
        .header("Accept", "application/json")
        .body(Vec::new())
        .unwrap();

    assert_eq!(client.send(request).unwrap().status(), 200);
    let at_first = first.received();
    assert_eq!(at_first[0].header("x-api-key"), Some("key-1"));
    let at_other = other.received();
    assert_eq!(at_other.len(), 1);
    for secret in [
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
    ] {
        assert_eq!(at_other[0].header(secret), None, "{secret} leaked");
    }
    assert_eq!(at_other[0].header("accept"), Some("application/json"));
}

#[test]
fn a_post_answered_303_is_followed_with_a_get_and_no_body() {
    let server = LoopbackServer::start(
        Script::new()
            .route(
                "/orders",
                [ScriptedResponse::new(303).header("Location", "/orders/7")],
            )
            .route("/orders/7", [ScriptedResponse::new(200).body("order 7")]),
    )
    .unwrap();
    let client = client(exact_backoff(Duration::from_millis(50)));
    let request = Request::post(format!("{}/orders", server.url()))
        .header("Idempotency-Key", "k1")
        .body(b"{\"item\":1}".to_vec())
        .unwrap();

    let response = client.send(request).unwrap();
    assert_eq!(response.body(), b"order 7");
    let received = server.received();
    assert_eq!(received[0].method, "POST");
    assert_eq!(
        (received[1].method.as_str(), received[1].body.len()),
        ("GET", 0)
    );
}

#[test]
fn redirects_are_bounded() {
    let server = LoopbackServer::start(Script::new().route(
        "/loop",
        [ScriptedResponse::new(302).header("Location", "/loop")],
    ))
    .unwrap();
    let client = client(exact_backoff(Duration::from_millis(50))).max_redirects(3);
    let response = client.get(&format!("{}/loop", server.url())).unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(server.received().len(), 4, "the request and three hops");
}
