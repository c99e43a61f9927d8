//! The page pump: [`Pages`].

mod config;
mod error;
mod handout;
mod output;
#[cfg(test)]
mod property;
mod records;
#[cfg(test)]
mod tests;

pub use config::{DEFAULT_RESENDS, PagesConfig, Resume, StartError};
pub use error::PagesError;
pub use handout::{EVENTS_KEPT, Handout, Next};
pub use output::{Delivered, Delivery, Failure, Output, Save, Slot};
pub use records::{Record, RecordPage};

use std::collections::VecDeque;

use http::{HeaderMap, StatusCode};

use crate::paginate::{
    Checkpoint, PageError, PageEvent, PageRequest, PageSpec, RequestTemplate, Walk, WalkState,
};

/// The page pump: one sans-IO machine per walk that owns what every driver would otherwise
/// write again — the request slots (a pipeline of pages in flight), resending a garbled page,
/// delivering a page and only then asking for its checkpoint to be saved, and the accounting
/// of what was delivered and saved.
///
/// It sits above a [`Walk`] and beside the [`Pacer`](crate::Pacer): an
/// [`Output::Send`] means "start one paced exchange for this request" (the Pacer's loop,
/// retries and redirects are the driver's exchange), and only the exchange's final outcome
/// comes back. The drain rule: after starting the machine and after every input, call
/// [`Pages::poll`] until it says [`Output::Idle`] (or ends), handling each output.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use paceline::paginate::{Output, PageSpec, Pages, PagesConfig, RequestTemplate};
///
/// let template = RequestTemplate::get("https://api.example.com/items").unwrap();
/// let spec = PageSpec::cursor("/data", "/next", "cursor");
/// let server = |url: &str| -> &'static [u8] {
///     if url.contains("cursor=c2") {
///         br#"{"data":[{"id":3}],"next":null}"#
///     } else {
///         br#"{"data":[{"id":1},{"id":2}],"next":"c2"}"#
///     }
/// };
/// let (mut got, mut saved) = (Vec::new(), None);
/// let mut pages = Pages::start(Some(spec.clone()), template.clone(), PagesConfig::default(), None).unwrap();
/// let mut crashed = false;
/// loop {
///     match pages.poll() {
///         Output::Send { slot, request } => {
///             let body = server(request.url.as_str()).to_vec(); // a paced exchange, here
///             pages.on_response(slot, StatusCode::OK, HeaderMap::new(), body);
///         }
///         Output::Event(_) => {}
///         Output::Deliver(page) => {
///             got.extend(page.records().map(<[u8]>::to_vec)); // write the records, then:
///             pages.on_delivered(page.number());
///         }
///         Output::Save(save) => {
///             saved = Some(save.checkpoint.to_bytes());
///             if !crashed {
///                 // The process dies after saving page 1; a new one resumes from the bytes.
///                 crashed = true;
///                 pages = Pages::start(Some(spec.clone()), template.clone(),
///                                      PagesConfig::default(), saved.as_deref()).unwrap();
///                 continue;
///             }
///             pages.on_saved(save.page);
///         }
///         Output::Idle => unreachable!("this driver answers every output at once"),
///         Output::Done(_) => break,
///         Output::Failed(f) => panic!("{f}"),
///     }
/// }
/// assert_eq!(got, [br#"{"id":1}"#.to_vec(), br#"{"id":2}"#.to_vec(), br#"{"id":3}"#.to_vec()]);
/// ```
#[derive(Debug)]
pub struct Pages {
    walk: Walk,
    config: PagesConfig,
    slots: Vec<SlotState>,
    events: VecDeque<PageEvent>,
    /// A page read, behind the events that came with it.
    ready: Option<Delivery>,
    /// The page handed out and not yet delivered.
    in_hand: Option<u64>,
    /// A delivered page whose save is not asked for yet.
    save_owed: Option<u64>,
    /// A save asked for and not yet done.
    saving: Option<u64>,
    /// Responses read for the pending page.
    responses: u32,
    /// Guesses whose exchange failed: not sent again as guesses until the walk moves.
    shunned: Vec<PageRequest>,
    /// The pages the last saved checkpoint covers (the one resumed from, or the last save
    /// done); `None` before any, and after a failed save.
    covered: Option<u64>,
    this_run: u64,
    stopping: bool,
    end: Option<End>,
}

#[derive(Debug)]
enum SlotState {
    Free,
    InFlight(PageRequest),
    /// Its request is no longer wanted; it stays taken until its outcome comes.
    Abandoned,
    Answered(PageRequest, Answer),
    /// Its exchange failed while its request was pending.
    Failed(PageRequest),
    /// Its page is in the consumer's hands.
    InHand,
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Debug, Clone)]
enum End {
    Done(crate::paginate::EndReason),
    Failed(Failure),
}

impl Pages {
    /// A walk of `template`, paged as `spec` says (`None`: detected from the first exchange,
    /// with the config's hints and guards), resumed from `saved` (the bytes of the last
    /// [`Output::Save`], as the store gave them back) as [`PagesConfig::resume`] says. A
    /// resume without a spec takes the checkpoint's detected spec under this run's guards.
    ///
    /// # Errors
    /// [`StartError`]: before any request.
    pub fn start(
        spec: Option<PageSpec>,
        template: RequestTemplate,
        config: PagesConfig,
        saved: Option<&[u8]>,
    ) -> Result<Pages, StartError> {
        let saved = match config.resume {
            Resume::Never => None,
            Resume::IfPresent => saved,
            Resume::Required => Some(saved.ok_or(StartError::NoCheckpoint)?),
        };
        let resumed = saved.is_some();
        let walk = match (saved, spec) {
            (Some(bytes), spec) => {
                let checkpoint =
                    Checkpoint::from_bytes(bytes).map_err(StartError::BadCheckpoint)?;
                match spec {
                    Some(spec) => Walk::resume(Some(spec), template, &checkpoint)?,
                    None => Walk::resume_auto(template, config.guards.clone(), &checkpoint)?,
                }
            }
            (None, Some(spec)) => Walk::new(spec, template)?,
            (None, None) => Walk::auto_with(template, config.hints.clone(), config.guards.clone())?,
        };
        let concurrency = config.concurrency.clamp(1, usize::from(u16::MAX));
        let covered = resumed.then(|| walk.pages());
        Ok(Pages {
            walk,
            slots: (0..concurrency).map(|_| SlotState::Free).collect(),
            config,
            events: VecDeque::new(),
            ready: None,
            in_hand: None,
            save_owed: None,
            saving: None,
            responses: 0,
            shunned: Vec::new(),
            covered,
            this_run: 0,
            stopping: false,
            end: None,
        })
    }

    /// Records the consumer already holds past the saved checkpoint (a file's tail, rows
    /// already upserted): when the walk receives them again they are dropped and counted as
    /// delivered ([`Walk::already_delivered`]). Call it before the first poll. Returns how
    /// many keys were taken (0 without [`PageSpec::key`]).
    pub fn hold<'a>(&mut self, records: impl IntoIterator<Item = &'a [u8]>) -> usize {
        self.walk.already_delivered(records)
    }

    /// The final response to the request last sent in `slot`, after the Pacer and redirects
    /// are done with it (any status). A response to a page ahead of the walk is kept until
    /// the walk gets there, or dropped when it goes elsewhere.
    pub fn on_response(
        &mut self,
        slot: Slot,
        status: StatusCode,
        headers: HeaderMap,
        body: Vec<u8>,
    ) {
        let Some(state) = self.slots.get_mut(slot.index()) else {
            return;
        };
        *state = match std::mem::replace(state, SlotState::Free) {
            SlotState::InFlight(request) => SlotState::Answered(
                request,
                Answer {
                    status,
                    headers,
                    body,
                },
            ),
            SlotState::Abandoned => SlotState::Free,
            other => other,
        };
    }

    /// The exchange in `slot` ended without a final response (the Pacer gave up or refused,
    /// the request could not be built, the body was over the driver's limit). The driver
    /// keeps its error: when the request was the pending page's, the walk fails with
    /// [`Failure::Request`] naming `slot`; a guess is forgotten (sent again if it becomes
    /// pending).
    pub fn on_send_failed(&mut self, slot: Slot) {
        let pending = self.walk.poll_request();
        let Some(state) = self.slots.get_mut(slot.index()) else {
            return;
        };
        *state = match std::mem::replace(state, SlotState::Free) {
            SlotState::InFlight(request) if Some(&request) == pending => SlotState::Failed(request),
            SlotState::InFlight(request) => {
                self.shunned.push(request);
                SlotState::Free
            }
            SlotState::Abandoned => SlotState::Free,
            other => other,
        };
    }

    /// The consumer is done with page `page`: its records are written (or as durable as the
    /// consumer makes them). Frees its slot and asks for its save.
    pub fn on_delivered(&mut self, page: u64) {
        if self.in_hand != Some(page) {
            return;
        }
        self.in_hand = None;
        if let Some(s) = self
            .slots
            .iter_mut()
            .find(|s| matches!(s, SlotState::InHand))
        {
            *s = SlotState::Free;
        }
        if self.config.saves {
            self.save_owed = Some(page);
        }
    }

    /// The save of `page` is done: the store never loses it without also losing the records
    /// it covers. The next page may now be read and delivered.
    pub fn on_saved(&mut self, page: u64) {
        if self.saving == Some(page) {
            self.saving = None;
            self.covered = Some(page);
        }
    }

    /// The save of `page` failed: the walk ends with [`Failure::Save`].
    pub fn on_save_failed(&mut self, page: u64) {
        if self.saving == Some(page) && self.end.is_none() {
            self.saving = None;
            self.covered = None;
            self.end = Some(End::Failed(Failure::Save {
                page,
                delivered: self.delivered(),
            }));
        }
    }

    /// Ends the walk early (Ctrl-C): nothing new is sent; a page in hand is still delivered
    /// and saved, then the walk fails with [`Failure::Interrupted`]. Responses still in
    /// flight are dropped when they come.
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// What to do next. In one call the machine takes the first of these that applies:
    /// a terminal state; a queued event; a page read; a save owed; a free slot for a wanted
    /// request (the pending one first, then the guesses in order); reading the pending
    /// page's response when no page is in hand or being saved; the walk's end; `Idle`.
    pub fn poll(&mut self) -> Output {
        loop {
            if let Some(end) = &self.end {
                return match end.clone() {
                    End::Done(reason) => Output::Done(reason),
                    End::Failed(failure) => Output::Failed(failure),
                };
            }
            if let Some(event) = self.events.pop_front() {
                return Output::Event(event);
            }
            if let Some(page) = self.ready.take() {
                return Output::Deliver(page);
            }
            if let Some(page) = self.save_owed.take() {
                self.saving = Some(page);
                return Output::Save(Box::new(Save {
                    page,
                    checkpoint: self.walk.checkpoint(),
                }));
            }
            if let Some(send) = self.next_send() {
                return send;
            }
            if self.in_hand.is_some() || self.saving.is_some() {
                return Output::Idle;
            }
            if self.stopping {
                self.end = Some(End::Failed(Failure::Interrupted {
                    delivered: self.delivered(),
                }));
                continue;
            }
            let Some(pending) = self.walk.poll_request().cloned() else {
                self.end = Some(match self.walk.state() {
                    WalkState::Stopped(error) => End::Failed(Failure::Stopped {
                        error: error.clone(),
                        delivered: self.delivered(),
                    }),
                    WalkState::Complete(reason) => End::Done(reason.clone()),
                    WalkState::Running => End::Done(crate::paginate::EndReason::AlreadyComplete),
                });
                continue;
            };
            if !self.read(&pending) {
                return Output::Idle;
            }
        }
    }

    /// A `Send` for the first wanted request in no slot, when a slot is free; drops what is
    /// no longer wanted first.
    fn next_send(&mut self) -> Option<Output> {
        if self.stopping {
            return None;
        }
        let Some(pending) = self.walk.poll_request() else {
            for s in &mut self.slots {
                *s = match std::mem::replace(s, SlotState::Free) {
                    SlotState::InFlight(_) | SlotState::Abandoned => SlotState::Abandoned,
                    SlotState::InHand => SlotState::InHand,
                    _ => SlotState::Free,
                };
            }
            return None;
        };
        let mut wanted = Vec::with_capacity(self.slots.len());
        wanted.push(pending.clone());
        wanted.extend(self.walk.lookahead(self.slots.len() - 1));
        for s in &mut self.slots {
            *s = match std::mem::replace(s, SlotState::Free) {
                SlotState::InFlight(r) if !wanted.contains(&r) => SlotState::Abandoned,
                SlotState::Answered(r, _) | SlotState::Failed(r) if !wanted.contains(&r) => {
                    SlotState::Free
                }
                other => other,
            };
        }
        let taken = |w: &PageRequest| {
            self.slots.iter().any(|s| {
                matches!(s, SlotState::InFlight(r) | SlotState::Answered(r, _) | SlotState::Failed(r) if r == w)
            })
        };
        let (_, request) = wanted
            .into_iter()
            .enumerate()
            .find(|(i, w)| (*i == 0 || !self.shunned.contains(w)) && !taken(w))?;
        let free = self
            .slots
            .iter()
            .position(|s| matches!(s, SlotState::Free))?;
        self.slots[free] = SlotState::InFlight(request.clone());
        Some(Output::Send {
            slot: Slot(u16::try_from(free).unwrap_or(u16::MAX)),
            request,
        })
    }

    /// Reads the pending request's response if it is in; false when it is not yet.
    fn read(&mut self, pending: &PageRequest) -> bool {
        let page = self.walk.pages() + 1;
        let Some(i) = self.slots.iter().position(
            |s| matches!(s, SlotState::Answered(r, _) | SlotState::Failed(r) if r == pending),
        ) else {
            return false;
        };
        let answer = match std::mem::replace(&mut self.slots[i], SlotState::Free) {
            SlotState::Answered(_, answer) => answer,
            _ => {
                self.end = Some(End::Failed(Failure::Request {
                    page,
                    slot: Slot(u16::try_from(i).unwrap_or(u16::MAX)),
                    delivered: self.delivered(),
                }));
                return true;
            }
        };
        self.responses += 1;
        match self
            .walk
            .on_page(answer.status, &answer.headers, &answer.body)
        {
            Ok(read) => {
                self.responses = 0;
                self.shunned.clear();
                self.events
                    .extend(std::iter::from_fn(|| self.walk.poll_event()));
                self.slots[i] = SlotState::InHand;
                self.in_hand = Some(read.number());
                self.this_run += read.len() as u64;
                self.ready = Some(Delivery {
                    page: read,
                    body: answer.body,
                });
            }
            Err(error @ PageError::Body(_)) if self.responses <= self.config.resends => {
                self.events.push_back(PageEvent::Resending {
                    page,
                    response: self.responses,
                    error,
                });
            }
            Err(error) => {
                self.end = Some(End::Failed(Failure::Unreadable {
                    page,
                    error,
                    responses: self.responses,
                    delivered: self.delivered(),
                }));
            }
        }
        true
    }

    /// What was delivered: pages and records handed out in [`Output::Deliver`] (a page read
    /// and not yet handed out is not counted).
    pub fn delivered(&self) -> Delivered {
        let (pages, records, this_run) = match &self.ready {
            Some(d) => (
                self.walk.pages().saturating_sub(1),
                self.walk.records().saturating_sub(d.len() as u64),
                self.this_run.saturating_sub(d.len() as u64),
            ),
            None => (self.walk.pages(), self.walk.records(), self.this_run),
        };
        let settled = self.ready.is_none()
            && self.in_hand.is_none()
            && self.save_owed.is_none()
            && self.saving.is_none();
        Delivered {
            pages,
            records,
            this_run,
            checkpointed: settled && self.covered() == Some(pages),
        }
    }

    /// How many pages the last saved checkpoint covers: the one resumed from, or the last
    /// save done ([`Pages::on_saved`]). `None` before either, without saves, and after a
    /// failed save.
    pub fn covered(&self) -> Option<u64> {
        self.covered.filter(|_| self.config.saves)
    }

    /// The walk: its spec and style (given or detected), position, drift, end.
    pub fn walk(&self) -> &Walk {
        &self.walk
    }

    /// Exchanges started and not yet reported (abandoned ones included).
    pub fn in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, SlotState::InFlight(_) | SlotState::Abandoned))
            .count()
    }

    /// Whether no page is in the consumer's hands and no save is owed: stopping now loses
    /// nothing and repeats nothing.
    pub fn is_between_pages(&self) -> bool {
        self.ready.is_none()
            && self.in_hand.is_none()
            && self.save_owed.is_none()
            && self.saving.is_none()
    }

    /// The page in the consumer's hands, if any.
    pub fn in_hand(&self) -> Option<u64> {
        self.in_hand
    }
}
