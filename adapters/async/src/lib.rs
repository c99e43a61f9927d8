//! # paceline-async
//!
//! An async driver for [`paceline`]'s sans-IO machines: [`Client`] pumps the core's
//! [`Exchange`](paceline::exchange::Exchange) for every request under **one shared
//! [`Pacer`](paceline::Pacer)**, and [`Client::pages`] pumps the core's page machine
//! ([`paceline::paginate::Pages`]) with several exchanges in flight. It holds no policy of its
//! own: what to retry, how long to wait, what to strip from a redirect, when to resend a page
//! and when to save a checkpoint are all the machines'.
//!
//! ```
//! use std::time::Duration;
//! use paceline::PacerConfig;
//! use paceline::retry::{Jitter, RetryPolicy};
//! use paceline_async::Client;
//! use paceline_testkit::{LoopbackServer, Script, ScriptedResponse};
//!
//! // A server that is briefly unavailable.
//! let server = LoopbackServer::start(Script::new().route(
//!     "/items",
//!     [ScriptedResponse::new(503), ScriptedResponse::new(200).body("[1, 2, 3]")],
//! ))?;
//! let policy = RetryPolicy::default().base(Duration::from_millis(20)).jitter(Jitter::None);
//! let client = Client::new(PacerConfig::default().retry(policy));
//!
//! let url = format!("{}/items", server.url());
//! // Any executor that polls async-io timers: smol, async-std, or a bare block_on.
//! let response = smol::block_on(async {
//!     // Many tasks, one budget: clones share the Pacer.
//!     let tasks: Vec<_> = (0..4)
//!         .map(|_| {
//!             let (client, url) = (client.clone(), url.clone());
//!             smol::spawn(async move { client.get(&url).await })
//!         })
//!         .collect();
//!     let mut last = None;
//!     for t in tasks {
//!         last = Some(t.await);
//!     }
//!     last.unwrap()
//! })?;
//! assert_eq!(response.body(), b"[1, 2, 3]");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The loop [`Client::send`] runs:
//!
//! ```text
//! exchange = Exchange::new(pacer, request)               (lock held for the call only)
//! loop:
//!     exchange.poll(pacer, now) ─ Wait(t) ──────► Timer::at(t).await, poll again
//!        │                      ─ WaitForPermit ► await the client's event (notified after
//!        │                                        every report or cancel), poll again
//!        │                      ─ Done(r) ──────► Ok(r)  ─ Fail(e) ─► Err(exchange.gave_up(e))
//!        ▼ Send(request)
//!     transport.send(request, body_limit).await     (the lock is never held here)
//!        ▼
//!     exchange.report(pacer, head's arrival time, outcome)
//!     then notify the waiting tasks; forward the Pacer's events to `tracing`
//! drop of the future with an attempt sent ─► exchange.cancel (permit and reservation back)
//! ```
//!
//! A pause (a `Retry-After`, a budget running low, an open breaker) lives in the shared
//! Pacer, so every task of the client waits, not only the one that saw it.
//!
//! ## Runtimes
//! Timers are `async-io`'s ([`async_io::Timer`]), sockets `async-net`'s (`async-io`'s
//! `Async<TcpStream>`, with host names resolved on the blocking pool),
//! futures `futures-lite`'s; the crate has no executor of its own and spawns nothing (DNS
//! lookups of host names and checkpoint writes run on the [`blocking`] pool). It runs under
//! `smol` and under `async-std` (both on the `async-io` reactor; the tests run under both).
//! async-std is discontinued upstream: smol is its successor, and new code should use smol.
//!
//! ## The transport, and why ureq-proto
//! [`HttpTransport`] drives [`ureq_proto`], the sans-IO HTTP/1.1 client machine under ureq 3,
//! over `async-io` sockets. Chosen over hyper 1 because:
//! - it is already in the workspace's dependency tree (ureq 3.5 depends on ureq-proto 0.7),
//!   so both drivers speak HTTP/1.1 through the same protocol code: a server quirk handled
//!   for one is handled for the other;
//! - it is sans-IO, the shape of this project: the driver owns sockets and timers, the
//!   machine owns the protocol, so the timeouts are plain `async-io` timers and nothing needs
//!   a `hyper::rt` executor or timer glue;
//! - it is small: hyper 1 would add hyper, h1 glue (`smol-hyper`), `http-body`,
//!   `http-body-util` and their trees to a clean build.
//!
//! It keeps idle keep-alive connections per origin ([`MAX_IDLE_PER_ORIGIN`], for
//! [`MAX_IDLE_AGE`]; one found closed by the server is dropped before use), applies the
//! [`Timeouts`] (connect, idle, whole attempt) and a response body limit, and maps I/O
//! errors to the Pacer's transport errors as `paceline-ureq` does: refused connections,
//! unknown hosts and connect timeouts never left (kind `Connect`/`Timeout`, before sending);
//! after connecting, in doubt an attempt counts as sent (resets, closed connections: `Reset`;
//! timeouts: `Timeout`; TLS or protocol errors: `Other`, never retried). Any other
//! [`Transport`] can be plugged in with [`ClientBuilder::transport`].
//!
//! ## Walking a list
//! [`Client::pages`] returns [`Pages`]: records one at a time ([`Pages::next_record`]), a
//! page at a time ([`Pages::next_page`]) or as a `Stream` ([`Pages::into_stream`]). Each
//! `Send` of the machine becomes a `send` future kept in the walk, so with
//! [`PageOptions::concurrency`] up to that many page requests are truly in flight, all under
//! the client's Pacer; a checkpoint is saved through a [`CheckpointStore`] (on the blocking
//! pool) only after its page was handed out. Several partitions walked at once under one
//! budget are several walks of one client (see `two_partitions_share_one_client_and_its_concurrency_limit`
//! in `tests/pages.rs`).
//!
//! ## Events
//! The Pacer's events go to `tracing` by the core's forwarder ([`paceline::trace::forward`]),
//! then to [`ClientBuilder::on_event`]'s observer, from the pump both drivers share
//! ([`paceline_driver::SharedPacer`]); the page machine's go to `tracing` with their codes.
//!
//! ## Features
//! - `tls` (default): HTTPS through rustls (`futures-rustls`, the ring provider, the webpki
//!   roots). Default-on: rustls and ring are already built for `paceline-ureq`'s default
//!   `tls`, so in this workspace it adds only `futures-rustls` to a build.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod pages;
mod shared;
mod transport;

pub use client::{Client, ClientBuilder, DEFAULT_BODY_LIMIT};
pub use paceline::exchange::AttemptRecord;
pub use paceline_driver::{
    CheckpointFile, CheckpointStore, DEFAULT_PAGE_RETRIES, PageOptions, write_atomically,
};

/// Why [`Client::send`] returned no response: the Pacer gave up (with every attempt's
/// outcome), the request could not be sent at all (a relative URI, an unsupported scheme, an
/// invalid header: the transport's description), or a body was over
/// [`ClientBuilder::body_limit`]. A response of any status, a final 404 included, is `Ok`.
pub type Error = paceline::exchange::SendError<String>;
/// How long one attempt may take: the core's timeouts, enforced by [`HttpTransport`] on every
/// attempt (`None`: no limit).
pub use paceline::exchange::{
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, Timeouts,
};
pub use paceline::paginate::EVENTS_KEPT;
pub use paceline::paginate::{Delivered, Record, RecordPage, Resume};
pub use pages::{Pages, PagesError};
pub use shared::{SharedStore, StoreFuture};
pub use transport::{HttpTransport, MAX_IDLE_AGE, MAX_IDLE_PER_ORIGIN, Transport};
