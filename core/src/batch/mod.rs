//! Batch writes: the write side of an API. A [`Batcher`] chunks records to an endpoint's
//! limits ([`BatchSpec`]), reads per-record results from each response, and re-queues only the
//! records that failed ([`BatchReport`]).

mod batcher;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use batcher::Batcher;

use crate::json::{BodyError, Pointer};

/// How an endpoint takes batches and reports per-record results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BatchSpec {
    /// Records per batch at most. Default 100 (HubSpot's batch endpoints; Salesforce sObject
    /// Collections take 200).
    pub max_records: usize,
    /// Bytes per batch body at most. Default 1 MiB (most gateways take more; few bodies need
    /// more).
    pub max_bytes: usize,
    /// The body around the records (other members: `allOrNone`, an index name). Default `{}`.
    pub body: Value,
    /// Where the records' array goes in the body. Default `/records`; `""` sends the array
    /// alone.
    pub items: Pointer,
    /// Where the per-record results are in a response. Default `""` (the body is the array).
    pub results: Pointer,
    /// Inside a result: the record's position in the batch. Default none: results are in the
    /// records' order.
    pub index: Option<Pointer>,
    /// Inside a result: a boolean, true on success.
    pub ok: Option<Pointer>,
    /// Inside a result: an HTTP-like status, 2xx on success.
    pub status: Option<Pointer>,
    /// Inside a result: a boolean, true when the failure may be retried (overrides the status
    /// rule).
    pub retryable: Option<Pointer>,
    /// Inside a result: the error, kept (as compact JSON, at most 256 bytes) in the report.
    pub error: Option<Pointer>,
    /// Attempts per record, the first included. Default 4 (as [`crate::retry::RetryPolicy`]).
    pub max_attempts: u32,
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec {
            max_records: 100,
            max_bytes: 1 << 20,
            body: Value::Object(serde_json::Map::new()),
            items: Pointer::from_static("/records"),
            results: Pointer::root(),
            index: None,
            ok: None,
            status: None,
            retryable: None,
            error: None,
            max_attempts: 4,
        }
    }
}

impl BatchSpec {
    /// Salesforce sObject Collections (`POST /composite/sobjects`): `{"allOrNone":false,
    /// "records":[…]}`, at most 200 records, results in order with `success` and `errors`.
    /// Source: Salesforce REST API Developer Guide, "sObject Collections".
    pub fn salesforce() -> Self {
        BatchSpec {
            max_records: 200,
            body: serde_json::json!({"allOrNone": false}),
            ok: Some(Pointer::from_static("/success")),
            error: Some(Pointer::from_static("/errors")),
            ..BatchSpec::default()
        }
    }

    /// Sets [`BatchSpec::max_records`] (at least 1).
    pub fn max_records(mut self, n: usize) -> Self {
        self.max_records = n.max(1);
        self
    }

    /// Sets [`BatchSpec::max_bytes`].
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// Sets [`BatchSpec::max_attempts`] (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
}

/// A batch to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    id: u64,
    body: Vec<u8>,
    len: usize,
}

impl Batch {
    /// Its id, for [`Batcher::on_response`].
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The request body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Takes the request body.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// Records in it.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no record (never, for a batch from [`Batcher::poll_batch`]).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Why a record failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFailure {
    /// The per-record status, or the response's when the whole batch failed.
    pub status: Option<u16>,
    /// The endpoint's error for the record (compact JSON, at most 256 bytes).
    pub error: Option<String>,
    /// Whether it could be retried.
    pub retryable: bool,
}

/// A record given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecord {
    /// The record, as pushed.
    pub record: Vec<u8>,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure.
    pub reason: ItemFailure,
}

/// What one batch's response did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BatchReport {
    /// Records written.
    pub ok: u32,
    /// Records that failed and were re-queued.
    pub requeued: u32,
    /// Records given up on.
    pub failed: Vec<FailedRecord>,
}

/// A batcher misused, or a spec that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchError {
    /// The record alone is larger than a batch may be.
    RecordTooLarge {
        /// Its size.
        len: usize,
        /// The most a record may take in a batch.
        max: usize,
    },
    /// The record is not one JSON value.
    NotJson,
    /// The spec's items pointer cannot be set in its body.
    BadItems,
    /// No batch with this id is in flight.
    UnknownBatch(u64),
    /// A response is unreadable (not JSON, no results array). [`Batcher::on_response`] no
    /// longer returns it: the batch's records are settled as retryable failures whose reason
    /// names the body's fault, and reported.
    Unreadable(Option<BodyError>),
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::RecordTooLarge { len, max } => {
                write!(f, "record of {len} bytes, a batch takes at most {max}")
            }
            BatchError::NotJson => f.write_str("record is not one JSON value"),
            BatchError::BadItems => f.write_str("items pointer cannot be set in the batch body"),
            BatchError::UnknownBatch(id) => write!(f, "no batch {id} in flight"),
            BatchError::Unreadable(Some(e)) => write!(f, "batch response unreadable: {e}"),
            BatchError::Unreadable(None) => f.write_str("batch response has no results array"),
        }
    }
}

impl std::error::Error for BatchError {}

#[cfg(test)]
mod tests;
