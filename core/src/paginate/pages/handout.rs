//! [`Handout`]: the page machine as a driver's record iterator sees it — records handed out one
//! at a time or a page at a time, a page told delivered only once all of its records were
//! handed out, each failed request's error kept until the walk ends on it.

use std::collections::VecDeque;
use std::io;

use http::{HeaderMap, Request, StatusCode};

use super::{
    Delivered, Failure, Output, Pages, PagesConfig, PagesError, Record, RecordPage, Save, Slot,
};
use crate::paginate::{PageEvent, PageSpec, RequestTemplate, Walk};

/// How many [`PageEvent`]s a [`Handout`] keeps for [`Handout::poll_event`]; older ones are
/// dropped (and counted: [`Handout::events_dropped`]).
pub const EVENTS_KEPT: usize = 256;

/// What a driver does next, from [`Handout::poll`].
#[derive(Debug)]
#[must_use]
pub enum Next<E> {
    /// Send this request (credentials already stripped where the walk left the origin) in
    /// `slot`, then report: [`Handout::on_response`] or [`Handout::on_send_failed`]. An
    /// `Err` is a request `http` refused to build: report it as failed. Several may come
    /// before a [`Next::Wait`]: they run at once.
    Send(Slot, Result<Request<Vec<u8>>, http::Error>),
    /// Make these checkpoint bytes durable, then [`Handout::on_saved`] (or
    /// [`Handout::on_save_failed`]).
    Save(Box<Save>),
    /// Nothing to do before a request sent or a save started reports back.
    Wait,
    /// Records are in hand: [`Handout::next_record`], [`Handout::next_page`].
    Ready,
    /// The walk is over: `None` at the list's end, else why it stopped. Terminal.
    End(Option<PagesError<E>>),
}

/// The page being handed out.
#[derive(Debug)]
struct Current {
    page: RecordPage,
    /// The next record to hand out.
    next: usize,
    /// Whether the machine was told it is delivered.
    told: bool,
}

impl Current {
    fn remaining(&self) -> usize {
        self.page.len() - self.next
    }
}

/// The [`Pages`] machine with what every record-handing driver adds: the page in hand, the
/// errors of failed requests (`E`: the driver's), the store's error, the events kept, and the
/// credentials to strip. A driver loops on [`Handout::poll`] and does what it says.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use paceline::paginate::{Handout, Next, PageSpec, PagesConfig, RequestTemplate};
///
/// let template = RequestTemplate::get("https://api.example.com/items").unwrap();
/// let spec = PageSpec::offset("/items", 2);
/// let config = PagesConfig::default().saves(false);
/// let mut walk: Handout<String> =
///     Handout::start(Some(spec), template, config, Vec::new(), None, String::new).unwrap();
/// let pages = [r#"{"items":[1,2]}"#, r#"{"items":[3]}"#];
/// let mut sent = 0;
/// let mut records = Vec::new();
/// loop {
///     match walk.poll() {
///         Next::Send(slot, request) => {
///             assert!(request.is_ok());
///             let body = pages[sent].as_bytes().to_vec();
///             sent += 1;
///             walk.on_response(slot, StatusCode::OK, HeaderMap::new(), body);
///         }
///         Next::Save(_) | Next::Wait => unreachable!("no store, nothing in flight"),
///         Next::Ready => records.extend(walk.next_page().unwrap().iter().map(<[u8]>::to_vec)),
///         Next::End(error) => break assert!(error.is_none()),
///     }
/// }
/// assert_eq!(records, [b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
/// ```
#[derive(Debug)]
pub struct Handout<E> {
    machine: Pages,
    current: Option<Current>,
    /// The error of the last failed request in each slot.
    errors: Vec<Option<E>>,
    /// What stands for a slot's error if it is missing (never, unless a failure is
    /// reported twice).
    lost: fn() -> E,
    store_error: Option<io::Error>,
    /// Credential headers beside the three standard ones.
    secrets: Vec<String>,
    events: VecDeque<PageEvent>,
    events_dropped: u64,
    /// Whether checkpoints are saved ([`PagesConfig::saves`]).
    saves: bool,
    done: bool,
}

impl<E> Handout<E> {
    /// Starts the walk as [`Pages::start`] does, the records in `held` already delivered
    /// ([`Pages::hold`]). `lost` makes the error of a failed request whose own error is
    /// missing (a driver bug, never expected).
    ///
    /// # Errors
    /// [`PagesError::Spec`], [`PagesError::BadCheckpoint`], [`PagesError::Resume`]: before any
    /// request.
    pub fn start(
        spec: Option<PageSpec>,
        template: RequestTemplate,
        config: PagesConfig,
        held: Vec<Vec<u8>>,
        saved: Option<&[u8]>,
        lost: fn() -> E,
    ) -> Result<Self, PagesError<E>> {
        let guards = config.guards.clone();
        let (slots, saves) = (config.concurrency.max(1), config.saves);
        let mut machine = Pages::start(spec, template, config, saved)?;
        machine.hold(held.iter().map(Vec::as_slice));
        let secrets = machine
            .walk()
            .spec()
            .map_or(&guards, |s| &s.guards)
            .credential_headers
            .clone();
        Ok(Handout {
            machine,
            current: None,
            errors: (0..slots).map(|_| None).collect(),
            lost,
            store_error: None,
            secrets,
            events: VecDeque::new(),
            events_dropped: 0,
            saves,
            done: false,
        })
    }

    /// What to do next. A page whose records were all handed out is told delivered first
    /// (which asks for its save).
    pub fn poll(&mut self) -> Next<E> {
        loop {
            if self.done {
                return Next::End(None);
            }
            if let Some(cur) = &mut self.current {
                if cur.remaining() > 0 {
                    return Next::Ready;
                }
                if !cur.told {
                    cur.told = true;
                    self.machine.on_delivered(cur.page.number());
                }
            }
            match self.machine.poll() {
                Output::Send { slot, request } => {
                    return Next::Send(slot, request.to_http(&self.secrets));
                }
                Output::Event(e) => self.note(e),
                Output::Deliver(page) => {
                    self.current = Some(Current {
                        page: RecordPage::from(page),
                        next: 0,
                        told: false,
                    });
                }
                Output::Save(save) => return Next::Save(save),
                Output::Idle => return Next::Wait,
                Output::Done(_) => {
                    self.done = true;
                    return Next::End(None);
                }
                Output::Failed(failure) => {
                    self.done = true;
                    return Next::End(Some(self.error(failure)));
                }
            }
        }
    }

    /// The next record of the page in hand (after [`Next::Ready`]).
    pub fn next_record(&mut self) -> Option<Record> {
        let cur = self.current.as_mut()?;
        let record = cur.page.get(cur.next)?;
        cur.next += 1;
        Some(record)
    }

    /// The rest of the page in hand, all at once (after [`Next::Ready`]).
    pub fn next_page(&mut self) -> Option<RecordPage> {
        let cur = self.current.as_mut().filter(|c| c.remaining() > 0)?;
        let rest = cur.page.tail(cur.next);
        cur.next = cur.page.len();
        Some(rest)
    }

    /// Says the caller is done with every record handed out: when that is a whole page not yet
    /// told delivered and checkpoints are saved, it is told now, and true is returned — poll
    /// on to its [`Next::Save`]. False in the middle of a page, or when there is nothing to
    /// save.
    pub fn commit(&mut self) -> bool {
        match &mut self.current {
            Some(cur) if cur.remaining() == 0 && !cur.told && self.saves => {
                cur.told = true;
                self.machine.on_delivered(cur.page.number());
                true
            }
            _ => false,
        }
    }

    /// The final response to the request sent in `slot` (see [`Pages::on_response`]).
    pub fn on_response(
        &mut self,
        slot: Slot,
        status: StatusCode,
        headers: HeaderMap,
        body: Vec<u8>,
    ) {
        self.machine.on_response(slot, status, headers, body);
    }

    /// The request sent in `slot` got no response the Pacer was done with: `error` is the
    /// driver's, handed back in [`PagesError::Request`] if the walk ends on it.
    pub fn on_send_failed(&mut self, slot: Slot, error: E) {
        if let Some(e) = self.errors.get_mut(slot.index()) {
            *e = Some(error);
        }
        self.machine.on_send_failed(slot);
    }

    /// What a driver's send of the request in `slot` came to: its response
    /// ([`Handout::on_response`]) or its error ([`Handout::on_send_failed`]).
    pub fn on_sent(&mut self, slot: Slot, sent: Result<http::Response<Vec<u8>>, E>) {
        match sent {
            Ok(response) => {
                let (head, body) = response.into_parts();
                self.on_response(slot, head.status, head.headers, body);
            }
            Err(error) => self.on_send_failed(slot, error),
        }
    }

    /// How the save of `page` went: durable ([`Handout::on_saved`]) or failed
    /// ([`Handout::on_save_failed`]). Returns whether it was saved.
    pub fn on_save_done(&mut self, page: u64, saved: io::Result<()>) -> bool {
        match saved {
            Ok(()) => self.on_saved(page),
            Err(error) => {
                self.on_save_failed(page, error);
                return false;
            }
        }
        true
    }

    /// The save of `page` is durable.
    pub fn on_saved(&mut self, page: u64) {
        self.machine.on_saved(page);
    }

    /// The save of `page` failed: the walk ends with [`PagesError::Checkpoint`] and `error`.
    pub fn on_save_failed(&mut self, page: u64, error: io::Error) {
        self.store_error = Some(error);
        self.machine.on_save_failed(page);
    }

    /// What was handed out so far (a page handed out in part counts its records handed out,
    /// not the page).
    pub fn delivered(&self) -> Delivered {
        let d = self.machine.delivered();
        match &self.current {
            Some(cur) if cur.remaining() > 0 => {
                let left = cur.remaining() as u64;
                let pages = d.pages.saturating_sub(1);
                Delivered::new(
                    pages,
                    d.records.saturating_sub(left),
                    d.this_run.saturating_sub(left),
                    self.machine.covered() == Some(pages),
                )
            }
            _ => d,
        }
    }

    /// The next event of the walk (auto-detection, a style switch, drift, a next URL on an
    /// allowed origin, a garbled page requested again). At most [`EVENTS_KEPT`] are kept.
    pub fn poll_event(&mut self) -> Option<PageEvent> {
        self.events.pop_front()
    }

    /// Events dropped because more than [`EVENTS_KEPT`] were waiting.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// The walk (its style and spec, detected or given; its position; its state).
    pub fn walk(&self) -> &Walk {
        self.machine.walk()
    }

    /// The machine, to read what it says of itself.
    pub fn machine(&self) -> &Pages {
        &self.machine
    }

    fn note(&mut self, event: PageEvent) {
        #[cfg(feature = "tracing")]
        if event.is_warning() {
            tracing::warn!(event = %event, code = event.code(), "paceline: page walk");
        } else {
            tracing::info!(event = %event, code = event.code(), "paceline: page walk");
        }
        if self.events.len() == EVENTS_KEPT {
            self.events.pop_front();
            self.events_dropped += 1;
        }
        self.events.push_back(event);
    }

    fn error(&mut self, failure: Failure) -> PagesError<E> {
        let delivered = self.delivered();
        let (errors, store_error, lost) = (&mut self.errors, &mut self.store_error, self.lost);
        PagesError::from_failure(
            failure,
            delivered,
            |slot| {
                errors
                    .get_mut(slot.index())
                    .and_then(Option::take)
                    .unwrap_or_else(lost)
            },
            || store_error.take(),
        )
    }
}
