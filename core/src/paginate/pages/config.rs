//! How a [`Pages`](super::Pages) machine walks, and why one could not start.

use std::fmt;

use crate::paginate::{CheckpointError, Guards, Hints, ResumeError, SpecError};

/// Requests of one page after a garbled body (truncated, not JSON), by default: 2, three
/// responses in all. Ours: enough for a proxy's one-off error page or a cut connection, few
/// enough that a server that always sends garbage is reported quickly.
pub const DEFAULT_RESENDS: u32 = 2;

/// What to do with a saved checkpoint when a walk starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Resume {
    /// Ignore it: start at the first page (the store is overwritten after it).
    Never,
    /// Resume from it when there is one, else start at the first page. A checkpoint of a
    /// complete walk resumes to a walk that delivers nothing: remove it to start over.
    /// The default.
    #[default]
    IfPresent,
    /// Resume from it; having none is [`StartError::NoCheckpoint`].
    Required,
}

/// How a [`Pages`](super::Pages) machine walks.
///
/// ```
/// use paceline::paginate::{Guards, PagesConfig, Resume};
///
/// let config = PagesConfig::default()
///     .resume(Resume::Required)
///     .resends(4)
///     .concurrency(3)
///     .guards(Guards::default().max_pages(500));
/// assert_eq!(config.concurrency, 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PagesConfig {
    /// The guards of a walk without a spec (a spec carries its own). Default:
    /// [`Guards::default`].
    pub guards: Guards,
    /// What is known of an auto-detected list. Default: nothing.
    pub hints: Hints,
    /// What to do with the saved bytes handed to [`Pages::start`](super::Pages::start).
    /// Default: [`Resume::IfPresent`].
    pub resume: Resume,
    /// Requests of one page after a garbled body, per page. Default: [`DEFAULT_RESENDS`].
    /// Only a body that is not JSON or is cut short is requested again: a final non-2xx
    /// status is the Pacer's verdict, its retries already spent.
    pub resends: u32,
    /// Page requests in flight or in hand at once (at least 1). Default: 1.
    pub concurrency: usize,
    /// Whether checkpoints are saved ([`Output::Save`](super::Output::Save)). Default: true.
    pub saves: bool,
}

impl Default for PagesConfig {
    fn default() -> Self {
        PagesConfig {
            guards: Guards::default(),
            hints: Hints::default(),
            resume: Resume::IfPresent,
            resends: DEFAULT_RESENDS,
            concurrency: 1,
            saves: true,
        }
    }
}

impl PagesConfig {
    /// Sets [`PagesConfig::guards`].
    pub fn guards(mut self, guards: Guards) -> Self {
        self.guards = guards;
        self
    }

    /// Sets [`PagesConfig::hints`].
    pub fn hints(mut self, hints: Hints) -> Self {
        self.hints = hints;
        self
    }

    /// Sets [`PagesConfig::resume`].
    pub fn resume(mut self, resume: Resume) -> Self {
        self.resume = resume;
        self
    }

    /// Sets [`PagesConfig::resends`].
    pub fn resends(mut self, n: u32) -> Self {
        self.resends = n;
        self
    }

    /// Sets [`PagesConfig::concurrency`] (0 is taken as 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.clamp(1, usize::from(u16::MAX));
        self
    }

    /// Sets [`PagesConfig::saves`].
    pub fn saves(mut self, saves: bool) -> Self {
        self.saves = saves;
        self
    }
}

/// Why a walk could not start: nothing was requested.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartError {
    /// The spec or the request template is unusable.
    Spec(SpecError),
    /// The saved checkpoint does not fit this walk (another request, another style, a next
    /// URL the guards refuse).
    Resume(ResumeError),
    /// The saved bytes are not a checkpoint (truncated, edited, from a newer build).
    BadCheckpoint(CheckpointError),
    /// [`Resume::Required`], and nothing was saved.
    NoCheckpoint,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Spec(e) => write!(f, "unusable page spec: {e}"),
            StartError::Resume(e) => write!(f, "the checkpoint does not fit this walk: {e}"),
            StartError::BadCheckpoint(e) => write!(f, "not a checkpoint: {e}"),
            StartError::NoCheckpoint => {
                write!(f, "resuming was required, and no checkpoint is saved")
            }
        }
    }
}

impl std::error::Error for StartError {}

impl From<SpecError> for StartError {
    fn from(e: SpecError) -> Self {
        StartError::Spec(e)
    }
}

impl From<ResumeError> for StartError {
    fn from(e: ResumeError) -> Self {
        StartError::Resume(e)
    }
}
