//! A server model served over real HTTP, in wall-clock time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::server::{LoopbackServer, ReceivedRequest, Responder, ScriptedResponse};

use super::{Fate, ModelRequest, ServerModel, Truth};

/// Answers real requests from a [`ServerModel`]: the time is the request's arrival, measured
/// from when the responder was made; the model's latency becomes a real delay.
#[derive(Debug)]
pub struct ModelResponder {
    model: ServerModel,
    start: Instant,
    answers: Answers,
}

/// What a served model answered, counted on the server's side: for tests that claim "no
/// 429" or a rate from what the server saw, not from what the client says it saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    /// Responses sent, by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Connections cut instead of answering (the model's resets, before or after the work).
    pub resets: u64,
    /// Responses a limiter of the model refused (whatever status the dialect gives them).
    pub refused: u64,
    /// Responses sent with a `Retry-After` header, by status.
    pub with_retry_after: BTreeMap<u16, u64>,
    /// `200`s whose body chaos cut short.
    pub truncated: u64,
}

impl Answers {
    /// Responses sent with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// Responses sent with `status` and a `Retry-After` header.
    pub fn with_retry_after(&self, status: u16) -> u64 {
        self.with_retry_after.get(&status).copied().unwrap_or(0)
    }

    /// Requests answered in all (responses and cut connections).
    pub fn requests(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.resets
    }
}

impl ModelResponder {
    /// Serves `model`, its clock starting now. The model's own start time (`wall0`) should be
    /// the wall-clock time of now for epoch resets and `Date` headers to be true.
    pub fn new(model: ServerModel) -> Self {
        ModelResponder {
            model,
            start: Instant::now(),
            answers: Answers::default(),
        }
    }

    /// What the model answered so far, counted here.
    pub fn answers(&self) -> &Answers {
        &self.answers
    }

    /// The model (for its ground truth and counts).
    pub fn model(&self) -> &ServerModel {
        &self.model
    }
}

impl Responder for ModelResponder {
    fn respond(&mut self, request: &ReceivedRequest) -> ScriptedResponse {
        let now_ns = u64::try_from(request.at.saturating_duration_since(self.start).as_nanos())
            .unwrap_or(u64::MAX);
        let req = ModelRequest {
            method: &request.method,
            path: &request.path,
            body: &request.body,
        };
        let answer = self.model.handle(now_ns, &req);
        if answer.refused_by.is_some() {
            self.answers.refused += 1;
        }
        if answer.fate == Fate::ResetBefore || answer.fate == Fate::ResetAfter {
            self.answers.resets += 1;
            return ScriptedResponse::drop_connection();
        }
        *self.answers.statuses.entry(answer.status).or_insert(0) += 1;
        if answer.headers.contains_key(http::header::RETRY_AFTER) {
            *self
                .answers
                .with_retry_after
                .entry(answer.status)
                .or_insert(0) += 1;
        }
        self.answers.truncated += u64::from(answer.truncated);
        let mut response = ScriptedResponse::new(answer.status).body(answer.body);
        for (name, value) in &answer.headers {
            if let Ok(v) = value.to_str() {
                response = response.header(name.as_str(), v);
            }
        }
        if answer.latency_ns > 0 {
            response = response.delay(Duration::from_nanos(answer.latency_ns));
        }
        response
    }
}

impl LoopbackServer {
    /// Starts a server answering from a [`ServerModel`] in real time.
    ///
    /// ```
    /// use paceline_testkit::LoopbackServer;
    /// use paceline_testkit::model::{Dialect, LimiterKind, LimiterSpec, Latency, ServerModel};
    /// use std::time::SystemTime;
    ///
    /// let model = ServerModel::new(1, SystemTime::now())
    ///     .dialect(Dialect::Github)
    ///     .latency(Latency { base_ms: 0.0, jitter_ms: 0.0 })
    ///     .limiter(LimiterSpec::new(LimiterKind::FixedWindow { limit: 10, window_s: 60.0 }));
    /// let server = LoopbackServer::start_model(model)?;
    /// assert!(server.url().starts_with("http://127.0.0.1:"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// If a socket cannot be bound or a thread cannot be started.
    pub fn start_model(model: ServerModel) -> std::io::Result<Self> {
        LoopbackServer::start_model_on(0, model)
    }

    /// As [`LoopbackServer::start_model`], on `127.0.0.1:port` (0: a port the OS picks).
    ///
    /// # Errors
    /// If the port is taken, or a socket cannot be bound or a thread started.
    pub fn start_model_on(port: u16, model: ServerModel) -> std::io::Result<Self> {
        LoopbackServer::start_on(port, ModelResponder::new(model))
    }
}

/// A model served by a [`LoopbackServer`] and still reachable by the test (for its ground
/// truth): made by [`LoopbackServer::start_model_at`].
#[derive(Debug, Clone, Default)]
pub struct SharedModel(Arc<Mutex<Option<ModelResponder>>>);

impl SharedModel {
    /// The model's app's ground truth, once the model is in place.
    pub fn truth(&self) -> Option<Truth> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|m| m.model().truth())
    }

    /// What the model answered so far (empty before it is in place).
    pub fn answers(&self) -> Answers {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|m| m.answers().clone())
            .unwrap_or_default()
    }
}

impl LoopbackServer {
    /// Starts a server whose model needs the server's own URL (a dataset whose next links are
    /// absolute): `build` gets `http://127.0.0.1:PORT` and returns the model. Requests that
    /// arrive before it is in place get `503` with `Retry-After: 1`.
    ///
    /// # Errors
    /// If a socket cannot be bound or a thread started.
    pub fn start_model_at(
        build: impl FnOnce(&str) -> ServerModel,
    ) -> std::io::Result<(Self, SharedModel)> {
        let shared = SharedModel::default();
        let serving = shared.clone();
        let server = LoopbackServer::start_with(move |r: &ReceivedRequest| {
            match serving
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_mut()
            {
                Some(model) => model.respond(r),
                None => ScriptedResponse::new(503).header("retry-after", "1"),
            }
        })?;
        let model = ModelResponder::new(build(&server.url()));
        *shared.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(model);
        Ok((server, shared))
    }

    /// Starts a server answering at once (no latency) for the list `data` describes, seeded
    /// with `seed`, with `chaos`: the dataset's URLs are the server's own. Returns the server,
    /// its model (for the truth) and the spec with its `base_url` set (for the page spec and
    /// the template).
    ///
    /// # Errors
    /// If a socket cannot be bound or a thread started.
    pub fn start_dataset(
        mut data: crate::dataset::DatasetSpec,
        seed: u64,
        chaos: super::Chaos,
    ) -> std::io::Result<(Self, SharedModel, crate::dataset::DatasetSpec)> {
        let (server, model) = LoopbackServer::start_model_at(|url| {
            data.base_url = url.to_owned();
            ServerModel::new(seed, std::time::SystemTime::now())
                .latency(super::Latency {
                    base_ms: 0.0,
                    jitter_ms: 0.0,
                })
                .chaos(chaos)
                .app(crate::dataset::Dataset::new(data.clone(), seed))
        })?;
        Ok((server, model, data))
    }
}
