//! Several partitions of one API extracted concurrently under smol, one budget for all: three
//! lists walked at once by one client (20 requests a second, 2 in flight), each walk with 2
//! pages in flight of its own, against a loopback server. Then the same client under
//! async-std (discontinued upstream; smol is its successor).
//!
//! `cargo run -p paceline-async --example partitions`

use std::time::Instant;

use futures_lite::StreamExt;
use paceline::PacerConfig;
use paceline::paginate::{PageSpec, RequestTemplate};
use paceline::throttle::{Limit, ThrottleConfig};
use paceline_async::{Client, PageOptions};
use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Every list has 25 records, in offset pages of 5.
    let server = LoopbackServer::start_with(|r: &ReceivedRequest| {
        let at: u64 = r
            .path
            .split("offset=")
            .nth(1)
            .map_or(0, |v| v.split('&').next().unwrap().parse().unwrap());
        let items: Vec<String> = (at..(at + 5).min(25))
            .map(|i| format!(r#"{{"id":{i}}}"#))
            .collect();
        ScriptedResponse::new(200).json(&format!(r#"{{"data":[{}],"total":25}}"#, items.join(",")))
    })?;
    let throttle = ThrottleConfig::default()
        .limit(Limit::per_second(20))
        .concurrency(2);
    let client = Client::new(PacerConfig::default().throttle(throttle));
    let spec = PageSpec::offset("/data", 5).total("/total");
    let start = Instant::now();
    let counts = smol::block_on(async {
        let walks: Vec<_> = ["eu", "us", "apac"]
            .into_iter()
            .map(|region| {
                let (client, spec) = (client.clone(), spec.clone());
                let template =
                    RequestTemplate::get(&format!("{}/regions/{region}/orders", server.url()));
                smol::spawn(async move {
                    let pages = client
                        .pages(Some(spec), template?, PageOptions::new().concurrency(2))
                        .await?;
                    let records: Vec<_> = pages.into_stream().try_collect().await?;
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>((region, records.len()))
                })
            })
            .collect();
        let mut counts = Vec::new();
        for walk in walks {
            counts.push(walk.await);
        }
        counts
    });
    for count in counts {
        let (region, n) = count.map_err(|e| e.to_string())?;
        println!("{region}: {n} records");
    }
    println!(
        "{} requests in {:?} (20 a second allowed)",
        server.received().len(),
        start.elapsed()
    );

    // The same client under async-std.
    let url = format!("{}/regions/eu/orders?offset=20", server.url());
    let response = async_std::task::block_on(client.get(&url))?;
    println!(
        "async-std: {} ({} bytes)",
        response.status(),
        response.body().len()
    );
    Ok(())
}
