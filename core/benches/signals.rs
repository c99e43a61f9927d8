//! Parser and per-decision costs: `cargo bench -p paceline --bench signals`.

use std::hint::black_box;
use std::time::{Duration, Instant, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use paceline::headers::SignalParser;
use paceline::{Begin, Finish, Now, Pacer, PacerConfig};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

/// GitHub's documented example response headers, with its `Date`.
fn github() -> HeaderMap {
    headers(&[
        ("date", "Mon, 01 Jul 2013 17:33:20 GMT"),
        ("x-ratelimit-limit", "60"),
        ("x-ratelimit-remaining", "56"),
        ("x-ratelimit-used", "4"),
        ("x-ratelimit-reset", "1372700873"),
        ("x-ratelimit-resource", "core"),
    ])
}

/// draft-ietf-httpapi-ratelimit-headers: two policies.
fn ietf() -> HeaderMap {
    headers(&[
        (
            "ratelimit-policy",
            "\"burst\";q=100;w=60, \"daily\";q=1000;w=86400",
        ),
        ("ratelimit", "\"burst\";r=40;t=30, \"daily\";r=900;t=7200"),
    ])
}

fn parse(c: &mut Criterion) {
    let parser = SignalParser::new();
    let received = UNIX_EPOCH + Duration::from_secs(1_372_700_000);

    let h = github();
    c.bench_function("parse/github", |b| {
        b.iter(|| {
            parser.parse(
                black_box(StatusCode::OK),
                black_box(&h),
                black_box(received),
            )
        })
    });

    let h = ietf();
    c.bench_function("parse/ietf_two_policies", |b| {
        b.iter(|| {
            parser.parse(
                black_box(StatusCode::OK),
                black_box(&h),
                black_box(received),
            )
        })
    });
}

fn decide(c: &mut Criterion) {
    let h = github();
    let mut pacer = Pacer::new(PacerConfig::default(), 7);
    // The response's `Date` is the reference for its reset, so every response says the same
    // thing however far the clock moves: a steady state.
    let mut now = Now::new(
        Instant::now(),
        UNIX_EPOCH + Duration::from_secs(1_372_700_000),
    );
    let request = HeaderMap::new();
    c.bench_function("pacer/paced_send_then_200_github", |b| {
        b.iter(|| {
            let mut call = pacer.call(&Method::GET, &request);
            // The Pacer spreads GitHub's remaining 56 requests evenly over the 873 s to the
            // reset, so in this steady state each request is one `Wait`, then `Send`.
            loop {
                match pacer.poll_send(&mut call, black_box(now)) {
                    Begin::Send => break,
                    Begin::Wait(t) => now = now.at(t),
                    other => panic!("{other:?}"),
                }
            }
            let finish = pacer.on_response(&mut call, now, StatusCode::OK, black_box(&h));
            assert_eq!(finish, Finish::Done);
            while let Some(e) = pacer.poll_event() {
                black_box(e);
            }
        })
    });
}

criterion_group!(benches, parse, decide);
criterion_main!(benches);
