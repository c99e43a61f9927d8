//! The client: a [`Transport`] with one shared [`Pacer`] applied to every request.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_io::Timer;
use event_listener::Event as Notify;
use http::{HeaderName, Request, Response};
use paceline::exchange::{Exchange, ExchangeConfig, Outcome, Step};
use paceline::shared::SharedSignal;
use paceline::{Event, Now, Pacer, PacerConfig};

use crate::Error;
use crate::events;
use crate::transport::{Failure, HttpTransport, Transport};
use paceline_driver::{clock, drain, drain_shared, os_seed};

/// The largest response body read by default: 10 MiB, as `paceline-ureq` (ureq's own default).
pub const DEFAULT_BODY_LIMIT: u64 = 10 * 1024 * 1024;

/// An async HTTP client that asks one shared [`Pacer`] before every request and tells it after.
///
/// Cheap to clone (an `Arc` inside): every clone, in every task, shares the Pacer, so a pause
/// (a `Retry-After`, a budget running low) holds all of them. The Pacer sits behind a mutex
/// held only while it decides, never across an `.await`.
pub struct Client<T: Transport = HttpTransport> {
    shared: Arc<Shared<T>>,
}

impl<T: Transport> Clone for Client<T> {
    fn clone(&self) -> Self {
        Client {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Transport> std::fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("body_limit", &self.shared.body_limit)
            .finish_non_exhaustive()
    }
}

type Observer = Arc<dyn Fn(&Event) + Send + Sync>;
type Store = Arc<dyn crate::SharedStore>;

struct Shared<T> {
    transport: T,
    pacer: Mutex<Pacer>,
    /// Notified after every report or cancel: a permit may be free.
    finished: Notify,
    body_limit: u64,
    exchange: ExchangeConfig,
    observer: Option<Observer>,
    store: Option<Store>,
}

/// Builds a [`Client`]: [`Client::builder`].
pub struct ClientBuilder<T: Transport = HttpTransport> {
    transport: T,
    pacer: Pacer,
    body_limit: u64,
    exchange: ExchangeConfig,
    observer: Option<Observer>,
    store: Option<Store>,
}

impl Client {
    /// A client over a new [`HttpTransport`] (default [`Timeouts`](crate::Timeouts)) and a Pacer
    /// built from `config`, its jitter seeded from the OS.
    pub fn new(config: PacerConfig) -> Client {
        Client::builder(config).build()
    }

    /// A builder, to set the transport, the body limit, secret headers, an event observer.
    pub fn builder(config: PacerConfig) -> ClientBuilder {
        ClientBuilder {
            transport: HttpTransport::default(),
            pacer: Pacer::new(config, os_seed()),
            body_limit: DEFAULT_BODY_LIMIT,
            exchange: ExchangeConfig::default(),
            observer: None,
            store: None,
        }
    }
}

impl<T: Transport> ClientBuilder<T> {
    /// Sends through `transport` instead.
    pub fn transport<U: Transport>(self, transport: U) -> ClientBuilder<U> {
        let ClientBuilder {
            pacer,
            body_limit,
            exchange,
            observer,
            store,
            ..
        } = self;
        ClientBuilder {
            transport,
            pacer,
            body_limit,
            exchange,
            observer,
            store,
        }
    }

    /// Uses this Pacer (built and seeded by the caller) instead.
    pub fn pacer(mut self, pacer: Pacer) -> Self {
        self.pacer = pacer;
        self
    }

    /// The largest response body read (default [`DEFAULT_BODY_LIMIT`]); a longer one is
    /// [`Error::BodyTooLarge`], not retried.
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = bytes;
        self
    }

    /// A header removed, beside `Authorization`, `Proxy-Authorization` and `Cookie`, when a
    /// redirect leads to another origin ([`ExchangeConfig::secret_headers`]).
    pub fn secret_header(mut self, name: HeaderName) -> Self {
        self.exchange.secret_headers.push(name);
        self
    }

    /// Redirects followed at most ([`ExchangeConfig::max_redirects`], default 10).
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.exchange.max_redirects = n;
        self
    }

    /// Calls `f` with every Pacer event, after forwarding it to `tracing`, outside the lock.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(f));
        self
    }

    /// Keeps the Pacer's shared budget ([`paceline::PacerConfig::shared`]) in `store`
    /// (`paceline_redis::AsyncRedisStore`, say): asked before every attempt, outside the
    /// lock, and told the pauses this client's responses ask for. Without a store, a shared
    /// budget finds its store unreachable and applies its failure mode.
    pub fn shared_store(mut self, store: impl crate::SharedStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The client.
    pub fn build(self) -> Client<T> {
        let shared = Shared {
            transport: self.transport,
            pacer: Mutex::new(self.pacer),
            finished: Notify::new(),
            body_limit: self.body_limit,
            exchange: self.exchange,
            observer: self.observer,
            store: self.store,
        };
        Client {
            shared: Arc::new(shared),
        }
    }
}

impl<T: Transport> Client<T> {
    /// Runs `f` on the shared Pacer (to read [`Pacer::status`], say), under the lock every
    /// request takes: keep it short.
    pub fn with_pacer<R>(&self, f: impl FnOnce(&mut Pacer) -> R) -> R {
        self.shared.finish(f)
    }

    /// A GET of `url`, through [`Client::send`].
    pub async fn get(&self, url: &str) -> Result<Response<Vec<u8>>, Error> {
        let request = Request::get(url).body(Vec::new());
        self.send(request.map_err(|e| Error::InvalidRequest(e.to_string()))?)
            .await
    }

    /// Sends `request` under the Pacer: waits when told (every task of the client waits for
    /// a pause), retries when told, follows redirects, and returns the response the Pacer is
    /// done with (any status) or why it gave up, with every attempt's outcome.
    ///
    /// The loop pumps the core's [`Exchange`] and decides nothing: `Send` (one attempt
    /// through the transport, then report it), `Wait(t)` (`Timer::at(t)`), `WaitForPermit`
    /// (until another request of this client reports or is cancelled), `Reserve` (ask the
    /// [shared store](ClientBuilder::shared_store), feed its answer back), `Done`, `Fail`.
    ///
    /// Cancel-safe: dropping the future mid-attempt cancels the exchange
    /// ([`Exchange::cancel`]), so its concurrency permit and budget reservation go back.
    pub async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let shared = &*self.shared;
        let exchange = Exchange::new(&shared.lock(), request, &shared.exchange)
            .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        let mut pending = Pending { shared, exchange };
        loop {
            let request = match shared.step(&mut pending.exchange).await {
                Step::Send(request) => request,
                Step::Done(response) => return Ok(response),
                Step::Fail(error) => return Err(pending.exchange.gave_up(error)),
                Step::Wait(_) | Step::WaitForPermit | Step::Reserve(_) => {
                    unreachable!("Shared::step waits and reserves")
                }
            };
            let limit = shared.body_limit;
            let outcome = match shared.transport.send(request, limit).await {
                Ok(response) => Outcome::Response(response),
                Err(Failure::NoResponse(error, detail)) => Outcome::NoResponse { error, detail },
                Err(Failure::Body(head, error, detail)) => Outcome::BodyFailed {
                    head,
                    error,
                    detail,
                },
                Err(Failure::TooLarge(head)) => Outcome::TooLarge { head, limit },
                // Dropping the exchange unreported gives its permit back.
                Err(Failure::Invalid(e)) => return Err(Error::InvalidRequest(e)),
            };
            let now = match &outcome {
                Outcome::Response(r) => r.extensions().get::<Now>(),
                Outcome::BodyFailed { head, .. } | Outcome::TooLarge { head, .. } => {
                    head.extensions.get::<Now>()
                }
                Outcome::NoResponse { .. } => None,
            };
            let (now, exchange) = (now.copied().unwrap_or_else(clock), &mut pending.exchange);
            // The report and the signals it queued for other sharers, under one lock.
            let (failed, signals) =
                shared.finish(|p| (exchange.report(p, now, outcome), drain_shared(p)));
            shared.publish(&signals).await;
            if let Some(error) = failed {
                return Err(error);
            }
        }
    }
}

impl<T> Shared<T> {
    /// Polls the exchange until it says `Send`, `Done` or `Fail`, waiting (lock released) on
    /// the timer for `Wait` and on the next report for `WaitForPermit`.
    async fn step(&self, exchange: &mut Exchange) -> Step {
        loop {
            let (step, listener, queued) = {
                let mut pacer = self.lock();
                let step = exchange.poll(&mut pacer, clock());
                // Listening before the lock is released: no report since the decision is missed.
                let listener = matches!(step, Step::WaitForPermit).then(|| self.finished.listen());
                (step, listener, drain(&mut pacer))
            };
            self.forward(queued);
            match (step, listener) {
                (Step::Wait(until), _) => drop(Timer::at(until).await),
                (Step::WaitForPermit, Some(listener)) => listener.await,
                (Step::Reserve(r), _) => {
                    let reply = crate::shared::reserve(self.store.as_deref(), &r).await;
                    let now = clock();
                    self.finish(|p| exchange.on_reserved(p, now, reply));
                }
                (step, _) => return step,
            }
        }
    }

    /// Runs a Pacer call that may free a permit (a report, a cancel) under the lock, wakes the
    /// requests waiting for one, then forwards the events, lock released.
    fn finish<R>(&self, f: impl FnOnce(&mut Pacer) -> R) -> R {
        let (result, queued) = {
            let mut pacer = self.lock();
            let result = f(&mut pacer);
            (result, drain(&mut pacer))
        };
        self.finished.notify(usize::MAX);
        self.forward(queued);
        result
    }

    /// Publishes the signals the Pacer queued (after a report) to the shared store, if there
    /// is one, lock released.
    async fn publish(&self, signals: &[SharedSignal]) {
        if let Some(store) = &self.store {
            for signal in signals {
                store.publish(signal).await;
            }
        }
    }

    fn forward(&self, queued: Vec<Event>) {
        for e in &queued {
            events::forward(e);
            if let Some(f) = &self.observer {
                f(e);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pacer> {
        // The Pacer never panics mid-update: a poisoned lock is still consistent.
        self.pacer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An exchange, cancelled when dropped with an attempt sent but not reported (the `send`
/// future dropped mid-flight, a panic), so its permit and reservation go back.
struct Pending<'a, T> {
    shared: &'a Shared<T>,
    exchange: Exchange,
}

impl<T> Drop for Pending<'_, T> {
    fn drop(&mut self) {
        if self.exchange.is_sent() {
            let exchange = &mut self.exchange;
            self.shared.finish(|p| exchange.cancel(p, clock()));
        }
    }
}
