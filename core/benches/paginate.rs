//! Pagination costs: `cargo bench -p paceline --bench paginate`.
//!
//! The figure that matters is `on_page` for a 100-record page (Stripe-sized records, ~300 bytes
//! each): what the walk adds to every page request, beside the network.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, StatusCode};
use paceline::paginate::{Checkpoint, PageSpec, RequestTemplate, Walk, parse_link};
use serde_json::json;

/// A Stripe-style list page of `n` customers.
fn stripe_page(n: usize) -> Vec<u8> {
    let data: Vec<_> = (0..n)
        .map(|i| {
            json!({
                "id": format!("cus_{i:014}"),
                "object": "customer",
                "created": 1_680_893_993u64 + i as u64,
                "email": format!("user{i}@example.com"),
                "name": format!("Customer {i}"),
                "livemode": false,
                "metadata": {"plan": "pro", "region": "eu-west-1"},
                "address": {"city": "Dublin", "country": "IE", "line1": "1 Main St", "postal_code": "D01"},
                "balance": 0,
                "currency": "eur"
            })
        })
        .collect();
    json!({"object": "list", "url": "/v1/customers", "has_more": true, "data": data})
        .to_string()
        .into_bytes()
}

fn slack_page(n: usize) -> Vec<u8> {
    let body = String::from_utf8(stripe_page(n)).unwrap();
    body.replace(
        r#""has_more":true"#,
        r#""response_metadata":{"next_cursor":"dXNlcjpVMEc5V0ZYTlo="}"#,
    )
    .into_bytes()
}

fn on_page(c: &mut Criterion) {
    let template = RequestTemplate::get("https://api.stripe.com/v1/customers").unwrap();
    let page = stripe_page(100);
    let mut g = c.benchmark_group("on_page/100 records");
    g.throughput(Throughput::Bytes(page.len() as u64));
    for (name, spec, body) in [
        ("cursor (slack)", PageSpec::slack("/data"), slack_page(100)),
        ("keyset (stripe, key /id)", PageSpec::stripe(), page.clone()),
        (
            "offset + dedupe by /id",
            PageSpec::offset("/data", 100).dedupe_by("/id"),
            page.clone(),
        ),
    ] {
        let walk = Walk::new(spec, template.clone()).unwrap();
        g.bench_function(name, |b| {
            b.iter_batched(
                || walk.clone(),
                |mut w| {
                    let p = w
                        .on_page(StatusCode::OK, &HeaderMap::new(), black_box(&body))
                        .unwrap();
                    black_box(p.len())
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    // For scale: parsing the same page into a serde_json::Value tree.
    c.bench_function("serde_json::from_slice::<Value>/100 records", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(&page)).unwrap()))
    });
}

fn parsers(c: &mut Criterion) {
    let link = br#"<https://api.github.com/repositories/1300192/issues?page=2>; rel="prev", <https://api.github.com/repositories/1300192/issues?page=4>; rel="next", <https://api.github.com/repositories/1300192/issues?page=515>; rel="last", <https://api.github.com/repositories/1300192/issues?page=1>; rel="first""#;
    c.bench_function("parse_link/github 4 links", |b| {
        b.iter(|| black_box(parse_link(black_box(link)).unwrap().len()))
    });

    let template = RequestTemplate::get("https://api.stripe.com/v1/customers").unwrap();
    let mut walk = Walk::new(PageSpec::offset("/data", 100).dedupe_by("/id"), template).unwrap();
    walk.on_page(StatusCode::OK, &HeaderMap::new(), &stripe_page(100))
        .unwrap();
    let bytes = walk.checkpoint().to_bytes();
    c.bench_function("Checkpoint::from_bytes/100 recent keys", |b| {
        b.iter(|| black_box(Checkpoint::from_bytes(black_box(&bytes)).unwrap()))
    });
    c.bench_function("Walk::checkpoint+to_bytes/100 recent keys", |b| {
        b.iter(|| black_box(walk.checkpoint().to_bytes()))
    });
}

criterion_group!(benches, on_page, parsers);
criterion_main!(benches);
