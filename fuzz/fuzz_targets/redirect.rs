//! `redirect::follow` on any `Location` and status is total: a redirect, a typed refusal, or
//! none; a followed hop never goes from https to http.
#![no_main]

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use libfuzzer_sys::fuzz_target;
use paceline::paginate::Url;
use paceline::redirect::follow;

fuzz_target!(|data: &[u8]| {
    let Some((&code, location)) = data.split_first() else {
        return;
    };
    let Ok(value) = HeaderValue::from_bytes(location) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(http::header::LOCATION, value);
    let status = StatusCode::from_u16(300 + u16::from(code % 10)).unwrap();
    let from = Url::parse("https://api.example:8443/v1/items?page=2").unwrap();
    if let Some(Ok(hop)) = follow(&Method::POST, &from, status, &headers) {
        assert_ne!(hop.url.scheme(), "http");
    }
});
