//! Peak memory of a page walk: walks RECORDS small records through [`Client::pages`] against a
//! loopback server in a child process (so the server's own memory is not counted), saving a
//! checkpoint after every page, and prints this process's peak RSS (`VmHWM`).
//!
//! ```text
//! cargo run --release -p paceline-ureq --example page_rss -- 100000
//! cargo run --release -p paceline-ureq --example page_rss -- 1000000
//! cargo run --release -p paceline-ureq --example page_rss -- 1000000 --page-size 1000 --no-checkpoint
//! ```
//!
//! Each page goes on a new connection unless `--keep-alive` is given: see the note in `main`.
//!
//! Linux only (it reads `/proc/self/status`). Not a benchmark: the figures that matter are the
//! peaks, which should not grow with RECORDS.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use paceline::paginate::{PageSpec, Param, RequestTemplate};
use paceline::{Pacer, PacerConfig};
use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};
use paceline_ureq::{Client, PageOptions, ureq};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        return serve(args[1].parse()?);
    }
    let total: u64 = args.first().map_or(Ok(100_000), |a| a.parse())?;
    let page_size: u64 = flag(&args, "--page-size").map_or(Ok(100), |v| v.parse())?;
    let checkpoint = !args.iter().any(|a| a == "--no-checkpoint");

    // The server, in a child process: it prints its URL, and stops when our end of its stdin
    // closes (when we exit).
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", &total.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut url = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut url)?;
    let url = url.trim().to_owned();

    let before = status("VmHWM");
    let dir = std::env::temp_dir().join(format!("paceline-page-rss-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut options = PageOptions::new();
    if checkpoint {
        options = options.checkpoint_file(dir.join("walk.json"));
    }
    // A new connection per page unless --keep-alive: on a reused connection the loopback
    // server's answers wait about 40 ms each (tiny_http's socket has Nagle on, and the relay
    // in front of it delays its ACKs), which measures the server, not the walk.
    let client = if args.iter().any(|a| a == "--keep-alive") {
        Client::new(PacerConfig::default())
    } else {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_idle_connections(0)
            .build()
            .into();
        Client::with_agent(agent, Pacer::new(PacerConfig::default(), 1))
    };
    let spec = PageSpec::cursor("/data", "/next_cursor", "cursor")
        .page_size(Param::query("limit"), page_size);
    let template = RequestTemplate::get(&format!("{url}/items"))?;

    let start = Instant::now();
    let mut count = 0u64;
    let mut bytes = 0u64;
    for record in client.pages(Some(spec), template, options)? {
        let record = record?;
        let value: serde_json::Value = record.parse()?;
        assert_eq!(
            value["id"].as_u64(),
            Some(count),
            "records in order, each once"
        );
        bytes += record.len() as u64;
        count += 1;
    }
    let elapsed = start.elapsed();
    assert_eq!(count, total);
    std::fs::remove_dir_all(&dir)?;
    drop(child.stdin.take());
    child.wait()?;

    println!(
        "records {count} ({bytes} bytes of JSON) in {} pages of {page_size}, checkpoint {}: \
         {:.1} s, {:.0} records/s",
        total.div_ceil(page_size),
        if checkpoint {
            "after every page"
        } else {
            "off"
        },
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    println!(
        "VmHWM before the walk {}, after {}; VmRSS after {}",
        before,
        status("VmHWM"),
        status("VmRSS")
    );
    Ok(())
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
}

/// A line of `/proc/self/status`, e.g. `VmHWM: 5012 kB` → `5012 kB`.
fn status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .map(|l| l[key.len() + 1..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown (not Linux)".into())
}

/// The child: a cursor list of `total` records, generated per request.
fn serve(total: u64) -> Result<(), Box<dyn std::error::Error>> {
    let server = LoopbackServer::start_with(move |r: &ReceivedRequest| {
        let param = |name: &str| -> Option<u64> {
            let (_, q) = r.path.split_once('?')?;
            q.split('&')
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| *k == name)
                .and_then(|(_, v)| v.parse().ok())
        };
        let at = param("cursor").unwrap_or(0);
        let end = (at + param("limit").unwrap_or(100)).min(total);
        let mut body = String::with_capacity(((end - at) * 40 + 40) as usize);
        body.push_str(r#"{"data":["#);
        for i in at..end {
            if i > at {
                body.push(',');
            }
            body.push_str(&format!(r#"{{"id":{i},"name":"record-{i}"}}"#));
        }
        body.push_str("],\"next_cursor\":");
        body.push_str(&if end < total {
            format!("\"{end}\"}}")
        } else {
            "null}".to_owned()
        });
        ScriptedResponse::new(200).json(&body)
    })?;
    println!("{}", server.url());
    // Serve until the parent closes our stdin.
    let mut sink = String::new();
    while std::io::stdin().read_line(&mut sink)? > 0 {}
    drop(server);
    Ok(())
}
