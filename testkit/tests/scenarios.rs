//! Every shipped scenario: its report and first 50 trace lines are snapshotted, and the figures
//! the issues promise are asserted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use paceline_testkit::scenario::Scenario;
use paceline_testkit::sim::{Report, Run};

/// The pagination scenarios that must deliver every record present throughout exactly once:
/// one per drift-free style, and the offset and page-number lists read by the keyset they also
/// offer; with the style each walk must have paged by.
const EXACT: [(&str, &str); 9] = [
    ("paginate-offset-then-keyset-live", "offset then keyset"),
    ("paginate-page-then-keyset-live", "page then keyset"),
    ("paginate-cursor-live", "cursor"),
    ("paginate-keyset-live", "keyset"),
    ("paginate-link-live", "link"),
    ("paginate-next-url-live", "next_url"),
    ("paginate-token-live", "token"),
    ("paginate-graphql-live", "relay"),
    ("paginate-search-after-live", "search_after"),
];

/// The offset and page-number lists walked by offset and page number all the way: they drift,
/// and must say so.
const DRIFTING: [(&str, &str); 3] = [
    ("paginate-offset-live", "offset"),
    ("paginate-page-live", "page"),
    ("paginate-offset-live-nodedup", "offset"),
];

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

fn path_of(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"))
}

/// Each scenario is simulated once per test binary (with 50 trace lines), by whichever test
/// asks first: the 100,000-record walks take about a second each in debug builds.
fn simulated(path: &Path) -> Arc<Run> {
    type Cache = Mutex<HashMap<PathBuf, Arc<OnceLock<Arc<Run>>>>>;
    static RUNS: OnceLock<Cache> = OnceLock::new();
    let cell = RUNS
        .get_or_init(Cache::default)
        .lock()
        .unwrap()
        .entry(path.to_owned())
        .or_default()
        .clone();
    cell.get_or_init(|| Arc::new(Scenario::load(path).expect("scenario").run_with_trace(50)))
        .clone()
}

fn run(name: &str) -> Report {
    simulated(&path_of(name)).report.clone()
}

/// The scenario run again with seeds `1..=n` (server chaos, latency, client jitter): a
/// figure that holds for the file's seed only is luck.
fn seeds(name: &str, n: u64) -> Vec<(u64, Report)> {
    let base = Scenario::load(path_of(name)).expect("scenario");
    (1..=n)
        .map(|seed| {
            let mut s = base.clone();
            s.seed = seed;
            (seed, s.run_with_trace(0).report)
        })
        .collect()
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
        let run = simulated(&f);
        insta::assert_yaml_snapshot!(format!("{name}.report"), run.report);
        insta::assert_snapshot!(format!("{name}.trace"), run.trace.join("\n"));
        // Where the behaviour shows: the first 50 lines that are not a plain success, however
        // late in the run (a quota's refusals, the 429s a lying server causes).
        if !run.notable.is_empty() {
            insta::assert_snapshot!(format!("{name}.notable"), run.notable.join("\n"));
        }
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

/// Short runs as `paceline extract --rate` makes them (200 sequential requests, the rate
/// with its margin) against nginx-like limiters that read 2 % of requests up to 7 ms late:
/// issue 11's figure, ≥ 97 % and no 429. The late reads are what the model must reproduce
/// for this to mean anything: with the late-read rule off, the limiters with no burst refuse.
#[test]
fn configured_short_runs_take_late_reads_without_a_429() {
    for name in [
        "throttle-configured-burst0-200",
        "throttle-configured-burst10-200",
        "throttle-configured-slow-200",
    ] {
        let r = run(name);
        assert!(r.utilisation >= 0.97, "{name}: {r:?}");
        assert_eq!((r.status_429, r.gave_up), (0, 0), "{name}: {r:?}");
        assert_eq!(r.requests, 200, "{name}: {r:?}");
        // Ten more seeds: a late read the rule cannot see (one just over the margin, hidden
        // in the spread) costs one 429 and its retry, in one run of ten at most.
        let runs = seeds(name, 10);
        let refused = runs.iter().filter(|(_, r)| r.status_429 > 0).count();
        assert!(refused <= 1, "{name}: {refused} of 10 seeds met a 429");
        for (seed, r) in runs {
            assert!(r.status_429 <= 1, "{name} seed {seed}: {r:?}");
            assert!(r.utilisation >= 0.965, "{name} seed {seed}: {r:?}");
            assert_eq!(r.gave_up, 0, "{name} seed {seed}: {r:?}");
        }
    }
    for name in [
        "throttle-configured-burst0-200",
        "throttle-configured-slow-200",
    ] {
        let mut s = Scenario::load(path_of(name)).expect("scenario");
        s.client.pacer.throttle.late_read_spacing = false;
        let r = s.run_with_trace(0).report;
        assert!(r.status_429 > 0, "{name} without the rule: {r:?}");
    }
}

/// An undocumented token bucket, discovered and then cruised with CUBIC. Over 20 seeds:
/// 429s 0.02-0.77 % (mean 0.19 %), utilisation 0.985-1.0; the file's seed gives 0.48 %.
/// Before 429s taken for noise were held to 1 % of the sends, half the seeds were over 1 %
/// (up to 1.58 %: the client sat 2.4 % over the limit, its 429s just under the noise rule's
/// two in 100), while the file's seed gave 0.48 %.
#[test]
fn unknown_limits_are_discovered() {
    let name = "throttle-unknown-limit";
    for (seed, r) in seeds(name, 4).into_iter().chain([(0, run(name))]) {
        assert_discovered(name, seed, &r, 0.95, 1);
    }
}

/// A hidden limit found: at least `utilisation` of it, 429s at most `percent` of the
/// requests, nothing given up (`seed` 0: the file's own).
fn assert_discovered(name: &str, seed: u64, r: &Report, utilisation: f64, percent: u64) {
    assert!(r.utilisation >= utilisation, "{name} seed {seed}: {r:?}");
    assert!(
        r.status_429 * 100 <= r.requests * percent,
        "{name} seed {seed}: 429s over {percent} %: {r:?}"
    );
    assert_eq!(r.gave_up, 0, "{name} seed {seed}: {r:?}");
}

/// A service that sheds 1 % of requests at random: those 429s are noise, not the limit.
/// Before the noise rule (`core/src/throttle/adaptive.rs`), the same runs used 29.9 % of the
/// hidden limit and took 392 s where 62 s would do.
#[test]
fn random_429s_do_not_ratchet_the_rate_down() {
    let r = run("throttle-noise-5000");
    assert!(r.utilisation >= 0.65, "{r:?}");
    assert!(r.status_429 * 50 <= r.requests, "429s over 2 %: {r:?}");
    assert_eq!(r.gave_up, 0, "{r:?}");
    let r = run("throttle-noise-no-limit");
    assert!(r.virtual_duration_s <= 200.0, "{r:?}");
    assert_eq!(r.gave_up, 0, "{r:?}");
}

/// Many workers sharing one Pacer against fixed windows and named buckets: a window that
/// resets admits its limit, not everyone who waited for it, and the first request on a route
/// goes alone so that its limit is known before the others go.
#[test]
fn many_workers_and_no_herd_at_the_reset() {
    for name in [
        "herd-fixed-window-16",
        "herd-fixed-window-64",
        "discord-route-buckets-16",
        "discord-route-buckets-64",
    ] {
        let r = run(name);
        assert_eq!(r.status_429, 0, "{name}: {r:?}");
        assert_eq!(r.gave_up, 0, "{name}: {r:?}");
        assert!(r.utilisation >= 0.95, "{name}: {r:?}");
    }
}

/// Utilisation is not capped: where the server's headers are honest, the client never gets
/// more than the limit allows — within 1 %, the part of a window the run ends in.
#[test]
fn honest_limits_are_used_and_never_exceeded() {
    for name in [
        "throttle-honest-github",
        "throttle-honest-ietf",
        "throttle-honest-xratelimit",
        "throttle-configured-no-headers",
        "herd-fixed-window-16",
        "herd-fixed-window-64",
        "discord-route-buckets",
        "discord-route-buckets-16",
        "discord-route-buckets-64",
        "shopify-leaky-bucket",
    ] {
        let r = run(name);
        assert!((0.95..=1.01).contains(&r.utilisation), "{name}: {r:?}");
    }
}

/// No scenario's client gets more than any of its server's limits admits, honest headers or
/// not: each limit's use at most 1 % over (the part of a window a run ends in; the 64-worker
/// herd measures 0.8 %).
#[test]
fn no_scenario_exceeds_a_limit() {
    for f in scenarios() {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let r = simulated(&f).report.clone();
        assert!(r.utilisation <= 1.01, "{name}: {r:?}");
        for l in &r.limits {
            assert!(l.utilisation <= 1.01, "{name}: {l:?}");
        }
    }
}

/// Short runs, as users run them (200 and 1,000 sequential requests), against hidden limiters
/// with no burst and with a burst of 10: the rate is found in seconds, not in the minutes a
/// steady state allows.
#[test]
fn short_runs_find_a_hidden_limit_in_seconds() {
    for name in [
        "throttle-discover-burst0-200",
        "throttle-discover-burst10-200",
        "throttle-discover-burst0-1000",
        "throttle-discover-slow-200",
    ] {
        for (seed, r) in seeds(name, 10).into_iter().chain([(0, run(name))]) {
            assert_discovered(name, seed, &r, 0.85, 5);
        }
    }
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
fn a_clients_own_daily_budget_tells_its_thresholds_then_refuses() {
    let r = run("client-daily-quota");
    assert_eq!(r.requests, 400, "{r:?}");
    assert_eq!(r.status_429, 0, "{r:?}");
    assert!(r.rejected > 0, "{r:?}");
    assert_eq!(r.quota_thresholds, [0.8, 0.95], "{r:?}");
}

/// Routes learned from paths, with no route configured: named buckets (Discord) and unnamed
/// windows of their own. No 429; the fast path is not held back by the slow one.
#[test]
fn learned_routes_keep_windows_apart() {
    let r = run("discord-learned-buckets-16");
    assert_eq!((r.status_429, r.gave_up), (0, 0), "{r:?}");
    // As with the routes configured (discord-route-buckets-16): the messages bucket used in
    // full, the guilds route within 10 % of it (the 1:1 mix lets it go no faster).
    let used = |r: &Report, name: &str| r.limits.iter().find(|l| l.name == name).cloned().unwrap();
    let (msgs, guilds) = (used(&r, "msgs-bucket"), used(&r, "guild-bucket"));
    assert!(msgs.utilisation >= 0.95, "{r:?}");
    assert!(guilds.admitted * 10 >= msgs.admitted * 9, "{r:?}");
    let r = run("routes-unnamed-windows");
    assert_eq!((r.status_429, r.gave_up), (0, 0), "{r:?}");
    // The same run with one window for both paths (learning off): /items is held back
    // whenever /reports is used up.
    let mut s = Scenario::load(path_of("routes-unnamed-windows")).unwrap();
    s.client.pacer.throttle = s.client.pacer.throttle.clone().learn_routes(false);
    let one = s.run().report;
    eprintln!(
        "learned: {} served; one window: {} served",
        r.succeeded, one.succeeded
    );
    // /items' window allows 6,000 in 600 s.
    assert!(used(&r, "items").admitted >= 5_700, "{r:?}");
    assert!(
        r.succeeded * 2 >= one.succeeded * 3,
        "learned {r:?}\none window {one:?}"
    );
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

/// Headers that lie (twice the limit and the remaining, half the reset) cost a 429 a window of
/// the real limit (60 s), no more, and no throughput: the limit is used in full, within the 1 %
/// a run's last window allows, and nothing is given up.
#[test]
fn lying_headers_cost_at_most_one_429_a_window() {
    let r = run("lying-headers");
    let windows = (r.virtual_duration_s / 60.0).ceil() as u64;
    assert!(r.status_429 > 0, "the lie shows: {r:?}");
    assert!(r.status_429 <= windows, "{} windows: {r:?}", windows);
    assert!(r.status_429 * 50 <= r.requests, "429s over 2 %: {r:?}");
    assert!((0.95..=1.01).contains(&r.utilisation), "{r:?}");
    assert_eq!(r.gave_up, 0, "{r:?}");
}

/// Background work leaves the budget to foreground work: a foreground request waits at most one
/// request's spacing of the 10/s budget (100 ms, plus 1 ms for rounding), never behind the
/// export; background requests wait longer and send at most 80 % of the budget.
#[test]
fn foreground_requests_never_queue_behind_background_work() {
    let r = run("background-priority");
    let w = r.waits.as_ref().expect("waits by priority");
    assert!(
        w.foreground.count > 1_000 && w.background.count > 3_000,
        "{w:?}"
    );
    assert!(w.foreground.max_ms <= 101.0, "{w:?}");
    assert!(
        w.background.mean_ms >= 10.0 * w.foreground.mean_ms,
        "background waits like foreground: {w:?}"
    );
    let background_per_s = w.background.count as f64 / r.virtual_duration_s;
    assert!(
        background_per_s <= 8.0 * 1.01,
        "{background_per_s}/s: {r:?}"
    );
    assert!(r.utilisation <= 1.01, "{r:?}");
    assert_eq!(r.status_429, 0, "{r:?}");
}

/// Two routes with buckets of their own (messages 5 per 5 s, guilds 20 per 10 s) under a hidden
/// global limit, half the requests to each: the slower bucket runs at its full rate and the
/// other route keeps pace with it (the mix allows no more), neither stalled by the other.
#[test]
fn both_discord_routes_progress() {
    let r = run("discord-route-buckets");
    let limit = |name: &str| {
        r.limits
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("{name}: {r:?}"))
            .clone()
    };
    let (msgs, guilds) = (limit("msgs-bucket"), limit("guild-bucket"));
    assert!((0.95..=1.01).contains(&msgs.utilisation), "{r:?}");
    assert!(guilds.utilisation <= 1.01, "{r:?}");
    assert!(
        guilds.admitted * 10 >= msgs.admitted * 9,
        "guilds held back: {guilds:?} against {msgs:?}"
    );
    assert_eq!(r.status_429, 0, "{r:?}");
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

/// Every style has a live scenario whose walk pages by that style (checked from the walk, not
/// from the dataset's name), offset and page-number lists both by themselves and by the keyset
/// they offer.
#[test]
fn one_live_pagination_scenario_per_style() {
    let mut shipped: Vec<String> = scenarios()
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("paginate-"))
        .collect();
    shipped.sort();
    let mut expected: Vec<String> = EXACT
        .iter()
        .chain(&DRIFTING)
        .map(|(s, _)| s.to_string())
        .collect();
    expected.sort();
    assert_eq!(shipped, expected);
    let mut walked = std::collections::BTreeSet::new();
    for (name, style) in EXACT.iter().chain(&DRIFTING) {
        let s = Scenario::load(path_of(name)).unwrap();
        let d = s.dataset.as_ref().expect("a dataset");
        assert_eq!(d.records, 100_000, "{name}");
        assert!(
            d.head_inserts_per_s > 0.0 && d.tail_inserts_per_s > 0.0 && d.deletes_per_s > 0.0,
            "{name}: inserts and deletes during the walk"
        );
        let r = run(name);
        assert_eq!(r.walk_style.as_deref(), Some(*style), "{name}: {r:?}");
        walked.insert(style.split(' ').next().unwrap().to_owned());
    }
    // Every style the walk knows (but the dataset-less ones) was walked by itself.
    for style in paceline_testkit::dataset::DataStyle::ALL {
        let name = match style.as_str() {
            "graphql" => "relay",
            other => other,
        };
        assert!(walked.contains(name), "no scenario walks by {name}");
    }
}

#[test]
fn live_pagination_delivers_every_record_exactly_once() {
    for (name, _) in EXACT {
        let r = run(name);
        assert_eq!(
            (r.records_lost, r.records_duplicated, r.records_invented),
            (0, 0, 0),
            "{name}: {r:?}"
        );
        assert!(
            r.walk_end
                .as_deref()
                .is_some_and(|e| e.starts_with("complete (")),
            "{name}: {r:?}"
        );
        assert_eq!(r.drift, None, "{name}: a clean walk says so: {r:?}");
        assert!(r.records_expected > 95_000, "{name}: {r:?}");
        // Records inserted at the tail during the walk are delivered too.
        assert!(r.records_delivered > r.records_expected, "{name}: {r:?}");
        assert_eq!(r.gave_up, 0, "{name}: {r:?}");
        assert!(!r.truncated, "{name}: {r:?}");
    }
}

/// Offset and page walks of a changing list lose records (deletes ahead of the offset) and,
/// without de-duplication, repeat some (inserts ahead): they never pass for clean. Each
/// reaches the end and reports the drift, which is what makes `paceline extract` exit 7.
#[test]
fn offset_and_page_walks_that_drift_say_so() {
    for (name, _) in DRIFTING {
        let r = run(name);
        assert!(r.records_lost > 0, "{name}: {r:?}");
        assert!(r.total_changes > 0, "{name}: {r:?}");
        assert!(
            r.walk_end
                .as_deref()
                .is_some_and(|e| e.starts_with("complete (")),
            "{name}: {r:?}"
        );
        assert!(r.drift.is_some(), "{name}: lost records silently: {r:?}");
        assert!(r.records_may_be_missing > 0, "{name}: {r:?}");
        assert_eq!(r.records_invented, 0, "{name}: {r:?}");
    }
    // Without de-duplication the repeats are delivered; with it they are dropped, and the
    // losses stay: de-duplication is no cure for drift.
    let r = run("paginate-offset-live-nodedup");
    assert!(r.records_duplicated > 0, "{r:?}");
    assert!(r.records_may_be_missing >= r.records_lost, "{r:?}");
    for name in ["paginate-offset-live", "paginate-page-live"] {
        let r = run(name);
        assert_eq!(r.records_duplicated, 0, "{name}: {r:?}");
        assert!(r.records_dropped > 0, "{name}: {r:?}");
    }
}

/// Issue 14's figures, counted in virtual time: 200 clients through a 60 s outage (every
/// request a bare 503). With a breaker and a retry budget, the server receives at most 10 % of
/// the requests the same clients send it with retries alone; and after it is back, the clients
/// recover within 2 breaks of the one their breaker was in: the first success (the probe) and
/// the send rate back to 90 % of what it was before the outage.
#[test]
fn a_breaker_and_a_budget_spare_a_server_that_is_down() {
    let with = simulated(&path_of("breaker-outage"));
    let alone = simulated(&path_of("breaker-outage-retries-only"));
    let o = with.report.outage.clone().expect("an outage");
    let base = alone.report.outage.clone().expect("an outage");
    println!(
        "requests received during the outage ({} s to {} s): breaker + budget {}, retries alone {} ({:.2} %)",
        o.from_s,
        o.until_s,
        o.requests,
        base.requests,
        100.0 * o.requests as f64 / base.requests as f64
    );
    assert!(
        base.requests > 5_000,
        "the baseline keeps sending: {base:?}"
    );
    assert!(o.requests * 10 <= base.requests, "{o:?} against {base:?}");
    assert!(o.failed_fast > 0 && o.breaker_opens >= 1, "{o:?}");

    // Recovery, against the break in force when the server came back.
    let break_s = o.break_at_recovery_s.expect("the breaker opened");
    let first = o.first_success_after_s.expect("a success after the outage");
    let back = back_to_rate_after(&with, o.until_s).expect("the send rate recovers");
    let config_break = Scenario::load(path_of("breaker-outage"))
        .unwrap()
        .client
        .pacer
        .breaker
        .expect("a breaker")
        .break_duration
        .as_secs_f64();
    println!(
        "after the server is back: first success {first:.3} s, send rate back to 90 % {back:.0} s; \
         breaks: {break_s} s in force ({} opens), {config_break} s configured first break",
        o.breaker_opens
    );
    assert!(first <= 2.0 * break_s, "{o:?}");
    assert!(back <= 2.0 * break_s, "{back} s: {o:?}");
    // Retries alone notice at once (and never stopped sending).
    assert!(
        base.first_success_after_s.is_some_and(|t| t < 1.0),
        "{base:?}"
    );

    // For the record: the breaker's default 30 s time window, which the healthy traffic
    // before the outage fills with successes, trips only after about half of it.
    let mut s = Scenario::load(path_of("breaker-outage")).unwrap();
    s.client.pacer.breaker = Some(paceline::breaker::BreakerConfig::default());
    let d = s.run_with_trace(0).report.outage.expect("an outage");
    println!(
        "with the breaker's default (30 s time) window: {} requests during the outage ({:.2} % of retries alone), first success {:?} s after",
        d.requests,
        100.0 * d.requests as f64 / base.requests as f64,
        d.first_success_after_s
    );
}

/// Seconds from `until_s` to the end of the first whole second of the run's series that sends
/// at least 90 % of the mean of the seconds from 5 s to the outage's start (`None` if none).
fn back_to_rate_after(run: &Run, until_s: f64) -> Option<f64> {
    let outage = run.report.outage.as_ref()?;
    let steady: Vec<_> = run
        .series
        .iter()
        .filter(|b| b.start_s >= 5.0 && b.start_s + run.bucket_s <= outage.from_s)
        .collect();
    let mean = steady.iter().map(|b| b.sent).sum::<u64>() as f64 / steady.len().max(1) as f64;
    run.series
        .iter()
        .find(|b| b.start_s >= until_s && b.sent as f64 >= 0.9 * mean)
        .map(|b| b.start_s + run.bucket_s - until_s)
}
