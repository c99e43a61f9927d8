//! What the caller says of how a list pages, before anything is read.

use super::*;

/// What the caller knows about how a list pages before its first response: every field given
/// wins, the rest is detected from the first exchange ([`PageSpec::detect_with`]). This is how
/// `paceline extract --paginate offset` finds the items, the total and the parameters it was
/// not told.
///
/// ```
/// use paceline::paginate::{Hints, Pointer, StyleKind};
///
/// let hints = Hints::default()
///     .style(StyleKind::Offset)
///     .items(Pointer::parse("/results").unwrap());
/// # let _ = hints;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Hints {
    /// The style.
    pub style: Option<StyleKind>,
    /// Where the records are.
    pub items: Option<Pointer>,
    /// Where the next cursor, token or URL is.
    pub next: Option<Pointer>,
    /// The parameter that carries the cursor, token, offset or page number back.
    pub param: Option<Param>,
    /// Where the list's total is.
    pub total: Option<Source>,
    /// The page size to ask for, and its parameter (else the request's own, if it has one).
    pub page_size: Option<PageSize>,
    /// Keyset keys (field of the last record → parameter).
    pub keys: Vec<KeyParam>,
    /// Where a record's identity is.
    pub key: Option<Pointer>,
    /// Drop records whose key was already delivered.
    pub dedupe: bool,
    /// The first response is the whole list: no paging at all (`paceline extract
    /// --paginate none`).
    pub single_page: bool,
}

impl Hints {
    /// Sets [`Hints::style`].
    pub fn style(mut self, kind: StyleKind) -> Self {
        self.style = Some(kind);
        self
    }
    /// Sets [`Hints::items`].
    pub fn items(mut self, p: Pointer) -> Self {
        self.items = Some(p);
        self
    }
    /// Sets [`Hints::next`].
    pub fn next(mut self, p: Pointer) -> Self {
        self.next = Some(p);
        self
    }
    /// Sets [`Hints::param`].
    pub fn param(mut self, p: Param) -> Self {
        self.param = Some(p);
        self
    }
    /// Sets [`Hints::total`].
    pub fn total(mut self, s: Source) -> Self {
        self.total = Some(s);
        self
    }
    /// Sets [`Hints::page_size`].
    pub fn page_size(mut self, param: Param, size: u64) -> Self {
        self.page_size = Some(PageSize { param, size });
        self
    }
    /// Adds a keyset key.
    pub fn key_param(mut self, field: Pointer, param: Param) -> Self {
        self.keys.push(KeyParam { field, param });
        self
    }
    /// Sets [`Hints::key`] and [`Hints::dedupe`].
    pub fn dedupe_by(mut self, key: Pointer) -> Self {
        self.key = Some(key);
        self.dedupe = true;
        self
    }

    /// Whether nothing is given.
    pub fn is_empty(&self) -> bool {
        *self == Hints::default()
    }
}
