//! Auto-detection over a whole exchange from arbitrary bytes: a request (its query and JSON
//! body), response headers and two response bodies. Never a panic; a walk that says it is
//! complete names its reason; a request it asks for keeps to the first request's origin.
//!
//! Layout: `query \0 request-body \0 link \0 x-total-count \0 first-body \0 second-body`
//! (missing pieces are empty).
#![no_main]

use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::paginate::{After, Guards, RequestTemplate, Walk, WalkState};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0);
    let mut next = || parts.next().unwrap_or_default();
    let (query, req_body, link, total, first, second) =
        (next(), next(), next(), next(), next(), next());
    let query = String::from_utf8_lossy(query);
    let Ok(mut template) = RequestTemplate::get(&format!("https://api.test/items?{query}")) else {
        return;
    };
    if !req_body.is_empty() {
        template = template.body(req_body.to_vec());
        template.method = http::Method::POST;
    }
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(link) {
        headers.insert(http::header::LINK, v);
    }
    if let Ok(v) = HeaderValue::from_bytes(total) {
        headers.insert("x-total-count", v);
    }
    let Ok(mut walk) = Walk::auto(template, Guards::default().max_pages(5)) else {
        return;
    };
    for body in [first, second] {
        let Ok(page) = walk.on_page(StatusCode::OK, &headers, body) else {
            return;
        };
        assert!(page.records(body).all(|r| !r.is_empty()));
        let _ = walk.checkpoint().to_bytes();
        while walk.poll_event().is_some() {}
        if let Some(req) = walk.poll_request()
            && req.credentials
        {
            assert_eq!(req.url.host_str(), Some("api.test"));
        }
        match page.after() {
            After::More => {}
            After::Complete(_) => {
                assert!(matches!(walk.state(), WalkState::Complete(_)));
                return;
            }
            After::Stopped(_) => return,
        }
    }
});
