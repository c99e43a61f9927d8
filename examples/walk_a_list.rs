//! A blocking script that takes every record out of a rate-limited, paginated API, and can be
//! killed and run again without losing or repeating a record.
//!
//! It starts its own API on loopback (the testkit's live dataset: 2,000 records behind GitHub's
//! rate-limit headers and `Link` pagination), then walks it with `paceline-ureq`:
//!
//! ```sh
//! cargo run -p paceline-examples --example walk_a_list
//! ```

use std::time::SystemTime;

use paceline::PacerConfig;
use paceline_testkit::LoopbackServer;
use paceline_testkit::dataset::{DataStyle, Dataset, DatasetSpec};
use paceline_testkit::model::{Dialect, Latency, LimiterKind, LimiterSpec, ServerModel};
use paceline_ureq::{Client, PageOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The API: 2,000 records, 100 a page, at most 200 requests a minute, GitHub's headers. Its
    // next links are absolute, so the dataset is told the server's URL once it listens.
    let mut spec = DatasetSpec::new(DataStyle::Link, 2_000);
    let (server, _model) = LoopbackServer::start_model_at(|url| {
        spec.base_url = url.to_string();
        ServerModel::new(7, SystemTime::now())
            .dialect(Dialect::Github)
            .latency(Latency {
                base_ms: 2.0,
                jitter_ms: 2.0,
            })
            .limiter(LimiterSpec::new(LimiterKind::FixedWindow {
                limit: 200,
                window_s: 60.0,
            }))
            .app(Dataset::new(spec.clone(), 7))
    })?;

    // The client: the Pacer follows the headers; the walk checkpoints after every page, so a
    // second run after a kill resumes where this one stopped.
    let client = Client::new(PacerConfig::default());
    let checkpoint = std::env::temp_dir().join("paceline-walk-a-list.checkpoint");
    let options = PageOptions::new().checkpoint_file(&checkpoint);
    let mut records = 0u64;
    for record in client.pages(Some(spec.page_spec()), spec.template(), options)? {
        let value: serde_json::Value = record?.parse()?;
        if records.is_multiple_of(500) {
            println!("record {records}: id {}", value["id"]);
        }
        records += 1;
    }
    println!("{records} records from {}", server.url());
    std::fs::remove_file(&checkpoint).ok();
    Ok(())
}
