//! # paceline-ureq
//!
//! A blocking driver for [`paceline`]'s sans-IO [`Pacer`](paceline::Pacer), over [ureq] 3:
//! [`Client`] asks the Pacer before every request, sleeps when told, sends, and tells the Pacer
//! what came back; it retries when told and hands back the response the Pacer is done with. It
//! holds no policy of its own: what to retry, how long to wait and when to give up are all the
//! Pacer's ([`paceline::retry`]).
//!
//! ```
//! use std::time::Duration;
//! use paceline::PacerConfig;
//! use paceline::retry::{Jitter, RetryPolicy};
//! use paceline_testkit::{LoopbackServer, Script, ScriptedResponse};
//! use paceline_ureq::Client;
//!
//! // A server that is briefly unavailable.
//! let server = LoopbackServer::start(Script::new().route(
//!     "/items",
//!     [ScriptedResponse::new(503), ScriptedResponse::new(200).body("[1, 2, 3]")],
//! ))?;
//!
//! let policy = RetryPolicy::default().base(Duration::from_millis(20)).jitter(Jitter::None);
//! let client = Client::new(PacerConfig::default().retry(policy));
//! let response = client.get(&format!("{}/items", server.url()))?;
//!
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.body(), b"[1, 2, 3]");
//! assert_eq!(server.received().len(), 2); // the 503, then the retry
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The loop [`Client::send`] runs, in full:
//!
//! ```text
//! exchange = Exchange::new(pacer, request)              (the lock held for each call only)
//! loop:
//!     exchange.poll(pacer, now) ─ Wait(t) ─► sleep until t, read the clock, ask again
//!        │                      ─ WaitForPermit ─► block until a request of this client
//!        │                                         finishes, ask again
//!        │                      ─ Done(r) ─► Ok(r)   (any status: a final 404 is a response)
//!        │                      ─ Fail(e) ─► Err(exchange.gave_up(e)): every attempt listed
//!        ▼ Send(request)
//!     agent.run(request) ─► head arrives: now ─► body read in full
//!        ▼
//!     exchange.report(pacer, now, outcome)    (a response, no response, a body cut or over
//!        │                                     the limit: the last ends it, BodyTooLarge)
//!        └─ back to poll: a retry waits there, a redirect is followed there
//! after each Pacer call: drain poll_event() into `tracing`
//! ```
//!
//! ## Transport errors
//! A ureq error that leaves no complete response is told to the Pacer as a
//! [`TransportError`](paceline::retry::TransportError): refused connections, unknown hosts
//! and connect timeouts never left (so even a POST may be retried); other timeouts, resets,
//! and connections closed before the response are *sent*; everything else (TLS, a protocol
//! error) is `Other`, which the Pacer never retries. When in doubt an attempt counts as sent.
//! A body cut short after the head arrived is a transport error too (the Pacer sees no
//! response, though the head's headers still count). A body over [`Client::body_limit`] is
//! [`Error::BodyTooLarge`], never retried. A request ureq cannot even build (no host, an
//! invalid header) is [`Error::InvalidRequest`], never retried; a call abandoned between
//! `Send` and its report (that, or a panic) is cancelled, so its concurrency permit goes back.
//!
//! ## Timeouts
//! No attempt waits forever: every one is sent with the client's [`Timeouts`] — connect 10 s,
//! idle 30 s (no byte in either direction: waiting for the response head, or within the
//! body), the whole attempt 120 s (what stops a server trickling its body a byte at a time) —
//! ureq's own timers, set with [`Client::timeouts`]. An attempt that runs out of one is a
//! transport error of kind `Timeout` (before sending when the connect timeout ran out, after
//! sending otherwise), retried by the Pacer's rules like any other; each failed attempt is also
//! logged at `debug` level (`"paceline: attempt failed"`, with ureq's description).
//!
//! ## Redirects and credentials
//! Redirects are followed by the client, not by ureq, as [`paceline::redirect::follow`] says
//! (each hop a request the Pacer paces and retries): a hop to another origin (scheme, host or
//! port) goes without `Authorization`, `Proxy-Authorization`, `Cookie` or the headers named
//! with [`Client::secret_header`]; `https` to `http` is not followed.
//!
//! ## Walking a list
//! [`Client::pages`] drives a [`paceline::paginate::Walk`] through the client: an iterator of
//! the list's [`Record`]s, in order, each once, every page request paced and retried by the
//! Pacer. With a checkpoint file it saves where it stands after each page (atomically:
//! [`write_atomically`]) and resumes from there after a crash.
//!
//! ```
//! use paceline::PacerConfig;
//! use paceline::paginate::{PageSpec, RequestTemplate};
//! use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};
//! use paceline_ureq::{Client, PageOptions};
//!
//! // A Slack-style list of five members, two to a page.
//! let server = LoopbackServer::start_with(|request: &ReceivedRequest| {
//!     let cursor = request.path.split("cursor=").nth(1).map(|c| c.split('&').next().unwrap());
//!     ScriptedResponse::new(200).json(match cursor {
//!         None => r#"{"members":[{"id":1},{"id":2}],"response_metadata":{"next_cursor":"c3"}}"#,
//!         Some("c3") => r#"{"members":[{"id":3},{"id":4}],"response_metadata":{"next_cursor":"c5"}}"#,
//!         Some(_) => r#"{"members":[{"id":5}],"response_metadata":{"next_cursor":""}}"#,
//!     })
//! })?;
//! let client = Client::new(PacerConfig::default());
//! let spec = PageSpec::slack("/members");
//! let template = RequestTemplate::get(&format!("{}/api/users.list", server.url()))?;
//! let dir = std::env::temp_dir().join(format!("paceline-doc-pages-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let options = || PageOptions::new().checkpoint_file(dir.join("members.json"));
//!
//! // The first run takes page 1, says it is done with it, and crashes.
//! let mut pages = client.pages(Some(spec.clone()), template.clone(), options())?;
//! let mut first = Vec::new();
//! for record in pages.by_ref().take(2) {
//!     let member: serde_json::Value = record?.parse()?;
//!     first.push(member["id"].as_u64().unwrap());
//! }
//! pages.commit()?; // the checkpoint of page 1 is saved
//! drop(pages);
//!
//! // The second run resumes from the checkpoint file: exactly the rest.
//! let mut rest = Vec::new();
//! for record in client.pages(Some(spec), template, options())? {
//!     let member: serde_json::Value = record?.parse()?;
//!     rest.push(member["id"].as_u64().unwrap());
//! }
//! assert_eq!((first, rest), (vec![1, 2], vec![3, 4, 5]));
//! assert_eq!(server.received().len(), 3); // page 1 once, then pages 2 and 3
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The loop the iterator runs, and when checkpoints are saved:
//!
//! ```text
//!  Client::pages(spec, template, options)
//!     │  load the checkpoint (if any) ─► Walk::resume, else Walk::new / Walk::auto
//!     ▼
//!  next() ──► records of the current page left? ──yes──► hand one out
//!     │ no: the caller asked for more, so it is done with the page
//!     ▼
//!  save walk.checkpoint()            (atomically; unless commit() already did)
//!     ▼
//!  walk.poll_request() ── None ──► Complete: None · Stopped(guard): Err(Stopped), then None
//!     │ Some(request)                (credentials removed for another, allowed origin)
//!     ▼
//!  client.send(request)              (the Pacer waits, retries 429/5xx, or gives up: Err(Request))
//!     ▼
//!  walk.on_page(status, headers, body)
//!     ├─ Err(body not JSON / truncated) ─► send the same request again, at most
//!     │                                    `page_retries` times, then Err(Page)
//!     ├─ Err(other) ─► Err(Page)
//!     └─ Ok(page) ─► events to tracing and poll_event() ─► back to next()
//! ```
//!
//! Records are handed out **before** the checkpoint that covers them is saved: the checkpoint
//! of page *k* is saved when the caller asks for a record after page *k*'s last one, asks for
//! the next page ([`Pages::next_page`]), or calls [`Pages::commit`]. A crash while the caller
//! holds page *k*'s records re-delivers page *k* on resume, never loses it (and, when the
//! spec names a key, [`PageOptions::already_delivered`] with what the sink holds past the
//! checkpoint skips the ones it already has); a crash after the save delivers exactly the
//! records after page *k*. A caller that buffers what it does with
//! records (a file it writes them to) makes that durable before asking for the next page, or
//! in its own [`CheckpointStore::save`] before the checkpoint's.
//!
//! ## Events
//! The Pacer's events go to `tracing` by the core's one forwarder ([`paceline::trace::forward`],
//! target `paceline::trace`): `warn` for a retry, a pause, a request given up and an ignored
//! header value, with structured fields; then to [`Client::on_event`]'s observer. The pump
//! that forwards them is the one both drivers share ([`paceline_driver::Paced`]).
//!
//! ## Features
//! - `tls` (default): HTTPS through rustls with the webpki roots (ureq's `rustls` feature).
//!
//! [ureq]: https://docs.rs/ureq/3
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod batch;
mod client;
mod pages;
mod shared;
mod timeouts;
mod transport;

pub use batch::{WriteError, WriteReport};
pub use client::{Client, DEFAULT_BODY_LIMIT};
pub use paceline::exchange::AttemptRecord;
pub use paceline_driver::{
    CheckpointFile, CheckpointStore, DEFAULT_PAGE_RETRIES, PageOptions, write_atomically,
};

/// Why [`Client::send`] returned no response: the Pacer gave up (with every attempt's
/// outcome), the request could not be built (ureq's error: no scheme or host in the URI, an
/// invalid header, a proxy URL that does not parse, `http` under `https_only`), or a body was
/// over [`Client::body_limit`]. A response of any status, a final 404 included, is `Ok`.
pub type Error = paceline::exchange::SendError<ureq::Error>;
pub use paceline::paginate::EVENTS_KEPT;
pub use paceline::paginate::{Delivered, Record, RecordPage, Resume};
pub use pages::Pages;
pub use shared::SharedStore;

/// Why [`Pages`] stopped: the core's [`paceline::paginate::PagesError`] with this client's
/// [`Error`] for a failed request. After an error the iterator is over (it returns `None`).
pub type PagesError = paceline::paginate::PagesError<Error>;
pub use timeouts::{
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, Timeouts,
};

/// The ureq version this crate drives, re-exported for building an [`ureq::Agent`] to pass to
/// [`Client::with_agent`].
pub use ureq;
