//! `paceline inspect page` and `paceline inspect link`, run as processes: a response (or a
//! `Link` value) on stdin, one JSON value out; exit 0 ok, 1 unreadable input, 2 usage.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};

mod support;

fn run(args: &[&str], stdin: &[u8]) -> Output {
    support::run_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_paceline")).args(args),
        stdin,
    )
}

/// Runs, expects exit 0, returns the JSON printed.
fn ok(args: &[&str], stdin: &str) -> Value {
    let out = run(args, stdin.as_bytes());
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// Runs, expects exit `code` and nothing on stdout, returns stderr.
fn fails(code: i32, args: &[&str], stdin: &str) -> String {
    let out = run(args, stdin.as_bytes());
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn page(url: &str, stdin: &str) -> Value {
    ok(&["inspect", "page", "--url", url], stdin)
}

fn warnings(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect()
}

/// A spec file for one test.
fn spec_file(name: &str, spec: &Value) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "paceline-inspect-{name}-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, spec.to_string()).unwrap();
    path
}

// GitHub REST docs, "Using pagination in the REST API": page 3 of the issues of a repository.
const GITHUB_PAGE_3: &str = "HTTP/2 200\r\n\
content-type: application/json; charset=utf-8\r\n\
link: <https://api.github.com/repositories/1300192/issues?page=2>; rel=\"prev\", <https://api.github.com/repositories/1300192/issues?page=4>; rel=\"next\", <https://api.github.com/repositories/1300192/issues?page=515>; rel=\"last\", <https://api.github.com/repositories/1300192/issues?page=1>; rel=\"first\"\r\n\
x-ratelimit-remaining: 59\r\n\
\r\n\
[{\"id\":1,\"number\":1347,\"title\":\"Found a bug\"},{\"id\":2,\"number\":1348,\"title\":\"Another\"}]";

#[test]
fn github_link_pages() {
    let url = "https://api.github.com/repositories/1300192/issues?page=3";
    let v = page(url, GITHUB_PAGE_3);
    assert_eq!(v["style"], "link");
    assert_eq!(v["items"], 2);
    assert_eq!(
        v["next"],
        json!({"method": "GET", "url": "https://api.github.com/repositories/1300192/issues?page=4", "body": null})
    );
    assert_eq!(v["end"], false);
    let w = warnings(&v);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("detected style link"), "{w:?}");
    // Exactly these keys, printed in this order.
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "end",
            "end_detail",
            "end_reason",
            "items",
            "next",
            "probe",
            "style",
            "warnings"
        ]
    );
    let out = run(&["inspect", "page", "--url", url], GITHUB_PAGE_3.as_bytes());
    let text = String::from_utf8(out.stdout).unwrap();
    let at: Vec<usize> = [
        "\"style\"",
        "\"items\"",
        "\"next\"",
        "\"end\"",
        "\"warnings\"",
    ]
    .iter()
    .map(|k| text.find(k).unwrap())
    .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");

    // The last page: `prev` and `first` only.
    let last = "HTTP/2 200\r\nlink: <https://api.github.com/repositories/1300192/issues?page=514>; rel=\"prev\", <https://api.github.com/repositories/1300192/issues?page=1>; rel=\"first\"\r\n\r\n[{\"id\":9}]";
    let v = page(
        "https://api.github.com/repositories/1300192/issues?page=515",
        last,
    );
    assert_eq!(
        (v["style"].as_str(), v["items"].as_u64()),
        (Some("link"), Some(1))
    );
    assert_eq!(
        (v["next"].is_null(), v["end"].as_bool()),
        (true, Some(true))
    );

    // With GitHub's spec: the next URL is the server's, as given (per_page is only set on the
    // first request).
    let spec = spec_file(
        "github",
        &json!({"style": {"kind": "link"}, "items": "", "page_size": {"param": {"query": "per_page"}, "size": 100}}),
    );
    let v = ok(
        &[
            "inspect",
            "page",
            "--url",
            url,
            "--spec",
            spec.to_str().unwrap(),
        ],
        GITHUB_PAGE_3,
    );
    assert_eq!(
        v["next"]["url"],
        "https://api.github.com/repositories/1300192/issues?page=4"
    );
    assert!(warnings(&v).is_empty());
    std::fs::remove_file(spec).unwrap();
}

// Slack docs, "Pagination": a cursor in response_metadata, "" on the last page.
#[test]
fn slack_cursor() {
    let body = r#"{"ok": true, "channels": [{"id": "C061EG9SL", "name": "general"}, {"id": "C061EG9T2", "name": "random"}], "response_metadata": {"next_cursor": "dGVhbTpDMDYxRkE1UEI="}}"#;
    let url = "https://slack.com/api/conversations.list?exclude_archived=true";
    let v = page(url, body);
    assert_eq!(
        (v["style"].as_str(), v["items"].as_u64()),
        (Some("cursor"), Some(2))
    );
    assert_eq!(
        v["next"]["url"],
        "https://slack.com/api/conversations.list?exclude_archived=true&cursor=dGVhbTpDMDYxRkE1UEI%3D"
    );
    assert_eq!(v["end"], false);

    // Given as a spec (limit=200, as Slack recommends), read from a file.
    let spec = spec_file(
        "slack",
        &json!({"style": {"kind": "cursor", "next": "/response_metadata/next_cursor", "param": {"query": "cursor"}}, "items": "/channels", "page_size": {"param": {"query": "limit"}, "size": 200}}),
    );
    let args = [
        "inspect",
        "page",
        "--url",
        url,
        "--spec",
        spec.to_str().unwrap(),
    ];
    let v = ok(&args, body);
    assert_eq!(
        v["next"]["url"],
        "https://slack.com/api/conversations.list?exclude_archived=true&limit=200&cursor=dGVhbTpDMDYxRkE1UEI%3D"
    );
    assert!(warnings(&v).is_empty());
    let last = r#"{"ok": true, "channels": [{"id": "C0G9QF9GW"}], "response_metadata": {"next_cursor": ""}}"#;
    let v = ok(&args, last);
    assert_eq!(
        (v["items"].as_u64(), v["end"].as_bool()),
        (Some(1), Some(true))
    );
    assert!(v["next"].is_null());
    std::fs::remove_file(spec).unwrap();
}

// Stripe API reference, "Pagination": has_more, the next page after the last object's id.
#[test]
fn stripe_has_more() {
    let body = r#"HTTP/1.1 200 OK
Content-Type: application/json
Request-Id: req_123

{"object": "list", "url": "/v1/customers", "has_more": true, "data": [{"id": "cus_4QFJOjw2pOmAGJ", "object": "customer"}, {"id": "cus_4QFHdAHMN4mbyt", "object": "customer"}]}"#;
    let v = page("https://api.stripe.com/v1/customers?limit=2", body);
    assert_eq!(
        (v["style"].as_str(), v["items"].as_u64()),
        (Some("keyset"), Some(2))
    );
    assert_eq!(
        v["next"]["url"],
        "https://api.stripe.com/v1/customers?limit=2&starting_after=cus_4QFHdAHMN4mbyt"
    );
    let last = body.replace(r#""has_more": true"#, r#""has_more": false"#);
    let v = page("https://api.stripe.com/v1/customers?limit=2", &last);
    assert_eq!(
        (v["next"].is_null(), v["end"].as_bool()),
        (true, Some(true))
    );
}

// OData v4.01 Protocol §11.2.6.7, with the TripPin reference service.
#[test]
fn odata_next_link() {
    let body = r#"{"@odata.context": "https://services.odata.org/V4/TripPinService/$metadata#People", "value": [{"UserName": "russellwhyte"}, {"UserName": "scottketchum"}], "@odata.nextLink": "https://services.odata.org/V4/TripPinService/People?%24skiptoken=8"}"#;
    let v = page("https://services.odata.org/V4/TripPinService/People", body);
    assert_eq!(
        (v["style"].as_str(), v["items"].as_u64()),
        (Some("next_url"), Some(2))
    );
    assert_eq!(
        v["next"]["url"],
        "https://services.odata.org/V4/TripPinService/People?%24skiptoken=8"
    );
    assert_eq!(v["end"], false);
}

#[test]
fn graphql_relay_puts_the_cursor_in_the_body() {
    let request = r#"{"query": "query($after: String) { repository(owner: \"o\", name: \"r\") { issues(first: 2, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } } }", "variables": {}}"#;
    let body = r#"{"data": {"repository": {"issues": {"nodes": [{"id": "I_1"}, {"id": "I_2"}], "pageInfo": {"hasNextPage": true, "endCursor": "Y3Vyc29yOjI="}}}}}"#;
    let v = ok(
        &[
            "inspect",
            "page",
            "--url",
            "https://api.github.com/graphql",
            "--method",
            "post",
            "--body",
            request,
        ],
        body,
    );
    assert_eq!(
        (v["style"].as_str(), v["items"].as_u64()),
        (Some("relay"), Some(2))
    );
    assert_eq!(v["next"]["method"], "POST");
    assert_eq!(v["next"]["body"]["variables"]["after"], "Y3Vyc29yOjI=");
}

#[test]
fn relative_links_resolve_against_the_request() {
    let url = "https://api.test/v1/items?page=1";
    let link = |stdin: &str| ok(&["inspect", "link", "--url", url], stdin);
    assert_eq!(
        link("</v1/items?page=2>; rel=\"next\"\n"),
        "https://api.test/v1/items?page=2"
    );
    assert_eq!(
        link("<?page=2>; rel=next"),
        "https://api.test/v1/items?page=2"
    );
    assert_eq!(
        link("<items?page=2>; REL=\"Next\""),
        "https://api.test/v1/items?page=2"
    );
    assert_eq!(
        link("Link: <../v2/items>; rel=\"prev next\""),
        "https://api.test/v2/items"
    );
    assert_eq!(link("<?page=0>; rel=prev"), Value::Null);
    assert_eq!(link(""), Value::Null);

    let v = page(
        url,
        "HTTP/1.1 200 OK\nLink: <?page=2>; rel=\"next\"\n\n[1, 2]",
    );
    assert_eq!(v["next"]["url"], "https://api.test/v1/items?page=2");
}

#[test]
fn hostile_links() {
    let url = "https://api.test/v1/items?page=1";
    let link = |stdin: &str| fails(1, &["inspect", "link", "--url", url], stdin);
    // Not closed, no target, a quote never closed, control characters, bytes that are not
    // UTF-8 in a target, a megabyte of `<`.
    for hostile in [
        "<https://api.test/v1/items?page=2; rel=next",
        "https://api.test/v1/items?page=2; rel=next",
        "<https://api.test/2>; rel=\"next",
        "<https://api.test/\u{1}2>; rel=next",
        &"<".repeat(1 << 20),
    ] {
        let err = link(hostile);
        assert!(err.starts_with("paceline: line 1: Link:"), "{err}");
        assert!(
            err.len() < 300,
            "the message quotes a bounded prefix: {}",
            err.len()
        );
    }
    // Commas and semicolons inside the target, a `next` with an anchor (about another
    // resource), a second rel ignored: none of them fool the parser.
    assert_eq!(
        ok(
            &["inspect", "link", "--url", url],
            "<https://api.test/a?x=1,2;rel=next>; rel=prev, <https://api.test/b>; rel=next; anchor=\"#x\", <https://api.test/c>; rel=prev; rel=next"
        ),
        Value::Null
    );
    // A target with another scheme is printed as resolved, with a warning: a walk refuses it.
    let out = run(
        &["inspect", "link", "--url", url],
        b"<javascript:alert(1)>; rel=next",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        "javascript:alert(1)"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("a walk refuses it"));

    // In a page: a Link header that does not parse stops the walk (it never guesses an end).
    let v = page(
        url,
        "HTTP/1.1 200 OK\nLink: <https://api.test/2; rel=next\n\n[1, 2]",
    );
    assert_eq!(
        (v["items"].as_u64(), v["end"].as_bool()),
        (Some(2), Some(false))
    );
    assert!(v["next"].is_null());
    assert!(
        warnings(&v)
            .iter()
            .any(|w| w.starts_with("walk stopped: Link:")),
        "{v}"
    );
    // And a javascript: next is refused.
    let v = page(
        url,
        "HTTP/1.1 200 OK\nLink: <javascript:alert(1)>; rel=next\n\n[1]",
    );
    assert!(v["next"].is_null());
    assert!(
        warnings(&v)
            .iter()
            .any(|w| w.contains("another origin refused: javascript:alert(1)")),
        "{v}"
    );
}

#[test]
fn an_off_origin_next_is_refused_unless_allowed() {
    let url = "https://api.test/v1/items";
    let input =
        "HTTP/1.1 200 OK\nLink: <https://cdn.test/v1/items?page=2>; rel=next\n\n[{\"id\":1}]";
    let v = page(url, input);
    assert_eq!(
        (v["next"].is_null(), v["end"].as_bool()),
        (true, Some(false))
    );
    assert!(
        warnings(&v)
            .iter()
            .any(|w| w == "walk stopped: next URL on another origin refused: https://cdn.test/v1/items?page=2"),
        "{v}"
    );

    let v = ok(
        &[
            "inspect",
            "page",
            "--url",
            url,
            "--allow-origin",
            "https://cdn.test",
        ],
        input,
    );
    assert_eq!(v["next"]["url"], "https://cdn.test/v1/items?page=2");
    assert!(
        warnings(&v)
            .iter()
            .any(|w| w.contains("to be requested without credentials")),
        "{v}"
    );
    // Another port is another origin too.
    let v = page(
        "http://127.0.0.1:8080/items",
        "Link: <http://127.0.0.1:8081/items?page=2>; rel=next\n\n[1]",
    );
    assert!(v["next"].is_null());
}

#[test]
fn exit_codes() {
    let url = "https://api.test/items";
    // 1: input that is not a usable page.
    let e = fails(1, &["inspect", "page", "--url", url], "HTTP/1.1 abc\n\n[]");
    assert!(e.contains("not a status line"), "{e}");
    let e = fails(
        1,
        &["inspect", "page", "--url", url],
        "HTTP/1.1 200 OK\n\n<html>oops</html>",
    );
    assert!(e.contains("not a page: page body is not JSON"), "{e}");
    let e = fails(
        1,
        &["inspect", "page", "--url", url],
        "HTTP/1.1 200 OK\n\n{\"data\":[1,",
    );
    assert!(e.contains("truncated"), "{e}");
    let e = fails(
        1,
        &["inspect", "page", "--url", url],
        "HTTP/1.1 503 Service Unavailable\n\n{}",
    );
    assert!(e.contains("status 503"), "{e}");
    let e = fails(1, &["inspect", "page", "--url", url], r#"{"total": 3}"#);
    assert!(e.contains("no list found"), "{e}");
    // 2: usage.
    fails(2, &["inspect", "page"], "[]");
    fails(2, &["inspect", "link"], "");
    fails(2, &["inspect", "page", "--url", "/relative"], "[]");
    fails(2, &["inspect", "page", "--url", "ftp://x.test/"], "[]");
    let e = fails(
        2,
        &[
            "inspect",
            "page",
            "--url",
            url,
            "--spec",
            "/no/such/spec.json",
        ],
        "[]",
    );
    assert!(e.contains("cannot read --spec"), "{e}");
    let bad = spec_file("bad", &json!({"style": {"kind": "warp"}, "items": ""}));
    let e = fails(
        2,
        &[
            "inspect",
            "page",
            "--url",
            url,
            "--spec",
            bad.to_str().unwrap(),
        ],
        "[]",
    );
    assert!(e.contains("is not a page spec"), "{e}");
    std::fs::remove_file(bad).unwrap();
    let e = fails(2, &["inspect", "page", "--url", url, "--body", "{"], "[]");
    assert!(e.contains("--body is not JSON"), "{e}");
}

#[test]
fn skipped_header_lines_are_warnings() {
    let v = page(
        "https://api.test/items",
        "HTTP/1.1 200 OK\nnot a header\nLink: <?page=2>; rel=next\n\n[1]",
    );
    assert_eq!(v["next"]["url"], "https://api.test/items?page=2");
    let w = warnings(&v);
    assert!(w[0].starts_with("line 2: no `:`"), "{w:?}");
}
