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

    let Error::BodyTooLarge {
        limit,
        status,
        attempts,
    } = &err
    else {
        panic!("expected BodyTooLarge, got {err}");
    };
    assert_eq!((*limit, status.as_u16()), (10, 200));
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0].outcome,
        Attempted::Transport(TransportError::after_send(TransportKind::Other))
    );
    assert!(
        err.to_string()
            .starts_with("the body of a 200 response is over the limit of 10 bytes"),
        "{err}"
    );
    assert_eq!(server.received().len(), 1);
}

/// A 503 whose head asks for `Retry-After: 1` and whose body is cut mid-way: the head still
/// counts, so the retry waits the second the server asked for (not the 10 ms backoff).
#[test]
fn a_cut_body_keeps_the_retry_after_of_its_head() {
    use std::io::{BufRead, BufReader, Write};
    use std::time::Instant;

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let url = format!("http://{}/items", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let mut arrived = Vec::new();
        for reply in [
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 100\r\n\r\n{\"err",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        ] {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            arrived.push(Instant::now());
            let mut stream = stream;
            stream.write_all(reply.as_bytes()).unwrap();
            // Closing here cuts the 503's body after 5 of its 100 bytes.
        }
        arrived
    });
    let client = client(exact_backoff(Duration::from_millis(10)));
    let response = client
        .send(Request::get(&url).body(Vec::new()).unwrap())
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), b"ok");
    let arrived = server.join().unwrap();
    support::assert_at_least(arrived[1] - arrived[0], Duration::from_secs(1));
}
