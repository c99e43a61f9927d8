//! How a list endpoint pages, described by data: [`PageSpec`].

mod guards;
mod style;

pub use guards::Guards;
pub use style::{Source, Style, StyleKind};
use style::{after_var, next_rel, offset_param, page_param, search_after_param, sort_ptr};

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
