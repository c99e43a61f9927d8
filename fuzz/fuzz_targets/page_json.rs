//! Reading a page from arbitrary bytes never panics, and what it returns is usable: the first
//! byte picks a style, the rest is the body. Auto-detection runs on the same body.
#![no_main]

use http::{HeaderMap, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::paginate::{PageSpec, RequestTemplate, Walk};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let headers = HeaderMap::new();
    let first = RequestTemplate::get("https://api.test/items?limit=10").expect("a valid URL");
    let _ = PageSpec::detect(&first, &headers, body);
    let spec = match pick % 8 {
        0 => PageSpec::slack("/members"),
        1 => PageSpec::stripe(),
        2 => PageSpec::offset("/data", 10)
            .total("/total")
            .dedupe_by("/id"),
        3 => PageSpec::salesforce(),
        4 => PageSpec::relay("/data/repository/issues", 10),
        5 => PageSpec::search_after(10),
        6 => PageSpec::keyset("", &[("/a/0/b", "after"), ("/id", "after_id")]),
        _ => PageSpec::google("/files", 10),
    };
    let template = RequestTemplate::get("https://api.test/items").expect("a valid URL");
    let mut walk = Walk::new(spec, template).expect("a valid spec");
    if let Ok(page) = walk.on_page(StatusCode::OK, &headers, body) {
        assert!(page.records(body).all(|r| !r.is_empty()));
        let _ = walk.checkpoint().to_bytes();
        let _ = walk.poll_request();
        while walk.poll_event().is_some() {}
    }
});
