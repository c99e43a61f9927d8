//! Links written by the RFC 8288 grammar read back as written: any list of link-values (a
//! target without `>`, whitespace or controls; parameters whose names are tokens and whose
//! values are tokens or quoted strings, `"` and `\` escaped), formatted as a `Link` field value
//! with `, ` and `; ` (and, when the input says so, extra optional whitespace and empty list
//! elements), parses with `parse_link` to the same targets and the same parameters, in order,
//! values unescaped. `parse_link_header` (the crate) is no oracle here: it strips every quote,
//! angle bracket and space before splitting on `,` and `;`, so this target checks paceline
//! against the grammar instead.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paceline::paginate::parse_link;

type Param = (String, String, bool);

fn tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fuzz_target!(|input: (Vec<(String, Vec<Param>)>, bool)| {
    let (links, spaced) = input;
    let mut expected: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut value = String::new();
    let sep = if spaced { " ,\t, " } else { ", " };
    for (target, params) in links.into_iter().take(8) {
        let target: String = target
            .chars()
            .filter(|c| *c != '>' && !c.is_whitespace() && !c.is_control())
            .collect();
        if !value.is_empty() {
            value.push_str(sep);
        }
        value.push('<');
        value.push_str(&target);
        value.push('>');
        let mut written = Vec::new();
        for (name, v, quoted) in params.into_iter().take(6) {
            let name: String = name.chars().filter(|c| tchar(*c)).collect();
            if name.is_empty() {
                continue;
            }
            value.push_str(if spaced { " ;\t" } else { "; " });
            value.push_str(&name);
            value.push('=');
            let v: String = if quoted {
                let v: String = v
                    .chars()
                    .filter(|c| *c == '\t' || !c.is_control())
                    .collect();
                value.push('"');
                for c in v.chars() {
                    if c == '"' || c == '\\' {
                        value.push('\\');
                    }
                    value.push(c);
                }
                value.push('"');
                v
            } else {
                let v: String = v.chars().filter(|c| tchar(*c)).collect();
                if v.is_empty() {
                    value.push('x');
                    "x".to_owned()
                } else {
                    value.push_str(&v);
                    v
                }
            };
            written.push((name, v));
        }
        expected.push((target, written));
    }
    let parsed = parse_link(value.as_bytes()).unwrap_or_else(|e| panic!("{value:?}: {e}"));
    let got: Vec<(String, Vec<(String, String)>)> = parsed
        .iter()
        .map(|l| {
            let params = l
                .params()
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.to_string()))
                .collect();
            (l.target().to_owned(), params)
        })
        .collect();
    assert_eq!(got, expected, "{value:?}");
});
