//! Tests of the batcher: chunking by count and bytes, re-queueing retryable failures, whole-batch
//! statuses and unreadable bodies.

use http::StatusCode;

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
    let resp = br#"{"results":[{"i":2,"status":400},{"i":0,"status":201},{"i":1,"status":429}]}"#;
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
    let r = b.on_response(x.id(), StatusCode::OK, b"{\"trunc").unwrap();
    assert_eq!(
        (r.ok, r.requeued),
        (0, 1),
        "re-queued after an unreadable response"
    );
    assert_eq!(b.queued(), 1);
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
