//! The core without an adapter: a hand-written loop over `std::net` pumps the two machines
//! every driver pumps (the page machine, [`Pages`], and one [`Exchange`] per request through
//! a shared [`Pacer`]), against the testkit's loopback API: a cursor list of 1,000 records
//! behind a 20-requests-a-second limiter that says so in `X-RateLimit-*` headers, with 5 % of
//! responses a 503. No runtime, no HTTP client: the proof that the core fits any runtime.
//!
//! ```sh
//! cargo run -p paceline-examples --example custom_runtime
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Instant, SystemTime};

use http::{Request, Response};
use paceline::exchange::{Exchange, ExchangeConfig, Step};
use paceline::paginate::{Output, Pages, PagesConfig};
use paceline::{Now, Pacer, PacerConfig};
use paceline_testkit::LoopbackServer;
use paceline_testkit::dataset::{DataStyle, Dataset, DatasetSpec};
use paceline_testkit::model::{Chaos, Dialect, LimiterKind, LimiterSpec, ServerModel};

type Failure = Box<dyn std::error::Error>;

fn now() -> Now {
    Now::new(Instant::now(), SystemTime::now())
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`), parsed by `httparse`.
fn http(request: &Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Failure> {
    let uri = request.uri();
    let authority = uri.authority().ok_or("no host")?.as_str();
    let mut tcp = TcpStream::connect(authority)?;
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {authority}\r\n",
        request.method()
    );
    for (name, value) in request.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str()?));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body().len()
    ));
    tcp.write_all(head.as_bytes())?;
    tcp.write_all(request.body())?;
    let mut bytes = Vec::new();
    tcp.read_to_end(&mut bytes)?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(body_at) = parsed.parse(&bytes)? else {
        return Err("a response cut short".into());
    };
    let mut response = Response::builder().status(parsed.code.ok_or("no status")?);
    for h in parsed.headers.iter() {
        response = response.header(h.name, h.value);
    }
    Ok(response.body(bytes[body_at..].to_vec())?)
}

/// One request through the Pacer: the exchange says when to send, wait, retry or stop.
fn exchange(pacer: &mut Pacer, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Failure> {
    let mut exchange = Exchange::new(pacer, request, &ExchangeConfig::default())?;
    loop {
        match exchange.poll(pacer, now()) {
            Step::Send(request) => match http(&request) {
                Ok(response) => exchange.on_response(pacer, now(), response),
                Err(_) => {
                    let e = paceline::retry::TransportError::after_send(
                        paceline::retry::TransportKind::Other,
                    );
                    exchange.on_transport_error(pacer, now(), e);
                }
            },
            Step::Wait(until) => {
                std::thread::sleep(until.saturating_duration_since(Instant::now()))
            }
            Step::WaitForPermit => unreachable!("one request at a time"),
            Step::Reserve(_) => unreachable!("no shared budget configured"),
            Step::Done(response) => return Ok(response),
            Step::Fail(e) => return Err(e.into()),
        }
    }
}

/// Walks a list of `records` at a loopback server; returns the record ids delivered and the
/// requests the server received.
pub fn walk(records: u64) -> Result<(Vec<u64>, usize), Failure> {
    let mut data = DatasetSpec::new(DataStyle::Cursor, records).page_size(50);
    let (server, _model) = LoopbackServer::start_model_at(|url| {
        data.base_url = url.to_string();
        ServerModel::new(3, SystemTime::now())
            .dialect(Dialect::XRateLimitDelta)
            .limiter(LimiterSpec::new(LimiterKind::FixedWindow {
                limit: 20,
                window_s: 1.0,
            }))
            .chaos(Chaos {
                p_503: 0.05,
                ..Chaos::default()
            })
            .app(Dataset::new(data.clone(), 3))
    })?;
    let (spec, template) = (data.page_spec(), data.template());
    let mut pacer = Pacer::new(PacerConfig::default(), 42);
    let mut pages = Pages::start(Some(spec), template, PagesConfig::default(), None)?;
    let mut ids = Vec::new();
    loop {
        match pages.poll() {
            Output::Send { slot, request } => match exchange(&mut pacer, request.to_http(&[])?) {
                Ok(r) => pages.on_response(slot, r.status(), r.headers().clone(), r.into_body()),
                Err(e) => {
                    eprintln!("page request failed: {e}");
                    pages.on_send_failed(slot);
                }
            },
            Output::Event(e) => println!("{e}"),
            Output::Deliver(page) => {
                for record in page.records() {
                    let value: serde_json::Value = serde_json::from_slice(record)?;
                    ids.push(value["id"].as_u64().ok_or("a record without an id")?);
                }
                pages.on_delivered(page.number());
            }
            // A real program writes `save.checkpoint.to_bytes()` atomically here.
            Output::Save(save) => pages.on_saved(save.page),
            Output::Idle => unreachable!("every output is answered at once"),
            Output::Done(reason) => {
                println!("done: {reason}");
                break;
            }
            Output::Failed(f) => return Err(f.into()),
        }
    }
    Ok((ids, server.received().len()))
}

fn main() -> Result<(), Failure> {
    let (ids, requests) = walk(1_000)?;
    println!("{} records in {requests} requests", ids.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hand_written_loop_delivers_every_record_once() {
        let (ids, requests) = super::walk(300).unwrap();
        let first = ids[0];
        assert_eq!(ids, (first..first + 300).collect::<Vec<_>>());
        assert!(requests >= 6, "{requests}");
    }
}
