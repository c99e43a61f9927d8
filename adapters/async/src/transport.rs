//! The HTTP transport: the [`Transport`] trait and [`HttpTransport`], ureq-proto's HTTP/1.1
//! machine driven over `async-io` sockets, with a keep-alive pool per origin.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, future};
use http::{Request, Response, Uri, header, response};
use paceline::retry::{TransportError, TransportKind};
use ureq_proto::BodyMode;
use ureq_proto::client::state::{RecvResponse, SendBody};
use ureq_proto::client::{
    Await100Result, Call, RecvBodyResult, RecvResponseResult, SendRequestResult,
};

use crate::timeouts::Timeouts;

/// Sends one attempt of a request: what [`Client`](crate::Client) runs for every
/// [`Step::Send`](paceline::exchange::Step::Send). It follows no redirect and retries
/// nothing: the client's Exchange decides all that.
///
/// A transport that knows when the response head arrived stamps it as a [`paceline::Now`]
/// extension of the head ([`HttpTransport`] does): rate-limit headers speak of that moment,
/// not of the body's end. Without one, the client reads the clock when `send` returns.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and reads the whole response, its body at most `body_limit` bytes.
    fn send(
        &self,
        request: Request<Vec<u8>>,
        body_limit: u64,
    ) -> impl Future<Output = Result<Response<Vec<u8>>, Failure>> + Send;
}

/// Why an attempt produced no complete response.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// The request cannot be sent at all (an unsupported scheme, an invalid header): the
    /// caller's to fix, never told to the Pacer.
    Invalid(String),
    /// No response: a transport error, sent or not, with a description.
    NoResponse(TransportError, String),
    /// A head arrived, its body could not be read: the head's headers still count.
    Body(Box<response::Parts>, TransportError, String),
    /// A head arrived with a body over the limit.
    TooLarge(Box<response::Parts>),
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
    async fn attempt(
        &self,
        request: Request<Vec<u8>>,
        limit: u64,
    ) -> Result<Response<Vec<u8>>, Failure> {
        let (parts, body) = request.into_parts();
        let origin = origin(&parts.uri)?;
        let needs_length = !body.is_empty()
            || matches!(
                parts.method,
                http::Method::POST | http::Method::PUT | http::Method::PATCH
            );
        let has_length = parts.headers.contains_key(header::CONTENT_LENGTH)
            || parts.headers.contains_key(header::TRANSFER_ENCODING);
        let uri = parts.uri.clone();
        let mut call = Call::new(Request::from_parts(parts, ())).map_err(invalid)?;
        if needs_length && !has_length {
            call.header(header::CONTENT_LENGTH, body.len())
                .map_err(invalid)?;
        }
        let mut conn = match self.idle(&origin) {
            Some(conn) => conn,
            None => self.connect(&uri).await?,
        };
        let idle = self.timeouts.idle;
        let mut input = Vec::new();
        let call = send(&mut conn, call.proceed(), &body, idle).await?;
        let (head, result) = receive(&mut conn, call, &mut input, limit, idle).await?;
        match result {
            Ok((body, reusable)) => {
                if reusable && input.is_empty() {
                    self.put(origin, conn);
                }
                Ok(Response::from_parts(head, body))
            }
            Err(None) => Err(Failure::TooLarge(Box::new(head))),
            Err(Some((error, detail))) => Err(Failure::Body(Box::new(head), error, detail)),
        }
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

    /// Resolves and connects (TCP, then TLS for `https`) within the connect timeout.
    async fn connect(&self, uri: &Uri) -> Result<Conn, Failure> {
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = timed(self.timeouts.connect, tcp_connect(host.to_owned(), port))
            .await
            .map_err(|e| {
                let kind = match e.kind() {
                    io::ErrorKind::TimedOut => TransportKind::Timeout,
                    _ => TransportKind::Connect,
                };
                Failure::NoResponse(TransportError::before_send(kind), e.to_string())
            })?;
        if !https {
            return Ok(Box::new(tcp));
        }
        #[cfg(feature = "tls")]
        {
            use futures_rustls::pki_types::ServerName;
            let name = ServerName::try_from(host.to_owned()).map_err(invalid)?;
            let tls = timed(self.timeouts.connect, self.tls.connect(name, tcp)).await;
            Ok(Box::new(tls.map_err(|e| transport(&e, "TLS handshake"))?))
        }
        #[cfg(not(feature = "tls"))]
        Err(Failure::Invalid("https needs the `tls` feature".into()))
    }
}

impl Transport for HttpTransport {
    async fn send(
        &self,
        request: Request<Vec<u8>>,
        limit: u64,
    ) -> Result<Response<Vec<u8>>, Failure> {
        timed_failure(self.timeouts.attempt, self.attempt(request, limit)).await
    }
}

/// `scheme://host:port`, the pool's key.
fn origin(uri: &Uri) -> Result<String, Failure> {
    let scheme = uri.scheme_str().unwrap_or_default();
    match (scheme, uri.host()) {
        ("http" | "https", Some(host)) => {
            let port = uri
                .port_u16()
                .unwrap_or(if scheme == "https" { 443 } else { 80 });
            Ok(format!("{scheme}://{host}:{port}"))
        }
        _ => Err(Failure::Invalid(format!(
            "cannot send to {uri}: http or https only"
        ))),
    }
}

async fn tcp_connect(host: String, port: u16) -> io::Result<Async<TcpStream>> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            blocking::unblock(move || (host.as_str(), port).to_socket_addrs().map(Vec::from_iter))
                .await?
        }
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    for addr in addrs {
        match Async::<TcpStream>::connect(addr).await {
            Ok(tcp) => {
                // Head and body are written separately: Nagle would hold the second.
                tcp.get_ref().set_nodelay(true)?;
                return Ok(tcp);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Writes the request head and body.
async fn send(
    conn: &mut Conn,
    mut call: Call<ureq_proto::client::state::SendRequest>,
    body: &[u8],
    idle: Option<Duration>,
) -> Result<Call<RecvResponse>, Failure> {
    let mut out = vec![0; CHUNK];
    while !call.can_proceed() {
        let n = call.write(&mut out).map_err(invalid)?;
        timed(idle, conn.write_all(&out[..n]))
            .await
            .map_err(|e| transport(&e, "sending"))?;
    }
    let body_call = match call.proceed().map_err(invalid)? {
        Some(SendRequestResult::RecvResponse(call)) => return Ok(call),
        Some(SendRequestResult::SendBody(call)) => call,
        Some(SendRequestResult::Await100(call)) => match call.proceed().map_err(invalid)? {
            Await100Result::SendBody(call) => call,
            Await100Result::RecvResponse(call) => return Ok(call),
        },
        None => unreachable!("the head is written"),
    };
    send_body(conn, body_call, body, &mut out, idle).await
}

async fn send_body(
    conn: &mut Conn,
    mut call: Call<SendBody>,
    mut body: &[u8],
    out: &mut [u8],
    idle: Option<Duration>,
) -> Result<Call<RecvResponse>, Failure> {
    while !call.can_proceed() {
        let max = call.calculate_max_input(out.len());
        let (used, n) = call
            .write(&body[..body.len().min(max)], out)
            .map_err(invalid)?;
        if used == 0 && n == 0 {
            return Err(Failure::Invalid(
                "the body does not match its Content-Length".into(),
            ));
        }
        body = &body[used..];
        timed(idle, conn.write_all(&out[..n]))
            .await
            .map_err(|e| transport(&e, "sending"))?;
    }
    timed(idle, conn.flush())
        .await
        .map_err(|e| transport(&e, "sending"))?;
    Ok(call.proceed().expect("the body is written"))
}

/// What reading a body gave: the body and whether the connection may be reused, `None` for a
/// body over the limit, or a transport error.
type BodyResult = Result<(Vec<u8>, bool), Option<(TransportError, String)>>;

/// Reads the response head, then its body.
async fn receive(
    conn: &mut Conn,
    mut call: Call<RecvResponse>,
    input: &mut Vec<u8>,
    limit: u64,
    idle: Option<Duration>,
) -> Result<(response::Parts, BodyResult), Failure> {
    let head = loop {
        let (used, head) = call.try_response(input, false).map_err(|e| protocol(&e))?;
        input.drain(..used);
        if let Some(head) = head {
            break head;
        }
        if used > 0 {
            continue; // an interim 1xx
        }
        if input.len() > MAX_HEAD {
            return Err(Failure::NoResponse(
                other(),
                "the response head is too large".into(),
            ));
        }
        if read_more(conn, input, idle)
            .await
            .map_err(|e| transport(&e, "awaiting the head"))?
            == 0
        {
            let reset = TransportError::after_send(TransportKind::Reset);
            return Err(Failure::NoResponse(
                reset,
                "closed before the response head".into(),
            ));
        }
    };
    let (mut head, ()) = head.into_parts();
    // The moment the server's headers speak of: the head's arrival, not the body's end.
    head.extensions.insert(paceline_driver::clock());
    let result = match call.proceed().expect("a head was read") {
        RecvResponseResult::RecvBody(mut call) => {
            let close_delimited = call.body_mode() == BodyMode::CloseDelimited;
            let mut body = Vec::new();
            let mut out = vec![0; CHUNK];
            let read = loop {
                if !close_delimited && call.can_proceed() {
                    break Ok(());
                }
                if !input.is_empty() {
                    match call.read(input, &mut out) {
                        Ok((used, n)) => {
                            input.drain(..used);
                            body.extend_from_slice(&out[..n]);
                            if body.len() as u64 > limit {
                                break Err(None);
                            }
                            if used > 0 || n > 0 {
                                continue;
                            }
                        }
                        Err(e) => break Err(Some((other(), e.to_string()))),
                    }
                }
                match read_more(conn, input, idle).await {
                    Ok(0) if close_delimited => break Ok(()),
                    Ok(0) => {
                        let reset = TransportError::after_send(TransportKind::Reset);
                        break Err(Some((reset, "closed within the body".into())));
                    }
                    Ok(_) => {}
                    Err(e) => break Err(Some((io_error(&e), format!("reading the body: {e}")))),
                }
            };
            read.map(|()| {
                let reusable = !close_delimited
                    && match call.proceed() {
                        Some(RecvBodyResult::Cleanup(c)) => !c.must_close_connection(),
                        Some(RecvBodyResult::Redirect(r)) => !r.must_close_connection(),
                        None => false,
                    };
                (body, reusable)
            })
        }
        RecvResponseResult::Redirect(r) => Ok((Vec::new(), !r.must_close_connection())),
        RecvResponseResult::Cleanup(c) => Ok((Vec::new(), !c.must_close_connection())),
    };
    Ok((head, result))
}

async fn read_more(
    conn: &mut Conn,
    input: &mut Vec<u8>,
    idle: Option<Duration>,
) -> io::Result<usize> {
    let len = input.len();
    input.resize(len + CHUNK, 0);
    let read = timed(idle, conn.read(&mut input[len..])).await;
    input.truncate(len + read.as_ref().map_or(0, |n| *n));
    read
}

/// `f`, or a `TimedOut` error once `limit` has passed.
async fn timed<T>(
    limit: Option<Duration>,
    f: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    let Some(limit) = limit else { return f.await };
    future::or(f, async {
        Timer::after(limit).await;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no progress in {limit:?}"),
        ))
    })
    .await
}

/// The whole attempt under its deadline: in doubt, sent.
async fn timed_failure<T>(
    limit: Option<Duration>,
    f: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let Some(limit) = limit else { return f.await };
    future::or(f, async {
        Timer::after(limit).await;
        let timeout = TransportError::after_send(TransportKind::Timeout);
        Err(Failure::NoResponse(
            timeout,
            format!("the attempt took over {limit:?}"),
        ))
    })
    .await
}

fn invalid(e: impl std::fmt::Display) -> Failure {
    Failure::Invalid(e.to_string())
}

fn other() -> TransportError {
    TransportError::after_send(TransportKind::Other)
}

fn protocol(e: &ureq_proto::Error) -> Failure {
    Failure::NoResponse(other(), format!("protocol error: {e}"))
}

fn transport(e: &io::Error, phase: &str) -> Failure {
    Failure::NoResponse(io_error(e), format!("{phase}: {e}"))
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
