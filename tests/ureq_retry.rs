//! The ureq client against the loopback server: throttling and server errors are retried as the
//! server asks or by backoff; a wait past the maximum is an error at once.

mod support;

use std::time::{Duration, SystemTime};

use paceline::Attempted;
use paceline_testkit::{LoopbackServer, Script, ScriptedResponse};
use paceline_ureq::Error;
use support::{assert_at_least, client, exact_backoff, gaps};

fn serve(path: &str, responses: impl IntoIterator<Item = ScriptedResponse>) -> LoopbackServer {
    LoopbackServer::start(Script::new().route(path, responses)).expect("loopback server")
}

#[test]
fn retry_after_seconds_is_honoured() {
    let server = serve(
        "/items",
        [
            ScriptedResponse::new(429).header("Retry-After", "1"),
            ScriptedResponse::new(200).body("ok"),
        ],
    );
    let client = client(exact_backoff(Duration::from_millis(50)));

    let response = client.get(&format!("{}/items", server.url())).unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), b"ok");
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert_at_least(gaps(&received)[0], Duration::from_secs(1));
}

#[test]
fn retry_after_http_date_is_honoured() {
    // HTTP-dates have one-second resolution, and the server's `Date` (which cancels clock skew)
    // is truncated too: two seconds ahead means a wait of at least one.
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let server = serve(
        "/items",
        [
            ScriptedResponse::new(429).header("Retry-After", &date),
            ScriptedResponse::new(200),
        ],
    );
    let client = client(exact_backoff(Duration::from_millis(50)));

    let response = client.get(&format!("{}/items", server.url())).unwrap();

    assert_eq!(response.status(), 200);
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert_at_least(gaps(&received)[0], Duration::from_secs(1));
}

#[test]
fn throttled_without_retry_after_backs_off() {
    let server = serve(
        "/items",
        [ScriptedResponse::new(429), ScriptedResponse::new(200)],
    );
    let client = client(exact_backoff(Duration::from_millis(200)));

    let response = client.get(&format!("{}/items", server.url())).unwrap();

    assert_eq!(response.status(), 200);
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert_at_least(gaps(&received)[0], Duration::from_millis(200));
}

#[test]
fn unavailable_three_times_backs_off_growing() {
    let unavailable = ScriptedResponse::new(503).body("down for maintenance");
    let server = serve(
        "/items",
        [
            unavailable.clone(),
            unavailable.clone(),
            unavailable,
            ScriptedResponse::new(200).body("back"),
        ],
    );
    let client = client(exact_backoff(Duration::from_millis(100)).max_attempts(4));

    let response = client.get(&format!("{}/items", server.url())).unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), b"back");
    let received = server.received();
    assert_eq!(received.len(), 4);
    let gaps = gaps(&received);
    for (gap, want) in gaps.iter().zip([100, 200, 400]) {
        assert_at_least(*gap, Duration::from_millis(want));
    }
    // Growth, from the spacing the server saw: each gap at least 1.5 times the one before (the
    // backoff doubles; less the tolerance for a late wake-up). A constant backoff fails this.
    for w in gaps.windows(2) {
        assert!(
            w[1] + support::TOLERANCE >= w[0].mul_f64(1.5),
            "backoff did not grow: {gaps:?}"
        );
    }
}

#[test]
fn unavailable_past_the_attempts_gives_every_status() {
    let server = serve("/items", [ScriptedResponse::new(503)]);
    let client = client(exact_backoff(Duration::from_millis(20)).max_attempts(3));

    let err = client.get(&format!("{}/items", server.url())).unwrap_err();

    let Error::GaveUp { error, attempts } = &err else {
        panic!("expected GaveUp, got {err}");
    };
    assert!(
        matches!(
            error,
            paceline::Error::AttemptsExhausted { attempts: 3, last: Attempted::Status(s) } if *s == 503
        ),
        "{error}"
    );
    let statuses: Vec<_> = attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        statuses,
        [Attempted::Status(http::StatusCode::SERVICE_UNAVAILABLE); 3]
    );
    assert_eq!(server.received().len(), 3);
}

#[test]
fn ten_year_retry_after_fails_at_once() {
    let ten_years = (10 * 365 * 24 * 3600).to_string();
    let server = serve(
        "/items",
        [
            ScriptedResponse::new(429).header("Retry-After", &ten_years),
            ScriptedResponse::new(200),
        ],
    );
    let client = client(exact_backoff(Duration::from_millis(50)));

    // Returning at all shows there was no ten-year sleep; no wall-clock bound is asserted.
    let err = client.get(&format!("{}/items", server.url())).unwrap_err();

    assert!(
        matches!(
            err.pacer_error(),
            Some(paceline::Error::ServerAskedTooLong { asked, .. })
                if *asked == Duration::from_secs(10 * 365 * 24 * 3600)
        ),
        "{err}"
    );
    assert_eq!(
        err.attempts().iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [Attempted::Status(http::StatusCode::TOO_MANY_REQUESTS)]
    );
    assert_eq!(server.received().len(), 1);
}

#[test]
fn a_final_client_error_is_a_response() {
    let server = serve("/items", [ScriptedResponse::new(200)]);
    let client = client(exact_backoff(Duration::from_millis(50)));

    let response = client.get(&format!("{}/missing", server.url())).unwrap();

    assert_eq!(response.status(), 404);
    assert_eq!(server.received().len(), 1);
}

#[test]
fn an_agent_that_errors_on_statuses_still_lets_the_pacer_decide() {
    // ureq's default agent turns 4xx/5xx into errors; the client overrides that per request.
    let server = serve(
        "/items",
        [ScriptedResponse::new(503), ScriptedResponse::new(200)],
    );
    let pacer = paceline::Pacer::new(
        paceline::PacerConfig::default().retry(exact_backoff(Duration::from_millis(20))),
        7,
    );
    let client =
        paceline_ureq::Client::with_agent(paceline_ureq::ureq::Agent::new_with_defaults(), pacer);

    let response = client.get(&format!("{}/items", server.url())).unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(server.received().len(), 2);
}
