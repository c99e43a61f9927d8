//! Bulk writes through the ureq client against a loopback endpoint that answers per record:
//! only the records that failed retryably go again, permanent failures are reported, nothing
//! is written twice, and a whole batch the server refuses with a 503 is sent again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paceline::PacerConfig;
use paceline::batch::BatchSpec;
use paceline::paginate::Pointer;
use paceline::retry::{Jitter, RetryPolicy};
use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};
use paceline_ureq::Client;
use serde_json::Value;

/// The endpoint: `{"records":[{"id":N},…]}` in, `[{"status":S,"error":…},…]` out. Record ids
/// ending in 3 fail with a retryable 503 the first time; ids 7, 32, 57… (25k + 7) are refused
/// for good (400); the third batch request is refused whole with a 503 once.
fn endpoint(written: Arc<Mutex<HashMap<u64, u32>>>) -> LoopbackServer {
    let seen: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
    let batches = Arc::new(Mutex::new(0u32));
    LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let mut n = batches.lock().unwrap();
        *n += 1;
        if *n == 3 {
            return ScriptedResponse::new(503);
        }
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let results: Vec<String> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rec| {
                let id = rec["id"].as_u64().unwrap();
                let tries = {
                    let mut seen = seen.lock().unwrap();
                    let t = seen.entry(id).or_insert(0);
                    *t += 1;
                    *t
                };
                if id % 25 == 7 {
                    r#"{"status":400,"error":{"code":"INVALID"}}"#.to_string()
                } else if id % 10 == 3 && tries == 1 {
                    r#"{"status":503}"#.to_string()
                } else {
                    *written.lock().unwrap().entry(id).or_insert(0) += 1;
                    r#"{"status":201}"#.to_string()
                }
            })
            .collect();
        ScriptedResponse::new(200).json(&format!("[{}]", results.join(",")))
    })
    .expect("loopback server")
}

#[test]
fn only_failed_records_go_again_and_nothing_is_written_twice() {
    let written = Arc::default();
    let server = endpoint(Arc::clone(&written));
    let client = Client::new(
        PacerConfig::default().retry(
            RetryPolicy::default()
                .base(Duration::from_millis(5))
                .jitter(Jitter::None)
                // The whole-batch 503 is retried: the batch carries a key the server could
                // use to apply it once.
                .attach_idempotency_keys(true),
        ),
    );
    let mut spec = BatchSpec::default().max_records(40);
    spec.status = Some(Pointer::parse("/status").unwrap());
    spec.error = Some(Pointer::parse("/error").unwrap());
    let (template, ()) = http::Request::post(format!("{}/bulk", server.url()))
        .body(())
        .unwrap()
        .into_parts();
    let records = (0..250u64).map(|i| format!(r#"{{"id":{i}}}"#).into_bytes());

    let report = client.write_batches(&template, spec, records).unwrap();

    let refused: Vec<u64> = (0..250).filter(|i| i % 25 == 7).collect();
    assert_eq!(report.written, 250 - refused.len() as u64, "{report:?}");
    let mut failed: Vec<u64> = report
        .failed
        .iter()
        .map(|f| {
            assert_eq!(f.reason.status, Some(400));
            assert!(!f.reason.retryable);
            assert_eq!(f.reason.error.as_deref(), Some(r#"{"code":"INVALID"}"#));
            let v: Value = serde_json::from_slice(&f.record).unwrap();
            v["id"].as_u64().unwrap()
        })
        .collect();
    failed.sort_unstable();
    assert_eq!(failed, refused);
    let retried = (0..250).filter(|i| i % 10 == 3 && i % 25 != 7).count() as u64;
    assert_eq!(report.requeued, retried);
    let written = written.lock().unwrap();
    assert_eq!(written.len() as u64, report.written);
    assert!(written.values().all(|&n| n == 1), "a record written twice");
    // 250 records in batches of 40 and the re-queued ones after them; the 503'd batch is the
    // Pacer's retry, not a batch of ours.
    assert!(report.batches >= 7 && report.batches <= 9, "{report:?}");
    let received = server.received();
    assert!(
        received
            .iter()
            .all(|r| r.header("idempotency-key").is_some()),
        "every batch carries a key"
    );
}

#[test]
fn a_record_that_is_not_json_stops_the_write_with_what_was_done() {
    let written = Arc::default();
    let server = endpoint(written);
    let client = Client::new(PacerConfig::default());
    let (template, ()) = http::Request::post(format!("{}/bulk", server.url()))
        .body(())
        .unwrap()
        .into_parts();
    let records = vec![br#"{"id":1}"#.to_vec(), b"not json".to_vec()];
    let err = client
        .write_batches(&template, BatchSpec::default(), records)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            paceline_ureq::WriteError::Batch {
                error: paceline::batch::BatchError::NotJson,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        server.received().is_empty(),
        "the first record had not filled a batch yet"
    );
}
