//! The library drivers' page walks never take a credential to another origin: the walk's own
//! credential headers ([`Guards::credential_headers`]) as well as `Authorization` and
//! `Cookie`, on a 30x redirect of a page request as on a next URL. Under ureq, smol and
//! async-std.
//!
//! Already covered elsewhere: a plain request's redirect (`tests/drivers.rs`
//! `a_redirect_to_another_origin_goes_without_credentials`, `tests/ureq_redirect.rs`), a `Link`
//! to another origin refused (`drivers.rs` `a_next_url_on_another_origin_is_refused`), one
//! allowed and requested without credentials (`tests/ureq_pages.rs`); through `paceline
//! extract`: `cli/tests/extract_credentials.rs`.

use http::HeaderValue;
use paceline::PacerConfig;
use paceline::paginate::{Guards, PageSpec, RequestTemplate};
use paceline_testkit::{LoopbackServer, ReceivedRequest, ScriptedResponse};

const KEY: &str = "api-key-3f9a";
const BEARER: &str = "Bearer tok-81c2";

#[derive(Debug, Clone, Copy)]
enum Driver {
    Ureq,
    Smol,
    AsyncStd,
}

impl Driver {
    /// Walks the list: the records' count, and the error that ended it, if one did.
    fn walk(self, spec: PageSpec, template: RequestTemplate) -> (usize, Option<String>) {
        match self {
            Driver::Ureq => {
                let client = paceline_ureq::Client::new(PacerConfig::default());
                match client.pages(Some(spec), template, paceline_ureq::PageOptions::new()) {
                    Ok(pages) => {
                        let mut n = 0;
                        for r in pages {
                            match r {
                                Ok(_) => n += 1,
                                Err(e) => return (n, Some(e.to_string())),
                            }
                        }
                        (n, None)
                    }
                    Err(e) => (0, Some(e.to_string())),
                }
            }
            _ => {
                let walk = async {
                    let client = paceline_async::Client::new(PacerConfig::default());
                    let options = paceline_async::PageOptions::new();
                    let mut pages = match client.pages(Some(spec), template, options).await {
                        Ok(p) => p,
                        Err(e) => return (0, Some(e.to_string())),
                    };
                    let mut n = 0;
                    loop {
                        match pages.next_record().await {
                            Some(Ok(_)) => n += 1,
                            Some(Err(e)) => return (n, Some(e.to_string())),
                            None => return (n, None),
                        }
                    }
                };
                match self {
                    Driver::AsyncStd => async_std::task::block_on(walk),
                    _ => smol::block_on(walk),
                }
            }
        }
    }
}

#[test]
fn a_page_redirected_to_another_origin_goes_without_the_walks_credentials() {
    for d in [Driver::Ureq, Driver::Smol, Driver::AsyncStd] {
        let other = LoopbackServer::start_with(|_: &ReceivedRequest| {
            ScriptedResponse::new(200).json(r#"[{"id":1},{"id":2}]"#)
        })
        .unwrap();
        let target = format!("{}/items", other.url());
        let first = LoopbackServer::start_with(move |_: &ReceivedRequest| {
            ScriptedResponse::new(302).header("Location", &target)
        })
        .unwrap();
        let template = RequestTemplate::get(&format!("{}/items", first.url()))
            .unwrap()
            .header(
                http::header::AUTHORIZATION,
                HeaderValue::from_static(BEARER),
            )
            .header(
                http::HeaderName::from_static("x-api-key"),
                HeaderValue::from_static(KEY),
            );
        let spec = PageSpec::link("").guards(Guards::default().credential_header("X-Api-Key"));
        let (n, err) = d.walk(spec, template);
        assert_eq!((n, err), (2, None), "{d:?}");
        assert_eq!(first.received()[0].header("x-api-key"), Some(KEY), "{d:?}");
        let there = other.received();
        assert_eq!(there.len(), 1, "{d:?}");
        assert_eq!(there[0].header("authorization"), None, "{d:?}");
        assert_eq!(
            there[0].header("x-api-key"),
            None,
            "{d:?}: a credential header of the walk's went to another origin"
        );
    }
}
