//! Every pagination style against its vendor's documented example, the guards, drift, and
//! resuming. Each test drives the walk the way an adapter does (see `drive`).

use http::header::{AUTHORIZATION, LINK};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use paceline::paginate::{
    After, Checkpoint, EndReason, GuardError, Guards, PageError, PageEvent, PageRequest, PageSpec,
    Param, Pointer, Position, RequestTemplate, ResumeError, Source, Style, StyleKind, Walk,
    WalkState,
};
use serde_json::{Value, json};

/// A response: status, `Link` header (if any), body.
struct Reply {
    status: StatusCode,
    link: Option<String>,
    body: Vec<u8>,
}

fn ok(body: Value) -> Reply {
    Reply {
        status: StatusCode::OK,
        link: None,
        body: body.to_string().into_bytes(),
    }
}

fn ok_link(body: Value, link: &str) -> Reply {
    Reply {
        link: Some(link.to_owned()),
        ..ok(body)
    }
}

/// What a walk did: the requests it sent, the records it delivered, its events and how it
/// ended.
#[derive(Debug, Default)]
struct Trace {
    requests: Vec<PageRequest>,
    records: Vec<Value>,
    events: Vec<PageEvent>,
    end: Option<WalkState>,
}

impl Trace {
    fn urls(&self) -> Vec<String> {
        self.requests.iter().map(|r| r.url.to_string()).collect()
    }
    fn bodies(&self) -> Vec<Value> {
        self.requests
            .iter()
            .map(|r| serde_json::from_slice(r.body.as_deref().unwrap_or(b"null")).unwrap())
            .collect()
    }
    fn ids(&self) -> Vec<Value> {
        self.records
            .iter()
            .map(|r| r.get("id").cloned().unwrap_or(Value::Null))
            .collect()
    }
}

/// Drives a walk as an adapter does, at most 100 pages.
fn drive(mut walk: Walk, mut server: impl FnMut(&PageRequest) -> Reply) -> (Trace, Walk) {
    let mut trace = Trace::default();
    for _ in 0..100 {
        let Some(req) = walk.poll_request().cloned() else {
            break;
        };
        let reply = server(&req);
        trace.requests.push(req);
        let mut headers = HeaderMap::new();
        if let Some(l) = &reply.link {
            headers.insert(LINK, HeaderValue::from_str(l).unwrap());
        }
        let page = walk
            .on_page(reply.status, &headers, &reply.body)
            .expect("a usable page");
        for r in page.records(&reply.body) {
            trace.records.push(serde_json::from_slice(r).unwrap());
        }
        while let Some(e) = walk.poll_event() {
            trace.events.push(e);
        }
    }
    trace.end = Some(walk.state().clone());
    (trace, walk)
}

fn get(url: &str) -> RequestTemplate {
    RequestTemplate::get(url).unwrap()
}

fn query(req: &PageRequest, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

// ---------------------------------------------------------------------------------------------
// Styles, from the vendors' documented examples.
// ---------------------------------------------------------------------------------------------

#[test]
fn github_link_header() {
    // GitHub REST docs, "Using pagination in the REST API": `link: <…?page=2>; rel="next", …`.
    let (t, _) = drive(
        Walk::new(
            PageSpec::github(),
            get("https://api.github.com/repos/octocat/Spoon-Knife/issues"),
        )
        .unwrap(),
        |req| match query(req, "page").as_deref() {
            None => ok_link(
                json!([{"id": 1}, {"id": 2}]),
                r#"<https://api.github.com/repositories/1300192/issues?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1300192/issues?per_page=100&page=3>; rel="last""#,
            ),
            Some("2") => ok_link(
                json!([{"id": 3}]),
                r#"<https://api.github.com/repositories/1300192/issues?per_page=100&page=3>; rel="next", <https://api.github.com/repositories/1300192/issues?per_page=100&page=1>; rel="first""#,
            ),
            _ => ok_link(
                json!([{"id": 4}]),
                r#"<https://api.github.com/repositories/1300192/issues?per_page=100&page=2>; rel="prev""#,
            ),
        },
    );
    assert_eq!(
        t.urls(),
        [
            "https://api.github.com/repos/octocat/Spoon-Knife/issues?per_page=100",
            "https://api.github.com/repositories/1300192/issues?per_page=100&page=2",
            "https://api.github.com/repositories/1300192/issues?per_page=100&page=3",
        ]
    );
    assert_eq!(t.ids(), [json!(1), json!(2), json!(3), json!(4)]);
    assert_eq!(t.end, Some(WalkState::Complete(EndReason::NoNextLink)));
}

#[test]
fn slack_cursor_ends_on_empty_string() {
    // Slack docs, "Pagination through collections": `"response_metadata": {"next_cursor":
    // "dXNlcjpVMEc5V0ZYTlo="}`, and `"next_cursor": ""` on the last page.
    let (t, _) = drive(
        Walk::new(
            PageSpec::slack("/members"),
            get("https://slack.com/api/users.list"),
        )
        .unwrap(),
        |req| match query(req, "cursor").as_deref() {
            None => ok(json!({"ok": true, "members": [{"id": "W012A3CDE"}],
                "response_metadata": {"next_cursor": "dXNlcjpVMEc5V0ZYTlo="}})),
            Some("dXNlcjpVMEc5V0ZYTlo=") => ok(json!({"ok": true,
                "members": [{"id": "W07QCRPA4"}], "response_metadata": {"next_cursor": ""}})),
            Some(c) => panic!("unexpected cursor {c}"),
        },
    );
    assert_eq!(
        t.urls(),
        [
            "https://slack.com/api/users.list?limit=200",
            "https://slack.com/api/users.list?limit=200&cursor=dXNlcjpVMEc5V0ZYTlo%3D",
        ]
    );
    assert_eq!(t.ids(), [json!("W012A3CDE"), json!("W07QCRPA4")]);
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::NoNext {
            at: Pointer::from_static("/response_metadata/next_cursor")
        }))
    );
}

#[test]
fn stripe_has_more_and_starting_after() {
    // Stripe API reference, "Pagination": `{"object": "list", "url": "/v1/customers",
    // "has_more": true, "data": [...]}`; the next page is `starting_after=<last id>`.
    let (t, _) = drive(
        Walk::new(
            PageSpec::stripe(),
            get("https://api.stripe.com/v1/customers"),
        )
        .unwrap(),
        |req| match query(req, "starting_after").as_deref() {
            None => ok(
                json!({"object": "list", "url": "/v1/customers", "has_more": true,
                "data": [{"id": "cus_NffrFeUfNV2Hib", "object": "customer"},
                         {"id": "cus_NffrFeUfNV2Hic", "object": "customer"}]}),
            ),
            Some("cus_NffrFeUfNV2Hic") => ok(json!({"object": "list", "url": "/v1/customers",
                "has_more": false, "data": [{"id": "cus_NffrFeUfNV2Hid", "object": "customer"}]})),
            Some(other) => panic!("unexpected {other}"),
        },
    );
    assert_eq!(t.records.len(), 3);
    assert_eq!(
        t.urls()[1],
        "https://api.stripe.com/v1/customers?limit=100&starting_after=cus_NffrFeUfNV2Hic"
    );
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::HasMoreFalse {
            at: Pointer::from_static("/has_more")
        }))
    );
}

#[test]
fn notion_next_cursor_and_has_more() {
    // Notion API reference, "Pagination": `{"object": "list", "results": [...],
    // "next_cursor": "fe2cc560-036c-44cd-90e8-294d5a74cebc", "has_more": true}`.
    let (t, _) = drive(
        Walk::new(PageSpec::notion(), get("https://api.notion.com/v1/users")).unwrap(),
        |req| match query(req, "start_cursor").as_deref() {
            None => ok(json!({"object": "list", "results": [{"id": "a"}],
                "next_cursor": "fe2cc560-036c-44cd-90e8-294d5a74cebc", "has_more": true})),
            Some(_) => ok(json!({"object": "list", "results": [{"id": "b"}],
                "next_cursor": null, "has_more": false})),
        },
    );
    assert_eq!(t.ids(), [json!("a"), json!("b")]);
    assert_eq!(
        t.urls()[1],
        "https://api.notion.com/v1/users?page_size=100&start_cursor=fe2cc560-036c-44cd-90e8-294d5a74cebc"
    );
}

#[test]
fn json_api_links_next() {
    // jsonapi.org, "Pagination": `"links": {"next": "http://example.com/articles?page[number]=4&page[size]=1"}`.
    let (t, _) = drive(
        Walk::new(
            PageSpec::json_api(),
            get("http://example.com/articles?page[number]=3&page[size]=1"),
        )
        .unwrap(),
        |req| {
            if req.url.as_str().contains("number%5D=4") || req.url.as_str().contains("number]=4") {
                ok(
                    json!({"links": {"self": "x", "next": null}, "data": [{"type": "articles", "id": "4"}]}),
                )
            } else {
                ok(json!({"links": {"self": "x",
                    "next": "http://example.com/articles?page[number]=4&page[size]=1"},
                    "data": [{"type": "articles", "id": "3"}]}))
            }
        },
    );
    assert_eq!(t.ids(), [json!("3"), json!("4")]);
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::NoNext {
            at: Pointer::from_static("/links/next")
        }))
    );
}

#[test]
fn odata_next_link() {
    // OData v4 Basic Tutorial (TripPin): `"@odata.nextLink":
    // "http://services.odata.org/V4/TripPinService/People?%24skiptoken=8"`.
    let (t, _) = drive(
        Walk::new(
            PageSpec::odata(),
            get("http://services.odata.org/V4/TripPinService/People"),
        )
        .unwrap(),
        |req| match req.url.query() {
            None => ok(
                json!({"@odata.context": "http://services.odata.org/V4/TripPinService/$metadata#People",
                "value": [{"UserName": "russellwhyte"}],
                "@odata.nextLink": "http://services.odata.org/V4/TripPinService/People?%24skiptoken=8"}),
            ),
            Some(_) => ok(json!({"value": [{"UserName": "scottketchum"}]})),
        },
    );
    assert_eq!(t.records.len(), 2);
    assert_eq!(
        t.urls()[1],
        "http://services.odata.org/V4/TripPinService/People?%24skiptoken=8"
    );
}

#[test]
fn salesforce_next_records_url_is_relative() {
    // Salesforce REST API Developer Guide, "Execute a SOQL Query": `"done": false,
    // "nextRecordsUrl": "/services/data/v62.0/query/01gD0000002HU6KIAW-2000"`.
    let (t, _) = drive(
        Walk::new(
            PageSpec::salesforce(),
            get("https://acme.my.salesforce.com/services/data/v62.0/query?q=SELECT+Name+FROM+Account"),
        )
        .unwrap(),
        |req| {
            if req.url.path().ends_with("-2000") {
                ok(json!({"totalSize": 3, "done": true, "records": [{"Name": "c"}],
                    "nextRecordsUrl": "/ignored-when-done"}))
            } else {
                ok(json!({"totalSize": 3, "done": false,
                    "nextRecordsUrl": "/services/data/v62.0/query/01gD0000002HU6KIAW-2000",
                    "records": [{"Name": "a"}, {"Name": "b"}]}))
            }
        },
    );
    assert_eq!(t.records.len(), 3);
    assert_eq!(
        t.urls()[1],
        "https://acme.my.salesforce.com/services/data/v62.0/query/01gD0000002HU6KIAW-2000"
    );
    assert!(t.requests[1].credentials, "same origin keeps credentials");
}

#[test]
fn google_page_tokens() {
    // google.aip.dev/158: `next_page_token` in the response, `page_token` in the next request
    // (JSON names `nextPageToken`, `pageToken`); Drive `files.list` returns `files`.
    let (t, _) = drive(
        Walk::new(
            PageSpec::google("/files", 2),
            get("https://www.googleapis.com/drive/v3/files"),
        )
        .unwrap(),
        |req| match query(req, "pageToken").as_deref() {
            None => ok(
                json!({"kind": "drive#fileList", "nextPageToken": "~!!~AI9FV7T",
                "files": [{"id": "1"}, {"id": "2"}]}),
            ),
            Some("~!!~AI9FV7T") => ok(json!({"kind": "drive#fileList", "files": [{"id": "3"}]})),
            Some(t) => panic!("unexpected token {t}"),
        },
    );
    assert_eq!(t.ids(), [json!("1"), json!("2"), json!("3")]);
    assert_eq!(
        t.urls()[1],
        "https://www.googleapis.com/drive/v3/files?pageSize=2&pageToken=%7E%21%21%7EAI9FV7T"
    );
}

#[test]
fn relay_page_info_in_post_variables() {
    // Relay Cursor Connections Specification (relay.dev/graphql/connections.htm): `pageInfo {
    // hasNextPage endCursor }`, the cursor passed back as `after`. Shape as GitHub's GraphQL API.
    let query_text = "query($after: String, $first: Int) { repository(owner: \"o\", name: \"r\") { issues(first: $first, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } } }";
    let template = RequestTemplate::post_json(
        "https://api.github.com/graphql",
        &json!({"query": query_text}),
    )
    .unwrap();
    let (t, _) = drive(
        Walk::new(PageSpec::relay("/data/repository/issues", 2), template).unwrap(),
        |req| {
            let body: Value = serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
            match body["variables"]["after"].as_str() {
                None => ok(json!({"data": {"repository": {"issues": {
                    "nodes": [{"id": "I_1"}, {"id": "I_2"}],
                    "pageInfo": {"hasNextPage": true, "endCursor": "Y3Vyc29yOnYyOpHOAAAA"}}}}})),
                Some("Y3Vyc29yOnYyOpHOAAAA") => ok(json!({"data": {"repository": {"issues": {
                    "nodes": [{"id": "I_3"}],
                    "pageInfo": {"hasNextPage": false, "endCursor": "Y3Vyc29yOnYyOpHOAAAB"}}}}})),
                Some(c) => panic!("unexpected cursor {c}"),
            }
        },
    );
    assert_eq!(t.ids(), [json!("I_1"), json!("I_2"), json!("I_3")]);
    assert_eq!(
        t.bodies(),
        [
            json!({"query": query_text, "variables": {"first": 2}}),
            json!({"query": query_text, "variables": {"first": 2, "after": "Y3Vyc29yOnYyOpHOAAAA"}}),
        ]
    );
    assert!(t.requests.iter().all(|r| r.method == Method::POST));
}

#[test]
fn elasticsearch_search_after() {
    // Elasticsearch reference, "Paginate search results" › "Search after": each hit's `sort`
    // values, passed as `search_after` in the next request's body.
    let template = RequestTemplate::post_json(
        "https://es.test/my-index-000001/_search",
        &json!({"query": {"match": {"user.id": "elkbee"}}, "sort": [{"@timestamp": {"order": "asc"}}, {"_shard_doc": "desc"}]}),
    )
    .unwrap();
    let (t, _) = drive(
        Walk::new(PageSpec::search_after(2), template).unwrap(),
        |req| {
            let body: Value = serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
            if body.get("search_after").is_none() {
                ok(json!({"hits": {"total": {"value": 3}, "hits": [
                    {"_id": "a", "sort": [4098435132000u64, 4294967297u64]},
                    {"_id": "b", "sort": [4098435132000u64, 4294967298u64]}]}}))
            } else {
                assert_eq!(
                    body["search_after"],
                    json!([4098435132000u64, 4294967298u64])
                );
                ok(json!({"hits": {"total": {"value": 3}, "hits": [
                    {"_id": "c", "sort": [4098435132001u64, 1]}]}}))
            }
        },
    );
    assert_eq!(t.records.len(), 3);
    assert_eq!(t.bodies()[1]["size"], json!(2));
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::ShortPage {
            records: 1,
            size: 2
        })),
        "a short page ends it"
    );
}

#[test]
fn offset_with_total_jira_style() {
    // Jira Cloud REST API, "Pagination": `startAt`, `maxResults`, `total` in the body.
    let spec = PageSpec::new(
        Style::Offset {
            param: Param::query("startAt"),
            start: 0,
            total: Some(Source::body("/total")),
            has_more: None,
            done: None,
        },
        "/values",
    )
    .page_size(Param::query("maxResults"), 2);
    let data: Vec<Value> = (0..5).map(|i| json!({"id": i})).collect();
    let (t, _) = drive(
        Walk::new(
            spec,
            get("https://x.atlassian.net/rest/api/3/project/search"),
        )
        .unwrap(),
        |req| {
            let at: usize = query(req, "startAt").unwrap().parse().unwrap();
            let page: Vec<Value> = data.iter().skip(at).take(2).cloned().collect();
            ok(json!({"startAt": at, "maxResults": 2, "total": 5, "values": page}))
        },
    );
    assert_eq!(t.ids(), (0..5).map(|i| json!(i)).collect::<Vec<_>>());
    assert_eq!(
        t.requests.len(),
        3,
        "ends by total, no empty page asked for"
    );
}

#[test]
fn offset_ends_on_a_short_page() {
    let data: Vec<Value> = (0..4).map(|i| json!({"id": i})).collect();
    let (t, _) = drive(
        Walk::new(PageSpec::offset("/data", 2), get("https://x.test/items")).unwrap(),
        |req| {
            let at: usize = query(req, "offset").unwrap().parse().unwrap();
            ok(json!({"data": data.iter().skip(at).take(2).collect::<Vec<_>>()}))
        },
    );
    // 2 + 2 + an empty page: a full last page cannot be told from a middle one.
    assert_eq!(t.records.len(), 4);
    assert_eq!(t.requests.len(), 3);
    assert_eq!(
        t.urls()[0],
        "https://x.test/items?limit=2&offset=0",
        "the first request says where it starts"
    );
}

#[test]
fn page_number_with_total_pages_tmdb_style() {
    // TMDB API: `{"page": 1, "results": [...], "total_pages": 2, "total_results": 3}`.
    let spec = PageSpec::new(
        Style::Page {
            param: Param::query("page"),
            first: 1,
            total: None,
            total_pages: Some(Source::body("/total_pages")),
            next_page: None,
            has_more: None,
            done: None,
        },
        "/results",
    );
    let (t, _) = drive(
        Walk::new(spec, get("https://api.themoviedb.org/3/movie/popular")).unwrap(),
        |req| match query(req, "page").as_deref() {
            Some("1") => ok(
                json!({"page": 1, "results": [{"id": 1}, {"id": 2}], "total_pages": 2, "total_results": 3}),
            ),
            Some("2") => {
                ok(json!({"page": 2, "results": [{"id": 3}], "total_pages": 2, "total_results": 3}))
            }
            p => panic!("unexpected page {p:?}"),
        },
    );
    assert_eq!(t.records.len(), 3);
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::PageCountReached {
            page: 2,
            pages: 2
        }))
    );
}

#[test]
fn keyset_with_tie_breaker() {
    let data: Vec<Value> = vec![
        json!({"id": 1, "updated_at": "2024-01-01"}),
        json!({"id": 2, "updated_at": "2024-01-02"}),
        json!({"id": 3, "updated_at": "2024-01-02"}),
        json!({"id": 4, "updated_at": "2024-01-03"}),
    ];
    let spec = PageSpec::keyset("/data", &[("/updated_at", "since"), ("/id", "since_id")])
        .page_size(Param::query("limit"), 2);
    let (t, _) = drive(
        Walk::new(spec, get("https://x.test/events")).unwrap(),
        |req| {
            let after = match (query(req, "since"), query(req, "since_id")) {
                (Some(s), Some(i)) => Some((s, i.parse::<i64>().unwrap())),
                _ => None,
            };
            let page: Vec<Value> = data
                .iter()
                .filter(|r| match &after {
                    None => true,
                    Some((s, i)) => {
                        let rs = r["updated_at"].as_str().unwrap();
                        rs > s.as_str() || (rs == s && r["id"].as_i64().unwrap() > *i)
                    }
                })
                .take(2)
                .cloned()
                .collect();
            ok(json!({"data": page}))
        },
    );
    assert_eq!(t.ids(), [json!(1), json!(2), json!(3), json!(4)]);
    assert_eq!(
        t.urls()[1],
        "https://x.test/events?limit=2&since=2024-01-02&since_id=2"
    );
}

// ---------------------------------------------------------------------------------------------
// Guards.
// ---------------------------------------------------------------------------------------------

#[test]
fn last_page_cursor_pointing_at_itself_stops_after_delivering() {
    let (t, w) = drive(
        Walk::new(
            PageSpec::cursor("/data", "/next", "cursor"),
            get("https://x.test/l"),
        )
        .unwrap(),
        |req| match query(req, "cursor").as_deref() {
            None => ok(json!({"data": [{"id": 1}], "next": "c2"})),
            _ => ok(json!({"data": [{"id": 2}], "next": "c2"})),
        },
    );
    assert_eq!(t.ids(), [json!(1), json!(2)]);
    assert_eq!(
        t.end,
        Some(WalkState::Stopped(GuardError::CursorRepeated { page: 2 }))
    );
    assert_eq!(w.pages(), 2);
}

#[test]
fn cycling_cursors_stop() {
    let (t, _) = drive(
        Walk::new(
            PageSpec::cursor("/data", "/next", "cursor"),
            get("https://x.test/l"),
        )
        .unwrap(),
        |req| match query(req, "cursor").as_deref() {
            None => ok(json!({"data": [{"id": 0}], "next": "a"})),
            Some("a") => ok(json!({"data": [{"id": 1}], "next": "b"})),
            _ => ok(json!({"data": [{"id": 2}], "next": "a"})),
        },
    );
    assert_eq!(t.requests.len(), 3);
    assert_eq!(
        t.end,
        Some(WalkState::Stopped(GuardError::CursorRepeated { page: 3 }))
    );
}

#[test]
fn link_to_the_same_url_stops() {
    let (t, _) = drive(
        Walk::new(PageSpec::link(""), get("https://x.test/l?page=1")).unwrap(),
        |_| ok_link(json!([{"id": 1}]), "<https://x.test/l?page=1>; rel=next"),
    );
    assert_eq!(t.requests.len(), 1);
    assert!(matches!(
        t.end,
        Some(WalkState::Stopped(GuardError::UrlRepeated { page: 1, .. }))
    ));
}

#[test]
fn empty_pages_with_a_next_pointer_are_followed_at_most_n_times() {
    let spec =
        PageSpec::cursor("/data", "/next", "cursor").guards(Guards::default().max_empty_pages(3));
    let mut n = 0;
    let (t, _) = drive(Walk::new(spec, get("https://x.test/l")).unwrap(), |_| {
        n += 1;
        ok(json!({"data": [], "next": format!("c{n}")}))
    });
    assert_eq!(t.requests.len(), 4);
    assert_eq!(
        t.end,
        Some(WalkState::Stopped(GuardError::TooManyEmptyPages {
            count: 4
        }))
    );
}

#[test]
fn max_pages_bounds_an_endless_list() {
    let spec = PageSpec::cursor("/data", "/next", "cursor").guards(Guards::default().max_pages(5));
    let mut n = 0;
    let (t, w) = drive(Walk::new(spec, get("https://x.test/l")).unwrap(), |_| {
        n += 1;
        ok(json!({"data": [{"id": n}], "next": format!("c{n}")}))
    });
    assert_eq!(t.requests.len(), 5);
    assert_eq!(t.records.len(), 5);
    assert_eq!(
        t.end,
        Some(WalkState::Stopped(GuardError::MaxPages { max: 5 }))
    );
    // The checkpoint still points at the next page: a resumed walk with more room goes on.
    assert_eq!(w.checkpoint().next(), &Position::Cursor("c5".into()));
}

#[test]
fn a_server_ignoring_the_offset_is_caught_at_page_two() {
    let (t, _) = drive(
        Walk::new(
            PageSpec::offset("/data", 2).total("/total"),
            get("https://x.test/l"),
        )
        .unwrap(),
        |_| ok(json!({"data": [{"id": 1}, {"id": 2}], "total": 6})),
    );
    assert_eq!(t.requests.len(), 2);
    assert_eq!(t.records.len(), 2, "the repeated page is not delivered");
    assert_eq!(
        t.end,
        Some(WalkState::Stopped(GuardError::PageRepeated { page: 2 }))
    );
}

#[test]
fn an_offset_list_that_shifted_by_exactly_one_page_is_walked_on() {
    // Two records were inserted at the head after page 1 was read: page 2 (offset 2) shows
    // page 1's records again, and `total` says the list grew by that much; the walk drops
    // them and goes on to the end.
    let (t, _) = drive(
        Walk::new(
            PageSpec::offset("/data", 2).total("/total"),
            get("https://x.test/l"),
        )
        .unwrap(),
        |req| {
            let offset = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "offset")
                .map_or(0, |(_, v)| v.parse::<u64>().unwrap());
            match offset {
                0 => ok(json!({"data": [{"id": 3}, {"id": 4}], "total": 3})),
                2 => ok(json!({"data": [{"id": 3}, {"id": 4}], "total": 5})),
                4 => ok(json!({"data": [{"id": 5}], "total": 5})),
                _ => ok(json!({"data": [], "total": 5})),
            }
        },
    );
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::TotalReached {
            at: 5,
            total: 5
        }))
    );
    assert_eq!(
        t.records,
        [json!({"id": 3}), json!({"id": 4}), json!({"id": 5})]
    );
}

#[test]
fn has_more_without_a_cursor_stops() {
    let (t, _) = drive(
        Walk::new(PageSpec::notion(), get("https://x.test/l")).unwrap(),
        |_| ok(json!({"results": [{"id": 1}], "has_more": true, "next_cursor": null})),
    );
    assert_eq!(t.records.len(), 1);
    assert_eq!(
        t.end,
        Some(WalkState::Stopped(GuardError::NextMissing { page: 1 }))
    );
}

#[test]
fn next_url_on_another_origin_is_refused() {
    for next in [
        "https://evil.test/steal",
        "http://api.test/v1/items?page=2", // a downgrade is another origin
        "https://api.test:8443/v1/items?page=2",
        "file:///etc/passwd",
    ] {
        let (t, _) = drive(
            Walk::new(PageSpec::json_api(), get("https://api.test/v1/items")).unwrap(),
            |_| ok(json!({"data": [{"id": 1}], "links": {"next": next}})),
        );
        assert_eq!(t.requests.len(), 1, "{next}");
        assert!(
            matches!(
                &t.end,
                Some(WalkState::Stopped(GuardError::OffOrigin { url })) if url.starts_with(&next[..8])
            ),
            "{next}: {:?}",
            t.end
        );
    }
}

#[test]
fn allowed_origin_is_followed_without_credentials() {
    let spec = PageSpec::json_api().guards(
        Guards::default()
            .allow_origin("https://cdn.api.test")
            .credential_header("X-Api-Key"),
    );
    let template = get("https://api.test/v1/items")
        .header(AUTHORIZATION, HeaderValue::from_static("Bearer secret"))
        .header(
            http::HeaderName::from_static("x-api-key"),
            HeaderValue::from_static("k"),
        )
        .header(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
    let (t, _) = drive(Walk::new(spec, template).unwrap(), |req| {
        if req.url.host_str() == Some("cdn.api.test") {
            ok(json!({"data": [{"id": 2}], "links": {"next": null}}))
        } else {
            ok(json!({"data": [{"id": 1}], "links": {"next": "https://cdn.api.test/p2"}}))
        }
    });
    assert_eq!(t.records.len(), 2);
    assert!(t.requests[0].credentials);
    assert!(t.requests[0].headers.contains_key(AUTHORIZATION));
    assert!(!t.requests[1].credentials);
    assert!(!t.requests[1].headers.contains_key(AUTHORIZATION));
    assert!(!t.requests[1].headers.contains_key("x-api-key"));
    assert!(t.requests[1].headers.contains_key(http::header::ACCEPT));
    assert!(t.events.contains(&PageEvent::CrossOrigin {
        url: "https://cdn.api.test/p2".into()
    }));
}

// ---------------------------------------------------------------------------------------------
// Unusable responses leave the walk where it was.
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_responses_change_nothing() {
    let mut walk = Walk::new(
        PageSpec::slack("/members"),
        get("https://slack.com/api/users.list"),
    )
    .unwrap();
    let first = walk.poll_request().unwrap().clone();
    let h = HeaderMap::new();
    assert_eq!(
        walk.on_page(StatusCode::TOO_MANY_REQUESTS, &h, b""),
        Err(PageError::Status(StatusCode::TOO_MANY_REQUESTS))
    );
    let e = walk.on_page(StatusCode::OK, &h, br#"{"ok":true,"members":[{"id":1}"#);
    assert!(e.as_ref().unwrap_err().is_transient(), "{e:?}");
    assert!(matches!(
        walk.on_page(StatusCode::OK, &h, b"<html>oops</html>"),
        Err(PageError::Body(_))
    ));
    assert_eq!(
        walk.on_page(StatusCode::OK, &h, br#"{"ok":false,"error":"ratelimited"}"#),
        Err(PageError::ItemsMissing {
            pointer: Pointer::from_static("/members")
        })
    );
    assert!(matches!(
        walk.on_page(
            StatusCode::OK,
            &h,
            br#"{"members":[],"response_metadata":{"next_cursor":{}}}"#
        ),
        Err(PageError::WrongType {
            expected: "cursor",
            ..
        })
    ));
    assert_eq!(walk.poll_request(), Some(&first));
    assert_eq!(walk.pages(), 0);
    let page = walk
        .on_page(
            StatusCode::OK,
            &h,
            br#"{"members":[{"id":1}],"response_metadata":{"next_cursor":""}}"#,
        )
        .unwrap();
    assert_eq!(
        (page.len(), page.after()),
        (
            1,
            &After::Complete(EndReason::NoNext {
                at: Pointer::from_static("/response_metadata/next_cursor")
            })
        )
    );
    // Over: a further page is a no-op.
    let page = walk.on_page(StatusCode::OK, &h, b"garbage").unwrap();
    assert!(page.is_empty() && page.is_last());
}

// ---------------------------------------------------------------------------------------------
// Drift on offset walks.
// ---------------------------------------------------------------------------------------------

/// An offset server whose list grows at the head by one record after every page served.
fn drifting_server(spec: PageSpec) -> (Trace, Walk) {
    let mut data: Vec<i64> = (0..6).collect();
    let mut next_new = -1;
    drive(
        Walk::new(spec, get("https://x.test/l")).unwrap(),
        move |req| {
            let at: usize = query(req, "offset").unwrap().parse().unwrap();
            let page: Vec<Value> = data
                .iter()
                .skip(at)
                .take(2)
                .map(|i| json!({"id": i}))
                .collect();
            let total = data.len();
            data.insert(0, next_new);
            next_new -= 1;
            ok(json!({"data": page, "total": total}))
        },
    )
}

#[test]
fn offset_drift_is_reported_and_deduplicated() {
    let (t, _) = drifting_server(PageSpec::offset("/data", 2).total("/total").key("/id"));
    let ids = t.ids();
    assert!(t.events.iter().any(|e| matches!(
        e,
        PageEvent::TotalChanged {
            page: 2,
            from: 6,
            to: 7
        }
    )));
    assert!(
        t.events
            .iter()
            .any(|e| matches!(e, PageEvent::DuplicateKeys { dropped: false, .. }))
    );
    let mut unique = ids.clone();
    unique.sort_by_key(|v| v.as_i64());
    unique.dedup();
    assert!(
        unique.len() < ids.len(),
        "without dedupe the repeats are delivered"
    );

    let (t, _) = drifting_server(
        PageSpec::offset("/data", 2)
            .total("/total")
            .dedupe_by("/id"),
    );
    let ids = t.ids();
    let mut unique = ids.clone();
    unique.sort_by_key(|v| v.as_i64());
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "with dedupe, no record twice: {ids:?}"
    );
    for i in 0..6 {
        assert!(ids.contains(&json!(i)), "record {i} lost: {ids:?}");
    }
}

#[test]
fn a_cursor_is_preferred_when_the_api_offers_one() {
    let spec = PageSpec::offset("/data", 2).prefer(Style::Cursor {
        next: Pointer::from_static("/next_cursor"),
        param: Param::query("cursor"),
        has_more: None,
        done: None,
    });
    let (t, w) = drive(
        Walk::new(spec, get("https://x.test/l")).unwrap(),
        |req| match query(req, "cursor").as_deref() {
            None => ok(json!({"data": [{"id": 1}, {"id": 2}], "next_cursor": "k2"})),
            Some("k2") => ok(json!({"data": [{"id": 3}], "next_cursor": null})),
            c => panic!("{c:?}"),
        },
    );
    assert_eq!(t.ids(), [json!(1), json!(2), json!(3)]);
    assert_eq!(t.urls()[1], "https://x.test/l?limit=2&cursor=k2");
    assert_eq!(
        t.events[0],
        PageEvent::Switched {
            from: StyleKind::Offset,
            to: StyleKind::Cursor
        }
    );
    assert_eq!(w.style(), Some(StyleKind::Cursor));

    // No cursor offered: the offset walk goes on.
    let spec = PageSpec::offset("/data", 2).prefer(Style::Cursor {
        next: Pointer::from_static("/next_cursor"),
        param: Param::query("cursor"),
        has_more: None,
        done: None,
    });
    let (t, _) = drive(
        Walk::new(spec, get("https://x.test/l")).unwrap(),
        |req| match query(req, "offset").as_deref() {
            Some("0") => ok(json!({"data": [{"id": 1}, {"id": 2}]})),
            _ => ok(json!({"data": [{"id": 3}]})),
        },
    );
    assert_eq!(t.urls()[1], "https://x.test/l?limit=2&offset=2");
    assert!(
        !t.events
            .iter()
            .any(|e| matches!(e, PageEvent::Switched { .. })),
        "{:?}",
        t.events
    );
}

// ---------------------------------------------------------------------------------------------
// Auto-detection and resuming.
// ---------------------------------------------------------------------------------------------

#[test]
fn auto_detects_and_resumes_with_the_recorded_spec() {
    let template = get("https://api.github.com/repos/o/r/issues");
    let server = |req: &PageRequest| match query(req, "page").as_deref() {
        None => ok_link(json!([{"id": 1}]), "<?page=2>; rel=\"next\""),
        Some("2") => ok_link(json!([{"id": 2}]), "<?page=3>; rel=\"next\""),
        _ => ok(json!([{"id": 3}])),
    };
    let mut walk = Walk::auto(template.clone(), Guards::default()).unwrap();
    assert_eq!(walk.spec(), None);
    let req = walk.poll_request().unwrap().clone();
    let reply = server(&req);
    let mut h = HeaderMap::new();
    h.insert(
        LINK,
        HeaderValue::from_str(reply.link.as_deref().unwrap()).unwrap(),
    );
    walk.on_page(StatusCode::OK, &h, &reply.body).unwrap();
    assert_eq!(
        walk.poll_event(),
        Some(PageEvent::Detected(Box::new(PageSpec::link(""))))
    );
    let saved = walk.checkpoint().to_bytes();
    let cp = Checkpoint::from_bytes(&saved).unwrap();
    assert_eq!(cp.detected_spec(), Some(&PageSpec::link("")));
    let (t, _) = drive(Walk::resume(None, template, &cp).unwrap(), server);
    assert_eq!(t.ids(), [json!(2), json!(3)]);
    assert_eq!(
        t.urls()[0],
        "https://api.github.com/repos/o/r/issues?page=2"
    );
}

#[test]
fn resume_refuses_what_does_not_fit() {
    let spec = PageSpec::slack("/members");
    let template = get("https://slack.com/api/users.list");
    let mut walk = Walk::new(spec.clone(), template.clone()).unwrap();
    walk.on_page(
        StatusCode::OK,
        &HeaderMap::new(),
        br#"{"members":[{"id":1}],"response_metadata":{"next_cursor":"c"}}"#,
    )
    .unwrap();
    let cp = walk.checkpoint();
    assert!(Walk::resume(Some(spec.clone()), template.clone(), &cp).is_ok());
    assert!(matches!(
        Walk::resume(
            Some(spec.clone()),
            get("https://slack.com/api/conversations.list"),
            &cp
        ),
        Err(ResumeError::FingerprintMismatch { .. })
    ));
    assert!(matches!(
        Walk::resume(
            Some(PageSpec::offset("/members", 10)),
            template.clone(),
            &cp
        ),
        Err(ResumeError::StyleMismatch { .. })
    ));
    assert!(matches!(
        Walk::resume(None, template.clone(), &cp),
        Err(ResumeError::NoSpec)
    ));
    // A tampered checkpoint cannot send the walk (and its credentials) elsewhere.
    let json_api = PageSpec::json_api();
    let mut w = Walk::new(json_api.clone(), template.clone()).unwrap();
    w.on_page(
        StatusCode::OK,
        &HeaderMap::new(),
        br#"{"data":[],"links":{"next":"https://slack.com/api/users.list?page=2"}}"#,
    )
    .unwrap();
    let bytes = String::from_utf8(w.checkpoint().to_bytes())
        .unwrap()
        .replace("https://slack.com/", "https://evil.test/");
    let cp = Checkpoint::from_bytes(bytes.as_bytes()).unwrap();
    assert!(matches!(
        Walk::resume(Some(json_api), template, &cp),
        Err(ResumeError::Refused(GuardError::OffOrigin { .. }))
    ));
}

#[test]
fn a_resumed_walk_keeps_its_page_budget() {
    let spec = PageSpec::cursor("/data", "/next", "cursor").guards(Guards::default().max_pages(2));
    let template = get("https://x.test/l");
    let mut w = Walk::new(spec.clone(), template.clone()).unwrap();
    let h = HeaderMap::new();
    w.on_page(StatusCode::OK, &h, br#"{"data":[1],"next":"a"}"#)
        .unwrap();
    let cp = w.checkpoint();
    let mut w = Walk::resume(Some(spec.clone()), template.clone(), &cp).unwrap();
    let p = w
        .on_page(StatusCode::OK, &h, br#"{"data":[2],"next":"b"}"#)
        .unwrap();
    assert_eq!(p.after(), &After::Stopped(GuardError::MaxPages { max: 2 }));
    let w = Walk::resume(Some(spec), template, &w.checkpoint()).unwrap();
    assert_eq!(w.poll_request(), None);
    assert_eq!(
        w.state(),
        &WalkState::Stopped(GuardError::MaxPages { max: 2 })
    );
}
