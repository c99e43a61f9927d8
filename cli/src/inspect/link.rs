//! `paceline inspect link --url REQUEST_URL`: the resolved `rel="next"` of a `Link` value.

use std::process::ExitCode;

use clap::Args;
use paceline::paginate::{Link, Url, find_rel, parse_link};

use super::{print_json, read_stdin, show, trim};

/// Arguments of `inspect link`.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The URL of the request whose response carried the header: relative targets resolve
    /// against it (RFC 3986 §5).
    #[arg(long, value_name = "REQUEST_URL", value_parser = parse_base)]
    url: Url,
    /// The relation type to look for.
    #[arg(long, default_value = "next")]
    rel: String,
}

fn parse_base(s: &str) -> Result<Url, String> {
    Url::parse(s).map_err(|e| format!("not an absolute URL: {e}"))
}

/// Runs `inspect link`.
pub fn run(args: LinkArgs) -> ExitCode {
    let input = match read_stdin() {
        Ok(input) => input,
        Err(code) => return code,
    };
    match resolve(&input, &args.url, &args.rel) {
        Ok(target) => {
            if let Some(url) = &target {
                for w in warnings(url, &args.url) {
                    eprintln!("paceline: warning: {w}");
                }
            }
            print_json(&target.map(String::from))
        }
        Err(e) => {
            eprintln!("paceline: {e}");
            ExitCode::from(1)
        }
    }
}

/// The first `rel` link of every `Link` value in `input` (one per line, several fields being one
/// list), resolved against `base`. An error means the input is not a `Link` value.
fn resolve(input: &[u8], base: &Url, rel: &str) -> Result<Option<Url>, String> {
    let mut links: Vec<Link<'_>> = Vec::new();
    for (i, line) in input.split(|&b| b == b'\n').enumerate() {
        let mut value = trim(line.strip_suffix(b"\r").unwrap_or(line));
        if value.len() >= 5 && value[..5].eq_ignore_ascii_case(b"link:") {
            value = trim(&value[5..]);
        }
        let parsed =
            parse_link(value).map_err(|e| format!("line {}: {e} ({})", i + 1, show(value)))?;
        links.extend(parsed);
    }
    find_rel(&links, rel)
        .map(|l| {
            base.join(l.target())
                .map_err(|e| format!("{rel} target {:?} cannot be resolved: {e}", l.target()))
        })
        .transpose()
}

/// What a walk would make of this target: it follows only http(s) URLs on the request's
/// origin, unless told otherwise.
fn warnings(target: &Url, base: &Url) -> Vec<String> {
    if !matches!(target.scheme(), "http" | "https") {
        vec![format!(
            "the target's scheme is {}: a walk refuses it",
            target.scheme()
        )]
    } else if target.origin() != base.origin() {
        vec![format!(
            "the target is on another origin ({}): a walk refuses it unless that origin is allowed, and then sends no credentials there",
            target.origin().ascii_serialization()
        )]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://api.test/v1/items?page=1").unwrap()
    }

    fn next(input: &str) -> Result<Option<String>, String> {
        resolve(input.as_bytes(), &base(), "next").map(|u| u.map(String::from))
    }

    #[test]
    fn lines_prefixes_and_several_fields() {
        assert_eq!(
            next("Link: <?page=2>; rel=next\n").unwrap().as_deref(),
            Some("https://api.test/v1/items?page=2")
        );
        assert_eq!(
            next("<a>; rel=prev\r\nLINK:<b>; rel=\"next last\"\r\n")
                .unwrap()
                .as_deref(),
            Some("https://api.test/v1/b")
        );
        assert_eq!(next("").unwrap(), None);
        assert_eq!(next("<x>; rel=prev").unwrap(), None);
    }

    #[test]
    fn garbage_is_an_error_with_the_line() {
        let e = next("<a>; rel=prev\n<https://x; rel=next").unwrap_err();
        assert!(
            e.starts_with("line 2: Link: '<' at byte 0 not closed"),
            "{e}"
        );
    }

    #[test]
    fn warnings_for_other_origins_and_schemes() {
        let w = |t: &str| warnings(&Url::parse(t).unwrap(), &base());
        assert!(w("https://api.test/v1/items?page=2").is_empty());
        assert!(w("http://api.test/v1/items?page=2")[0].contains("another origin"));
        assert!(w("javascript:alert(1)")[0].contains("scheme is javascript"));
    }
}
