//! The names lists and their parameters go by, as APIs document them. Names are compared
//! normalised ([`norm`]): lower case, letters and digits only, so `next_page_url`, `nextPageUrl`
//! and `next-page-url` are one name, and so are `page[size]`, `page_size` and `pageSize`.

/// A name, normalised: ASCII letters lower-cased, digits kept, everything else dropped.
pub(crate) fn norm(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// What a member of a response body says about paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The next page's URL (a string, or an object with `href`/`url`/`uri`/`link`).
    NextUrl,
    /// An opaque cursor or token for the next page, sent back under this parameter name
    /// (`""`: the member's own name).
    Cursor(&'static str),
    /// The next page's number.
    NextPage,
    /// A boolean: more pages follow.
    HasMore,
    /// A boolean: this is the last page.
    Done,
    /// The list's record count.
    Total,
    /// A count that is the list's total in some APIs and the page's in others (DRF's and
    /// OData's `count` are totals; elsewhere it is the page's length): a total only when it
    /// is larger than the page.
    MaybeTotal,
    /// The list's page count.
    Pages,
    /// This page's number.
    Page,
    /// This page's offset.
    Offset,
    /// The page size the server uses, echoed in the body (Bitbucket's `pagelen`).
    Size,
}

/// The role of a body member, by its normalised name.
pub(crate) fn body_role(norm: &str) -> Option<Role> {
    use Role::*;
    Some(match norm {
        "next" | "nexturl" | "nextlink" | "nextpageurl" | "nextpageuri" | "nexturi"
        | "nextpagelink" | "nextrecordsurl" | "odatanextlink" | "nexthref" | "nextpagehref" => {
            NextUrl
        }
        // A URL when it is one (Zendesk), a page number when it is a number (Harvest).
        "nextpage" => NextUrl,
        "nextcursor" | "cursor" | "nextpagecursor" => Cursor("cursor"),
        "nextpagetoken" => Cursor("pageToken"),
        "nexttoken" | "paginationtoken" | "continuationtoken" | "continuation" | "continue"
        | "after" | "nextkey" => Cursor(""),
        "nextcontinuationtoken" => Cursor("continuation-token"),
        "nextmarker" | "marker" => Cursor("marker"),
        "startingafter" => Cursor("starting_after"),
        "nextstart" | "nextpagestart" => Cursor("start"),
        // Relay's names outside GraphQL (Pipeliner's `page_info.end_cursor`).
        "endcursor" => Cursor("after"),
        // DynamoDB: an object, sent back whole.
        "lastevaluatedkey" => Cursor("ExclusiveStartKey"),
        "nextoffset" => Cursor("offset"),
        "nextpagenumber" => NextPage,
        "hasmore"
        | "more"
        | "hasnext"
        | "hasnextpage"
        | "moreitemsincollection"
        | "istruncated"
        | "truncated"
        | "hasmoreitems"
        | "hasmoreresults"
        | "moreresults"
        | "hasmorepages"
        | "morepages"
        | "morerecords" => HasMore,
        "islast" | "last" | "done" | "islastpage" | "lastpage" | "finished" | "end" | "nomore" => {
            Done
        }
        "total" | "totalcount" | "totalitems" | "totalresults" | "totalsize" | "totalelements"
        | "totalentries" | "totalrecords" | "totalhits" | "numfound" | "totalrows"
        | "totalobjects" | "recordstotal" | "odatacount" => Total,
        "count" => MaybeTotal,
        "totalpages" | "pages" | "pagecount" | "numpages" | "pagestotal" | "totalpagecount" => {
            Pages
        }
        "page" | "currentpage" | "pagenumber" | "pageno" | "pageindex" | "number" => Page,
        "offset" | "start" | "startat" | "skip" | "startindex" => Offset,
        "pagelen" | "pagesize" | "perpage" | "limit" | "maxresults" | "hitsperpage"
        | "pagelimit" | "resultsperpage" => Size,
        _ => return None,
    })
}

/// Parameter roles in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamRole {
    /// The page size.
    Size,
    /// An offset.
    Offset,
    /// A page number.
    Page,
    /// A cursor or token.
    Cursor,
}

/// The role of a request parameter, by its name as written: a bracketed name by its last
/// segment (`pagination[page]` is a page, `page[size]` a size, `page[after]` a cursor).
pub(crate) fn param_role_of(name: &str) -> Option<ParamRole> {
    if let Some(inner) = name
        .strip_suffix(']')
        .and_then(|n| n.rsplit_once('['))
        .map(|(_, last)| last)
    {
        let n = norm(inner);
        return param_role(if n == "number" { "page" } else { &n });
    }
    param_role(&norm(name))
}

/// The role of a request parameter, by its normalised name.
pub(crate) fn param_role(norm: &str) -> Option<ParamRole> {
    use ParamRole::*;
    Some(match norm {
        "limit" | "perpage" | "pagesize" | "size" | "maxresults" | "top" | "first" | "count"
        | "rows" | "take" | "pagelimit" | "maxitems" | "numresults" | "results" => Size,
        "offset" | "skip" | "start" | "startat" | "startindex" | "from" | "pageoffset" => Offset,
        "page" | "pagenumber" | "pageno" | "currentpage" | "pageindex" => Page,
        "cursor" | "after" | "pagetoken" | "startingafter" | "startcursor" | "nexttoken"
        | "continuationtoken" | "marker" | "continue" | "paginationtoken" | "nextpagetoken"
        | "pagecursor" | "pageafter" | "skiptoken" | "exclusivestartkey" | "starttoken" => Cursor,
        _ => return None,
    })
}

/// The offset and page parameters that usually go with a page-size parameter, in the order
/// to try them: `limit` with `offset` (or `page`), `_limit` with json-server's `_start`,
/// `$top` with OData's `$skip`, Jira's `maxResults` with `startAt`, Solr's `rows` with `start`.
/// Written in the size parameter's own spelling (`page[size]` → `page[number]`).
pub(crate) fn companions(size_param: &str) -> Vec<(ParamRole, String)> {
    use ParamRole::{Offset, Page};
    let n = norm(size_param);
    let bracket = size_param.starts_with("page[");
    let prefix = &size_param[..size_param.len() - size_param.trim_start_matches(['_', '$']).len()];
    let named = |s: &str| format!("{prefix}{s}");
    match n.as_str() {
        _ if bracket => vec![
            (Page, "page[number]".to_owned()),
            (Offset, "page[offset]".to_owned()),
        ],
        "limit" | "pagelimit" => vec![(Offset, named("offset")), (Page, named("page"))],
        "top" => vec![(Offset, named("skip"))],
        "take" => vec![(Offset, named("skip"))],
        "rows" => vec![(Offset, named("start"))],
        "maxresults" => vec![
            (Offset, named("startAt")),
            (Offset, named("startIndex")),
            (Page, named("page")),
        ],
        "count" => vec![(Offset, named("offset")), (Offset, named("start"))],
        "perpage" | "pagesize" | "size" | "maxitems" | "results" => {
            let mut out = vec![(Page, named("page"))];
            if size_param.chars().any(|c| c.is_ascii_uppercase()) {
                out.push((Page, named("pageNumber")));
            }
            out.push((Offset, named("offset")));
            out
        }
        _ => vec![(Offset, named("offset")), (Page, named("page"))],
    }
    .into_iter()
    .map(|(role, name)| {
        // json-server's `_limit` pairs with `_start` and `_page`.
        let name = if prefix == "_" && name == "_offset" {
            "_start".to_owned()
        } else {
            name
        };
        (role, name)
    })
    .collect()
}

/// Response headers that carry a list's record count. `Content-Range` (`items 0-24/3573`,
/// PostgREST and others) carries it after the slash.
pub(crate) const TOTAL_HEADERS: [&str; 8] = [
    "x-total-count",
    "x-total",
    "x-wp-total",
    "x-total-results",
    "x-pagination-total-count",
    "x-total-items",
    "total-count",
    "content-range",
];

/// Response headers that carry a list's page count.
pub(crate) const PAGES_HEADERS: [&str; 4] = [
    "x-total-pages",
    "x-wp-totalpages",
    "x-pagination-page-count",
    "x-pages",
];

/// Response headers that carry the next page's number (empty on the last page).
pub(crate) const NEXT_PAGE_HEADERS: [&str; 2] = ["x-next-page", "x-pagination-next-page"];

/// Response headers that carry the current page's number.
pub(crate) const PAGE_HEADERS: [&str; 3] =
    ["x-page", "x-current-page", "x-pagination-current-page"];

/// Members that hold a list's records, in order of preference.
pub(crate) const ITEMS: [&str; 17] = [
    "data",
    "items",
    "results",
    "records",
    "value",
    "entries",
    "nodes",
    "edges",
    "hits",
    "elements",
    "rows",
    "content",
    "objects",
    "list",
    "collection",
    "docs",
    "children",
];

/// Arrays beside the records that are not records: errors, warnings, side-loaded resources,
/// links, facets.
pub(crate) fn not_records(norm: &str) -> bool {
    matches!(
        norm,
        "errors"
            | "error"
            | "warnings"
            | "links"
            | "included"
            | "facets"
            | "aggregations"
            | "sort"
            | "fields"
            | "columns"
            | "schema"
            | "meta"
            | "metadata"
            | "params"
            | "scopes"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_one_name() {
        for n in [
            "next_page_url",
            "nextPageUrl",
            "next-page-url",
            "NextPageURL",
        ] {
            assert_eq!(body_role(&norm(n)), Some(Role::NextUrl), "{n}");
        }
        for n in [
            "page[size]",
            "page_size",
            "pageSize",
            "_limit",
            "$top",
            "per-page",
        ] {
            assert_eq!(param_role(&norm(n)), Some(ParamRole::Size), "{n}");
        }
        assert_eq!(norm("@odata.nextLink"), "odatanextlink");
    }

    #[test]
    fn companions_keep_the_spelling() {
        let names = |p: &str| -> Vec<String> { companions(p).into_iter().map(|c| c.1).collect() };
        assert_eq!(names("limit"), ["offset", "page"]);
        assert_eq!(names("_limit"), ["_start", "_page"]);
        assert_eq!(names("$top"), ["$skip"]);
        assert_eq!(names("page[size]"), ["page[number]", "page[offset]"]);
        assert_eq!(names("maxResults"), ["startAt", "startIndex", "page"]);
        assert_eq!(names("per_page"), ["page", "offset"]);
        assert_eq!(names("pageSize"), ["page", "pageNumber", "offset"]);
    }
}
