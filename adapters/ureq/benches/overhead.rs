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
//! the driver's own. Each pair runs interleaved, a request of one then of the other (see
//! `core/benches/support/paired.rs`).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use paceline::PacerConfig;
use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};
use paceline_ureq::Timeouts;
use paceline_ureq::ureq::Agent;
use paceline_ureq::ureq::config::RedirectAuthHeaders;

#[path = "../../../core/benches/support/paired.rs"]
mod support;
use support::paired;

fn overhead(c: &mut Criterion) {
    let server =
        LoopbackServer::start_with(|_: &ReceivedRequest| ScriptedResponse::new(200).body("ok"))
            .expect("a loopback server");
    let url = format!("{}/ok", server.url());
    let group = "ureq driver";
    let mut g = c.benchmark_group(group);
    let bare_get = |agent: &Agent| {
        let mut response = agent.get(&url).call().expect("a response");
        let body = response.body_mut().read_to_vec().expect("a body");
        assert_eq!(body, b"ok");
    };
    let send = |client: &paceline_ureq::Client| {
        let request = http::Request::get(&url).body(Vec::new()).unwrap();
        let response = client.send(request).expect("a response");
        assert_eq!(response.body(), b"ok");
    };

    let t = Timeouts::default();
    let (with, without) = (agent(Some(t)), agent(None));
    let client = paceline_ureq::Client::new(PacerConfig::default());
    paired(
        &mut g,
        group,
        1,
        "paceline-ureq Client::send",
        || send(&client),
        "bare ureq Agent, the client's default timeouts",
        || bare_get(&with),
    );
    let untimed = paceline_ureq::Client::new(PacerConfig::default()).timeouts(Timeouts::none());
    paired(
        &mut g,
        group,
        1,
        "paceline-ureq Client::send, Timeouts::none()",
        || send(&untimed),
        "bare ureq Agent",
        || bare_get(&without),
    );
    // ureq alone, with and without the timeouts: the cost of its resolve thread.
    paired(
        &mut g,
        group,
        1,
        "bare ureq Agent with timeouts, beside none",
        || bare_get(&with),
        "bare ureq Agent without timeouts, beside some",
        || bare_get(&without),
    );
    g.finish();
    drop((client, untimed));
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
