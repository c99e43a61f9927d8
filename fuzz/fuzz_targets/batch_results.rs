//! Per-record batch results read from any response body: a `BatchSpec` decoded from JSON (or,
//! when the first part is not one, a built-in spec the first byte picks), three records
//! pushed, their batch answered with a 200 (or a 207) and the body that follows the first NUL.
//! Never a panic, and no record is lost: each one of the batch is written, re-queued or failed,
//! exactly once; the re-queued ones are what is queued next; a batch body is JSON. Then the
//! same body answers every resend until the batcher is done (a few rounds at most).
#![no_main]

use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use paceline::paginate::{BatchSpec, Batcher};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |&b| b == 0);
    let head = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let spec = match serde_json::from_slice::<BatchSpec>(head) {
        Ok(spec) => spec,
        Err(_) => match head.first().copied().unwrap_or(0) % 3 {
            0 => BatchSpec::default(),
            1 => BatchSpec::salesforce(),
            _ => BatchSpec::default().max_records(2).max_attempts(2),
        },
    };
    let status = if head.len() % 2 == 0 {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let Ok(mut batcher) = Batcher::new(spec) else {
        return;
    };
    let mut pushed = 0usize;
    for record in [&br#"{"id":1}"#[..], br#"{"id":2,"name":"b"}"#, b"3"] {
        if batcher.push(record.to_vec()).is_ok() {
            pushed += 1;
        }
    }
    batcher.close();
    let (mut written, mut failed) = (0usize, 0usize);
    for _ in 0..8 {
        let Some(batch) = batcher.poll_batch() else {
            break;
        };
        assert!(
            serde_json::from_slice::<serde_json::Value>(batch.body()).is_ok(),
            "{:?}",
            String::from_utf8_lossy(batch.body())
        );
        let queued_before = batcher.queued();
        let n = batch.len();
        let report = batcher
            .on_response(batch.id(), status, body)
            .expect("a batch it made");
        let requeued = usize::try_from(report.requeued).unwrap();
        let ok = usize::try_from(report.ok).unwrap();
        assert_eq!(ok + requeued + report.failed.len(), n);
        assert_eq!(batcher.queued(), queued_before + requeued);
        written += ok;
        failed += report.failed.len();
    }
    if batcher.is_done() {
        assert_eq!(written + failed, pushed);
    }
});
