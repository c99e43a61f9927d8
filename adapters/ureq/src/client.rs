//! The blocking client: a ureq [`Agent`] with a [`Pacer`] applied to every request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, Request, Response};
use paceline::exchange::{ExchangeConfig, Outcome, Step};
use paceline::{Event, Now, Pacer, PacerConfig};
use ureq::config::RedirectAuthHeaders;
use ureq::{Agent, AsSendBody};

use crate::Error;
use crate::timeouts::Timeouts;
use crate::transport::{Failure, classify_run_error, transport_error};
use paceline_driver::{Listener, Observer, Paced, SharedPacer, clock, no_store, os_seed};

/// The largest response body [`Client::send`] reads by default: 10 MiB, ureq's own default for
/// `read_to_vec`.
pub const DEFAULT_BODY_LIMIT: u64 = 10 * 1024 * 1024;

/// A blocking HTTP client that asks a [`Pacer`] before every request and tells it after.
///
/// `&Client` is usable from many threads at once: the Pacer sits behind a mutex that is held
/// only while the Pacer decides, never while sleeping or doing I/O. A clone shares the Pacer
/// (one budget), its event observer ([`Client::on_event`]) and the agent's connections; other
/// settings changed on a clone are its own.
///
/// Whatever agent it is given, every request is sent with these settings forced:
/// - the client's [`Timeouts`] (connect 10 s, idle 30 s, whole attempt 120 s unless set with
///   [`Client::timeouts`]): a stalled server fails the attempt, it never hangs it;
/// - HTTP error statuses come back as responses (`http_status_as_error(false)`), since the Pacer
///   decides what a 429 or a 503 means;
/// - ureq follows no redirect itself (`max_redirects(0)`): the client follows them, as
///   [`paceline::redirect::follow`] decides (up to [`Client::max_redirects`], each hop paced
///   like any request), and a hop to another origin (scheme, host or port) goes without
///   `Authorization`, `Proxy-Authorization`, `Cookie` or the headers named with
///   [`Client::secret_header`]. A redirect from `https` to `http` is not followed: the 3xx is
///   returned.
#[derive(Debug, Clone)]
pub struct Client {
    agent: Agent,
    pacer: Arc<SharedPacer>,
    body_limit: u64,
    timeouts: Timeouts,
    exchange: ExchangeConfig,
    /// Where a shared budget lives ([`Client::shared_store`]).
    store: Option<Store>,
}

/// The client's shared-budget store (see [`Client::shared_store`]).
#[derive(Clone)]
struct Store(Arc<dyn crate::SharedStore>);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Client {
    /// A client with a new agent and a Pacer built from `config`, its jitter seeded from the
    /// OS (the process's hash keys and the time).
    pub fn new(config: PacerConfig) -> Self {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .redirect_auth_headers(RedirectAuthHeaders::Never)
            .max_redirects(0)
            .build()
            .into();
        Client::with_agent(agent, Pacer::new(config, os_seed()))
    }

    /// A client over this agent and this Pacer. The agent keeps its configuration, but for the
    /// settings every request is sent with (see [`Client`]): its timeouts among them, so an
    /// agent's own `timeout_connect`, `timeout_per_read`, `timeout_per_write` or
    /// `timeout_per_call` is replaced unless [`Client::timeouts`] leaves that one `None`.
    pub fn with_agent(agent: Agent, pacer: Pacer) -> Self {
        Client {
            agent,
            pacer: Arc::new(SharedPacer::new(pacer)),
            body_limit: DEFAULT_BODY_LIMIT,
            timeouts: Timeouts::default(),
            exchange: ExchangeConfig::default(),
            store: None,
        }
    }

    /// Keeps the Pacer's shared budget ([`paceline::PacerConfig::shared`]) in `store`
    /// (`paceline_redis::RedisStore`, say): asked before every attempt, outside the lock, and
    /// told the pauses this client's responses ask for. Without a store, a shared budget
    /// finds its store unreachable and applies its failure mode.
    pub fn shared_store(mut self, store: impl crate::SharedStore + 'static) -> Self {
        self.store = Some(Store(Arc::new(store)));
        self
    }

    /// Calls `f` with every event the Pacer raises (a quota threshold crossed, a pause, a
    /// retry...), after forwarding it to `tracing`, outside the client's lock. For progress
    /// displays and metrics that want the events themselves rather than log lines. The
    /// observer is the Pacer's: every clone of this client shares it, and a second call
    /// replaces it.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use paceline::{Event, PacerConfig};
    ///
    /// let retries = Arc::new(AtomicU32::new(0));
    /// let counted = Arc::clone(&retries);
    /// let client = paceline_ureq::Client::new(PacerConfig::default()).on_event(move |e| {
    ///     if matches!(e, Event::Retrying { .. }) {
    ///         counted.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// });
    /// # drop(client);
    /// ```
    pub fn on_event(self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.pacer.set_observer(Observer(Arc::new(f)));
        self
    }

    /// Follows at most `n` redirects per request (default 10; 0 returns every 3xx as it is).
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.exchange.max_redirects = n;
        self
    }

    /// Names a header that carries a secret (an `X-Api-Key`): like `Authorization`, it is
    /// removed from a redirect to another origin.
    pub fn secret_header(mut self, name: http::HeaderName) -> Self {
        self.exchange.secret_headers.push(name);
        self
    }

    /// Sets the largest response body read, in bytes (default [`DEFAULT_BODY_LIMIT`]). A longer
    /// body fails the request with [`Error::BodyTooLarge`], not retried (the Pacer is told of a
    /// transport error of kind `Other`).
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sets how long one attempt may take (default: [`Timeouts::default`], connect 10 s,
    /// idle 30 s, whole attempt 120 s; see [`Timeouts`] for what each covers and why).
    ///
    /// These are ureq's own timeouts (`timeout_resolve` and `timeout_connect`, `timeout_per_read`
    /// and `timeout_per_write`, `timeout_per_call`), set on each request. `None` means this client
    /// sets no limit of its own for that one: the agent's setting, if it has one, applies. The
    /// agent's other timeouts (`timeout_recv_response`, `timeout_recv_body`, `timeout_global`) apply
    /// too, whatever this says.
    ///
    /// ```
    /// use std::time::Duration;
    /// use paceline::PacerConfig;
    /// use paceline_ureq::{Client, Timeouts};
    ///
    /// let client = Client::new(PacerConfig::default())
    ///     .timeouts(Timeouts::default().attempt(Duration::from_secs(20)));
    /// # let _ = client;
    /// ```
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The agent requests go through.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// Runs `f` on the Pacer (to read [`Pacer::last_signal`] or [`Pacer::status`], say), under
    /// the lock every request of this client takes: keep it short. Events `f` leaves queued are
    /// forwarded by the next request.
    pub fn with_pacer<R>(&self, f: impl FnOnce(&mut Pacer) -> R) -> R {
        // `f` may free a permit (a `cancel`).
        self.pacer.with(true, f)
    }

    /// A GET of `url`, through [`Client::send`].
    pub fn get(&self, url: &str) -> Result<Response<Vec<u8>>, Error> {
        let request = Request::get(url)
            .body(Vec::new())
            .map_err(|e| Error::InvalidRequest(ureq::Error::Http(e)))?;
        self.send(request)
    }

    /// Sends `request` under the Pacer: waits when told, retries when told, follows redirects,
    /// and returns the response the Pacer is done with (whatever its status, a final 404
    /// included) with its body read in full, or the reason it gave up with every attempt's
    /// outcome.
    ///
    /// The loop pumps the core's [`Exchange`](paceline::exchange::Exchange) (through
    /// [`Paced`], the pump both drivers share) and holds no policy of its own: `Send` (send
    /// it; read the clock as soon as the response head arrives; read the body; report),
    /// `Wait(t)` (sleep until `t`), `WaitForPermit` (block until another request of this
    /// client finishes), `Reserve` (ask the [shared store](Client::shared_store), feed its
    /// answer back), `Done` or `Fail`. See the crate docs for how ureq errors are sorted.
    ///
    /// After every Pacer call its events are drained and forwarded to `tracing`.
    pub fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let mut paced = Paced::new(&self.pacer, request, &self.exchange)
            .map_err(|e| Error::InvalidRequest(ureq::Error::BadUri(e.to_string())))?;
        loop {
            let request = match paced.poll() {
                (Step::Send(request), _) => request,
                (Step::Wait(until), _) => {
                    sleep_until(until);
                    continue;
                }
                (Step::WaitForPermit, listener) => {
                    listener.expect("a permit's listener").wait();
                    continue;
                }
                (Step::Reserve(reservation), _) => {
                    paced.on_reserved(match &self.store {
                        Some(Store(store)) => store.reserve(&reservation),
                        None => no_store(&reservation),
                    });
                    continue;
                }
                (Step::Done(response), _) => return Ok(response),
                (Step::Fail(error), _) => return Err(paced.gave_up(error)),
            };
            let (parts, body) = request.into_parts();
            // Dropping the exchange unreported gives its permit back.
            let (now, outcome) = self.attempt(&parts, &body).map_err(Error::InvalidRequest)?;
            // The report and the signals it queued for other sharers, under one lock.
            let (failed, signals) = paced.report(now, outcome);
            if let Some(Store(store)) = &self.store {
                signals.iter().for_each(|s| store.publish(s));
            }
            if let Some(error) = failed {
                return Err(error);
            }
        }
    }

    /// One attempt: the request sent, the response head and body read; `Err` when ureq
    /// cannot send it at all.
    fn attempt(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<(Now, Outcome), ureq::Error> {
        // Without a body, GET and the like are sent without `Content-Length`; POST, PUT and PATCH
        // always carry one (`Content-Length: 0`), as some servers answer 411 otherwise.
        let result = if body.is_empty()
            && !matches!(parts.method, Method::POST | Method::PUT | Method::PATCH)
        {
            self.run(parts, ())
        } else {
            self.run(parts, body)
        };
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                let now = clock();
                return match classify_run_error(&e) {
                    Failure::Invalid => Err(e),
                    Failure::Transport(error) => Ok((
                        now,
                        Outcome::NoResponse {
                            error,
                            detail: e.to_string(),
                        },
                    )),
                };
            }
        };
        // The head has arrived: this is the moment the server's headers speak of.
        let now = clock();
        let (head, mut body) = response.into_parts();
        let outcome = match body.with_config().limit(self.body_limit).read_to_vec() {
            Ok(bytes) => Outcome::Response(Response::from_parts(head, bytes)),
            Err(ureq::Error::BodyExceedsLimit(_)) => Outcome::TooLarge {
                head: Box::new(head),
                limit: self.body_limit,
            },
            Err(e) => Outcome::BodyFailed {
                detail: format!(
                    "reading the body of a {} response: {e}",
                    head.status.as_u16()
                ),
                head: Box::new(head),
                error: transport_error(&e),
            },
        };
        Ok((now, outcome))
    }

    fn run<S: AsSendBody>(
        &self,
        parts: &http::request::Parts,
        body: S,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        let mut request = Request::new(body);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        *request.extensions_mut() = parts.extensions.clone();
        let mut config = self
            .agent
            .configure_request(request)
            .http_status_as_error(false)
            .redirect_auth_headers(RedirectAuthHeaders::Never)
            .max_redirects(0);
        // ureq's own timers: each network read or write waits at most the time left of the
        // shortest budget that applies.
        let Timeouts {
            connect,
            idle,
            attempt,
            ..
        } = self.timeouts;
        if let Some(t) = connect {
            config = config.timeout_resolve(Some(t)).timeout_connect(Some(t));
        }
        if let Some(t) = idle {
            config = config.timeout_per_read(Some(t)).timeout_per_write(Some(t));
        }
        if let Some(t) = attempt {
            // One attempt is one ureq call: the client follows redirects itself.
            config = config.timeout_per_call(Some(t));
        }
        self.agent.run(config.build())
    }
}

/// Sleeps until `t`, however many wake-ups that takes (a sleep may end early), and returns only
/// once the clock says `t` has passed.
fn sleep_until(t: Instant) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        let left = t - now;
        if left > WAKE_EARLY {
            // The OS wakes a sleeper late, by up to a millisecond on a busy machine; every
            // late send is budget a strict limiter never gives back. Sleep to just before the
            // instant, then yield until it.
            std::thread::sleep(left - WAKE_EARLY);
        } else {
            std::thread::yield_now();
        }
    }
}

/// How long before a wake-up the client stops sleeping and yields instead.
const WAKE_EARLY: Duration = Duration::from_micros(1500);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ() {
        assert_ne!(os_seed(), os_seed());
    }

    #[test]
    fn relative_uri_is_invalid_without_asking_the_pacer() {
        let client = Client::new(PacerConfig::default());
        let err = client.get("/just/a/path").unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
        assert!(err.attempts().is_empty());
    }

    #[test]
    fn unparsable_url_is_invalid() {
        let client = Client::new(PacerConfig::default());
        let err = client.get("http://exa mple.com/").unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
    }

    #[test]
    fn sleep_until_the_past_returns() {
        sleep_until(Instant::now());
    }
}
