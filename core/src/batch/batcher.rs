//! The [`Batcher`] machine: the queue of records, the batches in flight, and reading a batch's
//! response into per-record results.

use std::collections::{BTreeMap, VecDeque};

use http::StatusCode;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Batch, BatchError, BatchReport, BatchSpec, FailedRecord, ItemFailure};
use crate::json::{self, Pointer, Scalar, set_body};

#[derive(Debug, Clone)]
struct Queued {
    record: Vec<u8>,
    attempts: u32,
}

/// Batch writes: chunks records to an endpoint's limits, reads per-record results, re-queues only
/// the records that failed.
///
/// ```text
///   push(record)… close() ──► poll_batch() ── Some(batch) ──► send batch.body (through the Pacer)
///        ▲                        │ None: wait for more input, or is_done()       │
///        │                        ▼                                               ▼
///        └── failed records ◄── on_response(id, status, body) ◄── final response
///            re-queued (front)   │ or on_failure(id) when no response came
///                                └──► BatchReport { ok, requeued, failed }
/// ```
///
/// A record is one JSON value (bytes, kept as given). A batch body is [`BatchSpec::body`] with
/// the records' array at [`BatchSpec::items`]. Per-record results are read from the response at
/// [`BatchSpec::results`], matched to records by position or by [`BatchSpec::index`]. A failed
/// record is re-queued when the failure is retryable (by the retry rules: 408, 429 and 5xx, or
/// the endpoint's own flag at [`BatchSpec::retryable`]) and it has attempts left
/// ([`BatchSpec::max_attempts`]); otherwise it is reported in [`BatchReport::failed`]. Waiting
/// between attempts is the Pacer's business: the next batch goes through it like any request.
///
/// ```
/// use http::StatusCode;
/// use paceline::paginate::{Batcher, BatchSpec};
///
/// // Salesforce sObject Collections: {"allOrNone":false,"records":[…]} → [{"success":…},…]
/// let mut b = Batcher::new(BatchSpec::salesforce()).unwrap();
/// for i in 0..3 { b.push(format!(r#"{{"Name":"n{i}"}}"#).into_bytes()).unwrap(); }
/// b.close();
/// let batch = b.poll_batch().unwrap();
/// assert_eq!(batch.len(), 3);
/// let resp = br#"[{"id":"1","success":true,"errors":[]},
///                 {"success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW"}]},
///                 {"id":"3","success":true,"errors":[]}]"#;
/// let report = b.on_response(batch.id(), StatusCode::OK, resp).unwrap();
/// assert_eq!((report.ok, report.requeued, report.failed.len()), (2, 0, 1));
/// assert!(b.is_done());
/// ```
///
#[derive(Debug, Clone)]
pub struct Batcher {
    spec: BatchSpec,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    queue: VecDeque<Queued>,
    in_flight: BTreeMap<u64, Vec<Queued>>,
    next_id: u64,
    closed: bool,
}

const SENTINEL: &str = "\u{0}paceline-batch-records\u{0}";

impl Batcher {
    /// A batcher for this endpoint.
    pub fn new(spec: BatchSpec) -> Result<Batcher, BatchError> {
        let (prefix, suffix) = if spec.items.is_root() {
            (b"[".to_vec(), b"]".to_vec())
        } else {
            let mut body = spec.body.clone();
            set_body(&mut body, &spec.items, Value::String(SENTINEL.into()))
                .map_err(|()| BatchError::BadItems)?;
            let text = body.to_string();
            let quoted = Value::String(SENTINEL.into()).to_string();
            let at = text.find(&quoted).ok_or(BatchError::BadItems)?;
            let mut prefix = text.as_bytes()[..at].to_vec();
            prefix.push(b'[');
            let mut suffix = b"]".to_vec();
            suffix.extend_from_slice(&text.as_bytes()[at + quoted.len()..]);
            (prefix, suffix)
        };
        Ok(Batcher {
            spec,
            prefix,
            suffix,
            queue: VecDeque::new(),
            in_flight: BTreeMap::new(),
            next_id: 1,
            closed: false,
        })
    }

    /// The largest record a batch can hold.
    pub fn max_record_len(&self) -> usize {
        self.spec
            .max_bytes
            .saturating_sub(self.prefix.len() + self.suffix.len())
    }

    /// Queues a record: one JSON value.
    pub fn push(&mut self, record: Vec<u8>) -> Result<(), BatchError> {
        if record.len() > self.max_record_len() {
            return Err(BatchError::RecordTooLarge {
                len: record.len(),
                max: self.max_record_len(),
            });
        }
        if serde_json::from_slice::<serde::de::IgnoredAny>(&record).is_err() {
            return Err(BatchError::NotJson);
        }
        self.queue.push_back(Queued {
            record,
            attempts: 0,
        });
        Ok(())
    }

    /// No more records will be pushed: partial batches may go.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// The next batch to send: a full one, or after [`Batcher::close`] whatever is queued.
    /// `None`: wait for more records or for responses (or, with [`Batcher::is_done`], stop).
    pub fn poll_batch(&mut self) -> Option<Batch> {
        let room = self.max_record_len();
        let (mut n, mut bytes) = (0usize, 0usize);
        let mut full = false;
        for q in &self.queue {
            let add = q.record.len() + usize::from(n > 0);
            if n == self.spec.max_records.max(1) || bytes + add > room {
                full = true;
                break;
            }
            n += 1;
            bytes += add;
        }
        if n == self.spec.max_records.max(1) {
            full = true;
        }
        if n == 0 || !(full || self.closed) {
            return None;
        }
        let records: Vec<Queued> = self
            .queue
            .drain(..n)
            .map(|mut q| {
                q.attempts += 1;
                q
            })
            .collect();
        let mut body = Vec::with_capacity(self.prefix.len() + bytes + self.suffix.len());
        body.extend_from_slice(&self.prefix);
        for (i, q) in records.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&q.record);
        }
        body.extend_from_slice(&self.suffix);
        let id = self.next_id;
        self.next_id += 1;
        self.in_flight.insert(id, records);
        Some(Batch { id, body, len: n })
    }

    /// The final response to a batch (after the Pacer's retries). A non-2xx status fails every
    /// record of the batch with that status; a 2xx is read record by record.
    pub fn on_response(
        &mut self,
        id: u64,
        status: StatusCode,
        body: &[u8],
    ) -> Result<BatchReport, BatchError> {
        let records = self
            .in_flight
            .remove(&id)
            .ok_or(BatchError::UnknownBatch(id))?;
        if !status.is_success() {
            let why = ItemFailure {
                status: Some(status.as_u16()),
                error: None,
                retryable: retryable_status(status.as_u16()),
            };
            return Ok(self.settle(records.into_iter().map(|r| (r, Err(why.clone())))));
        }
        let outcomes = match self.read(body, records.len()) {
            Ok(o) => o,
            Err(e) => {
                // Settled like a failed batch (and reported: a record out of attempts is in
                // `failed`, never dropped), the body's fault in each reason.
                let why = ItemFailure {
                    status: Some(status.as_u16()),
                    error: Some(e.to_string()),
                    retryable: true,
                };
                return Ok(self.settle(records.into_iter().map(|r| (r, Err(why.clone())))));
            }
        };
        Ok(self.settle(records.into_iter().zip(outcomes)))
    }

    /// The batch got no response (a transport error, or the Pacer gave up): every record
    /// counts the attempt and is re-queued if it has attempts left.
    pub fn on_failure(&mut self, id: u64) -> Result<BatchReport, BatchError> {
        let records = self
            .in_flight
            .remove(&id)
            .ok_or(BatchError::UnknownBatch(id))?;
        let why = ItemFailure {
            status: None,
            error: None,
            retryable: true,
        };
        Ok(self.settle(records.into_iter().map(|r| (r, Err(why.clone())))))
    }

    /// Per-record outcomes from a 2xx body.
    /// The batch was sent and no answer came, and sending it again could write its records
    /// twice (a write without an idempotency key whose connection dropped after it left: the
    /// Pacer's [`crate::Error::NotIdempotent`]). Its records are given up on, not re-queued,
    /// reported as failed with the error `"outcome unknown"` so the caller can check them.
    pub fn on_unknown(&mut self, id: u64) -> Result<BatchReport, BatchError> {
        let records = self
            .in_flight
            .remove(&id)
            .ok_or(BatchError::UnknownBatch(id))?;
        let why = ItemFailure {
            status: None,
            error: Some("outcome unknown".into()),
            retryable: false,
        };
        Ok(self.settle(records.into_iter().map(|r| (r, Err(why.clone())))))
    }

    fn read(&self, body: &[u8], n: usize) -> Result<Vec<Result<(), ItemFailure>>, BatchError> {
        let found = json::extract(body, &[&self.spec.results])
            .map_err(|e| BatchError::Unreadable(Some(e)))?;
        let results = found[0]
            .and_then(json::elements)
            .ok_or(BatchError::Unreadable(None))?;
        let no_result = ItemFailure {
            status: None,
            error: Some("no result for this record".into()),
            retryable: true,
        };
        let mut out: Vec<Result<(), ItemFailure>> = vec![Err(no_result); n];
        for (pos, r) in results.iter().enumerate() {
            let at = match &self.spec.index {
                Some(p) => match json::find(r, p).map(json::scalar) {
                    Some(Scalar::Number(t)) => t.parse::<usize>().ok(),
                    _ => None,
                },
                None => Some(pos),
            };
            if let Some(slot) = at.and_then(|i| out.get_mut(i)) {
                *slot = self.outcome(r);
            }
        }
        Ok(out)
    }

    fn outcome(&self, r: &RawValue) -> Result<(), ItemFailure> {
        let field = |p: &Option<Pointer>| p.as_ref().and_then(|p| json::find(r, p));
        let status = field(&self.spec.status).and_then(|v| match json::scalar(v) {
            Scalar::Number(t) => t.parse::<u16>().ok(),
            Scalar::Str(s) => s.parse::<u16>().ok(),
            _ => None,
        });
        let ok = match field(&self.spec.ok).map(json::scalar) {
            Some(Scalar::Bool(b)) => b,
            _ => status.is_none_or(|s| (200..300).contains(&s)),
        };
        if ok {
            return Ok(());
        }
        let retryable = match field(&self.spec.retryable).map(json::scalar) {
            Some(Scalar::Bool(b)) => b,
            _ => status.is_some_and(retryable_status),
        };
        let error = field(&self.spec.error).map(|t| {
            let mut end = t.len().min(256);
            while !t.is_char_boundary(end) {
                end -= 1;
            }
            t[..end].to_owned()
        });
        Err(ItemFailure {
            status,
            error,
            retryable,
        })
    }

    fn settle(
        &mut self,
        outcomes: impl Iterator<Item = (Queued, Result<(), ItemFailure>)>,
    ) -> BatchReport {
        let mut report = BatchReport::default();
        let mut again = Vec::new();
        for (q, outcome) in outcomes {
            match outcome {
                Ok(()) => report.ok += 1,
                Err(why) if why.retryable && q.attempts < self.spec.max_attempts => {
                    report.requeued += 1;
                    again.push(q);
                }
                Err(why) => report.failed.push(FailedRecord {
                    record: q.record,
                    attempts: q.attempts,
                    reason: why,
                }),
            }
        }
        // At the front, in their order: they go in the next batch.
        for q in again.into_iter().rev() {
            self.queue.push_front(q);
        }
        report
    }

    /// Records waiting for a batch.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Batches sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Closed, nothing queued, nothing in flight: every record was written or given up on.
    pub fn is_done(&self) -> bool {
        self.closed && self.queue.is_empty() && self.in_flight.is_empty()
    }
}

/// The retry rules' retryable statuses: 408, 429 and 5xx (never another 4xx).
fn retryable_status(s: u16) -> bool {
    s == 408 || s == 429 || (500..600).contains(&s)
}
