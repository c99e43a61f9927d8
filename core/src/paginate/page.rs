//! What a walk hands back: [`Page`], [`After`], [`WalkState`], and the events it raises
//! ([`PageEvent`]).

use std::ops::Range;

use super::end::EndReason;
use super::error::GuardError;
use super::spec::{PageSpec, StyleKind};

/// Something worth telling an operator about a walk. Polled with [`super::Walk::poll_event`]; events
/// never change what the walk does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PageEvent {
    /// Auto-detection chose this spec from the first response.
    Detected(Box<PageSpec>),
    /// The first page offered the spec's preferred style; the walk uses it from now on.
    Switched {
        /// The style given.
        from: StyleKind,
        /// The style preferred.
        to: StyleKind,
    },
    /// The list's `total` changed between pages: records were inserted or deleted during an
    /// offset or page walk, which then skips or repeats records.
    TotalChanged {
        /// The page that showed it.
        page: u64,
        /// The previous total.
        from: u64,
        /// The new one.
        to: u64,
    },
    /// Records whose key was already seen in this walk (offset drift, a server bug).
    DuplicateKeys {
        /// The page.
        page: u64,
        /// How many.
        count: u32,
        /// Whether they were dropped ([`super::PageSpec::dedupe`]) or delivered again.
        dropped: bool,
    },
    /// Records with no value at the key pointer: they cannot be de-duplicated.
    MissingKeys {
        /// The page.
        page: u64,
        /// How many.
        count: u32,
    },
    /// Records a resumed walk received again that the consumer already held
    /// ([`super::Walk::already_delivered`]): dropped, and counted as delivered.
    Redelivered {
        /// The page.
        page: u64,
        /// How many.
        count: u32,
    },
    /// The next URL is on another, allowed origin: it is requested without credentials.
    CrossOrigin {
        /// The URL.
        url: String,
    },
    /// The next request is a guess ([`super::PageSpec::detect`] found no sure way to ask for the next
    /// page): it counts only if the page it brings holds records the first page did not.
    Probing {
        /// The page the guess asks for.
        page: u64,
        /// What it tries (`offset=10`, `page=1`).
        guess: String,
        /// Why a guess is needed.
        why: String,
    },
    /// The guess was right: its page brought new records.
    Confirmed {
        /// The page.
        page: u64,
        /// The style the walk goes on with.
        style: StyleKind,
    },
    /// The guess was wrong: the server sent the first page again, or refused the request.
    /// The next guess, if any, follows.
    GuessRejected {
        /// The page.
        page: u64,
        /// What was tried.
        guess: String,
        /// What the server did.
        why: String,
    },
    /// A page's body was unusable (cut short, not JSON): the same request is sent again
    /// (by a [`super::Pages`] machine, at most [`super::PagesConfig::resends`] times).
    Resending {
        /// The page.
        page: u64,
        /// Which response of it was unusable (from 1).
        response: u32,
        /// Why.
        error: super::PageError,
    },
    /// The walk reached the list's end.
    Complete {
        /// The last page.
        page: u64,
        /// The signal that showed it.
        reason: EndReason,
    },
}

impl PageEvent {
    /// Whether an operator should be warned (records may be missing, repeated or unkeyed; a
    /// next page on another origin) rather than merely told.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            PageEvent::TotalChanged { .. }
                | PageEvent::DuplicateKeys { .. }
                | PageEvent::MissingKeys { .. }
                | PageEvent::CrossOrigin { .. }
                | PageEvent::Resending { .. }
        )
    }

    /// A stable name for the kind of event (`"total_changed"`), for counting and filtering
    /// without matching on the text.
    pub fn code(&self) -> &'static str {
        match self {
            PageEvent::Detected(_) => "detected",
            PageEvent::Switched { .. } => "switched",
            PageEvent::TotalChanged { .. } => "total_changed",
            PageEvent::DuplicateKeys { .. } => "duplicate_keys",
            PageEvent::MissingKeys { .. } => "missing_keys",
            PageEvent::Redelivered { .. } => "redelivered",
            PageEvent::CrossOrigin { .. } => "cross_origin",
            PageEvent::Probing { .. } => "probing",
            PageEvent::Confirmed { .. } => "confirmed",
            PageEvent::GuessRejected { .. } => "guess_rejected",
            PageEvent::Resending { .. } => "resending",
            PageEvent::Complete { .. } => "complete",
        }
    }
}

/// One line for an operator, the same wherever it is shown (logs, `paceline inspect page`,
/// the simulator's trace).
///
/// ```
/// use paceline::paginate::PageEvent;
///
/// let e = PageEvent::TotalChanged { page: 3, from: 100, to: 98 };
/// assert_eq!(e.to_string(), "page 3: the list's total changed from 100 to 98");
/// assert!(e.is_warning());
/// ```
impl std::fmt::Display for PageEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageEvent::Detected(spec) => write!(
                f,
                "detected style {}; as a spec: {}",
                spec.style.kind(),
                serde_json::to_string(spec).unwrap_or_default()
            ),
            PageEvent::Switched { from, to } => {
                write!(
                    f,
                    "the page offers the preferred style: switched from {from} to {to}"
                )
            }
            PageEvent::TotalChanged { page, from, to } => {
                write!(
                    f,
                    "page {page}: the list's total changed from {from} to {to}"
                )
            }
            PageEvent::DuplicateKeys {
                page,
                count,
                dropped,
            } => write!(
                f,
                "page {page}: {count} records repeat keys already seen ({})",
                if *dropped { "dropped" } else { "kept" }
            ),
            PageEvent::MissingKeys { page, count } => {
                write!(f, "page {page}: {count} records have no key")
            }
            PageEvent::Redelivered { page, count } => write!(
                f,
                "page {page}: {count} records the consumer already held, dropped"
            ),
            PageEvent::CrossOrigin { url } => write!(
                f,
                "the next URL is on another (allowed) origin, to be requested without \
                 credentials: {url}"
            ),
            PageEvent::Probing { guess, why, .. } => write!(
                f,
                "the next request is a guess ({guess}), to be confirmed by new records: {why}"
            ),
            PageEvent::Confirmed { page, style } => {
                write!(
                    f,
                    "page {page} confirmed the guess: the list pages by {style}"
                )
            }
            PageEvent::GuessRejected { page, guess, why } => write!(
                f,
                "page {page}: the guess {guess} did not bring the next page: {why}"
            ),
            PageEvent::Resending {
                page,
                response,
                error,
            } => write!(
                f,
                "page {page}: response {response} unusable ({error}): requesting it again"
            ),
            PageEvent::Complete { page, reason } => write!(f, "page {page} is the last: {reason}"),
        }
    }
}

/// Where a walk is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkState {
    /// A request is pending ([`super::Walk::poll_request`]).
    Running,
    /// The list's end was reached, as this signal showed.
    Complete(EndReason),
    /// Stopped before the end: a guard tripped.
    Stopped(GuardError),
}

/// What follows a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// Another page: [`super::Walk::poll_request`] has it.
    More,
    /// This was the last page, as this signal showed.
    Complete(EndReason),
    /// The walk stopped after this page (whose records, if any, are still to be delivered).
    Stopped(GuardError),
}

/// One page's records, as byte ranges into the body given to [`super::Walk::on_page`]: nothing is
/// copied, and the walk keeps nothing of the body. Duplicates are already filtered out when
/// [`super::PageSpec::dedupe`] is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub(crate) number: u64,
    pub(crate) records: Vec<Range<usize>>,
    pub(crate) duplicates: u32,
    pub(crate) after: After,
}

impl Page {
    /// The page's number in the walk, from 1 (resumed walks go on counting).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The records' byte ranges in the body.
    pub fn ranges(&self) -> &[Range<usize>] {
        &self.records
    }

    /// The records: each one JSON value, sliced from `body` (the body given to
    /// [`super::Walk::on_page`]).
    pub fn records<'b>(&self, body: &'b [u8]) -> impl Iterator<Item = &'b [u8]> + use<'b, '_> {
        self.records.iter().map(move |r| &body[r.clone()])
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the page delivers no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records dropped as duplicates.
    pub fn duplicates(&self) -> u32 {
        self.duplicates
    }

    /// What follows.
    pub fn after(&self) -> &After {
        &self.after
    }

    /// Whether the walk is over after this page (complete or stopped).
    pub fn is_last(&self) -> bool {
        self.after != After::More
    }
}
