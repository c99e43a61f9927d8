//! Where records go: the output file (or standard output), one record a line.
//!
//! The output is JSON Lines: one record a line. A record comes as the server wrote it, byte
//! for byte, unless it spans lines (a server that pretty-prints its pages): then it is written
//! compact, without the whitespace between its tokens ([`compact`]). How much of it is durable
//! is the state file's to say ([`super::state`]).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// The output: a file, or standard output.
pub struct Output {
    sink: Sink,
    /// Bytes written so far (the file's length once flushed).
    len: u64,
    /// A record made compact, reused from one record to the next.
    compacted: Vec<u8>,
}

enum Sink {
    File(BufWriter<File>),
    Stdout(BufWriter<io::Stdout>),
}

impl Output {
    /// Opens `path` for writing at `keep` bytes: the file is cut to `keep` (0: a new extract).
    ///
    /// # Errors
    /// When the file cannot be opened, or is shorter than `keep` (it was changed since the
    /// checkpoint: resuming would lose records).
    pub fn file(path: &Path, keep: u64) -> io::Result<Output> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(keep == 0)
            .open(path)
            .map_err(|e| with_path(e, "cannot open", path))?;
        let len = file.metadata()?.len();
        if len < keep {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: {len} bytes, but the checkpoint covers {keep}: the file was changed \
                     since; start over without --resume",
                    path.display()
                ),
            ));
        }
        file.set_len(keep)?;
        let mut writer = BufWriter::with_capacity(256 * 1024, file);
        io::Seek::seek(&mut writer, io::SeekFrom::Start(keep))?;
        Ok(Output {
            sink: Sink::File(writer),
            len: keep,
            compacted: Vec::new(),
        })
    }

    /// Bytes written so far (buffered ones included).
    pub fn written(&self) -> u64 {
        self.len
    }

    /// Standard output.
    pub fn stdout() -> Output {
        Output {
            sink: Sink::Stdout(BufWriter::with_capacity(64 * 1024, io::stdout())),
            len: 0,
            compacted: Vec::new(),
        }
    }

    /// Writes one record (a JSON value, as the walk parsed it) and a newline: the record as it
    /// is when it holds no line break (no copy), else made [`compact`].
    pub fn record(&mut self, json: &[u8]) -> io::Result<()> {
        let Output {
            sink,
            len,
            compacted,
        } = self;
        // A line break in JSON is whitespace between tokens: inside strings it is escaped.
        let line = if json.contains(&b'\n') || json.contains(&b'\r') {
            compacted.clear();
            compact(json, compacted);
            &compacted[..]
        } else {
            json
        };
        let w: &mut dyn Write = match sink {
            Sink::File(w) => w,
            Sink::Stdout(w) => w,
        };
        w.write_all(line)?;
        w.write_all(b"\n")?;
        *len += line.len() as u64 + 1;
        Ok(())
    }

    /// Flushes what is buffered to the OS and returns a handle to `fsync` the file with (so a
    /// writer thread can wait for the disk without holding the output), and the length written.
    pub fn flush_for_sync(&mut self) -> io::Result<(Option<File>, u64)> {
        match &mut self.sink {
            Sink::File(w) => {
                w.flush()?;
                Ok((Some(w.get_ref().try_clone()?), self.len))
            }
            Sink::Stdout(w) => {
                w.flush()?;
                Ok((None, self.len))
            }
        }
    }

    /// Makes everything written durable (a file is flushed and `fsync`ed; stdout flushed), and
    /// returns the length written.
    pub fn sync(&mut self) -> io::Result<u64> {
        match &mut self.sink {
            Sink::File(w) => {
                w.flush()?;
                w.get_ref().sync_data()?;
            }
            Sink::Stdout(w) => w.flush()?,
        }
        Ok(self.len)
    }
}

/// Appends the JSON value `json` to `out` without its insignificant whitespace: the space,
/// tab, line feed and carriage return allowed between tokens (RFC 8259, section 2). Strings
/// are copied untouched, escapes and all; so are numbers and literals, so the value, its key
/// order and its numbers' spelling stay what the server sent.
///
/// Tokens need no more telling apart than this for a valid value (which records are: the walk
/// parsed them with serde_json): whitespace outside strings only ever separates tokens that
/// punctuation already separates.
fn compact(json: &[u8], out: &mut Vec<u8>) {
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        } else if b == b'"' {
            in_string = true;
        }
        out.push(b);
    }
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {what}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compacted(json: &str) -> String {
        let mut out = Vec::new();
        compact(json.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    fn value(json: &str) -> serde_json::Value {
        serde_json::from_str(json).unwrap()
    }

    /// Writes `records` through an [`Output`] on a new file; returns the file and what
    /// [`Output::written`] said.
    fn write_file(name: &str, records: &[&str]) -> (String, u64) {
        let path = std::env::temp_dir().join(format!(
            "paceline-output-{name}-{}.jsonl",
            std::process::id()
        ));
        let mut out = Output::file(&path, 0).unwrap();
        for r in records {
            out.record(r.as_bytes()).unwrap();
        }
        let written = out.sync().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        (text, written)
    }

    #[test]
    fn a_pretty_record_becomes_one_line_of_the_same_value() {
        let pretty = "{\n  \"id\": 7,\n  \"tags\": [\n    \"a b\",\n    \"c\"\n  ],\n  \"owner\": {\n    \"login\": \"octo cat\"\n  }\n}";
        let (text, written) = write_file("pretty", &[pretty, pretty]);
        let line = r#"{"id":7,"tags":["a b","c"],"owner":{"login":"octo cat"}}"#;
        assert_eq!(text, format!("{line}\n{line}\n"));
        assert_eq!(value(line), value(pretty));
        // The length the checkpoint records is the file's.
        assert_eq!(written, text.len() as u64);
    }

    #[test]
    fn a_single_line_record_is_written_byte_for_byte() {
        let record =
            r#"{ "id" : 1, "name": "a  b",	"n": 1.50E+3, "big": 123456789012345678901234567890 }"#;
        let (text, written) = write_file("verbatim", &[record]);
        assert_eq!(text, format!("{record}\n"));
        assert_eq!(written, record.len() as u64 + 1);
    }

    #[test]
    fn carriage_returns_are_line_breaks_too() {
        let crlf = "{\r\n  \"id\": 1,\r\n  \"s\": \"x\"\r\n}";
        let (text, _) = write_file("crlf", &[crlf, "[\r1,\r2]"]);
        assert_eq!(text, "{\"id\":1,\"s\":\"x\"}\n[1,2]\n");
    }

    #[test]
    fn strings_numbers_and_key_order_are_kept() {
        let pretty = "{\n  \"z\": \"a \\\"quoted\\\" \\\\ space\\n \\u00e9 é\",\n  \"a\": [ -0, 1.0e+3, 12345678901234567890123, true, null ],\n  \"\\\"k\\\\\": { }\n}";
        assert_eq!(
            compacted(pretty),
            r#"{"z":"a \"quoted\" \\ space\n \u00e9 é","a":[-0,1.0e+3,12345678901234567890123,true,null],"\"k\\":{}}"#
        );
    }

    /// Against serde_json's own writers: pretty, then made compact, is serde_json's compact
    /// text, for values of every kind, nested.
    #[test]
    fn compact_of_pretty_is_serde_jsons_compact() {
        fn random(rng: &mut fastrand::Rng, depth: u32) -> serde_json::Value {
            use serde_json::Value;
            let text = |rng: &mut fastrand::Rng| -> String {
                let alphabet = [
                    'a', ' ', '"', '\\', '\n', '\r', '\t', '{', '}', ',', ':', 'é', '\u{2028}',
                ];
                (0..rng.usize(0..8))
                    .map(|_| alphabet[rng.usize(..alphabet.len())])
                    .collect()
            };
            match rng.u32(0..if depth > 3 { 5 } else { 7 }) {
                0 => Value::Null,
                1 => Value::Bool(rng.bool()),
                2 => Value::from(rng.i64(..)),
                3 => Value::from(rng.f64() * 1e6 - 5e5),
                4 => Value::String(text(rng)),
                5 => (0..rng.usize(0..4))
                    .map(|_| random(rng, depth + 1))
                    .collect(),
                _ => Value::Object(
                    (0..rng.usize(0..4))
                        .map(|_| (text(rng), random(rng, depth + 1)))
                        .collect(),
                ),
            }
        }
        let mut rng = fastrand::Rng::with_seed(10);
        for _ in 0..2_000 {
            let v = random(&mut rng, 0);
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            assert_eq!(
                compacted(&pretty),
                serde_json::to_string(&v).unwrap(),
                "{pretty}"
            );
        }
    }
}
