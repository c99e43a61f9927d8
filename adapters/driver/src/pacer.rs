//! One Pacer shared by a client's requests, and one request's pump around it: the locking,
//! waking and event forwarding that both drivers do alike (the sync driver blocks on the
//! permit listener, the async one awaits it).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use event_listener::{Event as Notify, EventListener};
use http::Request;
use paceline::exchange::{Exchange, ExchangeConfig, ExchangeError, Outcome, SendError, Step};
use paceline::shared::{Reply, Reservation, SharedSignal};
use paceline::{Error, Event, Now, Pacer};

use crate::{clock, drain, drain_shared};

/// A caller's function that sees every Pacer event, after `tracing` does.
#[derive(Clone)]
pub struct Observer(pub Arc<dyn Fn(&Event) + Send + Sync>);

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}

/// A [`Pacer`] shared by every request of a client (behind an `Arc`): a mutex held only while
/// the Pacer decides, never across I/O or a wait; a notification after every call that may
/// free a concurrency permit (a report, a cancel), which requests told
/// [`Step::WaitForPermit`] wait for; and the [`Observer`] its events go to, after `tracing`.
#[derive(Debug)]
pub struct SharedPacer {
    pacer: Mutex<Pacer>,
    finished: Notify,
    observer: Mutex<Option<Observer>>,
}

impl SharedPacer {
    /// Shares `pacer`; its events go to `tracing` only.
    pub fn new(pacer: Pacer) -> Self {
        SharedPacer {
            pacer: Mutex::new(pacer),
            finished: Notify::new(),
            observer: Mutex::new(None),
        }
    }

    /// Sends every event from now on to `observer` too (after `tracing`), in place of the
    /// observer set before.
    pub fn set_observer(&self, observer: Observer) {
        *relock(&self.observer) = Some(observer);
    }

    /// Runs `f` on the Pacer under the lock, wakes the requests waiting for a permit when
    /// `frees` (`f` may have freed one), then forwards the events queued (to `tracing`, then
    /// to the observer), lock released.
    pub fn with<R>(&self, frees: bool, f: impl FnOnce(&mut Pacer) -> R) -> R {
        let (result, queued) = {
            let mut pacer = relock(&self.pacer);
            let result = f(&mut pacer);
            (result, drain(&mut pacer))
        };
        if frees {
            self.finished.notify(usize::MAX);
        }
        if !queued.is_empty() {
            let observer = relock(&self.observer).clone();
            for e in &queued {
                paceline::trace::forward(e);
                if let Some(Observer(f)) = &observer {
                    f(e);
                }
            }
        }
        result
    }
}

/// The Pacer never panics mid-update, nor does setting an observer: a poisoned lock is still
/// consistent.
fn relock<T>(lock: &Mutex<T>) -> MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One request's [`Exchange`] with the client's [`SharedPacer`]: each call takes the lock for
/// the Pacer's decision only. Dropped with an attempt sent and not reported (a future dropped
/// mid-flight, a panic, a request the transport cannot send), it cancels the exchange, so the
/// attempt's permit and budget reservation go back.
pub struct Paced<'a> {
    pacer: &'a SharedPacer,
    exchange: Exchange,
}

impl<'a> Paced<'a> {
    /// A new exchange for `request` ([`Exchange::new`]).
    ///
    /// # Errors
    /// [`ExchangeError`]: the request cannot be paced (a relative URI).
    pub fn new(
        pacer: &'a SharedPacer,
        request: Request<Vec<u8>>,
        config: &ExchangeConfig,
    ) -> Result<Self, ExchangeError> {
        let exchange = Exchange::new(&relock(&pacer.pacer), request, config)?;
        Ok(Paced { pacer, exchange })
    }

    /// The exchange's next step ([`Exchange::poll`]). With [`Step::WaitForPermit`], a listener
    /// registered before the lock was released, so no report since the decision is missed:
    /// wait on it (`.await` it, or `wait()` it), then poll again.
    pub fn poll(&mut self) -> (Step, Option<EventListener>) {
        let exchange = &mut self.exchange;
        let finished = &self.pacer.finished;
        self.pacer.with(false, |p| {
            let step = exchange.poll(p, clock());
            let listener = matches!(step, Step::WaitForPermit).then(|| finished.listen());
            (step, listener)
        })
    }

    /// Feeds a shared store's answer to a [`Step::Reserve`] back ([`Exchange::on_reserved`]).
    pub fn on_reserved(&mut self, reply: Reply) {
        let exchange = &mut self.exchange;
        self.pacer
            .with(false, |p| exchange.on_reserved(p, clock(), reply));
    }

    /// Reports how the attempt ended, the response's headers dated `now` (the head's
    /// arrival) ([`Exchange::report`]), and takes the signals it queued for the other sharers
    /// of a shared budget, under one lock; wakes the requests waiting for a permit.
    pub fn report<I>(
        &mut self,
        now: Now,
        outcome: Outcome,
    ) -> (Option<SendError<I>>, Vec<SharedSignal>) {
        let exchange = &mut self.exchange;
        self.pacer.with(true, |p| {
            (exchange.report(p, now, outcome), drain_shared(p))
        })
    }

    /// The driver's error for a [`Step::Fail`] ([`Exchange::gave_up`]).
    pub fn gave_up<I>(&mut self, error: Error) -> SendError<I> {
        self.exchange.gave_up(error)
    }
}

impl Drop for Paced<'_> {
    fn drop(&mut self) {
        if self.exchange.is_sent() {
            let exchange = &mut self.exchange;
            self.pacer.with(true, |p| exchange.cancel(p, clock()));
        }
    }
}

impl fmt::Debug for Paced<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Paced")
            .field("sent", &self.exchange.is_sent())
            .finish_non_exhaustive()
    }
}

/// The answer to a [`Step::Reserve`] when the client has no shared store: unreachable (the
/// budget's failure mode applies), with a warning.
pub fn no_store(reservation: &Reservation) -> Reply {
    tracing::warn!(
        key = %reservation.key,
        "paceline: a shared budget is configured but the client has no store"
    );
    Reply::Unreachable
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use event_listener::Listener;

    use http::Response;
    use paceline::PacerConfig;
    use paceline::throttle::ThrottleConfig;

    use super::*;

    fn one_permit() -> SharedPacer {
        let config = PacerConfig::default().throttle(ThrottleConfig::default().concurrency(1));
        SharedPacer::new(Pacer::new(config, 7))
    }

    fn get() -> Request<Vec<u8>> {
        Request::get("http://127.0.0.1:9/items")
            .body(Vec::new())
            .unwrap()
    }

    /// Whether the listener was notified (it never blocks: the deadline is now).
    fn notified(listener: EventListener) -> bool {
        listener.wait_deadline(std::time::Instant::now()).is_some()
    }

    /// Two requests under one permit: the first sent, the second told to wait, with its
    /// listener.
    fn one_sent_one_waiting(pacer: &SharedPacer) -> (Paced<'_>, Paced<'_>, EventListener) {
        let config = ExchangeConfig::default();
        let mut first = Paced::new(pacer, get(), &config).unwrap();
        let mut second = Paced::new(pacer, get(), &config).unwrap();
        assert!(matches!(first.poll().0, Step::Send(_)));
        let (step, listener) = second.poll();
        assert!(matches!(step, Step::WaitForPermit));
        let listener = listener.expect("a listener with WaitForPermit");
        (first, second, listener)
    }

    #[test]
    fn a_report_wakes_the_request_waiting_for_the_permit() {
        let pacer = one_permit();
        let (mut first, mut second, listener) = one_sent_one_waiting(&pacer);
        let ok = Outcome::Response(Response::new(b"[]".to_vec()));
        let (failed, signals) = first.report::<()>(clock(), ok);
        assert!(failed.is_none() && signals.is_empty());
        assert!(notified(listener), "the report woke the waiting request");
        assert!(matches!(first.poll().0, Step::Done(_)));
        assert!(matches!(second.poll().0, Step::Send(_)));
    }

    #[test]
    fn dropping_a_sent_exchange_gives_the_permit_back() {
        let pacer = one_permit();
        let (first, mut second, listener) = one_sent_one_waiting(&pacer);
        drop(first);
        assert!(notified(listener), "the cancel woke the waiting request");
        assert!(matches!(second.poll().0, Step::Send(_)));
    }

    #[test]
    fn a_relative_uri_is_refused_before_the_pacer_is_asked() {
        let pacer = one_permit();
        let request = Request::get("/items").body(Vec::new()).unwrap();
        let refused = Paced::new(&pacer, request, &ExchangeConfig::default());
        assert!(matches!(refused, Err(ExchangeError::RelativeUri(_))));
    }

    #[test]
    fn the_observer_sees_the_events_a_later_call_drains() {
        let pacer = one_permit();
        let seen = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&seen);
        pacer.set_observer(Observer(Arc::new(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
        })));
        let config = ExchangeConfig::default();
        let mut paced = Paced::new(&pacer, get(), &config).unwrap();
        assert!(matches!(paced.poll().0, Step::Send(_)));
        // A 503 is retried: the Pacer raises a `Retrying` event.
        let unavailable = Response::builder().status(503).body(Vec::new()).unwrap();
        let _ = paced.report::<()>(clock(), Outcome::Response(unavailable));
        assert!(
            seen.load(Ordering::Relaxed) >= 1,
            "the retry's event was observed"
        );
    }
}
