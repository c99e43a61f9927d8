//! The blocking driver's overhead per request: `paceline_ureq::Client::send` (a Pacer with no
//! limits: the exchange loop, the Pacer's decision and report, events to `tracing`) against a
//! bare `ureq::Agent` configured as the client configures its own, both sending `GET /ok` to
//! the same loopback server (`paceline_testkit::LoopbackServer`, started in this process and
//! stopped at the end) over a kept-alive connection, reading the 2-byte body.
//! `cargo bench -p paceline-ureq --bench overhead`.
//!
//! Each side is measured twice, with and without the client's default timeouts: ureq resolves
//! the host on every request, pooled connection or not, and with a resolve timeout set (the
//! client's `Timeouts::default()` sets one) it does so on a new thread each time, even for an
//! IP literal. The pairs tell that cost (ureq's, paid by any caller who sets timeouts) from
//! the driver's own.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use paceline::PacerConfig;
use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};
use paceline_ureq::Timeouts;
use paceline_ureq::ureq::Agent;
use paceline_ureq::ureq::config::RedirectAuthHeaders;

fn overhead(c: &mut Criterion) {
    let server =
        LoopbackServer::start_with(|_: &ReceivedRequest| ScriptedResponse::new(200).body("ok"))
            .expect("a loopback server");
    let url = format!("{}/ok", server.url());
    let mut g = c.benchmark_group("ureq driver");

    let t = Timeouts::default();
    let bare: [(&str, Agent); 2] = [
        ("bare ureq Agent", agent(None)),
        (
            "bare ureq Agent, the client's default timeouts",
            agent(Some(t)),
        ),
    ];
    for (name, agent) in bare {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut response = agent.get(&url).call().expect("a response");
                let body = response.body_mut().read_to_vec().expect("a body");
                assert_eq!(body, b"ok");
            })
        });
    }

    let clients = [
        (
            "paceline-ureq Client::send",
            paceline_ureq::Client::new(PacerConfig::default()),
        ),
        (
            "paceline-ureq Client::send, Timeouts::none()",
            paceline_ureq::Client::new(PacerConfig::default()).timeouts(Timeouts::none()),
        ),
    ];
    for (name, client) in &clients {
        g.bench_function(*name, |b| {
            b.iter(|| {
                let request = http::Request::get(&url).body(Vec::new()).unwrap();
                let response = client.send(request).expect("a response");
                assert_eq!(response.body(), b"ok");
            })
        });
    }
    g.finish();
    drop(clients);
    server.shutdown();
}

/// An agent configured as `Client::new` configures its own, with `timeouts` set on the agent
/// as the client sets them on each request.
fn agent(timeouts: Option<Timeouts>) -> Agent {
    let mut config = Agent::config_builder()
        .http_status_as_error(false)
        .redirect_auth_headers(RedirectAuthHeaders::Never)
        .max_redirects(0);
    if let Some(t) = timeouts {
        config = config
            .timeout_resolve(t.connect)
            .timeout_connect(t.connect)
            .timeout_per_read(t.idle)
            .timeout_per_write(t.idle)
            .timeout_per_call(t.attempt);
    }
    config.build().into()
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        // Long enough that load from other processes, on a shared machine, falls on every
        // function alike rather than on one.
        .measurement_time(Duration::from_secs(10))
        .sample_size(60)
}

criterion_group! {
    name = benches;
    config = config();
    targets = overhead
}
criterion_main!(benches);
