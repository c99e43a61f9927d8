//! The page pump's exactly-once property, against an in-memory list.

use std::collections::VecDeque;

use http::{HeaderMap, StatusCode};
use quickcheck::{QuickCheck, TestResult};

use super::tests::{List, ids, ok, start};
use super::*;

/// One run of the property: a driver that answers in-flight requests in a random order,
/// garbles some bodies, and crashes at output `crash_at` (then every `crash_every`
/// outputs), resuming from the last save with the records delivered since held.
fn exactly_once(
    list: List,
    concurrency: usize,
    seed: u64,
    crash_at: usize,
    crash_every: usize,
) -> Result<(), String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let config = PagesConfig::default().concurrency(concurrency).resends(3);
    let mut out: Vec<u64> = Vec::new();
    let mut saved: Option<Vec<u8>> = None;
    let mut tail: Vec<Vec<u8>> = Vec::new();
    let mut pages = start(&list, config.clone(), None);
    let mut flying: VecDeque<(Slot, PageRequest)> = VecDeque::new();
    let (mut outputs, mut next_crash, mut requests, mut crashes) = (0usize, crash_at, 0u64, 0);
    let most = 50 * (list.n / list.size + 2) * concurrency as u64 + 10;
    loop {
        outputs += 1;
        if outputs == next_crash && crashes < 5 {
            crashes += 1;
            next_crash += crash_every.max(1);
            pages = start(&list, config.clone(), saved.as_deref());
            pages.hold(tail.iter().map(Vec::as_slice));
            flying.clear();
            continue;
        }
        match pages.poll() {
            Output::Send { slot, request } => {
                requests += 1;
                if requests > most {
                    return Err(format!("{requests} requests"));
                }
                flying.push_back((slot, request));
            }
            Output::Event(_) => {}
            Output::Deliver(d) => {
                for r in d.records() {
                    tail.push(r.to_vec());
                }
                out.extend(ids(&d));
                pages.on_delivered(d.number());
            }
            Output::Save(s) => {
                saved = Some(s.checkpoint.to_bytes());
                tail.clear();
                pages.on_saved(s.page);
            }
            Output::Idle => {
                if flying.is_empty() {
                    return Err("idle with nothing in flight".into());
                }
                let i = rng.usize(..flying.len());
                let (slot, request) = flying.remove(i).unwrap();
                match rng.u8(..10) {
                    0 => pages.on_response(
                        slot,
                        StatusCode::OK,
                        HeaderMap::new(),
                        b"<html>".to_vec(),
                    ),
                    _ => ok(&mut pages, &list, slot, &request),
                }
            }
            Output::Done(_) => {
                break;
            }
            Output::Failed(Failure::Unreadable { .. }) => {
                // Four garbled bodies in a row: resume, as an operator would.
                pages = start(&list, config.clone(), saved.as_deref());
                pages.hold(tail.iter().map(Vec::as_slice));
                flying.clear();
            }
            Output::Failed(f) => return Err(format!("failed: {f}")),
        }
    }
    let expected: Vec<u64> = (0..list.n).collect();
    if out != expected {
        return Err(format!("delivered {out:?}"));
    }
    Ok(())
}

#[test]
fn every_record_exactly_once_whatever_the_order_garbling_and_crashes() {
    fn prop(
        n: u8,
        size: u8,
        cursor: bool,
        concurrency: u8,
        seed: u64,
        crash: (u8, u8),
    ) -> TestResult {
        let list = List {
            n: u64::from(n % 60),
            size: u64::from(size % 7 + 1),
            cursor,
        };
        let concurrency = usize::from(concurrency % 4 + 1);
        match exactly_once(
            list,
            concurrency,
            seed,
            usize::from(crash.0),
            usize::from(crash.1 % 30 + 1),
        ) {
            Ok(()) => TestResult::passed(),
            Err(e) => TestResult::error(format!(
                "{list:?} concurrency {concurrency} seed {seed} crash {crash:?}: {e}"
            )),
        }
    }
    QuickCheck::new()
        .tests(400)
        .quickcheck(prop as fn(u8, u8, bool, u8, u64, (u8, u8)) -> TestResult);
}
