//! The request a walk starts from, the requests it asks for, and how parameters are set.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;
use url::Url;

use super::error::SpecError;
use super::hash::{Hasher, legacy_fingerprint};
use super::spec::Param;
// `set_body` moved to `crate::json`; the walk imports it from here.
pub(super) use crate::json::set_body;

/// The first page's request, as the caller would send it without pagination.
///
/// Its [fingerprint](RequestTemplate::fingerprint) ties checkpoints to it. Headers are the
/// caller's (credentials included): the walk copies them into each [`PageRequest`], dropping
/// credentials when a next URL leads to another origin. They are never part of a fingerprint
/// or a checkpoint.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RequestTemplate {
    /// The method (`GET`; `POST` for GraphQL and search bodies).
    pub method: Method,
    /// The URL, with any fixed query parameters.
    pub url: Url,
    /// Headers to send with every page request.
    pub headers: HeaderMap,
    /// The body, if any. Styles that put parameters in the body need a JSON object here (or
    /// nothing: an empty object is created).
    pub body: Option<Vec<u8>>,
}

impl RequestTemplate {
    /// A template with no headers and no body.
    pub fn new(method: Method, url: Url) -> Self {
        RequestTemplate {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// A `GET` of `url`.
    pub fn get(url: &str) -> Result<Self, SpecError> {
        let url = Url::parse(url).map_err(|e| SpecError::BadUrl(e.to_string()))?;
        Ok(RequestTemplate::new(Method::GET, url))
    }

    /// A `POST` of `body` as JSON to `url` (GraphQL, search APIs), with
    /// `content-type: application/json`.
    pub fn post_json(url: &str, body: &Value) -> Result<Self, SpecError> {
        let url = Url::parse(url).map_err(|e| SpecError::BadUrl(e.to_string()))?;
        let mut t = RequestTemplate::new(Method::POST, url);
        t.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        t.body = Some(body.to_string().into_bytes());
        Ok(t)
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// The page size this request already asks for, and the parameter that asks: the first
    /// query parameter (then top-level member of a JSON body) by one of the usual names
    /// (`limit`, `per_page`, `page_size`, `pageSize`, `size`, `maxResults`, `$top`, `_limit`,
    /// `page[size]`, `count`, `rows`, `first`…) with a number for a value.
    ///
    /// ```
    /// use paceline::paginate::{Param, RequestTemplate};
    ///
    /// let t = RequestTemplate::get("https://api.test/items?q=x&per_page=50").unwrap();
    /// let size = t.page_size().unwrap();
    /// assert_eq!((size.param, size.size), (Param::query("per_page"), 50));
    /// ```
    pub fn page_size(&self) -> Option<super::PageSize> {
        super::detect::requested_page_size(self)
    }

    /// A stable 64-bit fingerprint of the method, URL and body: the low 64 bits of the
    /// walk's SipHash-1-3 128 over `METHOD "\n" URL "\n" ("-" | "+" BODY)`. Headers are left
    /// out on purpose (they hold secrets, and rotating a token must not invalidate a
    /// checkpoint). Not cryptographic: it tells "a different request" from "the same request",
    /// nothing more.
    pub fn fingerprint(&self) -> u64 {
        let mut h = Hasher::new();
        for piece in self.fingerprint_pieces() {
            h.write(piece);
        }
        h.finish() as u64
    }

    /// The fingerprint checkpoints of version 1 carry (FNV-1a 64 over the same bytes).
    pub(crate) fn legacy_fingerprint(&self) -> u64 {
        legacy_fingerprint(&self.fingerprint_pieces())
    }

    fn fingerprint_pieces(&self) -> [&[u8]; 6] {
        let (mark, body): (&[u8], &[u8]) = match &self.body {
            None => (b"-", b""),
            Some(b) => (b"+", b),
        };
        [
            self.method.as_str().as_bytes(),
            b"\n",
            self.url.as_str().as_bytes(),
            b"\n",
            mark,
            body,
        ]
    }
}

/// A page request the walk asks the caller to send.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PageRequest {
    /// The method (the template's).
    pub method: Method,
    /// The URL: the template's with the walk's parameters, or a next URL from the server.
    pub url: Url,
    /// The headers to send: the template's, minus credentials when `credentials` is false.
    pub headers: HeaderMap,
    /// The body: the template's, with the walk's body parameters set.
    pub body: Option<Vec<u8>>,
    /// Whether credentials may go with this request. `false` when the URL is on another origin
    /// than the template's (an allowed one, see [`super::Guards::allowed_origins`]): the walk
    /// has already dropped credential headers from `headers`, and an adapter that adds
    /// credentials of its own (an agent-wide bearer token, cookies) must not add them.
    pub credentials: bool,
}

/// Sets query parameter `name` to `value`, replacing every existing occurrence, keeping the
/// rest of the query byte for byte. The value is form-urlencoded.
pub(crate) fn set_query(url: &mut Url, name: &str, value: &str) {
    let mut out = String::new();
    if let Some(q) = url.query() {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let key = pair.split('=').next().unwrap_or("");
            let same = url::form_urlencoded::parse(key.as_bytes())
                .next()
                .is_some_and(|(k, _)| k == name);
            if !same {
                out.push_str(pair);
                out.push('&');
            }
        }
    }
    out.extend(url::form_urlencoded::byte_serialize(name.as_bytes()));
    out.push('=');
    out.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
    url.set_query(Some(&out));
}

/// A JSON value as a query parameter: strings as they are, numbers and booleans as written,
/// anything else as compact JSON.
pub(crate) fn query_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Sets a parameter in a URL or JSON body.
pub(crate) fn set_param(
    url: &mut Url,
    body: &mut Option<Value>,
    param: &Param,
    value: Value,
) -> Result<(), ()> {
    match param {
        Param::Query(name) => {
            set_query(url, name, &query_text(&value));
            Ok(())
        }
        Param::Body(p) => set_body(body.get_or_insert(Value::Null), p, value),
    }
}

/// The template's headers, minus credentials.
pub(crate) fn without_credentials(headers: &HeaderMap, extra: &[String]) -> HeaderMap {
    let mut h = headers.clone();
    strip(&mut h, extra);
    h
}

/// [`crate::redirect::strip_credentials`] with the caller's secret header names as text (as
/// [`super::Guards::credential_headers`] keeps them); a name that is not a header name names
/// nothing that could be sent.
fn strip(headers: &mut HeaderMap, secret: &[String]) {
    crate::redirect::strip_credentials(headers, &names(secret));
}

/// Header names as text, as headers (those that are not header names dropped).
fn names(secret: &[String]) -> Vec<HeaderName> {
    secret
        .iter()
        .filter_map(|n| HeaderName::from_bytes(n.to_ascii_lowercase().as_bytes()).ok())
        .collect()
}

impl PageRequest {
    /// The request to send, in `http`'s types: the URL without its fragment, the method, the
    /// headers and the body, marked [`crate::RetrySafe`] (a page request only reads, whatever
    /// its method: a GraphQL or search POST may be sent again). When the request may not carry
    /// credentials (a next page on another origin), `Authorization`, `Proxy-Authorization`,
    /// `Cookie` and the `secret` headers are removed again here, whatever was added since.
    /// The `secret` names also go along as a [`crate::exchange::SecretHeaders`] extension, so
    /// that an [`crate::exchange::Exchange`] following a redirect to another origin drops them
    /// too.
    ///
    /// ```
    /// use paceline::paginate::{PageSpec, RequestTemplate, Walk};
    ///
    /// let template = RequestTemplate::get("https://api.test/items?page=1#top")
    ///     .unwrap()
    ///     .header(http::header::AUTHORIZATION, http::HeaderValue::from_static("Bearer s"));
    /// let walk = Walk::new(PageSpec::link("/data"), template).unwrap();
    /// let mut page = walk.poll_request().unwrap().clone();
    /// let r = page.to_http(&[]).unwrap();
    /// assert_eq!(r.uri(), "https://api.test/items?page=1");
    /// assert!(r.extensions().get::<paceline::RetrySafe>().is_some());
    /// assert!(r.headers().contains_key("authorization"));
    /// page.credentials = false;
    /// assert!(!page.to_http(&[]).unwrap().headers().contains_key("authorization"));
    /// ```
    pub fn to_http(&self, secret: &[String]) -> Result<http::Request<Vec<u8>>, http::Error> {
        let mut url = self.url.clone();
        url.set_fragment(None);
        let mut request = http::Request::builder()
            .method(self.method.clone())
            .uri(url.as_str())
            .body(self.body.clone().unwrap_or_default())?;
        *request.headers_mut() = self.headers.clone();
        request.extensions_mut().insert(crate::RetrySafe);
        if !self.credentials {
            strip(request.headers_mut(), secret);
        }
        // A redirect to another origin drops them too (the exchange reads this).
        let names = names(secret);
        if !names.is_empty() {
            request
                .extensions_mut()
                .insert(crate::exchange::SecretHeaders(names));
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{AUTHORIZATION, COOKIE};

    #[test]
    fn set_query_replaces_and_keeps_the_rest() {
        let mut u = Url::parse("https://x.test/l?a=1&cursor=old&b=%20x&cursor=older").unwrap();
        set_query(&mut u, "cursor", "dXNlcjpVMEc5V0ZYTlo=+/");
        assert_eq!(
            u.as_str(),
            "https://x.test/l?a=1&b=%20x&cursor=dXNlcjpVMEc5V0ZYTlo%3D%2B%2F"
        );
        let mut u = Url::parse("https://x.test/l").unwrap();
        set_query(&mut u, "page", "2");
        assert_eq!(u.as_str(), "https://x.test/l?page=2");
    }

    #[test]
    fn fingerprint_ignores_headers() {
        let a = RequestTemplate::get("https://x.test/l").unwrap();
        let b = a
            .clone()
            .header(AUTHORIZATION, HeaderValue::from_static("Bearer s"));
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = a.clone().body(b"{}".to_vec());
        assert_ne!(a.fingerprint(), c.fingerprint());
        // Pinned: checkpoints written by one build are read by the next.
        assert_eq!(
            a.fingerprint(),
            Hasher::new().write(b"GET\nhttps://x.test/l\n-").finish() as u64
        );
        assert_eq!(
            a.legacy_fingerprint(),
            legacy_fingerprint(&[b"GET\nhttps://x.test/l\n-"])
        );
    }

    #[test]
    fn credentials_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s"));
        h.insert(COOKIE, HeaderValue::from_static("sid=1"));
        h.insert("x-api-key", HeaderValue::from_static("k"));
        h.insert("accept", HeaderValue::from_static("application/json"));
        let out = without_credentials(&h, &["X-Api-Key".into()]);
        assert_eq!(out.len(), 1);
        assert!(out.contains_key("accept"));
    }
}
