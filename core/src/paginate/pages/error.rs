//! Why a driver's page walk ended before the list's end: [`PagesError`].

use std::fmt;
use std::io;

use super::{Delivered, Failure, Slot, StartError};
use crate::paginate::{CheckpointError, GuardError, PageError, ResumeError, SpecError};

/// Why a driver's page walk stopped, by who is at fault: what the drivers built on
/// [`Pages`](super::Pages) return (`E` is the driver's request error: `paceline_ureq::Error`,
/// say).
///
/// The caller's: [`Spec`](Self::Spec), [`Resume`](Self::Resume),
/// [`NoCheckpoint`](Self::NoCheckpoint), a request that cannot be built inside
/// [`Request`](Self::Request). Storage's: [`BadCheckpoint`](Self::BadCheckpoint),
/// [`Checkpoint`](Self::Checkpoint). The server's (or the network's):
/// [`Request`](Self::Request), [`Page`](Self::Page), [`Stopped`](Self::Stopped), each
/// carrying what was [`Delivered`] before it.
#[derive(Debug)]
#[non_exhaustive]
pub enum PagesError<E> {
    /// The spec or the request template is unusable (a body parameter with a non-JSON body, an
    /// allowed origin that is not a URL).
    Spec(SpecError),
    /// The stored checkpoint does not fit this walk: written for another request (method,
    /// URL or body: [`ResumeError::FingerprintMismatch`]), another style, or a next URL the
    /// guards refuse.
    Resume(ResumeError),
    /// [`Resume::Required`](super::Resume::Required), and no checkpoint is stored.
    NoCheckpoint,
    /// The stored bytes are not a checkpoint (truncated, edited, from a newer build).
    BadCheckpoint(CheckpointError),
    /// Loading or saving the checkpoint failed. When saving, `delivered` says what was handed
    /// out; its last page is not covered by a persisted checkpoint, so a resumed walk delivers
    /// that page again.
    Checkpoint {
        /// The store's error.
        error: io::Error,
        /// What was handed out.
        delivered: Delivered,
    },
    /// The page request got no usable answer: the Pacer gave up on it (retries exhausted, a
    /// quota, a breaker), or it could not be sent at all.
    Request {
        /// The page asked for (from 1, counting resumed pages).
        page: u64,
        /// The driver's error (the client's, with every attempt).
        error: E,
        /// What was handed out before.
        delivered: Delivered,
    },
    /// The final response could not be read as a page: a status other than 2xx, a body with no
    /// items where the spec says, or (after [`PagesConfig::resends`](super::PagesConfig::resends)
    /// re-requests) a body that stayed truncated or not JSON.
    Page {
        /// The page asked for.
        page: u64,
        /// What was wrong with the last response.
        error: PageError,
        /// Responses received for this page (each one after the Pacer was done with it).
        responses: u32,
        /// What was handed out before.
        delivered: Delivered,
    },
    /// A guard stopped the walk before the list's end: a cursor or URL seen before, too many
    /// empty pages, the maximum page count, a repeated page, a next URL on an origin not
    /// allowed. The page that showed it was delivered, and the checkpoint (still pointing at
    /// the refused next page) persisted: a walk resumed with other guards can go on.
    Stopped {
        /// Which guard, and what it saw.
        error: GuardError,
        /// What was handed out.
        delivered: Delivered,
    },
}

impl<E> PagesError<E> {
    /// What was handed out before the error, when the walk had started.
    pub fn delivered(&self) -> Option<&Delivered> {
        match self {
            PagesError::Checkpoint { delivered, .. }
            | PagesError::Request { delivered, .. }
            | PagesError::Page { delivered, .. }
            | PagesError::Stopped { delivered, .. } => Some(delivered),
            PagesError::Spec(_)
            | PagesError::Resume(_)
            | PagesError::NoCheckpoint
            | PagesError::BadCheckpoint(_) => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for PagesError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PagesError::Spec(e) => write!(f, "page spec: {e}"),
            PagesError::Resume(e) => write!(f, "cannot resume: {e}"),
            PagesError::NoCheckpoint => f.write_str("cannot resume: no checkpoint stored"),
            PagesError::BadCheckpoint(e) => write!(f, "cannot resume: {e}"),
            PagesError::Checkpoint { error, delivered } => {
                write!(f, "checkpoint: {error}; {delivered}")
            }
            PagesError::Request {
                page,
                error,
                delivered,
            } => write!(f, "page {page}: {error}; {delivered}"),
            PagesError::Page {
                page,
                error,
                responses,
                delivered,
            } => write!(
                f,
                "page {page}: {error} ({responses} responses); {delivered}"
            ),
            PagesError::Stopped { error, delivered } => {
                write!(f, "walk stopped: {error}; {delivered}")
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for PagesError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PagesError::Spec(e) => Some(e),
            PagesError::Resume(e) => Some(e),
            PagesError::NoCheckpoint => None,
            PagesError::BadCheckpoint(e) => Some(e),
            PagesError::Checkpoint { error, .. } => Some(error),
            PagesError::Request { error, .. } => Some(error),
            PagesError::Page { error, .. } => Some(error),
            PagesError::Stopped { error, .. } => Some(error),
        }
    }
}

impl<E> From<SpecError> for PagesError<E> {
    fn from(e: SpecError) -> Self {
        PagesError::Spec(e)
    }
}

impl<E> From<ResumeError> for PagesError<E> {
    fn from(e: ResumeError) -> Self {
        match e {
            ResumeError::Spec(e) => PagesError::Spec(e),
            e => PagesError::Resume(e),
        }
    }
}

impl<E> From<StartError> for PagesError<E> {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Spec(e) => PagesError::Spec(e),
            StartError::Resume(e) => PagesError::from(e),
            StartError::BadCheckpoint(e) => PagesError::BadCheckpoint(e),
            StartError::NoCheckpoint => PagesError::NoCheckpoint,
        }
    }
}

impl<E> PagesError<E> {
    /// The error a machine's [`Failure`] is to a driver's caller: `request` gives the error
    /// the driver kept for the slot whose exchange failed, `store` the store's error of a
    /// failed save; `delivered` is what the driver handed out (a page handed out in part is
    /// the driver's to count).
    pub fn from_failure(
        failure: Failure,
        delivered: Delivered,
        request: impl FnOnce(Slot) -> E,
        store: impl FnOnce() -> Option<io::Error>,
    ) -> Self {
        match failure {
            Failure::Stopped { error, .. } => PagesError::Stopped { error, delivered },
            Failure::Unreadable {
                page,
                error,
                responses,
                ..
            } => PagesError::Page {
                page,
                error,
                responses,
                delivered,
            },
            Failure::Request { page, slot, .. } => PagesError::Request {
                page,
                error: request(slot),
                delivered,
            },
            Failure::Save { .. } => PagesError::Checkpoint {
                error: store().unwrap_or_else(|| io::Error::other("the checkpoint store failed")),
                delivered,
            },
            other => PagesError::Checkpoint {
                error: io::Error::other(other.to_string()),
                delivered,
            },
        }
    }
}
