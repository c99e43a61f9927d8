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
//! call = pacer.call(method, headers)
//! loop:
//!     poll_send(call, now)      ─ Wait(t) ─► sleep until t, read the clock, ask again
//!        │                      ─ WaitForPermit ─► block until a request of this client
//!        │                                         finishes, ask again
//!        │                      ─ Reject(e) ─► Err(GaveUp)
//!        ▼ Send
//!     agent.run(request) ─► head arrives: now ─► body read in full
//!        │
//!     on_response_body(call, now, status, headers, body)   or   on_transport_error(call, now, e)
//!        ├─ Done ─► Ok(response)          (any status: a final 404 is a response)
//!        ├─ RetryAt(t) ─► sleep until t, back to poll_send
//!        └─ Fail(e) ─► Err(GaveUp { error: e, attempts })
//! after each Pacer call: drain poll_event() into `tracing`
//! ```
//!
//! ## Transport errors
//! A ureq error that leaves no complete response is told to the Pacer as a
//! [`TransportError`](paceline::retry::TransportError): refused connections, unknown hosts
//! and connect timeouts never left (so even a POST may be retried); other timeouts, resets,
//! and connections closed before the response are *sent*; everything else (TLS, a protocol
//! error, a body over [`Client::body_limit`]) is `Other`, which the Pacer never retries. When in
//! doubt an attempt counts as sent. A body cut short after the head arrived is a transport
//! error too (the status is not reported: the Pacer sees no response). A request ureq cannot
//! even build (no host, an invalid header) is [`Error::InvalidRequest`], never retried; a call
//! abandoned between `Send` and its report (that, or a panic) is cancelled, so its concurrency
//! permit goes back.
//!
//! ## Redirects and credentials
//! ureq follows redirects itself (the Pacer sees the final response only). The `Authorization`
//! header is dropped on every redirect: ureq's only other choice, `SameHost`, ignores the port,
//! which is another origin.
//!
//! ## Events
//! The Pacer's events go to `tracing` under this crate's target: `warn` for a retry, a pause, a
//! request given up and an ignored header value, with structured fields.
//!
//! ## Features
//! - `tls` (default): HTTPS through rustls with the webpki roots (ureq's `rustls` feature).
//!
//! [ureq]: https://docs.rs/ureq/3
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod error;
mod events;
mod transport;

pub use client::{Client, DEFAULT_BODY_LIMIT};
pub use error::{AttemptRecord, Error};

/// The ureq version this crate drives, re-exported for building an [`ureq::Agent`] to pass to
/// [`Client::with_agent`].
pub use ureq;
