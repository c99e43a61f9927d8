//! How a list pages: its [`Style`], the style's kind, and where a count is read ([`Source`]).

use crate::paginate::pointer::Pointer;
use serde::{Deserialize, Serialize};
use std::fmt;

use super::*;

/// How the next page is found and how the end is told. A walk ends only on a positive end
/// signal of its style ([`crate::paginate::EndReason`]); each variant's doc lists them, in the order they
/// are read. `has_more` (true: more pages) and `done` (true: this is the last page) flags, when
/// given, come first: a page that says it is the last is the last, whatever else it holds, and
/// one that says there is more is never an end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Style {
    /// `?offset=N&limit=L`. The next offset is this one plus the records the page held.
    /// End: the flags, else offset + records ≥ `total`, else an empty page, else a page
    /// shorter than the page size asked for (when one is asked for, and no total says more).
    /// Drifts under inserts and deletes: see [`PageSpec::dedupe`].
    Offset {
        /// The offset parameter. Default `offset`.
        #[serde(default = "offset_param")]
        param: Param,
        /// The first offset. Default 0.
        #[serde(default, skip_serializing_if = "is_zero")]
        start: u64,
        /// The list's record count (a body pointer or `header:X-Total-Count`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<Source>,
        /// A boolean: more records after this page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        has_more: Option<Pointer>,
        /// A boolean: this is the last page (Jira's `/isLast`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<Pointer>,
    },
    /// `?page=N&per_page=L`. End: the flags, else the next page number given as empty
    /// (`next_page`), else the page count reached `total_pages`, else `total` records covered,
    /// else an empty page, else a short page (as for offsets).
    Page {
        /// The page parameter. Default `page`.
        #[serde(default = "page_param")]
        param: Param,
        /// The first page's number. Default 1.
        #[serde(default = "one")]
        first: u64,
        /// The list's record count.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<Source>,
        /// The list's page count (`/total_pages`, `header:X-Total-Pages`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total_pages: Option<Source>,
        /// The next page's number, empty or absent on the last page (GitLab's
        /// `header:X-Next-Page`, Harvest's `/next_page`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_page: Option<Source>,
        /// A boolean: more pages after this one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        has_more: Option<Pointer>,
        /// A boolean: this is the last page (Spring Data's `/last`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<Pointer>,
    },
    /// An opaque cursor in the body, sent back as a parameter. End: the flags, else a
    /// missing, `null` or empty cursor (Slack's `""`).
    Cursor {
        /// Where the next cursor is (`/response_metadata/next_cursor`, `/next_cursor`).
        next: Pointer,
        /// Where it goes (`cursor`, Notion's `start_cursor`).
        param: Param,
        /// A boolean: more pages (Notion's `/has_more`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        has_more: Option<Pointer>,
        /// A boolean: this is the last page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<Pointer>,
    },
    /// Keyset ("seek"): the next page starts after the last record, named by one or more of its
    /// fields (a sort key then a tie-breaker: `since=<updated_at>&since_id=<id>`; Stripe's
    /// `starting_after=<id>`). End: the flags, else an empty page, else a page shorter than
    /// the page size asked for.
    Keyset {
        /// The fields of the last record and their parameters, in order.
        keys: Vec<KeyParam>,
        /// A boolean: more records (Stripe's `/has_more`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        has_more: Option<Pointer>,
        /// A boolean: this is the last page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<Pointer>,
    },
    /// The `Link` header (RFC 8288): follow the link with this relation type, resolved against
    /// the request's URL. End: no such link, or one whose `results` parameter is `"false"`
    /// (Sentry's way of saying the next page would be empty).
    Link {
        /// The relation type. Default `next`.
        #[serde(default = "next_rel")]
        rel: String,
    },
    /// A next URL in the body (JSON:API `/links/next`, OData `/@odata.nextLink`, Salesforce
    /// `/nextRecordsUrl`), resolved against the request's URL. The pointer may name an object
    /// holding the URL (HAL's `/_links/next` with its `href`; `url`, `uri` and `link` members
    /// too). End: the flags, else a missing, `null` or empty URL.
    NextUrl {
        /// Where the URL is.
        next: Pointer,
        /// A boolean: the list is complete (Salesforce's `/done`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<Pointer>,
        /// A boolean: more pages (Zendesk's `/meta/has_more`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        has_more: Option<Pointer>,
        /// A URL a path-only next URL is relative to, in the body (Confluence's
        /// `/_links/base`: the next URL is the base with the path appended, unless the path
        /// already starts with the base's). Else the request's URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<Pointer>,
    },
    /// A page token (Google AIP-158 `nextPageToken` → `pageToken`). End: the flags, else a
    /// missing or empty token.
    Token {
        /// Where the next token is. Usually `/nextPageToken`.
        next: Pointer,
        /// Where it goes. Usually `pageToken`.
        param: Param,
        /// A boolean: more pages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        has_more: Option<Pointer>,
        /// A boolean: this is the last page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        done: Option<Pointer>,
    },
    /// GraphQL Relay connections: `pageInfo { hasNextPage endCursor }`, the cursor sent back as
    /// a variable of the POST body. End: `hasNextPage` false, else no `endCursor`.
    #[serde(alias = "graphql")]
    Relay {
        /// Where the connection's `pageInfo` object is (`/data/repository/issues/pageInfo`).
        page_info: Pointer,
        /// The variable that takes the cursor. Default `after`.
        #[serde(default = "after_var")]
        variable: String,
    },
    /// Elasticsearch/OpenSearch `search_after`: the last hit's `sort` values, sent in the POST
    /// body. End: an empty page, else a page shorter than the page size.
    SearchAfter {
        /// Where the sort values are, inside a hit. Default `/sort`.
        #[serde(default = "sort_ptr")]
        sort: Pointer,
        /// Where they go. Default the body's `/search_after`.
        #[serde(default = "search_after_param")]
        param: Param,
    },
}

/// Where a number the walk reads is: a member of the body, as a JSON Pointer (`/meta/total`),
/// or a response header, written `header:NAME` (`header:X-Total-Count`). A header value may be
/// a plain count or a `Content-Range` (`items 0-24/3573`, whose count is after the slash).
///
/// ```
/// use paceline::paginate::Source;
///
/// let s: Source = serde_json::from_str(r#""header:X-Total-Count""#).unwrap();
/// assert_eq!(s, Source::header("x-total-count"));
/// assert_eq!(serde_json::to_string(&s).unwrap(), r#""header:x-total-count""#);
/// let p: Source = serde_json::from_str(r#""/meta/total""#).unwrap();
/// assert_eq!(p, Source::body("/meta/total"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// A member of the body.
    Body(Pointer),
    /// A response header (lower-case name).
    Header(String),
}

impl Source {
    /// A body member.
    ///
    /// # Panics
    /// When `pointer` is not a JSON Pointer (a bug in the calling code).
    #[track_caller]
    pub fn body(pointer: &str) -> Self {
        Source::Body(ptr(pointer))
    }

    /// A response header.
    pub fn header(name: &str) -> Self {
        Source::Header(name.trim().to_ascii_lowercase())
    }

    /// Reads `header:NAME` or a JSON Pointer.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.strip_prefix("header:") {
            Some(name) => {
                let name = name.trim();
                http::HeaderName::from_bytes(name.as_bytes())
                    .map(|n| Source::Header(n.as_str().to_owned()))
                    .map_err(|_| format!("{name:?} is not a header name"))
            }
            None => Pointer::parse(text)
                .map(Source::Body)
                .map_err(|e| format!("{text:?} is neither a JSON Pointer nor header:NAME: {e}")),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Body(p) => f.write_str(p.as_str()),
            Source::Header(h) => write!(f, "header:{h}"),
        }
    }
}

impl From<Pointer> for Source {
    fn from(p: Pointer) -> Self {
        Source::Body(p)
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Source::parse(&text).map_err(serde::de::Error::custom)
    }
}

pub(super) fn is_zero(n: &u64) -> bool {
    *n == 0
}
pub(super) fn one() -> u64 {
    1
}
pub(super) fn offset_param() -> Param {
    Param::query("offset")
}
pub(super) fn page_param() -> Param {
    Param::query("page")
}
pub(super) fn next_rel() -> String {
    "next".into()
}
pub(super) fn after_var() -> String {
    "after".into()
}
pub(super) fn sort_ptr() -> Pointer {
    Pointer::from_static("/sort")
}
pub(super) fn search_after_param() -> Param {
    Param::body("/search_after")
}

/// The name of a style, for reports, checkpoints and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StyleKind {
    /// [`Style::Offset`].
    Offset,
    /// [`Style::Page`].
    Page,
    /// [`Style::Cursor`].
    Cursor,
    /// [`Style::Keyset`].
    Keyset,
    /// [`Style::Link`].
    Link,
    /// [`Style::NextUrl`].
    NextUrl,
    /// [`Style::Token`].
    Token,
    /// [`Style::Relay`].
    Relay,
    /// [`Style::SearchAfter`].
    SearchAfter,
}

impl StyleKind {
    /// The name as serialized (`next_url`, `search_after`).
    pub fn as_str(self) -> &'static str {
        match self {
            StyleKind::Offset => "offset",
            StyleKind::Page => "page",
            StyleKind::Cursor => "cursor",
            StyleKind::Keyset => "keyset",
            StyleKind::Link => "link",
            StyleKind::NextUrl => "next_url",
            StyleKind::Token => "token",
            StyleKind::Relay => "relay",
            StyleKind::SearchAfter => "search_after",
        }
    }
}

impl fmt::Display for StyleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Style {
    /// The style's `has_more` and `done` pointers, for the styles that have them.
    pub(crate) fn flags_mut(&mut self) -> Option<(&mut Option<Pointer>, &mut Option<Pointer>)> {
        match self {
            Style::Offset { has_more, done, .. }
            | Style::Page { has_more, done, .. }
            | Style::Cursor { has_more, done, .. }
            | Style::Keyset { has_more, done, .. }
            | Style::NextUrl { has_more, done, .. }
            | Style::Token { has_more, done, .. } => Some((has_more, done)),
            Style::Link { .. } | Style::Relay { .. } | Style::SearchAfter { .. } => None,
        }
    }

    /// This style's name.
    pub fn kind(&self) -> StyleKind {
        match self {
            Style::Offset { .. } => StyleKind::Offset,
            Style::Page { .. } => StyleKind::Page,
            Style::Cursor { .. } => StyleKind::Cursor,
            Style::Keyset { .. } => StyleKind::Keyset,
            Style::Link { .. } => StyleKind::Link,
            Style::NextUrl { .. } => StyleKind::NextUrl,
            Style::Token { .. } => StyleKind::Token,
            Style::Relay { .. } => StyleKind::Relay,
            Style::SearchAfter { .. } => StyleKind::SearchAfter,
        }
    }
}
