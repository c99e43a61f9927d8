//! The Pacer's events reach `tracing` as warnings with structured fields.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paceline::PacerConfig;
use paceline::retry::{Jitter, RetryPolicy};
use paceline_testkit::{LoopbackServer, Script, ScriptedResponse};
use paceline_ureq::Client;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One event as logged: its level and its fields, rendered.
#[derive(Debug, Clone)]
struct Logged {
    level: Level,
    fields: Vec<(String, String)>,
}

impl Logged {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A subscriber that keeps every event.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Logged>>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Subscriber for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Logged {
            level: *event.metadata().level(),
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn client(max_attempts: u32) -> Client {
    Client::new(
        PacerConfig::default().retry(
            RetryPolicy::default()
                .base(Duration::from_millis(10))
                .jitter(Jitter::None)
                .max_attempts(max_attempts),
        ),
    )
}

fn paceline_warnings(logged: &[Logged]) -> Vec<Logged> {
    logged
        .iter()
        .filter(|l| l.level == Level::WARN)
        .filter(|l| {
            l.field("message")
                .is_some_and(|m| m.starts_with("paceline:"))
        })
        .cloned()
        .collect()
}

#[test]
fn a_retry_is_a_warning_with_its_fields() {
    let server = LoopbackServer::start(Script::new().route(
        "/x",
        [ScriptedResponse::new(503), ScriptedResponse::new(200)],
    ))
    .unwrap();
    let collector = Collector::default();
    let client = client(3);

    let response = tracing::subscriber::with_default(collector.clone(), || {
        client.get(&format!("{}/x", server.url()))
    })
    .unwrap();

    assert_eq!(response.status(), 200);
    let warnings = paceline_warnings(&collector.0.lock().unwrap());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let retry = &warnings[0];
    assert_eq!(retry.field("message"), Some("paceline: retrying"));
    assert_eq!(retry.field("attempt"), Some("1"));
    assert_eq!(retry.field("cause"), Some("status 503"));
    assert_eq!(retry.field("wait_ms"), Some("10"));
    assert_eq!(retry.field("server_asked"), Some("false"));
}

#[test]
fn giving_up_is_a_warning() {
    let server =
        LoopbackServer::start(Script::new().route("/x", [ScriptedResponse::new(503)])).unwrap();
    let collector = Collector::default();
    let client = client(1);

    let err = tracing::subscriber::with_default(collector.clone(), || {
        client.get(&format!("{}/x", server.url()))
    })
    .unwrap_err();

    let warnings = paceline_warnings(&collector.0.lock().unwrap());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].field("message"), Some("paceline: gave up"));
    assert_eq!(warnings[0].field("attempts"), Some("1"));
    assert_eq!(
        warnings[0].field("error"),
        err.pacer_error().map(ToString::to_string).as_deref()
    );
}
