//! `Checkpoint::from_bytes` is total, a decoded checkpoint re-encodes to bytes that decode to
//! the same checkpoint, and resuming from it is a walk or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paceline::paginate::{Checkpoint, PageSpec, RequestTemplate, Walk};

fuzz_target!(|data: &[u8]| {
    if let Ok(cp) = Checkpoint::from_bytes(data) {
        assert_eq!(Checkpoint::from_bytes(&cp.to_bytes()).as_ref(), Ok(&cp));
        let template = RequestTemplate::get("https://api.test/items").expect("a valid URL");
        let _ = Walk::resume(Some(PageSpec::link("")), template.clone(), &cp);
        let _ = Walk::resume(None, template, &cp);
    }
});
