//! The HTTP transport: the [`Transport`] trait and [`HttpTransport`], ureq-proto's HTTP/1.1
//! machine driven over `async-io` sockets, with a keep-alive pool per origin.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use async_io::Timer;
use async_net::TcpStream;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, future};
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{Method, Request, Response, Uri, response};
use paceline::exchange::Outcome;
use paceline::retry::{TransportError, TransportKind};
use ureq_proto::BodyMode;
use ureq_proto::client::RecvResponseResult as Recv;
use ureq_proto::client::state::{RecvResponse, SendRequest};
use ureq_proto::client::{Await100Result, Call, RecvBodyResult, SendRequestResult};

use crate::Timeouts;

/// Sends one attempt of a request: what [`Client`](crate::Client) runs for every
/// [`Step::Send`](paceline::exchange::Step::Send). It follows no redirect and retries
/// nothing: the client's Exchange decides all that.
///
/// A transport that knows when the response head arrived stamps it as a [`paceline::Now`]
/// extension of the head ([`HttpTransport`] does): rate-limit headers speak of that moment,
/// not of the body's end. Without one, the client reads the clock when `send` returns.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and reads the whole response, its body at most `body_limit` bytes:
    /// what came of it, as the Pacer is told ([`Outcome`]: a response; no response; a head
    /// whose body was cut short or over the limit). `Err` when the request cannot be sent at
    /// all (an unsupported scheme, an invalid header): the caller's to fix, with a
    /// description, never told to the Pacer.
    fn send(
        &self,
        request: Request<Vec<u8>>,
        body_limit: u64,
    ) -> impl Future<Output = Result<Outcome, String>> + Send;
}

/// The provided [`Transport`]: HTTP/1.1 by [ureq-proto](ureq_proto) (the sans-IO machine
/// under ureq 3) over `async-io` TCP sockets, TLS by rustls (feature `tls`), keep-alive
/// connections reused per origin. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct HttpTransport {
    pool: Pool,
    timeouts: Timeouts,
    #[cfg(feature = "tls")]
    tls: futures_rustls::TlsConnector,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

/// Idle connections kept per origin: enough for a few dozen tasks on one API.
pub const MAX_IDLE_PER_ORIGIN: usize = 32;

/// How long an idle connection is kept: 15 s, ureq's `max_idle_age` (servers commonly close
/// idle keep-alive connections after 5 to 75 s; nginx's `keepalive_timeout` is 75 s).
pub const MAX_IDLE_AGE: Duration = Duration::from_secs(15);

/// The largest response head read: 64 KiB (ureq's `max_response_header_size`).
const MAX_HEAD: usize = 64 * 1024;
const CHUNK: usize = 16 * 1024;

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}
type Conn = Box<dyn Io>;
/// Idle connections by origin, each with the time it was put back.
type Pool = Arc<Mutex<HashMap<String, Vec<(Conn, Instant)>>>>;

/// Why an attempt ended before a whole response: a request that cannot be sent (`Err` of
/// [`Transport::send`]), or the outcome the Pacer is told.
enum Early {
    Invalid(String),
    Told(Box<Outcome>),
}

impl Default for HttpTransport {
    fn default() -> Self {
        HttpTransport::new(Timeouts::default())
    }
}

impl HttpTransport {
    /// A transport whose attempts run under `timeouts`; HTTPS trusts the webpki roots.
    pub fn new(timeouts: Timeouts) -> Self {
        HttpTransport {
            pool: Arc::default(),
            timeouts,
            #[cfg(feature = "tls")]
            tls: tls_connector(),
        }
    }

    /// One attempt: a connection from the pool or a new one, the exchange, the connection
    /// back to the pool when the response allows.
    async fn attempt(&self, request: Request<Vec<u8>>, limit: u64) -> Result<Outcome, Early> {
        let (mut parts, body) = request.into_parts();
        let (https, host, port, origin) = target(&parts.uri)?;
        // As paceline-ureq: without a body, GET and the like go without `Content-Length`;
        // POST, PUT and PATCH always carry one, as some servers answer 411 otherwise.
        let body_method = [Method::POST, Method::PUT, Method::PATCH].contains(&parts.method);
        let headers = &mut parts.headers;
        if (body_method || !body.is_empty()) && !headers.contains_key(TRANSFER_ENCODING) {
            headers.entry(CONTENT_LENGTH).or_insert(body.len().into());
        }
        let call = Call::new(Request::from_parts(parts, ())).map_err(invalid)?;
        let (bytes, call) = encode(call.proceed(), &body)?;
        let mut conn = match self.idle(&origin) {
            Some(conn) => conn,
            None => self.connect(https, &host, port).await?,
        };
        let idle = self.timeouts.idle;
        let written = async {
            conn.write_all(&bytes).await?;
            conn.flush().await
        };
        timed(idle, written, io_timeout)
            .await
            .map_err(|e| io_failure(&e, "sending"))?;
        let mut input = Vec::new();
        let (outcome, reusable) = receive(&mut conn, call, &mut input, limit, idle).await?;
        if reusable && input.is_empty() {
            self.put(origin, conn);
        }
        Ok(outcome)
    }

    /// A pooled connection to `origin` that is still open, if any.
    fn idle(&self, origin: &str) -> Option<Conn> {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        let conns = pool.get_mut(origin)?;
        while let Some((mut conn, since)) = conns.pop() {
            // A readable idle connection was closed by the server (or sent junk): drop it.
            let mut cx = Context::from_waker(Waker::noop());
            let stale = Pin::new(&mut conn)
                .poll_read(&mut cx, &mut [0; 1])
                .is_ready();
            if since.elapsed() < MAX_IDLE_AGE && !stale {
                return Some(conn);
            }
        }
        None
    }

    fn put(&self, origin: String, conn: Conn) {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        let conns = pool.entry(origin).or_default();
        conns.retain(|(_, since)| since.elapsed() < MAX_IDLE_AGE);
        if conns.len() < MAX_IDLE_PER_ORIGIN {
            conns.push((conn, Instant::now()));
        }
    }

    /// Resolves (on the blocking pool) and connects, TCP then TLS for `https`, within the
    /// connect timeout.
    async fn connect(&self, https: bool, host: &str, port: u16) -> Result<Conn, Early> {
        let connecting = TcpStream::connect((host, port));
        let tcp = timed(self.timeouts.connect, connecting, io_timeout)
            .await
            .map_err(|e| {
                let kind = match e.kind() {
                    io::ErrorKind::TimedOut => TransportKind::Timeout,
                    _ => TransportKind::Connect,
                };
                told(TransportError::before_send(kind), e.to_string())
            })?;
        // A request goes in one write, but a body too large for one segment would wait for
        // Nagle's acknowledgement.
        tcp.set_nodelay(true)
            .map_err(|e| io_failure(&e, "connecting"))?;
        if !https {
            return Ok(Box::new(tcp));
        }
        #[cfg(feature = "tls")]
        {
            use futures_rustls::pki_types::ServerName;
            let name = ServerName::try_from(host.to_owned()).map_err(invalid)?;
            let tls = self.tls.connect(name, tcp);
            let tls = timed(self.timeouts.connect, tls, io_timeout).await;
            Ok(Box::new(tls.map_err(|e| io_failure(&e, "TLS handshake"))?))
        }
        #[cfg(not(feature = "tls"))]
        Err(Early::Invalid("https needs the `tls` feature".into()))
    }
}

impl Transport for HttpTransport {
    async fn send(&self, request: Request<Vec<u8>>, limit: u64) -> Result<Outcome, String> {
        let timeout = |limit| {
            let error = TransportError::after_send(TransportKind::Timeout);
            Err(told(error, format!("the attempt took over {limit:?}")))
        };
        match timed(self.timeouts.attempt, self.attempt(request, limit), timeout).await {
            Ok(outcome) => Ok(outcome),
            Err(Early::Told(outcome)) => Ok(*outcome),
            Err(Early::Invalid(e)) => Err(e),
        }
    }
}

/// Whether `uri` is `https`, its host (without an IPv6 literal's brackets), its port, and its
/// origin (`scheme://host:port`, the pool's key).
fn target(uri: &Uri) -> Result<(bool, String, u16, String), Early> {
    let (https, host) = match (uri.scheme_str(), uri.host()) {
        (Some("http"), Some(host)) => (false, host),
        (Some("https"), Some(host)) => (true, host),
        _ => return Err(invalid(format!("cannot send to {uri}: not http(s)"))),
    };
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let scheme = if https { "https" } else { "http" };
    let origin = format!("{scheme}://{host}:{port}");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((https, host.to_owned(), port, origin))
}

/// The request's head and body, encoded for one write, and the call awaiting the response.
fn encode(
    mut call: Call<SendRequest>,
    mut body: &[u8],
) -> Result<(Vec<u8>, Call<RecvResponse>), Early> {
    let (mut bytes, mut out) = (Vec::new(), vec![0; CHUNK]);
    while !call.can_proceed() {
        let n = call.write(&mut out).map_err(invalid)?;
        bytes.extend_from_slice(&out[..n]);
    }
    let proceeded = call.proceed().map_err(invalid)?;
    let mut call = match proceeded.expect("the head is written") {
        SendRequestResult::RecvResponse(call) => return Ok((bytes, call)),
        SendRequestResult::SendBody(call) => call,
        SendRequestResult::Await100(call) => match call.proceed().map_err(invalid)? {
            Await100Result::SendBody(call) => call,
            Await100Result::RecvResponse(call) => return Ok((bytes, call)),
        },
    };
    while !call.can_proceed() {
        let max = call.calculate_max_input(out.len());
        let input = &body[..body.len().min(max)];
        let (used, n) = call.write(input, &mut out).map_err(invalid)?;
        if used == 0 && n == 0 {
            return Err(invalid("the body does not match its Content-Length"));
        }
        body = &body[used..];
        bytes.extend_from_slice(&out[..n]);
    }
    Ok((bytes, call.proceed().expect("the body is written")))
}

/// Reads the response head (stamped with its arrival: the moment the server's headers speak
/// of), then its body up to `limit`; with the outcome, whether the connection may be reused.
async fn receive(
    conn: &mut Conn,
    mut call: Call<RecvResponse>,
    input: &mut Vec<u8>,
    limit: u64,
    idle: Option<Duration>,
) -> Result<(Outcome, bool), Early> {
    let head = loop {
        let (used, head) = call
            .try_response(input, false)
            .map_err(|e| told(other(), format!("protocol error: {e}")))?;
        input.drain(..used);
        if let Some(head) = head {
            break head;
        }
        if used > 0 {
            continue; // an interim 1xx
        }
        if input.len() > MAX_HEAD {
            return Err(told(other(), "the response head is too large".into()));
        }
        match read_more(conn, input, idle).await {
            Ok(0) => return Err(told(reset(), "closed before the response head".into())),
            Ok(_) => {}
            Err(e) => return Err(io_failure(&e, "awaiting the head")),
        }
    };
    let (mut head, ()) = head.into_parts();
    head.extensions.insert(paceline_driver::clock());
    let mut call = match call.proceed().expect("a head was read") {
        Recv::RecvBody(call) => call,
        Recv::Redirect(r) => return Ok((whole(head, vec![]), !r.must_close_connection())),
        Recv::Cleanup(c) => return Ok((whole(head, vec![]), !c.must_close_connection())),
    };
    let close_delimited = call.body_mode() == BodyMode::CloseDelimited;
    let (mut body, mut out) = (Vec::new(), vec![0; CHUNK]);
    while close_delimited || !call.can_proceed() {
        if !input.is_empty() {
            let (used, n) = match call.read(input, &mut out) {
                Ok(read) => read,
                Err(e) => return Ok(cut(head, other(), e.to_string())),
            };
            input.drain(..used);
            body.extend_from_slice(&out[..n]);
            if body.len() as u64 > limit {
                return Ok((
                    Outcome::TooLarge {
                        head: Box::new(head),
                        limit,
                    },
                    false,
                ));
            }
            if used > 0 || n > 0 {
                continue;
            }
        }
        match read_more(conn, input, idle).await {
            Ok(0) if close_delimited => break,
            Ok(0) => return Ok(cut(head, reset(), "closed within the body".into())),
            Ok(_) => {}
            Err(e) => return Ok(cut(head, io_error(&e), format!("reading the body: {e}"))),
        }
    }
    let reusable = !close_delimited
        && match call.proceed() {
            Some(RecvBodyResult::Cleanup(c)) => !c.must_close_connection(),
            Some(RecvBodyResult::Redirect(r)) => !r.must_close_connection(),
            None => false,
        };
    Ok((whole(head, body), reusable))
}

fn whole(head: response::Parts, body: Vec<u8>) -> Outcome {
    Outcome::Response(Response::from_parts(head, body))
}

/// A head whose body could not be read: the connection is not reused.
fn cut(head: response::Parts, error: TransportError, detail: String) -> (Outcome, bool) {
    let head = Box::new(head);
    (
        Outcome::BodyFailed {
            head,
            error,
            detail,
        },
        false,
    )
}

async fn read_more(
    conn: &mut Conn,
    input: &mut Vec<u8>,
    idle: Option<Duration>,
) -> io::Result<usize> {
    let len = input.len();
    input.resize(len + CHUNK, 0);
    let read = timed(idle, conn.read(&mut input[len..]), io_timeout).await;
    input.truncate(len + read.as_ref().map_or(0, |n| *n));
    read
}

/// `f`, or `timeout(limit)` once `limit` has passed without it finishing.
async fn timed<T>(
    limit: Option<Duration>,
    f: impl Future<Output = T>,
    timeout: impl FnOnce(Duration) -> T,
) -> T {
    let Some(limit) = limit else { return f.await };
    future::or(f, async {
        Timer::after(limit).await;
        timeout(limit)
    })
    .await
}

fn io_timeout<T>(limit: Duration) -> io::Result<T> {
    let detail = format!("no progress in {limit:?}");
    Err(io::Error::new(io::ErrorKind::TimedOut, detail))
}

fn invalid(e: impl std::fmt::Display) -> Early {
    Early::Invalid(e.to_string())
}

fn told(error: TransportError, detail: String) -> Early {
    Early::Told(Box::new(Outcome::NoResponse { error, detail }))
}

fn other() -> TransportError {
    TransportError::after_send(TransportKind::Other)
}

fn reset() -> TransportError {
    TransportError::after_send(TransportKind::Reset)
}

/// No response, for an I/O error once connected.
fn io_failure(e: &io::Error, phase: &str) -> Early {
    told(io_error(e), format!("{phase}: {e}"))
}

/// The transport error an I/O error stands for, once connected (ureq's rules: in doubt, sent).
pub(crate) fn io_error(e: &io::Error) -> TransportError {
    TransportError::from_io(e.kind())
}

#[cfg(feature = "tls")]
fn tls_connector() -> futures_rustls::TlsConnector {
    use futures_rustls::rustls::{self, ClientConfig, RootCertStore};
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    futures_rustls::TlsConnector::from(Arc::new(config))
}
