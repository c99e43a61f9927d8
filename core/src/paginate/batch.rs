//! Batch writes: [`Batcher`].

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::json::{self, BodyError, Scalar};
use super::pointer::Pointer;
use super::request::set_body;

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
    /// The response to a 2xx is unreadable (not JSON, no results array). The batch's records
    /// were handled as retryable failures.
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
                let why = ItemFailure {
                    status: Some(status.as_u16()),
                    error: Some(e.to_string()),
                    retryable: true,
                };
                let _ = self.settle(records.into_iter().map(|r| (r, Err(why.clone()))));
                return Err(e);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize) -> Vec<u8> {
        format!(r#"{{"n":{i}}}"#).into_bytes()
    }

    #[test]
    fn chunks_by_count_and_bytes() {
        let mut b = Batcher::new(BatchSpec::default().max_records(3)).unwrap();
        for i in 0..7 {
            b.push(rec(i)).unwrap();
        }
        let first = b.poll_batch().unwrap();
        assert_eq!(first.body(), br#"{"records":[{"n":0},{"n":1},{"n":2}]}"#);
        assert_eq!(b.poll_batch().unwrap().len(), 3);
        assert_eq!(b.poll_batch(), None, "a partial batch waits for close()");
        b.close();
        assert_eq!(b.poll_batch().unwrap().len(), 1);

        // {"records":[ + ]} is 14 bytes; each record 7, plus commas.
        let mut b = Batcher::new(BatchSpec::default().max_bytes(14 + 7 + 1 + 7)).unwrap();
        for i in 0..5 {
            b.push(rec(i)).unwrap();
        }
        b.close();
        let sizes: Vec<usize> = std::iter::from_fn(|| b.poll_batch())
            .map(|x| x.len())
            .collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(
            b.push(vec![b'1'; 30]),
            Err(BatchError::RecordTooLarge { len: 30, max: 15 })
        );
        assert_eq!(b.push(b"{".to_vec()), Err(BatchError::NotJson));
    }

    #[test]
    fn requeues_only_retryable_failures_until_attempts_run_out() {
        let spec = BatchSpec {
            results: Pointer::from_static("/results"),
            status: Some(Pointer::from_static("/status")),
            index: Some(Pointer::from_static("/i")),
            max_attempts: 2,
            ..BatchSpec::default()
        };
        let mut b = Batcher::new(spec).unwrap();
        for i in 0..4 {
            b.push(rec(i)).unwrap();
        }
        b.close();
        let batch = b.poll_batch().unwrap();
        // Out of order, by index: 0 ok, 1 throttled, 2 invalid, 3 missing.
        let resp =
            br#"{"results":[{"i":2,"status":400},{"i":0,"status":201},{"i":1,"status":429}]}"#;
        let r = b.on_response(batch.id(), StatusCode::OK, resp).unwrap();
        assert_eq!((r.ok, r.requeued), (1, 2));
        assert_eq!(r.failed.len(), 1);
        assert_eq!(r.failed[0].record, rec(2));
        assert_eq!(r.failed[0].reason.status, Some(400));
        let again = b.poll_batch().unwrap();
        assert_eq!(again.body(), br#"{"records":[{"n":1},{"n":3}]}"#);
        let r = b.on_failure(again.id()).unwrap();
        assert_eq!(r.failed.len(), 2, "second attempt was the last");
        assert!(r.failed.iter().all(|f| f.attempts == 2));
        assert!(b.is_done());
        assert_eq!(
            b.on_failure(again.id()),
            Err(BatchError::UnknownBatch(again.id()))
        );
    }

    #[test]
    fn whole_batch_statuses_and_unreadable_bodies() {
        let mut b = Batcher::new(BatchSpec::default()).unwrap();
        b.push(rec(0)).unwrap();
        b.close();
        let x = b.poll_batch().unwrap();
        let r = b.on_response(x.id(), StatusCode::BAD_REQUEST, b"").unwrap();
        assert_eq!(r.failed.len(), 1);
        assert!(!r.failed[0].reason.retryable);
        b.push(rec(1)).unwrap();
        let x = b.poll_batch().unwrap();
        assert!(matches!(
            b.on_response(x.id(), StatusCode::OK, b"{\"trunc"),
            Err(BatchError::Unreadable(Some(BodyError::Truncated)))
        ));
        assert_eq!(b.queued(), 1, "re-queued after an unreadable response");
        let x = b.poll_batch().unwrap();
        let r = b
            .on_response(x.id(), StatusCode::SERVICE_UNAVAILABLE, b"")
            .unwrap();
        assert_eq!(r.requeued, 1);
    }

    #[test]
    fn top_level_array_body() {
        let spec = BatchSpec {
            items: Pointer::root(),
            ..BatchSpec::default()
        };
        let mut b = Batcher::new(spec).unwrap();
        b.push(rec(0)).unwrap();
        b.push(rec(1)).unwrap();
        b.close();
        assert_eq!(b.poll_batch().unwrap().body(), br#"[{"n":0},{"n":1}]"#);
    }
}
