//! Pagination: one machine per walk through a list endpoint, every record exactly once, with
//! checkpoints that survive a crash.
//!
//! A [`Walk`] is sans-IO and time-free: it says which request to send next
//! ([`Walk::poll_request`]), reads the response you give it ([`Walk::on_page`]) and hands back
//! the page's records as byte ranges of *your* body (nothing is copied or kept: a walk over a
//! million records holds a few counters, the hashes of the cursors it used and, when
//! de-duplicating, 16 bytes per key). Same inputs, same requests and records, byte for byte.
//!
//! ```text
//!   Walk::new(spec, template) ─┐        Walk::resume(spec, template, checkpoint) ─┐
//!   Walk::auto(template) ──────┤                                                   │
//!                              ▼                                                   │
//!                ┌──► poll_request() ── None ──► state(): Complete(why) | Stopped(guard)
//!                │         │ Some(request)                                         │
//!                │         ▼                                                       │
//!                │   send it (through the Pacer: it retries 429/5xx) ◄─────────────┘
//!                │         │ final response
//!                │         ▼
//!                │   on_page(status, headers, body)
//!                │     ├─ Err(PageError): unusable response; walk unchanged, same request
//!                │     │                  pending (resend if is_transient(), else give up)
//!                │     └─ Ok(page): 1. deliver page.records(body)
//!                │                  2. persist checkpoint()      (atomically: temp, fsync, rename)
//!                │                  3. drain poll_event()        (drift, detection, switches)
//!                └────────────────  4. page.after(): More | Complete(EndReason) | Stopped
//! ```
//!
//! **Ends** ([`EndReason`]): a walk ends only on a positive signal of its style — no
//! `rel="next"`, a null or empty cursor, `has_more` false, `isLast` true, offset + records ≥
//! total, the page count reached, an empty page, a page shorter than the server's page size —
//! and says which. When a response gives no way to ask for the next page and something says
//! there is one (a total above the records received, a full page), the walk probes the usual
//! parameters, counting a guess only when it brings new records ([`PageEvent::Probing`]), and
//! otherwise stops with [`GuardError::Undetermined`]: it never reports "done" on a guess.
//!
//! **Styles** ([`Style`]): offset + limit, page number, cursor in the body, keyset, `Link`
//! header (RFC 8288, [`parse_link`]), next URL in the body, page tokens, GraphQL Relay,
//! `search_after`. Described by data ([`PageSpec`], serde, JSON Pointers), with constructors
//! for well-known APIs, or detected from the first exchange — the request's parameters as well
//! as the response's headers and body ([`Walk::auto`], [`PageSpec::detect`]), in part when the
//! caller knows some of it ([`Hints`], [`Walk::auto_with`]).
//!
//! **Guards** ([`Guards`], [`GuardError`]): a cursor, token, URL or keyset seen before; too many
//! empty pages in a row; a maximum page count; a page identical to the previous one; a next URL
//! on another origin (refused unless allowed, and then requested without credentials:
//! [`PageRequest::credentials`]).
//!
//! **Drift** ([`PageEvent`], [`Drift`]): offset and page walks report a changing `total` and
//! keys seen twice; with [`PageSpec::dedupe`] they drop the repeats; [`PageSpec::prefer`]
//! switches to a drift-free cursor or keyset when the API offers one. A walk that completes
//! with a non-empty [`Walk::drift`] may have missed records (a delete ahead of the offset
//! shifts one past it unseen): callers must not report it as a clean success.
//!
//! **Checkpoints** ([`Checkpoint`]): deliver a page's records, *then* persist the checkpoint; a
//! crash re-delivers at most the page whose checkpoint was not written, and with a key pointer
//! not even that: a resumed walk told what the consumer holds past the checkpoint
//! ([`Walk::already_delivered`]) drops those records when they come again.
//!
//! **Batches** ([`Batcher`]): the write side: chunk records to an endpoint's limits, read
//! per-record results, re-queue only the failures.
//!
//! The whole loop, against a fake Slack-style server with three pages, crashing after the
//! second page and resuming from its checkpoint:
//!
//! ```
//! use http::{HeaderMap, StatusCode};
//! use paceline::paginate::{After, Checkpoint, EndReason, PageSpec, Pointer, RequestTemplate, Walk};
//!
//! fn server(url: &url::Url) -> Vec<u8> {
//!     let cursor = url.query_pairs().find(|(k, _)| k == "cursor").map(|(_, v)| v.into_owned());
//!     match cursor.as_deref() {
//!         None => br#"{"ok":true,"members":[{"id":"U1"},{"id":"U2"}],"response_metadata":{"next_cursor":"c2"}}"#.to_vec(),
//!         Some("c2") => br#"{"ok":true,"members":[{"id":"U3"}],"response_metadata":{"next_cursor":"c3"}}"#.to_vec(),
//!         Some(_) => br#"{"ok":true,"members":[{"id":"U4"}],"response_metadata":{"next_cursor":""}}"#.to_vec(),
//!     }
//! }
//!
//! let spec = PageSpec::slack("/members");
//! let template = RequestTemplate::get("https://slack.test/api/users.list").unwrap();
//! let mut walk = Walk::new(spec.clone(), template.clone()).unwrap();
//! let mut delivered = Vec::new();
//! let mut saved = Vec::new(); // the checkpoint file
//! while let Some(request) = walk.poll_request() {
//!     let body = server(&request.url); // send it (through a Pacer)
//!     let page = walk.on_page(StatusCode::OK, &HeaderMap::new(), &body).unwrap();
//!     for record in page.records(&body) {
//!         delivered.push(String::from_utf8(record.to_vec()).unwrap());
//!     }
//!     saved = walk.checkpoint().to_bytes(); // after delivering
//!     if page.number() == 2 { break } // crash
//! }
//! let checkpoint = Checkpoint::from_bytes(&saved).unwrap();
//! let mut walk = Walk::resume(Some(spec), template, &checkpoint).unwrap();
//! while let Some(request) = walk.poll_request() {
//!     let body = server(&request.url);
//!     let page = walk.on_page(StatusCode::OK, &HeaderMap::new(), &body).unwrap();
//!     delivered.extend(page.records(&body).map(|r| String::from_utf8(r.to_vec()).unwrap()));
//!     // The last page's empty cursor is the end, and says so.
//!     let reason = EndReason::NoNext { at: Pointer::parse("/response_metadata/next_cursor").unwrap() };
//!     assert_eq!(page.after(), &After::Complete(reason));
//! }
//! assert_eq!(delivered, [r#"{"id":"U1"}"#, r#"{"id":"U2"}"#, r#"{"id":"U3"}"#, r#"{"id":"U4"}"#]);
//! ```

mod checkpoint;
mod detect;
mod end;
mod error;
pub(crate) mod hash;
mod page;
mod pages;
mod plan;
mod request;
mod seen;
mod spec;
mod walk;

// The JSON utilities live in `crate::json`; these names keep `super::json` and
// `super::pointer` working in the modules under `paginate`.
use crate::json::{self, pointer};

pub use crate::batch::{
    Batch, BatchError, BatchReport, BatchSpec, Batcher, FailedRecord, ItemFailure,
};
pub use crate::headers::link::{Link, LinkError, find_rel, links_in, parse_link, resolve_link};
pub use crate::json::{BodyError, Pointer, PointerError};
pub use checkpoint::{CHECKPOINT_VERSION, Checkpoint, Position};
pub use detect::{Detection, Hints};
pub use end::{Drift, EndReason};
pub use error::{CheckpointError, GuardError, PageError, ResumeError, SpecError};
pub use page::{After, Page, PageEvent, WalkState};
pub use pages::{
    DEFAULT_RESENDS, Delivered, Delivery, EVENTS_KEPT, Failure, Handout, Next, Output, Pages,
    PagesConfig, PagesError, Record, RecordPage, Resume, Save, Slot, StartError,
};
pub use request::{PageRequest, RequestTemplate};
pub use spec::{Guards, KeyParam, PageSize, PageSpec, Param, Source, Style, StyleKind};
pub use walk::Walk;

/// The URL type of [`RequestTemplate`] and [`PageRequest`] (the `url` crate's), re-exported so
/// callers need not depend on `url` themselves.
pub use url::Url;
