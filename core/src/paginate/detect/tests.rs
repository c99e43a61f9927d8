use super::*;
use serde_json::json;

fn detect_at(url: &str, body: Value) -> Detection {
    let t = RequestTemplate::get(url).unwrap();
    PageSpec::detect(&t, &HeaderMap::new(), body.to_string().as_bytes()).unwrap()
}

fn detect(body: Value) -> Detection {
    detect_at("https://x.test/l", body)
}

fn kind(d: &Detection) -> StyleKind {
    d.spec.style.kind()
}

#[test]
fn well_known_bodies() {
    assert_eq!(
        detect(json!({"ok":true,"members":[],"response_metadata":{"next_cursor":""}})).spec,
        PageSpec::cursor("/members", "/response_metadata/next_cursor", "cursor")
    );
    let stripe = detect(
        json!({"object":"list","data":[{"id":"cus_1"}],"has_more":true,"url":"/v1/customers"}),
    );
    assert_eq!(stripe.spec, PageSpec::starting_after("/data"));
    let notion = detect(json!({"object":"list","results":[],"next_cursor":null,"has_more":false}));
    assert_eq!(kind(&notion), StyleKind::Cursor);
    assert_eq!(notion.spec.items.as_str(), "/results");
    let google = detect(json!({"files":[{"id": "a"}],"nextPageToken":"t"}));
    assert_eq!(
        google.spec,
        PageSpec::token("/files", "/nextPageToken", "pageToken")
    );
    assert_eq!(
        detect(json!({"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v60.0/query/01g-2000","records":[]})).spec,
        PageSpec::salesforce()
    );
    assert_eq!(
        detect(json!({"data":[],"links":{"self":"x","next":"https://x.test/l?p=2"}})).spec,
        PageSpec::json_api()
    );
    assert_eq!(
        detect(json!({"count":2,"next":null,"previous":null,"results":[]})).spec,
        PageSpec::next_url("/results", "/next")
    );
    let relay = detect(
        json!({"data":{"repository":{"issues":{"nodes":[],"pageInfo":{"hasNextPage":false,"endCursor":null}}}}}),
    );
    assert_eq!(kind(&relay), StyleKind::Relay);
    assert_eq!(relay.spec.items.as_str(), "/data/repository/issues/nodes");
    assert_eq!(
        kind(&detect(
            json!({"hits":{"total":{"value":1,"relation":"eq"},"hits":[{"_id":"a","sort":[1]}]}})
        )),
        StyleKind::SearchAfter
    );
}

#[test]
fn a_link_header_wins_unless_the_body_says_more() {
    let t = RequestTemplate::get("https://x.test/").unwrap();
    let mut h = HeaderMap::new();
    h.insert(
        http::header::LINK,
        "<https://x.test/?page=2>; rel=\"next\"".parse().unwrap(),
    );
    let d = PageSpec::detect(&t, &h, br#"{"next_cursor":null,"data":[]}"#).unwrap();
    assert_eq!(d.spec, PageSpec::link("/data"));
    // A last page: prev and first, no next.
    h.insert(
        http::header::LINK,
        "<https://x.test/?page=1>; rel=\"prev\"".parse().unwrap(),
    );
    let d = PageSpec::detect(&t, &h, br#"[{"id": 1}]"#).unwrap();
    assert_eq!(d.spec, PageSpec::link(""));
    assert_eq!(
        PageSpec::detect(&t, &HeaderMap::new(), br#"{"a":1}"#),
        Err(PageError::NotAList)
    );
    assert_eq!(
        PageSpec::detect(&t, &HeaderMap::new(), b"7"),
        Err(PageError::NotAList)
    );
    assert!(matches!(
        PageSpec::detect(&t, &HeaderMap::new(), b"{"),
        Err(PageError::Body(BodyError::Truncated))
    ));
}

#[test]
fn the_seeds_offset_api_is_probed_by_offset() {
    let items: Vec<Value> = (1..=10).map(|i| json!({"id": i})).collect();
    let d = detect_at(
        "https://app.pact.place/v1/companies?limit=10",
        json!({"items": items, "total": 2000}),
    );
    let Style::Offset { param, total, .. } = &d.spec.style else {
        panic!("{:?}", d.spec)
    };
    assert_eq!(param, &Param::query("offset"));
    assert_eq!(total, &Some(Source::body("/total")));
    let probe = d.probe.unwrap();
    assert_eq!(probe.fail, Fail::Stop);
    assert_eq!(probe.rest.len(), 1, "then page=");
    assert_eq!(probe.rest[0].next, Position::Page(1));
    assert!(probe.rest[0].base);
    assert_eq!(d.spec.key, Some(Pointer::from_static("/id")));
}

#[test]
fn a_list_that_proves_its_own_end() {
    let end = |url: &str, body: Value| detect_at(url, body).end;
    assert_eq!(
        end("https://x.test/l", json!({"items": []})),
        Some(EndReason::EmptyPage)
    );
    // Fewer than asked: the end, once one more request shows the server does not cap the
    // size below what was asked; fewer than the size the body says it uses: the end at once.
    let short = detect_at("https://x.test/l?limit=10", json!({"items": [{"id": 1}]}));
    assert_eq!(short.end, None);
    assert_eq!(
        short.probe.unwrap().fail,
        Fail::End(EndReason::ShortPage {
            records: 1,
            size: 10
        })
    );
    assert_eq!(
        end(
            "https://x.test/l",
            json!({"items": [{"id": 1}], "pagelen": 10})
        ),
        Some(EndReason::ShortPage {
            records: 1,
            size: 10
        })
    );
    assert_eq!(
        end(
            "https://x.test/l",
            json!({"items": [{"id": 1}], "total": 1})
        ),
        Some(EndReason::TotalReached { at: 1, total: 1 })
    );
    // Records and no page size asked: the end only once a probe shows it.
    let d = detect(json!([{"id": 1}, {"id": 2}]));
    assert_eq!(d.end, None);
    assert_eq!(d.probe.unwrap().fail, Fail::End(EndReason::Unpaginated));
}

#[test]
fn request_parameters_name_the_style() {
    let d = detect_at(
        "https://x.test/l?page=3&per_page=20",
        json!({"items": [{"id": 1}], "total_pages": 9}),
    );
    let Style::Page {
        param,
        first,
        total_pages,
        ..
    } = &d.spec.style
    else {
        panic!("{:?}", d.spec)
    };
    assert_eq!(
        (param, *first),
        (&Param::query("page"), 1),
        "pages count from 1"
    );
    assert_eq!(d.start, Some(Position::Page(3)), "this is the third");
    assert_eq!(d.cap, Some(20), "the pages before it were full");
    assert_eq!(total_pages, &Some(Source::body("/total_pages")));
    assert!(d.probe.is_none(), "the request's own parameter is no guess");
    let d = detect_at(
        "https://x.test/l?startAt=0&maxResults=2",
        json!({"issues": [{"id": 1}, {"id": 2}], "total": 9, "isLast": false}),
    );
    assert_eq!(kind(&d), StyleKind::Offset);
    assert_eq!(d.spec.style, {
        let mut s = PageSpec::new(
            Style::Offset {
                param: Param::query("startAt"),
                start: 0,
                total: Some(Source::body("/total")),
                has_more: None,
                done: Some(Pointer::from_static("/isLast")),
            },
            "",
        );
        s.page_size = None;
        s.style
    });
}

#[test]
fn cursors_go_back_where_the_request_carries_them() {
    let t = RequestTemplate::post_json(
        "https://api.notion.com/v1/databases/d/query",
        &json!({"page_size": 100}),
    )
    .unwrap();
    let body =
        json!({"object": "list", "results": [{"id": "a"}], "next_cursor": "c2", "has_more": true});
    let d = PageSpec::detect(&t, &HeaderMap::new(), body.to_string().as_bytes()).unwrap();
    let Style::Cursor {
        param, has_more, ..
    } = &d.spec.style
    else {
        panic!("{:?}", d.spec)
    };
    assert_eq!(param, &Param::body("/start_cursor"));
    assert_eq!(has_more, &Some(Pointer::from_static("/has_more")));
    // HubSpot: the cursor is a member of `paging.next`, beside a link.
    let d = detect(
        json!({"results": [{"id": "1"}], "paging": {"next": {"after": "NTI1", "link": "https://x.test/l?after=NTI1"}}}),
    );
    let Style::Cursor { next, param, .. } = &d.spec.style else {
        panic!("{:?}", d.spec)
    };
    assert_eq!(
        (next.as_str(), param),
        ("/paging/next/after", &Param::query("after"))
    );
}

#[test]
fn next_urls_in_objects_and_flags_beside_them() {
    let d = detect(
        json!({"_embedded": {"orders": [{"id": 1}]}, "_links": {"next": {"href": "/o?page=2"}}}),
    );
    assert_eq!(
        d.spec.style,
        Style::NextUrl {
            next: Pointer::from_static("/_links/next"),
            done: None,
            has_more: None,
            base: None,
        }
    );
    assert_eq!(d.spec.items.as_str(), "/_embedded/orders");
    let d = detect(
        json!({"data": [{"id": 1}], "links": {"next": "https://x.test/l?c=2"}, "meta": {"has_more": false}}),
    );
    assert_eq!(
        d.spec.style,
        Style::NextUrl {
            next: Pointer::from_static("/links/next"),
            done: None,
            has_more: Some(Pointer::from_static("/meta/has_more")),
            base: None,
        }
    );
}

#[test]
fn hints_win_and_fill_the_rest() {
    let t = RequestTemplate::get("https://x.test/l?size=50").unwrap();
    let body = json!({"content": [{"id": 1}], "totalElements": 120, "number": 0, "last": false});
    let hints = Hints::default().style(StyleKind::Page);
    let d =
        PageSpec::detect_with(&t, &HeaderMap::new(), body.to_string().as_bytes(), &hints).unwrap();
    let Style::Page {
        param,
        first,
        total,
        done,
        ..
    } = &d.spec.style
    else {
        panic!("{:?}", d.spec)
    };
    assert_eq!(
        (param, *first),
        (&Param::query("page"), 0),
        "Spring counts pages from 0"
    );
    assert_eq!(total, &Some(Source::body("/totalElements")));
    assert_eq!(done, &Some(Pointer::from_static("/last")));
    assert_eq!(d.spec.page_size.as_ref().map(|p| p.size), Some(50));
    let hints = Hints::default()
        .style(StyleKind::Cursor)
        .next(Pointer::from_static("/meta/token"))
        .param(Param::query("t"));
    let d = PageSpec::detect_with(
        &t,
        &HeaderMap::new(),
        br#"{"data": [], "meta": {"token": "x"}}"#,
        &hints,
    )
    .unwrap();
    assert_eq!(
        d.spec.style,
        Style::Cursor {
            next: Pointer::from_static("/meta/token"),
            param: Param::query("t"),
            has_more: None,
            done: None
        }
    );
    assert!(d.probe.is_none());
}

#[test]
fn ambiguous_items_name_the_candidates() {
    let t = RequestTemplate::get("https://x.test/l").unwrap();
    let e = PageSpec::detect(
        &t,
        &HeaderMap::new(),
        br#"{"users": [{"a": 1}], "groups": [{"b": 2}]}"#,
    )
    .unwrap_err();
    assert!(matches!(e, PageError::AmbiguousItems { ref candidates } if candidates.len() == 2));
}
