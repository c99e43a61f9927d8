//! The client: a [`Transport`] with one shared [`Pacer`] applied to every request.

use std::sync::Arc;

use async_io::Timer;
use http::{HeaderName, Request, Response};
use paceline::exchange::{ExchangeConfig, Step};
use paceline::{Event, Pacer, PacerConfig};

use crate::Error;
use crate::transport::{HttpTransport, Transport};
use paceline_driver::{Observer, Paced, SharedPacer, clock, no_store, os_seed};

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
            .field("body_limit", &self.shared.settings.body_limit)
            .finish_non_exhaustive()
    }
}

type Store = Arc<dyn crate::SharedStore>;

struct Shared<T> {
    transport: T,
    pacer: SharedPacer,
    settings: Settings,
}

/// What a [`ClientBuilder`] sets beside the transport.
struct Settings {
    body_limit: u64,
    exchange: ExchangeConfig,
    store: Option<Store>,
}

/// Builds a [`Client`]: [`Client::builder`].
pub struct ClientBuilder<T: Transport = HttpTransport> {
    transport: T,
    pacer: SharedPacer,
    settings: Settings,
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
            pacer: SharedPacer::new(Pacer::new(config, os_seed())),
            settings: Settings {
                body_limit: DEFAULT_BODY_LIMIT,
                exchange: ExchangeConfig::default(),
                store: None,
            },
        }
    }
}

impl<T: Transport> ClientBuilder<T> {
    /// Sends through `transport` instead.
    pub fn transport<U: Transport>(self, transport: U) -> ClientBuilder<U> {
        let (pacer, settings) = (self.pacer, self.settings);
        ClientBuilder {
            transport,
            pacer,
            settings,
        }
    }

    /// Uses this Pacer (built and seeded by the caller) instead.
    pub fn pacer(self, pacer: Pacer) -> Self {
        self.pacer.with(false, |p| *p = pacer);
        self
    }

    /// The largest response body read (default [`DEFAULT_BODY_LIMIT`]); a longer one is
    /// [`Error::BodyTooLarge`], not retried.
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.settings.body_limit = bytes;
        self
    }

    /// A header removed, beside `Authorization`, `Proxy-Authorization` and `Cookie`, when a
    /// redirect leads to another origin ([`ExchangeConfig::secret_headers`]).
    pub fn secret_header(mut self, name: HeaderName) -> Self {
        self.settings.exchange.secret_headers.push(name);
        self
    }

    /// Redirects followed at most ([`ExchangeConfig::max_redirects`], default 10).
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.settings.exchange.max_redirects = n;
        self
    }

    /// Calls `f` with every Pacer event, after forwarding it to `tracing`, outside the lock.
    pub fn on_event(self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.pacer.set_observer(Observer(Arc::new(f)));
        self
    }

    /// Keeps the Pacer's shared budget ([`paceline::PacerConfig::shared`]) in `store`
    /// (`paceline_redis::AsyncRedisStore`, say): asked before every attempt, outside the
    /// lock, and told the pauses this client's responses ask for. Without a store, a shared
    /// budget finds its store unreachable and applies its failure mode.
    pub fn shared_store(mut self, store: impl crate::SharedStore + 'static) -> Self {
        self.settings.store = Some(Arc::new(store));
        self
    }

    /// The client.
    pub fn build(self) -> Client<T> {
        let shared = Shared {
            transport: self.transport,
            pacer: self.pacer,
            settings: self.settings,
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
        self.shared.pacer.with(true, f)
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
    /// The loop pumps the core's [`Exchange`](paceline::exchange::Exchange) (through
    /// [`Paced`], the pump both drivers share) and decides nothing: `Send` (one attempt
    /// through the transport, then report it), `Wait(t)` (`Timer::at(t)`), `WaitForPermit`
    /// (until another request of this client reports or is cancelled), `Reserve` (ask the
    /// [shared store](ClientBuilder::shared_store), feed its answer back), `Done`, `Fail`.
    ///
    /// Cancel-safe: dropping the future mid-attempt cancels the exchange
    /// ([`Paced`]'s drop), so its concurrency permit and budget reservation go back.
    pub async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let (transport, settings) = (&self.shared.transport, &self.shared.settings);
        let mut paced = Paced::new(&self.shared.pacer, request, &settings.exchange)
            .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        loop {
            let request = match paced.poll() {
                (Step::Send(request), _) => request,
                (Step::Wait(until), _) => {
                    Timer::at(until).await;
                    continue;
                }
                (Step::WaitForPermit, listener) => {
                    listener.expect("a permit's listener").await;
                    continue;
                }
                (Step::Reserve(r), _) => {
                    paced.on_reserved(match &settings.store {
                        Some(store) => store.reserve(&r).await,
                        None => no_store(&r),
                    });
                    continue;
                }
                (Step::Done(response), _) => return Ok(response),
                (Step::Fail(error), _) => return Err(paced.gave_up(error)),
            };
            // Dropping the exchange unreported gives its permit back.
            let outcome = transport.send(request, settings.body_limit).await;
            let outcome = outcome.map_err(Error::InvalidRequest)?;
            let now = outcome.arrival().unwrap_or_else(clock);
            // The report and the signals it queued for other sharers, under one lock.
            let (failed, signals) = paced.report(now, outcome);
            if let Some(store) = &settings.store {
                for signal in &signals {
                    store.publish(signal).await;
                }
            }
            if let Some(error) = failed {
                return Err(error);
            }
        }
    }
}
