//! Snapshot-testing your own Pacer configuration: describe your API's documented limits as a
//! scenario, run your configuration against it in virtual time (fifteen minutes of traffic in
//! milliseconds, the same figures on every run), and let `insta` tell you when a change to the
//! configuration, or to paceline, changes what your client would do.
//!
//! ```sh
//! cargo test -p paceline-examples --example snapshot_my_client
//! cargo insta review   # after an intended change
//! ```

use std::time::Duration;

use paceline::PacerConfig;
use paceline::retry::RetryPolicy;
use paceline_testkit::scenario::Scenario;
use paceline_testkit::sim::Report;

/// My API, as its documentation describes it: 100 requests per 10 s per key, answered with
/// `X-RateLimit-*` headers (reset in seconds), 1 % of answers a 503, about 40 ms each.
const MY_API: &str = r#"
description = "my API: 100 requests / 10 s, X-RateLimit headers, 1 % 503"
seed = 1
duration_s = 900

[server]
dialect = "x_rate_limit_delta"
latency = { base_ms = 40, jitter_ms = 20 }
limiters = [{ kind = "fixed_window", limit = 100, window_s = 10, name = "api" }]
[server.chaos]
p_503 = 0.01

[client]
workers = 8
"#;

/// My client's configuration: what my program builds its Pacer with.
fn my_config() -> PacerConfig {
    PacerConfig::default().retry(
        RetryPolicy::default()
            .max_attempts(5)
            .max_wait(Duration::from_secs(60)),
    )
}

/// Runs my configuration against my API's scenario.
fn simulate() -> Report {
    let mut scenario = Scenario::from_toml(MY_API).expect("a valid scenario");
    scenario.client.pacer = my_config();
    scenario.run().report
}

fn main() {
    let r = simulate();
    println!(
        "{} requests, {} × 429, utilisation {:.1} %, {} given up",
        r.requests,
        r.status_429,
        r.utilisation * 100.0,
        r.gave_up
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn my_client_against_my_api() {
        let r = super::simulate();
        // What I require of my configuration, whatever else changes:
        assert_eq!(r.status_429, 0, "never a 429 from a documented limit");
        assert!(r.utilisation > 0.9, "uses the limit: {}", r.utilisation);
        assert_eq!(r.gave_up, 0, "a 1 % flaky backend costs no request");
        // And everything else, reviewed once and then held: the snapshot.
        insta::assert_yaml_snapshot!("my_client_against_my_api", r);
    }
}
