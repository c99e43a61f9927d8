//! Bulk writes: 1,000 records into a Salesforce-style sObject Collections endpoint (at most 200
//! records a request, `{"allOrNone":false,"records":[…]}` in, `[{"success":…,"errors":[…]},…]`
//! out), through a paced, retrying client. Records the endpoint refuses for good are reported;
//! only those it failed retryably go again.
//!
//! It starts its own endpoint on loopback (every 50th record refused, and a lock error on
//! every 7th the first time, which Salesforce reports as `UNABLE_TO_LOCK_ROW`):
//!
//! ```sh
//! cargo run -p paceline-examples --example bulk_write
//! ```

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use paceline::PacerConfig;
use paceline::batch::BatchSpec;
use paceline::paginate::Pointer;
use paceline::retry::RetryPolicy;
use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};
use paceline_ureq::Client;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let locked_once: Arc<Mutex<HashSet<u64>>> = Arc::default();
    let server = LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let empty = Vec::new();
        let results: Vec<String> = body["records"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(|rec| match rec["Id__c"].as_u64().unwrap_or(0) {
                id if id % 50 == 0 => {
                    r#"{"success":false,"errors":[{"statusCode":"REQUIRED_FIELD_MISSING"}]}"#.into()
                }
                id if id % 7 == 0 && locked_once.lock().unwrap().insert(id) => {
                    r#"{"success":false,"retry":true,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW"}]}"#.into()
                }
                id => format!(r#"{{"id":"a0{id}","success":true,"errors":[]}}"#),
            })
            .collect();
        ScriptedResponse::new(200).json(&format!("[{}]", results.join(",")))
    })?;

    // Salesforce's collections, plus where this endpoint says a failure may be retried.
    let mut spec = BatchSpec::salesforce();
    spec.retryable = Some(Pointer::parse("/retry")?);
    // Each batch carries an idempotency key, so the Pacer may send a batch again after a 503.
    let client = Client::new(
        PacerConfig::default().retry(RetryPolicy::default().attach_idempotency_keys(true)),
    );
    let (template, ()) = http::Request::post(format!("{}/composite/sobjects", server.url()))
        .body(())?
        .into_parts();
    let records = (1..=1_000u64).map(|i| format!(r#"{{"Id__c":{i},"Name":"n{i}"}}"#).into_bytes());
    let report = client.write_batches(&template, spec, records)?;
    println!(
        "{} written in {} batches, {} sent again, {} refused",
        report.written,
        report.batches,
        report.requeued,
        report.failed.len()
    );
    for f in report.failed.iter().take(3) {
        println!(
            "  refused: {} ({})",
            String::from_utf8_lossy(&f.record),
            f.reason.error.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
