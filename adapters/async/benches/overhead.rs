//! The async driver's overhead per request: `paceline_async::Client::send` (a Pacer with no
//! limits: the exchange loop, the Pacer's decision and report under the client's lock, events
//! to `tracing`) against the bare transport it drives (`HttpTransport::send`, the same
//! keep-alive pool and timeouts), both sending `GET /ok` to the same loopback server
//! (`paceline_testkit::LoopbackServer`, started in this process and stopped at the end) under
//! `smol::block_on`, reading the 2-byte body, interleaved (a request of one, then of the other:
//! see `core/benches/support/paired.rs`). Issue 15's target: at most 10 % more per request.
//! `cargo bench -p paceline-async --bench overhead`.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use paceline::PacerConfig;
use paceline::exchange::Outcome;
use paceline_async::{DEFAULT_BODY_LIMIT, HttpTransport, Transport};
use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};

#[path = "../../../core/benches/support/paired.rs"]
mod support;
use support::paired;

fn overhead(c: &mut Criterion) {
    let server =
        LoopbackServer::start_with(|_: &ReceivedRequest| ScriptedResponse::new(200).body("ok"))
            .expect("a loopback server");
    let url = format!("{}/ok", server.url());
    let request = || http::Request::get(&url).body(Vec::new()).unwrap();
    let group = "async driver";
    let mut g = c.benchmark_group(group);

    let transport = HttpTransport::default();
    let client = paceline_async::Client::new(PacerConfig::default());
    paired(
        &mut g,
        group,
        1,
        "paceline-async Client::send",
        || {
            smol::block_on(async {
                let response = client.send(request()).await.expect("a response");
                assert_eq!(response.body(), b"ok");
            })
        },
        "bare HttpTransport::send",
        || {
            smol::block_on(async {
                let outcome = transport.send(request(), DEFAULT_BODY_LIMIT).await;
                let Ok(Outcome::Response(response)) = outcome else {
                    panic!("a response: {outcome:?}");
                };
                assert_eq!(response.body(), b"ok");
            })
        },
    );
    g.finish();
    drop(client);
    server.shutdown();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        // Each measurement runs both sides (interleaved), so it takes twice this.
        .measurement_time(Duration::from_secs(5))
        .sample_size(40)
}

criterion_group! {
    name = benches;
    config = config();
    targets = overhead
}
criterion_main!(benches);
