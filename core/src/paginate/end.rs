//! How a walk ends: [`EndReason`], and what it saw of a list that changed under it: [`Drift`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::pointer::Pointer;
use super::spec::Source;

/// The positive signal that ended a walk. A walk never ends for want of a signal: when a
/// response says nothing it can read as "more" or "the end", it probes or stops
/// ([`super::GuardError::Undetermined`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndReason {
    /// A "more pages" flag (`has_more`, `hasNextPage`, `more_items_in_collection`) was false.
    HasMoreFalse {
        /// Where.
        at: Pointer,
    },
    /// A "last page" flag (`done`, `isLast`, `last`) was true.
    Done {
        /// Where.
        at: Pointer,
    },
    /// The `Link` header had no link with the walk's relation (`rel="next"`).
    NoNextLink,
    /// The `Link` header's `rel="next"` said `results="false"`: nothing is there.
    LinkResultsFalse,
    /// The next URL, cursor or token was missing, `null` or empty.
    NoNext {
        /// Where it was looked for.
        at: Pointer,
    },
    /// The next page number (`X-Next-Page`) was empty or missing.
    NoNextPage {
        /// Where it was looked for.
        at: Source,
    },
    /// The records received reach the list's total: offset + records ≥ total, or the
    /// pages so far cover it.
    TotalReached {
        /// Records up to the end of this page (offset + records).
        at: u64,
        /// The total the server reported.
        total: u64,
    },
    /// This page's number reached the page count.
    PageCountReached {
        /// This page's number.
        page: u64,
        /// The count.
        pages: u64,
    },
    /// The page had no records.
    EmptyPage,
    /// The page held fewer records than the page size the server uses, and nothing in the
    /// response said more.
    ShortPage {
        /// Records on the page.
        records: u64,
        /// The page size (asked for, or the server's, as learned from a full page).
        size: u64,
    },
    /// The list is not paged: asked for its next page by each usual parameter, the server
    /// answered with the first page again (or the caller said so).
    Unpaginated,
    /// Asked for the next page by a guessed parameter, the server refused it with this
    /// status (a 404 past the last page, a 400 for a parameter it does not know), having
    /// given no sign of more.
    ProbeRefused {
        /// The status.
        status: u16,
    },
    /// The request carried a cursor (this page is a later page of a cursor walk) and the
    /// response gives none back.
    CursorNotReturned {
        /// The parameter that carried it.
        param: String,
    },
    /// Resumed from a checkpoint taken at the list's end (by a version that did not record
    /// why).
    AlreadyComplete,
}

impl EndReason {
    /// A short stable name (`has_more_false`, `total_reached`), as `inspect page` prints it.
    pub fn code(&self) -> &'static str {
        match self {
            EndReason::HasMoreFalse { .. } => "has_more_false",
            EndReason::Done { .. } => "done",
            EndReason::NoNextLink => "no_next_link",
            EndReason::LinkResultsFalse => "link_results_false",
            EndReason::NoNext { .. } => "no_next",
            EndReason::NoNextPage { .. } => "no_next_page",
            EndReason::TotalReached { .. } => "total_reached",
            EndReason::PageCountReached { .. } => "page_count_reached",
            EndReason::EmptyPage => "empty_page",
            EndReason::ShortPage { .. } => "short_page",
            EndReason::Unpaginated => "unpaginated",
            EndReason::ProbeRefused { .. } => "probe_refused",
            EndReason::CursorNotReturned { .. } => "cursor_not_returned",
            EndReason::AlreadyComplete => "already_complete",
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::HasMoreFalse { at } => write!(f, "{at} is false"),
            EndReason::Done { at } => write!(f, "{at} is true"),
            EndReason::NoNextLink => f.write_str("the Link header has no rel=\"next\""),
            EndReason::LinkResultsFalse => {
                f.write_str("the Link header's rel=\"next\" says results=\"false\"")
            }
            EndReason::NoNext { at } => write!(f, "no next page at {at}"),
            EndReason::NoNextPage { at } => write!(f, "no next page number in {at}"),
            EndReason::TotalReached { at, total } => {
                write!(f, "{at} records of a total of {total} reached")
            }
            EndReason::PageCountReached { page, pages } => {
                write!(f, "page {page} of {pages}")
            }
            EndReason::EmptyPage => f.write_str("an empty page"),
            EndReason::ShortPage { records, size } => write!(
                f,
                "a short page ({records} records, pages hold {size}) and no sign of more"
            ),
            EndReason::Unpaginated => f.write_str(
                "the list is not paged: asked for a next page, the server sent the first again",
            ),
            EndReason::ProbeRefused { status } => write!(
                f,
                "the server answered {status} to the next page's request, and gave no sign of more"
            ),
            EndReason::CursorNotReturned { param } => write!(
                f,
                "the request carried a cursor ({param}) and the response gives no next one"
            ),
            EndReason::AlreadyComplete => f.write_str("the checkpoint was taken at the end"),
        }
    }
}

/// What an offset or page walk saw of its list changing while it was read. Offsets drift: a
/// record deleted ahead of the walk's offset shifts the rest back and one record is never
/// seen; one inserted there shifts them forward and one is seen twice. The responses show
/// the second (keys seen twice) and the net change (the total), never the first, so a walk
/// that saw any of this cannot promise every record: [`Drift::is_empty`] is what a clean
/// success needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Drift {
    /// How many times the reported total changed between pages.
    #[serde(default, skip_serializing_if = "is_zero32")]
    pub total_changes: u32,
    /// The sum of the total's falls: records deleted while the walk ran, at least.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_fell: u64,
    /// The sum of the total's rises: records inserted, at least.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_rose: u64,
    /// Records whose key had already been seen (dropped when de-duplicating).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repeated: u64,
    /// At the end: how many fewer distinct records were delivered than the last total.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shortfall: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero32(n: &u32) -> bool {
    *n == 0
}

impl Drift {
    /// Whether the list looked unchanged.
    pub fn is_empty(&self) -> bool {
        *self == Drift::default()
    }

    /// How many records may be missing, as far as the responses tell: the larger of the
    /// total's falls and the final shortfall. Deletes balanced by inserts ahead of the offset
    /// do not show at all, so this is an estimate, not a bound.
    pub fn may_be_missing(&self) -> u64 {
        self.total_fell.max(self.shortfall)
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.total_changes > 0 {
            parts.push(format!(
                "the total changed {} times (fell by {}, rose by {})",
                self.total_changes, self.total_fell, self.total_rose
            ));
        }
        if self.repeated > 0 {
            parts.push(format!("{} records came twice", self.repeated));
        }
        if self.shortfall > 0 {
            parts.push(format!(
                "{} fewer records than the last total were delivered",
                self.shortfall
            ));
        }
        if parts.is_empty() {
            f.write_str("no change seen")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}
