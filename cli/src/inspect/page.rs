//! `paceline inspect page --url REQUEST_URL [--spec SPEC.json]`: what a page walk makes of one
//! response.
//!
//! The walk is the library's own ([`Walk`]): the response is fed to it as the answer to the
//! request `--url` (with `--method` and `--body`), and the report says what it would do next.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use http::{Method, StatusCode};
use paceline::paginate::{
    After, EndReason, Guards, PageRequest, PageSpec, RequestTemplate, Url, Walk,
};
use serde::Serialize;
use serde_json::Value;

use super::{parse_head, print_json, read_stdin};

/// Arguments of `inspect page`.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// The URL of the request this response answers: the first page's request, which relative
    /// next links resolve against and the next request is built from.
    #[arg(long, value_name = "REQUEST_URL", value_parser = parse_url)]
    url: Url,
    /// How the list pages: a `PageSpec` as JSON (see the library's docs). Without it the style
    /// is detected from the response, and the spec chosen is reported in `warnings`.
    #[arg(long, value_name = "SPEC.json")]
    spec: Option<PathBuf>,
    /// The request's method (POST for GraphQL and search APIs).
    #[arg(long, default_value = "GET", value_parser = parse_method)]
    method: Method,
    /// The request's body, JSON (GraphQL's `{"query": …, "variables": …}`).
    #[arg(long, value_name = "JSON")]
    body: Option<String>,
    /// An origin (`https://host[:port]`) next URLs may lead to besides the request's; requests
    /// there carry no credentials. Repeat for more.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
}

fn parse_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("not an absolute URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!("scheme {other}: is not http or https")),
    }
}

fn parse_method(s: &str) -> Result<Method, String> {
    Method::from_bytes(s.to_ascii_uppercase().as_bytes()).map_err(|e| e.to_string())
}

/// What `inspect page` prints.
#[derive(Debug, Serialize)]
struct PageReport {
    /// The style in use (detected or given), `null` when none could be chosen.
    style: Option<&'static str>,
    /// Records on the page.
    items: usize,
    /// The next request, or `null` when there is none.
    next: Option<NextRequest>,
    /// Whether the list ends with this page (`false` when a guard stops the walk).
    end: bool,
    /// Why it ends (`has_more_false`, `no_next_link`, `total_reached`, `short_page`…), `null`
    /// when it does not.
    end_reason: Option<&'static str>,
    /// The same, for a person.
    end_detail: Option<String>,
    /// Whether `next` is a guess: nothing in the response says how to ask for the next page,
    /// and something says there may be one; a walk counts the guess only if the page it
    /// brings holds records this one did not.
    probe: bool,
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct NextRequest {
    method: String,
    url: String,
    /// The body as JSON when it is JSON, else as a string; `null` without one.
    body: Option<Value>,
}

impl NextRequest {
    fn new(r: &PageRequest) -> Self {
        NextRequest {
            method: r.method.to_string(),
            url: r.url.to_string(),
            body: r.body.as_ref().map(|b| {
                serde_json::from_slice(b)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned()))
            }),
        }
    }
}

/// Runs `inspect page`.
pub fn run(args: PageArgs) -> ExitCode {
    let walk = match walk_for(&args) {
        Ok(walk) => walk,
        Err(e) => {
            eprintln!("paceline: {e}");
            return ExitCode::from(2);
        }
    };
    let input = match read_stdin() {
        Ok(input) => input,
        Err(code) => return code,
    };
    match inspect(walk, &input) {
        Ok(report) => print_json(&report),
        Err(e) => {
            eprintln!("paceline: {e}");
            ExitCode::from(1)
        }
    }
}

/// The walk the arguments describe; an error is a usage error.
fn walk_for(args: &PageArgs) -> Result<Walk, String> {
    let mut template = RequestTemplate::new(args.method.clone(), args.url.clone());
    if let Some(body) = &args.body {
        serde_json::from_str::<Value>(body).map_err(|e| format!("--body is not JSON: {e}"))?;
        template = template.body(body.clone().into_bytes());
        template.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
    }
    let allow = |mut guards: Guards| {
        for o in &args.allow_origins {
            guards = guards.allow_origin(o);
        }
        guards
    };
    let walk = match &args.spec {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| format!("cannot read --spec {}: {e}", path.display()))?;
            let spec: PageSpec = serde_json::from_slice(&text)
                .map_err(|e| format!("--spec {} is not a page spec: {e}", path.display()))?;
            let guards = allow(spec.guards.clone());
            Walk::new(spec.guards(guards), template)
        }
        None => Walk::auto(template, allow(Guards::default())),
    };
    walk.map_err(|e| format!("cannot walk {}: {e}", args.url))
}

/// Feeds the response in `input` to `walk`; an error means the input is not a usable page.
fn inspect(mut walk: Walk, input: &[u8]) -> Result<PageReport, String> {
    let trimmed = input.trim_ascii_start();
    let (status, headers, body, mut warnings) =
        if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") {
            (None, http::HeaderMap::new(), trimmed, Vec::new())
        } else {
            let head = parse_head(input).map_err(|e| e.to_string())?;
            let body = &input[head.body_at..];
            (head.status, head.headers, body, head.warnings)
        };
    let page = walk
        .on_page(status.unwrap_or(StatusCode::OK), &headers, body)
        .map_err(|e| format!("not a page: {e}"))?;
    warnings.extend(std::iter::from_fn(|| walk.poll_event()).map(|e| e.to_string()));
    let (next, end) = match page.after() {
        After::More => (walk.poll_request().map(NextRequest::new), None),
        After::Complete(reason) => (None, Some(reason)),
        After::Stopped(e) => {
            warnings.push(format!("walk stopped: {e}"));
            (None, None)
        }
    };
    Ok(PageReport {
        style: walk.style().map(|s| s.as_str()),
        items: page.len(),
        probe: next.is_some() && walk.is_probing(),
        next,
        end: end.is_some(),
        end_reason: end.map(EndReason::code),
        end_detail: end.map(ToString::to_string),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(url: &str) -> Walk {
        Walk::auto(RequestTemplate::get(url).unwrap(), Guards::default()).unwrap()
    }

    #[test]
    fn a_bare_body_needs_no_head() {
        let r = inspect(auto("https://x.test/l"), b"  \n[1, 2, 3]").unwrap();
        // Three records, no page size asked, no sign either way: the next page is probed.
        assert_eq!((r.items, r.end, r.probe), (3, false, true));
        assert_eq!(r.next.unwrap().url, "https://x.test/l?offset=3");
        let r = inspect(auto("https://x.test/l"), b"[]").unwrap();
        assert_eq!((r.end, r.end_reason), (true, Some("empty_page")));
    }

    #[test]
    fn the_body_starts_after_the_blank_line() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"data\":[{\"id\":1}],\"links\":{\"next\":\"/l?p=2\"}}";
        let r = inspect(auto("https://x.test/l"), input).unwrap();
        assert_eq!((r.style, r.items), (Some("next_url"), 1));
        assert_eq!(r.next.unwrap().url, "https://x.test/l?p=2");
    }

    #[test]
    fn an_error_status_is_not_a_page() {
        let e = inspect(
            auto("https://x.test/l"),
            b"HTTP/1.1 404 Not Found\r\n\r\n{}",
        )
        .unwrap_err();
        assert_eq!(e, "not a page: page response has status 404");
    }
}
