//! Scripted answers: what the loopback server sends back, per path, in order.

use std::collections::HashMap;
use std::time::Duration;

use super::{ReceivedRequest, Responder};

/// Header names the server sets itself (framing and connection management); a scripted value
/// for them could not reach the wire as written, so scripting one is refused.
const UNSCRIPTABLE: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "trailer",
];

/// What the server does with a request once it has been recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Write a full response.
    Respond,
    /// Close the connection without writing a byte.
    DropConnection,
}

/// One scripted answer: a status, headers, a body, an optional delay, or a dropped connection.
///
/// ```
/// use paceline_testkit::ScriptedResponse;
/// use std::time::Duration;
///
/// let limited = ScriptedResponse::new(429)
///     .header("Retry-After", "2")
///     .json(r#"{"error":"slow down"}"#)
///     .delay(Duration::from_millis(50));
/// let reset = ScriptedResponse::drop_connection();
/// # let _ = (limited, reset);
/// ```
///
/// The server adds `Date` and `Server` unless the script sets them, and always computes
/// `Content-Length` from the body itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedResponse {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) delay: Duration,
    pub(super) outcome: Outcome,
}

impl ScriptedResponse {
    /// A response with this status, no headers of its own and an empty body.
    ///
    /// # Panics
    /// If `status` is outside `100..=999` (it could not be written as a status line).
    pub fn new(status: u16) -> Self {
        assert!(
            (100..=999).contains(&status),
            "ScriptedResponse::new: status {status} is not a three-digit HTTP status"
        );
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            outcome: Outcome::Respond,
        }
    }

    /// Reads the request, then closes the connection without sending any response byte: what
    /// a client sees when a server or proxy dies after it processed the request.
    ///
    /// The close is an orderly one (the client reads end-of-stream), not a TCP reset; std cannot
    /// ask for an abortive close without `unsafe` or another socket crate. Combine with
    /// [`delay`](Self::delay) to drop the connection after a while.
    pub fn drop_connection() -> Self {
        Self {
            outcome: Outcome::DropConnection,
            ..Self::new(500)
        }
    }

    /// Adds a header. Call again to add more; the same name may be added several times and
    /// each value is sent as its own header line, in the order given.
    ///
    /// `Content-Type` is the exception: the server holds one value, so setting it again
    /// replaces the earlier one.
    ///
    /// # Panics
    /// If `name` is not a valid header name or `value` is not a valid visible-ASCII header
    /// value, or if `name` is one the server manages itself (`Content-Length`,
    /// `Transfer-Encoding`, `Connection`, `Upgrade`, `Trailer`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        assert!(
            http::HeaderName::from_bytes(name.as_bytes()).is_ok(),
            "ScriptedResponse::header: {name:?} is not a valid header name"
        );
        assert!(
            http::HeaderValue::from_str(value).is_ok(),
            "ScriptedResponse::header: {value:?} is not a valid visible-ASCII header value"
        );
        assert!(
            !UNSCRIPTABLE.iter().any(|u| u.eq_ignore_ascii_case(name)),
            "ScriptedResponse::header: {name} is managed by the server and cannot be scripted"
        );
        if name.eq_ignore_ascii_case("content-type") {
            self.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        }
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body (replacing any earlier one).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` and `Content-Type` to `application/json`. The text is sent as
    /// given, not validated: a script may well want to serve broken JSON.
    pub fn json(self, value: &str) -> Self {
        self.header("Content-Type", "application/json").body(value)
    }

    /// Waits this long before answering (or before dropping the connection). The request is
    /// recorded when it arrives, before the wait; other connections are served meanwhile.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The scripted headers, in order (without the ones the server adds).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Whether this answer closes the connection instead of responding.
    pub fn drops_connection(&self) -> bool {
        self.outcome == Outcome::DropConnection
    }
}

/// Per-path scripts.
///
/// Each request to a path takes the next response of that path's sequence; once the sequence
/// is exhausted its last response repeats. A path with no route gets `404` with an empty body.
/// Matching uses the path only: the query string is ignored here (it is still recorded in
/// [`ReceivedRequest::path`]).
///
/// ```
/// use paceline_testkit::{Responder, Script, ScriptedResponse};
///
/// let mut script = Script::new().route(
///     "/items",
///     [ScriptedResponse::new(429).header("Retry-After", "1"), ScriptedResponse::new(200)],
/// );
/// # let req = |path: &str| paceline_testkit::ReceivedRequest {
/// #     method: "GET".into(), path: path.into(), headers: vec![], body: vec![],
/// #     at: std::time::Instant::now(),
/// # };
/// assert_eq!(script.respond(&req("/items?page=1")).status(), 429);
/// assert_eq!(script.respond(&req("/items?page=1")).status(), 200);
/// assert_eq!(script.respond(&req("/items?page=2")).status(), 200); // the last one repeats
/// assert_eq!(script.respond(&req("/other")).status(), 404);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Script {
    routes: HashMap<String, Sequence>,
}

/// One path's responses and how far through them the server is.
#[derive(Debug, Clone)]
struct Sequence {
    responses: Vec<ScriptedResponse>,
    next: usize,
}

impl Script {
    /// An empty script: every path answers 404.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scripts `path` (without query string, e.g. `"/v1/items"`). Calling it again for the
    /// same path appends to that path's sequence.
    ///
    /// # Panics
    /// If `path` contains a `?` (queries are not matched), or if the path would be left with
    /// no response at all.
    pub fn route(
        mut self,
        path: &str,
        responses: impl IntoIterator<Item = ScriptedResponse>,
    ) -> Self {
        assert!(
            !path.contains('?'),
            "Script::route: {path:?} has a query; routes match on the path only"
        );
        let sequence = self
            .routes
            .entry(path.to_owned())
            .or_insert_with(|| Sequence {
                responses: Vec::new(),
                next: 0,
            });
        sequence.responses.extend(responses);
        assert!(
            !sequence.responses.is_empty(),
            "Script::route: {path:?} needs at least one response"
        );
        self
    }
}

impl Responder for Script {
    fn respond(&mut self, request: &ReceivedRequest) -> ScriptedResponse {
        let path = request
            .path
            .split_once('?')
            .map_or(request.path.as_str(), |(path, _query)| path);
        let Some(sequence) = self.routes.get_mut(path) else {
            return ScriptedResponse::new(404);
        };
        let index = sequence.next.min(sequence.responses.len() - 1);
        sequence.next = sequence.next.saturating_add(1);
        sequence.responses[index].clone()
    }
}
