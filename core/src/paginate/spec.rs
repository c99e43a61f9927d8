//! How a list endpoint pages, described by data: [`PageSpec`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::pointer::Pointer;

/// How one list endpoint pages: a serde record, so a new API is configured without code (the
/// CLI reads it from a JSON file).
///
/// ```
/// use paceline::paginate::{PageSpec, Style, StyleKind};
///
/// // Slack: `{"ok":true,"members":[...],"response_metadata":{"next_cursor":"dXNlcjpVMEc5V0ZYTlo="}}`
/// let spec = PageSpec::slack("/members");
/// assert_eq!(spec.style.kind(), StyleKind::Cursor);
/// let json = serde_json::to_string(&spec).unwrap();
/// assert_eq!(serde_json::from_str::<PageSpec>(&json).unwrap(), spec);
///
/// // The same, written by hand.
/// let hand: PageSpec = serde_json::from_str(r#"{
///     "style": {"kind": "cursor", "next": "/response_metadata/next_cursor",
///               "param": {"query": "cursor"}},
///     "items": "/members",
///     "page_size": {"param": {"query": "limit"}, "size": 200}
/// }"#).unwrap();
/// assert_eq!(hand, spec);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PageSpec {
    /// How the next page is found, and how the list's end is told.
    pub style: Style,
    /// Where the records are in a page's body: an array. `""` when the body is the array.
    pub items: Pointer,
    /// The page size to ask for, and the parameter that asks. `None`: the server's default
    /// (then a short page cannot be told from a full one, so offset and page walks end on an
    /// empty page or by `total`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<PageSize>,
    /// Where a record's identity is, inside each record (`/id`). With it, offset and page walks
    /// report keys seen twice ([`super::PageEvent::DuplicateKeys`]), and any walk with
    /// [`PageSpec::dedupe`] drops them. It also names [`super::Checkpoint::last_key`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Pointer>,
    /// Drop records whose key was already delivered (needs [`PageSpec::key`]). Memory: one
    /// 16-byte hash per distinct key (a sorted vector, exactly 16 bytes an entry, plus a
    /// constant 4,096-entry table of recent ones), kept by offset and page walks even without
    /// this flag, to report drift; cursor,
    /// keyset, link, token and Relay walks keep none unless this is on. Default `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dedupe: bool,
    /// A drift-free style the API *also* offers (a cursor or keyset beside offsets). When the
    /// first page carries it (a non-empty cursor, a last record with every key), the walk
    /// switches to it for the rest ([`super::PageEvent::Switched`]); otherwise it keeps
    /// [`PageSpec::style`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefer: Option<Style>,
    /// The walk's limits.
    #[serde(default, skip_serializing_if = "Guards::is_default")]
    pub guards: Guards,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Where a request parameter goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Param {
    /// A query parameter with this name (replaced if the template's URL already has it).
    Query(String),
    /// A member of the JSON request body, at this pointer (created if missing): GraphQL
    /// variables (`/variables/after`), Elasticsearch's `/search_after`, a POST search's cursor.
    Body(Pointer),
}

impl Param {
    /// A query parameter.
    pub fn query(name: &str) -> Self {
        Param::Query(name.to_owned())
    }

    /// A member of the JSON body.
    ///
    /// # Panics
    /// When `pointer` is not a JSON Pointer (a bug in the calling code).
    #[track_caller]
    pub fn body(pointer: &str) -> Self {
        Param::Body(ptr(pointer))
    }
}

/// The page size to ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSize {
    /// The parameter (`limit`, `per_page`, `pageSize`, GraphQL's `/variables/first`).
    pub param: Param,
    /// Records per page.
    pub size: u64,
}

/// A keyset parameter: filled from a field of the last record of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyParam {
    /// The field, inside a record (`/id`, `/updated_at`).
    pub field: Pointer,
    /// Where its value goes in the next request (`after_id`, `since`, `starting_after`).
    pub param: Param,
}

/// How the next page is found and how the end is told. A walk ends only on a positive end
/// signal of its style ([`super::EndReason`]); each variant's doc lists them, in the order they
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

fn is_zero(n: &u64) -> bool {
    *n == 0
}
fn one() -> u64 {
    1
}
fn offset_param() -> Param {
    Param::query("offset")
}
fn page_param() -> Param {
    Param::query("page")
}
fn next_rel() -> String {
    "next".into()
}
fn after_var() -> String {
    "after".into()
}
fn sort_ptr() -> Pointer {
    Pointer::from_static("/sort")
}
fn search_after_param() -> Param {
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
    /// Requests there carry no credentials ([`super::PageRequest::credentials`]). Default none.
    pub allowed_origins: Vec<String>,
    /// Request headers that are credentials, beside `authorization`, `proxy-authorization` and
    /// `cookie` (the three that fetch and curl drop on a cross-origin redirect). Default none;
    /// add `x-api-key` and the like.
    pub credential_headers: Vec<String>,
    /// With [`PageSpec::dedupe`], how many of the last keys delivered a checkpoint carries, so
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
    fn is_default(&self) -> bool {
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

#[track_caller]
fn ptr(s: &str) -> Pointer {
    match Pointer::parse(s) {
        Ok(p) => p,
        Err(e) => panic!("{s:?} is not a JSON Pointer: {e}"),
    }
}

/// Constructors. Each takes pointers as `&str` and panics when one is not a JSON Pointer (a bug
/// in the calling code, like a bad literal given to `HeaderName::from_static`).
impl PageSpec {
    /// A spec with this style and items pointer, and nothing else.
    #[track_caller]
    pub fn new(style: Style, items: &str) -> Self {
        PageSpec {
            style,
            items: ptr(items),
            page_size: None,
            key: None,
            dedupe: false,
            prefer: None,
            guards: Guards::default(),
        }
    }

    /// `?offset=N&limit=size`, ending on a short page.
    #[track_caller]
    pub fn offset(items: &str, size: u64) -> Self {
        PageSpec::new(
            Style::Offset {
                param: offset_param(),
                start: 0,
                total: None,
                has_more: None,
                done: None,
            },
            items,
        )
        .page_size(Param::query("limit"), size)
    }

    /// `?page=N&per_page=size`, first page 1, ending on a short page.
    #[track_caller]
    pub fn page_number(items: &str, size: u64) -> Self {
        PageSpec::new(
            Style::Page {
                param: page_param(),
                first: 1,
                total: None,
                total_pages: None,
                next_page: None,
                has_more: None,
                done: None,
            },
            items,
        )
        .page_size(Param::query("per_page"), size)
    }

    /// A cursor at `next` in the body, sent back as the query parameter `param`.
    #[track_caller]
    pub fn cursor(items: &str, next: &str, param: &str) -> Self {
        PageSpec::new(
            Style::Cursor {
                next: ptr(next),
                param: Param::query(param),
                has_more: None,
                done: None,
            },
            items,
        )
    }

    /// Keyset: each `(field, param)` fills query parameter `param` from the last record's
    /// `field`, in order (sort key first, tie-breaker last).
    #[track_caller]
    pub fn keyset(items: &str, keys: &[(&str, &str)]) -> Self {
        PageSpec::new(
            Style::Keyset {
                keys: keys
                    .iter()
                    .map(|(field, param)| KeyParam {
                        field: ptr(field),
                        param: Param::query(param),
                    })
                    .collect(),
                has_more: None,
                done: None,
            },
            items,
        )
    }

    /// The `Link` header's `rel="next"`.
    #[track_caller]
    pub fn link(items: &str) -> Self {
        PageSpec::new(Style::Link { rel: next_rel() }, items)
    }

    /// A next URL at `next` in the body.
    #[track_caller]
    pub fn next_url(items: &str, next: &str) -> Self {
        PageSpec::new(
            Style::NextUrl {
                next: ptr(next),
                done: None,
                has_more: None,
                base: None,
            },
            items,
        )
    }

    /// A page token at `next` in the body, sent back as the query parameter `param`.
    #[track_caller]
    pub fn token(items: &str, next: &str, param: &str) -> Self {
        PageSpec::new(
            Style::Token {
                next: ptr(next),
                param: Param::query(param),
                has_more: None,
                done: None,
            },
            items,
        )
    }

    /// A GraphQL Relay connection at `connection` (`/data/repository/issues`): records at its
    /// `nodes`, `pageInfo` beside them, the cursor sent as the variable `after`, `size` records
    /// asked for with the variable `first`.
    #[track_caller]
    pub fn relay(connection: &str, size: u64) -> Self {
        let c = ptr(connection);
        let mut spec = PageSpec::new(
            Style::Relay {
                page_info: c.child("pageInfo"),
                variable: after_var(),
            },
            "",
        );
        spec.items = c.child("nodes");
        spec.page_size(Param::body("/variables/first"), size)
    }

    /// Elasticsearch `search_after`: hits at `/hits/hits`, each hit's `/sort` sent back as the
    /// body's `/search_after`, `size` hits asked for with the body's `/size`. Identity: `/_id`.
    pub fn search_after(size: u64) -> Self {
        let mut spec = PageSpec::new(
            Style::SearchAfter {
                sort: sort_ptr(),
                param: search_after_param(),
            },
            "/hits/hits",
        )
        .page_size(Param::body("/size"), size);
        spec.key = Some(Pointer::from_static("/_id"));
        spec
    }

    /// GitHub REST: a top-level array, `Link: <…>; rel="next"`, `per_page=100` (the maximum).
    /// Source: GitHub docs, "Using pagination in the REST API".
    pub fn github() -> Self {
        PageSpec::link("").page_size(Param::query("per_page"), 100)
    }

    /// Slack Web API: records at `items` (`/members`, `/channels`, `/messages`), the cursor at
    /// `/response_metadata/next_cursor` (`""` on the last page), sent back as `cursor`,
    /// `limit=200` (Slack recommends no more than 200). Source: Slack docs, "Pagination".
    #[track_caller]
    pub fn slack(items: &str) -> Self {
        PageSpec::cursor(items, "/response_metadata/next_cursor", "cursor")
            .page_size(Param::query("limit"), 200)
    }

    /// Stripe lists: `{"object":"list","data":[…],"has_more":true}`, the next page
    /// `starting_after=<last id>`, `limit=100` (the maximum). Identity `/id`.
    /// Source: Stripe API reference, "Pagination".
    pub fn stripe() -> Self {
        PageSpec::starting_after("/data").page_size(Param::query("limit"), 100)
    }

    /// The Stripe shape with records at `items`: `has_more`, and `starting_after=<last id>`;
    /// identity `/id`. Shared with detection, which finds it under other item names.
    pub(crate) fn starting_after(items: &str) -> Self {
        let mut spec = PageSpec::new(
            Style::Keyset {
                keys: vec![KeyParam {
                    field: Pointer::from_static("/id"),
                    param: Param::query("starting_after"),
                }],
                has_more: Some(Pointer::from_static("/has_more")),
                done: None,
            },
            items,
        );
        spec.key = Some(Pointer::from_static("/id"));
        spec
    }

    /// Notion: `{"results":[…],"next_cursor":"…","has_more":true}`, sent back as
    /// `start_cursor` (a query parameter for GET lists; use [`Param::body`] for the POST
    /// database query), `page_size=100` (the maximum). Source: Notion API reference,
    /// "Pagination".
    pub fn notion() -> Self {
        PageSpec::new(
            Style::Cursor {
                next: Pointer::from_static("/next_cursor"),
                param: Param::query("start_cursor"),
                has_more: Some(Pointer::from_static("/has_more")),
                done: None,
            },
            "/results",
        )
        .page_size(Param::query("page_size"), 100)
    }

    /// JSON:API: records at `/data`, the next page at `/links/next`.
    /// Source: jsonapi.org, "Pagination".
    pub fn json_api() -> Self {
        PageSpec::next_url("/data", "/links/next")
    }

    /// OData v4: records at `/value`, the next page at `/@odata.nextLink`.
    /// Source: OData v4.01 Protocol §11.2.6.7 "Server-Driven Paging".
    pub fn odata() -> Self {
        PageSpec::next_url("/value", "/@odata.nextLink")
    }

    /// Salesforce REST query: records at `/records`, `/nextRecordsUrl` (relative to the
    /// instance) until `/done` is true. Source: Salesforce REST API Developer Guide, "Execute a
    /// SOQL Query".
    pub fn salesforce() -> Self {
        PageSpec::new(
            Style::NextUrl {
                next: Pointer::from_static("/nextRecordsUrl"),
                done: Some(Pointer::from_static("/done")),
                has_more: None,
                base: None,
            },
            "/records",
        )
    }

    /// Google APIs (AIP-158): records at `items`, `/nextPageToken` sent back as `pageToken`,
    /// `pageSize=size`. Source: google.aip.dev/158.
    #[track_caller]
    pub fn google(items: &str, size: u64) -> Self {
        PageSpec::token(items, "/nextPageToken", "pageToken")
            .page_size(Param::query("pageSize"), size)
    }

    /// Sets [`PageSpec::page_size`].
    pub fn page_size(mut self, param: Param, size: u64) -> Self {
        self.page_size = Some(PageSize { param, size });
        self
    }

    /// Sets [`PageSpec::key`].
    #[track_caller]
    pub fn key(mut self, pointer: &str) -> Self {
        self.key = Some(ptr(pointer));
        self
    }

    /// Sets [`PageSpec::key`] and turns [`PageSpec::dedupe`] on.
    #[track_caller]
    pub fn dedupe_by(mut self, pointer: &str) -> Self {
        self.key = Some(ptr(pointer));
        self.dedupe = true;
        self
    }

    /// Sets [`PageSpec::prefer`].
    pub fn prefer(mut self, style: Style) -> Self {
        self.prefer = Some(style);
        self
    }

    /// Sets [`PageSpec::guards`].
    pub fn guards(mut self, guards: Guards) -> Self {
        self.guards = guards;
        self
    }

    /// Replaces the style's total (offset and page styles; others ignore it): a JSON Pointer
    /// or `header:NAME` ([`Source`]).
    ///
    /// # Panics
    /// When `source` is neither (a bug in the calling code).
    #[track_caller]
    pub fn total(mut self, source: &str) -> Self {
        let source = Source::parse(source).unwrap_or_else(|e| panic!("{e}"));
        if let Style::Offset { total, .. } | Style::Page { total, .. } = &mut self.style {
            *total = Some(source);
        }
        self
    }

    /// Replaces the style's `has_more` pointer (every style but link, Relay and
    /// `search_after`).
    #[track_caller]
    pub fn has_more(mut self, pointer: &str) -> Self {
        if let Some((has_more, _)) = self.style.flags_mut() {
            *has_more = Some(ptr(pointer));
        }
        self
    }

    /// Replaces the style's `done` pointer (every style but link, Relay and `search_after`).
    #[track_caller]
    pub fn done(mut self, pointer: &str) -> Self {
        if let Some((_, done)) = self.style.flags_mut() {
            *done = Some(ptr(pointer));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_round_trips_through_json() {
        for spec in [
            PageSpec::offset("/data", 50)
                .total("/total")
                .dedupe_by("/id"),
            PageSpec::page_number("", 30).has_more("/more"),
            PageSpec::page_number("/data", 30)
                .total("header:X-Total-Count")
                .done("/last"),
            PageSpec::slack("/members"),
            PageSpec::stripe(),
            PageSpec::notion(),
            PageSpec::keyset("/data", &[("/updated_at", "since"), ("/id", "since_id")]),
            PageSpec::github(),
            PageSpec::json_api(),
            PageSpec::odata(),
            PageSpec::salesforce(),
            PageSpec::google("/files", 100),
            PageSpec::relay("/data/repository/issues", 50),
            PageSpec::search_after(100),
            PageSpec::offset("/items", 10)
                .prefer(Style::Cursor {
                    next: Pointer::from_static("/next_cursor"),
                    param: Param::query("cursor"),
                    has_more: None,
                    done: None,
                })
                .guards(
                    Guards::default()
                        .max_pages(5)
                        .allow_origin("https://cdn.test"),
                ),
        ] {
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(
                serde_json::from_str::<PageSpec>(&json).unwrap(),
                spec,
                "{json}"
            );
        }
    }

    #[test]
    fn defaults_fill_in_and_typos_are_refused() {
        let spec: PageSpec =
            serde_json::from_str(r#"{"style":{"kind":"offset"},"items":"/data"}"#).unwrap();
        assert_eq!(
            spec.style,
            Style::Offset {
                param: Param::query("offset"),
                start: 0,
                total: None,
                has_more: None,
                done: None,
            }
        );
        let spec: PageSpec = serde_json::from_str(
            r#"{"style":{"kind":"graphql","page_info":"/data/x/pageInfo"},"items":"/data/x/nodes"}"#,
        )
        .unwrap();
        assert_eq!(spec.style.kind(), StyleKind::Relay);
        for bad in [
            r#"{"style":{"kind":"offset","totl":"/t"},"items":"/data"}"#,
            r#"{"style":{"kind":"offset"},"items":"/data","dedup":true}"#,
            r#"{"style":{"kind":"cursor","param":{"query":"c"}},"items":"/data"}"#,
            r#"{"style":{"kind":"offset"},"items":"data"}"#,
            r#"{"style":{"kind":"warp"},"items":"/data"}"#,
        ] {
            assert!(serde_json::from_str::<PageSpec>(bad).is_err(), "{bad}");
        }
    }
}
