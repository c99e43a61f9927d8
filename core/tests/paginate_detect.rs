//! Auto-detected walks end only on a positive signal: what they do when a response does not
//! say how the list goes on (probing, and the verdicts a probe can reach), the seeds' own API,
//! short first pages, and drift that must not pass for a clean success.

use http::{HeaderMap, HeaderValue, StatusCode};
use paceline::paginate::{
    After, Checkpoint, EndReason, GuardError, Guards, Hints, PageEvent, PageRequest, PageSpec,
    Param, Pointer, RequestTemplate, Source, StyleKind, Walk, WalkState,
};
use serde_json::{Value, json};

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn ok(body: Value) -> Reply {
    Reply {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: body.to_string().into_bytes(),
    }
}

fn status(code: u16) -> Reply {
    Reply {
        status: StatusCode::from_u16(code).unwrap(),
        headers: HeaderMap::new(),
        body: b"{}".to_vec(),
    }
}

#[derive(Default)]
struct Trace {
    urls: Vec<String>,
    ids: Vec<i64>,
    events: Vec<PageEvent>,
    end: Option<WalkState>,
}

fn drive(mut walk: Walk, mut server: impl FnMut(&PageRequest) -> Reply) -> (Trace, Walk) {
    let mut t = Trace::default();
    for _ in 0..200 {
        let Some(req) = walk.poll_request().cloned() else {
            break;
        };
        t.urls.push(req.url.to_string());
        let r = server(&req);
        let page = walk
            .on_page(r.status, &r.headers, &r.body)
            .expect("a usable page");
        for rec in page.records(&r.body) {
            let v: Value = serde_json::from_slice(rec).unwrap();
            t.ids.push(v["id"].as_i64().unwrap());
        }
        t.events.extend(std::iter::from_fn(|| walk.poll_event()));
    }
    t.end = Some(walk.state().clone());
    (t, walk)
}

fn q(req: &PageRequest, name: &str) -> Option<u64> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
}

fn records(range: std::ops::Range<i64>) -> Vec<Value> {
    range
        .map(|i| json!({"id": i, "name": format!("company {i}")}))
        .collect()
}

fn auto(url: &str) -> Walk {
    Walk::auto(RequestTemplate::get(url).unwrap(), Guards::default()).unwrap()
}

/// The seeds' API (`../shared/seeds/001`): `GET /v1/companies?limit=10` →
/// `{"items": [...10...], "total": 2000}`, paged with `offset`. Wave 1 read one page and
/// reported it complete.
#[test]
fn the_seeds_offset_api_is_read_to_its_total() {
    let (t, walk) = drive(
        auto("https://app.pact.place/v1/companies?limit=10"),
        |req| {
            let (limit, offset) = (q(req, "limit").unwrap(), q(req, "offset").unwrap_or(0));
            let all = records(0..2000);
            let page: Vec<Value> = all
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .cloned()
                .collect();
            ok(json!({"items": page, "total": 2000}))
        },
    );
    assert_eq!(t.ids, (0..2000).collect::<Vec<_>>());
    assert_eq!(t.urls.len(), 200, "no request past the total");
    assert_eq!(
        t.urls[1],
        "https://app.pact.place/v1/companies?limit=10&offset=10"
    );
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::TotalReached {
            at: 2000,
            total: 2000
        }))
    );
    assert!(
        matches!(t.events[1], PageEvent::Probing { page: 2, ref guess, .. } if guess == "offset=10")
    );
    assert!(matches!(
        t.events[2],
        PageEvent::Confirmed {
            page: 2,
            style: StyleKind::Offset
        }
    ));
    assert!(walk.drift().is_empty());
}

/// A server that ignores every paging parameter while its total says more: the walk tries
/// offset, then page (asking page 1 again to learn the base), and stops with a message: it
/// never calls the first page the whole list.
#[test]
fn a_total_that_says_more_with_no_way_to_get_it_stops() {
    let (t, _) = drive(auto("https://x.test/v1/things?limit=10"), |_| {
        ok(json!({"items": records(0..10), "total": 2000}))
    });
    assert_eq!(
        t.ids,
        (0..10).collect::<Vec<_>>(),
        "page 1 once, never again"
    );
    assert_eq!(
        t.urls,
        [
            "https://x.test/v1/things?limit=10",
            "https://x.test/v1/things?limit=10&offset=10",
            "https://x.test/v1/things?limit=10&page=1",
            "https://x.test/v1/things?limit=10&page=2",
        ]
    );
    let Some(WalkState::Stopped(GuardError::Undetermined { why, .. })) = &t.end else {
        panic!("{:?}", t.end)
    };
    assert!(why.contains("total (2000)"), "{why}");
    let rejected = t
        .events
        .iter()
        .filter(|e| matches!(e, PageEvent::GuessRejected { .. }))
        .count();
    assert_eq!(
        rejected, 2,
        "offset, then page=2 (page=1 only told the base)"
    );
}

/// Records, no page size asked, nothing said: a list that is not paged at all ends as such
/// after the probes, and one that pages by `page` (counting from 0) is read in full.
#[test]
fn unsignalled_lists_are_probed_to_a_verdict() {
    let (t, _) = drive(auto("https://x.test/regions"), |_| {
        ok(json!([{"id": 1}, {"id": 2}, {"id": 3}]))
    });
    assert_eq!(t.ids, [1, 2, 3]);
    assert_eq!(t.end, Some(WalkState::Complete(EndReason::Unpaginated)));
    assert_eq!(t.urls.len(), 4, "offset, page=1, page=2");

    // Pages of 3 counted from 0 (Spring Data's `page`), no total.
    let (t, _) = drive(auto("https://x.test/users"), |req| {
        let p = q(req, "page").unwrap_or(0) as i64;
        let all = records(0..8);
        if q(req, "offset").is_some() {
            return ok(json!(all[..3])); // the server ignores offset
        }
        ok(json!(
            all.iter()
                .skip((p * 3) as usize)
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
        ))
    });
    assert_eq!(t.ids, (0..8).collect::<Vec<_>>());
    assert_eq!(
        t.urls[1..],
        [
            "https://x.test/users?offset=3",
            "https://x.test/users?page=1",
            "https://x.test/users?page=2",
        ]
    );
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::ShortPage {
            records: 2,
            size: 3
        }))
    );
}

/// A probe the server refuses (400 for a parameter it does not know, 404 past the end) is a
/// wrong guess, not a failed walk; with nothing saying there is more, the list ends there.
#[test]
fn a_refused_probe_ends_a_list_that_never_said_more() {
    let (t, _) = drive(auto("https://x.test/tags"), |req| {
        if req.url.query().is_some() {
            status(400)
        } else {
            ok(json!({"data": [{"id": 1}]}))
        }
    });
    assert_eq!(t.ids, [1]);
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::ProbeRefused { status: 400 }))
    );
}

/// A cursor sent back by convention that the server ignores: page 2 is page 1 again, and the
/// walk stops naming what it guessed instead of looping or ending.
#[test]
fn a_conventional_cursor_the_server_ignores_stops_the_walk() {
    let (t, _) = drive(auto("https://x.test/events"), |_| {
        ok(json!({"data": [{"id": 1}, {"id": 2}], "meta": {"next_token": "abc"}}))
    });
    assert_eq!(t.ids, [1, 2]);
    assert_eq!(t.urls[1], "https://x.test/events?next_token=abc");
    assert!(matches!(
        t.end,
        Some(WalkState::Stopped(GuardError::Undetermined { .. }))
    ));
}

/// An explicit offset spec whose server caps the page size below what was asked: the short
/// first page is checked, the server's own size learned, and every record read.
#[test]
fn a_server_that_caps_the_page_size_loses_nothing() {
    let spec = PageSpec::offset("/data", 100);
    let (t, _) = drive(
        Walk::new(spec, RequestTemplate::get("https://x.test/l").unwrap()).unwrap(),
        |req| {
            let at = q(req, "offset").unwrap() as usize;
            let page: Vec<Value> = records(0..57).into_iter().skip(at).take(25).collect();
            ok(json!({ "data": page }))
        },
    );
    assert_eq!(t.ids, (0..57).collect::<Vec<_>>());
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::ShortPage {
            records: 7,
            size: 25
        }))
    );
    // One record, fewer than asked: asking once more is the price of knowing.
    let (t, _) = drive(
        Walk::new(
            PageSpec::offset("/data", 100),
            RequestTemplate::get("https://x.test/l").unwrap(),
        )
        .unwrap(),
        |req| match q(req, "offset") {
            Some(0) => ok(json!({"data": [{"id": 1}]})),
            _ => ok(json!({"data": []})),
        },
    );
    assert_eq!((t.ids.len(), t.urls.len()), (1, 2));
    assert_eq!(t.end, Some(WalkState::Complete(EndReason::EmptyPage)));
}

/// Deletes ahead of the offset while an offset list is read: records are skipped unseen. The
/// walk reaches the end, and its drift says the list changed and how much may be missing.
#[test]
fn offset_drift_is_never_a_clean_end() {
    let mut list: Vec<i64> = (0..50).collect();
    let mut served = 0;
    let (t, walk) = drive(
        Walk::new(
            PageSpec::offset("/data", 10).total("/total").key("/id"),
            RequestTemplate::get("https://x.test/l").unwrap(),
        )
        .unwrap(),
        |req| {
            served += 1;
            if served == 3 {
                // Two records already delivered are deleted: the rest shift back by two.
                list.retain(|&i| i != 3 && i != 4);
            }
            let at = q(req, "offset").unwrap() as usize;
            let page: Vec<Value> = list
                .iter()
                .skip(at)
                .take(10)
                .map(|i| json!({ "id": i }))
                .collect();
            ok(json!({"data": page, "total": list.len()}))
        },
    );
    let missing: Vec<i64> = list
        .iter()
        .filter(|i| !t.ids.contains(i))
        .copied()
        .collect();
    assert_eq!(missing, [20, 21], "two survivors shifted past the offset");
    assert!(matches!(t.end, Some(WalkState::Complete(_))));
    let d = walk.drift();
    assert_eq!((d.total_changes, d.total_fell), (1, 2));
    assert_eq!(d.may_be_missing(), 2);
    assert!(!d.is_empty());
}

/// A probe survives a crash: the checkpoint carries it, so a walk resumed between the first
/// page and the probe's answer still tells the first page again from new records.
#[test]
fn a_probe_survives_resuming() {
    let template = RequestTemplate::get("https://x.test/v1/things?limit=2").unwrap();
    let server = |req: &PageRequest| {
        let at = q(req, "offset");
        let all = records(0..5);
        match at {
            // The server ignores `offset`, but pages by `page` (from 1).
            Some(_) => ok(json!({"items": all[..2], "total": 5})),
            None => {
                let p = q(req, "page").unwrap_or(1) as usize;
                let page: Vec<Value> = all.iter().skip((p - 1) * 2).take(2).cloned().collect();
                ok(json!({"items": page, "total": 5}))
            }
        }
    };
    let mut walk = Walk::auto(template.clone(), Guards::default()).unwrap();
    let first = server(walk.poll_request().unwrap());
    walk.on_page(first.status, &first.headers, &first.body)
        .unwrap();
    let saved = walk.checkpoint().to_bytes();
    let resumed = Walk::resume(None, template, &Checkpoint::from_bytes(&saved).unwrap()).unwrap();
    assert!(resumed.is_probing());
    let (t, _) = drive(resumed, server);
    assert_eq!(t.ids, [2, 3, 4]);
    assert_eq!(
        t.urls,
        [
            "https://x.test/v1/things?limit=2&offset=2",
            "https://x.test/v1/things?limit=2&page=1",
            "https://x.test/v1/things?limit=2&page=2",
            "https://x.test/v1/things?limit=2&page=3",
        ]
    );
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::TotalReached {
            at: 6,
            total: 5
        }))
    );
}

/// Hints: a style named by the caller, its parts found in the page.
#[test]
fn a_named_style_finds_what_it_was_not_told() {
    let hints = Hints::default().style(StyleKind::Page);
    let walk = Walk::auto_with(
        RequestTemplate::get("https://x.test/api/items?size=2").unwrap(),
        hints,
        Guards::default(),
    )
    .unwrap();
    let (t, walk) = drive(walk, |req| {
        let p = q(req, "page").unwrap_or(0) as usize;
        let all = records(0..5);
        let page: Vec<Value> = all.iter().skip(p * 2).take(2).cloned().collect();
        ok(
            json!({"content": page, "totalElements": 5, "totalPages": 3, "number": p, "last": p == 2}),
        )
    });
    assert_eq!(t.ids, (0..5).collect::<Vec<_>>());
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::Done {
            at: Pointer::from_static("/last")
        }))
    );
    let spec = walk.spec().unwrap();
    assert_eq!(spec.items.as_str(), "/content");
    assert!(matches!(
        &spec.style,
        paceline::paginate::Style::Page {
            first: 0,
            total: Some(Source::Body(_)),
            ..
        }
    ));
    let _ = Param::query("x");
}

/// A `Link` header whose `rel="next"` says `results="false"` (Sentry) is the end, not one
/// more request.
#[test]
fn link_results_false_is_the_end() {
    let walk = Walk::new(
        PageSpec::link(""),
        RequestTemplate::get("https://sentry.test/api/0/projects/").unwrap(),
    )
    .unwrap();
    let (t, _) = drive(walk, |_| {
        let mut r = ok(json!([{"id": 1}]));
        r.headers.insert(
            http::header::LINK,
            HeaderValue::from_static(
                r#"<https://sentry.test/api/0/projects/?cursor=0:100:1>; rel="previous"; results="false"; cursor="0:100:1", <https://sentry.test/api/0/projects/?cursor=0:100:0>; rel="next"; results="false"; cursor="0:100:0""#,
            ),
        );
        r
    });
    assert_eq!(t.urls.len(), 1);
    assert_eq!(
        t.end,
        Some(WalkState::Complete(EndReason::LinkResultsFalse))
    );
    let _ = After::More;
}

/// A list server of a random shape, for the property below: how it pages (by one of several
/// parameter names, or not at all), what it says (a total, its page size, nothing), what the
/// caller asks (a page size or not), and where it puts the records.
#[derive(Debug, Clone)]
struct Shape {
    records: u16,
    /// 0: `offset`, 1: `skip`, 2: `page` from 1, 3: `page` from 0, 4: `p` from 1, 5: ignores
    /// every parameter (one page of its default size).
    paging: u8,
    default_size: u8,
    asked: Option<u8>,
    total: bool,
    echo_size: bool,
    envelope: u8,
}

impl quickcheck::Arbitrary for Shape {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        let small = |g: &mut quickcheck::Gen, max: u8| u8::arbitrary(g) % max;
        Shape {
            records: u16::arbitrary(g) % 260,
            paging: small(g, 6),
            // Servers' own page sizes are 10 or more (see `page_sized` in the detection).
            default_size: small(g, 40) + 10,
            asked: bool::arbitrary(g).then(|| small(g, 40) + 1),
            total: bool::arbitrary(g),
            echo_size: bool::arbitrary(g),
            envelope: small(g, 4),
        }
    }
}

impl Shape {
    fn serve(&self, req: &PageRequest) -> Reply {
        let size = u64::from(self.asked.unwrap_or(self.default_size));
        let at = match self.paging {
            0 => q(req, "offset").unwrap_or(0),
            1 => q(req, "skip").unwrap_or(0),
            2 => q(req, "page").unwrap_or(1).saturating_sub(1) * size,
            3 => q(req, "page").unwrap_or(0) * size,
            4 => q(req, "p").unwrap_or(1).saturating_sub(1) * size,
            _ => 0,
        };
        let items: Vec<Value> = (at..u64::from(self.records))
            .take(size as usize)
            .map(|i| json!({ "id": i }))
            .collect();
        let mut body = serde_json::Map::new();
        if self.total {
            body.insert("total".into(), json!(self.records));
        }
        if self.echo_size {
            body.insert("page_size".into(), json!(size));
        }
        let key = ["items", "data", "results", "records"][usize::from(self.envelope)];
        body.insert(key.into(), Value::Array(items));
        ok(Value::Object(body))
    }
}

/// Over random list servers, an auto-detected walk never ends "complete" with a record
/// missing or twice: it reads every record exactly once, or stops saying it cannot tell. The
/// branches that matter are counted and must each be reached.
#[test]
fn prop_an_auto_walk_is_complete_and_exact_or_says_it_cannot_tell() {
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    static EXACT: AtomicU32 = AtomicU32::new(0);
    static STOPPED: AtomicU32 = AtomicU32::new(0);
    static PROBED: AtomicU32 = AtomicU32::new(0);
    fn prop(s: Shape) -> bool {
        let url = match s.asked {
            Some(n) => format!("https://x.test/list?limit={n}"),
            None => "https://x.test/list".to_owned(),
        };
        let walk = Walk::auto(
            RequestTemplate::get(&url).unwrap(),
            Guards::default().max_pages(400),
        )
        .unwrap();
        let mut t = Trace::default();
        let mut walk = walk;
        for _ in 0..400 {
            let Some(req) = walk.poll_request().cloned() else {
                break;
            };
            let r = s.serve(&req);
            let Ok(page) = walk.on_page(r.status, &r.headers, &r.body) else {
                return false;
            };
            for rec in page.records(&r.body) {
                let v: Value = serde_json::from_slice(rec).unwrap();
                t.ids.push(v["id"].as_i64().unwrap());
            }
            t.events.extend(std::iter::from_fn(|| walk.poll_event()));
        }
        if t.events
            .iter()
            .any(|e| matches!(e, PageEvent::Probing { .. }))
        {
            PROBED.fetch_add(1, Relaxed);
        }
        match walk.state() {
            WalkState::Complete(_) => {
                let exact = t.ids == (0..i64::from(s.records)).collect::<Vec<_>>();
                if exact {
                    EXACT.fetch_add(1, Relaxed);
                }
                exact
            }
            WalkState::Stopped(GuardError::Undetermined { .. }) => {
                STOPPED.fetch_add(1, Relaxed);
                // What came before the stop is a prefix, never a record twice.
                t.ids == (0..t.ids.len() as i64).collect::<Vec<_>>()
            }
            _ => false,
        }
    }
    let mut g = quickcheck::Gen::new(100);
    for _ in 0..600 {
        let s = <Shape as quickcheck::Arbitrary>::arbitrary(&mut g);
        assert!(prop(s.clone()), "{s:?}");
    }
    let (exact, stopped, probed) = (
        EXACT.load(Relaxed),
        STOPPED.load(Relaxed),
        PROBED.load(Relaxed),
    );
    println!("exact {exact}, stopped {stopped}, probed {probed} of 600");
    assert!(exact >= 300, "most shapes are read in full: {exact}");
    assert!(
        stopped >= 30,
        "the cannot-tell branch is reached: {stopped}"
    );
    assert!(probed >= 200, "the probing branch is reached: {probed}");
}

/// Keyset keys named for an offset list are the drift-free way it also offers: the walk reads
/// the first page by offset, then goes on by keyset, and deletes ahead of it cost nothing.
#[test]
fn a_named_keyset_takes_over_from_offsets() {
    let hints = Hints::default().key_param(Pointer::from_static("/id"), Param::query("after_id"));
    let walk = Walk::auto_with(
        RequestTemplate::get("https://x.test/v1/companies?limit=10").unwrap(),
        hints,
        Guards::default(),
    )
    .unwrap();
    let mut list: Vec<i64> = (0..45).collect();
    let mut served = 0;
    let (t, walk) = drive(walk, |req| {
        served += 1;
        if served == 3 {
            list.retain(|&i| i != 1 && i != 2);
        }
        let after = q(req, "after_id").map(|a| a as i64);
        let from = match after {
            Some(a) => list.iter().position(|&i| i > a).unwrap_or(list.len()),
            None => q(req, "offset").unwrap_or(0) as usize,
        };
        let page: Vec<Value> = list[from..]
            .iter()
            .take(10)
            .map(|i| json!({ "id": i }))
            .collect();
        ok(json!({"items": page, "total": list.len()}))
    });
    assert_eq!(t.ids, (0..45).collect::<Vec<_>>());
    assert!(t.urls[1].ends_with("after_id=9"), "{:?}", t.urls);
    assert!(t.events.iter().any(|e| matches!(
        e,
        PageEvent::Switched {
            from: StyleKind::Offset,
            to: StyleKind::Keyset
        }
    )));
    assert!(walk.drift().is_empty(), "{:?}", walk.drift());
}

/// A detected `Link` or next-URL walk remembers the first page's own URL (sent before the
/// style was known) among those requested: a next URL leading back to it stops the walk,
/// rather than delivering the first page's records a second time. Given a spec, the same
/// holds (`paginate_styles.rs` `link_to_the_same_url_stops`).
#[test]
fn a_detected_walk_that_cycles_back_to_the_first_page_stops_before_it() {
    let link = |url: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::LINK,
            HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")).unwrap(),
        );
        headers
    };
    for hints in [Hints::default(), Hints::default().style(StyleKind::Link)] {
        // /a -> /b -> /a: the first page's URL comes back as the second page's next.
        let walk = Walk::auto_with(
            RequestTemplate::get("https://x.test/a").unwrap(),
            hints.clone(),
            Guards::default(),
        )
        .unwrap();
        let (t, _) = drive(walk, |req| {
            let (next, id) = if req.url.path() == "/a" {
                ("https://x.test/b", 1)
            } else {
                ("https://x.test/a", 2)
            };
            Reply {
                headers: link(next),
                ..ok(json!([{ "id": id }]))
            }
        });
        assert_eq!(t.ids, [1, 2], "{hints:?}: the first page once");
        assert_eq!(t.urls.len(), 2, "{hints:?}: {:?}", t.urls);
        assert!(
            matches!(
                t.end,
                Some(WalkState::Stopped(GuardError::UrlRepeated { page: 2, .. }))
            ),
            "{hints:?}: {:?}",
            t.end
        );
        // And a first page whose next URL is itself.
        let walk = Walk::auto_with(
            RequestTemplate::get("https://x.test/a?page=1").unwrap(),
            hints.clone(),
            Guards::default(),
        )
        .unwrap();
        let (t, _) = drive(walk, |_| Reply {
            headers: link("https://x.test/a?page=1"),
            ..ok(json!([{ "id": 1 }]))
        });
        assert_eq!(t.ids, [1], "{hints:?}");
        assert_eq!(t.urls.len(), 1, "{hints:?}: {:?}", t.urls);
    }
}

/// The same cycle across a resume: stopped after /a (its checkpoint pointing at /b), resumed,
/// /b's next URL back to /a stops the walk; /a's record is not delivered again. With the
/// spec given and detected alike.
#[test]
fn a_resumed_walk_that_cycles_back_to_the_first_page_stops_before_it() {
    let link = |url: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::LINK,
            HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")).unwrap(),
        );
        headers
    };
    let server = |req: &PageRequest| {
        let (next, id) = if req.url.path() == "/a" {
            ("https://x.test/b", 1)
        } else {
            ("https://x.test/a", 2)
        };
        Reply {
            headers: link(next),
            ..ok(json!([{ "id": id }]))
        }
    };
    let template = || RequestTemplate::get("https://x.test/a").unwrap();
    for detected in [false, true] {
        let guards = Guards::default().max_pages(1);
        let first = if detected {
            Walk::auto(template(), guards).unwrap()
        } else {
            Walk::new(PageSpec::link("").guards(guards), template()).unwrap()
        };
        let (t, first) = drive(first, server);
        assert_eq!(t.ids, [1], "detected: {detected}");
        let checkpoint = first.checkpoint();
        let resumed = if detected {
            Walk::resume_auto(template(), Guards::default(), &checkpoint).unwrap()
        } else {
            Walk::resume(Some(PageSpec::link("")), template(), &checkpoint).unwrap()
        };
        let (t, _) = drive(resumed, server);
        assert_eq!(
            t.ids,
            [2],
            "detected: {detected}: /a again after the resume"
        );
        assert_eq!(t.urls, ["https://x.test/b"], "detected: {detected}");
        assert!(
            matches!(
                t.end,
                Some(WalkState::Stopped(GuardError::UrlRepeated { page: 2, .. }))
            ),
            "detected: {detected}: {:?}",
            t.end
        );
    }
}
