//! `paceline inspect …`: show what the core reads from what a server sent.
//!
//! `inspect headers` reads a response head from stdin and prints one JSON object: the
//! [`Signal`] the core parses from it, its retry class and the wait it asks for.
//! `inspect page` reads a whole response and prints what a walk makes of it
//! ([`page`]); `inspect link` reads a `Link` value and prints its resolved `next` ([`link`]).
//!
//! Exit codes, for every `inspect`: 0 the JSON was printed, 1 the input cannot be read as
//! what was asked for, 2 a usage error (clap's own, or an argument such as `--spec` that cannot
//! be used).

mod link;
mod page;

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use paceline::headers::{PolicyState, Signal, SignalParser};
use paceline::retry::{self, Class, TransportKind};
use serde::Serialize;

/// What to inspect.
#[derive(Debug, Subcommand)]
pub enum Inspect {
    /// Read a response head (status line, then headers) from stdin; print what it says about
    /// rate limits as one JSON object.
    ///
    /// The status line (`HTTP/1.1 429 Too Many Requests`, `HTTP/2 429`) is optional. Header
    /// lines end with LF or CRLF; a blank line ends the head. A line that is not a valid header
    /// is reported in `warnings` and skipped. A body after the blank line is read as a client
    /// reads it (GraphQL costs and throttle errors, a JSON retry delay); any other is ignored.
    Headers(HeadersArgs),
    /// Read one response (optional status line, headers, a blank line, the body) from stdin;
    /// print what a page walk makes of it as one JSON object: the style (given by --spec, or
    /// detected), how many items, the next request (or null), whether the list ends here, and
    /// warnings (detection, guards that stop the walk, skipped header lines).
    ///
    /// Input that starts with `{` or `[` is a body without a head (status 200, no headers).
    /// Exits 1 when the response is not a usable page (a status other than 2xx, a body that is
    /// not JSON or has no list), with the reason on stderr.
    Page(page::PageArgs),
    /// Read a `Link` header value from stdin (one per line when several; a leading `Link:` is
    /// allowed); print the resolved target of its rel="next" link as a JSON string, or null.
    /// Exits 1 when the value does not parse (the byte offset is on stderr); a target a walk
    /// would refuse (another origin, another scheme) is printed, with a warning on stderr.
    Link(link::LinkArgs),
}

/// Arguments of `inspect headers`.
#[derive(Debug, Args)]
pub struct HeadersArgs {
    /// When the response was received, in seconds since the Unix epoch (default: the system
    /// clock). A valid `Date` header in the input takes precedence, as it does for clients.
    #[arg(long, value_name = "EPOCH_SECONDS")]
    now: Option<u64>,
}

/// Runs an `inspect` subcommand.
pub fn run(cmd: Inspect) -> ExitCode {
    match cmd {
        Inspect::Headers(args) => headers(args),
        Inspect::Page(args) => page::run(args),
        Inspect::Link(args) => link::run(args),
    }
}

fn headers(args: HeadersArgs) -> ExitCode {
    let input = match read_stdin() {
        Ok(input) => input,
        Err(code) => return code,
    };
    let head = match parse_head(&input) {
        Ok(head) => head,
        Err(e) => {
            eprintln!("paceline: {e}");
            return ExitCode::from(1);
        }
    };
    let received = match args.now {
        Some(secs) => UNIX_EPOCH + Duration::from_secs(secs),
        None => SystemTime::now(),
    };
    let status = head.status.unwrap_or(StatusCode::OK);
    let parser = SignalParser::new();
    let mut signal = parser.parse(status, &head.headers, received);
    let body = &input[head.body_at.min(input.len())..];
    if !body.is_empty() {
        // What a client reads too: GraphQL costs and throttle errors, JSON retry delays.
        parser.parse_body(&mut signal, body);
    }
    if head.status.is_none() {
        // Parsed as a 200 so the headers are read, but there was no status to classify.
        signal.status = None;
    }
    print_json(&Report::new(&signal, head.warnings))
}

/// Prints `value` as pretty JSON and a newline: exit 0, or 1 when stdout is closed.
pub(crate) fn print_json(value: &impl Serialize) -> ExitCode {
    let mut out = io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(io::Error::from)
        .and_then(|()| writeln!(out));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not worth a panic.
        Err(_) => ExitCode::from(1),
    }
}

/// All of stdin, or exit 1.
pub(crate) fn read_stdin() -> Result<Vec<u8>, ExitCode> {
    let mut input = Vec::new();
    match io::stdin().lock().read_to_end(&mut input) {
        Ok(_) => Ok(input),
        Err(e) => {
            eprintln!("paceline: cannot read stdin: {e}");
            Err(ExitCode::from(1))
        }
    }
}

/// A response head as read from text.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub(crate) status: Option<StatusCode>,
    pub(crate) headers: HeaderMap,
    /// Lines that were skipped, and why.
    pub(crate) warnings: Vec<String>,
    /// Where the body starts: after the blank line that ends the head (the input's length when
    /// there is none).
    pub(crate) body_at: usize,
}

/// Why the input is not a response head at all.
#[derive(Debug)]
pub(crate) struct BadStatusLine(String);

impl std::fmt::Display for BadStatusLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not a status line (want `HTTP/1.1 429 Reason`): {:?}",
            self.0
        )
    }
}

/// One line of the input: its number (from 1), its text without the line ending, and the
/// offset just past its `\n`.
fn lines(input: &[u8]) -> impl Iterator<Item = (usize, &[u8], usize)> {
    let mut at = 0;
    let mut n = 0;
    std::iter::from_fn(move || {
        if at >= input.len() {
            return None;
        }
        let rest = &input[at..];
        let len = rest.iter().position(|&b| b == b'\n');
        let (text, end) = match len {
            Some(len) => (&rest[..len], at + len + 1),
            None => (rest, input.len()),
        };
        at = end;
        n += 1;
        Some((n, text.strip_suffix(b"\r").unwrap_or(text), end))
    })
}

/// Reads an optional status line, then header lines up to the first blank line. Blank lines
/// before anything else are skipped. Only a malformed status line is an error: the status
/// decides everything else, so guessing would mislead.
pub(crate) fn parse_head(input: &[u8]) -> Result<Head, BadStatusLine> {
    let mut head = Head {
        body_at: input.len(),
        ..Head::default()
    };
    let mut lines = lines(input).skip_while(|(_, l, _)| l.is_empty()).peekable();
    if let Some((_, first, _)) = lines.peek()
        && first.starts_with(b"HTTP/")
    {
        head.status = Some(parse_status_line(first)?);
        lines.next();
    }
    for (n, line, end) in lines {
        if line.is_empty() {
            head.body_at = end;
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            head.warnings.push(format!(
                "line {n}: obsolete line folding (RFC 9112 §5.2), skipped"
            ));
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            head.warnings.push(format!(
                "line {n}: no `:`, not a header ({}), skipped",
                show(line)
            ));
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        let Ok(name) = HeaderName::from_bytes(name) else {
            head.warnings.push(format!(
                "line {n}: invalid header name ({}), skipped",
                show(&line[..colon])
            ));
            continue;
        };
        let Ok(value) = HeaderValue::from_bytes(value) else {
            head.warnings.push(format!(
                "line {n}: invalid value for {name} ({}), skipped",
                show(value)
            ));
            continue;
        };
        head.headers.append(name, value);
    }
    Ok(head)
}

/// `HTTP/1.1 429 Too Many Requests`, `HTTP/2 429`.
fn parse_status_line(line: &[u8]) -> Result<StatusCode, BadStatusLine> {
    let mut parts = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|p| !p.is_empty());
    let _version = parts.next();
    parts
        .next()
        .filter(|code| code.len() == 3)
        .and_then(|code| StatusCode::from_bytes(code).ok())
        .ok_or_else(|| BadStatusLine(show(line)))
}

/// Optional whitespace removed from both ends.
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let end = v.iter().rposition(|b| !matches!(b, b' ' | b'\t'));
    match (start, end) {
        (Some(s), Some(e)) => &v[s..=e],
        _ => &[],
    }
}

/// The start of some bytes, for a message.
pub(crate) fn show(bytes: &[u8]) -> String {
    const MAX: usize = 64;
    let cut = &bytes[..bytes.len().min(MAX)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > MAX {
        s.push('…');
    }
    s
}

/// Seconds as a JSON number: always finite (`u64::MAX` seconds is about 1.8e19).
fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// What `inspect headers` prints.
#[derive(Debug, Serialize)]
struct Report {
    status: Option<u16>,
    retryable: bool,
    class: &'static str,
    retry_after_s: Option<f64>,
    limit: Option<u64>,
    remaining: Option<u64>,
    used: Option<u64>,
    reset_in_s: Option<f64>,
    window_s: Option<f64>,
    policy: Option<String>,
    bucket: Option<String>,
    global: bool,
    scope: Option<String>,
    policies: Vec<PolicyReport>,
    must_wait_s: f64,
    quota_exhausted: bool,
    should_retry: Option<bool>,
    server_date_epoch_s: Option<f64>,
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct PolicyReport {
    name: Option<String>,
    limit: Option<u64>,
    remaining: Option<u64>,
    window_s: Option<f64>,
    reset_in_s: Option<f64>,
}

impl Report {
    fn new(s: &Signal, line_warnings: Vec<String>) -> Self {
        let class = retry::classify(s);
        Report {
            status: s.status.map(|c| c.as_u16()),
            retryable: class.is_retryable(),
            class: class_name(class),
            retry_after_s: s.retry_after.map(secs),
            limit: s.limit,
            remaining: s.remaining,
            used: s.used,
            reset_in_s: s.reset_in.map(secs),
            window_s: s.window.map(secs),
            policy: s.policy.clone().or_else(|| s.bucket.clone()),
            bucket: s.bucket.clone(),
            global: s.global,
            scope: s.scope.clone(),
            policies: s.policies.iter().map(PolicyReport::new).collect(),
            must_wait_s: secs(s.must_wait()),
            quota_exhausted: s.quota_exhausted,
            should_retry: s.should_retry,
            server_date_epoch_s: s
                .server_date
                .and_then(|d| d.duration_since(UNIX_EPOCH).ok())
                .map(secs),
            warnings: line_warnings
                .into_iter()
                .chain(s.warnings.iter().map(ToString::to_string))
                .collect(),
        }
    }
}

impl PolicyReport {
    fn new(p: &PolicyState) -> Self {
        PolicyReport {
            name: p.name.clone(),
            limit: p.limit,
            remaining: p.remaining,
            window_s: p.window.map(secs),
            reset_in_s: p.reset_in.map(secs),
        }
    }
}

fn class_name(class: Class) -> &'static str {
    match class {
        Class::Final => "final",
        Class::Throttled => "throttled",
        Class::QuotaExhausted => "quota_exhausted",
        Class::Unavailable => "unavailable",
        Class::ServerError => "server_error",
        Class::Transport(TransportKind::Connect) => "transport_connect",
        Class::Transport(TransportKind::Timeout) => "transport_timeout",
        Class::Transport(TransportKind::Reset) => "transport_reset",
        Class::Transport(_) => "transport_other",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let ok = |l: &[u8]| parse_status_line(l).map(|s| s.as_u16()).ok();
        assert_eq!(ok(b"HTTP/1.1 429 Too Many Requests"), Some(429));
        assert_eq!(ok(b"HTTP/2 429"), Some(429));
        assert_eq!(ok(b"HTTP/2 200 "), Some(200));
        assert_eq!(ok(b"HTTP/1.1 4290"), None);
        assert_eq!(ok(b"HTTP/1.1"), None);
        assert_eq!(ok(b"HTTP/1.1 abc"), None);
    }

    #[test]
    fn head_lines() {
        let input =
            b"\r\nHTTP/1.1 503 Oops\r\nA: 1\r\nbad line\r\n folded\r\nB : 2\r\na:  3 \r\n\r\nC: 4";
        let head = parse_head(input).unwrap();
        assert_eq!(head.status, Some(StatusCode::SERVICE_UNAVAILABLE));
        let a: Vec<_> = head.headers.get_all("a").iter().collect();
        assert_eq!(a, ["1", "3"]);
        assert!(!head.headers.contains_key("c"));
        assert_eq!(&input[head.body_at..], b"C: 4");
        assert_eq!(head.warnings.len(), 3, "{:?}", head.warnings);
    }

    #[test]
    fn no_status_line() {
        let head = parse_head(b"Retry-After: 5\n").unwrap();
        assert_eq!(head.status, None);
        assert_eq!(head.headers.len(), 1);
        assert!(parse_head(b"").unwrap().headers.is_empty());
    }
}
