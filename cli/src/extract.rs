//! `paceline extract URL`: every record of a list endpoint into a JSON Lines file, paced by
//! the Pacer, checkpointed after each page, resumable after a crash.
//!
//! The loop, one page at a time (a page walk is sequential: each request needs the previous
//! response's cursor):
//!
//! ```text
//! next_page()          waits, retries, re-requests garbled pages (the Pacer and Pages)
//!   └► write its records to the output
//!   └► commit(): flush + fsync the output, then replace the state file atomically
//!        (checkpoint + the output's length)
//! ```
//!
//! A crash at any moment leaves a state file that covers only durable records; `--resume`
//! cuts the output back to the length it recorded and goes on from its checkpoint.

mod headers;
mod output;
mod progress;
mod quota_state;
mod stats;
mod units;

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use paceline::paginate::{
    Checkpoint, Guards, Hints, PageSize, PageSpec, Param, Pointer, RequestTemplate, Source,
    StyleKind, Url,
};
use paceline::retry::RetryPolicy;
use paceline::throttle::{Limit, Period, QuotaConfig, ThrottleConfig};
use paceline::{Pacer, PacerConfig};
use paceline_ureq::{
    Client, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_BODY_LIMIT, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, PageOptions, PagesError, Resume, Timeouts, ureq,
};

use output::{Output, StateFlush, StateStore};
pub use progress::Limits;
pub use quota_state::QuotaState;
use stats::Stats;
use units::{ByteSize, Seconds};

/// Exit codes, as `--help` and the README list them.
pub mod code {
    /// Every record was extracted.
    pub const COMPLETE: u8 = 0;
    /// A local failure: the output or the checkpoint could not be written.
    pub const LOCAL: u8 = 1;
    /// Bad input: usage, a spec, a header, a checkpoint that does not fit.
    pub const BAD_INPUT: u8 = 2;
    /// The server stayed unavailable (retries exhausted) or answered an error.
    pub const SERVER: u8 = 3;
    /// A daily or monthly quota is used up.
    pub const QUOTA: u8 = 4;
    /// Interrupted (Ctrl-C); the checkpoint is saved: run again with `--resume`.
    pub const INTERRUPTED: u8 = 5;
    /// A guard stopped the walk (`--max-pages`, a repeated cursor, a next page on an origin
    /// not allowed), or how the list pages could not be told; the checkpoint points at the
    /// refused page.
    pub const STOPPED: u8 = 6;
    /// The walk reached the list's end, but the list changed while it was read by offset or
    /// page number: records may be missing.
    pub const DRIFTED: u8 = 7;
}

/// The exit codes, for `--help`.
const EXIT_CODES: &str = "Exit codes:
  0  complete: every record is in the output
  1  local failure: the output or the checkpoint could not be written
  2  bad input: usage, page spec, header, or a checkpoint that does not fit
  3  server unavailable after retries, or a final error status
  4  quota exhausted (a --rate N/day quota, or the server's)
  5  interrupted (Ctrl-C) and resumable: run again with --resume
  6  stopped: by a guard (--max-pages, a repeated cursor, an origin not allowed; resumable),
     or the list's paging could not be told (say how: --paginate, --items, --next, --param)
  7  complete, but the list changed while it was read by offset or page number: records
     deleted or inserted ahead of the offset may be missing (the summary says how many, as far
     as the responses tell); a cursor or keyset (--keyset) reads a changing list exactly";

/// How the list pages, without a spec file. Whatever a style needs and its flags do not say
/// (the items, the next cursor or URL, the total, the parameter) is found in the first page
/// the way auto-detection finds it; a flag always wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Paginate {
    /// Detected from the first exchange (the request's parameters, the headers, the body).
    Auto,
    /// The `Link` header's `rel="next"` (GitHub, json-server).
    Link,
    /// A cursor in the body (`--next`), sent back as `--param`.
    Cursor,
    /// Offsets: `--param` (default: the URL's own offset parameter, else `offset`).
    Offset,
    /// Page numbers: `--param` (default: the URL's own page parameter, else `page`).
    Page,
    /// Keyset: `--keyset /id=after_id` (field of the last record = query parameter).
    Keyset,
    /// A next URL in the body (`--next`).
    NextUrl,
    /// Page tokens: `--next` (`/nextPageToken`) sent back as `--param` (`pageToken`).
    Token,
    /// GraphQL Relay: the connection with `pageInfo`, POSTed with `--data`.
    Graphql,
    /// Not paged: the first response is the whole list.
    None,
}

/// Extract every record of a list endpoint to a JSON Lines file, checkpointed after each page.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct Extract {
    /// The list's first page.
    url: String,
    /// How the list pages, as a JSON PageSpec (see the paceline docs).
    #[arg(long, value_name = "SPEC.json", conflicts_with = "paginate")]
    page_spec: Option<PathBuf>,
    /// How the list pages, without a spec file.
    #[arg(long, value_enum, default_value_t = Paginate::Auto)]
    paginate: Paginate,
    /// Where the records are in a page (a JSON Pointer; "" when the page is the array).
    #[arg(long, value_name = "POINTER")]
    items: Option<String>,
    /// Where the next cursor, token or URL is in a page (a JSON Pointer).
    #[arg(long, value_name = "POINTER")]
    next: Option<String>,
    /// The parameter that carries the cursor, token, offset or page number back: a query
    /// parameter, or `body:/pointer` for a member of the --data body.
    #[arg(long, value_name = "NAME")]
    param: Option<String>,
    /// Where the list's total is: a JSON Pointer, or `header:NAME` (`header:X-Total-Count`).
    #[arg(long, value_name = "POINTER")]
    total: Option<String>,
    /// Records per page to ask for: `NAME=N` (`limit=100`, `per_page=100`), or `N` to change
    /// the value of the page-size parameter the URL already has. Without it, the URL's own
    /// parameter (if any) is used as it is; no parameter is ever assumed.
    #[arg(long, value_name = "[NAME=]N")]
    page_size: Option<String>,
    /// Keyset: FIELD=PARAM (`/id=after_id`: the last record's field, sent as a parameter),
    /// repeatable. With --paginate keyset it is the style; with an offset or page list it is
    /// the drift-free way the list also offers, used from the second page on.
    #[arg(long, value_name = "FIELD=PARAM")]
    keyset: Vec<String>,
    /// A JSON body: the list is requested with POST (GraphQL, search).
    #[arg(long, value_name = "JSON")]
    data: Option<String>,
    /// A request header, `Name: value`; `$VAR` and `${VAR}` are read from the environment
    /// (quote the argument so the shell does not expand them). Repeatable. Values from the
    /// environment are credentials: never printed, logged, checkpointed, or sent to another
    /// origin.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// A client-side limit, `COUNT/UNIT` (`10/s`, `300/min`, `5000/h`; `,burst=N`), paced a hair
    /// under (2 %, at most 1 ms a request: limiters that count in whole milliseconds refuse a
    /// request a fraction early); one of a day or longer (`1000/day`) is a quota: exhausting it
    /// stops the extract (exit 4). Repeatable.
    #[arg(long, value_name = "LIMIT")]
    rate: Vec<String>,
    /// Where what `--rate N/day` quotas spent is kept between runs, by origin, so that a
    /// resumed or repeated extract respects what the day already used; default
    /// `$XDG_STATE_HOME/paceline/quotas.json` (else `~/.local/state/paceline/quotas.json`).
    /// `off`: every run starts with the whole quota.
    #[arg(long, value_name = "FILE|off")]
    quota_state: Option<String>,
    /// Page requests in flight at once: threads sharing one Pacer (which also holds this many
    /// concurrency permits). Offset and page-number lists request the next N pages together
    /// and write them in order; cursor, keyset and next-URL lists learn each page's position
    /// from the one before, so they go one page at a time whatever N is.
    #[arg(long, value_name = "N", default_value_t = 1)]
    concurrency: u32,
    /// The output file (JSON Lines); standard output when not given.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The checkpoint file; default `OUTPUT.checkpoint.json` with --output.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Go on from the checkpoint: the output is cut back to what the checkpoint covers.
    #[arg(long)]
    resume: bool,
    /// Stop after this many pages (over the whole walk, resumes included).
    #[arg(long, value_name = "N")]
    max_pages: Option<u64>,
    /// Drop records whose value at this JSON Pointer was already written.
    #[arg(long, value_name = "POINTER")]
    dedupe_key: Option<String>,
    /// Allow next URLs on this origin (`https://cdn.example.com`, or a host for the list's
    /// scheme); they are requested without credentials. Repeatable.
    #[arg(long, value_name = "HOST")]
    allow_origin: Vec<String>,
    /// Attempts per request, the first included.
    #[arg(long, value_name = "N", default_value_t = 6)]
    max_attempts: u32,
    /// The first backoff, in milliseconds (doubled each retry, with full jitter, capped at
    /// 20 s); a server's Retry-After takes precedence.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    backoff_ms: u64,
    /// Seconds one attempt may take in all: connecting, sending, the response's head and its
    /// whole body; a slower one is cut and retried like a server error. The default is above
    /// what proxies allow an answer (Cloudflare 100 s, nginx and AWS load balancers 60 s).
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(DEFAULT_ATTEMPT_TIMEOUT))]
    timeout: Seconds,
    /// Seconds to resolve the server's name, then to connect (TCP, TLS); within --timeout.
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(DEFAULT_CONNECT_TIMEOUT))]
    connect_timeout: Seconds,
    /// Seconds without a byte from the server (waiting for its answer, or within the body)
    /// before the attempt is cut and retried; within --timeout, which is what stops a server
    /// that trickles its answer.
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(DEFAULT_IDLE_TIMEOUT))]
    idle_timeout: Seconds,
    /// The largest response body read, in bytes or with a unit (`512KiB`, `10MiB`, `10MB`); a
    /// larger page ends the extract (exit 3), since asking again brings the same page.
    #[arg(long, value_name = "BYTES", default_value_t = ByteSize(DEFAULT_BODY_LIMIT))]
    max_body: ByteSize,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    progress_interval: f64,
}

/// A fatal problem before the walk: a message and an exit code.
type Fatal = (String, u8);

fn bad(msg: impl Into<String>) -> Fatal {
    (msg.into(), code::BAD_INPUT)
}

/// Everything one extract needs, built from the arguments (or by `demo`).
pub struct Job {
    pub client: Client,
    pub spec: Option<PageSpec>,
    /// What the flags say of how the list pages, when there is no spec.
    pub hints: Hints,
    pub template: RequestTemplate,
    pub guards: Guards,
    pub output: Option<PathBuf>,
    pub checkpoint: Option<PathBuf>,
    pub resume: bool,
    pub limits: Limits,
    pub stats: Arc<Stats>,
    pub progress_interval: Duration,
    /// Overrides the terminal check (`demo` forces plain lines in tests).
    pub terminal: Option<bool>,
    /// Page requests in flight at once (`--concurrency`).
    pub concurrency: usize,
    /// Where the quotas' use is kept between runs (none: not kept).
    pub quota_state: Option<QuotaState>,
}

pub fn run(cmd: Extract) -> ExitCode {
    let stats = Stats::new();
    let job = match build(cmd, &stats) {
        Ok(job) => job,
        Err((msg, code)) => {
            eprintln!("paceline extract: {msg}");
            return ExitCode::from(code);
        }
    };
    ExitCode::from(execute(job).0)
}

/// Builds the Pacer, client, spec and template from the arguments.
fn build(cmd: Extract, stats: &Arc<Stats>) -> Result<Job, Fatal> {
    let url = Url::parse(&cmd.url).map_err(|e| bad(format!("{}: {e}", cmd.url)))?;
    let mut template = match &cmd.data {
        Some(data) => {
            let body: serde_json::Value =
                serde_json::from_str(data).map_err(|e| bad(format!("--data: not JSON: {e}")))?;
            RequestTemplate::post_json(url.as_str(), &body)
        }
        None => RequestTemplate::get(url.as_str()),
    }
    .map_err(|e| bad(format!("{}: {e}", cmd.url)))?;
    let mut guards = Guards::default();
    for arg in &cmd.headers {
        let h = headers::parse(arg, |name| std::env::var(name).ok()).map_err(bad)?;
        if h.from_env {
            guards = guards.credential_header(h.name.as_str());
        }
        template = template.header(h.name, h.value);
    }
    if let Some(n) = cmd.max_pages {
        guards = guards.max_pages(n);
    }
    for origin in &cmd.allow_origin {
        let origin = if origin.contains("://") {
            origin.trim_end_matches('/').to_owned()
        } else {
            format!("{}://{}", url.scheme(), origin.trim_end_matches('/'))
        };
        guards = guards.allow_origin(&origin);
    }
    let (mut spec, hints) = match &cmd.page_spec {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| bad(format!("{}: cannot read: {e}", path.display())))?;
            let spec = serde_json::from_slice::<PageSpec>(&text)
                .map_err(|e| bad(format!("{}: not a page spec: {e}", path.display())))?;
            (Some(spec), Hints::default())
        }
        None => (None, hints_from_flags(&cmd, &template)?),
    };
    if let Some(spec) = &mut spec {
        // Flags add to the spec's guards.
        let mut g = spec.guards.clone();
        if let Some(n) = cmd.max_pages {
            g = g.max_pages(n);
        }
        g.allowed_origins
            .extend(guards.allowed_origins.iter().cloned());
        g.credential_headers
            .extend(guards.credential_headers.iter().cloned());
        *spec = spec.clone().guards(g);
        if let Some(key) = &cmd.dedupe_key {
            pointer(key, "--dedupe-key")?;
            *spec = spec.clone().dedupe_by(key);
        }
    }

    let mut throttle = ThrottleConfig::default();
    let mut limits = Limits::default();
    for text in &cmd.rate {
        let limit: Limit = text
            .parse()
            .map_err(|e| bad(format!("--rate {text}: {e}")))?;
        if limit.per >= Duration::from_secs(86_400) {
            let period = if limit.per == Duration::from_secs(86_400) {
                Period::Day
            } else {
                Period::Seconds(limit.per.as_secs())
            };
            throttle = throttle.quota(QuotaConfig::new(limit.count, period));
            limits.quota.get_or_insert((limit.count, text.clone()));
        } else {
            // Paced a hair under (2 %, at most 1 ms a request): limiters that count in whole
            // milliseconds refuse a request a fraction early.
            throttle = throttle.limit(limit.with_margin());
            let rate = limit.rate();
            if limits.rate.as_ref().is_none_or(|(r, _)| rate < *r) {
                limits.rate = Some((rate, text.clone()));
            }
        }
    }
    if cmd.concurrency > 1 {
        throttle = throttle.concurrency(cmd.concurrency);
    }
    let quota_state = match (&limits.quota, cmd.quota_state.as_deref()) {
        (None, _) | (_, Some("off")) => None,
        (Some(_), given) => {
            let path = given.map(PathBuf::from).or_else(QuotaState::default_path).ok_or_else(
                || {
                    bad("nowhere to keep the quota's use between runs (no HOME):                          --quota-state FILE, or --quota-state off to start afresh each run")
                },
            )?;
            limits.quota_state = Some(path.clone());
            Some(QuotaState::new(path, url.origin().ascii_serialization()))
        }
    };
    let retry = RetryPolicy::default()
        .max_attempts(cmd.max_attempts)
        .base(Duration::from_millis(cmd.backoff_ms));
    let config = PacerConfig::default().retry(retry).throttle(throttle);
    let timeouts = Timeouts::default()
        .connect(cmd.connect_timeout.0)
        .idle(cmd.idle_timeout.0)
        .attempt(cmd.timeout.0);
    let client = client(config, stats)
        .timeouts(timeouts)
        .body_limit(cmd.max_body.0);

    let checkpoint = cmd.checkpoint.clone().or_else(|| {
        cmd.output.as_ref().map(|o| {
            let mut name = o.as_os_str().to_owned();
            name.push(".checkpoint.json");
            PathBuf::from(name)
        })
    });
    if cmd.resume && checkpoint.is_none() {
        return Err(bad("--resume needs --checkpoint (or --output)"));
    }
    Ok(Job {
        client,
        spec,
        hints,
        template,
        guards,
        output: cmd.output,
        checkpoint,
        resume: cmd.resume,
        limits,
        stats: Arc::clone(stats),
        progress_interval: Duration::from_secs_f64(cmd.progress_interval.clamp(0.05, 3600.0)),
        terminal: None,
        concurrency: usize::try_from(cmd.concurrency).unwrap_or(1).max(1),
        quota_state,
    })
}

/// New counters for a job.
pub fn stats_new() -> Arc<Stats> {
    Stats::new()
}

/// Tells the progress display the list's total (for the ETA).
pub fn set_total(stats: &Stats, total: u64) {
    stats.total.store(total, Relaxed);
}

/// A client over `config` whose every attempt `stats` counts.
pub fn client(config: PacerConfig, stats: &Arc<Stats>) -> Client {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .middleware(stats::middleware(Arc::clone(stats)))
        .build()
        .into();
    let seed = {
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    Client::with_agent(agent, Pacer::new(config, seed))
}

fn pointer(text: &str, flag: &str) -> Result<(), Fatal> {
    Pointer::parse(text)
        .map(drop)
        .map_err(|e| bad(format!("{flag} {text:?}: not a JSON Pointer: {e}")))
}

/// What the flags say of how the list pages; the rest is detected from the first page.
fn hints_from_flags(cmd: &Extract, template: &RequestTemplate) -> Result<Hints, Fatal> {
    let mut hints = Hints::default();
    let ptr = |text: &Option<String>, flag: &str| -> Result<Option<Pointer>, Fatal> {
        text.as_deref()
            .map(|t| {
                Pointer::parse(t).map_err(|e| bad(format!("{flag} {t:?}: not a JSON Pointer: {e}")))
            })
            .transpose()
    };
    hints.items = ptr(&cmd.items, "--items")?;
    hints.next = ptr(&cmd.next, "--next")?;
    if let Some(key) = ptr(&cmd.dedupe_key, "--dedupe-key")? {
        hints = hints.dedupe_by(key);
    }
    hints.param = cmd
        .param
        .as_deref()
        .map(|p| param(p, template))
        .transpose()?;
    if let Some(t) = &cmd.total {
        hints.total = Some(Source::parse(t).map_err(|e| bad(format!("--total: {e}")))?);
    }
    if let Some(size) = &cmd.page_size {
        hints.page_size = Some(page_size(size, template)?);
    }
    for k in &cmd.keyset {
        let (field, name) = k
            .split_once('=')
            .ok_or_else(|| bad(format!("--keyset {k:?}: expected FIELD=PARAM")))?;
        let field = Pointer::parse(field)
            .map_err(|e| bad(format!("--keyset {k:?}: not a JSON Pointer: {e}")))?;
        hints = hints.key_param(field, param(name, template)?);
    }
    hints.style = match cmd.paginate {
        // With an offset or page list, --keyset names the drift-free way it also offers.
        Paginate::Auto => None,
        Paginate::Link => Some(StyleKind::Link),
        Paginate::Cursor => Some(StyleKind::Cursor),
        Paginate::Offset => Some(StyleKind::Offset),
        Paginate::Page => Some(StyleKind::Page),
        Paginate::Keyset => Some(StyleKind::Keyset),
        Paginate::NextUrl => Some(StyleKind::NextUrl),
        Paginate::Token => Some(StyleKind::Token),
        Paginate::None => {
            hints.single_page = true;
            None
        }
        Paginate::Graphql => {
            if cmd.data.is_none() {
                return Err(bad("--paginate graphql needs --data (the query, as JSON)"));
            }
            Some(StyleKind::Relay)
        }
    };
    Ok(hints)
}

/// `--param`: a query parameter, or `body:/pointer`.
fn param(text: &str, template: &RequestTemplate) -> Result<Param, Fatal> {
    match text.strip_prefix("body:") {
        Some(p) => Pointer::parse(p)
            .map(Param::Body)
            .map_err(|e| bad(format!("--param {text:?}: not a JSON Pointer: {e}"))),
        None if text.is_empty() => Err(bad("--param: empty")),
        None if template.body.is_some() && template.method != http::Method::GET => {
            // A POST list: its cursor goes where the body already has it, else in the query.
            let in_body = template
                .body
                .as_ref()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                .is_some_and(|v| v.get(text).is_some());
            Ok(if in_body {
                Param::Body(Pointer::root().child(text))
            } else {
                Param::query(text)
            })
        }
        None => Ok(Param::query(text)),
    }
}

/// `--page-size NAME=N`, or `N` for the URL's own page-size parameter.
fn page_size(text: &str, template: &RequestTemplate) -> Result<PageSize, Fatal> {
    let (name, n) = match text.rsplit_once('=') {
        Some((name, n)) => (Some(name), n),
        None => (None, text),
    };
    let size: u64 = n.trim().parse().ok().filter(|&n| n > 0).ok_or_else(|| {
        bad(format!(
            "--page-size {text:?}: expected N or NAME=N, N above 0"
        ))
    })?;
    let param = match name {
        Some(name) => param(name, template)?,
        None => template.page_size().map(|p| p.param).ok_or_else(|| {
            bad(format!(
                "--page-size {size}: which parameter carries it? The URL has none that paceline \
                 knows; write it as NAME={size} (--page-size limit={size}, per_page={size}, \
                 page_size={size}…)"
            ))
        })?,
    };
    Ok(PageSize { param, size })
}

/// Set by the Ctrl-C handler.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Whether the extract loop is between pages (fetching or waiting: everything written is
/// covered by the checkpoint), so that the Ctrl-C handler may exit at once. Guarded by
/// [`PHASE`] so that the loop cannot start writing while the handler exits.
static PHASE: Mutex<Phase> = Mutex::new(Phase {
    fetching: false,
    checkpoint: false,
});
/// The exit code the Ctrl-C handler uses.
static INTERRUPT_CODE: AtomicU8 = AtomicU8::new(code::INTERRUPTED);

struct Phase {
    fetching: bool,
    checkpoint: bool,
}

fn phase() -> std::sync::MutexGuard<'static, Phase> {
    PHASE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs the Ctrl-C handler (once per process): between pages it exits at once (the
/// checkpoint covers everything written); while a page is being written it lets the loop
/// finish the page, save the checkpoint and exit.
/// The state writer of the running extract, for the Ctrl-C handler.
static SAVES: std::sync::OnceLock<StateFlush> = std::sync::OnceLock::new();

fn install_ctrlc(stats: Arc<Stats>, limits: Limits, checkpoint: Option<PathBuf>) {
    let result = ctrlc::set_handler(move || {
        INTERRUPTED.store(true, Relaxed);
        let phase = phase();
        if phase.fetching {
            // The checkpoint covering the last page written may still be on its way to disk.
            if let Some(saves) = SAVES.get() {
                saves.wait_idle();
            }
            let outcome = interrupted_outcome(phase.checkpoint);
            eprintln!(
                "{}",
                progress::summary(&stats, None, &limits, &outcome, checkpoint.as_deref())
            );
            std::process::exit(i32::from(INTERRUPT_CODE.load(Relaxed)));
        }
    });
    if let Err(e) = result {
        eprintln!("paceline extract: Ctrl-C will not save a checkpoint: {e}");
    }
}

fn interrupted_outcome(checkpoint: bool) -> String {
    if checkpoint {
        "interrupted; the checkpoint is saved: run the same command with --resume".into()
    } else {
        "interrupted; not resumable (no --checkpoint)".into()
    }
}

/// Runs a job to its end: the exit code and how many records were written this run.
pub fn execute(job: Job) -> (u8, u64) {
    let Job {
        client,
        spec,
        hints,
        template,
        guards,
        output,
        checkpoint,
        resume,
        limits,
        stats,
        progress_interval,
        terminal,
        concurrency,
        quota_state,
    } = job;
    let fail = |msg: String, code: u8| {
        eprintln!("paceline extract: {msg}");
        (code, 0)
    };

    // The state to resume from, and the output cut back to what it covers.
    let saved = match &checkpoint {
        Some(path) => match output::load(path) {
            Ok(saved) => saved,
            Err(msg) => return fail(msg, code::BAD_INPUT),
        },
        None => None,
    };
    let saved = match (saved, resume) {
        (Some(saved), true) => Some(saved),
        (None, true) => {
            let path = checkpoint.as_deref().unwrap_or(Path::new("?"));
            return fail(
                format!("--resume: no checkpoint at {}", path.display()),
                code::BAD_INPUT,
            );
        }
        (Some(_), false) => {
            let path = checkpoint.as_deref().unwrap_or(Path::new("?"));
            return fail(
                format!(
                    "{} exists: pass --resume to go on from it, or remove it to start over",
                    path.display()
                ),
                code::BAD_INPUT,
            );
        }
        (None, false) => None,
    };
    if let Some(saved) = &saved {
        if saved.output != output {
            return fail(
                format!(
                    "the checkpoint was written for output {:?}, not {:?}",
                    saved.output, output
                ),
                code::BAD_INPUT,
            );
        }
        if let Ok(cp) = Checkpoint::from_bytes(&saved.checkpoint) {
            stats.resumed_records.store(cp.records(), Relaxed);
        }
    }
    let keep = saved.as_ref().map_or(0, |s| s.output_bytes);
    let out = match &output {
        Some(path) => match Output::file(path, keep) {
            Ok(o) => o,
            Err(e) => {
                let code = if e.kind() == std::io::ErrorKind::InvalidData {
                    code::BAD_INPUT
                } else {
                    code::LOCAL
                };
                return fail(e.to_string(), code);
            }
        },
        None => Output::stdout(),
    };
    let out = Arc::new(Mutex::new(out));
    let mut options = PageOptions::new()
        .guards(guards)
        .hints(hints)
        .page_retries(4)
        .concurrency(concurrency);
    let mut saves = None;
    if let Some(path) = &checkpoint {
        let store = StateStore::new(
            path.clone(),
            output.clone(),
            Arc::clone(&out),
            saved.map(|s| s.checkpoint),
        );
        saves = Some(store.flush_handle());
        let _ = SAVES.set(store.flush_handle());
        options = options.checkpoint_store(store).resume(if resume {
            Resume::Required
        } else {
            Resume::Never
        });
    }

    let _ = tracing::subscriber::set_global_default(stats::EventCounter::new(Arc::clone(&stats)));
    if let Some(state) = &quota_state {
        match state.load() {
            Ok(used) => client.with_pacer(|p| p.restore_quota_usage(clock(), &used)),
            Err(msg) => return fail(msg, code::BAD_INPUT),
        }
    }
    phase().checkpoint = checkpoint.is_some();
    INTERRUPT_CODE.store(
        if checkpoint.is_some() {
            code::INTERRUPTED
        } else {
            130
        },
        Relaxed,
    );
    install_ctrlc(Arc::clone(&stats), limits.clone(), checkpoint.clone());

    let terminal = terminal.unwrap_or_else(|| {
        std::io::stderr().is_terminal() && (output.is_some() || !std::io::stdout().is_terminal())
    });
    std::thread::scope(|scope| {
        let display =
            progress::Display::start(scope, &stats, &client, &limits, terminal, progress_interval);
        let (mut code, mut outcome) = walk(
            (&client, quota_state.as_ref()),
            spec,
            template,
            options,
            &out,
            &stats,
        );
        if let Some(state) = &quota_state
            && let Err(e) = save_quota(&client, state)
        {
            eprintln!("paceline extract: {e}");
        }
        // The walk (and its store) is gone: every save queued has been written, or failed.
        if let Some(e) = saves.as_ref().and_then(StateFlush::error) {
            code = code::LOCAL;
            outcome = format!("cannot save the checkpoint: {e}");
        }
        display.finish();
        eprint!(
            "{}",
            progress::summary(
                &stats,
                Some(&client),
                &limits,
                &outcome,
                checkpoint.as_deref()
            )
        );
        (code, stats.records.load(Relaxed))
    })
}

/// The page loop: the exit code and what to say about it.
fn walk(
    (client, quota_state): (&Client, Option<&QuotaState>),
    spec: Option<PageSpec>,
    template: RequestTemplate,
    options: PageOptions,
    out: &Arc<Mutex<Output>>,
    stats: &Stats,
) -> (u8, String) {
    let mut pages = match client.pages(spec, template, options) {
        Ok(p) => p,
        Err(e) => return (exit_code(&e), describe(&e)),
    };
    let lock_out = || out.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        {
            let mut phase = phase();
            if INTERRUPTED.load(Relaxed) {
                let code = INTERRUPT_CODE.load(Relaxed);
                return (code, interrupted_outcome(phase.checkpoint));
            }
            phase.fetching = true;
        }
        let started = Instant::now();
        let next = pages.next_page();
        let mut phase = phase();
        phase.fetching = false;
        stats.fetch_ns.fetch_add(
            u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
        let page = match next {
            None => {
                if let Err(e) = lock_out().sync() {
                    return (code::LOCAL, format!("cannot write the output: {e}"));
                }
                return ended(pages.walk());
            }
            Some(Err(e)) => return (exit_code(&e), describe(&e)),
            Some(Ok(page)) => page,
        };
        {
            let mut out = lock_out();
            for record in page.iter() {
                if let Err(e) = out.record(record) {
                    return (code::LOCAL, format!("cannot write the output: {e}"));
                }
            }
        }
        stats.records.fetch_add(page.len() as u64, Relaxed);
        stats.pages.store(pages.delivered().pages, Relaxed);
        match pages.commit() {
            Ok(true) => {}
            // No checkpoint store: make the records durable all the same.
            Ok(false) => {
                if let Err(e) = lock_out().sync() {
                    return (code::LOCAL, format!("cannot write the output: {e}"));
                }
            }
            Err(e) => return (exit_code(&e), describe(&e)),
        }
        if let Some(state) = quota_state
            && let Err(e) = save_quota(client, state)
        {
            return (code::LOCAL, e);
        }
        if INTERRUPTED.load(Relaxed) {
            let code = INTERRUPT_CODE.load(Relaxed);
            return (code, interrupted_outcome(phase.checkpoint));
        }
        drop(phase);
        let _ = std::io::stderr().flush();
    }
}

/// Both clocks, read together.
fn clock() -> paceline::Now {
    paceline::Now::new(Instant::now(), std::time::SystemTime::now())
}

/// Writes what the quotas have used this period into the state file.
fn save_quota(client: &Client, state: &QuotaState) -> Result<(), String> {
    let now = clock();
    let used = client.with_pacer(|p| p.quota_usage(now));
    let now_s = now
        .wall
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    state.save(&used, now_s)
}

/// The exit code and outcome of a walk that reached the list's end: complete, with the signal
/// that showed the end, or, when an offset or page walk saw its list change, the drift code.
fn ended(walk: &paceline::paginate::Walk) -> (u8, String) {
    let reason = walk
        .end_reason()
        .map_or_else(|| "the end".to_owned(), ToString::to_string);
    let drift = walk.drift();
    if drift.is_empty() {
        return (code::COMPLETE, format!("complete ({reason})"));
    }
    let missing = match drift.may_be_missing() {
        0 => "an unknown number of records".to_owned(),
        n => format!("about {n} records"),
    };
    (
        code::DRIFTED,
        format!(
            "complete ({reason}), but the list changed while it was read by offset: {missing} \
             may be missing ({drift}). Records deleted or inserted ahead of the offset shift the \
             rest past it unseen; page it by a cursor or keyset (--keyset FIELD=PARAM) for an \
             exact copy"
        ),
    )
}

/// What a walk stopped by a page it could not read should say: which flag would make it work.
fn hint(e: &PagesError) -> Option<&'static str> {
    use paceline::paginate::{GuardError, PageError};
    match e {
        PagesError::Stopped {
            error: GuardError::Undetermined { .. },
            ..
        } => Some(
            "say how this list pages: --paginate STYLE, with --items POINTER, --next POINTER \
             or --param NAME as it needs, or --paginate none if one response is the whole list \
             (paceline inspect page shows what one response says)",
        ),
        PagesError::Page { error, .. } => match error {
            PageError::NotAList | PageError::AmbiguousItems { .. } => {
                Some("say where the records are: --items POINTER")
            }
            PageError::Undetected { .. } => {
                Some("say where it is: --next POINTER (and --param NAME for a cursor)")
            }
            PageError::ItemsMissing { .. } | PageError::ItemsNotArray { .. } => {
                Some("check --items (paceline inspect page shows what one response holds)")
            }
            _ => None,
        },
        _ => None,
    }
}

/// What to say about a walk that ended early: the error, and the flag that changes it.
fn describe(e: &PagesError) -> String {
    match e {
        PagesError::Request {
            error: paceline_ureq::Error::BodyTooLarge { limit, .. },
            ..
        } => format!(
            "{e}; to read it, raise --max-body (now {})",
            ByteSize(*limit)
        ),
        e => match hint(e) {
            Some(h) => format!("{e}; {h}"),
            None => e.to_string(),
        },
    }
}

/// The exit code for a walk that ended early.
fn exit_code(e: &PagesError) -> u8 {
    match e {
        PagesError::Request { error, .. } => match error {
            paceline_ureq::Error::InvalidRequest(_) => code::BAD_INPUT,
            _ => match error.pacer_error() {
                Some(paceline::Error::QuotaExhausted { .. }) => code::QUOTA,
                _ => code::SERVER,
            },
        },
        PagesError::Page { error, .. }
            if !error.is_transient()
                && !matches!(error, paceline::paginate::PageError::Status(_)) =>
        {
            code::STOPPED
        }
        PagesError::Page { .. } => code::SERVER,
        PagesError::Stopped { .. } => code::STOPPED,
        PagesError::Checkpoint { .. } => code::LOCAL,
        _ => code::BAD_INPUT,
    }
}
