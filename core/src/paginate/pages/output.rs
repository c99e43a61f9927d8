//! What a [`Pages`](super::Pages) machine asks of its driver, and how a walk that could not
//! go on ended.

use std::fmt;
use std::ops::Range;

use crate::paginate::{
    After, Checkpoint, EndReason, GuardError, Page, PageError, PageEvent, PageRequest,
};

/// One of a machine's [`PagesConfig::concurrency`](super::PagesConfig::concurrency) request
/// slots: the driver names it back when it reports the request's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot(pub(super) u16);

impl Slot {
    /// From 0 to `concurrency − 1`.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// What to do next, from [`Pages::poll`](super::Pages::poll).
///
/// Exhaustive on purpose: a new output is a breaking change, since a driver that ignored it
/// would stall or lose a save.
#[must_use]
#[derive(Debug)]
pub enum Output {
    /// Start one paced exchange for `request` in `slot` (free until now): through the Pacer,
    /// its retries and redirects, then report its final outcome with
    /// [`Pages::on_response`](super::Pages::on_response) or
    /// [`Pages::on_send_failed`](super::Pages::on_send_failed). What goes on the wire is
    /// [`PageRequest::to_http`].
    Send {
        /// The slot to report on.
        slot: Slot,
        /// The request.
        request: PageRequest,
    },
    /// Something worth telling an operator. Events never change what the machine does.
    Event(PageEvent),
    /// Hand this page's records to the consumer, then call
    /// [`Pages::on_delivered`](super::Pages::on_delivered) with its number. Empty pages are
    /// delivered too. Until then, only `Send`, `Event` and `Idle` follow.
    Deliver(Delivery),
    /// Persist `checkpoint.to_bytes()` so that it replaces the last one atomically, then call
    /// [`Pages::on_saved`](super::Pages::on_saved) (or
    /// [`Pages::on_save_failed`](super::Pages::on_save_failed)) with `page`.
    Save(Box<Save>),
    /// Nothing to do until an input the driver owes: a response, a delivery, a save.
    Idle,
    /// The list's end, as this signal showed. Terminal: later polls say it again.
    Done(EndReason),
    /// The walk cannot go on in this run. Terminal: later polls say it again.
    Failed(Failure),
}

/// A page to hand to the consumer: its records are slices of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub(super) page: Page,
    pub(super) body: Vec<u8>,
}

impl Delivery {
    /// The page's number in the walk (from 1, counting the pages of resumed runs).
    pub fn number(&self) -> u64 {
        self.page.number()
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.page.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.page.is_empty()
    }

    /// The records' JSON texts.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        self.page.records(&self.body)
    }

    /// The records, as byte ranges of [`Delivery::body`].
    pub fn ranges(&self) -> &[Range<usize>] {
        self.page.ranges()
    }

    /// The body as the server sent it.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// What follows the page.
    pub fn after(&self) -> &After {
        self.page.after()
    }

    /// The page and its body, to keep the records without copying them.
    pub fn into_parts(self) -> (Page, Vec<u8>) {
        (self.page, self.body)
    }
}

/// A checkpoint to persist: the walk as it stands right after page `page`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Save {
    /// The page it covers (and every one before it).
    pub page: u64,
    /// What to persist (`to_bytes()`).
    pub checkpoint: Checkpoint,
}

/// How far a walk got: what was handed to the consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Delivered {
    /// Pages delivered, over the whole walk (a resumed walk counts the pages of the runs
    /// before it).
    pub pages: u64,
    /// Records delivered, over the whole walk.
    pub records: u64,
    /// Records delivered in this run.
    pub this_run: u64,
    /// Whether a saved checkpoint covers exactly `pages`: once a page's save is done, or when
    /// the walk resumed from a checkpoint and has delivered nothing since; `false` without
    /// saves, after a failed save, and while a delivered page's save is owed.
    pub checkpointed: bool,
}

impl Delivered {
    /// Counts as they are (for drivers that account a page handed out in part).
    pub fn new(pages: u64, records: u64, this_run: u64, checkpointed: bool) -> Self {
        Delivered {
            pages,
            records,
            this_run,
            checkpointed,
        }
    }
}

impl fmt::Display for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} records in {} pages delivered ({} in this run)",
            self.records, self.pages, self.this_run
        )
    }
}

/// Why a walk ended before the list's end.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// A guard stopped the walk, after the page that tripped it was delivered and saved.
    Stopped {
        /// The guard.
        error: GuardError,
        /// What was delivered.
        delivered: Delivered,
    },
    /// The pending page's last response was unusable: a final non-2xx, a body of the wrong
    /// shape, or still garbled after [`PagesConfig::resends`](super::PagesConfig::resends)
    /// more requests.
    Unreadable {
        /// The page.
        page: u64,
        /// Why.
        error: PageError,
        /// Responses read for it.
        responses: u32,
        /// What was delivered.
        delivered: Delivered,
    },
    /// The pending page's exchange failed ([`Pages::on_send_failed`](super::Pages::on_send_failed)
    /// on `slot`): the driver has the error.
    Request {
        /// The page.
        page: u64,
        /// The slot whose exchange failed.
        slot: Slot,
        /// What was delivered.
        delivered: Delivered,
    },
    /// The save of `page` failed: that page was delivered, and no saved checkpoint covers it.
    Save {
        /// The page.
        page: u64,
        /// What was delivered.
        delivered: Delivered,
    },
    /// [`Pages::stop`](super::Pages::stop) was called; everything delivered is saved.
    Interrupted {
        /// What was delivered.
        delivered: Delivered,
    },
}

impl Failure {
    /// What was delivered before it.
    pub fn delivered(&self) -> Delivered {
        match self {
            Failure::Stopped { delivered, .. }
            | Failure::Unreadable { delivered, .. }
            | Failure::Request { delivered, .. }
            | Failure::Save { delivered, .. }
            | Failure::Interrupted { delivered } => *delivered,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Stopped { error, delivered } => write!(f, "stopped: {error}; {delivered}"),
            Failure::Unreadable {
                page,
                error,
                responses,
                delivered,
            } => write!(
                f,
                "page {page}: {error} (after {responses} responses); {delivered}"
            ),
            Failure::Request {
                page, delivered, ..
            } => write!(f, "page {page}: the request failed; {delivered}"),
            Failure::Save { page, delivered } => {
                write!(f, "page {page}: saving its checkpoint failed; {delivered}")
            }
            Failure::Interrupted { delivered } => write!(f, "interrupted; {delivered}"),
        }
    }
}

impl std::error::Error for Failure {}
