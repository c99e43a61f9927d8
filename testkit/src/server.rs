//! A scripted HTTP/1.1 server on loopback, for testing clients over real sockets.
//!
//! ```text
//!  client ──TCP──▶ relay ──TCP──▶ tiny_http ──Request──▶ worker (one of WORKERS)
//!                    ▲                                      │ 1. record (ReceivedRequest)
//!                    │                                      │ 2. ask the Responder
//!                    │                                      │ 3. wait the scripted delay
//!                    └──── cut the connection ◀──────────── │ 4. respond, or drop the connection
//! ```
//!
//! HTTP is parsed and written by [`tiny_http`]. The relay in front of it only copies bytes; it
//! exists because tiny_http cannot close a connection without answering, nor close idle
//! keep-alive connections when it stops. The relay holds every client socket, so
//! [`ScriptedResponse::drop_connection`] and shutdown can close them.
//!
//! Answers come from a [`Responder`]: a [`Script`] (fixed sequences per path) via
//! [`LoopbackServer::start`], or any model (a closure or a type implementing the trait) via
//! [`LoopbackServer::start_with`].
//!
//! Capacity: [`WORKERS`] requests are handled at once, so that many delayed responses can be
//! pending before further requests queue; [`MAX_CONNECTIONS`] client connections may be open
//! at once, further clients wait in the listen backlog.

mod relay;
mod script;
mod stall;

use std::fmt;
use std::io::{self, Cursor};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use script::{Script, ScriptedResponse};
pub use stall::{Stall, StallingServer};

use relay::{Cutter, Relay};
use script::Outcome;

/// Client connections open at once; further clients wait in the listen backlog until one
/// closes. Each costs three threads (two in the relay, one in tiny_http).
pub const MAX_CONNECTIONS: usize = 64;

/// Requests handled at once (each delayed response holds one worker while it waits).
pub const WORKERS: usize = 16;

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// The method, e.g. `"GET"`.
    pub method: String,
    /// The request target as sent: path and query, e.g. `"/items?page=2"`.
    pub path: String,
    /// The header lines in the order sent, names as the client spelled them; repeated names
    /// appear once per line.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if it was sent chunked.
    pub body: Vec<u8>,
    /// When the server took the request, its head parsed: the moment it arrived, unless all
    /// [`WORKERS`] were busy with delayed responses. Compare it with other `Instant`s from the
    /// same test; its absolute value means nothing.
    pub at: Instant,
}

impl ReceivedRequest {
    /// The value of the first header named `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Decides the answer to each request. The server calls it once per request, in arrival
/// order, one call at a time, after recording the request.
///
/// [`Script`] implements it; so does any `FnMut(&ReceivedRequest) -> ScriptedResponse` closure
/// (annotate the argument type, `|request: &ReceivedRequest| ...`, so that it accepts any
/// lifetime). This is where a sans-IO server model plugs in: it can read the method, path,
/// headers and the arrival instant [`ReceivedRequest::at`] as its `now`.
pub trait Responder: Send + 'static {
    /// The answer to `request`.
    fn respond(&mut self, request: &ReceivedRequest) -> ScriptedResponse;
}

impl<F> Responder for F
where
    F: FnMut(&ReceivedRequest) -> ScriptedResponse + Send + 'static,
{
    fn respond(&mut self, request: &ReceivedRequest) -> ScriptedResponse {
        self(request)
    }
}

/// A running HTTP/1.1 server on `127.0.0.1`, on a port the OS picked.
///
/// It stops on [`shutdown`](Self::shutdown) or drop: promptly, even while clients hold
/// connections open or responses are delayed. Open connections are closed, pending delayed
/// answers are abandoned (their clients read end-of-stream), and every thread the server
/// started is joined. (tiny_http's own internal threads are detached: its connection threads
/// end as their sockets close, its idle pool threads a few seconds later.)
///
/// ```
/// use paceline_testkit::{LoopbackServer, Script, ScriptedResponse};
/// use std::io::{Read, Write};
/// use std::net::TcpStream;
///
/// let server = LoopbackServer::start(Script::new().route(
///     "/items",
///     [
///         ScriptedResponse::new(429).header("Retry-After", "1"),
///         ScriptedResponse::new(200).json(r#"{"items":[]}"#),
///     ],
/// ))?;
/// assert_eq!(server.url(), format!("http://127.0.0.1:{}", server.port()));
///
/// let get = |target: &str| -> std::io::Result<String> {
///     let mut tcp = TcpStream::connect(("127.0.0.1", server.port()))?;
///     write!(tcp, "GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")?;
///     let mut response = String::new();
///     tcp.read_to_string(&mut response)?;
///     Ok(response)
/// };
/// assert!(get("/items?page=1")?.starts_with("HTTP/1.1 429"));
/// assert!(get("/items?page=1")?.ends_with(r#"{"items":[]}"#));
/// assert!(get("/nowhere")?.starts_with("HTTP/1.1 404"));
///
/// let received = server.received();
/// assert_eq!(received.len(), 3);
/// assert_eq!(received[0].path, "/items?page=1");
/// assert_eq!(received[0].header("host"), Some("test"));
/// server.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct LoopbackServer {
    shared: Arc<Shared>,
    http: Arc<tiny_http::Server>,
    relay: Relay,
    workers: Vec<JoinHandle<()>>,
}

/// What the workers share.
struct Shared {
    exchange: Mutex<Exchange>,
    /// `true` once the server is stopping; guarded so that delays can wait on it.
    stopping: Mutex<bool>,
    stopped: Condvar,
    cutter: Cutter,
}

/// The responder and the record, under one lock so that the record's order is the order in
/// which the responder saw the requests.
struct Exchange {
    responder: Box<dyn Responder>,
    received: Vec<ReceivedRequest>,
}

impl LoopbackServer {
    /// Starts a server answering from `script`.
    ///
    /// # Errors
    /// If a socket cannot be bound or a thread cannot be started.
    pub fn start(script: Script) -> io::Result<Self> {
        Self::start_with(script)
    }

    /// Starts a server answering from `responder` (a [`Script`], a closure, a server model).
    ///
    /// ```
    /// use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};
    ///
    /// let mut calls = 0;
    /// let server = LoopbackServer::start_with(move |_request: &ReceivedRequest| {
    ///     calls += 1;
    ///     if calls > 2 { ScriptedResponse::new(429) } else { ScriptedResponse::new(200) }
    /// })?;
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// If a socket cannot be bound or a thread cannot be started.
    pub fn start_with(responder: impl Responder) -> io::Result<Self> {
        Self::start_on(0, responder)
    }

    /// As [`start_with`](Self::start_with), listening on `127.0.0.1:port` (0: a port the OS
    /// picks). For `paceline serve --port`; tests should use port 0.
    ///
    /// # Errors
    /// If the port is taken, or a socket cannot be bound or a thread started.
    pub fn start_on(port: u16, responder: impl Responder) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let upstream = listener.local_addr()?;
        // tiny_http writes a response head and body separately; on its sockets Nagle's algorithm
        // would hold the body until the relay's delayed ACK (~40 ms per keep-alive request).
        // Accepted sockets inherit TCP_NODELAY from the listener on Linux.
        let _ = socket2::SockRef::from(&listener).set_tcp_nodelay(true);
        let http = tiny_http::Server::from_listener(listener, None).map_err(io::Error::other)?;
        let relay = Relay::start(port, upstream)?;
        let shared = Arc::new(Shared {
            exchange: Mutex::new(Exchange {
                responder: Box::new(responder),
                received: Vec::new(),
            }),
            stopping: Mutex::new(false),
            stopped: Condvar::new(),
            cutter: relay.cutter(),
        });
        let mut server = Self {
            shared,
            http: Arc::new(http),
            relay,
            workers: Vec::with_capacity(WORKERS),
        };
        for index in 0..WORKERS {
            let http = Arc::clone(&server.http);
            let shared = Arc::clone(&server.shared);
            // On error `server` is dropped here, which stops the workers already started.
            let worker = thread::Builder::new()
                .name(format!("paceline-loopback-{index}"))
                .spawn(move || serve(&http, &shared))?;
            server.workers.push(worker);
        }
        Ok(server)
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.relay.addr()
    }

    /// Every request received so far, in arrival order (a snapshot).
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.shared.exchange().received.clone()
    }

    /// Stops the server (the same as dropping it): closes every connection, abandons delayed
    /// answers and joins the server's threads.
    ///
    /// # Panics
    /// If a worker thread panicked, which means the responder panicked while answering: that
    /// panic is re-raised here so that the test fails (the client got a `500`).
    pub fn shutdown(self) {
        drop(self);
    }

    /// Stops everything; idempotent. Returns whether a worker panicked.
    fn stop(&mut self) -> bool {
        *self.shared.stopping() = true;
        self.shared.stopped.notify_all();
        // Closing every connection first unblocks workers stuck reading a body or writing a
        // response to a client that does not read.
        self.relay.stop();
        for _ in &self.workers {
            self.http.unblock();
        }
        let mut panicked = false;
        for worker in self.workers.drain(..) {
            panicked |= worker.join().is_err();
        }
        panicked
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if self.stop() && !thread::panicking() {
            panic!("a loopback server worker panicked (did the responder panic?)");
        }
    }
}

impl fmt::Debug for LoopbackServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn exchange(&self) -> MutexGuard<'_, Exchange> {
        self.exchange.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stopping(&self) -> MutexGuard<'_, bool> {
        self.stopping.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits `delay` unless the server stops first; returns whether it is stopping.
    fn pause(&self, delay: Duration) -> bool {
        let stopping = self.stopping();
        if delay.is_zero() {
            return *stopping;
        }
        let (stopping, _) = self
            .stopped
            .wait_timeout_while(stopping, delay, |stopping| !*stopping)
            .unwrap_or_else(PoisonError::into_inner);
        *stopping
    }
}

/// A worker: takes requests from tiny_http until the server stops.
fn serve(http: &tiny_http::Server, shared: &Shared) {
    loop {
        match http.recv() {
            Ok(request) => handle(request, shared),
            // `stop` sets the flag, then unblocks each worker once.
            Err(_) if *shared.stopping() => return,
            // tiny_http reports a failed `accept` this way; nothing to answer.
            Err(_) => {}
        }
    }
}

/// Records one request, asks the responder, waits the delay, then answers or drops.
fn handle(mut request: tiny_http::Request, shared: &Shared) {
    let at = Instant::now();
    let mut body = Vec::new();
    // A body cut short (the client vanished) is recorded as far as it came.
    let _ = request.as_reader().read_to_end(&mut body);
    let received = ReceivedRequest {
        method: request.method().to_string(),
        path: request.url().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|h| (h.field.as_str().to_string(), h.value.to_string()))
            .collect(),
        body,
        at,
    };
    let answer = {
        let mut exchange = shared.exchange();
        exchange.received.push(received);
        let Exchange {
            responder,
            received,
        } = &mut *exchange;
        responder.respond(received.last().expect("pushed just above"))
    };
    if shared.pause(answer.delay) {
        // Stopping: the connection is being closed anyway; send nothing.
        drop(request.into_writer());
        return;
    }
    match answer.outcome {
        Outcome::DropConnection => {
            // Cut first, so that nothing queued behind this request slips out.
            if let Some(peer) = request.remote_addr() {
                shared.cutter.cut(*peer);
            }
            drop(request.into_writer());
        }
        Outcome::Respond => {
            // Errors mean the client left; there is no one to tell.
            let _ = request.respond(to_tiny_http(answer));
        }
    }
}

fn to_tiny_http(answer: ScriptedResponse) -> tiny_http::Response<Cursor<Vec<u8>>> {
    let headers = answer
        .headers
        .iter()
        .map(|(name, value)| {
            tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
                .expect("ScriptedResponse::header admits only ASCII")
        })
        .collect();
    let length = answer.body.len();
    tiny_http::Response::new(
        tiny_http::StatusCode(answer.status),
        headers,
        Cursor::new(answer.body),
        Some(length),
        None,
    )
    // Always `Content-Length`, never chunked: what clients see does not depend on body size.
    .with_chunked_threshold(usize::MAX)
}
