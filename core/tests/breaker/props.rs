//! Properties over operation sequences, against a tiny reference model.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;
use quickcheck::QuickCheck;

use paceline::breaker::*;
use paceline::{Attempted, Now};

const OK: Attempted = Attempted::Status(StatusCode::OK);
const DOWN: Attempted = Attempted::Status(StatusCode::BAD_GATEWAY);
const THROTTLED: Attempted = Attempted::Status(StatusCode::TOO_MANY_REQUESTS);

fn drain(b: &mut Breaker) -> Vec<BreakerEvent> {
    std::iter::from_fn(|| b.poll_event()).collect()
}

/// Never more probes out in one half-open period than configured: probes given, less those
/// cancelled or answered with an ignored outcome (a success does not free its slot).
#[test]
fn never_more_than_the_probes_while_half_open() {
    fn prop(probes: u8, minimum: u8, ops: Vec<(u8, u8)>) -> bool {
        let probes = u32::from(probes % 5) + 1;
        let config = BreakerConfig::default()
            .half_open_probes(probes)
            .minimum_calls(u32::from(minimum % 4) + 1)
            .break_duration(Duration::from_secs(1));
        let mut b = Breaker::new(config);
        let mut now = Instant::now();
        // Outstanding permits, with the half-open period they were given in.
        let mut out: Vec<(Permit, u32)> = Vec::new();
        let mut period = 0u32;
        let mut held = 0u32; // probe slots held in the current period
        for (op, arg) in ops {
            let pick = |out: &mut Vec<(Permit, u32)>| {
                (!out.is_empty()).then(|| out.swap_remove(usize::from(arg) % out.len()))
            };
            match op % 6 {
                0 => {
                    if let Decision::Permit(p) = b.allow(now) {
                        for e in drain(&mut b) {
                            if matches!(e, BreakerEvent::HalfOpened { .. }) {
                                period += 1;
                                held = 0;
                            }
                        }
                        if p.is_probe() {
                            held += 1;
                        }
                        out.push((p, period));
                    }
                }
                1 | 2 | 5 => {
                    if let Some((p, from)) = pick(&mut out) {
                        let outcome = match op % 6 {
                            1 => OK,
                            2 => DOWN,
                            _ => THROTTLED,
                        };
                        if p.is_probe() && from == period && outcome == THROTTLED {
                            held -= 1;
                        }
                        b.on_outcome(now, p, &outcome);
                    }
                }
                3 => {
                    if let Some((p, from)) = pick(&mut out) {
                        if p.is_probe() && from == period {
                            held -= 1;
                        }
                        b.cancel(p);
                    }
                }
                _ => now += Duration::from_millis(u64::from(arg) * 20),
            }
            drain(&mut b);
            if held > probes {
                return false;
            }
        }
        true
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(u8, u8, Vec<(u8, u8)>) -> bool);
}

/// The documented transitions, as a reference model: a count window of the last `n`
/// counted calls of the current closed period, one probe, a fixed break.
#[derive(Debug)]
enum Model {
    Closed(VecDeque<bool>),
    Open(Instant),
    HalfOpen { probe_out: bool },
}

/// Calls made one at a time against the breaker and the model agree on every decision and
/// every state, and it never trips below the minimum throughput.
#[test]
fn transitions_are_exactly_the_documented_ones() {
    fn prop(n: u8, minimum: u8, ratio: u8, ops: Vec<(u8, u8)>) -> bool {
        let n = usize::from(n % 8) + 1;
        let minimum = usize::from(minimum % 10) + 1;
        let ratio = f64::from(ratio % 10 + 1) / 10.0;
        let brk = Duration::from_secs(1);
        let config = BreakerConfig::default()
            .count_window(n as u32)
            .minimum_calls(minimum as u32)
            .failure_ratio(ratio)
            .break_duration(brk)
            .break_growth(1.0);
        let mut b = Breaker::new(config);
        let mut model = Model::Closed(VecDeque::new());
        let mut now = Instant::now();
        for (op, arg) in ops {
            if op % 4 == 3 {
                now += Duration::from_millis(u64::from(arg) * 10);
                continue;
            }
            let outcome = [OK, DOWN, THROTTLED][usize::from(op % 4)];
            let failed = outcome == DOWN;
            // The model's decision.
            if let Model::Open(until) = model
                && now >= until
            {
                model = Model::HalfOpen { probe_out: false };
            }
            let admitted = match &mut model {
                Model::Closed(_) => true,
                Model::Open(_) => false,
                Model::HalfOpen { probe_out } => !std::mem::replace(probe_out, true),
            };
            let decision = b.allow(now);
            if admitted != matches!(decision, Decision::Permit(_)) {
                return false;
            }
            let Decision::Permit(p) = decision else {
                continue;
            };
            b.on_outcome(now, p, &outcome);
            model = match model {
                Model::Closed(mut w) if outcome != THROTTLED => {
                    w.push_back(failed);
                    if w.len() > n {
                        w.pop_front();
                    }
                    let fails = w.iter().filter(|f| **f).count();
                    let floor = minimum.min(n);
                    // It trips on a failure, never on a success.
                    if failed && w.len() >= floor && fails as f64 / w.len() as f64 >= ratio {
                        Model::Open(now + brk)
                    } else {
                        Model::Closed(w)
                    }
                }
                Model::HalfOpen { .. } if outcome == THROTTLED => {
                    Model::HalfOpen { probe_out: false }
                }
                Model::HalfOpen { .. } if failed => Model::Open(now + brk),
                Model::HalfOpen { .. } => Model::Closed(VecDeque::new()),
                m => m,
            };
            let want = match model {
                Model::Closed(_) => State::Closed,
                Model::Open(_) => State::Open,
                Model::HalfOpen { .. } => State::HalfOpen,
            };
            if b.state() != want {
                return false;
            }
            for e in drain(&mut b) {
                if let BreakerEvent::Opened { calls, .. } = e
                    && (calls as usize) < minimum.min(n)
                {
                    return false;
                }
            }
        }
        true
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(u8, u8, u8, Vec<(u8, u8)>) -> bool);
}

/// A breaker saved and restored at the same moment decides exactly as the original would,
/// for any calls that follow (time window, slow calls, growing breaks, several probes).
#[test]
fn save_then_restore_decides_identically() {
    fn prop(split: u8, probes: u8, ops: Vec<(u8, u8)>) -> bool {
        let config = BreakerConfig::default()
            .minimum_calls(3)
            .time_window(Duration::from_secs(2), 4)
            .slow_calls(Duration::from_millis(900), 0.6)
            .break_duration(Duration::from_millis(300))
            .max_break_duration(Duration::from_secs(2))
            .half_open_probes(u32::from(probes % 3) + 1);
        let mut a = Breaker::new(config.clone());
        let mut now = Now::new(
            Instant::now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1e9 as u64),
        );
        let split = usize::from(split) % (ops.len() + 1);
        let mut restored: Option<Breaker> = None;
        for (i, (op, arg)) in ops.into_iter().enumerate() {
            if i == split {
                let json = serde_json::to_vec(&a.save(now)).expect("serialises");
                let state: BreakerState = serde_json::from_slice(&json).expect("parses");
                let mut r = Breaker::new(config.clone());
                r.restore(now, &state);
                restored = Some(r);
            }
            if op % 4 == 3 {
                now = now.advance(Duration::from_millis(u64::from(arg) * 7));
                continue;
            }
            let outcome = [OK, DOWN, THROTTLED][usize::from(op % 4)];
            let took = Duration::from_millis(u64::from(arg) * 5);
            let da = a.allow(now.mono);
            if let Decision::Permit(p) = da {
                a.on_outcome(now.mono + took, p, &outcome);
            }
            if let Some(r) = &mut restored {
                let dr = r.allow(now.mono);
                let same = match (da, dr) {
                    (Decision::Permit(x), Decision::Permit(y)) => x.is_probe() == y.is_probe(),
                    (x, y) => x == y,
                };
                if !same {
                    return false;
                }
                if let Decision::Permit(p) = dr {
                    r.on_outcome(now.mono + took, p, &outcome);
                }
                if r.state() != a.state() || r.open_until() != a.open_until() {
                    return false;
                }
            }
            now = now.advance(took);
        }
        true
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(u8, u8, Vec<(u8, u8)>) -> bool);
}
