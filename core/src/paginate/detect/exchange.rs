//! The other two parts of a first exchange: the request (its query and JSON body say how the
//! caller already pages) and the response's headers (`Link`, totals, page numbers).

use http::{HeaderMap, Method};
use serde_json::{Map, Value};

use super::names::{self, ParamRole};
use crate::headers::link::{Link, links_in};
use crate::paginate::pointer::Pointer;
use crate::paginate::request::RequestTemplate;
use crate::paginate::spec::{PageSize, Param, Source};

/// The request's parameters.
#[derive(Debug)]
pub(crate) struct Request {
    query: Vec<(String, String)>,
    body: Option<Map<String, Value>>,
    post: bool,
}

/// A parameter the request carries.
#[derive(Debug, Clone)]
pub(crate) struct Carried {
    pub(crate) param: Param,
    /// Its value, as text.
    pub(crate) value: String,
}

impl Carried {
    /// The value as a count.
    pub(crate) fn number(&self) -> Option<u64> {
        self.value.trim().parse().ok()
    }
}

impl Request {
    pub(crate) fn read(t: &RequestTemplate) -> Request {
        let body = t
            .body
            .as_ref()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            });
        Request {
            query: t
                .url
                .query_pairs()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            post: t.method != Method::GET && body.is_some(),
            body,
        }
    }

    /// The first parameter with this role: in the query, then in a JSON body (at its top, or
    /// one object down: Intercom's `pagination.per_page`).
    pub(crate) fn find(&self, role: ParamRole) -> Option<Carried> {
        let q = self
            .query
            .iter()
            .find(|(k, _)| names::param_role_of(k) == Some(role))
            .map(|(k, v)| Carried {
                param: Param::Query(k.clone()),
                value: v.clone(),
            });
        q.or_else(|| {
            let body = self.body.as_ref()?;
            let text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let top = body.iter().find_map(|(k, v)| {
                (names::param_role_of(k) == Some(role)).then(|| Carried {
                    param: Param::Body(Pointer::root().child(k)),
                    value: text(v),
                })
            });
            top.or_else(|| {
                body.iter().find_map(|(outer, v)| {
                    v.as_object()?.iter().find_map(|(k, v)| {
                        (names::param_role_of(k) == Some(role) && !v.is_object()).then(|| Carried {
                            param: Param::Body(Pointer::root().child(outer).child(k)),
                            value: text(v),
                        })
                    })
                })
            })
        })
    }

    /// A cursor the request already carries: a parameter by a cursor's name, or an offset or
    /// page parameter whose value is not a number (Airtable's `offset=itr…/rec…`, Oracle's
    /// `page=eyJ…`).
    pub(crate) fn carried_cursor(&self) -> Option<Carried> {
        self.find(ParamRole::Cursor)
            .filter(|c| !c.value.is_empty())
            .or_else(|| {
                [ParamRole::Offset, ParamRole::Page]
                    .into_iter()
                    .find_map(|role| {
                        self.find(role)
                            .filter(|c| !c.value.is_empty() && c.number().is_none())
                    })
            })
    }

    /// Where a parameter of this name goes: where the request already carries it, else in the
    /// JSON body of a POST (Notion's `start_cursor`, a search API's `offset`), else in the
    /// query.
    pub(crate) fn place(&self, name: &str) -> Param {
        if self.query.iter().any(|(k, _)| k == name) {
            return Param::Query(name.to_owned());
        }
        if self.post {
            // Beside the page size, when the body nests it (`pagination: {per_page: 2}`).
            if let Some(Carried {
                param: Param::Body(p),
                ..
            }) = self.find(ParamRole::Size)
                && let [outer, _] = p.tokens()
            {
                return Param::Body(Pointer::root().child(outer).child(name));
            }
            return Param::Body(Pointer::root().child(name));
        }
        Param::Query(name.to_owned())
    }

    /// The page size the request asks for, and the parameter that asks.
    pub(crate) fn page_size(&self) -> Option<PageSize> {
        let c = self.find(ParamRole::Size)?;
        Some(PageSize {
            size: c.number()?,
            param: c.param,
        })
    }

    /// The GraphQL variable a query passes as a connection's `after` argument
    /// (`after: $cursor` → `cursor`).
    pub(crate) fn relay_variable(&self) -> Option<String> {
        let query = self.body.as_ref()?.get("query")?.as_str()?;
        let at = query.find("after:")?;
        let rest = query[at + "after:".len()..]
            .trim_start()
            .strip_prefix('$')?;
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty()).then_some(name)
    }
}

/// What the response's headers say about paging.
#[derive(Debug, Default)]
pub(crate) struct Heads {
    /// The `Link` header has a usable `rel="next"`.
    pub(crate) link_next: bool,
    /// It has `rel="next"` with `results="false"`: nothing there (Sentry).
    pub(crate) link_next_empty: bool,
    /// It has other paging relations (`prev`, `first`, `last`) but no `next`: the last page of
    /// a `Link`-paged list.
    pub(crate) link_paging: bool,
    /// It does not parse: a `Link`-paged list whose walk must stop, not guess.
    pub(crate) link_broken: bool,
    pub(crate) total: Option<(Source, u64)>,
    pub(crate) pages: Option<(Source, u64)>,
    /// The next page's number header, and whether it has a number in it.
    pub(crate) next_page: Option<(Source, Option<u64>)>,
    /// The current page number header.
    pub(crate) page: Option<u64>,
}

impl Heads {
    pub(crate) fn read(headers: &HeaderMap) -> Heads {
        let mut h = Heads::default();
        let links = links_in(headers);
        h.link_broken = links.is_err();
        if let Ok(links) = links {
            let rels = |l: &Link<'_>, r: &str| l.has_rel(r) && l.anchor().is_none();
            match links.iter().find(|l| rels(l, "next")) {
                Some(l) if results_false(l) => h.link_next_empty = true,
                Some(_) => h.link_next = true,
                None => {
                    h.link_paging = links.iter().any(|l| {
                        ["prev", "previous", "first", "last"]
                            .iter()
                            .any(|r| rels(l, r))
                    })
                }
            }
        }
        let find = |names: &[&str]| {
            names.iter().find_map(|n| {
                headers
                    .get(*n)
                    .map(|v| (Source::header(n), header_count(v.as_bytes())))
            })
        };
        h.total = find(&names::TOTAL_HEADERS).and_then(|(s, n)| Some((s, n?)));
        h.pages = find(&names::PAGES_HEADERS).and_then(|(s, n)| Some((s, n?)));
        h.next_page = find(&names::NEXT_PAGE_HEADERS);
        h.page = find(&names::PAGE_HEADERS).and_then(|(_, n)| n);
        h
    }
}

/// Whether a link says there is nothing at its target (`results="false"`).
pub(crate) fn results_false(l: &Link<'_>) -> bool {
    l.param("results")
        .is_some_and(|r| r.eq_ignore_ascii_case("false"))
}

/// A count in a header value: a plain number, or a `Content-Range`'s length after the slash
/// (`items 0-24/3573`, `0-24/3573`; `*` is unknown). Values past 2⁵³ are refused.
pub(crate) fn header_count(v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let n = match s.rsplit_once('/') {
        Some((_, after)) => after.trim(),
        None => s,
    };
    n.parse::<u64>().ok().filter(|n| *n <= 1 << 53)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_parameters_by_role() {
        let t = RequestTemplate::get("https://x.test/l?_limit=50&_page=3&q=a").unwrap();
        let r = Request::read(&t);
        let size = r.page_size().unwrap();
        assert_eq!((size.param, size.size), (Param::query("_limit"), 50));
        assert_eq!(r.find(ParamRole::Page).unwrap().number(), Some(3));
        assert!(r.find(ParamRole::Offset).is_none());
        assert_eq!(r.place("cursor"), Param::query("cursor"));
        let t = RequestTemplate::post_json(
            "https://x.test/db/query",
            &serde_json::json!({"page_size": 100, "filter": {}}),
        )
        .unwrap();
        let r = Request::read(&t);
        assert_eq!(r.page_size().unwrap().param, Param::body("/page_size"));
        assert_eq!(r.place("start_cursor"), Param::body("/start_cursor"));
    }

    #[test]
    fn graphql_after_variable() {
        let t = RequestTemplate::post_json(
            "https://x.test/graphql",
            &serde_json::json!({"query": "query($n: Int, $cursor: String) { repo { issues(first: $n, after: $cursor) { nodes { id } } } }"}),
        )
        .unwrap();
        assert_eq!(
            Request::read(&t).relay_variable().as_deref(),
            Some("cursor")
        );
    }

    #[test]
    fn header_counts() {
        assert_eq!(header_count(b"3573"), Some(3573));
        assert_eq!(header_count(b"items 0-24/3573"), Some(3573));
        assert_eq!(header_count(b"0-24/*"), None);
        assert_eq!(header_count(b"-1"), None);
        assert_eq!(header_count(b"99999999999999999999"), None);
        let mut h = HeaderMap::new();
        h.insert(
            http::header::LINK,
            r#"<https://x.test/?c=1>; rel="next"; results="false", <https://x.test/?c=0>; rel="previous"; results="true""#
                .parse()
                .unwrap(),
        );
        h.insert("x-total-count", "40".parse().unwrap());
        let heads = Heads::read(&h);
        assert!(heads.link_next_empty && !heads.link_next);
        assert_eq!(heads.total, Some((Source::header("x-total-count"), 40)));
    }
}
