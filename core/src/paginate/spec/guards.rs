//! The walk's limits.

use serde::{Deserialize, Serialize};

/// The walk's limits: what stops a walk that would otherwise never end, or go where it should
/// not. Defaults are ours, chosen so that no real API trips them and every broken one does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Guards {
    /// The most pages one walk requests, resumes included (the first page is always requested,
    /// so 0 acts as 1). Default 1,000,000 (100 million records at 100 a page).
    pub max_pages: u64,
    /// The most consecutive empty pages followed while the server still gives a next pointer.
    /// Default 10 (Slack documents pages with fewer results than asked, even none, before the
    /// end when filtering; ten in a row is a broken cursor).
    pub max_empty_pages: u32,
    /// Origins (`https://host[:port]`) other than the first request's that next URLs may go to.
    /// Requests there carry no credentials ([`crate::paginate::PageRequest::credentials`]). Default none.
    pub allowed_origins: Vec<String>,
    /// Request headers that are credentials, beside `authorization`, `proxy-authorization` and
    /// `cookie` (the three that fetch and curl drop on a cross-origin redirect). Default none;
    /// add `x-api-key` and the like.
    pub credential_headers: Vec<String>,
    /// With [`crate::paginate::PageSpec::dedupe`], how many of the last keys delivered a checkpoint carries, so
    /// a resumed walk still filters the records an offset shift brings back. Default 1,024
    /// (16 KiB of hashes; covers a shift of ten pages of 100).
    pub resume_window: usize,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            max_pages: 1_000_000,
            max_empty_pages: 10,
            allowed_origins: Vec::new(),
            credential_headers: Vec::new(),
            resume_window: 1024,
        }
    }
}

impl Guards {
    pub(super) fn is_default(&self) -> bool {
        *self == Guards::default()
    }

    /// Sets [`Guards::max_pages`] (at least 1).
    pub fn max_pages(mut self, n: u64) -> Self {
        self.max_pages = n.max(1);
        self
    }

    /// Sets [`Guards::max_empty_pages`].
    pub fn max_empty_pages(mut self, n: u32) -> Self {
        self.max_empty_pages = n;
        self
    }

    /// Adds an origin to [`Guards::allowed_origins`].
    pub fn allow_origin(mut self, origin: &str) -> Self {
        self.allowed_origins.push(origin.to_owned());
        self
    }

    /// Adds a header to [`Guards::credential_headers`].
    pub fn credential_header(mut self, name: &str) -> Self {
        self.credential_headers.push(name.to_ascii_lowercase());
        self
    }

    /// Sets [`Guards::resume_window`].
    pub fn resume_window(mut self, n: usize) -> Self {
        self.resume_window = n;
        self
    }
}
