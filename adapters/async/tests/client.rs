//! The async client against the loopback server: retries, Retry-After, a pause holding every
//! task, the concurrency limit, cancellation, redirects, limits and timeouts. Under
//! `smol::block_on`; only lower bounds on time are asserted.

use std::time::{Duration, Instant};

use futures_lite::future;
use http::Request;
use paceline::PacerConfig;
use paceline::retry::{Jitter, RetryPolicy};
use paceline::throttle::ThrottleConfig;
use paceline_async::{Client, Error, HttpTransport, Timeouts};
use paceline_testkit::{LoopbackServer, Script, ScriptedResponse, Stall, StallingServer};

const TOLERANCE: Duration = Duration::from_millis(50);

fn exact(base: Duration) -> PacerConfig {
    PacerConfig::default().retry(RetryPolicy::default().base(base).jitter(Jitter::None))
}

fn serve(path: &str, responses: impl IntoIterator<Item = ScriptedResponse>) -> LoopbackServer {
    LoopbackServer::start(Script::new().route(path, responses)).unwrap()
}

#[test]
fn client_and_send_future_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let client = Client::new(PacerConfig::default());
    send_sync(&client);
    send(&client.get("http://127.0.0.1:9/"));
}

#[test]
fn retry_after_is_honoured_and_holds_every_task() {
    let server = LoopbackServer::start(
        Script::new()
            .route(
                "/write",
                [ScriptedResponse::new(429).header("Retry-After", "1")],
            )
            .route("/read", [ScriptedResponse::new(200).body("fine")]),
    )
    .unwrap();
    let client = Client::new(exact(Duration::from_millis(20)));
    let base = server.url();
    smol::block_on(async {
        // A POST without a key is not retried, but its 429 pauses the shared Pacer.
        let write = Request::post(format!("{base}/write"))
            .body(b"x".to_vec())
            .unwrap();
        let err = client.send(write).await.unwrap_err();
        assert!(
            matches!(
                err.pacer_error(),
                Some(paceline::Error::NotIdempotent { .. })
            ),
            "{err}"
        );
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let (client, url) = (client.clone(), format!("{base}/read"));
                smol::spawn(async move { client.get(&url).await })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().body(), b"fine");
        }
    });
    let received = server.received();
    assert_eq!(received.len(), 4);
    for r in &received[1..] {
        let gap = r.at.duration_since(received[0].at);
        assert!(
            gap + TOLERANCE >= Duration::from_secs(1),
            "a task went {gap:?} after the 429"
        );
    }
}

#[test]
fn one_permit_serialises_tasks() {
    let slow = Duration::from_millis(200);
    let server = serve("/slow", [ScriptedResponse::new(200).delay(slow)]);
    let client =
        Client::new(PacerConfig::default().throttle(ThrottleConfig::default().concurrency(1)));
    let url = format!("{}/slow", server.url());
    smol::block_on(async {
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                smol::spawn(async move { client.get(&url).await })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().status(), 200);
        }
    });
    let mut arrivals: Vec<_> = server.received().iter().map(|r| r.at).collect();
    arrivals.sort();
    for w in arrivals.windows(2) {
        assert!(
            w[1].duration_since(w[0]) + TOLERANCE >= slow,
            "two requests held one permit"
        );
    }
}

#[test]
fn dropping_a_send_mid_flight_gives_the_permit_back() {
    let silent = StallingServer::start(Stall::Silent).unwrap();
    let server = serve("/up", [ScriptedResponse::new(200).body("up")]);
    let client =
        Client::new(PacerConfig::default().throttle(ThrottleConfig::default().concurrency(1)));
    smol::block_on(async {
        let never = format!("{}/never", silent.url());
        let stuck = client.get(&never);
        // The first request is sent and waits for an answer that never comes; then it is dropped.
        let dropped = future::or(async { Some(stuck.await) }, async {
            async_io::Timer::after(Duration::from_millis(300)).await;
            None
        })
        .await;
        assert!(dropped.is_none(), "the silent server answered");
        assert_eq!(silent.requests(), 1);
        let up = format!("{}/up", server.url());
        let second = future::or(async { Some(client.get(&up).await) }, async {
            async_io::Timer::after(Duration::from_secs(10)).await;
            None
        });
        let response = second
            .await
            .expect("the permit of the dropped request never came back");
        assert_eq!(response.unwrap().body(), b"up");
    });
}

#[test]
fn a_body_over_the_limit_is_not_retried() {
    let server = serve("/big", [ScriptedResponse::new(200).body(vec![b'x'; 4096])]);
    let client = Client::builder(PacerConfig::default())
        .body_limit(1024)
        .build();
    let err = smol::block_on(client.get(&format!("{}/big", server.url()))).unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 1024, .. }),
        "{err}"
    );
    assert_eq!(server.received().len(), 1);
}

#[test]
fn invalid_requests_are_refused_without_asking_the_pacer() {
    let client = Client::new(PacerConfig::default());
    for url in ["/just/a/path", "ftp://127.0.0.1/x"] {
        let err = smol::block_on(client.get(url)).unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{url}: {err}");
    }
}

#[test]
fn a_refused_connection_is_retried_then_given_up() {
    // Port 9 on loopback: nothing listens, the connect is refused (never sent).
    let client = Client::new(exact(Duration::from_millis(5)));
    let err = smol::block_on(client.get("http://127.0.0.1:9/x")).unwrap_err();
    assert!(
        matches!(
            err.pacer_error(),
            Some(paceline::Error::AttemptsExhausted { .. })
        ),
        "{err}"
    );
    assert!(err.attempts().len() > 1);
}

#[test]
fn a_silent_server_times_out_and_is_retried() {
    let silent = StallingServer::start(Stall::Silent).unwrap();
    let transport = HttpTransport::new(Timeouts::default().idle(Duration::from_millis(150)));
    let client = Client::builder(exact(Duration::from_millis(5)))
        .transport(transport)
        .build();
    let start = Instant::now();
    let err = smol::block_on(client.get(&format!("{}/x", silent.url()))).unwrap_err();
    assert!(err.to_string().contains("Timeout"), "{err}");
    assert!(silent.requests() >= 2, "the timeout was not retried");
    assert!(start.elapsed() + TOLERANCE >= Duration::from_millis(300));
}

#[test]
fn keep_alive_connections_are_reused() {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A bare HTTP/1.1 server that counts the connections it accepts.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/n", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut tcp = tcp.unwrap();
                let mut reader = BufReader::new(tcp.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    if line == "\r\n" {
                        tcp.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nk")
                            .unwrap();
                    }
                    line.clear();
                }
            });
        }
    });
    let client = Client::new(PacerConfig::default());
    smol::block_on(async {
        for _ in 0..5 {
            assert_eq!(client.get(&url).await.unwrap().body(), b"k");
        }
    });
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

/// The time the Pacer is told of a response is the head's arrival, stamped by the transport
/// (`paceline::Now` in the response's extensions), not the body's end: here the body comes a
/// byte every 60 ms after the head, and the stamp is at least the body's length earlier than
/// the moment `get` returns. Stamped at the body's end, the two would be microseconds apart.
#[test]
fn the_response_time_is_the_heads_arrival_not_the_bodys_end() {
    let every = Duration::from_millis(60);
    let body = b"[1,2,3]".to_vec();
    let trickled = every * body.len() as u32;
    let server = StallingServer::start(Stall::Trickle { every, body }).unwrap();
    let client = Client::new(PacerConfig::default());
    let response = future::block_on(client.get(&format!("{}/items", server.url()))).unwrap();
    let returned = Instant::now();
    assert_eq!(response.body(), b"[1,2,3]");
    let head = response
        .extensions()
        .get::<paceline::Now>()
        .expect("the transport stamps the head's arrival")
        .mono;
    assert!(
        returned - head >= trickled - every,
        "stamped {:?} before the body's end",
        returned - head
    );
}
