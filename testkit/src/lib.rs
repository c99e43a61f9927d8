//! Test tools for paceline: server models, live datasets, a virtual-time simulator, scenarios
//! as data, and a loopback HTTP server.
//!
//! - [`model`]: sans-IO servers (limiters, header dialects, chaos) answering requests.
//! - [`dataset`]: records inserted and deleted while a client pages, served in every pagination
//!   style, with the ground truth to check a walk against.
//! - [`sim`]: the Pacer (and, in [`sim::walk`], a pagination walk) against a model in virtual
//!   time: a trace and a [`sim::Report`].
//! - [`scenario`]: all of it described by a TOML file (`testkit/scenarios/`).
//!
//! [`LoopbackServer`] serves scripted answers ([`Script`], [`ScriptedResponse`]) or those of any
//! [`Responder`] over real HTTP on `127.0.0.1`, and records what it received
//! ([`ReceivedRequest`]). [`StallingServer`] stalls instead ([`Stall`]: after the head, a body
//! trickled a byte at a time, no answer, no accept), for testing timeouts.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod dataset;
pub mod model;
mod redis_server;
pub mod scenario;
pub mod server;
pub mod sim;

pub use redis_server::RedisServer;
pub use server::{
    LoopbackServer, ReceivedRequest, Responder, Script, ScriptedResponse, Stall, StallingServer,
};
