//! A `PageSpec` decoded from any JSON (what a config file or `--spec` holds) round-trips
//! through serde; a walk made from it reads any page (the bytes after the first NUL) to `Ok` or
//! `Err`, and its checkpoint, next request and events never panic; an `Ok` page's records are
//! non-empty slices of the body.
#![no_main]

use http::{HeaderMap, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::paginate::{PageSpec, RequestTemplate, Walk};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |&b| b == 0);
    let json = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let Ok(spec) = serde_json::from_slice::<PageSpec>(json) else {
        return;
    };
    let bytes = serde_json::to_vec(&spec).expect("a decoded spec encodes");
    let again: PageSpec = serde_json::from_slice(&bytes).expect("and decodes back");
    // NaN-free by construction (no float in a spec), so equality is exact.
    assert_eq!(again, spec);

    let template = RequestTemplate::get("https://api.test/items?limit=10").expect("a valid URL");
    let Ok(mut walk) = Walk::new(spec, template) else {
        return;
    };
    let _ = walk.poll_request();
    if let Ok(page) = walk.on_page(StatusCode::OK, &HeaderMap::new(), body) {
        assert!(page.records(body).all(|r| !r.is_empty()));
        let cp = walk.checkpoint();
        let _ = cp.to_bytes();
        let _ = walk.poll_request();
        while walk.poll_event().is_some() {}
    }
});
