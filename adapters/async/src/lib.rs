//! # paceline-async
//!
//! An async driver for [`paceline`]'s sans-IO machines.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod checkpoint;
mod client;
mod error;
mod events;
mod pages;
mod timeouts;
mod transport;

pub use checkpoint::{CheckpointFile, CheckpointStore};
pub use client::{Client, ClientBuilder, DEFAULT_BODY_LIMIT};
pub use error::{AttemptRecord, Error};
pub use paceline::paginate::{Delivered, Record, RecordPage, Resume};
pub use pages::{EVENTS_KEPT, PageOptions, Pages, PagesError};
pub use timeouts::{
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, Timeouts,
};
pub use transport::{Failure, HttpTransport, MAX_IDLE_AGE, MAX_IDLE_PER_ORIGIN, Transport};
