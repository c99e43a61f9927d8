//! `paceline inspect headers`, run as a process: stdin in, one JSON object out.

use std::process::{Command, Output};

use serde_json::Value;

mod support;

fn run(args: &[&str], stdin: &[u8]) -> Output {
    support::run_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_paceline")).args(args),
        stdin,
    )
}

/// `inspect headers --now NOW` on `stdin`; the JSON it printed.
fn inspect(now: u64, stdin: &str) -> Value {
    let out = run(
        &["inspect", "headers", "--now", &now.to_string()],
        stdin.as_bytes(),
    );
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn warnings(v: &Value) -> Vec<&str> {
    v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect()
}

const KEYS: [&str; 17] = [
    "status",
    "retryable",
    "retry_after_s",
    "limit",
    "remaining",
    "used",
    "reset_in_s",
    "window_s",
    "policy",
    "bucket",
    "global",
    "policies",
    "must_wait_s",
    "quota_exhausted",
    "warnings",
    "class",
    "scope",
];

// GitHub's documented example response headers (REST API, "Checking the status of your rate
// limit"), received 873 s before the reset.
const GITHUB: &str = "HTTP/2 200\r\n\
date: Mon, 01 Jul 2013 17:33:20 GMT\r\n\
x-ratelimit-limit: 60\r\n\
x-ratelimit-remaining: 56\r\n\
x-ratelimit-used: 4\r\n\
x-ratelimit-reset: 1372700873\r\n\
x-ratelimit-resource: core\r\n\
\r\n";

#[test]
fn github_headers() {
    let v = inspect(1_372_700_000, GITHUB);
    for k in KEYS {
        assert!(v.get(k).is_some(), "missing key {k} in {v}");
    }
    assert_eq!(v["status"], 200);
    assert_eq!(v["retryable"], false);
    assert_eq!(
        (&v["limit"], &v["remaining"], &v["used"]),
        (&60.into(), &56.into(), &4.into())
    );
    assert_eq!(f(&v["reset_in_s"]), 873.0);
    assert_eq!(v["retry_after_s"], Value::Null);
    assert_eq!(v["window_s"], Value::Null);
    assert_eq!(
        v["policy"], "core",
        "the bucket stands in for a missing policy"
    );
    assert_eq!(v["bucket"], "core");
    assert_eq!(v["global"], false);
    assert_eq!(f(&v["must_wait_s"]), 0.0);
    assert_eq!(v["quota_exhausted"], false);
    assert!(warnings(&v).is_empty(), "{v}");
}

#[test]
fn github_full_output_snapshot() {
    let out = run(
        &["inspect", "headers", "--now", "1372700000"],
        GITHUB.as_bytes(),
    );
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

// The client's clock is 30 years ahead; the server's Date puts the Retry-After date 30 s away.
#[test]
fn retry_after_date_measured_from_server_date() {
    let v = inspect(
        2_000_000_000,
        "HTTP/1.1 429 Too Many Requests\n\
         Date: Sun, 06 Nov 1994 08:49:37 GMT\n\
         Retry-After: Sun, 06 Nov 1994 08:50:07 GMT\n",
    );
    assert_eq!(v["status"], 429);
    assert_eq!(v["retryable"], true);
    assert_eq!(v["class"], "throttled");
    assert_eq!(f(&v["retry_after_s"]), 30.0);
    assert_eq!(f(&v["must_wait_s"]), 30.0);
    assert_eq!(f(&v["server_date_epoch_s"]), 784_111_777.0);
}

// Without a Date header, --now is the reference.
#[test]
fn retry_after_date_measured_from_now() {
    let v = inspect(
        784_111_777 - 90,
        "HTTP/1.1 503 Service Unavailable\nRetry-After: Sun, 06 Nov 1994 08:49:37 GMT\n",
    );
    assert_eq!(v["class"], "unavailable");
    assert_eq!(f(&v["retry_after_s"]), 90.0);
    assert_eq!(v["server_date_epoch_s"], Value::Null);
}

// draft-ietf-httpapi-ratelimit-headers: two policies; the daily one is used up.
#[test]
fn ietf_structured_pair() {
    let v = inspect(
        0,
        "HTTP/1.1 429 Too Many Requests\r\n\
         RateLimit-Policy: \"burst\";q=100;w=60, \"daily\";q=1000;w=86400\r\n\
         RateLimit: \"burst\";r=40;t=30, \"daily\";r=0;t=7200\r\n",
    );
    assert_eq!(v["policy"], "daily");
    assert_eq!(v["remaining"], 0);
    assert_eq!(v["quota_exhausted"], true);
    assert_eq!(
        v["retryable"], false,
        "a used-up daily quota is not retried"
    );
    assert_eq!(v["class"], "quota_exhausted");
    assert_eq!(f(&v["must_wait_s"]), 7200.0);
    let policies = v["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 2);
    assert_eq!(policies[0]["name"], "burst");
    assert_eq!(policies[0]["limit"], 100);
    assert_eq!(policies[0]["remaining"], 40);
    assert_eq!(f(&policies[0]["window_s"]), 60.0);
    assert_eq!(f(&policies[0]["reset_in_s"]), 30.0);
    assert_eq!(policies[1]["name"], "daily");
    assert_eq!(f(&policies[1]["window_s"]), 86_400.0);
}

#[test]
fn hostile_values() {
    let digits = "9".repeat(10_240);
    let v = inspect(
        1_700_000_000,
        &format!(
            "HTTP/1.1 429 Too Many Requests\n\
             Retry-After: -5\n\
             Retry-After: {digits}\n\
             X-RateLimit-Limit: NaN\n\
             X-RateLimit-Remaining: -1\n\
             X-RateLimit-Reset: 1e300\n\
             X-RateLimit-Used: {digits}\n"
        ),
    );
    assert_eq!(v["status"], 429);
    // 10 KB of digits saturates to u64::MAX seconds: a finite number, not a crash.
    let huge = f(&v["retry_after_s"]);
    assert!(huge.is_finite() && huge >= u64::MAX as f64, "{huge}");
    assert!(f(&v["must_wait_s"]).is_finite());
    // 10 KB of digits is no count: refused with a warning, not saturated.
    assert_eq!(v["used"], Value::Null);
    assert_eq!(v["limit"], Value::Null);
    // A negative remaining is nothing left, with a warning saying so.
    assert_eq!(v["remaining"], 0);
    assert_eq!(v["reset_in_s"], Value::Null);
    let w = warnings(&v);
    assert_eq!(w.len(), 5, "{w:?}");
    assert!(
        w.contains(&"x-ratelimit-remaining: negative remaining, read as 0 (\"-1\")"),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.starts_with("x-ratelimit-used: implausible value")),
        "{w:?}"
    );
    assert!(w.iter().any(|w| w.starts_with("retry-after:")), "{w:?}");
    assert!(
        w.iter().any(|w| w.starts_with("x-ratelimit-limit:")),
        "{w:?}"
    );
    assert!(
        w.iter().all(|w| w.len() < 200),
        "values are cut short: {w:?}"
    );
}

#[test]
fn implausible_reset_is_refused_with_a_warning() {
    let v = inspect(
        0,
        &format!(
            "HTTP/1.1 429 Too Many Requests\nX-RateLimit-Remaining: 0\nX-RateLimit-Reset: {}\n",
            u64::MAX
        ),
    );
    // Read as epoch milliseconds (ResetRule::Auto), it is about 5.8e8 years away: refused.
    assert_eq!(v["reset_in_s"], Value::Null, "{v}");
    assert_eq!(v["remaining"], 0);
    assert_eq!(f(&v["must_wait_s"]), 0.0, "{v}");
    assert_eq!(v["class"], "throttled");
    assert!(
        warnings(&v)[0].starts_with("x-ratelimit-reset: implausible value"),
        "{v}"
    );
    // Retry-After is kept (the retry policy's maximum turns it into a typed error).
    let v = inspect(0, &format!("HTTP/1.1 503\nRetry-After: {}\n", u64::MAX));
    assert_eq!(f(&v["must_wait_s"]), u64::MAX as f64);
}

// Unknown-but-recognisable shapes are read, with a warning naming what was assumed.
#[test]
fn vendor_prefixed_fields_are_read_with_a_warning() {
    let v = inspect(
        1_700_000_000,
        "HTTP/1.1 429 Too Many Requests\r\n\
         Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n\
         X-Acme-RateLimit-Limit: 100\r\n\
         X-Acme-RateLimit-Remaining: 0\r\n\
         X-Acme-RateLimit-Reset: 1700000030\r\n\
         Acme-Retry-After: 12\r\n",
    );
    assert_eq!((&v["limit"], &v["remaining"]), (&100.into(), &0.into()));
    assert_eq!(f(&v["reset_in_s"]), 30.0);
    assert_eq!(f(&v["retry_after_s"]), 12.0);
    assert_eq!(f(&v["must_wait_s"]), 30.0);
    let w = warnings(&v);
    assert_eq!(w.len(), 4, "{w:?}");
    assert!(
        w.contains(&"acme-retry-after: unknown retry-after header, read as Retry-After (\"12\")"),
        "{w:?}"
    );
    assert!(
        w.contains(&"x-acme-ratelimit-limit: unknown rate-limit prefix, read as its X-RateLimit-* namesake (\"100\")"),
        "{w:?}"
    );
}

// A GraphQL throttle error in a 200 is a refusal; the body after the head is read.
#[test]
fn throttled_graphql_body_in_a_200() {
    let v = inspect(
        0,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n\
         {\"errors\":[{\"message\":\"Throttled\",\"extensions\":{\"code\":\"THROTTLED\"}}],\
         \"extensions\":{\"cost\":{\"requestedQueryCost\":202,\
         \"throttleStatus\":{\"maximumAvailable\":1000.0,\"currentlyAvailable\":118,\"restoreRate\":50.0}}}}",
    );
    assert_eq!(v["class"], "throttled");
    assert_eq!(v["retryable"], true);
    assert_eq!(v["remaining"], 118);
    assert!((f(&v["must_wait_s"]) - 1.68).abs() < 1e-9, "{v}");
}

#[test]
fn no_status_line_is_null_and_not_retryable() {
    let v = inspect(0, "Retry-After: 5\nX-RateLimit-Remaining: 0\n");
    assert_eq!(v["status"], Value::Null);
    assert_eq!(v["retryable"], false);
    assert_eq!(f(&v["retry_after_s"]), 5.0);
    assert_eq!(f(&v["must_wait_s"]), 5.0);
}

#[test]
fn bad_lines_warn_and_the_rest_is_read() {
    let v = inspect(
        0,
        "HTTP/1.1 429 Too Many Requests\r\nthis is not a header\r\nBad Name: 1\r\nRetry-After: 7\r\n\r\nRetry-After: 99\r\n",
    );
    assert_eq!(
        f(&v["retry_after_s"]),
        7.0,
        "reading stops at the blank line"
    );
    let w = warnings(&v);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("line 2:"), "{w:?}");
    assert!(w[1].starts_with("line 3:"), "{w:?}");
}

#[test]
fn empty_input_is_an_empty_signal() {
    let v = inspect(0, "");
    assert_eq!(v["status"], Value::Null);
    assert_eq!(f(&v["must_wait_s"]), 0.0);
}

#[test]
fn bad_status_line_exits_1() {
    let out = run(&["inspect", "headers"], b"HTTP/1.1 OK\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("status line"));
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(
        run(&["inspect", "headers", "--now", "yesterday"], b"")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(run(&["inspect", "nothing"], b"").status.code(), Some(2));
    assert_eq!(run(&[], b"").status.code(), Some(2));
}

#[test]
fn system_clock_when_no_now() {
    let out = run(&["inspect", "headers"], b"HTTP/1.1 429\nRetry-After: 3\n");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f(&v["retry_after_s"]), 3.0);
}
