//! Redirects (RFC 9110 §15.4): where a 3xx sends a request, with which method and body, and
//! whether the request's credentials may go along.
//!
//! Credentials never cross origins: a redirect to another scheme, host or port is followed
//! without `Authorization`, `Proxy-Authorization`, `Cookie` or any header the caller names as
//! secret ([`strip_credentials`]). A redirect from `https` to `http` is not followed at all.
//!
//! ```
//! use http::{HeaderMap, Method, StatusCode};
//! use paceline::redirect::{follow, strip_credentials};
//! use url::Url;
//!
//! let from = Url::parse("https://api.example/v1/items").unwrap();
//! let mut headers = HeaderMap::new();
//! headers.insert("location", "https://cdn.example/items.json".parse().unwrap());
//! let next = follow(&Method::GET, &from, StatusCode::FOUND, &headers).unwrap().unwrap();
//! assert_eq!(next.url.as_str(), "https://cdn.example/items.json");
//! assert!(!next.same_origin);
//!
//! let mut request_headers = HeaderMap::new();
//! request_headers.insert("authorization", "Bearer secret".parse().unwrap());
//! request_headers.insert("x-api-key", "k".parse().unwrap());
//! strip_credentials(&mut request_headers, &["x-api-key".parse().unwrap()]);
//! assert!(request_headers.is_empty());
//! ```

use std::fmt;

use http::header::{AUTHORIZATION, COOKIE, LOCATION, PROXY_AUTHORIZATION};
use http::{HeaderMap, HeaderName, Method, StatusCode};
use url::Url;

/// Where a redirect leads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redirect {
    /// The method of the next request: 303 (and 301/302 after a POST, as browsers and most
    /// clients do) turn it into GET; 307 and 308 keep it.
    pub method: Method,
    /// The target, resolved against the request's URL.
    pub url: Url,
    /// Whether the next request carries the same body (307, 308).
    pub keep_body: bool,
    /// Same scheme, host and port: credentials may go along.
    pub same_origin: bool,
}

/// Why a redirect is not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectError {
    /// A 3xx without a usable `Location`.
    NoLocation,
    /// `Location` is not a URL.
    BadLocation(String),
    /// From `https` to `http`: refused.
    Downgrade,
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectError::NoLocation => f.write_str("redirect without a Location"),
            RedirectError::BadLocation(l) => write!(f, "redirect to an invalid location {l:?}"),
            RedirectError::Downgrade => f.write_str("redirect from https to http refused"),
        }
    }
}

impl std::error::Error for RedirectError {}

/// The next request after a response, if the response is a redirect to follow: `None` when it
/// is not a redirect (including 300, 304 and 305), `Some(Err)` when it is one that must not be
/// followed.
pub fn follow(
    method: &Method,
    from: &Url,
    status: StatusCode,
    headers: &HeaderMap,
) -> Option<Result<Redirect, RedirectError>> {
    let (method, keep_body) = match status.as_u16() {
        301 | 302 if *method == Method::POST => (Method::GET, false),
        301 | 302 => (method.clone(), true),
        303 if *method == Method::HEAD => (Method::HEAD, false),
        303 => (Method::GET, false),
        307 | 308 => (method.clone(), true),
        _ => return None,
    };
    let Some(location) = headers.get(LOCATION).and_then(|v| v.to_str().ok()) else {
        return Some(Err(RedirectError::NoLocation));
    };
    let url = match from.join(location.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url,
        _ => {
            let shown: String = location.chars().take(200).collect();
            return Some(Err(RedirectError::BadLocation(shown)));
        }
    };
    if from.scheme() == "https" && url.scheme() == "http" {
        return Some(Err(RedirectError::Downgrade));
    }
    let same_origin = url.origin() == from.origin();
    Some(Ok(Redirect {
        method,
        url,
        keep_body,
        same_origin,
    }))
}

/// The headers that carry credentials whatever the API: `Authorization`,
/// `Proxy-Authorization`, `Cookie`.
pub const CREDENTIAL_HEADERS: [HeaderName; 3] = [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE];

/// Removes [`CREDENTIAL_HEADERS`] and the caller's own secret headers (an `X-Api-Key`) from a
/// request about to go to another origin.
pub fn strip_credentials(headers: &mut HeaderMap, secret: &[HeaderName]) {
    for name in CREDENTIAL_HEADERS.iter().chain(secret) {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(l: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(LOCATION, l.parse().unwrap());
        h
    }

    #[test]
    fn methods_and_bodies_by_status() {
        let from = Url::parse("https://a.test/x").unwrap();
        let r = |m: Method, s: u16| {
            follow(&m, &from, StatusCode::from_u16(s).unwrap(), &loc("/y"))
                .unwrap()
                .unwrap()
        };
        assert_eq!(
            (r(Method::POST, 302).method, r(Method::POST, 302).keep_body),
            (Method::GET, false)
        );
        assert_eq!(r(Method::PUT, 303).method, Method::GET);
        assert_eq!(
            (r(Method::POST, 307).method, r(Method::POST, 307).keep_body),
            (Method::POST, true)
        );
        assert_eq!(r(Method::GET, 308).url.as_str(), "https://a.test/y");
        assert!(r(Method::GET, 301).same_origin);
        assert!(follow(&Method::GET, &from, StatusCode::NOT_MODIFIED, &loc("/y")).is_none());
        assert!(follow(&Method::GET, &from, StatusCode::OK, &loc("/y")).is_none());
    }

    #[test]
    fn origins_and_refusals() {
        let from = Url::parse("https://a.test:8443/x").unwrap();
        let go = |l: &str| follow(&Method::GET, &from, StatusCode::FOUND, &loc(l)).unwrap();
        assert!(
            !go("https://a.test:9443/y").unwrap().same_origin,
            "another port"
        );
        assert!(
            !go("https://b.test:8443/y").unwrap().same_origin,
            "another host"
        );
        assert_eq!(go("http://a.test:8443/y"), Err(RedirectError::Downgrade));
        assert!(matches!(
            go("javascript:alert(1)"),
            Err(RedirectError::BadLocation(_))
        ));
        let none = follow(&Method::GET, &from, StatusCode::FOUND, &HeaderMap::new());
        assert_eq!(none, Some(Err(RedirectError::NoLocation)));
    }
}
