//! Walks as logs, snapshotted: every request (method, URL, body, credentials), every page
//! (records, what follows), every event, every checkpoint. A behaviour change, or a change of
//! the checkpoint format that would break resuming across versions, shows up as a diff.

use std::fmt::Write as _;

use http::header::{AUTHORIZATION, LINK};
use http::{HeaderMap, HeaderValue, StatusCode};
use paceline::paginate::{Guards, PageRequest, PageSpec, RequestTemplate, Walk};
use serde_json::{Value, json};

/// Drives `walk` against `server` (status, link header, body) for at most 20 pages.
fn log(
    mut walk: Walk,
    mut server: impl FnMut(&PageRequest) -> (Option<&'static str>, Value),
) -> String {
    let mut out = String::new();
    for _ in 0..20 {
        let Some(req) = walk.poll_request().cloned() else {
            break;
        };
        write!(out, "→ {} {}", req.method, req.url).unwrap();
        if let Some(b) = &req.body {
            write!(out, " body={}", String::from_utf8_lossy(b)).unwrap();
        }
        if !req.credentials {
            write!(out, " [no credentials]").unwrap();
        }
        writeln!(out).unwrap();
        let (link, body) = server(&req);
        let body = body.to_string().into_bytes();
        let mut headers = HeaderMap::new();
        if let Some(l) = link {
            headers.insert(LINK, HeaderValue::from_static(l));
        }
        match walk.on_page(StatusCode::OK, &headers, &body) {
            Ok(page) => {
                let records: Vec<String> = page
                    .records(&body)
                    .map(|r| String::from_utf8_lossy(r).into_owned())
                    .collect();
                writeln!(
                    out,
                    "  page {}: {} record(s) {} dropped={} then {:?}",
                    page.number(),
                    records.len(),
                    records.join(" "),
                    page.duplicates(),
                    page.after()
                )
                .unwrap();
            }
            Err(e) => writeln!(out, "  error: {e}").unwrap(),
        }
        while let Some(e) = walk.poll_event() {
            writeln!(out, "  event {e:?}").unwrap();
        }
        writeln!(
            out,
            "  checkpoint {}",
            String::from_utf8(walk.checkpoint().to_bytes()).unwrap()
        )
        .unwrap();
    }
    writeln!(out, "state {:?}", walk.state()).unwrap();
    out
}

fn q(req: &PageRequest, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[test]
fn snapshot_offset_drift_with_dedupe() {
    let mut data: Vec<i64> = (1..=5).collect();
    let mut fresh = 0;
    let spec = PageSpec::offset("/items", 2)
        .total("/total")
        .dedupe_by("/id");
    let walk = Walk::new(
        spec,
        RequestTemplate::get("https://api.test/items").unwrap(),
    )
    .unwrap();
    insta::assert_snapshot!(log(walk, |req| {
        let at: usize = q(req, "offset").unwrap().parse().unwrap();
        let page: Vec<Value> = data
            .iter()
            .skip(at)
            .take(2)
            .map(|i| json!({"id": i}))
            .collect();
        let total = data.len();
        data.insert(0, fresh); // an insert at the head after every page
        fresh -= 1;
        (None, json!({"items": page, "total": total}))
    }));
}

#[test]
fn snapshot_relay_post_bodies() {
    let template = RequestTemplate::post_json(
        "https://api.github.com/graphql",
        &json!({"query": "query($after:String,$first:Int){viewer{repositories(first:$first,after:$after){nodes{name} pageInfo{hasNextPage endCursor}}}}"}),
    )
    .unwrap();
    let walk = Walk::new(PageSpec::relay("/data/viewer/repositories", 2), template).unwrap();
    let mut n = 0;
    insta::assert_snapshot!(log(walk, |_| {
        n += 1;
        let more = n < 3;
        (
            None,
            json!({"data": {"viewer": {"repositories": {
            "nodes": [{"name": format!("r{n}a")}, {"name": format!("r{n}b")}],
            "pageInfo": {"hasNextPage": more, "endCursor": format!("Y3Vyc29yOnYyOp{n}")}}}}}),
        )
    }));
}

#[test]
fn snapshot_link_across_origins() {
    let spec = PageSpec::link("").guards(Guards::default().allow_origin("https://mirror.test"));
    let template = RequestTemplate::get("https://api.test/v1/things")
        .unwrap()
        .header(AUTHORIZATION, HeaderValue::from_static("Bearer t0ken"));
    let walk = Walk::new(spec, template).unwrap();
    insta::assert_snapshot!(log(walk, |req| match req.url.host_str() {
        Some("api.test") if req.url.query().is_none() => (
            Some(r#"</v1/things?page=2>; rel="next", </v1/things?page=9>; rel="last""#),
            json!([{"id": 1}])
        ),
        Some("api.test") => (
            Some("<https://mirror.test/p3>; rel=next"),
            json!([{"id": 2}])
        ),
        _ => (
            Some("<https://elsewhere.test/p4>; rel=next"),
            json!([{"id": 3}])
        ),
    }));
}

#[test]
fn snapshot_auto_detection_of_vendor_bodies() {
    let bodies = [
        ("github", json!([{"id": 1}])),
        (
            "slack",
            json!({"ok": true, "channels": [], "response_metadata": {"next_cursor": "dGVhbTpDMDYxRkE1UEI="}}),
        ),
        (
            "stripe",
            json!({"object": "list", "url": "/v1/charges", "has_more": true, "data": [{"id": "ch_1"}]}),
        ),
        (
            "notion",
            json!({"object": "list", "results": [], "next_cursor": "fe2cc560", "has_more": true}),
        ),
        (
            "json:api",
            json!({"data": [], "links": {"next": "/articles?page[number]=2"}}),
        ),
        (
            "odata",
            json!({"value": [], "@odata.nextLink": "People?$skiptoken=8"}),
        ),
        (
            "salesforce",
            json!({"totalSize": 1, "done": true, "records": []}),
        ),
        ("google", json!({"files": [], "nextPageToken": "t"})),
        (
            "relay",
            json!({"data": {"repository": {"issues": {"edges": [], "pageInfo": {"hasNextPage": false}}}}}),
        ),
        ("elasticsearch", json!({"took": 1, "hits": {"hits": []}})),
        (
            "drf",
            json!({"count": 0, "next": null, "previous": null, "results": []}),
        ),
        (
            "facebook",
            json!({"data": [], "paging": {"cursors": {}, "next": "https://graph.test/x?after=a"}}),
        ),
    ];
    let mut out = String::new();
    for (name, body) in bodies {
        let template = RequestTemplate::get("https://api.test/v1/list").unwrap();
        let d =
            PageSpec::detect(&template, &HeaderMap::new(), body.to_string().as_bytes()).unwrap();
        writeln!(out, "{name}: {}", serde_json::to_string(&d.spec).unwrap()).unwrap();
        if let Some(end) = d.end {
            writeln!(out, "  ends: {end}").unwrap();
        }
    }
    insta::assert_snapshot!(out);
}
