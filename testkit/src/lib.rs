//! Test tools for paceline: a scripted loopback HTTP server (more to come: server models and a
//! virtual-time simulator).
//!
//! [`LoopbackServer`] serves scripted answers ([`Script`], [`ScriptedResponse`]) or those of any
//! [`Responder`] over real HTTP on `127.0.0.1`, and records what it received
//! ([`ReceivedRequest`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod dataset;
pub mod model;
pub mod scenario;
pub mod server;
pub mod sim;

pub use server::{LoopbackServer, ReceivedRequest, Responder, Script, ScriptedResponse};
