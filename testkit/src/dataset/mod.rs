//! Live datasets: records that change while a client pages through them, served in every
//! pagination style paceline walks.
//!
//! A [`Dataset`] is an [`App`] for a [`ServerModel`](crate::model::ServerModel): `records`
//! records with increasing ids (from 1,000,000) and timestamps (several records share a second,
//! so a keyset on the timestamp alone is ambiguous and needs the id as tie-breaker), listed in
//! `(ts, id)` order. While a client pages, records are inserted at the head (below the smallest
//! id), at the tail (above the largest) and deleted (uniformly among the live ones), each kind
//! a Poisson process of its own rate in model time. Mutations are drawn from the dataset's own
//! seeded generator and applied lazily, up to `now_ns`, when a request arrives: the dataset at
//! a given instant is the same whatever the client did before.
//!
//! Each [`DataStyle`] is served with its real semantics:
//!
//! | style | request | response |
//! |---|---|---|
//! | `offset` | `?offset=N&limit=L` | `{"data":[…],"total":T,"offset":N,"limit":L}` — drifts |
//! | `page` | `?page=P&per_page=L` | `{"data":[…],"total":T,"page":P,"per_page":L,"total_pages":…}` — drifts |
//! | `cursor` | `?cursor=C&limit=L` | `{"data":[…],"next_cursor":"C2"}`, `""` at the end |
//! | `keyset` | `?since=TS&since_id=ID&limit=L` | `{"data":[…]}`; records after `(TS, ID)`, end on a short page |
//! | `link` | `?per_page=L`, then the `Link` URL | a JSON array; `Link: <https://…?after=C2>; rel="next"` |
//! | `next_url` | `?page[size]=L`, then `links.next` | `{"data":[…],"links":{"self":…,"next":"https://…"}}` |
//! | `token` | `?pageToken=T&pageSize=L` | `{"items":[…],"nextPageToken":"T2"}`, absent at the end |
//! | `graphql` | `POST {"variables":{"first":L,"after":C}}` | `{"data":{"items":{"nodes":[…],"pageInfo":{"hasNextPage":…,"endCursor":…}}}}` |
//! | `search_after` | `POST {"size":L,"search_after":[TS,ID]}` | `{"hits":{"total":{…},"hits":[{"_id":"…","_source":{…},"sort":[TS,ID]}]}}` |
//!
//! Every endpoint understands every parameter (an API with offsets that *also* takes
//! `after_id`, as [`paceline::paginate::PageSpec::prefer`] expects); the style decides the
//! response's shape. Records are `{"id":1000042,"ts":1600000010}`. Cursors, tokens and next
//! URLs are opaque: they encode the last id served (so they do not drift) and a serial number
//! (so two cursors for the same place differ, as real ones do).
//!
//! [`PageChaos`] is applied where the style has it: an empty page with a next pointer (styles
//! with a server-given pointer), the pointer of the request repeated (server-given pointers;
//! keyset, `search_after`, offset and page styles get the previous request's page again
//! instead), and a last page whose pointer points at itself (server-given pointers).
//!
//! ```
//! use paceline::paginate::Walk;
//! use paceline_testkit::dataset::{DataStyle, Dataset, DatasetSpec};
//! use paceline_testkit::model::{App, ModelRequest, PageChaos};
//!
//! let spec = DatasetSpec::new(DataStyle::Cursor, 250).page_size(100);
//! let mut walk = Walk::new(spec.page_spec(), spec.template()).unwrap();
//! let mut app = Dataset::new(spec, 1);
//! let mut records = 0;
//! while let Some(req) = walk.poll_request() {
//!     let path = format!("{}?{}", req.url.path(), req.url.query().unwrap_or(""));
//!     let req = ModelRequest { method: req.method.as_str(), path: &path, body: b"" };
//!     let resp = app.respond(0, &req, PageChaos::default());
//!     let page = walk.on_page(resp.status.try_into().unwrap(), &resp.headers, &resp.body).unwrap();
//!     records += page.len();
//! }
//! assert_eq!(records, 250);
//! assert_eq!(app.truth().unwrap().must_deliver.len(), 250);
//! ```

mod serve;
mod store;

use paceline::paginate::{PageSpec, Param, RequestTemplate};
use serde::{Deserialize, Serialize};

use crate::model::{App, AppResponse, ModelRequest, PageChaos, Truth};
use serve::Start;
use store::{Rec, Store};

/// The first record's id. Head inserts count down from it, tail inserts up.
pub const FIRST_ID: u64 = 1_000_000;

/// The first record's timestamp (Unix seconds).
pub const FIRST_TS: u64 = 1_600_000_000;

/// How a dataset pages: the shape of its responses (every style's parameters are understood).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataStyle {
    /// `?offset=N&limit=L`, with `total`.
    Offset,
    /// `?page=P&per_page=L`, with `total` and `total_pages`.
    Page,
    /// An opaque cursor in the body (`next_cursor`, `""` at the end), sent back as `cursor`.
    Cursor,
    /// Keyset: `since=<ts>&since_id=<id>` of the last record.
    Keyset,
    /// The `Link` header's `rel="next"`, an absolute URL.
    Link,
    /// A next URL in the body, JSON:API's `links.next`, absolute.
    #[serde(alias = "next-url")]
    NextUrl,
    /// Google-style page tokens: `nextPageToken` → `pageToken`.
    Token,
    /// A GraphQL Relay connection, paged by the POST body's `after` variable.
    #[serde(alias = "relay")]
    Graphql,
    /// Elasticsearch `search_after`: the last hit's `sort` values in the POST body.
    #[serde(alias = "search-after")]
    SearchAfter,
}

impl DataStyle {
    /// Every style.
    pub const ALL: [DataStyle; 9] = [
        DataStyle::Offset,
        DataStyle::Page,
        DataStyle::Cursor,
        DataStyle::Keyset,
        DataStyle::Link,
        DataStyle::NextUrl,
        DataStyle::Token,
        DataStyle::Graphql,
        DataStyle::SearchAfter,
    ];

    /// The name as in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            DataStyle::Offset => "offset",
            DataStyle::Page => "page",
            DataStyle::Cursor => "cursor",
            DataStyle::Keyset => "keyset",
            DataStyle::Link => "link",
            DataStyle::NextUrl => "next_url",
            DataStyle::Token => "token",
            DataStyle::Graphql => "graphql",
            DataStyle::SearchAfter => "search_after",
        }
    }

    /// Whether the server gives the next page's pointer (cursor, token, URL), rather than the
    /// client computing it (offset, page number, keyset, `search_after`).
    pub fn server_pointer(self) -> bool {
        matches!(
            self,
            DataStyle::Cursor
                | DataStyle::Link
                | DataStyle::NextUrl
                | DataStyle::Token
                | DataStyle::Graphql
        )
    }

    /// Whether the style's pages shift when records are inserted or deleted before them.
    pub fn drifts(self) -> bool {
        matches!(self, DataStyle::Offset | DataStyle::Page)
    }

    /// Whether requests are JSON POSTs.
    pub fn posts(self) -> bool {
        matches!(self, DataStyle::Graphql | DataStyle::SearchAfter)
    }
}

/// A dataset's size, pace of change and style: the `[dataset]` table of a scenario.
///
/// ```toml
/// [dataset]
/// style = "cursor"          # offset, page, cursor, keyset, link, next_url, token, graphql, search_after
/// records = 100000
/// page_size = 100           # the server's default, and what the client asks for
/// head_inserts_per_s = 5.0
/// tail_inserts_per_s = 5.0
/// deletes_per_s = 5.0
/// ms_per_request = 100.0    # optional: the list changes per request answered, not per second
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DatasetSpec {
    /// The response shape.
    pub style: DataStyle,
    /// Records at the start. Default 1,000.
    #[serde(default = "default_records")]
    pub records: u64,
    /// Records per page when the request does not say, and what the client's spec asks for.
    /// Default 100.
    #[serde(default = "default_page_size")]
    pub page_size: u64,
    /// The most records a page holds, whatever is asked. Default 1,000.
    #[serde(default = "default_max_page_size")]
    pub max_page_size: u64,
    /// Records inserted before the first one, per second of model time. Default 0.
    #[serde(default)]
    pub head_inserts_per_s: f64,
    /// Records appended after the last one, per second. Default 0.
    #[serde(default)]
    pub tail_inserts_per_s: f64,
    /// Records deleted (uniformly among the live ones), per second. Default 0.
    #[serde(default)]
    pub deletes_per_s: f64,
    /// Records per timestamp second (ties for keysets). Default 4.
    #[serde(default = "default_per_second")]
    pub records_per_second: u64,
    /// The origin of absolute next URLs (and of the client's requests). Default
    /// `https://api.test`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The list's path. Default `/items`.
    #[serde(default = "default_path")]
    pub path: String,
    /// When set, the dataset's time is its request count, not the time it is asked at: the
    /// `n`-th request it answers (from 0) happens at `n × ms_per_request` milliseconds of its
    /// time, whenever it really arrives. Mutations then follow the requests, so a list served
    /// over real HTTP changes the same way on every run (same seed, same requests). Default
    /// unset: the time given (virtual time in the simulator, the arrival time on loopback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms_per_request: Option<f64>,
}

fn default_records() -> u64 {
    1000
}
fn default_page_size() -> u64 {
    100
}
fn default_max_page_size() -> u64 {
    1000
}
fn default_per_second() -> u64 {
    4
}
fn default_base_url() -> String {
    "https://api.test".into()
}
fn default_path() -> String {
    "/items".into()
}

impl DatasetSpec {
    /// `records` records in `style`, no mutations, the defaults otherwise.
    pub fn new(style: DataStyle, records: u64) -> Self {
        DatasetSpec {
            style,
            records,
            page_size: default_page_size(),
            max_page_size: default_max_page_size(),
            head_inserts_per_s: 0.0,
            tail_inserts_per_s: 0.0,
            deletes_per_s: 0.0,
            records_per_second: default_per_second(),
            base_url: default_base_url(),
            path: default_path(),
            ms_per_request: None,
        }
    }

    /// Sets the page size.
    pub fn page_size(mut self, n: u64) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Sets the mutation rates: head inserts, tail inserts and deletes per second.
    pub fn mutations(mut self, head_per_s: f64, tail_per_s: f64, deletes_per_s: f64) -> Self {
        self.head_inserts_per_s = head_per_s;
        self.tail_inserts_per_s = tail_per_s;
        self.deletes_per_s = deletes_per_s;
        self
    }

    /// Drives the mutations by request count: each request the dataset answers advances its
    /// time by `ms` milliseconds, whenever it arrives ([`DatasetSpec::ms_per_request`]).
    /// With [`DatasetSpec::mutations`] in events per second, a request then brings
    /// `rate × ms / 1000` of each kind on average.
    pub fn by_request(mut self, ms: f64) -> Self {
        self.ms_per_request = Some(ms.max(0.0));
        self
    }

    /// The list's absolute URL.
    pub fn url(&self) -> String {
        format!("{}{}", self.base_url.trim_end_matches('/'), self.path)
    }

    /// The spec a client walks this style with: the core's constructor for the shape served,
    /// asking for [`DatasetSpec::page_size`] records a page. Offset and page specs read `total`
    /// and name the key `/id` (so drift is reported), without de-duplication.
    pub fn page_spec(&self) -> PageSpec {
        let n = self.page_size.max(1);
        match self.style {
            DataStyle::Offset => PageSpec::offset("/data", n).total("/total").key("/id"),
            DataStyle::Page => PageSpec::page_number("/data", n).total("/total").key("/id"),
            DataStyle::Cursor => PageSpec::cursor("/data", "/next_cursor", "cursor")
                .page_size(Param::query("limit"), n),
            DataStyle::Keyset => {
                PageSpec::keyset("/data", &[("/ts", "since"), ("/id", "since_id")])
                    .page_size(Param::query("limit"), n)
            }
            DataStyle::Link => PageSpec::link("").page_size(Param::query("per_page"), n),
            DataStyle::NextUrl => PageSpec::json_api().page_size(Param::query("page[size]"), n),
            DataStyle::Token => PageSpec::google("/items", n),
            DataStyle::Graphql => PageSpec::relay("/data/items", n),
            DataStyle::SearchAfter => PageSpec::search_after(n),
        }
    }

    /// The first page's request: a GET of [`DatasetSpec::url`], or for `graphql` and
    /// `search_after` a JSON POST of a query.
    pub fn template(&self) -> RequestTemplate {
        let url = self.url();
        let t = match self.style {
            DataStyle::Graphql => RequestTemplate::post_json(
                &url,
                &serde_json::json!({
                    "query": "query($first: Int!, $after: String) { items(first: $first, after: $after) { nodes { id ts } pageInfo { hasNextPage endCursor } } }",
                    "variables": {},
                }),
            ),
            DataStyle::SearchAfter => RequestTemplate::post_json(
                &url,
                &serde_json::json!({
                    "query": {"match_all": {}},
                    "sort": [{"ts": "asc"}, {"id": "asc"}],
                }),
            ),
            _ => RequestTemplate::get(&url),
        };
        t.unwrap_or_else(|e| panic!("dataset base_url {:?}: {e}", self.base_url))
    }

    /// Where a record's id is, inside a record of this style's responses.
    pub fn id_pointer(&self) -> &'static str {
        match self.style {
            DataStyle::SearchAfter => "/_id",
            _ => "/id",
        }
    }
}

/// What mutates next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    Head,
    Tail,
    Delete,
}

/// A live dataset: an [`App`] serving a [`DatasetSpec`]. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Dataset {
    spec: DatasetSpec,
    store: Store,
    rng: fastrand::Rng,
    /// When the next mutation happens (`u64::MAX`: never).
    next_ns: u64,
    next_mutation: Mutation,
    next_head_id: u64,
    next_tail_id: u64,
    mutations: u64,
    first_request_ns: Option<u64>,
    last_request_ns: u64,
    /// Numbers each cursor issued, so that two cursors for one place differ.
    serial: u64,
    /// The previous request's start (for repeated pages).
    previous: Option<Start>,
    /// Requests answered (the clock under [`DatasetSpec::ms_per_request`]).
    answered: u64,
    scratch: Vec<usize>,
}

impl Dataset {
    /// The dataset at model time 0, its mutations drawn from `seed`.
    pub fn new(spec: DatasetSpec, seed: u64) -> Self {
        let store = Store::new(spec.records, FIRST_ID, FIRST_TS, spec.records_per_second);
        let mut d = Dataset {
            next_head_id: FIRST_ID - 1,
            next_tail_id: FIRST_ID + spec.records,
            spec,
            store,
            rng: fastrand::Rng::with_seed(seed ^ 0xda7a_5e7d),
            next_ns: 0,
            next_mutation: Mutation::Tail,
            mutations: 0,
            first_request_ns: None,
            last_request_ns: 0,
            serial: 0,
            previous: None,
            answered: 0,
            scratch: Vec::new(),
        };
        d.draw(0);
        d
    }

    /// The spec.
    pub fn spec(&self) -> &DatasetSpec {
        &self.spec
    }

    /// Records alive now (after the mutations applied so far).
    pub fn alive(&self) -> u64 {
        self.store.alive()
    }

    /// Mutations applied so far.
    pub fn mutations(&self) -> u64 {
        self.mutations
    }

    /// Applies every mutation due at or before `now_ns`.
    pub fn advance(&mut self, now_ns: u64) {
        while self.next_ns <= now_ns {
            let at = self.next_ns;
            self.mutate(at);
            self.draw(at);
        }
    }

    /// Draws the next mutation after `from_ns`.
    fn draw(&mut self, from_ns: u64) {
        let s = &self.spec;
        let rates = [
            s.head_inserts_per_s.max(0.0),
            s.tail_inserts_per_s.max(0.0),
            s.deletes_per_s.max(0.0),
        ];
        let total: f64 = rates.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            self.next_ns = u64::MAX;
            return;
        }
        let wait_s = -(1.0 - self.rng.f64()).ln() / total;
        self.next_ns = from_ns.saturating_add(((wait_s * 1e9) as u64).max(1));
        let pick = self.rng.f64() * total;
        self.next_mutation = if pick < rates[0] {
            Mutation::Head
        } else if pick < rates[0] + rates[1] {
            Mutation::Tail
        } else {
            Mutation::Delete
        };
    }

    fn mutate(&mut self, at: u64) {
        let bounds = self.store.bounds();
        let tick = u64::from(self.rng.bool());
        match self.next_mutation {
            Mutation::Head => {
                if self.next_head_id == 0 {
                    return;
                }
                let ts = bounds.map_or(FIRST_TS, |(first, _)| first.ts.saturating_sub(tick));
                let id = self.next_head_id;
                self.next_head_id -= 1;
                self.store.insert_head(Rec { id, ts }, at);
            }
            Mutation::Tail => {
                let ts = bounds.map_or(FIRST_TS, |(_, last)| last.ts + tick);
                let id = self.next_tail_id;
                self.next_tail_id += 1;
                self.store.insert_tail(Rec { id, ts }, at);
            }
            Mutation::Delete => {
                if self.store.alive() == 0 {
                    return;
                }
                let rank = self.rng.u64(0..self.store.alive());
                self.store.delete_nth(rank, at);
            }
        }
        self.mutations += 1;
    }
}

impl App for Dataset {
    fn respond(&mut self, now_ns: u64, req: &ModelRequest<'_>, chaos: PageChaos) -> AppResponse {
        let now_ns = match self.spec.ms_per_request {
            Some(ms) => (self.answered as f64 * ms * 1e6) as u64,
            None => now_ns,
        };
        self.answered += 1;
        self.advance(now_ns);
        self.first_request_ns.get_or_insert(now_ns);
        self.last_request_ns = self.last_request_ns.max(now_ns);
        self.serve(req, chaos)
    }

    /// `must_deliver`: the records alive from the first request the dataset answered to the
    /// last; `ever`: every record that existed up to the last request.
    fn truth(&self) -> Option<Truth> {
        let must_deliver = match self.first_request_ns {
            Some(from) => self.store.alive_throughout(from, self.last_request_ns),
            None => Vec::new(),
        };
        Some(Truth {
            must_deliver,
            ever: self.store.ever(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_depend_on_time_only() {
        let spec = DatasetSpec::new(DataStyle::Offset, 50).mutations(3.0, 2.0, 4.0);
        let mut a = Dataset::new(spec.clone(), 9);
        let mut b = Dataset::new(spec, 9);
        for t in (0..100).map(|s| s * 100_000_000) {
            a.advance(t);
        }
        b.advance(9_900_000_000);
        assert_eq!(a.mutations(), b.mutations());
        assert!(a.mutations() > 30, "{}", a.mutations());
        assert_eq!(a.store.ever(), b.store.ever());
        assert_eq!(a.alive(), b.alive());
    }

    #[test]
    fn by_request_the_list_changes_with_requests_not_time() {
        let spec = DatasetSpec::new(DataStyle::Cursor, 500)
            .page_size(50)
            .mutations(5.0, 5.0, 5.0)
            .by_request(200.0);
        let ask = |d: &mut Dataset, now_ns: u64| {
            let req = ModelRequest {
                method: "GET",
                path: "/items?limit=50",
                body: b"",
            };
            d.respond(now_ns, &req, PageChaos::default()).body
        };
        // The same requests at different times: the same pages, the same changes.
        let (mut a, mut b) = (Dataset::new(spec.clone(), 4), Dataset::new(spec, 4));
        for n in 0..20u64 {
            assert_eq!(ask(&mut a, n), ask(&mut b, n * 7_000_000_000));
        }
        assert_eq!(a.mutations(), b.mutations());
        assert_eq!(a.truth(), b.truth());
        // Twenty requests, 200 ms apart in the dataset's time: 3.8 s at 15 changes a second.
        assert!((30..=90).contains(&a.mutations()), "{}", a.mutations());
    }

    #[test]
    fn ids_and_timestamps_stay_in_list_order() {
        let spec = DatasetSpec::new(DataStyle::Keyset, 20).mutations(5.0, 5.0, 1.0);
        let mut d = Dataset::new(spec, 2);
        d.advance(20_000_000_000);
        let s = &d.store;
        let recs: Vec<Rec> = (s.first()..s.end()).map(|x| s.rec(x)).collect();
        assert!(recs.len() > 100);
        for w in recs.windows(2) {
            assert!(w[0].id < w[1].id && w[0].ts <= w[1].ts, "{w:?}");
        }
        assert!(recs.windows(2).any(|w| w[0].ts == w[1].ts), "ties exist");
    }
}
