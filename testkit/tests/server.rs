//! The loopback server over real sockets: scripted sequences, 404s, headers, recording,
//! dropped connections, delays and shutdown.
//!
//! Timeouts below only turn a hang into a failure; no test waits for time to pass.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use paceline_testkit::{LoopbackServer, ReceivedRequest, Responder, Script, ScriptedResponse};

/// How long a test waits before calling a hang a failure.
const HANG: Duration = Duration::from_secs(10);

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(HANG))
        .build()
        .into()
}

/// GETs `path`; returns the status and the body.
fn get(agent: &ureq::Agent, server: &LoopbackServer, path: &str) -> (u16, String) {
    let mut response = agent
        .get(format!("{}{path}", server.url()))
        .call()
        .expect("request failed");
    let body = response.body_mut().read_to_string().expect("body");
    (response.status().as_u16(), body)
}

/// A raw connection; reads that hang fail the test instead.
fn connect(server: &LoopbackServer) -> TcpStream {
    let stream = TcpStream::connect(server.addr()).expect("connect");
    stream.set_read_timeout(Some(HANG)).expect("read timeout");
    stream
}

/// Reads one response with a `Content-Length` body: (status line and headers, body).
fn read_response(reader: &mut BufReader<&TcpStream>) -> (String, Vec<u8>) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert_ne!(
            reader.read_line(&mut line).expect("read head"),
            0,
            "EOF in head"
        );
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().expect("content-length"))
        })
        .expect("a Content-Length header");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("read body");
    (head, body)
}

/// Reads until the server closes the connection; fails if any byte arrives.
fn assert_closed_without_a_byte(mut stream: &TcpStream) {
    let mut got = Vec::new();
    match stream.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("connection not closed: {e}"),
    }
    assert!(
        got.is_empty(),
        "got bytes: {:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn a_path_plays_its_sequence_then_repeats_the_last() {
    let server = LoopbackServer::start(Script::new().route(
        "/r",
        [
            ScriptedResponse::new(200).body("first"),
            ScriptedResponse::new(429).body("second"),
            ScriptedResponse::new(503).body("third"),
        ],
    ))
    .unwrap();
    let agent = agent();
    let answers: Vec<_> = (0..5).map(|_| get(&agent, &server, "/r")).collect();
    assert_eq!(
        answers,
        [
            (200, "first".to_owned()),
            (429, "second".to_owned()),
            (503, "third".to_owned()),
            (503, "third".to_owned()),
            (503, "third".to_owned()),
        ]
    );
}

#[test]
fn unknown_paths_get_404_and_the_query_does_not_affect_matching() {
    let server = LoopbackServer::start(
        Script::new().route("/known", [ScriptedResponse::new(200).body("yes")]),
    )
    .unwrap();
    let agent = agent();
    assert_eq!(get(&agent, &server, "/unknown"), (404, String::new()));
    assert_eq!(get(&agent, &server, "/known/deeper"), (404, String::new()));
    assert_eq!(
        get(&agent, &server, "/known?page=2"),
        (200, "yes".to_owned())
    );
    let paths: Vec<_> = server.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/unknown", "/known/deeper", "/known?page=2"]);
}

#[test]
fn repeated_response_header_names_each_reach_the_client() {
    let server = LoopbackServer::start(
        Script::new().route(
            "/h",
            [ScriptedResponse::new(200)
                .header("Set-Cookie", "a=1")
                .header("X-RateLimit-Remaining", "5")
                .header("Set-Cookie", "b=2")
                .json(r#"{"ok":true}"#)],
        ),
    )
    .unwrap();
    let mut response = agent().get(format!("{}/h", server.url())).call().unwrap();
    let headers = response.headers();
    let cookies: Vec<_> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(headers["x-ratelimit-remaining"], "5");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers.get_all("content-type").iter().count(), 1);
    assert_eq!(
        response.body_mut().read_to_string().unwrap(),
        r#"{"ok":true}"#
    );
}

#[test]
fn records_method_target_headers_and_body() {
    let server =
        LoopbackServer::start(Script::new().route("/items", [ScriptedResponse::new(201)])).unwrap();
    let before = Instant::now();
    let stream = connect(&server);
    (&stream)
        .write_all(
            b"POST /items?page=2&sort=id HTTP/1.1\r\nHost: test\r\nX-Trace: one\r\n\
              x-trace: two\r\nContent-Length: 5\r\n\r\nhello",
        )
        .unwrap();
    let (head, _) = read_response(&mut BufReader::new(&stream));
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    let after = Instant::now();

    let received = server.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/items?page=2&sort=id");
    assert_eq!(request.body, b"hello");
    assert_eq!(
        request.headers,
        [
            ("Host", "test"),
            ("X-Trace", "one"),
            ("x-trace", "two"),
            ("Content-Length", "5"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    assert_eq!(request.header("X-TRACE"), Some("one"));
    assert_eq!(request.header("missing"), None);
    assert!(before <= request.at && request.at <= after);
}

#[test]
fn drop_connection_closes_without_a_response_byte() {
    let server = LoopbackServer::start(Script::new().route(
        "/flaky",
        [
            ScriptedResponse::drop_connection(),
            ScriptedResponse::new(200).body("ok"),
        ],
    ))
    .unwrap();
    // A keep-alive request: only the script can make the server close this connection.
    let stream = connect(&server);
    (&stream)
        .write_all(b"GET /flaky HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    assert_closed_without_a_byte(&stream);

    // The request was processed (recorded, the sequence advanced) and the server lives on.
    assert_eq!(server.received().len(), 1);
    assert_eq!(get(&agent(), &server, "/flaky"), (200, "ok".to_owned()));
}

#[test]
fn a_delayed_answer_does_not_hold_up_other_connections() {
    let mut script = Script::new()
        .route(
            "/slow",
            // Far longer than the test; shutdown must not wait for it.
            [ScriptedResponse::new(200).delay(Duration::from_secs(3600))],
        )
        .route("/fast", [ScriptedResponse::new(200).body("fast")]);
    let (seen, seen_rx) = mpsc::channel();
    let server = LoopbackServer::start_with(move |request: &ReceivedRequest| {
        seen.send(request.path.clone()).unwrap();
        script.respond(request)
    })
    .unwrap();

    let slow = connect(&server);
    (&slow)
        .write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    // The server has /slow and is waiting out its delay.
    assert_eq!(seen_rx.recv_timeout(HANG).unwrap(), "/slow");

    assert_eq!(get(&agent(), &server, "/fast"), (200, "fast".to_owned()));
    // /fast was answered while /slow's answer is still pending.
    slow.set_nonblocking(true).unwrap();
    let pending = (&slow).read(&mut [0; 1]).unwrap_err();
    assert_eq!(pending.kind(), ErrorKind::WouldBlock);
    slow.set_nonblocking(false).unwrap();

    let paths: Vec<_> = server.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/slow", "/fast"]);

    // Shutdown abandons the pending answer: the client is closed without a byte.
    server.shutdown();
    assert_closed_without_a_byte(&slow);
}

#[test]
fn shutdown_is_prompt_while_a_client_holds_an_idle_keep_alive_connection() {
    let server =
        LoopbackServer::start(Script::new().route("/x", [ScriptedResponse::new(200).body("x")]))
            .unwrap();
    let addr = server.addr();
    let idle = connect(&server);
    (&idle)
        .write_all(b"GET /x HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let (head, body) = read_response(&mut BufReader::new(&idle));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, b"x");

    // The connection stays open and idle while the server shuts down.
    let (done, done_rx) = mpsc::channel();
    let stopper = thread::spawn(move || {
        server.shutdown();
        done.send(()).unwrap();
    });
    done_rx
        .recv_timeout(HANG)
        .expect("shutdown hung on an idle connection");
    stopper.join().unwrap();

    // The idle connection was closed, and nobody listens any more.
    assert_closed_without_a_byte(&idle);
    let refused = TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn a_closure_responder_sees_requests_in_arrival_order() {
    let mut count = 0;
    let server = LoopbackServer::start_with(move |request: &ReceivedRequest| {
        count += 1;
        ScriptedResponse::new(200).body(format!("{count} {}", request.path))
    })
    .unwrap();
    let agent = agent();
    assert_eq!(get(&agent, &server, "/a"), (200, "1 /a".to_owned()));
    assert_eq!(get(&agent, &server, "/b?q"), (200, "2 /b?q".to_owned()));
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert!(received[0].at <= received[1].at);
}
