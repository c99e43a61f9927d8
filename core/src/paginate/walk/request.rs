//! The next page's request: from the position, the plan and the guards.

use serde_json::Value;
use url::Url;

use crate::paginate::checkpoint::Position;
use crate::paginate::detect::param_name;
use crate::paginate::error::GuardError;
use crate::paginate::plan::{Mech, truncate};
use crate::paginate::request::{PageRequest, set_param, without_credentials};
use crate::paginate::spec::Param;

use super::Walk;

impl Walk {
    /// The request for a position (the template's own first request while auto-detecting).
    pub(super) fn request_for(&self, pos: &Position) -> PageRequest {
        let t = &self.template;
        if let Position::Url(u) = pos {
            let url = Url::parse(u).unwrap_or_else(|_| t.url.clone());
            let credentials = self.credentials_for(&url).unwrap_or(false);
            return PageRequest {
                method: t.method.clone(),
                headers: if credentials {
                    t.headers.clone()
                } else {
                    without_credentials(&t.headers, &self.guards.credential_headers)
                },
                url,
                body: t.body.clone(),
                credentials,
            };
        }
        let mut url = t.url.clone();
        let mut body = self.body_json.clone();
        if let (Some(plan), Some(spec)) = (&self.plan, &self.spec) {
            // Set on a body validated by `install`: cannot fail.
            if let Some(ps) = &spec.page_size {
                let _ = set_param(&mut url, &mut body, &ps.param, ps.size.into());
            }
            let _ = match (&plan.mech, pos) {
                (Mech::Offset { param, start }, Position::Start) => {
                    set_param(&mut url, &mut body, param, (*start).into())
                }
                (Mech::Page { param, first }, Position::Start) => {
                    set_param(&mut url, &mut body, param, (*first).into())
                }
                (Mech::Offset { param, .. }, Position::Offset(n))
                | (Mech::Page { param, .. }, Position::Page(n)) => {
                    set_param(&mut url, &mut body, param, (*n).into())
                }
                (Mech::Cursor { param }, Position::Cursor(c)) => {
                    set_param(&mut url, &mut body, param, Value::String(c.clone()))
                }
                (Mech::Cursor { param }, Position::Value(v)) => {
                    set_param(&mut url, &mut body, param, v.clone())
                }
                (Mech::After { keys }, Position::After(values)) => keys
                    .iter()
                    .zip(values)
                    .try_for_each(|(k, v)| set_param(&mut url, &mut body, &k.param, v.clone())),
                _ => Ok(()),
            };
        }
        PageRequest {
            method: t.method.clone(),
            url,
            headers: t.headers.clone(),
            body: match body {
                Some(v) => Some(v.to_string().into_bytes()),
                None => t.body.clone(),
            },
            credentials: true,
        }
    }

    /// `Ok(true)`: same origin, credentials go; `Ok(false)`: an allowed origin, no credentials.
    pub(super) fn credentials_for(&self, url: &Url) -> Result<bool, GuardError> {
        let origin = url.origin();
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GuardError::OffOrigin {
                url: truncate(url.as_str(), 256),
            });
        }
        if origin == self.template.url.origin() {
            Ok(true)
        } else if self.allowed.contains(&origin) {
            Ok(false)
        } else {
            Err(GuardError::OffOrigin {
                url: truncate(url.as_str(), 256),
            })
        }
    }

    /// Up to `n` requests the walk will most likely ask for after the pending one, for a
    /// driver that fetches pages concurrently: the next offsets or page numbers, one page
    /// size apart, short of a known `total`. Empty for styles whose next position only a
    /// response tells (cursors, keysets, URLs), before the first page (the style may still be
    /// detected or switched), while a guessed parameter is being checked, and at the end.
    ///
    /// Speculation never changes the walk: it still asks for each page with
    /// [`Walk::poll_request`] and reads responses only through [`Walk::on_page`], in order. A
    /// driver hands it a prefetched response only when the request it asks for is exactly the
    /// one prefetched, and otherwise sends the request (a server whose pages are shorter than
    /// the size asked for makes the guesses miss: they cost requests, never records).
    ///
    /// ```
    /// use http::{HeaderMap, StatusCode};
    /// use paceline::paginate::{PageSpec, RequestTemplate, Walk};
    ///
    /// let t = RequestTemplate::get("https://api.example.com/items").unwrap();
    /// let mut walk = Walk::new(PageSpec::offset("/data", 2).total("/total"), t).unwrap();
    /// assert!(walk.lookahead(3).is_empty(), "nothing is known before the first page");
    /// let body = br#"{"data":[{"id":1},{"id":2}],"total":7}"#;
    /// walk.on_page(StatusCode::OK, &HeaderMap::new(), body).unwrap();
    /// let ahead: Vec<String> = walk.lookahead(5).iter().map(|r| r.url.to_string()).collect();
    /// // Offset 2 is pending; 4 and 6 follow; 8 would be past the total.
    /// assert_eq!(ahead, [
    ///     "https://api.example.com/items?limit=2&offset=4",
    ///     "https://api.example.com/items?limit=2&offset=6",
    /// ]);
    /// ```
    pub fn lookahead(&self, n: usize) -> Vec<PageRequest> {
        let (Some(plan), Some(spec)) = (&self.plan, &self.spec) else {
            return Vec::new();
        };
        if self.pending.is_none() || self.pages == 0 || n == 0 || self.probe.is_some() {
            return Vec::new();
        }
        let size = self
            .cap
            .or(spec.page_size.as_ref().map(|p| p.size))
            .filter(|&s| s > 0);
        let total = self.last_total;
        let positions: Vec<Position> = match (&plan.mech, &self.position, size) {
            (Mech::Offset { .. }, Position::Offset(at), Some(size)) => (1..=n as u64)
                .map_while(|i| {
                    let x = at.checked_add(size.checked_mul(i)?)?;
                    total.is_none_or(|t| x < t).then_some(Position::Offset(x))
                })
                .collect(),
            (Mech::Page { first, .. }, Position::Page(p), size) => (1..=n as u64)
                .map_while(|i| {
                    let x = p.checked_add(i)?;
                    let before = x.saturating_sub(*first);
                    let within = match (total, size) {
                        (Some(t), Some(s)) => before.saturating_mul(s) < t,
                        _ => true,
                    };
                    within.then_some(Position::Page(x))
                })
                .collect(),
            _ => Vec::new(),
        };
        positions.iter().map(|p| self.request_for(p)).collect()
    }

    /// The request to send now, or `None` when the walk is over ([`Walk::state`] says how).
    /// Asking again before [`Walk::on_page`] gives the same request.
    pub fn poll_request(&self) -> Option<&PageRequest> {
        self.pending.as_ref()
    }

    /// What a guessed request tries: `offset=10`, `page=1`, `cursor=c2`.
    pub(super) fn guess_text(&self, req: &PageRequest) -> String {
        let param = match self.plan.as_ref().map(|p| &p.mech) {
            Some(
                Mech::Offset { param, .. } | Mech::Page { param, .. } | Mech::Cursor { param },
            ) => param.clone(),
            Some(Mech::After { keys }) if !keys.is_empty() => keys[0].param.clone(),
            _ => return req.url.to_string(),
        };
        let value = match &param {
            Param::Query(name) => req
                .url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned()),
            Param::Body(p) => req
                .body
                .as_ref()
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                .and_then(|v| p.find(&v).cloned())
                .map(|v| match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                }),
        };
        format!(
            "{}={}",
            param_name(&param),
            truncate(&value.unwrap_or_default(), 64)
        )
    }
}
