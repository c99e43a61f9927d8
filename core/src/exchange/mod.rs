//! One request through the [`Pacer`], start to final answer: an [`Exchange`] is the loop
//! every driver would otherwise write (ask before each attempt, report after, wait or retry
//! when told, follow redirects with one credential rule), as a sans-IO machine.
//!
//! The Pacer is one per API and shared by every request to it; an exchange is one per
//! request and borrows the Pacer at each call, so a driver runs as many exchanges at once as
//! it likes under one budget (holding its lock only for the call, never across the I/O).
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use paceline::exchange::{Exchange, ExchangeConfig, Step};
//! use paceline::{Now, Pacer, PacerConfig};
//! use std::time::{Instant, SystemTime};
//!
//! let mut pacer = Pacer::new(PacerConfig::default(), 7);
//! let mut now = Now::new(Instant::now(), SystemTime::now());
//! let request = Request::get("https://api.example.com/v1/items").body(Vec::new()).unwrap();
//! let mut exchange = Exchange::new(&pacer, request, &ExchangeConfig::default()).unwrap();
//! let mut answers = vec![
//!     Response::builder().status(200).body(b"[]".to_vec()).unwrap(),
//!     Response::builder().status(302).header("location", "/v2/items").body(Vec::new()).unwrap(),
//!     Response::builder().status(503).header("retry-after", "1").body(Vec::new()).unwrap(),
//! ];
//! let response = loop {
//!     match exchange.poll(&mut pacer, now) {
//!         Step::Send(request) => {
//!             let answer = answers.pop().unwrap(); // a driver sends `request` here
//!             exchange.on_response(&mut pacer, now, answer);
//!         }
//!         Step::Wait(until) => now = now.at(until), // a driver sleeps here
//!         Step::WaitForPermit => unreachable!("no concurrency limit configured"),
//!         Step::Reserve(_) => unreachable!("no shared budget configured"),
//!         Step::Done(response) => break response,
//!         Step::Fail(e) => panic!("{e}"),
//!     }
//! };
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(exchange.uri(), "https://api.example.com/v2/items");
//! assert_eq!(exchange.attempts(), 3);
//! ```

use std::time::Instant;

use http::{HeaderName, Request, Response, Uri, request};
use url::Url;

use crate::retry::{TransportError, TransportKind};
use crate::{Begin, Call, Error, Finish, Now, Pacer, RetrySafe};

mod outcome;
mod timeouts;

pub use outcome::{AttemptRecord, Outcome, SendError};
pub use timeouts::{
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, Timeouts,
};

/// How an [`Exchange`] follows redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExchangeConfig {
    /// Redirects followed at most (default 10, as browsers and curl's `-L` cap them loosely;
    /// 0: a 3xx is the final answer).
    pub max_redirects: u32,
    /// Headers removed, beside `Authorization`, `Proxy-Authorization` and `Cookie`, when a
    /// redirect leads to another origin.
    pub secret_headers: Vec<HeaderName>,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            max_redirects: 10,
            secret_headers: Vec::new(),
        }
    }
}

impl ExchangeConfig {
    /// Sets [`ExchangeConfig::max_redirects`].
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.max_redirects = n;
        self
    }

    /// Adds a secret header ([`ExchangeConfig::secret_headers`]).
    pub fn secret_header(mut self, name: HeaderName) -> Self {
        self.secret_headers.push(name);
        self
    }
}

/// A request extension naming headers that are secrets of this request alone, removed (like
/// [`ExchangeConfig::secret_headers`]) when a redirect leads to another origin. A page walk's
/// requests carry their walk's credential headers this way
/// ([`crate::paginate::PageRequest::to_http`]), so no driver has to pass them on.
///
/// ```
/// let mut request = http::Request::get("https://api.example.com/items").body(Vec::<u8>::new()).unwrap();
/// request
///     .extensions_mut()
///     .insert(paceline::exchange::SecretHeaders(vec![http::HeaderName::from_static("x-api-key")]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretHeaders(pub Vec<HeaderName>);

/// What to do next, from [`Exchange::poll`].
#[derive(Debug)]
#[must_use]
pub enum Step {
    /// Send this request now, then report how it went: [`Exchange::on_response`],
    /// [`Exchange::on_transport_error`], [`Exchange::on_body_error`] or
    /// [`Exchange::on_body_too_large`] (or [`Exchange::cancel`] to drop it).
    Send(Request<Vec<u8>>),
    /// Nothing before this instant: sleep, then poll again.
    Wait(Instant),
    /// The Pacer's concurrency limit is reached: poll again once another request of the same
    /// Pacer has finished.
    WaitForPermit,
    /// The final answer (any status the Pacer does not retry, a 404 included). Terminal.
    Done(Response<Vec<u8>>),
    /// The Pacer gave up or refused; no response to hand back. Terminal.
    Fail(Error),
    /// Ask the shared budget's store for these tokens (only with a
    /// [`crate::PacerConfig::shared`] budget), report its answer with
    /// [`Exchange::on_reserved`], then poll again.
    Reserve(crate::shared::Reservation),
}

#[derive(Debug)]
enum State {
    /// Ask the Pacer.
    Ready,
    /// Sent; the driver owes its outcome.
    Sent,
    /// Retry after this instant.
    RetryAt(Instant),
    Done(Response<Vec<u8>>),
    Failed(Error),
    /// Handed out (`Done` or `Fail` polled), or abandoned.
    Over,
}

/// One request through a [`Pacer`]: see the [module docs](self).
#[derive(Debug)]
pub struct Exchange {
    parts: request::Parts,
    body: Vec<u8>,
    call: Call,
    retry_safe: bool,
    /// Whether the Pacer was asked for an idempotency key.
    keyed: bool,
    state: State,
    hops: u32,
    attempts: u32,
    /// What [`Exchange::report`] was told, for the driver's error.
    records: Vec<AttemptRecord>,
    config: ExchangeConfig,
}

/// Why an [`Exchange`] cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The URI has no scheme or no host: nothing can be sent.
    RelativeUri(String),
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExchangeError::RelativeUri(uri) => write!(f, "not an absolute URI: {uri}"),
        }
    }
}

impl std::error::Error for ExchangeError {}

impl Exchange {
    /// An exchange of `request` under `pacer`. A request marked with [`RetrySafe`] (a page
    /// read) is retried whatever its method.
    ///
    /// # Errors
    /// [`ExchangeError::RelativeUri`]: a URI without a scheme or host.
    pub fn new(
        pacer: &Pacer,
        request: Request<Vec<u8>>,
        config: &ExchangeConfig,
    ) -> Result<Exchange, ExchangeError> {
        let (parts, body) = request.into_parts();
        if parts.uri.scheme().is_none() || parts.uri.authority().is_none() {
            return Err(ExchangeError::RelativeUri(parts.uri.to_string()));
        }
        let retry_safe = parts.extensions.get::<RetrySafe>().is_some();
        let call = new_call(pacer, &parts, retry_safe);
        let mut config = config.clone();
        if let Some(SecretHeaders(more)) = parts.extensions.get::<SecretHeaders>() {
            config.secret_headers.extend(more.iter().cloned());
        }
        Ok(Exchange {
            parts,
            body,
            call,
            retry_safe,
            keyed: false,
            state: State::Ready,
            hops: 0,
            attempts: 0,
            records: Vec::new(),
            config,
        })
    }

    /// What to do next. Call it first, after every report, and after every wait. Asking again
    /// before reporting a sent attempt gives the same request (not a new attempt).
    pub fn poll(&mut self, pacer: &mut Pacer, now: Now) -> Step {
        if !self.keyed {
            // Once per logical request: the same key on every attempt and redirect.
            self.keyed = true;
            if let Some((name, key)) =
                pacer.idempotency_key(&self.parts.method, &self.parts.headers)
            {
                self.parts.headers.insert(name, key);
                self.call.mark_retry_safe();
                self.retry_safe = true;
            }
        }
        loop {
            match std::mem::replace(&mut self.state, State::Over) {
                State::Ready => match pacer.poll_send(&mut self.call, now) {
                    Begin::Send => {
                        self.state = State::Sent;
                        self.attempts += 1;
                        return Step::Send(self.request());
                    }
                    Begin::Wait(t) => {
                        self.state = State::Ready;
                        return Step::Wait(t);
                    }
                    Begin::WaitForPermit => {
                        self.state = State::Ready;
                        return Step::WaitForPermit;
                    }
                    Begin::Reject(e) => return Step::Fail(e),
                    Begin::Reserve(r) => {
                        self.state = State::Ready;
                        return Step::Reserve(r);
                    }
                },
                State::RetryAt(t) if now.mono < t => {
                    self.state = State::RetryAt(t);
                    return Step::Wait(t);
                }
                State::RetryAt(_) => self.state = State::Ready,
                State::Sent => {
                    // The driver owes the outcome: asking again gives the same request, and
                    // is not a new attempt.
                    self.state = State::Sent;
                    return Step::Send(self.request());
                }
                State::Done(response) => return Step::Done(response),
                State::Failed(e) => return Step::Fail(e),
                State::Over => {
                    return Step::Fail(Error::Transport(TransportError::before_send(
                        TransportKind::Other,
                    )));
                }
            }
        }
    }

    /// The response to the attempt sent, its body read in full. A redirect the Pacer is done
    /// with is followed (a new attempt, paced too) while [`ExchangeConfig::max_redirects`]
    /// allows and [`crate::redirect::follow`] says where.
    pub fn on_response(&mut self, pacer: &mut Pacer, now: Now, response: Response<Vec<u8>>) {
        if !matches!(self.state, State::Sent) {
            return;
        }
        let finish = pacer.on_response_body(
            &mut self.call,
            now,
            response.status(),
            response.headers(),
            response.body(),
        );
        self.state = match finish {
            Finish::Done => match self.redirect(pacer, &response) {
                true => State::Ready,
                false => State::Done(response),
            },
            Finish::RetryAt(t) => State::RetryAt(t),
            Finish::Fail(e) => State::Failed(e),
        };
    }

    /// The shared store's answer to the [`Step::Reserve`] polled, as it arrived at `now`
    /// ([`Pacer::on_reserved`]). Ignored unless the exchange is waiting to send.
    pub fn on_reserved(&mut self, pacer: &mut Pacer, now: Now, reply: crate::shared::Reply) {
        if matches!(self.state, State::Ready) {
            pacer.on_reserved(&mut self.call, now, reply);
        }
    }

    /// No response to the attempt sent (a refused connection, a reset, a timeout).
    pub fn on_transport_error(&mut self, pacer: &mut Pacer, now: Now, error: TransportError) {
        if !matches!(self.state, State::Sent) {
            return;
        }
        let finish = pacer.on_transport_error(&mut self.call, now, error);
        self.finish_without_response(finish, error);
    }

    /// A response head whose body could not be read: its headers still count.
    pub fn on_body_error(
        &mut self,
        pacer: &mut Pacer,
        now: Now,
        head: &http::response::Parts,
        error: TransportError,
    ) {
        if !matches!(self.state, State::Sent) {
            return;
        }
        let finish = pacer.on_body_error(&mut self.call, now, head.status, &head.headers, error);
        self.finish_without_response(finish, error);
    }

    /// A response whose body is over the driver's limit: sent again, the same body would come
    /// back, so it is never retried. The exchange is over; the driver reports its own error.
    pub fn on_body_too_large(&mut self, pacer: &mut Pacer, now: Now, head: &http::response::Parts) {
        if !matches!(self.state, State::Sent) {
            return;
        }
        let error = TransportError::after_send(TransportKind::Other);
        let _ = pacer.on_body_error(&mut self.call, now, head.status, &head.headers, error);
        self.state = State::Over;
    }

    /// Reports how the attempt sent ended, and keeps it for the driver's error (the one place
    /// a driver needs: it calls the `on_*` method that fits). `Some` when the exchange is
    /// over without a response the Pacer could retry: a body over the limit.
    pub fn report<I>(
        &mut self,
        pacer: &mut Pacer,
        now: Now,
        outcome: Outcome,
    ) -> Option<SendError<I>> {
        #[cfg(feature = "tracing")]
        if let Some(failed) = outcome.failure() {
            // The Pacer's events say what it does about a failure; this, what the transport saw.
            tracing::debug!(
                code = "attempt_failed",
                kind = ?failed.0.kind,
                sent = failed.0.sent,
                timeout = failed.0.kind == TransportKind::Timeout,
                status = failed.1,
                detail = %failed.2,
                "paceline: attempt failed"
            );
        }
        match outcome {
            Outcome::Response(response) => {
                self.records.push(AttemptRecord::status(response.status()));
                self.on_response(pacer, now, response);
            }
            Outcome::NoResponse { error, detail } => {
                self.records.push(AttemptRecord::transport(error, detail));
                self.on_transport_error(pacer, now, error);
            }
            Outcome::BodyFailed {
                head,
                error,
                detail,
            } => {
                self.records.push(AttemptRecord::transport(error, detail));
                self.on_body_error(pacer, now, &head, error);
            }
            Outcome::TooLarge { head, limit } => {
                let error = TransportError::after_send(TransportKind::Other);
                let detail = format!("a body over the limit of {limit} bytes");
                self.records.push(AttemptRecord::transport(error, detail));
                self.on_body_too_large(pacer, now, &head);
                return Some(SendError::BodyTooLarge {
                    limit,
                    status: head.status,
                    attempts: std::mem::take(&mut self.records),
                });
            }
        }
        None
    }

    /// The driver's error for a [`Step::Fail`]: the Pacer's reason with every attempt
    /// [`Exchange::report`] was told of.
    pub fn gave_up<I>(&mut self, error: Error) -> SendError<I> {
        SendError::GaveUp {
            error,
            attempts: std::mem::take(&mut self.records),
        }
    }

    /// Drops the exchange: an attempt sent and not reported gives its permit back.
    pub fn cancel(&mut self, pacer: &mut Pacer, now: Now) {
        if matches!(self.state, State::Sent) {
            pacer.cancel(&mut self.call, now);
        }
        self.state = State::Over;
    }

    /// Whether an attempt is sent and not yet reported (a driver dropping the exchange then
    /// owes [`Exchange::cancel`]).
    pub fn is_sent(&self) -> bool {
        matches!(self.state, State::Sent)
    }

    /// Attempts sent, redirects included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The URI of the current (or last) attempt: the original one, or where redirects led.
    pub fn uri(&self) -> &Uri {
        &self.parts.uri
    }

    fn finish_without_response(&mut self, finish: Finish, error: TransportError) {
        self.state = match finish {
            Finish::RetryAt(t) => State::RetryAt(t),
            Finish::Fail(e) => State::Failed(e),
            // The Pacer never finishes a request without a response; if it ever did, there
            // is nothing to hand back but the error.
            Finish::Done => State::Failed(Error::Transport(error)),
        };
    }

    fn request(&self) -> Request<Vec<u8>> {
        Request::from_parts(self.parts.clone(), self.body.clone())
    }

    /// Moves to where a final 3xx leads, if it is followed: true when it is.
    fn redirect(&mut self, pacer: &Pacer, response: &Response<Vec<u8>>) -> bool {
        let status = response.status();
        if self.hops >= self.config.max_redirects || !status.is_redirection() {
            return false;
        }
        let Ok(from) = Url::parse(&self.parts.uri.to_string()) else {
            return false;
        };
        let Some(Ok(hop)) =
            crate::redirect::follow(&self.parts.method, &from, status, response.headers())
        else {
            return false;
        };
        let Ok(uri) = hop.url.as_str().parse::<Uri>() else {
            return false;
        };
        self.parts.method = hop.method;
        self.parts.uri = uri;
        if !hop.same_origin {
            crate::redirect::strip_credentials(
                &mut self.parts.headers,
                &self.config.secret_headers,
            );
        }
        if !hop.keep_body {
            self.parts.headers.remove(http::header::CONTENT_LENGTH);
            self.parts.headers.remove(http::header::CONTENT_TYPE);
            self.body.clear();
        }
        self.hops += 1;
        self.call = new_call(pacer, &self.parts, self.retry_safe);
        true
    }
}

fn new_call(pacer: &Pacer, parts: &request::Parts, retry_safe: bool) -> Call {
    // host[:port], never a userinfo's credentials.
    let host = parts
        .uri
        .authority()
        .and_then(|a| a.as_str().rsplit('@').next())
        .unwrap_or("");
    let mut call = pacer.call_to_host(&parts.method, host, parts.uri.path(), &parts.headers);
    if retry_safe {
        call.mark_retry_safe();
    }
    call
}
