//! `parse_link` and `resolve_link` are total: any bytes give `Ok` or `Err`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paceline::paginate::{Url, parse_link, resolve_link};

fuzz_target!(|data: &[u8]| {
    if let Ok(links) = parse_link(data) {
        for link in &links {
            let _ = (link.target(), link.rels().count(), link.anchor());
        }
    }
    let base = Url::parse("https://api.test/v1/items?page=1").expect("a valid base");
    let _ = resolve_link(data, &base, "next");
});
