//! # paceline
//!
//! Production-safe HTTP API clients, as deterministic state machines: stay under rate limits,
//! recover correctly when you hit one, stop hammering a broken service, and page through every
//! record. This crate is **sans-IO**: it never opens a socket, sleeps, reads a clock or spawns a
//! thread. You (or an adapter such as `paceline-ureq`) do the I/O and feed back what happened,
//! with the time; the machines say what to do next.
//!
//! The parts:
//! - [`headers`]: what servers say about their limits (`Retry-After`, `X-RateLimit-*`, the IETF
//!   `RateLimit` fields, vendor dialects) as one typed [`headers::Signal`];
//! - [`retry`]: which outcomes to retry, when, and when to give up;
//! - [`throttle`]: staying under every limit before a 429 is needed — exact GCRA buckets
//!   (per second, minute, day), routes, windows the server reports spread evenly, discovery of
//!   undocumented limits, concurrency, quotas, priorities and shares;
//! - [`breaker`]: circuit breakers that stop sending to a failing service, probe it, and resume;
//! - [`Pacer`]: the object you hold, asked before each request and told after (retry,
//!   throttle and, when configured, a breaker per host, composed);
//! - [`batch`]: bulk writes in chunks, per-record results, only the failed records again;
//! - [`shared`]: a budget shared by many processes through a store (Redis): the Pacer asks
//!   the store for tokens before each attempt ([`Begin::Reserve`]), the driver asks it;
//! - [`exchange`]: one request through the Pacer, start to final answer (attempts, waits,
//!   permits, redirects): the loop every driver would otherwise write;
//! - [`paginate`]: one machine per walk through a list endpoint, every record exactly once,
//!   with checkpoints that survive a crash ([`paginate::Walk`]), and the page pump above it
//!   ([`paginate::Pages`]: request slots, resends, deliver-then-save) that every driver runs.
//!
//! The whole loop, with a fake server that answers 503 twice:
//!
//! ```
//! use http::{HeaderMap, Method, StatusCode};
//! use paceline::{Begin, Finish, Now, Pacer, PacerConfig};
//! use std::time::{Instant, SystemTime};
//!
//! let mut pacer = Pacer::new(PacerConfig::default(), 7);
//! let mut now = Now::new(Instant::now(), SystemTime::now());
//! let mut server = [StatusCode::SERVICE_UNAVAILABLE, StatusCode::SERVICE_UNAVAILABLE, StatusCode::OK].into_iter();
//! let mut call = pacer.call(&Method::GET, &HeaderMap::new());
//! loop {
//!     match pacer.poll_send(&mut call, now) {
//!         Begin::Send => {}
//!         Begin::Wait(t) => { now = now.at(t); continue } // sleep until t
//!         Begin::Reject(e) => panic!("{e}"),
//!         Begin::WaitForPermit => unreachable!("no concurrency limit configured"),
//!         Begin::Reserve(_) => unreachable!("no shared budget configured"),
//!     }
//!     let status = server.next().unwrap();                // send the request
//!     match pacer.on_response(&mut call, now, status, &HeaderMap::new()) {
//!         Finish::Done => break,
//!         Finish::RetryAt(t) => now = now.at(t),          // sleep until t
//!         Finish::Fail(e) => panic!("{e}"),
//!     }
//! }
//! assert_eq!(call.attempts(), 3);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod batch;
pub mod breaker;
mod civil;
mod error;
pub mod exchange;
pub mod headers;
mod json;
mod pacer;
pub mod paginate;
pub mod redirect;
pub mod retry;
mod serde_secs;
pub mod shared;
pub mod throttle;
mod time;
#[cfg(feature = "tracing")]
pub mod trace;

pub use error::{Attempted, Error};
pub use pacer::{Begin, Call, Event, Finish, Pacer, PacerConfig, PauseCause, RetrySafe};
pub use time::Now;
