//! Bulk writes: [`Client::write_batches`] drives the core's [`Batcher`] through the client, so
//! every batch is paced and retried by the Pacer, and only the records that failed go again.

use paceline::batch::{BatchError, BatchReport, BatchSpec, Batcher, FailedRecord};

use crate::Error;
use crate::client::Client;

/// What a bulk write did: records written, records given up on (with why), batches sent.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct WriteReport {
    /// Records the endpoint accepted.
    pub written: u64,
    /// Records given up on: a permanent per-record error, attempts used up, or a batch whose
    /// outcome is unknown (see [`Batcher::on_unknown`]).
    pub failed: Vec<FailedRecord>,
    /// Batches sent (each through the Pacer, its own retries aside).
    pub batches: u64,
    /// Records sent again in a later batch after a retryable failure.
    pub requeued: u64,
}

impl WriteReport {
    fn add(&mut self, r: BatchReport) {
        self.written += u64::from(r.ok);
        self.requeued += u64::from(r.requeued);
        self.failed.extend(r.failed);
    }
}

/// Why a bulk write stopped before every record was settled.
#[derive(Debug)]
#[non_exhaustive]
pub enum WriteError {
    /// A record cannot go in any batch (not JSON, larger than a batch), or the spec cannot
    /// work; `report` says what was written before.
    Batch {
        /// Why.
        error: BatchError,
        /// What was done before.
        report: WriteReport,
    },
    /// The request template cannot be sent (no absolute URI).
    InvalidRequest(Error),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Batch { error, report } => write!(
                f,
                "bulk write stopped: {error} ({} records written)",
                report.written
            ),
            WriteError::InvalidRequest(e) => write!(f, "bulk write: {e}"),
        }
    }
}

impl std::error::Error for WriteError {}

impl Client {
    /// Writes `records` (each one JSON value) in batches `spec` sizes, each a request built
    /// from `template` (method, URI, headers; `Content-Type: application/json` is added) with
    /// the batch as its body, sent through this client: paced, and retried by the Pacer's
    /// rules. Per-record results are read from each response; records that failed retryably
    /// go again in a later batch (at most [`BatchSpec::max_attempts`] times), the others are
    /// reported. A batch the Pacer gave up on is re-queued whole when it may be, or reported
    /// with an unknown outcome when it was sent without an idempotency key and its answer was
    /// lost (it may have been written: the Pacer's idempotency rules, see
    /// [`paceline::retry::RetryPolicy::attach_idempotency_keys`]).
    ///
    /// # Errors
    /// [`WriteError`]: a record no batch can take, or a template that cannot be sent.
    pub fn write_batches(
        &self,
        template: &http::request::Parts,
        spec: BatchSpec,
        records: impl IntoIterator<Item = Vec<u8>>,
    ) -> Result<WriteReport, WriteError> {
        let mut report = WriteReport::default();
        let mut batcher = match Batcher::new(spec) {
            Ok(b) => b,
            Err(error) => return Err(WriteError::Batch { error, report }),
        };
        let mut records = records.into_iter();
        loop {
            let next = records.next();
            let more = next.is_some();
            match next {
                Some(record) => {
                    if let Err(error) = batcher.push(record) {
                        return Err(WriteError::Batch { error, report });
                    }
                }
                None => batcher.close(),
            }
            while let Some(batch) = batcher.poll_batch() {
                let id = batch.id();
                let mut parts = template.clone();
                parts.headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                let request = http::Request::from_parts(parts, batch.into_body());
                report.batches += 1;
                let settled = match self.send(request) {
                    Ok(response) => batcher.on_response(id, response.status(), response.body()),
                    Err(e @ Error::InvalidRequest(_)) => return Err(WriteError::InvalidRequest(e)),
                    // Sent, no answer, and not safe to send again: it may have been written.
                    Err(Error::GaveUp {
                        error:
                            paceline::Error::NotIdempotent {
                                last: paceline::Attempted::Transport(_),
                            },
                        ..
                    }) => batcher.on_unknown(id),
                    Err(_) => batcher.on_failure(id),
                };
                match settled {
                    Ok(r) => report.add(r),
                    Err(error) => return Err(WriteError::Batch { error, report }),
                }
            }
            if !more && batcher.is_done() {
                return Ok(report);
            }
        }
    }
}
