//! What can go wrong in a walk, by who is at fault.
//!
//! - [`PageError`]: this response cannot be used (the server's doing, perhaps transient). The
//!   walk has not moved; the same request is still pending.
//! - [`GuardError`]: the walk stopped before the list's end, after delivering the page that
//!   tripped it (the server's doing: a loop, an endless list, a next URL to another host).
//! - [`SpecError`], [`ResumeError`]: the caller's spec, template or checkpoint does not fit.
//! - [`CheckpointError`]: checkpoint bytes are not a checkpoint (storage's doing).

use std::fmt;

use http::StatusCode;

use super::json::BodyError;
use super::pointer::Pointer;
use super::spec::StyleKind;
use crate::headers::link::LinkError;

/// Why a response could not be used as a page. The walk did not move: the same request is
/// still pending ([`super::Walk::poll_request`]), so the caller may send it again (a bounded
/// number of times: [`PageError::is_transient`] says when that can help) or give up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageError {
    /// Not a 2xx. Retrying statuses is the Pacer's business, not the walk's: hand the walk only
    /// the final response of a request.
    Status(StatusCode),
    /// The body is not JSON, or is truncated.
    Body(BodyError),
    /// The items pointer names nothing in the body.
    ItemsMissing {
        /// The pointer.
        pointer: Pointer,
    },
    /// The items pointer names something that is not an array.
    ItemsNotArray {
        /// The pointer.
        pointer: Pointer,
    },
    /// A value the walk reads has the wrong type (`has_more: "maybe"`, a cursor that is an
    /// object).
    WrongType {
        /// Where.
        pointer: Pointer,
        /// What was expected: `"boolean"`, `"string"`, `"count"`.
        expected: &'static str,
    },
    /// Auto-detection found no list in the first response.
    NotAList,
    /// Auto-detection found several arrays of records, none by a well-known name: say which
    /// holds the records (the spec's `items`, `paceline extract --items`).
    AmbiguousItems {
        /// The arrays.
        candidates: Vec<Pointer>,
    },
    /// The style given has a part detection could not find in the first response (a cursor
    /// style with no cursor in the body): say where it is.
    Undetected {
        /// What is missing.
        what: String,
    },
}

impl PageError {
    /// Whether sending the same request again can plausibly help: a truncated body, a body
    /// that is not JSON at all (a proxy's HTML error page served with 200), a 5xx or 429 that
    /// got this far. Callers bound how often they resend. A JSON body of the wrong shape is
    /// not transient.
    pub fn is_transient(&self) -> bool {
        match self {
            PageError::Body(BodyError::Truncated | BodyError::Invalid { .. }) => true,
            PageError::Status(s) => s.is_server_error() || *s == StatusCode::TOO_MANY_REQUESTS,
            _ => false,
        }
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::Status(s) => write!(f, "page response has status {}", s.as_u16()),
            PageError::Body(e) => write!(f, "page {e}"),
            PageError::ItemsMissing { pointer } => write!(f, "no items at {pointer:?}"),
            PageError::ItemsNotArray { pointer } => {
                write!(f, "items at {pointer:?} are not an array")
            }
            PageError::WrongType { pointer, expected } => {
                write!(f, "value at {pointer:?} is not a {expected}")
            }
            PageError::NotAList => f.write_str("no list found in the response"),
            PageError::AmbiguousItems { candidates } => {
                let names: Vec<&str> = candidates.iter().map(Pointer::as_str).collect();
                write!(
                    f,
                    "several arrays of records ({}), none by a well-known name: say which holds the records",
                    names.join(", ")
                )
            }
            PageError::Undetected { what } => write!(f, "not found in the first page: {what}"),
        }
    }
}

impl std::error::Error for PageError {}

impl From<BodyError> for PageError {
    fn from(e: BodyError) -> Self {
        PageError::Body(e)
    }
}

/// Why a walk stopped before the list's end. The page that showed it was delivered (unless it
/// repeated the previous one); the checkpoint still points at the next page, so a resumed walk
/// with different guards can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuardError {
    /// The next cursor or token was used before: following it would loop (a last page whose
    /// cursor points at itself, a cursor that cycles).
    CursorRepeated {
        /// The page that gave it.
        page: u64,
    },
    /// The next URL was requested before.
    UrlRepeated {
        /// The page that gave it.
        page: u64,
        /// The URL.
        url: String,
    },
    /// The keyset values of the last record were used before: the server ignores them.
    KeysRepeated {
        /// The page that gave them.
        page: u64,
    },
    /// The next URL is on another origin (scheme, host, port) and that origin is not allowed.
    OffOrigin {
        /// The URL refused.
        url: String,
    },
    /// The next URL is not a URL.
    BadNextUrl {
        /// The value (at most 256 bytes of it).
        value: String,
    },
    /// The `Link` header could not be parsed.
    BadLinkHeader(LinkError),
    /// The server says there is more but gives no way to get it (`has_more: true` with no
    /// cursor; a last record without its key field).
    NextMissing {
        /// The page.
        page: u64,
    },
    /// The walk reached its maximum page count with more to come.
    MaxPages {
        /// The maximum.
        max: u64,
    },
    /// Too many consecutive empty pages with a next pointer.
    TooManyEmptyPages {
        /// How many in a row.
        count: u32,
    },
    /// Nothing in the first exchange said how to ask for the next page, and something said
    /// there is one (a total above the records received, a full page); every usual parameter
    /// was tried and none brought new records. Say how the list pages (the spec's style,
    /// items, next and param; `paceline extract --paginate`, `--items`, `--next`, `--param`).
    Undetermined {
        /// The page that showed it.
        page: u64,
        /// What said there is more.
        why: String,
    },
    /// The page's records are exactly the previous page's: the server ignores the paging
    /// parameter or served a stale page. (Not raised on an offset or page walk whose `total`
    /// grew by at least that page since the previous one: the list shifted by exactly one
    /// page, and the repeated records are dropped.)
    PageRepeated {
        /// The page.
        page: u64,
    },
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardError::CursorRepeated { page } => {
                write!(f, "page {page} gave a cursor already used")
            }
            GuardError::UrlRepeated { page, url } => {
                write!(f, "page {page} gave a next URL already requested: {url}")
            }
            GuardError::KeysRepeated { page } => {
                write!(f, "page {page} ended on keys already used")
            }
            GuardError::OffOrigin { url } => {
                write!(f, "next URL on another origin refused: {url}")
            }
            GuardError::BadNextUrl { value } => write!(f, "next URL is not a URL: {value:?}"),
            GuardError::BadLinkHeader(e) => write!(f, "{e}"),
            GuardError::NextMissing { page } => {
                write!(
                    f,
                    "page {page} says there is more but gives no next pointer"
                )
            }
            GuardError::MaxPages { max } => write!(f, "stopped at the maximum of {max} pages"),
            GuardError::TooManyEmptyPages { count } => {
                write!(f, "{count} empty pages in a row")
            }
            GuardError::PageRepeated { page } => {
                write!(f, "page {page} repeats the previous page")
            }
            GuardError::Undetermined { page, why } => write!(
                f,
                "cannot tell how to ask for the next page (page {page}): {why}; no usual offset or page parameter brought new records"
            ),
        }
    }
}

impl std::error::Error for GuardError {}

/// The caller's spec or template cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecError {
    /// The template's URL does not parse.
    BadUrl(String),
    /// A body parameter needs a JSON object body, and the template's body is not one.
    BodyNotJson,
    /// A body parameter's pointer goes through a scalar in the template's body.
    BadBodyParam {
        /// The pointer.
        pointer: Pointer,
    },
    /// A keyset style with no keys.
    NoKeys,
    /// An allowed origin that is not a URL.
    BadOrigin(String),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::BadUrl(e) => write!(f, "template URL: {e}"),
            SpecError::BodyNotJson => f.write_str("body parameters need a JSON object body"),
            SpecError::BadBodyParam { pointer } => {
                write!(
                    f,
                    "body parameter {pointer:?} cannot be set in the template's body"
                )
            }
            SpecError::NoKeys => f.write_str("keyset style without keys"),
            SpecError::BadOrigin(o) => write!(f, "allowed origin {o:?} is not a URL"),
        }
    }
}

impl std::error::Error for SpecError {}

/// A checkpoint cannot resume this walk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeError {
    /// A checkpoint version this build does not know.
    UnknownVersion(u32),
    /// The checkpoint was written for another request (method, URL or body changed).
    FingerprintMismatch {
        /// The template's fingerprint.
        expected: u64,
        /// The checkpoint's.
        found: u64,
    },
    /// The checkpoint's style is not the spec's (nor its preferred style), or its position
    /// does not belong to that style.
    StyleMismatch {
        /// The spec's style.
        spec: StyleKind,
        /// The checkpoint's.
        checkpoint: StyleKind,
    },
    /// No spec given and none recorded in the checkpoint (only auto-detected walks record it).
    NoSpec,
    /// The spec or template is unusable.
    Spec(SpecError),
    /// The checkpoint's next URL is refused (another origin, not a URL).
    Refused(GuardError),
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumeError::UnknownVersion(v) => write!(f, "unknown checkpoint version {v}"),
            ResumeError::FingerprintMismatch { expected, found } => write!(
                f,
                "checkpoint is for another request (fingerprint {found:016x}, expected {expected:016x})"
            ),
            ResumeError::StyleMismatch { spec, checkpoint } => {
                write!(
                    f,
                    "checkpoint style {checkpoint} does not fit spec style {spec}"
                )
            }
            ResumeError::NoSpec => f.write_str("no spec given and none in the checkpoint"),
            ResumeError::Spec(e) => write!(f, "{e}"),
            ResumeError::Refused(e) => write!(f, "checkpoint refused: {e}"),
        }
    }
}

impl std::error::Error for ResumeError {}

impl From<SpecError> for ResumeError {
    fn from(e: SpecError) -> Self {
        ResumeError::Spec(e)
    }
}

/// Bytes that are not a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Longer than any checkpoint this crate writes.
    TooLarge {
        /// The length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// Not JSON, or JSON without a numeric `version`.
    NotACheckpoint,
    /// A version this build does not know.
    UnknownVersion(u32),
    /// A known version with fields missing or of the wrong shape.
    Invalid(String),
    /// An older version this build reads, but not this one of it.
    Outdated {
        /// Its version.
        version: u32,
        /// Why it cannot be resumed, and what to do.
        why: &'static str,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::TooLarge { len, max } => {
                write!(f, "checkpoint of {len} bytes, more than {max}")
            }
            CheckpointError::NotACheckpoint => f.write_str("not a checkpoint"),
            CheckpointError::UnknownVersion(v) => write!(f, "unknown checkpoint version {v}"),
            CheckpointError::Invalid(e) => write!(f, "invalid checkpoint: {e}"),
            CheckpointError::Outdated { version, why } => {
                write!(f, "checkpoint format {version} cannot be resumed: {why}")
            }
        }
    }
}

impl std::error::Error for CheckpointError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_worth_resending() {
        assert!(PageError::Body(BodyError::Truncated).is_transient());
        assert!(PageError::Body(BodyError::Invalid { line: 1, column: 1 }).is_transient());
        assert!(PageError::Status(StatusCode::BAD_GATEWAY).is_transient());
        assert!(PageError::Status(StatusCode::TOO_MANY_REQUESTS).is_transient());
        assert!(!PageError::Status(StatusCode::NOT_FOUND).is_transient());
        let pointer = super::super::Pointer::parse("/data").unwrap();
        assert!(!PageError::ItemsMissing { pointer }.is_transient());
    }
}
