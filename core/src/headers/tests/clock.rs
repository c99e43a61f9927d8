//! Which clock a wait is measured from: the server's `Date` against client skew, a
//! `Retry-After` on a success, a whole-second reset against a truncated `Date`.

use super::*;

#[test]
fn server_date_cancels_client_clock_skew() {
    // The client's clock is an hour fast; the server's Date is the truth.
    let client = at(1_700_003_600);
    let s = parse(
        429,
        &[
            ("date", "Tue, 14 Nov 2023 22:13:20 GMT"), // 1_700_000_000
            ("retry-after", "Tue, 14 Nov 2023 22:13:50 GMT"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000020"),
        ],
        client,
    );
    assert_eq!(s.server_date, Some(at(1_700_000_000)));
    assert_eq!(s.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(s.reset_in, Some(Duration::from_secs(20)));
}

#[test]
fn retry_after_on_a_success_is_not_a_pause() {
    // Some limiters send `Retry-After: 1` on every response; on a 200 that still has budget
    // it means nothing (RFC 9110 gives it a meaning on 503 and 3xx, RFC 6585 on 429).
    let h = [("retry-after", "1"), ("x-ratelimit-remaining", "12")];
    let ok = parse(200, &h, at(1_700_000_000));
    assert_eq!((ok.retry_after, ok.must_wait()), (None, Duration::ZERO));
    let throttled = parse(429, &h, at(1_700_000_000));
    assert_eq!(throttled.retry_after, Some(Duration::from_secs(1)));
    // On a 200 that says nothing is left, it is the hint of when that changes.
    let spent = parse(
        200,
        &[("retry-after", "3"), ("x-ratelimit-remaining", "0")],
        at(1_700_000_000),
    );
    assert_eq!(spent.retry_after, Some(Duration::from_secs(3)));
}

#[test]
fn a_whole_second_reset_is_read_from_arrival_not_from_a_truncated_date() {
    // The window resets at 1_700_000_001 (the server rounds up); the response arrives at
    // …000.9, and `Date` says …000 (it truncates). Read against `Date` the reset would be a
    // whole second away; it is 0.1 s.
    let received = at(1_700_000_000) + Duration::from_millis(900);
    let s = parse(
        200,
        &[
            ("date", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ("x-ratelimit-limit", "20"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000001"),
        ],
        received,
    );
    let reset = s.reset_in.unwrap().as_secs_f64();
    assert!((reset - 0.1).abs() < 0.001, "{reset}");
}
