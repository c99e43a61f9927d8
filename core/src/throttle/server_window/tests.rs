//! Tests of the server window: even spreading, in-flight corrections, rolled and sliding
//! windows, and guessing the length of a clock-aligned window.

use super::*;

const S: u64 = 1_000_000_000;

#[test]
fn spreads_remaining_over_the_window() {
    let r = Report {
        remaining: 10,
        limit: Some(10),
        reset_at: Some(10 * S),
        window: Some(10 * S),
        at: 0,
        sent: 0,
        whole: false,
    };
    let mut w = ServerWindow::new(r, 0);
    let mut t = 0;
    let mut times = Vec::new();
    for _ in 0..10 {
        t = w.earliest(t, 1, 0).unwrap();
        w.consume(t, 1);
        times.push(t / (S / 10));
    }
    // First goes at once, then one every W / L: evenly, the last a slot before the reset.
    assert_eq!(times, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    // Exhausted: wait for the reset, then a fresh window of 10.
    assert_eq!(w.earliest(t, 1, 0), Some(10 * S));
    w.consume(10 * S, 1);
    assert_eq!(w.remaining(), 9);
    assert_eq!(w.reset_at(), Some(20 * S));
}

#[test]
fn used_up_with_no_reset_admits_one_a_second() {
    // Shopify's `used/capacity` says nothing of a reset.
    let r = Report {
        remaining: 0,
        limit: Some(40),
        reset_at: None,
        window: None,
        at: 0,
        sent: 0,
        whole: false,
    };
    let mut w = ServerWindow::new(r, 0);
    // Nothing sent through it yet: one may go now (its answer tells more)...
    assert_eq!(w.earliest(5 * S, 1, 0), Some(5 * S));
    w.consume(5 * S, 1);
    // ...then one a second, not all at once and not never.
    assert_eq!(w.earliest(5 * S, 1, 0), Some(6 * S));
    assert_eq!(w.earliest(9 * S, 1, 0), Some(9 * S));
}

#[test]
fn a_rolled_window_takes_the_longest_reset_seen_as_its_length() {
    // Discord's buckets report `Reset-After`, not the window's length.
    let r = Report {
        remaining: 1,
        limit: Some(5),
        reset_at: Some(4_900_000_000),
        window: None,
        at: 0,
        sent: 0,
        whole: false,
    };
    let mut w = ServerWindow::new(r, 0);
    w.consume(S, 1);
    // At the reset a fresh window of 5, whose own reset is a whole 5 s later (4.9 s
    // rounded up: measured from arrival, the length falls short of the real one).
    assert_eq!(w.earliest(4_900_000_000, 1, 0), Some(4_900_000_000));
    assert_eq!(w.remaining(), 5);
    assert_eq!(w.reset_at(), Some(9_900_000_000));
}

#[test]
fn in_flight_requests_are_deducted_and_stale_reports_ignored() {
    let r = Report {
        remaining: 100,
        limit: Some(100),
        reset_at: Some(60 * S),
        window: None,
        at: 0,
        sent: 0,
        whole: false,
    };
    let mut w = ServerWindow::new(r, 0);
    w.consume(0, 1);
    w.consume(1, 1);
    w.consume(2, 1);
    // The answer to the first says 99, but two more left after it.
    w.update(Report { remaining: 99, ..r }, 2);
    assert_eq!(w.remaining(), 97);
    // A stale report (another request left after it) cannot raise the estimate within
    // the window.
    w.update(Report { remaining: 99, ..r }, 1);
    assert_eq!(w.remaining(), 97);
    // A new window can.
    w.update(
        Report {
            remaining: 100,
            reset_at: Some(120 * S),
            ..r
        },
        0,
    );
    assert_eq!(w.remaining(), 100);
}

/// A sliding log (or token bucket) reports its reset a whole window away at every
/// response. Spreading what remains over that settles at half the limit; the window's own
/// rate is the floor, and the log is never exceeded.
#[test]
fn a_sliding_window_is_used_at_its_rate() {
    let (limit, window) = (60u64, 60 * S);
    let report = |sent: &[u64], now: u64| Report {
        remaining: limit - sent.iter().filter(|&&t| t + window > now).count() as u64,
        limit: Some(limit),
        reset_at: Some(now + window),
        window: None,
        at: now,
        sent: now,
        whole: true,
    };
    let mut sent = vec![0];
    let mut w = ServerWindow::new(report(&[], 0), 0);
    w.consume(0, 1);
    let mut t = 0;
    while t < 600 * S {
        w.update(report(&sent, t), 0);
        t = w.earliest(t, 1, 0).unwrap();
        let in_log = sent.iter().filter(|&&x| x + window > t).count() as u64;
        assert!(in_log < limit, "a send at {t} would exceed the log");
        w.consume(t, 1);
        sent.push(t);
    }
    // Ten windows: 571 of 600 at the 95 % floor (without it: 305).
    let done = sent.iter().filter(|&&x| x < 600 * S).count();
    assert!(done >= 560, "{done} sent in 600 s");
}

#[test]
fn reserve_is_kept() {
    let r = Report {
        remaining: 3,
        limit: Some(10),
        reset_at: Some(5 * S),
        window: None,
        at: 0,
        sent: 0,
        whole: false,
    };
    let mut w = ServerWindow::new(r, 0);
    assert_eq!(w.earliest(0, 1, 2), Some(0));
    w.consume(0, 1);
    assert_eq!(w.earliest(1, 1, 2), Some(5 * S));
}

/// A fixed window of 20 a second reporting its end as an epoch second rounded up, driven
/// by one client sending as soon as `earliest` allows for `for_ns`, answered 1 ms later.
/// `aligned`: the windows follow the clock's seconds; else the client's first request
/// opens each (express-rate-limit's memory store). Starts 0.3 s into a second. Returns
/// (served, refused).
fn against_rounded_window(aligned: bool, for_ns: u64) -> (u64, u64) {
    let (limit, length, start) = (20u64, S, 1_700_000_000 * S + 300_000_000);
    let (mut now, mut w, mut end, mut used) = (start, None::<ServerWindow>, 0u64, 0u64);
    let (mut served, mut refused) = (0, 0);
    while now < start + for_ns {
        if let Some(w) = w.as_mut() {
            now = w.earliest(now, 1, 0).unwrap().max(now);
            w.consume(now, 1);
        }
        let arrive = now + 500_000;
        if arrive >= end {
            end = if aligned {
                (arrive / length + 1) * length
            } else {
                arrive + length
            };
            used = 0;
        }
        let ok = used < limit;
        if ok {
            used += 1;
            served += 1;
        } else {
            refused += 1;
        }
        let report = Report {
            remaining: limit - used,
            limit: Some(limit),
            reset_at: Some(end.div_ceil(S) * S + RESET_MARGIN_NS),
            window: None,
            at: now + 1_000_000,
            sent: now,
            whole: true,
        };
        match w.as_mut() {
            Some(w) => w.update(report, 0),
            None => w = Some(ServerWindow::new(report, 0)),
        }
        now += 1_000_000;
    }
    (served, refused)
}

#[test]
fn a_rounded_reset_of_a_window_opened_by_the_client_costs_no_second() {
    // Ten seconds of 20 a second: 200 at most. Taken as reported, each window's reset
    // comes up to a second after its end (the client's sends drift to just after a whole
    // second, and the window ends just after the next: reported a second later): 100.
    let (served, refused) = against_rounded_window(false, 10 * S);
    assert_eq!(refused, 0);
    assert!(served >= 190, "{served} served in 10 s");
}

#[test]
fn a_wrong_length_guess_on_a_clock_aligned_window_costs_one_refusal() {
    let (served, refused) = against_rounded_window(true, 10 * S);
    assert!(refused <= 1, "{refused} refused");
    // Aligned windows report their end exactly: nothing is lost by waiting for it.
    assert!(served >= 190, "{served} served in 10 s");
}

#[test]
fn length_bounds_give_one_whole_second_count_or_none() {
    let mut g = LengthGuess::default();
    // Opened by a request sent at 0.30 s, answered at 0.301 s, reported to end at 2 s.
    g.observe(300_000_000, 301_000_000, 2 * S);
    assert_eq!(g.length(), Some(S));
    // A window opened on a whole second, reported to end two later: (0.9995, 2] holds 1
    // and 2, ambiguous on its own; the first bound decides.
    let mut h = LengthGuess::default();
    h.observe(5 * S, 5 * S + 500_000, 7 * S);
    assert_eq!(h.length(), None);
    h.observe(300_000_000, 301_000_000, 2 * S);
    assert_eq!(h.length(), Some(S));
    // Bounds that disagree turn guessing off.
    h.observe(0, 1_000_000, 5 * S);
    assert_eq!(h.length(), None);
    assert!(h.off);
}
