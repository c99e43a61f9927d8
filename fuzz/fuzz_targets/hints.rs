//! `Hints` read from text (what `paceline extract --items/--next/--param/--total/--key` pass):
//! JSON Pointers, `header:NAME` sources and parameter names, parsed with `Pointer::parse` and
//! `Source::parse`, then `PageSpec::detect_with` and `Walk::auto_with` over a first page.
//! Never a panic; a detection's spec makes a walk or a typed error.
//!
//! Layout: `style-byte items \0 next \0 param \0 total \0 key \0 body` (missing pieces are
//! empty; an empty or unparsable piece is no hint).
#![no_main]

use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::paginate::{
    Guards, Hints, PageSpec, Param, Pointer, RequestTemplate, Source, StyleKind, Walk,
};

const STYLES: [StyleKind; 9] = [
    StyleKind::Offset,
    StyleKind::Page,
    StyleKind::Cursor,
    StyleKind::Keyset,
    StyleKind::Link,
    StyleKind::NextUrl,
    StyleKind::Token,
    StyleKind::Relay,
    StyleKind::SearchAfter,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.split(|&b| b == 0);
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (items, next_ptr, param, total, key) = (next(), next(), next(), next(), next());
    let body = next();

    let mut hints = Hints::default();
    if pick & 0x10 != 0 {
        hints = hints.style(STYLES[usize::from(pick & 0x0f) % STYLES.len()]);
    }
    if let Ok(p) = Pointer::parse(&items) {
        hints = hints.items(p);
    }
    if let Ok(p) = Pointer::parse(&next_ptr) {
        hints = hints.next(p);
    }
    if !param.is_empty() {
        hints = hints.param(match Pointer::parse(&param) {
            Ok(p) if param.starts_with('/') => Param::Body(p),
            _ => Param::query(&param),
        });
    }
    if let Ok(s) = Source::parse(&total) {
        hints = hints.total(s);
    }
    if let Ok(p) = Pointer::parse(&key) {
        hints = if pick & 0x20 != 0 {
            hints.dedupe_by(p)
        } else {
            hints.key_param(p, Param::query("after"))
        };
    }
    if pick & 0x40 != 0 {
        hints = hints.page_size(Param::query("limit"), 10);
    }

    let template = RequestTemplate::get("https://api.test/items?limit=10").expect("a valid URL");
    let mut headers = HeaderMap::new();
    if pick & 0x80 != 0 {
        headers.insert(
            http::header::LINK,
            HeaderValue::from_static("<https://api.test/items?page=2>; rel=\"next\""),
        );
    }
    let body = body.as_bytes();
    if let Ok(d) = PageSpec::detect_with(&template, &headers, body, &hints) {
        let _ = d.probe();
        let _ = Walk::new(d.spec, template.clone());
    }
    let Ok(mut walk) = Walk::auto_with(template, hints, Guards::default().max_pages(3)) else {
        return;
    };
    if let Ok(page) = walk.on_page(StatusCode::OK, &headers, body) {
        assert!(page.records(body).all(|r| !r.is_empty()));
        let _ = walk.checkpoint().to_bytes();
        let _ = walk.poll_request();
        while walk.poll_event().is_some() {}
    }
});
