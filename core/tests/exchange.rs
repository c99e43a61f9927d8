//! The exchange machine: one request through the Pacer, with retries and redirects, driven
//! by hand in virtual time.

use std::time::{Duration, Instant, SystemTime};

use http::{HeaderName, Method, Request, Response, StatusCode};
use paceline::exchange::{Exchange, ExchangeConfig, ExchangeError, SecretHeaders, Step};
use paceline::retry::{TransportError, TransportKind};
use paceline::throttle::ThrottleConfig;
use paceline::{Error, Now, Pacer, PacerConfig, RetrySafe};

fn now() -> Now {
    Now::new(Instant::now(), SystemTime::now())
}

fn answer(status: u16, headers: &[(&str, &str)]) -> Response<Vec<u8>> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Vec::new()).unwrap()
}

/// Drives `exchange` with `answers` (popped from the front); returns the final step and the
/// requests sent.
fn drive(
    pacer: &mut Pacer,
    exchange: &mut Exchange,
    mut answers: Vec<Result<Response<Vec<u8>>, TransportError>>,
) -> (Step, Vec<Request<Vec<u8>>>) {
    let mut t = now();
    let mut sent = Vec::new();
    loop {
        match exchange.poll(pacer, t) {
            Step::Send(request) => {
                sent.push(request);
                match answers.remove(0) {
                    Ok(response) => exchange.on_response(pacer, t, response),
                    Err(e) => exchange.on_transport_error(pacer, t, e),
                }
            }
            Step::Wait(until) => t = t.at(until),
            step => return (step, sent),
        }
    }
}

/// An exchange of a GET of `uri` with the default configuration.
fn plain(pacer: &Pacer, uri: &str) -> Exchange {
    Exchange::new(pacer, get(uri), &ExchangeConfig::default()).unwrap()
}

fn get(uri: &str) -> Request<Vec<u8>> {
    Request::builder()
        .uri(uri)
        .header("authorization", "Bearer s")
        .header("x-api-key", "k")
        .body(Vec::new())
        .unwrap()
}

#[test]
fn a_redirect_to_another_origin_goes_without_credentials() {
    let mut pacer = Pacer::new(PacerConfig::default(), 1);
    let config = ExchangeConfig::default().secret_header(HeaderName::from_static("x-api-key"));
    let mut exchange = Exchange::new(&pacer, get("https://api.test/a"), &config).unwrap();
    let (step, sent) = drive(
        &mut pacer,
        &mut exchange,
        vec![
            Ok(answer(302, &[("location", "/b")])),
            Ok(answer(301, &[("location", "https://cdn.test/c")])),
            Ok(answer(200, &[])),
        ],
    );
    assert!(matches!(step, Step::Done(r) if r.status() == StatusCode::OK));
    let uris: Vec<String> = sent.iter().map(|r| r.uri().to_string()).collect();
    assert_eq!(
        uris,
        [
            "https://api.test/a",
            "https://api.test/b",
            "https://cdn.test/c"
        ]
    );
    assert!(
        sent[1].headers().contains_key("authorization"),
        "same origin"
    );
    assert!(sent[2].headers().get("authorization").is_none());
    assert!(sent[2].headers().get("x-api-key").is_none());
    assert_eq!(exchange.attempts(), 3);
}

/// Secret headers named on the request itself ([`SecretHeaders`], as a page walk's requests
/// carry their walk's credential headers) are dropped on a redirect to another origin too,
/// and kept on one to the same origin; the configuration's still apply.
#[test]
fn secret_headers_named_by_the_request_are_dropped_on_another_origin() {
    let mut pacer = Pacer::new(PacerConfig::default(), 1);
    let config = ExchangeConfig::default().secret_header(HeaderName::from_static("x-other"));
    let mut request = get("https://api.test/a");
    request
        .headers_mut()
        .insert("x-other", "o".parse().unwrap());
    request
        .extensions_mut()
        .insert(SecretHeaders(vec![HeaderName::from_static("x-api-key")]));
    let mut exchange = Exchange::new(&pacer, request, &config).unwrap();
    let (step, sent) = drive(
        &mut pacer,
        &mut exchange,
        vec![
            Ok(answer(302, &[("location", "/b")])),
            Ok(answer(307, &[("location", "https://cdn.test/c")])),
            Ok(answer(200, &[])),
        ],
    );
    assert!(matches!(step, Step::Done(r) if r.status() == StatusCode::OK));
    assert_eq!(
        sent[1].headers().get("x-api-key").unwrap(),
        "k",
        "same origin"
    );
    for name in ["authorization", "x-api-key", "x-other"] {
        assert!(
            sent[2].headers().get(name).is_none(),
            "{name} went to cdn.test"
        );
    }
    // Without the extension, the same header goes along (the test can fail).
    let mut exchange = plain(&pacer, "https://api.test/a");
    let (_, sent) = drive(
        &mut pacer,
        &mut exchange,
        vec![
            Ok(answer(302, &[("location", "https://cdn.test/c")])),
            Ok(answer(200, &[])),
        ],
    );
    assert_eq!(sent[1].headers().get("x-api-key").unwrap(), "k");
}

#[test]
fn redirects_are_bounded_and_a_downgrade_is_not_followed() {
    let mut pacer = Pacer::new(PacerConfig::default(), 1);
    let config = ExchangeConfig::default().max_redirects(1);
    let mut exchange = Exchange::new(&pacer, get("https://api.test/a"), &config).unwrap();
    let loop_ = || Ok(answer(302, &[("location", "/a")]));
    let (step, sent) = drive(&mut pacer, &mut exchange, vec![loop_(), loop_(), loop_()]);
    assert!(matches!(step, Step::Done(r) if r.status() == StatusCode::FOUND));
    assert_eq!(sent.len(), 2);

    let mut exchange = plain(&pacer, "https://api.test/a");
    let (step, sent) = drive(
        &mut pacer,
        &mut exchange,
        vec![Ok(answer(302, &[("location", "http://api.test/a")]))],
    );
    assert!(matches!(step, Step::Done(r) if r.status() == StatusCode::FOUND));
    assert_eq!(sent.len(), 1);
}

#[test]
fn a_303_after_a_post_is_a_get_without_the_body() {
    let mut pacer = Pacer::new(PacerConfig::default(), 1);
    let post = Request::post("https://api.test/jobs")
        .header("content-type", "application/json")
        .body(b"{}".to_vec())
        .unwrap();
    let mut exchange = Exchange::new(&pacer, post, &ExchangeConfig::default()).unwrap();
    let (_, sent) = drive(
        &mut pacer,
        &mut exchange,
        vec![
            Ok(answer(303, &[("location", "/jobs/1")])),
            Ok(answer(200, &[])),
        ],
    );
    assert_eq!(sent[1].method(), Method::GET);
    assert!(sent[1].body().is_empty());
    assert!(sent[1].headers().get("content-type").is_none());
}

#[test]
fn a_reset_is_retried_for_a_get_and_for_a_retry_safe_post_only() {
    let reset = || Err(TransportError::after_send(TransportKind::Reset));
    let mut pacer = Pacer::new(PacerConfig::default(), 1);
    let mut exchange = plain(&pacer, "https://api.test/a");
    let (step, sent) = drive(
        &mut pacer,
        &mut exchange,
        vec![reset(), Ok(answer(200, &[]))],
    );
    assert!(matches!(step, Step::Done(_)));
    assert_eq!(sent.len(), 2);

    let post = || {
        Request::post("https://api.test/search")
            .body(b"{}".to_vec())
            .unwrap()
    };
    let mut exchange = Exchange::new(&pacer, post(), &ExchangeConfig::default()).unwrap();
    let (step, sent) = drive(&mut pacer, &mut exchange, vec![reset()]);
    assert!(
        matches!(step, Step::Fail(Error::NotIdempotent { .. })),
        "{step:?}"
    );
    assert_eq!(sent.len(), 1);

    let mut marked = post();
    marked.extensions_mut().insert(RetrySafe);
    let mut exchange = Exchange::new(&pacer, marked, &ExchangeConfig::default()).unwrap();
    let (step, sent) = drive(
        &mut pacer,
        &mut exchange,
        vec![reset(), Ok(answer(200, &[]))],
    );
    assert!(matches!(step, Step::Done(_)), "{step:?}");
    assert_eq!(sent.len(), 2);
}

#[test]
fn a_retry_after_is_waited_for() {
    let mut pacer = Pacer::new(PacerConfig::default(), 1);
    let mut exchange = plain(&pacer, "https://api.test/a");
    let t0 = now();
    match exchange.poll(&mut pacer, t0) {
        Step::Send(_) => exchange.on_response(&mut pacer, t0, answer(429, &[("retry-after", "3")])),
        other => panic!("{other:?}"),
    }
    match exchange.poll(&mut pacer, t0) {
        Step::Wait(until) => assert!(until >= t0.mono + Duration::from_secs(3)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cancelling_a_sent_attempt_gives_its_permit_back() {
    let config = PacerConfig::default().throttle(ThrottleConfig::default().concurrency(1));
    let mut pacer = Pacer::new(config, 1);
    let t = now();
    let mut first = plain(&pacer, "https://api.test/a");
    let mut second = plain(&pacer, "https://api.test/b");
    assert!(matches!(first.poll(&mut pacer, t), Step::Send(_)));
    assert!(first.is_sent());
    assert!(matches!(second.poll(&mut pacer, t), Step::WaitForPermit));
    first.cancel(&mut pacer, t);
    assert!(matches!(second.poll(&mut pacer, t), Step::Send(_)));
}

#[test]
fn a_body_over_the_limit_ends_the_exchange_unretried() {
    let mut pacer = Pacer::new(PacerConfig::default(), 1);
    let mut exchange = plain(&pacer, "https://api.test/a");
    let t = now();
    assert!(matches!(exchange.poll(&mut pacer, t), Step::Send(_)));
    let (head, _) = answer(200, &[]).into_parts();
    exchange.on_body_too_large(&mut pacer, t, &head);
    assert!(!exchange.is_sent());
    assert!(matches!(exchange.poll(&mut pacer, t), Step::Fail(_)));
}

#[test]
fn a_relative_uri_cannot_start() {
    let pacer = Pacer::new(PacerConfig::default(), 1);
    let request = Request::get("/relative").body(Vec::new()).unwrap();
    assert_eq!(
        Exchange::new(&pacer, request, &ExchangeConfig::default()).unwrap_err(),
        ExchangeError::RelativeUri("/relative".into())
    );
}
