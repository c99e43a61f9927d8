//! Timeouts: a server that stalls never hangs a request. Each kind of stall fails the attempt
//! as a `Timeout` transport error, which the Pacer retries by its rules until the attempts run
//! out; the server sees each attempt. The time bounds asserted are generous: they prove "did
//! not hang", not a speed.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use http::Request;
use paceline::Attempted;
use paceline::retry::{TransportError, TransportKind};
use paceline_testkit::{Stall, StallingServer};
use paceline_ureq::{Client, Error, Timeouts};
use support::{client, exact_backoff};

/// Far more than any of these tests takes, far less than forever.
const NO_HANG: Duration = Duration::from_secs(20);

/// Runs `f` on a thread and returns what it returned and how long it took; fails the test if
/// it takes longer than [`NO_HANG`] (a hang fails, it does not hang the test run).
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(NO_HANG) {
        Ok(v) => (v, started.elapsed()),
        Err(_) => panic!("still waiting after {NO_HANG:?}: a hang"),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A client making at most `attempts` attempts, 10 ms apart, with these timeouts.
fn timing_out(attempts: u32, timeouts: Timeouts) -> Client {
    client(exact_backoff(ms(10)).max_attempts(attempts)).timeouts(timeouts)
}

/// Asserts that `err` is the Pacer giving up after `n` attempts, each a timeout (sent or not as
/// `sent` says) whose ureq description contains `timer`.
#[track_caller]
fn assert_timed_out(err: &Error, n: u32, sent: bool, timer: &str) {
    let timeout = Attempted::Transport(TransportError {
        kind: TransportKind::Timeout,
        sent,
    });
    assert_eq!(
        err.pacer_error(),
        Some(&paceline::Error::AttemptsExhausted {
            attempts: n,
            last: timeout
        }),
        "{err}"
    );
    assert_eq!(err.attempts().len(), n as usize, "{err}");
    for a in err.attempts() {
        assert_eq!(a.outcome, timeout, "{err}");
        let detail = a.detail.as_deref().unwrap_or_default();
        assert!(detail.contains(timer), "{detail:?} does not name {timer:?}");
    }
}

#[test]
fn a_head_then_silence_is_an_idle_timeout_retried() {
    let server = StallingServer::start(Stall::AfterHead).unwrap();
    let client = timing_out(3, Timeouts::default().idle(ms(300)));
    let url = format!("{}/items", server.url());

    let (result, _) = bounded(move || client.get(&url));

    let err = result.unwrap_err();
    assert_timed_out(&err, 3, true, "timeout: per read");
    assert!(
        err.attempts()[0]
            .to_string()
            .contains("reading the body of a 200 response")
    );
    assert_eq!(server.requests(), 3);
}

#[test]
fn a_server_that_never_answers_is_an_idle_timeout_retried() {
    let server = StallingServer::start(Stall::Silent).unwrap();
    let client = timing_out(3, Timeouts::default().idle(ms(300)));
    let url = format!("{}/items", server.url());

    let (result, _) = bounded(move || client.get(&url));

    let err = result.unwrap_err();
    assert_timed_out(&err, 3, true, "timeout: per read");
    assert_eq!(server.requests(), 3);
}

/// One byte every 50 ms never trips a 1 s idle timeout: the attempt deadline stops it.
#[test]
fn a_trickled_body_is_cut_by_the_attempt_deadline() {
    let server = StallingServer::start(Stall::Trickle {
        every: ms(50),
        body: vec![b' '; 1_000_000],
    })
    .unwrap();
    let client = timing_out(2, Timeouts::default().idle(ms(1000)).attempt(ms(500)));
    let url = format!("{}/items", server.url());

    let (result, took) = bounded(move || client.get(&url));

    let err = result.unwrap_err();
    // Timers do not fire early: two attempts of 500 ms each.
    assert!(took >= ms(1000), "{took:?}");
    assert_timed_out(&err, 2, true, "timeout: per call");
    assert_eq!(server.requests(), 2);
}

/// The idle timeout restarts with every byte: a body slower in all than the idle limit, but
/// never silent that long, arrives whole.
#[test]
fn a_slow_but_steady_body_is_not_idle() {
    let body = b"[1,2,3,4,5]".to_vec();
    let server = StallingServer::start(Stall::Trickle {
        every: ms(50),
        body: body.clone(),
    })
    .unwrap();
    let client = timing_out(1, Timeouts::default().idle(ms(400)));
    let url = format!("{}/items", server.url());

    let (result, took) = bounded(move || client.get(&url));

    assert_eq!(result.unwrap().body(), &body);
    // 11 bytes 50 ms apart: longer than the idle limit in all.
    assert!(took >= ms(550), "{took:?}");
    assert_eq!(server.requests(), 1);
}

/// A connect that hangs never sent anything: even a POST is retried.
#[test]
fn a_hanging_connect_times_out_before_sending() {
    let server = StallingServer::start(Stall::Connect).unwrap();
    let client = timing_out(3, Timeouts::default().connect(ms(200)));
    let request = Request::post(format!("{}/items", server.url()))
        .body(b"{}".to_vec())
        .unwrap();

    let (result, _) = bounded(move || client.send(request));

    let err = result.unwrap_err();
    assert_timed_out(&err, 3, false, "timeout: connect");
    assert_eq!(server.requests(), 0);
}

/// A body cut by a timeout is a cut body: its head still counts, so the retry waits the
/// second its `Retry-After` asks for (not the 10 ms backoff).
#[test]
fn a_body_cut_by_a_timeout_keeps_the_retry_after_of_its_head() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let url = format!("http://{}/items", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let mut arrived = Vec::new();
        let mut held = Vec::new();
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
            // The 503's connection stays open, its body 95 bytes short: only a timeout ends it.
            held.push(stream);
        }
        arrived
    });
    let client = timing_out(3, Timeouts::default().idle(ms(200)));

    let (response, _) = bounded(move || client.get(&url));

    let response = response.unwrap();

    assert_eq!(response.body(), b"ok");
    let arrived = server.join().unwrap();
    support::assert_at_least(arrived[1] - arrived[0], Duration::from_secs(1));
}
