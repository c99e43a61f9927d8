use std::collections::VecDeque;

use http::{HeaderMap, StatusCode};

use super::*;
use crate::paginate::{PageSpec, RequestTemplate};

const URL: &str = "https://api.test/items";

/// An in-memory list of `n` records `{"id":i}`, paged by offset (with a total, so guesses
/// can be made) or by cursor.
#[derive(Clone, Copy, Debug)]
pub(super) struct List {
    pub(super) n: u64,
    pub(super) size: u64,
    pub(super) cursor: bool,
}

impl List {
    fn cursor(n: u64, size: u64) -> List {
        List {
            n,
            size,
            cursor: true,
        }
    }

    fn offset(n: u64, size: u64) -> List {
        List {
            n,
            size,
            cursor: false,
        }
    }

    fn spec(&self) -> PageSpec {
        if self.cursor {
            PageSpec::cursor("/data", "/next", "cursor").key("/id")
        } else {
            PageSpec::offset("/data", self.size)
                .total("/total")
                .key("/id")
        }
    }

    fn answer(&self, request: &PageRequest) -> Vec<u8> {
        let q = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.trim_start_matches('c').parse::<u64>().ok())
        };
        let from = if self.cursor {
            q("cursor")
        } else {
            q("offset")
        }
        .unwrap_or(0);
        let to = (from + self.size).min(self.n);
        let data: Vec<String> = (from..to).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
        let tail = if self.cursor {
            match to < self.n {
                true => format!(r#""next":"c{to}""#),
                false => r#""next":null"#.to_string(),
            }
        } else {
            format!(r#""total":{}"#, self.n)
        };
        format!(r#"{{"data":[{}],{tail}}}"#, data.join(",")).into_bytes()
    }
}

pub(super) fn template() -> RequestTemplate {
    RequestTemplate::get(URL).unwrap()
}

pub(super) fn start(list: &List, config: PagesConfig, saved: Option<&[u8]>) -> Pages {
    Pages::start(Some(list.spec()), template(), config, saved).unwrap()
}

pub(super) fn ok(pages: &mut Pages, list: &List, slot: Slot, request: &PageRequest) {
    pages.on_response(slot, StatusCode::OK, HeaderMap::new(), list.answer(request));
}

/// Starts a walk of `list`, answers its first request, and returns the first page delivered.
fn first_page(list: &List, config: PagesConfig) -> (Pages, Delivery) {
    let mut pages = start(list, config, None);
    let Output::Send { slot, request } = pages.poll() else {
        panic!("the first output is a request")
    };
    ok(&mut pages, list, slot, &request);
    let Output::Deliver(d) = pages.poll() else {
        panic!("the first answer is delivered")
    };
    (pages, d)
}

pub(super) fn ids(d: &Delivery) -> Vec<u64> {
    d.records()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(r).unwrap();
            v["id"].as_u64().unwrap()
        })
        .collect()
}

/// A short name per output, answering each at once and in order.
fn script(pages: &mut Pages, list: &List) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..1000 {
        match pages.poll() {
            Output::Send { slot, request } => {
                seen.push(format!("send {}", request.url.query().unwrap_or("")));
                ok(pages, list, slot, &request);
            }
            Output::Event(e) => seen.push(format!("event {}", e.code())),
            Output::Deliver(d) => {
                seen.push(format!("deliver {} ({})", d.number(), d.len()));
                pages.on_delivered(d.number());
            }
            Output::Save(s) => {
                seen.push(format!("save {}", s.page));
                pages.on_saved(s.page);
            }
            Output::Idle => {
                seen.push("idle".into());
                break;
            }
            Output::Done(_) => {
                seen.push("done".into());
                break;
            }
            Output::Failed(f) => {
                seen.push(format!("failed {f}"));
                break;
            }
        }
    }
    seen
}

#[test]
fn one_slot_fetches_delivers_saves_then_fetches_the_next() {
    let list = List::cursor(3, 2);
    let mut pages = start(&list, PagesConfig::default(), None);
    assert_eq!(
        script(&mut pages, &list),
        [
            "send ",
            "deliver 1 (2)",
            "save 1",
            "send cursor=c2",
            "event complete",
            "deliver 2 (1)",
            "save 2",
            "done"
        ]
    );
    assert_eq!(pages.delivered(), Delivered::new(2, 3, 3, true));
    assert!(matches!(pages.poll(), Output::Done(_)), "terminal is final");
}

#[test]
fn nothing_is_read_while_a_page_is_in_hand_or_being_saved() {
    let list = List::offset(6, 2);
    let mut pages = start(&list, PagesConfig::default().concurrency(3), None);
    let Output::Send { slot, request } = pages.poll() else {
        panic!()
    };
    assert!(
        matches!(pages.poll(), Output::Idle),
        "no guess before the first page"
    );
    ok(&mut pages, &list, slot, &request);
    let Output::Deliver(first) = pages.poll() else {
        panic!()
    };
    assert_eq!(ids(&first), [0, 1]);
    // The page in hand keeps its slot: two guesses fill the other two.
    let mut sent = Vec::new();
    while let Output::Send { slot, request } = pages.poll() {
        sent.push((slot, request));
    }
    assert_eq!(sent.len(), 2);
    assert_eq!(pages.in_flight(), 2);
    for (slot, request) in &sent {
        ok(&mut pages, &list, *slot, request);
    }
    assert!(
        matches!(pages.poll(), Output::Idle),
        "page 2 waits for page 1's delivery"
    );
    assert!(!pages.delivered().checkpointed);
    pages.on_delivered(1);
    let Output::Save(save) = pages.poll() else {
        panic!()
    };
    assert_eq!(save.checkpoint.pages(), 1);
    assert!(matches!(pages.poll(), Output::Idle), "and for its save");
    pages.on_saved(1);
    let Output::Deliver(second) = pages.poll() else {
        panic!()
    };
    assert_eq!(ids(&second), [2, 3]);
}

#[test]
fn a_garbled_body_is_requested_again_a_bounded_number_of_times() {
    let list = List::cursor(4, 2);
    let mut pages = start(&list, PagesConfig::default().resends(2), None);
    let mut seen = Vec::new();
    loop {
        match pages.poll() {
            Output::Send { slot, .. } => {
                seen.push("send".to_string());
                pages.on_response(
                    slot,
                    StatusCode::OK,
                    HeaderMap::new(),
                    b"{\"data\":[".to_vec(),
                );
            }
            Output::Event(e) => seen.push(e.code().to_string()),
            Output::Failed(Failure::Unreadable {
                page, responses, ..
            }) => {
                assert_eq!((page, responses), (1, 3));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, ["send", "resending", "send", "resending", "send"]);
}

#[test]
fn a_final_error_status_is_the_pacers_verdict_and_never_resent() {
    let list = List::cursor(4, 2);
    let mut pages = start(&list, PagesConfig::default(), None);
    let Output::Send { slot, .. } = pages.poll() else {
        panic!()
    };
    pages.on_response(
        slot,
        StatusCode::SERVICE_UNAVAILABLE,
        HeaderMap::new(),
        Vec::new(),
    );
    match pages.poll() {
        Output::Failed(Failure::Unreadable {
            error, responses, ..
        }) => {
            assert_eq!(error, PageError::Status(StatusCode::SERVICE_UNAVAILABLE));
            assert_eq!(responses, 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_guess_waits_for_the_walk_a_failed_pending_request_ends_it() {
    let list = List::offset(8, 2);
    let (mut pages, d) = first_page(&list, PagesConfig::default().concurrency(3));
    let Output::Send {
        slot: next,
        request: pending,
    } = pages.poll()
    else {
        panic!()
    };
    let Output::Send {
        slot: guess,
        request: g,
    } = pages.poll()
    else {
        panic!()
    };
    assert!(pending.url.as_str().contains("offset=2"));
    assert!(g.url.as_str().contains("offset=4"));
    // The guess fails: forgotten, and not sent again until the walk moves.
    pages.on_send_failed(guess);
    let Output::Send {
        slot: third,
        request: h,
    } = pages.poll()
    else {
        panic!()
    };
    assert!(
        h.url.as_str().contains("offset=6"),
        "the next guess takes the slot"
    );
    assert!(matches!(pages.poll(), Output::Idle));
    ok(&mut pages, &list, next, &pending);
    ok(&mut pages, &list, third, &h);
    pages.on_delivered(d.number());
    let Output::Save(_) = pages.poll() else {
        panic!()
    };
    pages.on_saved(1);
    let Output::Deliver(d) = pages.poll() else {
        panic!()
    };
    assert_eq!(ids(&d), [2, 3]);
    // Page 3 (offset 4) is pending now: the failed guess is sent again, and fails again.
    let Output::Send { slot, request } = pages.poll() else {
        panic!()
    };
    assert_eq!(request, g);
    pages.on_send_failed(slot);
    pages.on_delivered(d.number());
    let Output::Save(_) = pages.poll() else {
        panic!()
    };
    pages.on_saved(2);
    loop {
        match pages.poll() {
            Output::Send { .. } => {}
            Output::Failed(Failure::Request {
                page,
                slot: s,
                delivered,
            }) => {
                assert_eq!((page, s), (3, slot));
                assert_eq!(delivered, Delivered::new(2, 4, 4, true));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_failed_save_ends_the_walk_uncovered() {
    let list = List::cursor(4, 2);
    let (mut pages, d) = first_page(&list, PagesConfig::default());
    pages.on_delivered(d.number());
    let Output::Save(s) = pages.poll() else {
        panic!()
    };
    pages.on_save_failed(s.page);
    match pages.poll() {
        Output::Failed(Failure::Save { page, delivered }) => {
            assert_eq!(page, 1);
            assert!(!delivered.checkpointed);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stop_finishes_the_page_in_hand_then_sends_nothing() {
    let list = List::cursor(6, 2);
    let (mut pages, d) = first_page(&list, PagesConfig::default());
    pages.stop();
    assert!(!pages.is_between_pages());
    pages.on_delivered(d.number());
    let Output::Save(s) = pages.poll() else {
        panic!()
    };
    pages.on_saved(s.page);
    assert!(pages.is_between_pages());
    match pages.poll() {
        Output::Failed(Failure::Interrupted { delivered }) => {
            assert_eq!(delivered, Delivered::new(1, 2, 2, true));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_empty_list_delivers_one_empty_page() {
    let list = List::cursor(0, 2);
    let mut pages = start(&list, PagesConfig::default().saves(false), None);
    assert_eq!(
        script(&mut pages, &list),
        ["send ", "event complete", "deliver 1 (0)", "done"]
    );
    assert!(
        !pages.delivered().checkpointed,
        "no saves, never checkpointed"
    );
}

#[test]
fn resume_policies() {
    let list = List::cursor(4, 2);
    let required = PagesConfig::default().resume(Resume::Required);
    assert_eq!(
        Pages::start(Some(list.spec()), template(), required.clone(), None).unwrap_err(),
        StartError::NoCheckpoint
    );
    assert!(matches!(
        Pages::start(Some(list.spec()), template(), required, Some(b"{")),
        Err(StartError::BadCheckpoint(_))
    ));
    let (mut first, d) = first_page(&list, PagesConfig::default());
    first.on_delivered(d.number());
    let Output::Save(s) = first.poll() else {
        panic!()
    };
    let bytes = s.checkpoint.to_bytes();
    let mut never = start(
        &list,
        PagesConfig::default().resume(Resume::Never),
        Some(&bytes),
    );
    assert!(matches!(never.poll(), Output::Send { request, .. } if request.url.query().is_none()));
    let mut resumed = start(&list, PagesConfig::default(), Some(&bytes));
    assert!(resumed.delivered().checkpointed);
    assert_eq!(
        script(&mut resumed, &list),
        [
            "send cursor=c2",
            "event complete",
            "deliver 2 (2)",
            "save 2",
            "done"
        ]
    );
}

#[test]
fn stale_inputs_change_nothing() {
    let list = List::cursor(4, 2);
    let mut pages = start(&list, PagesConfig::default(), None);
    pages.on_response(Slot(7), StatusCode::OK, HeaderMap::new(), Vec::new());
    pages.on_send_failed(Slot(0));
    pages.on_delivered(9);
    pages.on_saved(9);
    pages.on_save_failed(9);
    assert_eq!(
        script(&mut pages, &list),
        [
            "send ",
            "deliver 1 (2)",
            "save 1",
            "send cursor=c2",
            "event complete",
            "deliver 2 (2)",
            "save 2",
            "done"
        ]
    );
}

#[test]
fn pipelined_offset_walks_use_their_slots() {
    let list = List::offset(40, 2);
    let mut pages = start(
        &list,
        PagesConfig::default().concurrency(4).saves(false),
        None,
    );
    let mut most_in_flight = 0;
    let mut flying = VecDeque::new();
    let mut out = Vec::new();
    loop {
        match pages.poll() {
            Output::Send { slot, request } => flying.push_back((slot, request)),
            Output::Deliver(d) => {
                out.extend(ids(&d));
                pages.on_delivered(d.number());
            }
            Output::Idle => {
                most_in_flight = most_in_flight.max(pages.in_flight());
                let (slot, request) = flying.pop_front().unwrap();
                ok(&mut pages, &list, slot, &request);
            }
            Output::Done(_) => break,
            Output::Event(_) | Output::Save(_) => {}
            Output::Failed(f) => panic!("{f}"),
        }
    }
    assert_eq!(out, (0..40).collect::<Vec<_>>());
    assert_eq!(most_in_flight, 4, "every slot is in use between pages");
}
