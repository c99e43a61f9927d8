//! Why a page walk ended before the list's end: [`PagesError`].

use std::fmt;
use std::io;

use paceline::paginate::{
    CheckpointError, Delivered, GuardError, PageError, ResumeError, SpecError,
};

/// Why [`Pages`](crate::Pages) stopped, by who is at fault. After an error the iterator is
/// over (it returns `None`).
///
/// The caller's: [`Spec`](Self::Spec), [`Resume`](Self::Resume),
/// [`NoCheckpoint`](Self::NoCheckpoint), an [`Error::InvalidRequest`](crate::Error) inside
/// [`Request`](Self::Request). Storage's: [`BadCheckpoint`](Self::BadCheckpoint),
/// [`Checkpoint`](Self::Checkpoint). The server's (or the network's):
/// [`Request`](Self::Request), [`Page`](Self::Page), [`Stopped`](Self::Stopped), each
/// carrying what was [`Delivered`] before it.
#[derive(Debug)]
#[non_exhaustive]
pub enum PagesError {
    /// The spec or the request template is unusable (a body parameter with a non-JSON body, an
    /// allowed origin that is not a URL).
    Spec(SpecError),
    /// The stored checkpoint does not fit this walk: written for another request (method,
    /// URL or body: [`ResumeError::FingerprintMismatch`]), another style, or a next URL the
    /// guards refuse.
    Resume(ResumeError),
    /// [`Resume::Required`](crate::Resume::Required), and no checkpoint is stored.
    NoCheckpoint,
    /// The stored bytes are not a checkpoint (truncated, edited, from a newer build).
    BadCheckpoint(CheckpointError),
    /// Loading or saving the checkpoint failed. When saving, `delivered` says what was handed
    /// out; its last page is not covered by a persisted checkpoint, so a resumed walk delivers
    /// that page again.
    Checkpoint {
        /// The store's error (a [`CheckpointFile`](crate::CheckpointFile)'s names the path).
        error: io::Error,
        /// What was handed out.
        delivered: Delivered,
    },
    /// The page request got no usable answer: the Pacer gave up on it (retries exhausted, a
    /// quota, a breaker), or it could not be sent at all.
    Request {
        /// The page asked for (from 1, counting resumed pages).
        page: u64,
        /// The client's error, with every attempt.
        error: crate::Error,
        /// What was handed out before.
        delivered: Delivered,
    },
    /// The final response could not be read as a page: a status other than 2xx, a body with no
    /// items where the spec says, or (after [`PageOptions::page_retries`](crate::PageOptions)
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

impl PagesError {
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

impl fmt::Display for PagesError {
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

impl std::error::Error for PagesError {
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

impl From<SpecError> for PagesError {
    fn from(e: SpecError) -> Self {
        PagesError::Spec(e)
    }
}

impl From<ResumeError> for PagesError {
    fn from(e: ResumeError) -> Self {
        match e {
            ResumeError::Spec(e) => PagesError::Spec(e),
            e => PagesError::Resume(e),
        }
    }
}
