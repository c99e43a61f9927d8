//! Every shipped scenario: its report and first 50 trace lines are snapshotted, and the figures
//! the issues promise are asserted.

use std::path::{Path, PathBuf};

use paceline_testkit::scenario::Scenario;
use paceline_testkit::sim::Report;

fn scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn run(name: &str) -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    Scenario::load(path).expect("scenario").run().report
}

#[test]
fn at_least_ten_scenarios_each_with_a_description() {
    let files = scenarios();
    assert!(files.len() >= 10, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.starts_with("# "),
            "{} must open with a comment saying what it shows",
            f.display()
        );
        let s = Scenario::from_toml(&text).unwrap();
        assert!(!s.description.is_empty(), "{}", f.display());
    }
}

#[test]
fn snapshot_every_scenario() {
    for f in scenarios() {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let run = Scenario::load(&f).unwrap().run_with_trace(50);
        insta::assert_yaml_snapshot!(format!("{name}.report"), run.report);
        insta::assert_snapshot!(format!("{name}.trace"), run.trace.join("\n"));
    }
}

#[test]
fn honest_headers_use_the_limit_without_a_single_429() {
    for name in [
        "throttle-honest-github",
        "throttle-honest-ietf",
        "throttle-honest-xratelimit",
    ] {
        let r = run(name);
        assert!(r.utilisation >= 0.99, "{name}: {r:?}");
        assert_eq!((r.status_429, r.status_403), (0, 0), "{name}: {r:?}");
        assert!(
            r.virtual_duration_s >= 3600.0,
            "{name}: an hour of virtual time"
        );
    }
}

#[test]
fn configured_limits_without_headers() {
    let r = run("throttle-configured-no-headers");
    assert!(r.utilisation >= 0.98, "{r:?}");
    assert_eq!(r.status_429, 0, "{r:?}");
}

#[test]
fn unknown_limits_are_discovered() {
    let r = run("throttle-unknown-limit");
    assert!(r.utilisation >= 0.90, "{r:?}");
    assert!(r.status_429 * 100 <= r.requests, "429s over 1 %: {r:?}");
}

#[test]
fn three_windows_over_a_day_and_the_quota_lasts_it() {
    let r = run("throttle-multi-window-day");
    assert_eq!(r.status_429, 0, "{r:?}");
    assert!(
        r.virtual_duration_s >= 86_000.0,
        "the quota must last the day: {r:?}"
    );
    assert!(r.utilisation >= 0.99, "{r:?}");
}

#[test]
fn a_daily_quota_is_refused_locally() {
    let r = run("daily-quota-exhausted");
    assert_eq!(r.requests, 500, "{r:?}");
    assert_eq!(r.status_429, 0, "{r:?}");
    assert!(r.rejected > 0, "{r:?}");
}

#[test]
fn concurrency_and_priorities_cause_no_429() {
    for name in [
        "concurrency-cap",
        "background-priority",
        "shopify-leaky-bucket",
        "discord-route-buckets",
    ] {
        let r = run(name);
        assert_eq!(r.status_429, 0, "{name}: {r:?}");
    }
}

#[test]
fn chaos_is_survived() {
    let r = run("chaos-5xx-resets");
    assert_eq!(r.gave_up, 0, "{r:?}");
    assert!(
        r.retries > 0 && r.transport_errors > 0 && r.status_5xx > 0,
        "{r:?}"
    );
    let r = run("github-secondary-limit");
    assert!(r.status_429 * 100 <= r.requests * 2, "{r:?}");
}
